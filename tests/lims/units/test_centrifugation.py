"""rpm and × g convert through a centrifuge's rotor radius: RCF = 1.118e-5 × r (cm) × rpm²."""

from __future__ import annotations

from decimal import Decimal

import pytest

from lims.units.centrifugation import convert_with_rotor_radius, is_speed_to_force
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement


def test_rpm_becomes_relative_centrifugal_force_through_the_rotor_radius():
    force = convert_with_rotor_radius(parse_measurement("3000 rpm"), "× g", parse_measurement("10 cm"))
    assert force == Measurement(Decimal("1006.2"), "× g")
    # The radius in any length, the speed in any rotational unit: 100 mm, 50 Hz.
    assert convert_with_rotor_radius(parse_measurement("50 Hz"), "xg", parse_measurement("100 mm")) == force


def test_relative_centrifugal_force_becomes_rpm_and_back():
    speed = convert_with_rotor_radius(parse_measurement("400 × g"), "rpm", parse_measurement("16.4 cm"))
    assert abs(speed.value - Decimal("1477.02")) < Decimal("0.01") and speed.unit == "rpm"
    back = convert_with_rotor_radius(speed, "× g", parse_measurement("16.4 cm"))
    assert abs(back.value - 400) < Decimal("1e-12")


def test_other_conversions_ignore_the_radius_and_a_mass_is_still_no_force():
    assert convert_with_rotor_radius(parse_measurement("3000 rpm"), "Hz", parse_measurement("10 cm")).value == 50
    assert not is_speed_to_force(parse_measurement("400 g"), "× g")
    with pytest.raises(IncompatibleUnits, match="mass cannot be compared"):
        convert_with_rotor_radius(parse_measurement("400 g"), "× g", parse_measurement("10 cm"))


def test_without_a_radius_the_conversion_is_still_refused_by_name():
    with pytest.raises(IncompatibleUnits, match="only with the rotor radius"):
        parse_measurement("3000 rpm").to("× g")
