"""The root of every domain error.

Services raise subclasses of :class:`LimsError`; the web and API layers turn
them into a 4xx response carrying :attr:`LimsError.message`, never a 500.
"""
from __future__ import annotations


class LimsError(Exception):
    """A rule of the domain refused an operation."""

    status_code = 400

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
