"""The root of every domain error.

Services raise subclasses of :class:`LimsError`; the web and API layers turn
them into a 4xx response carrying :attr:`LimsError.message`, never a 500.
"""
from __future__ import annotations

from typing import ClassVar


class LimsError(Exception):
    """A rule of the domain refused an operation."""

    status_code = 400
    #: Whether what the refused operation recorded must be committed all the same (a failed password
    #: counts toward lockout); every other refusal leaves nothing behind.
    keeps_changes: ClassVar[bool] = False

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class RecordNotFound(LimsError):
    status_code = 404


class AccessDenied(LimsError):
    status_code = 403


class Conflict(LimsError):
    status_code = 409


class InvalidInput(LimsError):
    """Input broke a rule that a schema cannot express on its own."""

    status_code = 422
