"""Units: what technicians type, offset temperatures, ranges, limits, exact storage, UCUM."""
from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from decimal import Decimal
from pathlib import Path

import pytest
from marshmallow import Schema, ValidationError
from sqlalchemy import MetaData, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, composite, mapped_column

from lims import units
from lims.units import IncompatibleUnits, Measurement, UnitError, parse_limit, parse_in_unit, parse_measurement, parse_range

UCUM_TESTS = Path(__file__).resolve().parents[3] / "shared" / "reference-data" / "ucum" / "UcumFunctionalTests.xml"


@pytest.mark.parametrize(
    ("typed", "value", "unit"),
    [
        ("2.5e6 cells/mL", "2500000", "cells/mL"),
        ("2.5 x 10^6 cells/mL", "2500000", "cells/mL"),
        ("2.5×10⁶ cells/mL", "2500000", "cells/mL"),
        ("2.5 * 10**6 cells / ml", "2500000", "cells/mL"),
        ("250 ×10^6 cells", "250000000", "cells"),
        ("37 °C", "37", "°C"),
        ("-80 degC", "-80", "°C"),
        ("−80 °C", "-80", "°C"),
        ("5 %", "5", "%"),
        ("95%", "95", "%"),
        ("0.5 EU/mL", "0.5", "EU/mL"),
        ("1.2e3 copies/ug", "1200", "copies/µg"),
        ("2.4 copies/cell", "2.4", "copies/cell"),
        ("2.4 copies / cells", "2.4", "copies/cell"),
        ("3 μL", "3", "µL"),
        ("10 µL", "10", "µL"),
        ("500 IU", "500", "IU"),
        ("1.0e13 vg/kg", "1E+13", "vg/kg"),
        ("12 CFU", "12", "CFU"),
        ("7.4", "7.4", ""),
        ("2.5e6/mL", "2500000", "1/mL"),
    ],
)
def test_parses_what_technicians_type(typed, value, unit):
    measurement = parse_measurement(typed)
    assert measurement.value == Decimal(value) and measurement.unit == unit
    assert parse_measurement(str(measurement)) == measurement, "the display form parses back to the same value"


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "Enter a value with its unit"),
        ("5 smoots", "Unknown unit 'smoots'"),
        ("5 foo", "Unknown unit 'foo'"),
        ("cells", "Start with a number"),
        ("2,5 mL", "Use a dot as the decimal separator"),
        ("2-8 °C", "is a range; enter one value"),
    ],
)
def test_refuses_what_it_cannot_read_with_a_clear_message(typed, message):
    with pytest.raises(UnitError, match=message):
        parse_measurement(typed)


def test_comparing_different_kinds_of_quantity_is_refused_by_name():
    with pytest.raises(IncompatibleUnits, match="Cannot compare 5 mL with 5 g: volume is not mass"):
        parse_measurement("5 mL").compare(parse_measurement("5 g"))
    with pytest.raises(IncompatibleUnits, match="a cell count"):
        parse_measurement("5e6 cells").compare(parse_measurement("5e6 CFU"))


@pytest.mark.parametrize(
    ("first", "second", "order"),
    [
        ("37 °C", "98.6 °F", 0),
        ("-40 °C", "-40 °F", 0),
        ("0 °C", "273.15 K", 0),
        ("-80 °C", "-112 degF", 0),
        ("2 °C", "35 °F", 1),
        ("1 L", "999 mL", 1),
        ("250 ×10^6 cells", "2.5e8 cells", 0),
        ("0.7", "70 %", 0),
        ("1 µL", "0.001 mL", 0),
    ],
)
def test_offset_and_scaled_units_compare_exactly(first, second, order):
    assert parse_measurement(first).compare(parse_measurement(second)) == order


def test_offset_temperature_converts_without_floating_point_noise():
    assert parse_measurement("37 °C").to("degF") == Measurement(Decimal("98.6"), "°F")
    assert parse_measurement("-80 degC").to("K").value == Decimal("193.15")


