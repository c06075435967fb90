"""The ways a ClinicalTrials.gov study record is refused."""

from __future__ import annotations

from lims.errors import InvalidInput


class CtgovImportError(InvalidInput):
    """A file that is not a ClinicalTrials.gov study record the LIMS can read."""

    def __init__(self, message: str) -> None:
        super().__init__(message, field="file")


class EarlierPhaseRefused(CtgovImportError):
    """A study in a phase before the ones the lab serves, or with no phase at all."""
