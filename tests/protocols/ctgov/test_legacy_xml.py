"""Reading ClinicalTrials.gov legacy XML records: the mapping, the unmapped list, phases, enrollment."""

from __future__ import annotations

import pytest

from protocols.ctgov.errors import EarlierPhaseRefused
from protocols.ctgov.legacy_xml import LEGACY_XML
from protocols.ctgov.parse import parse_study
from protocols.ctgov.study import ImportedArm, ImportedIntervention
from protocols.models import ProtocolPhase
from tests.protocols.ctgov.records import legacy_study, reference_record, refusal_of


def test_reads_the_phase_3_legacy_xml_record():
    study = parse_study(reference_record("NCT01298141.legacy.xml"))

    assert study.source_format == LEGACY_XML
    assert study.nct_id == "NCT01298141"
    assert study.brief_title == (
        "A Multicenter Open-Label Treatment Protocol to Observe the Safety of Replagal "
        "(Agalsidase Alfa) Enzyme Replacement Therapy in Canadian Patients With Fabry Disease"
    )
    assert study.official_title == (
        "A Multicenter Open-Label Treatment Protocol to Observe the Safety of Replagal® "
        "(Agalsidase Alfa) Enzyme Replacement Therapy in Canadian Patients With Fabry "
        "Disease"
    )
    assert study.acronym is None
    assert study.phase is ProtocolPhase.PHASE_3
    assert study.sponsor == "Shire"
    assert study.collaborators == ()
    assert study.conditions == ("Fabry Disease",)
    assert study.arms == (
        ImportedArm(
            label="Replagal®",
            arm_type="Experimental",
            description="All eligible patients may receive Replagal produced by the bioreactor process (AF Replagal) "
            "on this treatment plan until AF Replagal is commercially available for the patient, the "
            "patient's participation is discontinued, or the study is discontinued, whichever comes first.",
            intervention_names=("agalsidase alfa",),
        ),
    )
    assert study.interventions == (
        ImportedIntervention(
            kind="Biological",
            name="agalsidase alfa",
            description="Cohort 1: 0.2 mg/kg body weight administered as an intravenous (IV) infusion over 40 minutes "
            "every other week (EOW)\nCohort 2: 0.2 mg/kg body weight administered as an intravenous (IV) "
            "infusion over 40 minutes weekly",
            arm_labels=("Replagal®",),
        ),
    )
    assert (study.enrollment, study.enrollment_type) == (171, "Actual")
    assert study.overall_status == "Completed"
    assert study.unmapped == (
        "download header",
        "org study ID: HGT-REP-081",
        "lead sponsor class: Industry",
        "source: Shire",
        "oversight",
        "brief summary",
        "detailed description",
        "study dates",
        "study type: Interventional",
        "has expanded access: No",
        "design: intervention model Single Group Assignment, primary purpose Treatment, masking None (Open Label)",
        "outcome measures: 7 primary",
        "other intervention names: Replagal",
        "eligibility criteria",
        "overall officials (1)",
        "locations (12)",
        "location countries",
        "responsible party",
        "keywords (3)",
        "MeSH terms (derived)",
        "documents",
        "results section",
    )


