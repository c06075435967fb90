"""The ODM 1.3.2 export of a protocol version's study design, built from transient ORM objects (no database)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select

from lims import clock
from lims.areas import install
from lims.audit.models import AuditEvent
from lims.units.errors import NoUcumCode
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement
from protocols.models import (
    Arm,
    Protocol,
    ProtocolPhase,
    ProtocolStatus,
    ProtocolVersion,
    ReferenceEvent,
    SampleRequirement,
    VersionStatus,
    Visit,
)
from protocols.odm import ODM_NAMESPACE, export_odm, export_version

install()

CREATED_AT = datetime(2025, 3, 14, 9, 30, 5, tzinfo=UTC)
AMENDMENT_SUMMARY = "Amendment 2: adds the Month 3 serum sample and widens the Day 7 window to ±1 day."
NS = {"odm": ODM_NAMESPACE}
OID_ATTRIBUTES = ("OID", "StudyEventOID", "FormOID", "ItemGroupOID", "ItemOID", "MeasurementUnitOID")
VALID_OID = re.compile(r"^[A-Za-z0-9._]+$")
REFERENCE_DIR = Path(__file__).resolve().parents[3] / "shared" / "reference-data" / "cdisc-odm"
REFERENCE_FILES = ("odm-data-snapshot.xml", "cdash-odm-test.xml")
# ODM 1.3.2 attributes and child elements the exporter uses that the two reference examples happen not to.
STANDARD_ATTRIBUTES_BEYOND_EXAMPLES = {"ODM": {"SourceSystem"}, "MetaDataVersion": {"Description"}}
STANDARD_CHILDREN_BEYOND_EXAMPLES = {"StudyEventDef": {"Description"}}
REFERENCES = {
    "StudyEventRef": ("StudyEventOID", "StudyEventDef"),
    "FormRef": ("FormOID", "FormDef"),
    "ItemGroupRef": ("ItemGroupOID", "ItemGroupDef"),
    "ItemRef": ("ItemOID", "ItemDef"),
    "MeasurementUnitRef": ("MeasurementUnitOID", "MeasurementUnit"),
}


# The design of a phase 3 autologous CAR-T protocol


def _protocol(number: str = "CART-301", title: str | None = None) -> Protocol:
    return Protocol(
        number=number,
        title=title
        or (
            "A phase 3, randomised, open-label study of autologous anti-CD19 CAR-T cells versus "
            "standard of care in relapsed or refractory large B-cell lymphoma"
        ),
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology-oncology",
        investigational_product="Autologous anti-CD19 CAR-T cells",
        status=ProtocolStatus.ENROLLING,
    )


def _version(protocol: Protocol, amendment_summary: str = AMENDMENT_SUMMARY) -> ProtocolVersion:
    return ProtocolVersion(
        protocol=protocol, number="3", amendment_summary=amendment_summary, status=VersionStatus.EFFECTIVE
    )


def _visit(
    version: ProtocolVersion,
    code: str,
    name: str,
    reference_event: ReferenceEvent,
    day_offset: int,
    window: tuple[int, int] = (0, 0),
) -> Visit:
    return Visit(
        version=version,
        code=code,
        name=name,
        reference_event=reference_event,
        day_offset=day_offset,
        window_before_days=window[0],
        window_after_days=window[1],
    )


def _requirement(
    visit: Visit, sample_type: str, volume: str, container: str, handling: tuple[str, str], max_hours_to_processing: int
) -> SampleRequirement:
    return SampleRequirement(
        visit=visit,
        sample_type=sample_type,
        volume=parse_measurement(volume),
        container=container,
        handling_minimum=parse_measurement(handling[0]),
        handling_maximum=parse_measurement(handling[1]),
        max_hours_to_processing=max_hours_to_processing,
    )


def _cart_t_version() -> ProtocolVersion:
    version = _version(_protocol())
    Arm(version=version, code="A", name="Autologous anti-CD19 CAR-T", arm_type="Experimental")
    Arm(version=version, code="B", name="Standard of care", arm_type="Active comparator")
    room_temperature = ("15 °C", "25 °C")
    screening = _visit(version, "SCR", "Screening", ReferenceEvent.ENROLMENT, -28, (0, 7))
    _requirement(screening, "Peripheral blood", "10 mL", "K2EDTA tube", room_temperature, 24)
    apheresis = _visit(version, "APH", "Apheresis", ReferenceEvent.APHERESIS, 0)
    _requirement(apheresis, "Leukapheresis product", "200 mL", "Apheresis collection bag", ("2 °C", "8 °C"), 48)
    day_7 = _visit(version, "D7", "Day 7 post infusion", ReferenceEvent.INFUSION, 7, (1, 1))
    _requirement(day_7, "Peripheral blood", "6 mL", "K2EDTA tube", room_temperature, 24)
    day_28 = _visit(version, "D28", "Day 28", ReferenceEvent.INFUSION, 28, (3, 3))
    _requirement(day_28, "Peripheral blood", "6 mL", "K2EDTA tube", room_temperature, 24)
    month_3 = _visit(version, "M3", "Month 3", ReferenceEvent.INFUSION, 90, (14, 14))
    _requirement(month_3, "Peripheral blood", "6 mL", "K2EDTA tube", room_temperature, 24)
    _requirement(month_3, "Serum", "3.5 mL", "Serum separator tube", room_temperature, 4)
    return version


@pytest.fixture
def version() -> ProtocolVersion:
    return _cart_t_version()


@pytest.fixture
def odm(version: ProtocolVersion) -> ET.Element:
    return ET.fromstring(export_version(version, created_at=CREATED_AT))


# Reading the output


def _local(tag: str) -> str:
    return tag.rpartition("}")[2]


def _all(root: ET.Element, name: str) -> list[ET.Element]:
    return root.findall(f".//odm:{name}", NS)


def _by_oid(root: ET.Element, name: str) -> dict[str, ET.Element]:
    return {element.get("OID"): element for element in _all(root, name)}


def _description(element: ET.Element) -> str | None:
    return element.findtext("odm:Description/odm:TranslatedText", namespaces=NS)


def _unit_oid(item_def: ET.Element) -> str | None:
    reference = item_def.find("odm:MeasurementUnitRef", NS)
    return None if reference is None else reference.get("MeasurementUnitOID")


def _units_by_name(root: ET.Element) -> dict[str, ET.Element]:
    return {unit.get("Name"): unit for unit in _all(root, "MeasurementUnit")}


# The file


def test_output_is_utf8_xml_with_declaration(version: ProtocolVersion) -> None:
    exported = export_version(version, created_at=CREATED_AT)

    assert exported.startswith(b"<?xml version='1.0' encoding='UTF-8'?>")
    assert "°C".encode() in exported
    assert ET.fromstring(exported).tag == f"{{{ODM_NAMESPACE}}}ODM"


def test_root_is_an_odm_1_3_2_metadata_snapshot(odm: ET.Element) -> None:
    assert odm.attrib == {
        "ODMVersion": "1.3.2",
        "FileType": "Snapshot",
        "FileOID": "ODM.CART_301.3.20250314T093005Z",
        "CreationDateTime": "2025-03-14T09:30:05+00:00",
        "Granularity": "Metadata",
        "SourceSystem": "GMP LIMS",
    }


def test_file_oid_can_be_given(version: ProtocolVersion) -> None:
    odm = ET.fromstring(export_version(version, created_at=CREATED_AT, file_oid="CART-301-design-export-42"))

    assert odm.get("FileOID") == "CART-301-design-export-42"


def test_creation_time_needs_a_time_zone(version: ProtocolVersion) -> None:
    with pytest.raises(ValueError, match="aware"):
        export_version(version, created_at=datetime(2025, 3, 14, 9, 30))


def test_export_is_deterministic(version: ProtocolVersion) -> None:
    assert export_version(version, created_at=CREATED_AT) == export_version(version, created_at=CREATED_AT)


# Study, global variables and metadata version


def test_study_names_the_protocol_and_its_version(odm: ET.Element) -> None:
    study = odm.find("odm:Study", NS)

    assert study.get("OID") == "ST.CART_301"
    assert study.findtext("odm:GlobalVariables/odm:StudyName", namespaces=NS) == "CART-301"
    assert study.findtext("odm:GlobalVariables/odm:StudyDescription", namespaces=NS).startswith(
        "A phase 3, randomised, open-label study of autologous anti-CD19 CAR-T cells"
    )
    assert study.findtext("odm:GlobalVariables/odm:ProtocolName", namespaces=NS) == "CART-301 version 3"


def test_metadata_version_carries_the_amendment_summary(odm: ET.Element) -> None:
    metadata = odm.find("odm:Study/odm:MetaDataVersion", NS)

    assert metadata.attrib == {
        "OID": "MDV.3",
        "Name": "Version 3",
        "Description": AMENDMENT_SUMMARY,
    }


def test_metadata_version_children_follow_the_schema_order(odm: ET.Element) -> None:
    order = ["Protocol", "StudyEventDef", "FormDef", "ItemGroupDef", "ItemDef"]
    names = [_local(child.tag) for child in odm.find("odm:Study/odm:MetaDataVersion", NS)]

    assert names == sorted(names, key=order.index)
    assert [_local(child.tag) for child in odm.find("odm:Study", NS)] == [
        "GlobalVariables",
        "BasicDefinitions",
        "MetaDataVersion",
    ]


# Visits


def test_one_scheduled_study_event_per_visit_in_schedule_order(odm: ET.Element) -> None:
    references = _all(odm, "StudyEventRef")
    events = _all(odm, "StudyEventDef")

    assert [(ref.get("StudyEventOID"), ref.get("OrderNumber"), ref.get("Mandatory")) for ref in references] == [
        ("SE.SCR", "1", "Yes"),
        ("SE.APH", "2", "Yes"),
        ("SE.D7", "3", "Yes"),
        ("SE.D28", "4", "Yes"),
        ("SE.M3", "5", "Yes"),
    ]
    assert [(event.get("OID"), event.get("Name")) for event in events] == [
        ("SE.SCR", "Screening"),
        ("SE.APH", "Apheresis"),
        ("SE.D7", "Day 7 post infusion"),
        ("SE.D28", "Day 28"),
        ("SE.M3", "Month 3"),
    ]
    assert {(event.get("Repeating"), event.get("Type")) for event in events} == {("No", "Scheduled")}


def test_study_events_describe_day_reference_event_and_window(odm: ET.Element) -> None:
    events = _by_oid(odm, "StudyEventDef")

    assert _description(events["SE.SCR"]) == "Day -28 from enrolment, window -0/+7 days"
    assert _description(events["SE.APH"]) == "Day 0 from apheresis, window -0/+0 days"
    assert _description(events["SE.D7"]) == "Day 7 from infusion, window -1/+1 days"


def test_each_visit_has_a_sample_form_with_one_item_group_per_requirement(
    odm: ET.Element, version: ProtocolVersion
) -> None:
    events, forms = _by_oid(odm, "StudyEventDef"), _by_oid(odm, "FormDef")

    for visit in version.visits:
        form_oid = f"F.{visit.code}.SAMPLES"
        assert [ref.get("FormOID") for ref in events[f"SE.{visit.code}"].findall("odm:FormRef", NS)] == [form_oid]
        group_refs = forms[form_oid].findall("odm:ItemGroupRef", NS)
        assert [ref.get("ItemGroupOID") for ref in group_refs] == [
            f"IG.{visit.code}.{number}" for number in range(1, len(visit.requirements) + 1)
        ]
    assert forms["F.M3.SAMPLES"].get("Name") == "Month 3: sample collection"
    assert [group.get("Name") for group in _all(odm, "ItemGroupDef")] == [
        "Peripheral blood",
        "Leukapheresis product",
        "Peripheral blood",
        "Peripheral blood",
        "Peripheral blood",
        "Serum",
    ]


def test_item_groups_record_the_collection(odm: ET.Element) -> None:
    group = _by_oid(odm, "ItemGroupDef")["IG.SCR.1"]
    items = _by_oid(odm, "ItemDef")

    item_oids = [ref.get("ItemOID") for ref in group.findall("odm:ItemRef", NS)]
    assert [(items[oid].get("Name"), items[oid].get("DataType"), _description(items[oid])) for oid in item_oids] == [
        ("Collection date and time", "datetime", None),
        ("Sample type", "text", "Expected: Peripheral blood"),
        ("Collected volume", "float", "Required: 10 mL"),
        ("Container", "text", "Expected: K2EDTA tube"),
        ("Handling temperature", "float", "Allowed: 15 °C to 25 °C"),
        ("Time to processing", "integer", "Maximum: 24 h from collection to processing"),
    ]


def test_apheresis_product_items_state_its_own_limits(odm: ET.Element) -> None:
    items = _by_oid(odm, "ItemDef")

    assert _description(items["IT.APH.1.SAMPLE_TYPE"]) == "Expected: Leukapheresis product"
    assert _description(items["IT.APH.1.VOLUME"]) == "Required: 200 mL"
    assert _description(items["IT.APH.1.CONTAINER"]) == "Expected: Apheresis collection bag"
    assert _description(items["IT.APH.1.HANDLING_TEMPERATURE"]) == "Allowed: 2 °C to 8 °C"
    assert _description(items["IT.APH.1.HOURS_TO_PROCESSING"]) == "Maximum: 48 h from collection to processing"


# Units


def test_one_measurement_unit_per_unit_used_with_ucum_symbols(odm: ET.Element) -> None:
    units = _units_by_name(odm)

    assert len(_all(odm, "MeasurementUnit")) == len(units) == 3
    assert {
        name: (unit.get("OID"), unit.findtext("odm:Symbol/odm:TranslatedText", namespaces=NS))
        for name, unit in units.items()
    } == {"mL": ("MU.mL", "mL"), "°C": ("MU.Cel", "Cel"), "h": ("MU.h", "h")}


def test_volume_temperature_and_processing_time_items_reference_their_units(odm: ET.Element) -> None:
    items = _by_oid(odm, "ItemDef")
    units = _units_by_name(odm)

    for visit_code in ("SCR", "APH", "D7", "D28", "M3"):
        assert _unit_oid(items[f"IT.{visit_code}.1.VOLUME"]) == units["mL"].get("OID")
        assert _unit_oid(items[f"IT.{visit_code}.1.HANDLING_TEMPERATURE"]) == units["°C"].get("OID")
        assert _unit_oid(items[f"IT.{visit_code}.1.HOURS_TO_PROCESSING"]) == units["h"].get("OID")
        assert _unit_oid(items[f"IT.{visit_code}.1.CONTAINER"]) is None


def test_cc_is_exported_as_its_ucum_code_cm3_never_as_the_labs_text() -> None:
    version = _version(_protocol())
    visit = _visit(version, "SCR", "Screening", ReferenceEvent.ENROLMENT, -28)
    _requirement(visit, "Peripheral blood", "5 cc", "Syringe", ("15 °C", "25 °C"), 24)

    odm = ET.fromstring(export_version(version, created_at=CREATED_AT))

    unit = _units_by_name(odm)["cc"]
    assert unit.findtext("odm:Symbol/odm:TranslatedText", namespaces=NS) == "cm3"
    assert _unit_oid(_by_oid(odm, "ItemDef")["IT.SCR.1.VOLUME"]) == unit.get("OID") == "MU.cm3"


def test_a_unit_without_ucum_code_is_refused_where_it_is_typed() -> None:
    with pytest.raises(NoUcumCode, match="'floz' has no UCUM code"):
        parse_measurement("0.5 floz")


def test_a_stored_unit_without_ucum_code_stops_the_export_by_name_instead_of_exporting_its_text() -> None:
    version = _version(_protocol())
    visit = _visit(version, "SCR", "Screening", ReferenceEvent.ENROLMENT, -28)
    requirement = _requirement(visit, "Peripheral blood", "10 mL", "Bottle", ("15 °C", "25 °C"), 24)
    requirement.volume = Measurement(Decimal("0.5"), "floz")  # kept before every unit needed a UCUM code

    with pytest.raises(NoUcumCode, match="'floz' has no UCUM code, so the ODM export cannot name it"):
        export_version(version, created_at=CREATED_AT)


def test_a_handling_range_typed_in_two_units_is_stated_in_the_minimums() -> None:
    version = _version(_protocol())
    visit = _visit(version, "APH", "Apheresis", ReferenceEvent.APHERESIS, 0)
    _requirement(visit, "Leukapheresis product", "200 mL", "Bag", ("2 °C", "46.4 °F"), 48)

    odm = ET.fromstring(export_version(version, created_at=CREATED_AT))

    temperature = _by_oid(odm, "ItemDef")["IT.APH.1.HANDLING_TEMPERATURE"]
    assert _description(temperature) == "Allowed: 2 °C to 8 °C"
    assert _unit_oid(temperature) == "MU.Cel"
    assert "°F" not in _units_by_name(odm)


# Identifiers and references


def _assert_references_resolve_both_ways(odm: ET.Element) -> None:
    for reference, (attribute, definition) in REFERENCES.items():
        referenced = {element.get(attribute) for element in _all(odm, reference)}
        assert referenced == set(_by_oid(odm, definition)), reference


def _assert_oids_unique_and_valid(odm: ET.Element) -> None:
    definitions = [element.get("OID") for element in odm.iter() if "OID" in element.attrib]
    every_oid = [element.get(name) for element in odm.iter() for name in OID_ATTRIBUTES if name in element.attrib]

    assert len(definitions) == len(set(definitions))
    assert all(VALID_OID.match(oid) for oid in every_oid), every_oid


def test_every_reference_resolves_and_every_definition_is_referenced(odm: ET.Element) -> None:
    _assert_references_resolve_both_ways(odm)


def test_oids_are_unique_and_valid(odm: ET.Element) -> None:
    _assert_oids_unique_and_valid(odm)


def test_codes_that_sanitise_alike_get_distinct_oids() -> None:
    version = _version(_protocol())
    for code in ("V 1", "V-1", "V_1"):
        visit = _visit(version, code, f"Visit {code}", ReferenceEvent.INFUSION, 7)
        _requirement(visit, "Peripheral blood", "6 mL", "K2EDTA tube", ("15 °C", "25 °C"), 24)

    odm = ET.fromstring(export_version(version, created_at=CREATED_AT))

    assert [event.get("OID") for event in _all(odm, "StudyEventDef")] == ["SE.V_1", "SE.V_1_2", "SE.V_1_3"]
    _assert_oids_unique_and_valid(odm)
    _assert_references_resolve_both_ways(odm)


def test_user_text_is_escaped() -> None:
    title = "CAR-T <CD19> & \"BCMA\" study of O'Brien's regimen"
    summary = "Volume < 10 mL & window > 3 days"
    visit_name = 'Day 7 <post> & "infusion"'
    sample_type = "Blood & <plasma>"
    container = "Tube 'A' & \"B\""
    version = _version(_protocol(number='CART<301>&"x"', title=title), amendment_summary=summary)
    visit = _visit(version, "D7<&>", visit_name, ReferenceEvent.INFUSION, 7)
    _requirement(visit, sample_type, "6 mL", container, ("15 °C", "25 °C"), 24)

    exported = export_version(version, created_at=CREATED_AT)
    odm = ET.fromstring(exported)

    assert b"&lt;" in exported and b"&amp;" in exported and b"&quot;" in exported
    assert odm.findtext(".//odm:StudyDescription", namespaces=NS) == title
    assert odm.findtext(".//odm:StudyName", namespaces=NS) == 'CART<301>&"x"'
    assert odm.find(".//odm:MetaDataVersion", NS).get("Description") == summary
    assert _all(odm, "StudyEventDef")[0].get("Name") == visit_name
    assert _all(odm, "ItemGroupDef")[0].get("Name") == sample_type
    items = _all(odm, "ItemDef")
    assert _description(items[1]) == f"Expected: {sample_type}"
    assert _description(items[3]) == f"Expected: {container}"
    _assert_oids_unique_and_valid(odm)


# Shape against the reference ODM examples


def _shape(root: ET.Element) -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """Per element name: the attribute names and the child element names it is seen with."""
    attributes: dict[str, set[str]] = defaultdict(set)
    children: dict[str, set[str]] = defaultdict(set)
    for element in root.iter():
        attributes[_local(element.tag)] |= set(element.attrib)
        children[_local(element.tag)] |= {_local(child.tag) for child in element}
    return attributes, children


@pytest.fixture(scope="module")
def reference_roots() -> list[ET.Element]:
    if not REFERENCE_DIR.is_dir():
        pytest.skip(f"the CDISC ODM reference examples are not available at {REFERENCE_DIR}")
    return [ET.parse(REFERENCE_DIR / name).getroot() for name in REFERENCE_FILES]


def test_reference_examples_share_our_namespace(reference_roots: list[ET.Element]) -> None:
    assert {root.tag for root in reference_roots} == {f"{{{ODM_NAMESPACE}}}ODM"}


def test_elements_and_attributes_match_the_reference_examples(
    odm: ET.Element, reference_roots: list[ET.Element]
) -> None:
    reference_attributes: dict[str, set[str]] = defaultdict(set)
    reference_children: dict[str, set[str]] = defaultdict(set)
    for root in reference_roots:
        attributes, children = _shape(root)
        for name in attributes:
            reference_attributes[name] |= attributes[name] | STANDARD_ATTRIBUTES_BEYOND_EXAMPLES.get(name, set())
            reference_children[name] |= children[name] | STANDARD_CHILDREN_BEYOND_EXAMPLES.get(name, set())

    our_attributes, our_children = _shape(odm)

    assert {element.tag.partition("}")[0] + "}" for element in odm.iter()} == {f"{{{ODM_NAMESPACE}}}"}
    assert set(our_attributes) <= set(reference_attributes)
    for name in our_attributes:
        assert our_attributes[name] <= reference_attributes[name], name
        assert our_children[name] <= reference_children[name], name
    for definition in (
        "StudyEventDef",
        "FormDef",
        "ItemGroupDef",
        "ItemDef",
        "MeasurementUnit",
        "FormRef",
        "ItemGroupRef",
        "ItemRef",
        "MeasurementUnitRef",
    ):
        assert definition in our_attributes


def test_an_export_for_download_is_the_design_now_and_leaves_one_audit_event(db_session, car_t_protocol) -> None:
    version = car_t_protocol.versions[0]
    with clock.frozen(CREATED_AT):
        exported = export_odm(db_session, version)
    assert exported == export_version(version, created_at=CREATED_AT)
    [event] = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export.odm")).all()
    assert (event.entity_type, event.entity_id) == ("protocol_version", str(version.id))
    assert '"protocol":"HLX-301"' in event.changes
