"""Quantities with units: the one pint registry, what technicians type, exact storage, limits, UCUM.

Magnitudes are exact decimals from input to database. Conversions run in
pint's Decimal mode and are settled to 20 significant digits, far beyond any
instrument, so that 37 °C converts to exactly 98.6 °F and compares as equal.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from decimal import Context, Decimal, InvalidOperation
from typing import Any

import pint
from marshmallow import ValidationError, fields
from sqlalchemy import Numeric, String
from sqlalchemy.orm import Composite, composite, mapped_column
from sqlalchemy.types import TypeDecorator

from lims.errors import InvalidInput

registry = pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=False)
# Each count is its own dimension: cells never silently become CFU or copies.
for _definition in (
    "cell = [cell_count] = _ = cells",
    "colony_forming_unit = [colony_forming_units] = CFU",
    "endotoxin_unit = [endotoxin] = EU",
    "international_unit = [biological_activity] = IU = iU",
    "copy = [copy_count] = _ = copies",
    "vector_genome = [vector_genome_count] = vg",
):
    registry.define(_definition)

_SETTLE = Context(prec=20)
_DIMENSION_NAMES = {
    "[length] ** 3": "volume", "[mass]": "mass", "[temperature]": "temperature", "[time]": "time",
    "[length]": "length", "dimensionless": "a plain number or percentage", "[cell_count]": "a cell count",
    "[colony_forming_units]": "colony-forming units", "[endotoxin]": "endotoxin units",
    "[biological_activity]": "international units", "[copy_count]": "copies",
    "[vector_genome_count]": "vector genomes", "[mass] / [length] ** 3": "a mass concentration",
    "[cell_count] / [length] ** 3": "a cell concentration", "[length] / [time] ** 2": "an acceleration",
}


class UnitError(InvalidInput):
    """Text that is not a quantity the LIMS understands."""


class IncompatibleUnits(InvalidInput):
    """Two quantities of different kinds (a volume and a mass) were compared or converted."""


def _settle(value: Decimal) -> Decimal:
    return _SETTLE.plus(value).normalize()


def _describe_dimension(unit: pint.Unit) -> str:
    dimensionality = str(unit.dimensionality)
    return _DIMENSION_NAMES.get(dimensionality, dimensionality)


def _symbol(name: str, *, counted: bool) -> str:
    """A unit's lab symbol; a count reads as a plural when it is counted (cells/mL) and not per one (copies/cell)."""
    _prefix, base, _suffix = registry.parse_unit_name(name)[0]
    symbol = registry.get_symbol(name)
    if base == "liter":
        return symbol[:-1] + "L"  # labs write mL and µL
    return {"cell": "cells", "copy": "copies"}.get(symbol, symbol) if counted else symbol


# Units are re-read from their text at every conversion; pint parses text slowly.
# Bounded, because the text is typed by users; the registry is complete at import.
@lru_cache(maxsize=1024)
def format_unit(unit: pint.Unit) -> str:
    """The LIMS's text for a unit: lab symbols (mL, µL, °C, %), parseable back."""
    numerator, denominator = [], []
    for name, exponent in unit._units.items():
        symbol = _symbol(name, counted=exponent > 0)
        power = abs(exponent)
        term = symbol if power == 1 else f"{symbol}^{power}"
        (numerator if exponent > 0 else denominator).append(term)
    text = "*".join(numerator) or "1"
    if denominator:
        text += "/" + (denominator[0] if len(denominator) == 1 else "(" + "*".join(denominator) + ")")
    return "" if text == "1" else text


@lru_cache(maxsize=1024)
def _parse_unit(text: str) -> pint.Unit:
    cleaned = text.strip()
    if not cleaned:
        return registry.dimensionless
    if cleaned.startswith("/"):
        cleaned = "1" + cleaned  # "2.5e6/mL": per millilitre
    try:
        return registry.parse_units(cleaned.replace("µ", "u"))
    except (pint.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError, TypeError,
            ValueError, AssertionError) as error:
        raise UnitError(
            f"Unknown unit {cleaned!r}. Examples of units the LIMS knows: mL, µL, cells/mL, °C, %, "
            "EU/mL, IU, CFU, copies/µg, vg/mL.",
        ) from error


def unit_text(text: str) -> str:
    """Normalise a unit as typed (``cells / ml``) to the LIMS's text (``cells/mL``)."""
    return format_unit(_parse_unit(_normalise_typing(text)))


