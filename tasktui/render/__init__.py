"""Styled output, for the CLI and the console alike: Rich `Text` built from database values.

Spans carry *semantic* style names (tasktui.render.styles: `status.error`, `level.warning`,
`muted`, …), never colours. The CLI prints them through a Rich `Theme` (`styles.CLI_THEME`); the
console maps each name to its Textual theme's variables (tasktui.ui.styles). Every piece of
database text goes through the one sanitiser (tasktui.core.text) on its way in.

This package imports Rich and tasktui.core, never Textual (an import-linter contract says so).
"""
