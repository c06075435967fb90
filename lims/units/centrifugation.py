"""A centrifuge's speed (rpm) and the relative centrifugal force it makes (× g), converted through its rotor radius:
RCF = 1.118 × 10^-5 × r (cm) × rpm²."""

from __future__ import annotations

from decimal import Decimal

from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement
from lims.units.registry import parse_unit, settle

#: relative centrifugal force per centimetre of rotor radius and squared revolution per minute
RCF_PER_CM_RPM2 = Decimal("1.118e-5")
_SPEED = "1 / [time]"
_FORCE = "[length] / [time] ** 2"


def is_speed_to_force(measurement: Measurement, unit: str) -> bool:
    """True when converting between a rotational speed and a centrifugal force, which needs a rotor radius."""
    dimensions = {str(measurement.quantity.dimensionality), str(parse_unit(unit).dimensionality)}
    return dimensions == {_SPEED, _FORCE}


def convert_with_rotor_radius(measurement: Measurement, unit: str, rotor_radius: Measurement) -> Measurement:
    """``measurement`` in ``unit``: rpm to × g or × g to rpm through the rotor radius, anything else as usual."""
    if not is_speed_to_force(measurement, unit):
        return measurement.to(unit)
    radius_cm = rotor_radius.to("cm").value
    if radius_cm <= 0:
        raise IncompatibleUnits(f"A rotor radius of {rotor_radius} converts no speed to a centrifugal force.")
    if str(measurement.quantity.dimensionality) == _SPEED:
        rpm = measurement.to("rpm").value
        return Measurement(settle(RCF_PER_CM_RPM2 * radius_cm * rpm * rpm), "× g").to(unit)
    force = measurement.to("xg").value
    if force < 0:
        raise IncompatibleUnits(f"A negative centrifugal force ({measurement}) has no speed.")
    return Measurement(settle((force / (RCF_PER_CM_RPM2 * radius_cm)).sqrt()), "rpm").to(unit)
