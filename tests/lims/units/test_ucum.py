"""UCUM codes map both ways, and the UCUM functional conversion cases convert as UCUM says."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest

from lims.units.errors import UnsupportedUcum
from lims.units.parsing import parse_measurement
from lims.units.ucum import from_ucum, to_ucum

UCUM_TESTS = Path(__file__).resolve().parents[4] / "shared" / "reference-data" / "ucum" / "UcumFunctionalTests.xml"


def test_ucum_codes_map_both_ways():
    assert from_ucum(Decimal("2.5"), "10*6/mL").compare(parse_measurement("2.5e6 /mL")) == 0
    assert from_ucum(Decimal("37"), "Cel") == parse_measurement("37 °C")
    assert from_ucum(Decimal("98.6"), "[degF]").compare(parse_measurement("37 °C")) == 0
    assert from_ucum(Decimal("5"), "%") == parse_measurement("5 %")
    assert from_ucum(Decimal("3"), "[iU]") == parse_measurement("3 IU")
    assert from_ucum(Decimal("2"), "{cells}/uL") == parse_measurement("2 cells/µL")
    assert to_ucum(parse_measurement("2.5e6 cells/mL")) == (Decimal("2.5E+6"), "{cells}/mL")
    assert to_ucum(parse_measurement("37 °C")) == (Decimal("37"), "Cel")
    assert to_ucum(parse_measurement("98.6 °F")) == (Decimal("98.6"), "[degF]")
    assert to_ucum(parse_measurement("0.5 EU/mL")) == (Decimal("0.5"), "{EU}/mL")
    assert to_ucum(parse_measurement("3 IU")) == (Decimal("3"), "[iU]")
    for typed in ("2.5e6 cells/mL", "37 °C", "5 %", "12 CFU/mL", "1e13 vg/kg", "9.81 m/s^2"):
        measurement = parse_measurement(typed)
        assert from_ucum(*to_ucum(measurement)) == measurement


def test_unmapped_ucum_is_refused_clearly():
    with pytest.raises(UnsupportedUcum, match="no equivalent"):
        from_ucum(Decimal(1), "[smoot]")


def _ucum_conversion_cases() -> list:
    if not UCUM_TESTS.exists():
        return [
            pytest.param(
                None,
                marks=pytest.mark.skip(
                    reason=f"UCUM functional tests not found at {UCUM_TESTS} (../shared/reference-data is absent)"
                ),
            )
        ]
    root = ElementTree.parse(UCUM_TESTS).getroot()
    return [
        pytest.param(case.attrib, id=case.attrib["id"])
        for case in root.iter("case")
        if {"value", "srcUnit", "dstUnit", "outcome"} <= case.attrib.keys()
    ]


def _significant_tolerance(outcome: str) -> Decimal:
    """Half a unit in the last digit the outcome states, but no finer than the LIMS's 20 significant digits."""
    expected = Decimal(outcome)
    exponent = expected.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(Decimal(5).scaleb(exponent - 1), abs(expected) * Decimal("1E-19"))


@pytest.mark.parametrize("case", _ucum_conversion_cases())
def test_ucum_functional_conversion_case(case):
    try:
        source = from_ucum(Decimal(case["value"]), case["srcUnit"])
        one_target = from_ucum(Decimal(1), case["dstUnit"])
    except UnsupportedUcum as error:
        pytest.skip(f"UCUM case {case['id']} uses units the LIMS does not map: {error.message}")
    converted = source.to(one_target.unit).value / one_target.value
    expected = Decimal(case["outcome"])
    assert abs(converted - expected) <= _significant_tolerance(case["outcome"]), (case, converted)


UCUM_ESSENCE = UCUM_TESTS.with_name("ucum-essence.xml")
#: Every unit the LIMS shows or exports in its forms, demo data and reports, each spelled as labs type it.
LAB_UNITS = (
    "mL", "µL", "L", "cc", "cm^3", "g", "mg", "µg", "kg", "cells", "cells/mL", "cells/µL", "cells/kg", "%", "°C",
    "°F", "K", "EU/mL", "IU", "IU/mL", "CFU", "CFU/mL", "copies/µg", "copies/cell", "vg/mL", "vg/kg", "h", "min",
    "s", "d", "rpm", "Hz", "× g", "mEq/L", "mmol/L", "U/L", "Gy", "ng/mL", "mg/kg", "m/s^2", "µm", "bar", "Pa",
)  # fmt: skip


def _ucum_atoms_and_prefixes() -> tuple[set[str], set[str]]:
    root = ElementTree.parse(UCUM_ESSENCE).getroot()
    namespace = "{http://unitsofmeasure.org/ucum-essence}"
    atoms = {unit.attrib["Code"] for tag in ("base-unit", "unit") for unit in root.iter(namespace + tag)}
    return atoms, {prefix.attrib["Code"] for prefix in root.iter(namespace + "prefix")}


def _is_valid_ucum(code: str, atoms: set[str], prefixes: set[str]) -> bool:
    for term in re.split(r"[./]", code):
        symbol = re.sub(r"\{[^}]*\}", "", re.sub(r"[+-]?\d+$", "", term))
        if not symbol or symbol in atoms:
            continue
        if not any(symbol.startswith(prefix) and symbol[len(prefix) :] in atoms for prefix in prefixes):
            return False
    return bool(code)


@pytest.mark.skipif(not UCUM_ESSENCE.exists(), reason=f"UCUM essence not found at {UCUM_ESSENCE}")
@pytest.mark.parametrize("unit", LAB_UNITS)
def test_every_lab_unit_has_a_valid_ucum_code_that_reads_back_to_the_same_quantity(unit):
    measurement = parse_measurement(f"2.5 {unit}")
    value, code = to_ucum(measurement)
    assert _is_valid_ucum(code, *_ucum_atoms_and_prefixes()), code
    assert from_ucum(value, code).compare(measurement) == 0


@pytest.mark.parametrize(("typed", "code"), [("5 cc", "cm3"), ("3000 rpm", "{rev}/min"), ("400 × g", "[g]"),
    ("140 mEq/L", "meq/L"), ("35 U/L", "U/L"), ("2 Gy", "Gy")])  # fmt: skip
def test_lab_spellings_export_as_ucum_never_as_the_labs_text(typed, code):
    assert to_ucum(parse_measurement(typed))[1] == code
