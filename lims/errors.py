"""The root of every domain error, its four kinds, and the refusals every area shares.

Services raise subclasses of :class:`LimsError`; the web and API layers turn
them into a 4xx response carrying :attr:`LimsError.message`, never a 500.
Each area names its own refusals in its ``errors`` module, deriving from the
kind that gives the HTTP status.
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
    """The record asked for does not exist, or is not the asker's to see."""

    status_code = 404


class AccessDenied(LimsError):
    """The user may not do this."""

    status_code = 403


class Conflict(LimsError):
    """The record's current state does not allow the change."""

    status_code = 409


class InvalidInput(LimsError):
    """Input broke a rule that a schema cannot express on its own."""

    status_code = 422


class AlreadyExists(Conflict):
    """A code, number or name that identifies one record is already used by another."""


class DetailMissing(InvalidInput):
    """A detail the record cannot do without was left blank."""


class OutOfRange(InvalidInput):
    """A number is outside what it can be: negative, zero where more is needed, or too large."""


class DateInFuture(InvalidInput):
    """A record states that something happened on a date or at a time that has not come yet."""


class DatesOutOfOrder(InvalidInput):
    """Two dates of a record are in an order that cannot happen (an expiry before the receipt, say)."""


class SigningKeyUnavailable(Conflict):
    """A document is issued signed with the facility's key: the configured key file must exist and open."""


class AlreadySettled(Conflict):
    """A record that is settled already (closed, resolved, acknowledged) is not settled again: the action offered
    for it has been taken, perhaps by someone else in the meantime."""
