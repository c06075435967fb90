"""Limits decide conformance after converting the measured value to their units."""

from __future__ import annotations

import pytest

from lims.units.errors import IncompatibleUnits
from lims.units.parsing import parse_limit, parse_measurement


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