@dataclass(frozen=True)
class Measurement:
    """An exact decimal value with its unit, as measured or specified."""

    value: Decimal
    unit: str

    @property
    def quantity(self) -> pint.Quantity:
        return registry.Quantity(self.value, _parse_unit(self.unit))

    @property
    def is_offset(self) -> bool:
        """True for temperatures on a scale with a moved zero (°C, °F)."""
        return not self.quantity._is_multiplicative

    def to(self, unit: str) -> Measurement:
        """This measurement in ``unit``; IncompatibleUnits if they measure different things."""
        target = _parse_unit(_normalise_typing(unit))
        try:
            converted = self.quantity.to(target)
        except pint.DimensionalityError as error:
            raise IncompatibleUnits(
                f"Cannot convert {self} to {format_unit(target)}: {_describe_dimension(self.quantity.units)} "
                f"is not {_describe_dimension(target)}."
            ) from error
        return Measurement(_settle(Decimal(converted.magnitude)), format_unit(target))

    def compare(self, other: Measurement) -> int:
        """-1, 0 or 1 as this is less than, equal to or greater than ``other``, in any compatible unit."""
        try:
            theirs = other.to(self.unit).value
        except IncompatibleUnits as error:
            raise IncompatibleUnits(
                f"Cannot compare {self} with {other}: {_describe_dimension(self.quantity.units)} "
                f"is not {_describe_dimension(other.quantity.units)}."
            ) from error
        mine = _settle(self.value)
        return (mine > theirs) - (mine < theirs)

    def __str__(self) -> str:
        return f"{format_value(self.value)} {self.unit}".rstrip()


@dataclass(frozen=True)
class MeasurementRange:
    """Two measurements of the same unit typed as a range: ``2–8 °C``."""

    low: Measurement
    high: Measurement

    def __str__(self) -> str:
        # One power of ten for both ends, as in 1–5 ×10^8 cells.
        power = _display_power(max(abs(self.low.value), abs(self.high.value)))
        low, high = (f"{value.scaleb(-power).normalize():f}" for value in (self.low.value, self.high.value))
        scale = f" ×10^{power}" if power else ""
        return f"{low}–{high}{scale} {self.low.unit}".rstrip()


def _display_power(value: Decimal) -> int:
    """The power of ten to show a value with: 0 unless it is large or tiny."""
    if not value:
        return 0
    _sign, digits, exponent = value.normalize().as_tuple()
    assert isinstance(exponent, int)
    power = len(digits) + exponent - 1
    return power if power >= 5 or power <= -5 else 0


def format_value(value: Decimal) -> str:
    """A decimal as labs write it: plain, or ``2.5 ×10^6`` when large or tiny."""
    power = _display_power(value)
    mantissa = f"{value.scaleb(-power).normalize():f}" if value else "0"
    return f"{mantissa} ×10^{power}" if power else mantissa


# Parsing what technicians type

_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")
_NUMBER = r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?"
_SINGLE = re.compile(rf"^\s*(?P<number>{_NUMBER})(?P<rest>.*)$")
_RANGE = re.compile(rf"^\s*(?P<low>{_NUMBER})\s*(?:-|–|—|to|\.\.)\s*(?P<high>{_NUMBER})(?P<rest>.*)$")
_TOLERANCE = re.compile(rf"^\s*(?P<target>{_NUMBER})\s*(?:±|\+/-|\+-)\s*(?P<tolerance>{_NUMBER})(?P<rest>.*)$")
_BOUND = re.compile(r"^\s*(?P<operator>≥|>=|≤|<=|>|<)\s*(?P<rest>.*)$")
_POWER_OF_TEN = re.compile(r"^\s*(?:[x×*·]\s*)?10\s*(?:\^|\*\*)\s*(?P<exponent>[+-]?\d+)(?P<unit>.*)$")


def _normalise_typing(text: str) -> str:
    # Unicode minus, no-break space and the Greek mu arrive from copied text.
    text = text.replace("−", "-").replace("\u00a0", " ").replace("μ", "µ")
    return _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group(0).translate(_SUPERSCRIPTS), text)


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text)
    except InvalidOperation as error:  # the patterns only let numbers through
        raise UnitError(f"{text!r} is not a number.") from error


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
    if not text or not text.strip():
        raise UnitError("Enter a value with its unit, e.g. 2.5e6 cells/mL.")
    _refuse_commas(text)
    normalised = _normalise_typing(text)
    if _RANGE.match(normalised):
        raise UnitError(f"{text.strip()!r} is a range; enter one value.")
    match = _SINGLE.match(normalised)
    if match is None:
        raise UnitError(f"Start with a number, then the unit: {text.strip()!r} has no number first.")
    exponent, unit = _scale_and_unit(match.group("rest"))
    return Measurement(_decimal(match.group("number")).scaleb(exponent), format_unit(_parse_unit(unit)))


