"""UCUM codes map both ways, and the UCUM functional conversion cases convert as UCUM says."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest

from lims.units.errors import NoUcumCode, UnsupportedUcum
from lims.units.parsing import parse_measurement, unit_text
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


def _ucum_cases(section: str, *extra: str, **attributes: str) -> list:
    """The cases of one section of the UCUM functional tests that have ``attributes`` (each with the ``extra``
    arguments), or one stated skip when the file is absent."""
    if not UCUM_TESTS.exists():
        return [
            pytest.param(
                None,
                *extra,
                marks=pytest.mark.skip(
                    reason=f"UCUM functional tests not found at {UCUM_TESTS} (../shared/reference-data is absent)"
                ),
            )
        ]
    root = ElementTree.parse(UCUM_TESTS).getroot()
    element = root.find(section)
    assert element is not None, f"the UCUM functional tests have no {section} section"
    return [
        pytest.param(case.attrib, *extra, id=f"{section}-{case.attrib['id']}")
        for case in element.iter("case")
        if all(case.attrib.get(name) == value for name, value in attributes.items())
    ]


def _read_or_skip(case: dict, value: str, code: str):
    try:
        return from_ucum(Decimal(value), code)
    except UnsupportedUcum as error:
        pytest.skip(f"UCUM case {case['id']} uses units the LIMS does not map: {error.message}")


@pytest.mark.parametrize(
    "case", [c for c in _ucum_cases("validation") if c.values[0] is None or c.values[0]["valid"] == "true"]
)
def test_ucum_functional_valid_code_is_read(case):
    measurement = _read_or_skip(case, "1", case["unit"])
    assert parse_measurement(str(measurement)) == measurement, "what a UCUM code reads as is a unit the LIMS shows"


@pytest.mark.parametrize(
    "case", [c for c in _ucum_cases("validation") if c.values[0] is None or c.values[0]["valid"] == "false"]
)
def test_ucum_functional_invalid_code_is_refused(case):
    with pytest.raises(UnsupportedUcum):
        from_ucum(Decimal(1), case["unit"])


@pytest.mark.parametrize("case", _ucum_cases("displayNameGeneration"))
def test_ucum_functional_display_name_case(case):
    pytest.skip(
        f"UCUM case {case['id']} ({case['unit']!r} displayed as {case['display']!r}) is not the LIMS's: it shows units "
        "as labs write them (mL, °C, cells/mL), not UCUM display names"
    )


@pytest.mark.parametrize(
    ("case", "operation"),
    _ucum_cases("multiplication", "multiplication") + _ucum_cases("division", "division"),
)
def test_ucum_functional_multiplication_and_division_case(case, operation):
    first = _read_or_skip(case, case["v1"], case["u1"]).quantity
    second = _read_or_skip(case, case["v2"], case["u2"]).quantity
    result = first * second if operation == "multiplication" else first / second
    expected = _read_or_skip(case, case["vRes"], case["uRes"])
    converted = Decimal(result.to(expected.quantity.units).magnitude)
    assert abs(converted - expected.value) <= _significant_tolerance(case["vRes"]), (case, converted)


def _significant_tolerance(outcome: str) -> Decimal:
    """Half a unit in the last digit the outcome states, but no finer than the LIMS's 20 significant digits."""
    expected = Decimal(outcome)
    exponent = expected.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(Decimal(5).scaleb(exponent - 1), abs(expected) * Decimal("1E-19"))


@pytest.mark.parametrize("case", _ucum_cases("conversion"))
def test_ucum_functional_conversion_case(case):
    source = _read_or_skip(case, case["value"], case["srcUnit"])
    one_target = _read_or_skip(case, "1", case["dstUnit"])
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


@pytest.mark.parametrize(
    ("value", "code", "as_the_lab_writes"),
    [
        ("2", "mg/(kg.h)", "2 mg/(kg*h)"),
        ("16", "mmol/(8.h)", "2 mmol/h"),
        ("5", "g{creat}", "5 g"),
        ("5", "10*3{RBC}/uL", "5000 /µL"),
        ("5", "10*3{cells}/uL", "5000 cells/µL"),
        ("20", "m[iU]/mL", "20 mIU/mL"),
        ("140", "meq/L", "140 mEq/L"),
    ],
)
def test_ucum_codes_labs_use_read_as_the_lab_writes_them(value, code, as_the_lab_writes):
    measurement = from_ucum(Decimal(value), code)
    assert measurement.compare(parse_measurement(as_the_lab_writes)) == 0
    assert measurement.unit == parse_measurement(as_the_lab_writes).unit


@pytest.mark.parametrize("code", ["m/", "/", ".m", "m//s", "{|}1", "mL(", "mL)", "µL", "m L"])
def test_malformed_ucum_is_refused_not_guessed(code):
    with pytest.raises(UnsupportedUcum):
        from_ucum(Decimal(1), code)


@pytest.mark.parametrize("typed", ["1 gal", "14.7 psi", "2 floz", "760 mmHg", "3 furlong"])
def test_a_unit_with_no_ucum_code_is_refused_where_it_is_typed_so_nothing_shown_lacks_one(typed):
    with pytest.raises(NoUcumCode, match="has no UCUM code"):
        parse_measurement(typed)
    with pytest.raises(NoUcumCode):
        unit_text(typed.split()[1])


def test_a_ucum_code_whose_lims_text_reads_back_as_another_unit_is_refused():
    # UCUM's pt is a picotonne; shown as "pt" it would read back as a pint.
    with pytest.raises(UnsupportedUcum, match="reads back as the same unit"):
        from_ucum(Decimal(1), "pt")
    assert from_ucum(Decimal(2), "a").compare(parse_measurement("730.5 d")) == 0