@pytest.mark.parametrize(
    ("typed", "low", "high", "unit"),
    [("2–8 °C", "2", "8", "°C"), ("2-8 degC", "2", "8", "°C"), ("-25 - -15 °C", "-25", "-15", "°C"),
     ("1–5 ×10^8 cells", "1E+8", "5E+8", "cells"), ("2 to 8 °C", "2", "8", "°C")],
)
def test_parses_ranges(typed, low, high, unit):
    span = parse_range(typed)
    assert (span.low.value, span.high.value, span.low.unit) == (Decimal(low), Decimal(high), unit)
    assert parse_range(str(span)) == span


def test_a_backwards_range_is_refused():
    with pytest.raises(UnitError, match="runs backwards"):
        parse_range("8–2 °C")


@pytest.mark.parametrize(
    ("limit", "measured", "conforms"),
    [
        ("1–5 ×10^8 cells", "250 ×10^6 cells", True),
        ("1–5 ×10^8 cells", "5.1e8 cells", False),
        ("1–5 ×10^8 cells", "1e8 cells", True),
        ("≥ 70 %", "0.7", True),
        ("> 70 %", "70 %", False),
        ("< 0.5 EU/mL", "0.5 EU/mL", False),
        ("<= 0.5 EU/mL", "500 EU/L", True),
        ("2–8 °C", "46.4 °F", True),
        ("2–8 °C", "47 °F", False),
        ("37 ± 0.5 °C", "99.5 °F", True),
        ("37 ± 0.5 °C", "99.6 °F", False),
        ("100 ± 1 µL", "0.0995 mL", True),
    ],
)
def test_limits_decide_conformance_after_conversion(limit, measured, conforms):
    assert parse_limit(limit).conforms(parse_measurement(measured)) is conforms


def test_a_limit_in_one_kind_refuses_a_measurement_of_another():
    with pytest.raises(IncompatibleUnits):
        parse_limit("2–8 °C").conforms(parse_measurement("5 mL"))


@pytest.mark.parametrize(("typed", "message"), [("", "Enter a limit"), ("about 5 mL", "is not a limit"),
                                                ("37 ± -1 °C", "is not a limit|cannot be negative")])
def test_unreadable_limits_are_refused(typed, message):
    with pytest.raises(UnitError, match=message):
        parse_limit(typed)


def test_limit_text_round_trips():
    for typed in ("2–8 °C", "≥ 70 %", "< 0.5 EU/mL", "1–5 ×10^8 cells"):
        assert str(parse_limit(str(parse_limit(typed)))) == str(parse_limit(typed))


class _Schema(Schema):
    volume = units.MeasurementField(required=True)
    storage = units.LimitField(required=True)


def test_marshmallow_fields_load_and_dump_the_same_text():
    loaded = _Schema().load({"volume": "2.5×10⁶ cells/mL", "storage": "2-8 degC"})
    assert loaded["volume"] == Measurement(Decimal("2.5E+6"), "cells/mL")
    dumped = _Schema().dump(loaded)
    assert dumped == {"volume": "2.5 ×10^6 cells/mL", "storage": "2–8 °C"}
    assert _Schema().load(dumped) == loaded


def test_marshmallow_fields_report_errors_per_field():
    with pytest.raises(ValidationError) as caught:
        _Schema().load({"volume": "5 foo", "storage": 7})
    assert "Unknown unit 'foo'" in caught.value.messages["volume"][0]
    assert "as text" in caught.value.messages["storage"][0]


class _TestBase(DeclarativeBase):
    metadata = MetaData()


class _Reading(_TestBase):
    __tablename__ = "test_reading"

    id: Mapped[int] = mapped_column(primary_key=True)
    amount: Mapped[Measurement] = composite(
        mapped_column("amount_value", units.ExactDecimal()), mapped_column("amount_unit", String(32))
    )


@pytest.mark.parametrize("typed", ["0.1 mL", "2.50 mL", "123456789012345678.123456789 cells",
                                   "2.5e6 cells/mL", "-0.000001 °C", "1e-9 g"])
