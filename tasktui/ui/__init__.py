"""The Textual console: app, screens, widgets and styles, on top of tasktui.core."""
