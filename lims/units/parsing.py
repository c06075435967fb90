"""Reading what technicians type: a value with its unit, a range, a limit."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from lims.units.errors import UnitError
from lims.units.limits import Limit, limit_with_tolerance
from lims.units.measurement import Measurement, MeasurementRange
from lims.units.registry import format_unit, normalise_typing, parse_unit, refuse_long_text
from lims.units.ucum import require_ucum_code

_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SINGLE = re.compile(rf"^\s*(?P<number>{_NUMBER})(?P<rest>.*)$")
_RANGE = re.compile(rf"^\s*(?P<low>{_NUMBER})\s*(?:-|–|—|to|\.\.)\s*(?P<high>{_NUMBER})(?P<rest>.*)$")
_TOLERANCE = re.compile(rf"^\s*(?P<target>{_NUMBER})\s*(?:±|\+/-|\+-)\s*(?P<tolerance>{_NUMBER})(?P<rest>.*)$")
_BOUND = re.compile(r"^\s*(?P<operator>≥|>=|≤|<=|>|<)\s*(?P<rest>.*)$")
# "×10^6", "x 10**6" as labs type it; "10*6" as UCUM writes it.
_POWER_OF_TEN = re.compile(r"^\s*(?:[x×*·]\s*)?10\s*(?:\^|\*\*|\*)\s*(?P<exponent>[+-]?\d+)(?P<unit>.*)$")


#: The longest unit text a measurement's unit column holds.
MAX_UNIT_TEXT = 32
#: The powers of ten a value may span; beyond them it is a slip, and the database could not hold every one.
_POWERS_OF_TEN = range(-30, 31)


def _decimal(text: str, exponent: int = 0) -> Decimal:
    """The number ``text`` times ten to the ``exponent``, refused beyond the powers of ten a lab value spans."""
    try:
        number = Decimal(text)
    except InvalidOperation as error:  # the patterns only let numbers through
        raise UnitError(f"{text!r} is not a number.") from error
    if number.is_zero():
        return Decimal(0)
    if number.adjusted() + exponent not in _POWERS_OF_TEN:
        raise UnitError(
            f"{text!r} ×10^{exponent} is beyond the values the LIMS records "
            f"(10^{_POWERS_OF_TEN[0]} to 10^{_POWERS_OF_TEN[-1]}): check the power of ten."
        )
    return number.scaleb(exponent)


def _unit(text: str) -> str:
    """The LIMS's text for the unit typed, refused if longer than a unit column holds or without a UCUM code."""
    parsed = parse_unit(text)
    unit = format_unit(parsed)
    if len(unit) > MAX_UNIT_TEXT:
        raise UnitError(f"The unit {unit!r} is longer than the {MAX_UNIT_TEXT} characters a unit is kept in.")
    require_ucum_code(parsed)
    return unit


def unit_text(text: str) -> str:
    """Normalise a unit as typed (``cells / ml``) to the LIMS's text (``cells/mL``)."""
    return _unit(normalise_typing(text))


def _scale_and_unit(rest: str) -> tuple[int, str]:
    power = _POWER_OF_TEN.match(rest)
    if power:
        return int(power.group("exponent")), power.group("unit")
    return 0, rest


def _refuse_commas(text: str) -> None:
    if re.search(r"\d,\d", text):
        raise UnitError(f"Use a dot as the decimal separator and no thousands separator: {text!r}.")


def parse_measurement(text: str) -> Measurement:
    """Read ``2.5e6 cells/mL``, ``2.5 x 10^6 cells/mL``, ``2.5×10⁶ cells/mL``, ``-80 degC``, ``95%``."""
    refuse_long_text(text or "")
    return _measurement(text)


def _measurement(text: str) -> Measurement:
    if not text or not text.strip():
        raise UnitError("Enter a value with its unit, e.g. 2.5e6 cells/mL.")
    _refuse_commas(text)
    normalised = normalise_typing(text)
    if _RANGE.match(normalised):
        raise UnitError(f"{text.strip()!r} is a range; enter one value.")
    match = _SINGLE.match(normalised)
    if match is None:
        raise UnitError(f"Start with a number, then the unit: {text.strip()!r} has no number first.")
    exponent, unit = _scale_and_unit(match.group("rest"))
    return Measurement(_decimal(match.group("number"), exponent), _unit(unit))


def parse_in_unit(text: str, unit: str) -> Measurement:
    """Read a value typed against an expected unit: a bare number (``37.2``) is in ``unit``; a value with a
    unit of its own (``0.2 L``) is read as typed, for the caller to convert or refuse."""
    refuse_long_text(text)
    text = text.strip()
    return _measurement(f"{text} {unit}" if unit and text and text[-1].isdigit() else text)


def parse_range(text: str) -> MeasurementRange:
    """Read a range typed as ``2–8 °C``, ``2-8 degC`` or ``1–5 ×10^8 cells``."""
    refuse_long_text(text or "", "A range with its unit")
    _refuse_commas(text or "")
    match = _RANGE.match(normalise_typing(text or ""))
    if match is None:
        raise UnitError(f"Enter a range as low–high and unit, e.g. 2–8 °C: {text!r} is not one.")
    exponent, unit_typed = _scale_and_unit(match.group("rest"))
    unit = _unit(unit_typed)
    low = Measurement(_decimal(match.group("low"), exponent), unit)
    high = Measurement(_decimal(match.group("high"), exponent), unit)
    if low.value > high.value:
        raise UnitError(f"The range {text.strip()!r} runs backwards: its low end is above its high end.")
    return MeasurementRange(low, high)


def parse_limit(text: str) -> Limit:
    """Read ``1–5 ×10^8 cells``, ``≥ 70 %``, ``< 0.5 EU/mL`` or ``37 ± 0.5 °C``."""
    refuse_long_text(text or "", "A limit")
    if not text or not text.strip():
        raise UnitError("Enter a limit, e.g. 2–8 °C, ≥ 70 %, < 0.5 EU/mL or 37 ± 0.5 °C.")
    normalised = normalise_typing(text)
    tolerance = _TOLERANCE.match(normalised)
    if tolerance:
        exponent, unit = _scale_and_unit(tolerance.group("rest"))
        target = Measurement(_decimal(tolerance.group("target"), exponent), _unit(unit))
        return limit_with_tolerance(target, _decimal(tolerance.group("tolerance"), exponent))
    bound = _BOUND.match(normalised)
    if bound:
        measurement = parse_measurement(bound.group("rest"))
        operator = bound.group("operator")
        if operator in {"≥", ">=", ">"}:
            return Limit(minimum=measurement, minimum_inclusive=operator != ">")
        return Limit(maximum=measurement, maximum_inclusive=operator != "<")
    if _RANGE.match(normalised):
        span = parse_range(text)
        return Limit(minimum=span.low, maximum=span.high)
    raise UnitError(f"{text.strip()!r} is not a limit. Write e.g. 2–8 °C, ≥ 70 %, < 0.5 EU/mL or 37 ± 0.5 °C.")