def parse_in_unit(text: str, unit: str) -> Measurement:
    """Read a value typed against an expected unit: a bare number (``37.2``) is in ``unit``; a value with a
    unit of its own (``0.2 L``) is read as typed, for the caller to convert or refuse."""
    text = text.strip()
    return parse_measurement(f"{text} {unit}" if unit and text and text[-1].isdigit() else text)


def parse_range(text: str) -> MeasurementRange:
    """Read a range typed as ``2–8 °C``, ``2-8 degC`` or ``1–5 ×10^8 cells``."""
    _refuse_commas(text or "")
    match = _RANGE.match(_normalise_typing(text or ""))
    if match is None:
        raise UnitError(f"Enter a range as low–high and unit, e.g. 2–8 °C: {text!r} is not one.")
    exponent, unit_typed = _scale_and_unit(match.group("rest"))
    unit = format_unit(_parse_unit(unit_typed))
    low = Measurement(_decimal(match.group("low")).scaleb(exponent), unit)
    high = Measurement(_decimal(match.group("high")).scaleb(exponent), unit)
    if low.value > high.value:
        raise UnitError(f"The range {text.strip()!r} runs backwards: its low end is above its high end.")
    return MeasurementRange(low, high)


# Specifications


@dataclass(frozen=True)
class Limit:
    """A specification: bounds (inclusive or not) and a target, in any compatible units."""

    minimum: Measurement | None = None
    maximum: Measurement | None = None
    target: Measurement | None = None
    minimum_inclusive: bool = True
    maximum_inclusive: bool = True

    def __post_init__(self) -> None:
        bounds = [m for m in (self.minimum, self.maximum, self.target) if m is not None]
        if not bounds:
            raise UnitError("A limit needs a minimum, a maximum or a target.")
        for other in bounds[1:]:
            bounds[0].to(other.unit)  # raises IncompatibleUnits
        if self.minimum is not None and self.maximum is not None and self.minimum.compare(self.maximum) > 0:
            raise UnitError(f"The minimum {self.minimum} is above the maximum {self.maximum}.")

    def require_compatible_with(self, unit: str) -> None:
        """Refuse (IncompatibleUnits) a limit whose bounds cannot be compared with values in ``unit``."""
        bound = self.minimum or self.maximum or self.target
        assert bound is not None  # __post_init__ refuses a limit without one
        bound.to(unit)

    def conforms(self, measured: Measurement) -> bool:
        """Tell whether ``measured`` meets the limit, after converting it to the limit's units."""
        if self.minimum is not None:
            below = measured.compare(self.minimum)
            if below < 0 or (below == 0 and not self.minimum_inclusive):
                return False
        if self.maximum is not None:
            above = measured.compare(self.maximum)
            if above > 0 or (above == 0 and not self.maximum_inclusive):
                return False
        return True

    def __str__(self) -> str:
        if self.minimum is not None and self.maximum is not None and self.minimum_inclusive \
                and self.maximum_inclusive and self.minimum.unit == self.maximum.unit:
            return str(MeasurementRange(self.minimum, self.maximum))
        parts = []
        if self.minimum is not None:
            parts.append(f"{'≥' if self.minimum_inclusive else '>'} {self.minimum}")
        if self.maximum is not None:
            parts.append(f"{'≤' if self.maximum_inclusive else '<'} {self.maximum}")
        if not parts and self.target is not None:
            parts.append(f"target {self.target}")
        return " and ".join(parts)


def _difference_unit(measurement: Measurement) -> pint.Unit:
    unit = measurement.quantity.units
    if measurement.is_offset:
        # A tolerance on °C is a temperature difference, not a temperature.
        return registry.parse_units(f"delta_{next(iter(unit._units))}")
    return unit


def limit_with_tolerance(target: Measurement, tolerance: Decimal) -> Limit:
    """The limit ``target ± tolerance`` (the tolerance in the target's unit, a difference for °C)."""
    if tolerance < 0:
        raise UnitError("A tolerance cannot be negative.")
    difference = registry.Quantity(tolerance, _difference_unit(target))
    low, high = target.quantity - difference, target.quantity + difference
    return Limit(
        minimum=Measurement(_settle(Decimal(low.magnitude)), target.unit),
        maximum=Measurement(_settle(Decimal(high.magnitude)), target.unit),
        target=target,
    )


