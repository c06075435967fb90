"""Measurements convert and compare exactly across scaled and offset units, and refuse other kinds."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement


def test_comparing_different_kinds_of_quantity_is_refused_by_name():
    with pytest.raises(IncompatibleUnits, match="Cannot compare 5 mL with 5 g: volume cannot be compared with mass"):
        parse_measurement("5 mL").compare(parse_measurement("5 g"))
    with pytest.raises(IncompatibleUnits, match="a cell count"):
        parse_measurement("5e6 cells").compare(parse_measurement("5e6 CFU"))


@pytest.mark.parametrize(
    ("first", "second", "reason"),
    [
        ("5 g", "0.5 EU/mL", "mass cannot be compared with an endotoxin concentration (endotoxin units per volume)"),
        ("2 copies/µg", "5 cells/mL", "a quantity of copies per mass cannot be compared with a cell concentration"),
        ("5 mEq/L", "5 mmol/L", "an equivalent concentration (mEq per volume) cannot be compared with a molar"),
        ("1 vg/cell", "5 mL", "a quantity of vector genomes per cells cannot be compared with volume"),
    ],
)
def test_refusals_name_the_kinds_in_the_labs_words_never_pints_dimensions(first, second, reason):
    with pytest.raises(IncompatibleUnits, match=re.escape(reason)) as refused:
        parse_measurement(first).compare(parse_measurement(second))
    assert "[" not in refused.value.message and "**" not in refused.value.message
    with pytest.raises(IncompatibleUnits) as refused:
        parse_measurement(first).to(parse_measurement(second).unit)
    assert "[" not in refused.value.message and "**" not in refused.value.message


def test_a_refusal_never_shows_a_blank_unit():
    with pytest.raises(IncompatibleUnits) as refused:
        parse_measurement("5 mL").to("")
    assert refused.value.message == (
        "Cannot convert 5 mL to a plain number: volume cannot be compared with a plain number or percentage."
    )


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


def test_rpm_and_hz_are_revolutions_per_unit_time_without_two_pi():
    assert parse_measurement("3000 rpm").to("Hz") == Measurement(Decimal(50), "Hz")
    assert parse_measurement("50 Hz").compare(parse_measurement("3000 rpm")) == 0
    assert parse_measurement("1 rps").compare(parse_measurement("60 rpm")) == 0


def test_relative_centrifugal_force_compares_in_any_spelling_and_never_with_a_mass():
    assert parse_measurement("400 × g").compare(parse_measurement("400 RCF")) == 0
    assert parse_measurement("500 xg").compare(parse_measurement("400 x g")) == 1
    with pytest.raises(IncompatibleUnits, match="Cannot compare 400 × g with 400 g: a centrifugal force"):
        parse_measurement("400 × g").compare(parse_measurement("400 g"))


def test_rpm_to_centrifugal_force_is_refused_by_name_for_want_of_the_rotor_radius():
    with pytest.raises(IncompatibleUnits, match=r"Cannot convert 3000 rpm to × g: .* only with the rotor radius"):
        parse_measurement("3000 rpm").to("xg")
    with pytest.raises(IncompatibleUnits, match="rotor radius"):
        parse_measurement("400 × g").compare(parse_measurement("1500 rpm"))


def test_milliequivalents_are_their_own_kind():
    assert parse_measurement("140 mEq/L").compare(parse_measurement("0.14 eq/L")) == 0
    with pytest.raises(IncompatibleUnits, match="equivalent concentration"):
        parse_measurement("140 mEq/L").to("mmol/L")