def test_reads_the_phase_2_3_legacy_xml_record_and_links_arms_to_their_interventions():
    study = parse_study(reference_record("NCT02654730.legacy.xml"))

    assert study.nct_id == "NCT02654730"
    title = (
        "Evaluation of the Safety of Primaquine in Combination With Dihydroartemisinin-piperaquine in G6PD "
        "Deficient Males in The Gambia"
    )
    assert (study.brief_title, study.official_title, study.acronym) == (title, title, "SAFEPRIM-II")
    assert study.phase is ProtocolPhase.PHASE_2_3
    assert study.sponsor == "London School of Hygiene and Tropical Medicine"
    assert study.collaborators == ("Medical Research Council Unit, The Gambia",)
    assert study.conditions == ("Malaria",)
    deficient_dhap = "Dihydroartemisinin-piperaquine (DHAP) administered to G6PD deficient"
    deficient_025 = "Dihydroartemisinin-piperaquine (DHAP) + 0.25 mg/kg primaquine administered to G6PD deficient"
    deficient_04 = "Dihydroartemisinin-piperaquine (DHAP) + 0.4 mg/kg primaquine administered to G6PD deficient"
    normal_025 = "Dihydroartemisinin-piperaquine (DHAP) + 0.25 mg/kg primaquine administered to G6PD normal"
    normal_04 = "Dihydroartemisinin-piperaquine (DHAP) + 0.4 mg/kg primaquine administered to G6PD normal"
    assert study.arms == (
        ImportedArm("G6PD deficient 0.25 mg/kg PQ + DHAP", "Experimental", None, (deficient_025,)),
        ImportedArm("G6PD deficient 0.4 mg/kg PQ + DHAP", "Experimental", None, (deficient_04,)),
        ImportedArm("G6PD deficient DHAP only", "Active Comparator", None, (deficient_dhap,)),
        ImportedArm("G6PD normal 0.25 mg/kg PQ + DHAP", "Active Comparator", None, (normal_025,)),
        ImportedArm("G6PD normal 0.4 mg/kg PQ + DHAP", "Active Comparator", None, (normal_04,)),
    )
    assert [(each.kind, each.name, each.arm_labels) for each in study.interventions] == [
        ("Drug", deficient_dhap, ("G6PD deficient DHAP only",)),
        ("Drug", deficient_025, ("G6PD deficient 0.25 mg/kg PQ + DHAP",)),
        ("Drug", deficient_04, ("G6PD deficient 0.4 mg/kg PQ + DHAP",)),
        ("Drug", normal_025, ("G6PD normal 0.25 mg/kg PQ + DHAP",)),
        ("Drug", normal_04, ("G6PD normal 0.4 mg/kg PQ + DHAP",)),
    ]
    assert study.interventions[0].description == (
        "G6PD deficient participants will be treated with dihydroartemisinin-piperaquine (Eurartesim®; Sigma Tau) "
        "administered as 3 tablets (40mg PPQ, 320mg DHA) in a once daily regimen for three days"
    )
    assert (study.enrollment, study.enrollment_type) == (61, "Actual")
    assert study.overall_status == "Terminated"
    assert study.unmapped == (
        "download header",
        "org study ID: SAFEPRIM-II",
        "lead sponsor class: Other",
        "source: London School of Hygiene and Tropical Medicine",
        "oversight",
        "brief summary",
        "detailed description",
        "why stopped",
        "study dates",
        "study type: Interventional",
        "has expanded access: No",
        (
            "design: allocation Randomized, intervention model Parallel Assignment, primary purpose Treatment, "
            "masking None (Open Label)"
        ),
        "outcome measures: 1 primary, 9 secondary",
        "other intervention names: Eurartesim",
        "eligibility criteria",
        "locations (1)",
        "location countries",
        "references (1)",
        "responsible party",
        "MeSH terms (derived)",
        "IPD sharing statement",
    )


def test_refuses_the_expanded_access_record_which_has_no_phase():
    refusal = refusal_of(reference_record("NCT01220531.legacy.xml"), EarlierPhaseRefused)

    assert refusal.message == (
        "The lab serves trials after phase II; NCT01220531 has no phase (Expanded Access study)."
    )


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Phase 2/Phase 3", ProtocolPhase.PHASE_2_3),
        ("Phase 3", ProtocolPhase.PHASE_3),
        ("Phase 4", ProtocolPhase.PHASE_4),
    ],
)
def test_maps_the_legacy_xml_phases_the_lab_serves(phase, expected):
    assert parse_study(legacy_study(f"<phase>{phase}</phase>")).phase is expected


@pytest.mark.parametrize(
    ("elements", "reason"),
    [
        ("<phase>Phase 1/Phase 2</phase>", "NCT09999999 is Phase 1/Phase 2."),
        ("<phase>Phase 2</phase>", "NCT09999999 is Phase 2."),
        ("<phase>Phase 1</phase>", "NCT09999999 is Phase 1."),
        ("<phase>Early Phase 1</phase>", "NCT09999999 is Early Phase 1."),
        (
            "<phase>N/A</phase><study_type>Interventional</study_type>",
            "NCT09999999 has no phase (Interventional study).",
        ),
        ("", "NCT09999999 has no phase."),
    ],
)
def test_refuses_legacy_xml_studies_before_phase_2_3_or_without_a_phase(elements, reason):
    refusal = refusal_of(legacy_study(elements), EarlierPhaseRefused)

    assert refusal.message == f"The lab serves trials after phase II; {reason}"


def test_refuses_a_legacy_enrollment_that_is_not_a_whole_number():
    refusal = refusal_of(legacy_study("<phase>Phase 3</phase>", '<enrollment type="Anticipated">about 60</enrollment>'))

    assert refusal.message == "The record NCT09999999 gives enrollment “about 60”, which is not a whole number."
