"""Errors meant for the person at the keyboard: one clear line, never a traceback."""

from __future__ import annotations


class UserFacingError(Exception):
    """A failure the user can act on. `str()` is the whole message; `exit_code` the CLI status."""

    exit_code = 1

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        if exit_code is not None:
            self.exit_code = exit_code


class ConnectionFailed(UserFacingError):
    """The server cannot be reached, refused us, or the connection string is malformed."""

    exit_code = 2


class LinkHung(ConnectionFailed):
    """The server stopped answering on an open connection: a hung server or a cut network,
    which otherwise look like a quiet task system for as long as TCP takes to give up."""


class RegistrationLost(ConnectionFailed):
    """The console's registration for live updates disappeared: it no longer receives changes."""


class MissingTables(UserFacingError):
    """The database has no authentik task tables."""

    exit_code = 3


class MissingPrivilege(UserFacingError):
    """The role lacks a privilege the requested action needs."""

    exit_code = 4


class TriggerNotInstalled(UserFacingError):
    """An action needs tasktui's notify trigger and it is not installed."""

    exit_code = 5
