"""Importing ClinicalTrials.gov study records: API v2 JSON and legacy XML, refused phases, malformed files."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from lims.errors import InvalidInput
from protocols.ctgov import (
    API_V2_JSON,
    LEGACY_XML,
    MAX_RECORD_BYTES,
    CtgovImportError,
    EarlierPhaseRefused,
    ImportedArm,
    ImportedIntervention,
    parse_study,
)
from protocols.models import ProtocolPhase

REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference-data" / "clinicaltrials-gov"


def _reference_record(name: str) -> bytes:
    path = REFERENCE_DIR / name
    if not path.is_file():
        pytest.skip(f"ClinicalTrials.gov reference record not found at {path} (../shared/reference-data is absent)")
    return path.read_bytes()


def _api_study(**modules: object) -> bytes:
    """A minimal API v2 record for a phase 3 study; ``modules`` replace or add protocolSection modules."""
    protocol = {
        "identificationModule": {"nctId": "NCT09999999", "briefTitle": "HLX-19 CAR-T cells versus standard of care"},
        "sponsorCollaboratorsModule": {"leadSponsor": {"name": "Helix Cell Therapeutics"}},
        "designModule": {"phases": ["PHASE3"]},
    } | modules
    return json.dumps({"protocolSection": protocol}).encode()


def _legacy_study(*elements: str, id_info: str = "<nct_id>NCT09999999</nct_id>") -> bytes:
    """A minimal legacy XML record with ``elements`` appended; without a <phase> among them it has none."""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><clinical_study><id_info>{id_info}</id_info>'
        "<brief_title>HLX-19 CAR-T cells versus standard of care</brief_title>"
        "<sponsors><lead_sponsor><agency>Helix Cell Therapeutics</agency></lead_sponsor></sponsors>"
        f"{''.join(elements)}</clinical_study>"
    ).encode()


def _refusal(data: bytes, error: type[CtgovImportError] = CtgovImportError) -> CtgovImportError:
    with pytest.raises(error) as caught:
        parse_study(data)
    assert isinstance(caught.value, InvalidInput) and caught.value.field == "file"
    return caught.value


# --- The reference records ----------------------------------------------------------------------------------------


def test_reads_the_api_v2_json_record():
    study = parse_study(_reference_record("NCT02552212.api-v2.json"), "NCT02552212.json")

    assert study.source_format == API_V2_JSON
    assert study.nct_id == "NCT02552212"
    assert study.brief_title == ("Multicenter Study Evaluating Certolizumab Pegol Compared to Placebo in Subjects "
                                 "With axSpA Without X-ray Evidence of AS")
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
            label="Certolizumab Pegol 200 mg Q2W", arm_type="EXPERIMENTAL",
            description="Certolizumab Pegol (CZP) 400 mg subcutaneous (sc) on Weeks 0, 2 and 4, followed by 200 mg "
                        "CZP sc every 2 weeks (Q2W) from Week 6 onwards.",
            intervention_names=("Certolizumab Pegol",),
        ),
        ImportedArm(
            label="Placebo", arm_type="PLACEBO_COMPARATOR",
            description="Matching placebo to Certolizumab Pegol (CZP) injections are administered every 2 weeks from "
                        "Week 0 onwards.",
            intervention_names=("Placebo",),
        ),
    )
    assert study.interventions == (
        ImportedIntervention(
            kind="BIOLOGICAL", name="Certolizumab Pegol",
            description="* Active Substance: Certolizumab Pegol\n* Pharmaceutical Form: Prefilled syringe\n"
                        "* Concentration: 200 mg / ml\n* Route of Administration: Subcutaneous injection",
            arm_labels=("Certolizumab Pegol 200 mg Q2W",),
        ),
        ImportedIntervention(
            kind="OTHER", name="Placebo",
            description="* Active Substance: Placebo\n* Pharmaceutical Form: Prefilled syringe\n"
                        "* Concentration: 0.9 % saline\n* Route of Administration: Subcutaneous injection",
            arm_labels=("Placebo",),
        ),
    )
    assert (study.enrollment, study.enrollment_type) == (317, "ACTUAL")
    assert study.overall_status == "COMPLETED"


def test_lists_what_the_api_v2_json_record_holds_beyond_the_mapping():
    study = parse_study(_reference_record("NCT02552212.api-v2.json"))

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


def test_reads_the_phase_3_legacy_xml_record():
    study = parse_study(_reference_record("NCT01298141.legacy.xml"))

    assert study.source_format == LEGACY_XML
    assert study.nct_id == "NCT01298141"
    assert study.brief_title == ("A Multicenter Open-Label Treatment Protocol to Observe the Safety of Replagal "
                                 "(Agalsidase Alfa) Enzyme Replacement Therapy in Canadian Patients With Fabry Disease")
    assert study.official_title == ("A Multicenter Open-Label Treatment Protocol to Observe the Safety of Replagal® "
                                    "(Agalsidase Alfa) Enzyme Replacement Therapy in Canadian Patients With Fabry "
                                    "Disease")
    assert study.acronym is None
    assert study.phase is ProtocolPhase.PHASE_3
    assert study.sponsor == "Shire"
    assert study.collaborators == ()
    assert study.conditions == ("Fabry Disease",)
    assert study.arms == (
        ImportedArm(
            label="Replagal®", arm_type="Experimental",
            description="All eligible patients may receive Replagal produced by the bioreactor process (AF Replagal) "
                        "on this treatment plan until AF Replagal is commercially available for the patient, the "
                        "patient's participation is discontinued, or the study is discontinued, whichever comes first.",
            intervention_names=("agalsidase alfa",),
        ),
    )
    assert study.interventions == (
        ImportedIntervention(
            kind="Biological", name="agalsidase alfa",
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
    study = parse_study(_reference_record("NCT02654730.legacy.xml"))

    assert study.nct_id == "NCT02654730"
    title = ("Evaluation of the Safety of Primaquine in Combination With Dihydroartemisinin-piperaquine in G6PD "
             "Deficient Males in The Gambia")
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
        ("design: allocation Randomized, intervention model Parallel Assignment, primary purpose Treatment, "
         "masking None (Open Label)"),
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
    refusal = _refusal(_reference_record("NCT01220531.legacy.xml"), EarlierPhaseRefused)

    assert refusal.message == ("The lab serves trials after phase II; NCT01220531 has no phase "
                               "(Expanded Access study).")


# --- Phases -------------------------------------------------------------------------------------------------------


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
    assert parse_study(_api_study(designModule={"phases": phases})).phase is expected


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
    refusal = _refusal(_api_study(designModule=design), EarlierPhaseRefused)

    assert refusal.message == f"The lab serves trials after phase II; {reason}"


@pytest.mark.parametrize(
    ("phase", "expected"),
    [
        ("Phase 2/Phase 3", ProtocolPhase.PHASE_2_3),
        ("Phase 3", ProtocolPhase.PHASE_3),
        ("Phase 4", ProtocolPhase.PHASE_4),
    ],
)
def test_maps_the_legacy_xml_phases_the_lab_serves(phase, expected):
    assert parse_study(_legacy_study(f"<phase>{phase}</phase>")).phase is expected


@pytest.mark.parametrize(
    ("elements", "reason"),
    [
        ("<phase>Phase 1/Phase 2</phase>", "NCT09999999 is Phase 1/Phase 2."),
        ("<phase>Phase 2</phase>", "NCT09999999 is Phase 2."),
        ("<phase>Phase 1</phase>", "NCT09999999 is Phase 1."),
        ("<phase>Early Phase 1</phase>", "NCT09999999 is Early Phase 1."),
        ("<phase>N/A</phase><study_type>Interventional</study_type>",
         "NCT09999999 has no phase (Interventional study)."),
        ("", "NCT09999999 has no phase."),
    ],
)
def test_refuses_legacy_xml_studies_before_phase_2_3_or_without_a_phase(elements, reason):
    refusal = _refusal(_legacy_study(elements), EarlierPhaseRefused)

    assert refusal.message == f"The lab serves trials after phase II; {reason}"


def test_a_phase_clinicaltrials_gov_does_not_use_is_malformed_not_an_earlier_phase():
    for data in (_api_study(designModule={"phases": ["PHASE3", "PHASE5"]}), _legacy_study("<phase>Phase 5</phase>")):
        refusal = _refusal(data)
        assert not isinstance(refusal, EarlierPhaseRefused)
        assert "which ClinicalTrials.gov does not use" in refusal.message


# --- Mapping details ----------------------------------------------------------------------------------------------


def test_a_minimal_record_leaves_nothing_unmapped():
    for data in (_api_study(), _legacy_study("<phase>Phase 3</phase>")):
        study = parse_study(data)
        assert (study.nct_id, study.sponsor, study.phase) == ("NCT09999999", "Helix Cell Therapeutics",
                                                              ProtocolPhase.PHASE_3)
        assert (study.official_title, study.acronym, study.enrollment, study.enrollment_type) == (None,) * 4
        assert (study.arms, study.interventions, study.conditions, study.unmapped) == ((),) * 4


def test_lists_modules_and_elements_it_does_not_know_by_name():
    assert parse_study(_api_study(cellTherapyModule={"vectorLot": "V-1"})).unmapped == ("cell therapy",)
    assert parse_study(_legacy_study("<phase>Phase 3</phase><cell_therapy_info/>")).unmapped == ("cell therapy info",)


def test_arm_intervention_names_lose_only_a_clinicaltrials_gov_type_prefix():
    study = parse_study(_api_study(armsInterventionsModule={"armGroups": [
        {"label": "HLX-19", "interventionNames": ["Genetic: HLX-19 CAR-T cells", "Cell product: HLX-19"]},
    ]}))

    assert study.arms[0].intervention_names == ("HLX-19 CAR-T cells", "Cell product: HLX-19")


def test_reads_json_that_starts_with_a_byte_order_mark():
    assert parse_study(b"\xef\xbb\xbf" + _api_study()).nct_id == "NCT09999999"


# --- Malformed files ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is neither a ClinicalTrials.gov JSON record nor an XML one."),
        (b"%PDF-1.7", "The file is neither a ClinicalTrials.gov JSON record nor an XML one."),
        (b'{"protocolSection": ', "The file is not valid JSON (line 1, column 21: Expecting value)."),
        (b'{"briefTitle": "\xff"}', "The file is not UTF-8 text, as ClinicalTrials.gov JSON is."),
        (b'{"studies": []}',
         "The file is JSON but not a ClinicalTrials.gov API v2 single-study record (no protocolSection)."),
        (b"[]", "The file is JSON but not a ClinicalTrials.gov API v2 single-study record (no protocolSection)."),
        (b"<clinical_study><id_info></clinical_study>",
         "The file is not well-formed XML (mismatched tag: line 1, column 27)."),
        (b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"/>',
         ("The file is XML with root <{http://www.cdisc.org/ns/odm/v1.3}ODM>, not a ClinicalTrials.gov "
          "<clinical_study> record.")),
    ],
)
def test_refuses_what_is_not_a_study_record(data, message):
    assert _refusal(data).message == message


def test_names_the_file_in_the_message():
    with pytest.raises(CtgovImportError) as refusal:
        parse_study(b"%PDF-1.7", "protocol.pdf")

    assert refusal.value.message == "“protocol.pdf” is neither a ClinicalTrials.gov JSON record nor an XML one."


def test_refuses_xml_with_entity_declarations():
    laughs = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
              b"<clinical_study><brief_title>&lol2;</brief_title></clinical_study>")

    assert "declares a DTD or entities" in _refusal(laughs).message


def test_refuses_deeply_nested_json():
    assert "nests JSON too deeply" in _refusal(b'{"protocolSection": ' + b"[" * 100_000 + b"]" * 100_000 + b"}").message


@pytest.mark.parametrize(
    "data",
    [
        _api_study(identificationModule={"briefTitle": "No NCT number"}),
        _legacy_study("<phase>Phase 3</phase>", id_info="<org_study_id>HLX-301</org_study_id>"),
        _legacy_study("<phase>Phase 3</phase>", id_info="<nct_id>  </nct_id>"),
    ],
)
def test_refuses_a_record_without_an_nct_number(data):
    assert _refusal(data).message == "The record has no NCT number."


ARABIC_INDIC_DIGITS = "\u0660\u0669\u0669\u0669\u0669\u0669\u0669\u0669"  # digits to str.isdigit, not to an NCT number


@pytest.mark.parametrize("nct_id", ["NCT1234567", "NCT123456789", "nct09999999", "NCT0999999X",
                                    f"NCT{ARABIC_INDIC_DIGITS}", "EudraCT 2015-001894-41"])
def test_refuses_an_nct_number_of_the_wrong_format(nct_id):
    expected = f"“{nct_id}” is not an NCT number: expected NCT followed by 8 digits."

    assert _refusal(_api_study(identificationModule={"nctId": nct_id, "briefTitle": "x"})).message == expected
    assert _refusal(_legacy_study(id_info=f"<nct_id>{nct_id}</nct_id>")).message == expected


def test_refuses_a_record_without_a_title_or_lead_sponsor():
    assert _refusal(_api_study(identificationModule={"nctId": "NCT09999999"})).message == (
        "The record NCT09999999 has no brief title.")
    assert _refusal(_api_study(sponsorCollaboratorsModule={})).message == "The record NCT09999999 has no lead sponsor."


@pytest.mark.parametrize(
    ("modules", "message"),
    [
        ({"conditionsModule": {"conditions": "Malaria"}},
         "The record's protocolSection.conditionsModule.conditions should be a list."),
        ({"armsInterventionsModule": {"armGroups": [{"label": 7}]}},
         "The record's protocolSection.armsInterventionsModule.armGroups[0].label should be text."),
        ({"designModule": {"phases": ["PHASE3"], "enrollmentInfo": {"count": 317.5}}},
         "The record's protocolSection.designModule.enrollmentInfo.count should be a whole number."),
        ({"statusModule": []}, "The record's protocolSection.statusModule should be an object."),
    ],
)
def test_refuses_api_v2_values_of_the_wrong_type(modules, message):
    assert _refusal(_api_study(**modules)).message == message


def test_refuses_a_legacy_enrollment_that_is_not_a_whole_number():
    refusal = _refusal(_legacy_study("<phase>Phase 3</phase>", '<enrollment type="Anticipated">about 60</enrollment>'))

    assert refusal.message == "The record NCT09999999 gives enrollment “about 60”, which is not a whole number."


def test_refuses_a_file_larger_than_5_mb_and_reads_one_of_exactly_5_mb():
    record = _api_study()
    at_the_limit = record + b" " * (MAX_RECORD_BYTES - len(record))

    assert parse_study(at_the_limit).nct_id == "NCT09999999"
    assert _refusal(at_the_limit + b" ").message == (
        "The file is larger than 5 MB, the limit for one ClinicalTrials.gov study record.")
