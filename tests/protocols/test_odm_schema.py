"""Every ODM export is valid against the CDISC ODM 1.3.2 XML Schema, whatever the design's units, codes and texts."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from lims import clock
from protocols.models import ProtocolVersion, ReferenceEvent
from protocols.odm import export_odm, export_version
from tests.protocols.test_odm import (
    CREATED_AT,
    NS,
    _all,
    _cart_t_version,
    _protocol,
    _requirement,
    _version,
    _visit,
)

REFERENCE_DATA = Path(__file__).resolve().parents[3] / "shared" / "reference-data"
ODM_SCHEMA = REFERENCE_DATA / "cdisc-odm" / "schema" / "cdisc-odm-1.3.2" / "ODM1-3-2.xsd"
UCUM_ESSENCE = REFERENCE_DATA / "ucum" / "ucum-essence.xml"
UCUM = "{http://unitsofmeasure.org/ucum-essence}"


@pytest.fixture(scope="module")
def odm_schema():
    if not ODM_SCHEMA.is_file():
        pytest.skip(f"the CDISC ODM 1.3.2 XML Schema is not available at {ODM_SCHEMA}")
    xmlschema = pytest.importorskip("xmlschema", reason="xmlschema (the test extra) validates against the XSD")
    return xmlschema.XMLSchema(str(ODM_SCHEMA))


def _assert_valid(odm_schema, exported: bytes) -> None:
    errors = [f"{error.path}: {error.reason}" for error in odm_schema.iter_errors(exported.decode("utf-8"))]
    assert errors == []


def _cold_chain_version() -> ProtocolVersion:
    """Units and codes a cell-therapy design uses beyond the everyday: µL, L, °F, K, −196 °C, codes of any shape."""
    version = _version(_protocol(number="CRYO/302 (EU)", title="Cryopreserved CAR-T: “fresh” vs thawed & washed"))
    unusual_codes = ["V 1", "V-1", "1", "Ü-7", "<&>", "D−7", "."]
    for number, code in enumerate(unusual_codes):
        visit = _visit(version, code, f"Visit {code} “quoted” & <bracketed>", ReferenceEvent.INFUSION, number, (0, 1))
        _requirement(visit, "Bone marrow aspirate", "500 µL", "Cryovial", ("−196 °C", "−150 °C"), 2)
        _requirement(visit, "Leukapheresis product", "1.5 L", "Bag", ("35.6 °F", "46.4 °F"), 24)
        _requirement(visit, "Cryopreserved product", "20 mL", "Cassette", ("77 K", "123 K"), 72)
    return version


@pytest.mark.parametrize("design", [_cart_t_version, _cold_chain_version], ids=["car-t", "cold-chain"])
def test_the_export_is_valid_odm_1_3_2(odm_schema, design) -> None:
    _assert_valid(odm_schema, export_version(design(), created_at=CREATED_AT))


def test_an_export_for_download_is_valid_odm_1_3_2(odm_schema, db_session, car_t_protocol) -> None:
    with clock.frozen(CREATED_AT):
        _assert_valid(odm_schema, export_odm(db_session, car_t_protocol.versions[0]))


def test_every_unit_symbol_is_a_ucum_code() -> None:
    if not UCUM_ESSENCE.is_file():
        pytest.skip(f"the UCUM essence (its table of units) is not available at {UCUM_ESSENCE}")
    essence = ET.parse(UCUM_ESSENCE).getroot()
    prefixes = {prefix.get("Code") for prefix in essence.iter(f"{UCUM}prefix")}
    base_units = {unit.get("Code") for unit in essence.iter(f"{UCUM}base-unit")}
    units = {unit.get("Code") for unit in essence.iter(f"{UCUM}unit")} | base_units
    metric = {unit.get("Code") for unit in essence.iter(f"{UCUM}unit") if unit.get("isMetric") == "yes"} | base_units
    odm = ET.fromstring(export_version(_cold_chain_version(), created_at=CREATED_AT))

    symbols = {unit.findtext("odm:Symbol/odm:TranslatedText", namespaces=NS) for unit in _all(odm, "MeasurementUnit")}

    assert symbols == {"uL", "L", "mL", "Cel", "[degF]", "K", "h"}
    for symbol in symbols:
        assert symbol in units or (symbol[:1] in prefixes and symbol[1:] in metric), symbol


def test_a_control_character_stored_before_input_refused_it_is_shown_and_the_file_stays_valid(odm_schema) -> None:
    version = _version(_protocol())
    visit = _visit(version, "D7", "Day 7\x1b[31m", ReferenceEvent.INFUSION, 7)
    _requirement(visit, "Blood\x00", "6 mL", "Tube\x7f", ("15 °C", "25 °C"), 24)

    exported = export_version(version, created_at=CREATED_AT)

    _assert_valid(odm_schema, exported)
    odm = ET.fromstring(exported)
    assert _all(odm, "StudyEventDef")[0].get("Name") == "Day 7\u241b[31m"
    assert _all(odm, "ItemGroupDef")[0].get("Name") == "Blood\u2400"
