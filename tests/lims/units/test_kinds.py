"""Physically possible values: a non-negative quantity is never below zero, a fraction of a whole lies in 0–100 %."""

from __future__ import annotations

import pytest

from lims.units.errors import PhysicallyImpossible
from lims.units.kinds import ValueKind, default_kind, require_kind_fits_unit, require_possible
from lims.units.parsing import parse_measurement


@pytest.mark.parametrize("text", ["0 mL", "0.001 mL", "5e9 cells", "0 cells/mL", "48 h", "0 g", "-3 °C", "0 K"])
def test_a_non_negative_quantity_takes_zero_and_more(text):
    require_possible(parse_measurement(text), ValueKind.NON_NEGATIVE)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("-3 mL", "-3 mL is not possible: volume cannot be negative."),
        ("-0.001 mL", "volume cannot be negative"),
        ("-1 cells/mL", "a cell concentration cannot be negative"),
        ("-1 h", "time cannot be negative"),
        ("-274 °C", "-274 °C is not possible: it is below absolute zero."),
    ],
)
def test_a_non_negative_quantity_below_zero_is_refused(text, message):
    with pytest.raises(PhysicallyImpossible, match=message):
        require_possible(parse_measurement(text), ValueKind.NON_NEGATIVE)


@pytest.mark.parametrize("text", ["0 %", "100 %", "99.99 %", "0.5", "1", "0"])
def test_a_fraction_of_a_whole_takes_0_to_100_percent(text):
    require_possible(parse_measurement(text), ValueKind.FRACTION)


@pytest.mark.parametrize("text", ["150 %", "100.01 %", "-0.01 %", "1.01", "5 mL"])
def test_a_fraction_of_a_whole_outside_0_to_100_percent_is_refused(text):
    with pytest.raises(PhysicallyImpossible):
        require_possible(parse_measurement(text), ValueKind.FRACTION)


@pytest.mark.parametrize("text", ["-80 °C", "-3 mL", "150 %"])
def test_a_signed_quantity_takes_any_value(text):
    require_possible(parse_measurement(text), ValueKind.SIGNED)


def test_a_yield_stated_as_a_non_negative_percentage_may_exceed_100():
    require_possible(parse_measurement("135 %"), ValueKind.NON_NEGATIVE)


def test_a_fraction_of_a_whole_is_a_percentage_or_a_plain_number():
    require_kind_fits_unit(ValueKind.FRACTION, "%")
    require_kind_fits_unit(ValueKind.FRACTION, "")
    require_kind_fits_unit(ValueKind.NON_NEGATIVE, "mL")
    with pytest.raises(PhysicallyImpossible, match="not volume") as refused:
        require_kind_fits_unit(ValueKind.FRACTION, "mL")
    assert refused.value.field == "value_kind"


@pytest.mark.parametrize(
    ("unit", "kind"),
    [
        ("mL", ValueKind.NON_NEGATIVE),
        ("cells/mL", ValueKind.NON_NEGATIVE),
        ("min", ValueKind.NON_NEGATIVE),
        ("°C", ValueKind.SIGNED),
        ("%", ValueKind.SIGNED),
        ("", ValueKind.SIGNED),
    ],
)
def test_the_unit_suggests_a_kind_but_never_a_fraction(unit, kind):
    assert default_kind(unit) == kind
