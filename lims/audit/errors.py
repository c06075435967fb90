"""The audit trail's refusals: a change without its reason, a deletion, an anchor over a rewritten chain,
and questions about the trail it cannot answer."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class ReasonRequired(InvalidInput):
    """A change to a regulated record states why it is made."""

    def __init__(self, message: str = "Give the reason for this change.", *, field: str = "reason") -> None:
        super().__init__(message, field=field)


class DeletionRefused(Conflict):
    """Regulated records are never hard-deleted; deletion is a status change with a reason."""


class AnchorRefused(Conflict):
    """The chain no longer holds what an earlier checkpoint recorded: anchoring it now would vouch for a rewrite."""


class CheckpointUnreadable(InvalidInput):
    """A line of the checkpoint file is not a checkpoint the LIMS wrote."""


class PagedBothWays(InvalidInput):
    """A page of the trail is reached from one side: towards older or towards newer events."""


class UnknownRecordType(InvalidInput):
    """The trail names only types of controlled record."""


class NotARecordId(InvalidInput):
    """A controlled record's id is its primary key: positive whole numbers joined by dashes."""


class NoRecordCalled(InvalidInput):
    """The trail's filter names a record by what people call it (a batch number); no record is called that."""


class RecordTypeNeeded(InvalidInput):
    """A record is named within its type: a batch number and a lot number may look alike."""
