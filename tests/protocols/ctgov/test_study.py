"""The rules both formats share: NCT numbers, required values, unknown phases, the unmapped list."""

from __future__ import annotations

import pytest

from protocols.ctgov.errors import EarlierPhaseRefused
from protocols.ctgov.parse import parse_study
from protocols.models import ProtocolPhase
from tests.protocols.ctgov.records import api_study, legacy_study, refusal_of


def test_a_phase_clinicaltrials_gov_does_not_use_is_malformed_not_an_earlier_phase():
    for data in (api_study(designModule={"phases": ["PHASE3", "PHASE5"]}), legacy_study("<phase>Phase 5</phase>")):
        refusal = refusal_of(data)
        assert not isinstance(refusal, EarlierPhaseRefused)
        assert "which ClinicalTrials.gov does not use" in refusal.message


def test_a_minimal_record_leaves_nothing_unmapped():
    for data in (api_study(), legacy_study("<phase>Phase 3</phase>")):
        study = parse_study(data)
        assert (study.nct_id, study.sponsor, study.phase) == (
            "NCT09999999",
            "Helix Cell Therapeutics",
            ProtocolPhase.PHASE_3,
        )
        assert (study.official_title, study.acronym, study.enrollment, study.enrollment_type) == (None,) * 4
        assert (study.arms, study.interventions, study.conditions, study.unmapped) == ((),) * 4


def test_lists_modules_and_elements_it_does_not_know_by_name():
    assert parse_study(api_study(cellTherapyModule={"vectorLot": "V-1"})).unmapped == ("cell therapy",)
    assert parse_study(legacy_study("<phase>Phase 3</phase><cell_therapy_info/>")).unmapped == ("cell therapy info",)


@pytest.mark.parametrize(
    "data",
    [
        api_study(identificationModule={"briefTitle": "No NCT number"}),
        legacy_study("<phase>Phase 3</phase>", id_info="<org_study_id>HLX-301</org_study_id>"),
        legacy_study("<phase>Phase 3</phase>", id_info="<nct_id>  </nct_id>"),
    ],
)
def test_refuses_a_record_without_an_nct_number(data):
    assert refusal_of(data).message == "The record has no NCT number."


ARABIC_INDIC_DIGITS = "\u0660\u0669\u0669\u0669\u0669\u0669\u0669\u0669"  # digits to str.isdigit, not to an NCT number


@pytest.mark.parametrize(
    "nct_id",
    ["NCT1234567", "NCT123456789", "nct09999999", "NCT0999999X", f"NCT{ARABIC_INDIC_DIGITS}", "EudraCT 2015-001894-41"],
)
def test_refuses_an_nct_number_of_the_wrong_format(nct_id):
    expected = f"“{nct_id}” is not an NCT number: expected NCT followed by 8 digits."

    assert refusal_of(api_study(identificationModule={"nctId": nct_id, "briefTitle": "x"})).message == expected
    assert refusal_of(legacy_study(id_info=f"<nct_id>{nct_id}</nct_id>")).message == expected


def test_refuses_a_record_without_a_title_or_lead_sponsor():
    assert refusal_of(api_study(identificationModule={"nctId": "NCT09999999"})).message == (
        "The record NCT09999999 has no brief title."
    )
    assert refusal_of(api_study(sponsorCollaboratorsModule={})).message == "The record NCT09999999 has no lead sponsor."