def test_decimals_round_trip_through_the_database_exactly(connection, db_session, typed):
    _TestBase.metadata.create_all(connection)
    measurement = parse_measurement(typed)
    db_session.add(_Reading(amount=measurement))
    db_session.flush()
    db_session.expire_all()
    stored = db_session.scalars(select(_Reading)).one().amount
    assert stored == measurement
    assert stored.value.normalize().as_tuple() == measurement.value.normalize().as_tuple(), "every digit kept"


# UCUM


def test_ucum_codes_map_both_ways():
    assert units.from_ucum(Decimal("2.5"), "10*6/mL").compare(parse_measurement("2.5e6 /mL")) == 0
    assert units.from_ucum(Decimal("37"), "Cel") == parse_measurement("37 °C")
    assert units.from_ucum(Decimal("98.6"), "[degF]").compare(parse_measurement("37 °C")) == 0
    assert units.from_ucum(Decimal("5"), "%") == parse_measurement("5 %")
    assert units.from_ucum(Decimal("3"), "[iU]") == parse_measurement("3 IU")
    assert units.from_ucum(Decimal("2"), "{cells}/uL") == parse_measurement("2 cells/µL")
    assert units.to_ucum(parse_measurement("2.5e6 cells/mL")) == (Decimal("2.5E+6"), "{cells}/mL")
    assert units.to_ucum(parse_measurement("37 °C")) == (Decimal("37"), "Cel")
    assert units.to_ucum(parse_measurement("98.6 °F")) == (Decimal("98.6"), "[degF]")
    assert units.to_ucum(parse_measurement("0.5 EU/mL")) == (Decimal("0.5"), "{EU}/mL")
    assert units.to_ucum(parse_measurement("3 IU")) == (Decimal("3"), "[iU]")
    for typed in ("2.5e6 cells/mL", "37 °C", "5 %", "12 CFU/mL", "1e13 vg/kg", "9.81 m/s^2"):
        measurement = parse_measurement(typed)
        assert units.from_ucum(*units.to_ucum(measurement)) == measurement


def test_unmapped_ucum_is_refused_clearly():
    with pytest.raises(units.UnsupportedUcum, match="no equivalent"):
        units.from_ucum(Decimal(1), "[smoot]")


def _ucum_conversion_cases() -> list:
    if not UCUM_TESTS.exists():
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"UCUM functional tests not found at {UCUM_TESTS} (../shared/reference-data is absent)"))]
    root = ElementTree.parse(UCUM_TESTS).getroot()
    return [pytest.param(case.attrib, id=case.attrib["id"]) for case in root.iter("case")
            if {"value", "srcUnit", "dstUnit", "outcome"} <= case.attrib.keys()]


def _significant_tolerance(outcome: str) -> Decimal:
    """Half a unit in the last digit the outcome states, but no finer than the LIMS's 20 significant digits."""
    expected = Decimal(outcome)
    exponent = expected.as_tuple().exponent
    assert isinstance(exponent, int)
    return max(Decimal(5).scaleb(exponent - 1), abs(expected) * Decimal("1E-19"))


@pytest.mark.parametrize("case", _ucum_conversion_cases())
def test_ucum_functional_conversion_case(case):
    try:
        source = units.from_ucum(Decimal(case["value"]), case["srcUnit"])
        one_target = units.from_ucum(Decimal(1), case["dstUnit"])
    except units.UnsupportedUcum as error:
        pytest.skip(f"UCUM case {case['id']} uses units the LIMS does not map: {error.message}")
    converted = source.to(one_target.unit).value / one_target.value
    expected = Decimal(case["outcome"])
    assert abs(converted - expected) <= _significant_tolerance(case["outcome"]), (case, converted)


@pytest.mark.parametrize(("typed", "unit", "expected"), [
    ("37.2", "°C", "37.2 °C"), (" 180 ", "mL", "180 mL"), ("2.5 ×10^6", "cells/mL", "2.5 ×10^6 cells/mL"),
    ("0.2 L", "mL", "0.2 L"), ("98.6 degF", "°C", "98.6 °F"), ("7.4", "", "7.4"),
])
def test_a_bare_number_is_read_in_the_expected_unit_and_a_typed_unit_is_kept(typed, unit, expected):
    assert parse_in_unit(typed, unit) == parse_measurement(expected)
