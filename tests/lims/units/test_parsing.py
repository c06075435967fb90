"""Reading what technicians type: values with units, ranges, limits, bare numbers in an expected unit."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lims.units.errors import UnitError
from lims.units.parsing import (
    parse_in_unit,
    parse_limit,
    parse_measurement,
    parse_range,
    unit_text,
)


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
        ("5 A^0", "Unknown unit"),
        ("5 A0", "Unknown unit"),
    ],
)
def test_refuses_what_it_cannot_read_with_a_clear_message(typed, message):
    with pytest.raises(UnitError, match=message):
        parse_measurement(typed)


@pytest.mark.parametrize(
    ("typed", "low", "high", "unit"),
    [
        ("2–8 °C", "2", "8", "°C"),
        ("2-8 degC", "2", "8", "°C"),
        ("-25 - -15 °C", "-25", "-15", "°C"),
        ("1–5 ×10^8 cells", "1E+8", "5E+8", "cells"),
        ("2 to 8 °C", "2", "8", "°C"),
    ],
)
def test_parses_ranges(typed, low, high, unit):
    span = parse_range(typed)
    assert (span.low.value, span.high.value, span.low.unit) == (Decimal(low), Decimal(high), unit)
    assert parse_range(str(span)) == span


def test_a_backwards_range_is_refused():
    with pytest.raises(UnitError, match="runs backwards"):
        parse_range("8–2 °C")


@pytest.mark.parametrize(
    ("typed", "message"),
    [("", "Enter a limit"), ("about 5 mL", "is not a limit"), ("37 ± -1 °C", "is not a limit|cannot be negative")],
)
def test_unreadable_limits_are_refused(typed, message):
    with pytest.raises(UnitError, match=message):
        parse_limit(typed)


def test_limit_text_round_trips():
    for typed in ("2–8 °C", "≥ 70 %", "< 0.5 EU/mL", "1–5 ×10^8 cells"):
        assert str(parse_limit(str(parse_limit(typed)))) == str(parse_limit(typed))


@pytest.mark.parametrize(
    ("typed", "unit", "expected"),
    [
        ("37.2", "°C", "37.2 °C"),
        (" 180 ", "mL", "180 mL"),
        ("2.5 ×10^6", "cells/mL", "2.5 ×10^6 cells/mL"),
        ("0.2 L", "mL", "0.2 L"),
        ("98.6 degF", "°C", "98.6 °F"),
        ("7.4", "", "7.4"),
    ],
)
def test_a_bare_number_is_read_in_the_expected_unit_and_a_typed_unit_is_kept(typed, unit, expected):
    assert parse_in_unit(typed, unit) == parse_measurement(expected)


@pytest.mark.parametrize(
    ("typed", "value", "unit"),
    [
        ("3000 rpm", "3000", "rpm"),
        ("400 × g", "400", "× g"),
        ("400 ×g", "400", "× g"),
        ("400 x g", "400", "× g"),
        ("400 xg", "400", "× g"),
        ("400 RCF", "400", "× g"),
        ("400 g", "400", "g"),
        ("2.5 x 10^6 cells/mL", "2500000", "cells/mL"),
    ],
)
def test_rotational_speed_and_centrifugal_force_are_read_as_the_lab_types_them(typed, value, unit):
    measurement = parse_measurement(typed)
    assert (measurement.value, measurement.unit) == (Decimal(value), unit)
    assert parse_measurement(str(measurement)) == measurement


@pytest.mark.parametrize(
    ("typed", "as_the_lab_writes"),
    [
        ("5 10*3{cells}/uL", "5 ×10^3 cells/µL"),
        ("3 {copies}/ug", "3 copies/µg"),
        ("1.2 10*6/uL", "1.2 ×10^6 /µL"),
        ("4 10*3{RBC}/uL", "4000 /µL"),
        ("2 mg{creat}/kg", "2 mg/kg"),
        ("5 [iU]/mL", "5 IU/mL"),
        ("2 mg.kg-1", "2 mg/kg"),
        ("140 meq/L", "140 mEq/L"),
        ("140 mEq/L", "140 mEq/L"),
        ("35 U/L", "35 U/L"),
        ("25 Gy", "25 Gy"),
        ("5 cm3", "5 cm^3"),
    ],
)
def test_ucum_input_is_read_where_labs_use_it(typed, as_the_lab_writes):
    measurement = parse_measurement(typed)
    expected = parse_measurement(as_the_lab_writes)
    assert measurement.compare(expected) == 0 and measurement.unit == expected.unit
    assert parse_measurement(str(measurement)) == measurement


def test_cc_is_kept_as_typed_and_is_a_cubic_centimetre():
    assert parse_measurement("5 cc").unit == "cc"
    assert parse_measurement("5 cc").compare(parse_measurement("5 mL")) == 0


def test_a_power_of_ten_in_a_unit_alone_is_refused_with_where_it_belongs():
    with pytest.raises(UnitError, match="put it with the value"):
        unit_text("10*3/uL")
