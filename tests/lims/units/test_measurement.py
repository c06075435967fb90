"""Measurements convert and compare exactly across scaled and offset units, and refuse other kinds."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement


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
