"""The refusals of electronic signatures: who may sign, with which meaning, and what a signature freezes."""

from __future__ import annotations

from lims.errors import AccessDenied, Conflict, InvalidInput


class SignatureRefused(AccessDenied):
    """The user may not sign this record now: their role, a temporary password, or the record's signing order."""


class SamePersonRefused(SignatureRefused):
    """Four eyes: the person who performed, recorded or authored a record does not also verify or approve it."""


class MeaningNotAllowed(InvalidInput):
    """A record is signed only with the meanings its kind has (a batch is released, not authored)."""


class AlreadySigned(Conflict):
    """A record holds one valid signature of each meaning."""


class RecordSigned(Conflict):
    """A signed record was changed; corrections are new records."""
