"""What a ClinicalTrials.gov study record maps into for a draft protocol, and the mapping rules both formats share."""

from __future__ import annotations

import re
from dataclasses import dataclass

from protocols.ctgov.errors import CtgovImportError, EarlierPhaseRefused
from protocols.models import ProtocolPhase

_NCT_ID = re.compile(r"NCT[0-9]{8}")
_LAB_SERVES = "The lab serves trials after phase II"


@dataclass(frozen=True)
class ImportedArm:
    label: str
    arm_type: str | None
    description: str | None
    intervention_names: tuple[str, ...]


@dataclass(frozen=True)
class ImportedIntervention:
    kind: str | None
    name: str
    description: str | None
    arm_labels: tuple[str, ...]


@dataclass(frozen=True)
class ImportedStudy:
    nct_id: str
    brief_title: str
    official_title: str | None
    acronym: str | None
    phase: ProtocolPhase
    sponsor: str
    collaborators: tuple[str, ...]
    conditions: tuple[str, ...]
    arms: tuple[ImportedArm, ...]
    interventions: tuple[ImportedIntervention, ...]
    enrollment: int | None
    enrollment_type: str | None
    overall_status: str | None
    source_format: str
    unmapped: tuple[str, ...]


def checked_nct_id(nct_id: str | None) -> str:
    """The record's NCT number; CtgovImportError if it has none or it is not one."""
    if nct_id is None:
        raise CtgovImportError("The record has no NCT number.")
    if not _NCT_ID.fullmatch(nct_id):
        raise CtgovImportError(f"“{nct_id}” is not an NCT number: expected NCT followed by 8 digits.")
    return nct_id


def required(value: str | None, what: str, nct_id: str) -> str:
    """``value``; CtgovImportError naming ``what`` the record lacks if it is None."""
    if value is None:
        raise CtgovImportError(f"The record {nct_id} has no {what}.")
    return value


def refuse_earlier_phase(nct_id: str, phase_label: str | None, study_type: str | None) -> EarlierPhaseRefused:
    """The refusal of a study in ``phase_label``, before the phases the lab serves, or with no phase."""
    if phase_label is not None:
        return EarlierPhaseRefused(f"{_LAB_SERVES}; {nct_id} is {phase_label}.")
    kind = f" ({study_type} study)" if study_type else ""
    return EarlierPhaseRefused(f"{_LAB_SERVES}; {nct_id} has no phase{kind}.")


def unknown_phase(nct_id: str, phase_label: str) -> CtgovImportError:
    """The refusal of a phase that ClinicalTrials.gov does not use: the record is malformed."""
    return CtgovImportError(f"The record {nct_id} gives phase “{phase_label}”, which ClinicalTrials.gov does not use.")
