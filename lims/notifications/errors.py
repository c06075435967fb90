"""The refusals of notifications."""

from __future__ import annotations

from lims.errors import AccessDenied, RecordNotFound


class NoSuchNotification(RecordNotFound):
    """A user reaches their own messages only: another user's message is answered as one that does not exist."""


class NoPersonToNotify(AccessDenied):
    """An inbox is a person's: a client system calling with its organization's API token has none."""
