"""The refusals of issued documents, their verification and labels."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput, LimsError


class NotReleased(Conflict):
    """A batch certificate and a final-product label are issued for a released batch only."""


class AlreadyIssued(Conflict):
    """A batch has one certificate; a change is a corrected version of it, with a reason."""


class NotCurrent(Conflict):
    """Only the current version of a document is corrected or revoked: a superseded or revoked one is final."""


class AlreadyRevoked(Conflict):
    """A document is revoked once."""


class TooManyVerifications(LimsError):
    """The public verification pages answer each client address a limited number of times a minute."""

    status_code = 429


class NotAPdf(InvalidInput):
    """A document is verified from a PDF file, uploaded whole."""


class LabelRefused(InvalidInput):
    """A bag label carries an ISBT 128 donation identification number: the starting material's, kept through
    processing; a batch whose starting material has another identity (the lab's own pattern) gets no ISBT 128
    label."""