_AMOUNT_DIMENSIONS = frozenset({
    "[length] ** 3", "[mass]", "dimensionless", "[cell_count]", "[colony_forming_units]", "[copy_count]",
    "[vector_genome_count]", "[biological_activity]", "[endotoxin]",
})


def is_amount(measurement: Measurement) -> bool:
    """True for a quantity of material: a volume, a mass or a count."""
    return str(measurement.quantity.dimensionality) in _AMOUNT_DIMENSIONS


def difference_in_unit_of(difference: Measurement, reference: Measurement) -> Decimal:
    """A difference (a tolerance, an error) expressed in ``reference``'s unit: 0.9 °F is 0.5 °C."""
    source = registry.Quantity(difference.value, _difference_unit(difference))
    try:
        converted = source.to(_difference_unit(reference))
    except pint.DimensionalityError as error:
        raise IncompatibleUnits(
            f"A tolerance in {difference.unit} cannot apply to a value in {reference.unit}."
        ) from error
    return _settle(Decimal(converted.magnitude))


def error_of(measured: Measurement, nominal: Measurement) -> Decimal:
    """How far ``measured`` is from ``nominal``, in the nominal's unit (a plain difference for °C)."""
    difference = measured.to(nominal.unit).quantity - nominal.quantity
    return _settle(Decimal(difference.magnitude))


def parse_limit(text: str) -> Limit:
    """Read ``1–5 ×10^8 cells``, ``≥ 70 %``, ``< 0.5 EU/mL`` or ``37 ± 0.5 °C``."""
    if not text or not text.strip():
        raise UnitError("Enter a limit, e.g. 2–8 °C, ≥ 70 %, < 0.5 EU/mL or 37 ± 0.5 °C.")
    normalised = _normalise_typing(text)
    tolerance = _TOLERANCE.match(normalised)
    if tolerance:
        exponent, unit = _scale_and_unit(tolerance.group("rest"))
        target = Measurement(_decimal(tolerance.group("target")).scaleb(exponent), format_unit(_parse_unit(unit)))
        return limit_with_tolerance(target, _decimal(tolerance.group("tolerance")).scaleb(exponent))
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


