"""The refusals of periodic reviews."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class ListOutdated(Conflict):
    """The access review signs what the manager saw: a user added or deactivated since the list was opened, or
    roles changed meanwhile, make the manager look again."""


class ChangeReasonMissing(InvalidInput):
    """A role changed in an access review needs the reason, kept with the change in the access-change report."""


class PeriodRefused(InvalidInput):
    """A period under review runs forward, has ended, and is no longer than a year."""
