"""Reading ClinicalTrials.gov API v2 JSON records: the mapping, the unmapped list, phases, value types."""

from __future__ import annotations

import pytest

from protocols.ctgov.api_v2 import API_V2_JSON
from protocols.ctgov.errors import EarlierPhaseRefused
from protocols.ctgov.parse import parse_study
from protocols.ctgov.study import ImportedArm, ImportedIntervention
from protocols.models import ProtocolPhase
from tests.protocols.ctgov.records import api_study, reference_record, refusal_of


def test_reads_the_api_v2_json_record():
    study = parse_study(reference_record("NCT02552212.api-v2.json"), "NCT02552212.json")

    assert study.source_format == API_V2_JSON
    assert study.nct_id == "NCT02552212"
    assert study.brief_title == (
        "Multicenter Study Evaluating Certolizumab Pegol Compared to Placebo in Subjects "
        "With axSpA Without X-ray Evidence of AS"
    )
    assert study.official_title == (
        "Phase 3, Multicenter, Randomized, Placebo-Controlled, Double-Blind Study to Evaluate Efficacy and Safety of "
        "Certolizumab Pegol in Subjects With Active Axial Spondyloarthritis (axSpA) Without X-Ray Evidence of "
        "Ankylosing Spondylitis (AS) and Objective Signs of Inflammation"
    )
    assert study.acronym == "C-AXSPAND"
    assert study.phase is ProtocolPhase.PHASE_3
    assert study.sponsor == "UCB BIOSCIENCES GmbH", "the lead sponsor, not the organization (UCB Pharma)"
    assert study.collaborators == ()
    assert study.conditions == ("Axial Spondyloarthritis", "Nonradiographic Axial Spondyloarthritis", "Nr-axSpA")
    assert study.arms == (
        ImportedArm(
            label="Certolizumab Pegol 200 mg Q2W",
            arm_type="EXPERIMENTAL",
            description="Certolizumab Pegol (CZP) 400 mg subcutaneous (sc) on Weeks 0, 2 and 4, followed by 200 mg "
            "CZP sc every 2 weeks (Q2W) from Week 6 onwards.",
            intervention_names=("Certolizumab Pegol",),
        ),
        ImportedArm(
            label="Placebo",
            arm_type="PLACEBO_COMPARATOR",
            description="Matching placebo to Certolizumab Pegol (CZP) injections are administered every 2 weeks from "
            "Week 0 onwards.",
            intervention_names=("Placebo",),
        ),
    )
    assert study.interventions == (
        ImportedIntervention(
            kind="BIOLOGICAL",
            name="Certolizumab Pegol",
            description="* Active Substance: Certolizumab Pegol\n* Pharmaceutical Form: Prefilled syringe\n"
            "* Concentration: 200 mg / ml\n* Route of Administration: Subcutaneous injection",
            arm_labels=("Certolizumab Pegol 200 mg Q2W",),
        ),
        ImportedIntervention(
            kind="OTHER",
            name="Placebo",
            description="* Active Substance: Placebo\n* Pharmaceutical Form: Prefilled syringe\n"
            "* Concentration: 0.9 % saline\n* Route of Administration: Subcutaneous injection",
            arm_labels=("Placebo",),
        ),
    )
    assert (study.enrollment, study.enrollment_type) == (317, "ACTUAL")
    assert study.overall_status == "COMPLETED"


def test_lists_what_the_api_v2_json_record_holds_beyond_the_mapping():
    study = parse_study(reference_record("NCT02552212.api-v2.json"))

    assert study.unmapped == (
        "org study ID: AS0006",
        "secondary IDs: EudraCT 2015-001894-41",
        "organization: UCB Pharma",
        "study dates",
        "expanded access info",
        "responsible party",
        "lead sponsor class: INDUSTRY",
        "oversight",
        "brief summary",
        "keywords (11)",
        "study type: INTERVENTIONAL",
        "design: allocation RANDOMIZED, intervention model PARALLEL, primary purpose TREATMENT, masking QUADRUPLE",
        "other intervention names: Cimzia, CDP870",
        "outcome measures: 11 primary, 20 secondary",
        "eligibility criteria",
        "overall officials (1)",
        "locations (105)",
        "references (4)",
        "links (1)",
        "results section",
        "documents",
        "derived version info",
        "MeSH terms (derived)",
    )


@pytest.mark.parametrize(
    ("phases", "expected"),
    [
        (["PHASE2", "PHASE3"], ProtocolPhase.PHASE_2_3),
        (["PHASE3", "PHASE2"], ProtocolPhase.PHASE_2_3),
        (["PHASE3"], ProtocolPhase.PHASE_3),
        (["PHASE4"], ProtocolPhase.PHASE_4),
    ],
)
def test_maps_the_api_v2_phases_the_lab_serves(phases, expected):
    assert parse_study(api_study(designModule={"phases": phases})).phase is expected


@pytest.mark.parametrize(
    ("design", "reason"),
    [
        ({"phases": ["PHASE1", "PHASE2"]}, "NCT09999999 is Phase 1/Phase 2."),
        ({"phases": ["PHASE2"]}, "NCT09999999 is Phase 2."),
        ({"phases": ["PHASE1"]}, "NCT09999999 is Phase 1."),
        ({"phases": ["EARLY_PHASE1"]}, "NCT09999999 is Early Phase 1."),
        ({"studyType": "INTERVENTIONAL", "phases": ["NA"]}, "NCT09999999 has no phase (Interventional study)."),
        ({"studyType": "EXPANDED_ACCESS"}, "NCT09999999 has no phase (Expanded Access study)."),
        ({}, "NCT09999999 has no phase."),
    ],
)
def test_refuses_api_v2_studies_before_phase_2_3_or_without_a_phase(design, reason):
    refusal = refusal_of(api_study(designModule=design), EarlierPhaseRefused)

    assert refusal.message == f"The lab serves trials after phase II; {reason}"


def test_arm_intervention_names_lose_only_a_clinicaltrials_gov_type_prefix():
    study = parse_study(
        api_study(
            armsInterventionsModule={
                "armGroups": [
                    {"label": "HLX-19", "interventionNames": ["Genetic: HLX-19 CAR-T cells", "Cell product: HLX-19"]},
                ]
            }
        )
    )

    assert study.arms[0].intervention_names == ("HLX-19 CAR-T cells", "Cell product: HLX-19")


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        (
            {"conditionsModule": {"conditions": "Malaria"}},
            "The record's protocolSection.conditionsModule.conditions should be a list.",
        ),
        (
            {"armsInterventionsModule": {"armGroups": [{"label": 7}]}},
            "The record's protocolSection.armsInterventionsModule.armGroups[0].label should be text.",
        ),
        (
            {"designModule": {"phases": ["PHASE3"], "enrollmentInfo": {"count": 317.5}}},
            "The record's protocolSection.designModule.enrollmentInfo.count should be a whole number.",
        ),
        ({"statusModule": []}, "The record's protocolSection.statusModule should be an object."),
    ],
)
def test_refuses_api_v2_values_of_the_wrong_type(modules, message):
    assert refusal_of(api_study(**modules)).message == message