# Storage


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal on both engines: NUMERIC on PostgreSQL, text on SQLite (whose numbers are floats)."""

    impl = Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Any) -> Any:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(64))
        return dialect.type_descriptor(Numeric())

    def process_bind_param(self, value: Decimal | None, dialect: Any) -> Any:
        if value is None:
            return None
        exact = Decimal(value)
        return str(exact) if dialect.name == "sqlite" else exact

    def process_result_value(self, value: Any, dialect: Any) -> Decimal | None:
        return None if value is None else Decimal(value)


def measurement_column(prefix: str, *, nullable: bool = False) -> Composite[Measurement]:
    """A measurement kept as ``<prefix>_value`` (exact decimal) and ``<prefix>_unit``."""
    return composite(
        mapped_column(f"{prefix}_value", ExactDecimal(), nullable=nullable),
        mapped_column(f"{prefix}_unit", String(32), nullable=nullable),
    )


class MeasurementField(fields.Field):
    """Loads and dumps a measurement as the text technicians type and read."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Measurement:
        if not isinstance(value, str):
            raise ValidationError("Enter the value and its unit as text, e.g. 2.5e6 cells/mL.")
        try:
            return parse_measurement(value)
        except UnitError as error:
            raise ValidationError(error.message) from error

    def _serialize(self, value: Measurement | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


class LimitField(fields.Field):
    """Loads a specification typed as ``2–8 °C``, ``≥ 70 %`` or ``37 ± 0.5 °C``; dumps it the same way."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Limit:
        if not isinstance(value, str):
            raise ValidationError("Enter the limit as text, e.g. 2–8 °C.")
        try:
            return parse_limit(value)
        except (UnitError, IncompatibleUnits) as error:
            raise ValidationError(error.message) from error

    def _serialize(self, value: Limit | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        return None if value is None else str(value)


# UCUM

_UCUM_ATOMS = {
    "m": "meter", "g": "gram", "s": "second", "L": "liter", "l": "liter", "K": "kelvin", "A": "ampere",
    "C": "coulomb", "mol": "mole", "min": "minute", "h": "hour", "d": "day", "Cel": "degree_Celsius",
    "[degF]": "degree_Fahrenheit", "%": "percent", "[iU]": "international_unit", "[IU]": "international_unit",
    "[in_i]": "inch", "[ft_i]": "foot", "[lb_av]": "pound", "[CFU]": "colony_forming_unit", "Hz": "hertz",
    "Pa": "pascal", "bar": "bar", "J": "joule", "N": "newton", "V": "volt", "W": "watt", "S": "siemens",
    "Ohm": "ohm",
}
_UCUM_ANNOTATIONS = {"{cells}": "cell", "{cell}": "cell", "{copies}": "copy", "{vg}": "vector_genome",
                     "{EU}": "endotoxin_unit"}
_UCUM_PREFIXES = {"k": "kilo", "h": "hecto", "da": "deca", "d": "deci", "c": "centi", "m": "milli", "u": "micro",
                  "n": "nano", "p": "pico", "f": "femto", "M": "mega", "G": "giga", "T": "tera"}
_UCUM_COMPONENT = re.compile(r"^(?P<atom>\[[^\]]+\]|\{[^}]*\}|%|[A-Za-z]+)(?P<exponent>[+-]?\d+)?$")
_UCUM_FACTOR = re.compile(r"^(?:10(?:\*|\^)(?P<power>[+-]?\d+)|(?P<number>\d+))$")
_PI = Decimal("3.14159265358979323846264338327950288")


class UnsupportedUcum(UnitError):
    """A valid UCUM code whose units the LIMS does not map."""


def _ucum_atom(symbol: str) -> str:
    if symbol in _UCUM_ATOMS:
        return _UCUM_ATOMS[symbol]
    if symbol in _UCUM_ANNOTATIONS:
        return _UCUM_ANNOTATIONS[symbol]
    for prefix in sorted(_UCUM_PREFIXES, key=len, reverse=True):
        if symbol.startswith(prefix) and symbol[len(prefix):] in _UCUM_ATOMS:
            return _UCUM_PREFIXES[prefix] + _UCUM_ATOMS[symbol[len(prefix):]]
    raise UnsupportedUcum(f"The UCUM unit {symbol!r} has no equivalent in the LIMS.")


def from_ucum(value: Decimal, code: str) -> Measurement:
    """Read a value coded in UCUM (``2.5`` ``10*6/mL``, ``37`` ``Cel``) as a measurement."""
    if "(" in code or " " in code:
        raise UnsupportedUcum(f"The UCUM code {code!r} uses syntax the LIMS does not read (parentheses).")
    factor = Decimal(1)
    unit = registry.dimensionless
    for operator, component in re.findall(r"(^|[./])([^./]+)", code):
        exponent = -1 if operator == "/" else 1
        number = _UCUM_FACTOR.match(component)
        if number:
            scale = Decimal(10) ** int(number.group("power")) if number.group("power") else Decimal(number.group("number"))
            factor = factor * scale if exponent > 0 else factor / scale
            continue
        if component == "[pi]":
            factor = factor * _PI if exponent > 0 else factor / _PI
            continue
        match = _UCUM_COMPONENT.match(component)
        if match is None:
            raise UnsupportedUcum(f"Cannot read {component!r} in the UCUM code {code!r}.")
        if match.group("atom").startswith("{") and match.group("atom") not in _UCUM_ANNOTATIONS:
            continue  # other annotations do not change the unit
        power = int(match.group("exponent") or 1) * exponent
        unit = unit * registry.parse_units(_ucum_atom(match.group("atom"))) ** power
    return Measurement(_settle(value * factor), format_unit(unit))


_TO_UCUM_BASE = {name: code for code, name in _UCUM_ATOMS.items() if code not in {"l", "[IU]"}}
_TO_UCUM_BASE.update({name: code for code, name in _UCUM_ANNOTATIONS.items() if code != "{cell}"})
_TO_UCUM_PREFIX = {name: code for code, name in _UCUM_PREFIXES.items()}


def to_ucum(measurement: Measurement) -> tuple[Decimal, str]:
    """The measurement's value and UCUM code (``cells/mL`` → ``{cells}/mL``, ``°C`` → ``Cel``)."""
    numerator, denominator = [], []
    for name, exponent in measurement.quantity.units._units.items():
        prefix, base, _suffix = registry.parse_unit_name(name)[0]
        if base not in _TO_UCUM_BASE or (prefix and prefix not in _TO_UCUM_PREFIX):
            raise UnsupportedUcum(f"The unit {measurement.unit!r} has no UCUM code in the LIMS.")
        code = _TO_UCUM_PREFIX.get(prefix, "") + _TO_UCUM_BASE[base]
        power = abs(exponent)
        term = code if power == 1 else f"{code}{power}"
        (numerator if exponent > 0 else denominator).append(term)
    text = ".".join(numerator) or "1"
    for term in denominator:
        text += "/" + term
    return measurement.value, text
