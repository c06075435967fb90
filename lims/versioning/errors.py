"""The refusals of the versioned-document lifecycle (master batch records, protocol versions)."""

from __future__ import annotations

from lims.errors import Conflict


class VersionNotDraft(Conflict):
    """Only a draft changes: a change to a version past draft is a new version."""


class VersionNotInReview(Conflict):
    """Only a version in review is approved, or rejected back to draft."""


class VersionNotApproved(Conflict):
    """Only an approved version becomes effective."""


class VersionNotEffective(Conflict):
    """Only the version in effect can be taken out of effect, or have anything made to it."""


class UnfinishedVersion(Conflict):
    """A document has one change under way at most: a new version waits until the one in draft or review is done."""
