"""Every SQL statement tasktui runs, by name, grouped by feature.

Statements address authentik's tables without a schema: a session's search_path is set to the
schema that holds them (see tasktui.core.session). Statements that depend on the detected table shape
(older releases lack columns) are built by small functions here, never inline elsewhere.
"""
