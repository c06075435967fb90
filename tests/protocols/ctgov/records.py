"""Study records for the import tests: the reference records, minimal ones in each format, and refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lims.errors import InvalidInput
from protocols.ctgov.errors import CtgovImportError
from protocols.ctgov.parse import parse_study

REFERENCE_DIR = Path(__file__).resolve().parents[4] / "shared" / "reference-data" / "clinicaltrials-gov"


def reference_record(name: str) -> bytes:
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"ClinicalTrials.gov reference record not found at {path} (../shared/reference-data is absent)")
    return path.read_bytes()


def api_study(**modules: object) -> bytes:
    """A minimal API v2 record for a phase 3 study; ``modules`` replace or add protocolSection modules."""
    protocol = {
        "identificationModule": {"nctId": "NCT09999999", "briefTitle": "HLX-19 CAR-T cells versus standard of care"},
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Helix Cell Therapeutics"}},
        "designModule": {"phases": ["PHASE3"]},
    } | modules
    return json.dumps({"protocolSection": protocol}).encode()


def legacy_study(*elements: str, id_info: str = "<nct_id>NCT09999999</nct_id>") -> bytes:
    """A minimal legacy XML record with ``elements`` appended; without a <phase> among them it has none."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><clinical_study><id_info>{id_info}</id_info>'
        "<brief_title>HLX-19 CAR-T cells versus standard of care</brief_title>"
        "<sponsors><lead_sponsor><agency>Helix Cell Therapeutics</agency></lead_sponsor></sponsors>"
        f"{''.join(elements)}</clinical_study>"
    ).encode()


def refusal_of(data: bytes, error: type[CtgovImportError] = CtgovImportError) -> CtgovImportError:
    with pytest.raises(error) as caught:
        parse_study(data)
    assert isinstance(caught.value, InvalidInput) and caught.value.field == "file"
    return caught.value
