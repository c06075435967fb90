"""Measurements to and from UCUM codes (``10*6/mL``, ``Cel``, ``[degF]``, ``%``, ``[iU]``, ``{cells}``)."""

from __future__ import annotations

import re
from decimal import Decimal

import pint

from lims.units.errors import NoUcumCode, UnsupportedUcum
from lims.units.measurement import Measurement
from lims.units.registry import MAX_UNIT_POWER, format_unit, parse_unit, refuse_long_text, registry, settle

_UCUM_ATOMS = {
    "m": "meter",
    "g": "gram",
    "s": "second",
    "L": "liter",
    "l": "liter",
    "K": "kelvin",
    "A": "ampere",
    "C": "coulomb",
    "mol": "mole",
    "min": "minute",
    "h": "hour",
    "d": "day",
    "Cel": "degree_Celsius",
    "[degF]": "degree_Fahrenheit",
    "%": "percent",
    "[iU]": "international_unit",
    "[IU]": "international_unit",
    "[in_i]": "inch",
    "[ft_i]": "foot",
    "[lb_av]": "pound",
    "[CFU]": "colony_forming_unit",
    "Hz": "hertz",
    "Pa": "pascal",
    "bar": "bar",
    "J": "joule",
    "N": "newton",
    "V": "volt",
    "W": "watt",
    "S": "siemens",
    "Ohm": "ohm",
    "U": "enzyme_unit",
    "Gy": "gray",
    "eq": "equivalent",
    "[g]": "relative_centrifugal_force",
    "kat": "katal",
    "Bq": "becquerel",
    "Sv": "sievert",
    "eV": "electron_volt",
    "t": "metric_ton",
    "lm": "lumen",
    "lx": "lux",
    "cd": "candela",
    "Wb": "weber",
    "T": "tesla",
    "H": "henry",
    "F": "farad",
    "rad": "radian",
    "sr": "steradian",
    "[ppm]": "ppm",
    "[ppth]": "permille",
    "a": "julian_year",
    "wk": "week",
    "deg": "degree",
    "cal": "calorie",
    "dyn": "dyne",
}
_UCUM_ANNOTATIONS = {
    "{cells}": "cell",
    "{cell}": "cell",
    "{copies}": "copy",
    "{vg}": "vector_genome",
    "{EU}": "endotoxin_unit",
}
_UCUM_PREFIXES = {
    "k": "kilo",
    "h": "hecto",
    "da": "deca",
    "d": "deci",
    "c": "centi",
    "m": "milli",
    "u": "micro",
    "n": "nano",
    "p": "pico",
    "f": "femto",
    "M": "mega",
    "G": "giga",
    "T": "tera",
    "P": "peta",
    "E": "exa",
    "a": "atto",
}
_UCUM_COMPONENT = re.compile(r"^(?P<atom>[A-Za-z]*\[[^\]]+\]|\{[^}]*\}|%|[A-Za-z]+)(?P<exponent>[+-]?\d+)?$")
_ANNOTATION = re.compile(r"\{[^{}]*\}")
# An operator with no term on one side, or an exponent on an annotation: invalid UCUM, not a unit to guess at.
_MALFORMED = re.compile(r"^\.|[./]$|[./][./]|\}[+-]?\d|\(\)")
_GROUP = re.compile(r"\(([^()]*)\)")
_UCUM_FACTOR = re.compile(r"^(?:10(?:\*|\^)(?P<power>[+-]?\d+)|(?P<number>\d+))$")
_PI = Decimal("3.14159265358979323846264338327950288")


def _ucum_atom(symbol: str) -> str:
    if symbol in _UCUM_ATOMS:
        return _UCUM_ATOMS[symbol]
    if symbol in _UCUM_ANNOTATIONS:
        return _UCUM_ANNOTATIONS[symbol]
    for prefix in sorted(_UCUM_PREFIXES, key=len, reverse=True):
        if symbol.startswith(prefix) and symbol[len(prefix) :] in _UCUM_ATOMS:
            return _UCUM_PREFIXES[prefix] + _UCUM_ATOMS[symbol[len(prefix) :]]
    raise UnsupportedUcum(f"The UCUM unit {symbol!r} has no equivalent in the LIMS.")


def from_ucum(value: Decimal, code: str) -> Measurement:
    """Read a value coded in UCUM (``2.5`` ``10*6/mL``, ``37`` ``Cel``) as a measurement."""
    refuse_long_text(code, "A UCUM code")
    if not code or not code.isascii() or not code.isprintable() or " " in code or _MALFORMED.search(code):
        raise UnsupportedUcum(
            f"{code!r} is not a valid UCUM code: UCUM codes are plain ASCII without spaces, and every . and / "
            "joins two terms."
        )
    try:
        factor, unit = _factor_and_unit(_without_labels(code))
        magnitude = settle(value * factor)
    except ArithmeticError as error:  # a factor of 0 divided by, or a power of ten no decimal holds
        raise UnsupportedUcum(f"The UCUM code {code!r} holds a factor the LIMS cannot compute.") from error
    if any(abs(power) > MAX_UNIT_POWER for power in unit._units.values()):
        raise UnsupportedUcum(f"The UCUM code {code!r} raises a unit beyond the power {MAX_UNIT_POWER}.")
    if parse_unit(format_unit(unit)) != unit:
        # UCUM's pt is a picotonne; the LIMS writes it "pt", which labs read as a pint.
        raise UnsupportedUcum(f"The UCUM code {code!r} has no text in the LIMS that reads back as the same unit.")
    return Measurement(magnitude, format_unit(unit))


def _without_labels(code: str) -> str:
    """The code with annotations that only label (``g{creat}``, ``{RBC}``) worth 1, as UCUM says; a count the LIMS
    keeps (``10*3{cells}``) becomes a term of its own."""

    def label(match: re.Match[str]) -> str:
        before = code[match.start() - 1] if match.start() else ""
        attached = before not in {"", ".", "/", "("}
        if match.group(0) in _UCUM_ANNOTATIONS:
            return "." + match.group(0) if attached else match.group(0)
        return "" if attached else "1"

    return _ANNOTATION.sub(label, code)


def _factor_and_unit(code: str) -> tuple[Decimal, pint.Unit]:
    """The factor and unit of a code, its parenthesised groups read first (``mg/(kg.h)``)."""
    groups: list[tuple[Decimal, pint.Unit]] = []
    while "(" in code:
        group = _GROUP.search(code)
        if group is None:
            raise UnsupportedUcum(f"The UCUM code {code!r} leaves a parenthesis open.")
        groups.append(_terms(group.group(1), groups, code))
        code = f"{code[: group.start()]}§{len(groups) - 1}{code[group.end() :]}"
    if ")" in code:
        raise UnsupportedUcum(f"The UCUM code {code!r} closes a parenthesis it never opened.")
    return _terms(code, groups, code)


def _terms(text: str, groups: list[tuple[Decimal, pint.Unit]], code: str) -> tuple[Decimal, pint.Unit]:
    factor = Decimal(1)
    unit = registry.dimensionless
    for operator, component in re.findall(r"(^|[./])([^./]+)", text):
        exponent = -1 if operator == "/" else 1
        if component.startswith("§"):
            group_factor, group_unit = groups[int(component[1:])]
            factor = factor * group_factor if exponent > 0 else factor / group_factor
            unit = unit * group_unit**exponent
            continue
        number = _UCUM_FACTOR.match(component)
        if number:
            scale = (
                Decimal(10) ** int(number.group("power")) if number.group("power") else Decimal(number.group("number"))
            )
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
    return factor, unit


_TO_UCUM_BASE = {name: code for code, name in _UCUM_ATOMS.items() if code not in {"l", "[IU]"}}
_TO_UCUM_BASE.update({name: code for code, name in _UCUM_ANNOTATIONS.items() if code != "{cell}"})
_TO_UCUM_PREFIX = {name: code for code, name in _UCUM_PREFIXES.items()}
#: Lab units that UCUM writes as other atoms: the terms (code, power) of one of them.
_TO_UCUM_TERMS = {
    "cubic_centimeter": (("cm", 3),),
    "year": (("a", 1),),  # pint's year is the Julian year, UCUM's a
    "revolutions_per_minute": (("{rev}", 1), ("min", -1)),
    "revolutions_per_second": (("{rev}", 1), ("s", -1)),
}


def _ucum_terms(name: str, unit: str) -> tuple[tuple[str, int], ...]:
    if name in _TO_UCUM_TERMS:
        return _TO_UCUM_TERMS[name]
    prefix, base, _suffix = registry.parse_unit_name(name)[0]
    if base not in _TO_UCUM_BASE or (prefix and prefix not in _TO_UCUM_PREFIX):
        raise UnsupportedUcum(f"The unit {unit!r} has no UCUM code in the LIMS.")
    return ((_TO_UCUM_PREFIX.get(prefix, "") + _TO_UCUM_BASE[base], 1),)


def require_ucum_code(unit: pint.Unit) -> None:
    """Refuse a unit with no UCUM code (``gal``, ``psi``): what the LIMS shows, it exports in UCUM."""
    text = format_unit(unit)
    for name in unit._units:
        try:
            _ucum_terms(name, text)
        except UnsupportedUcum as error:
            raise NoUcumCode(
                f"The unit {text!r} has no UCUM code, so exports could not name it: use a unit labs exchange, "
                "e.g. mL, µL, g, °C, cells/mL, IU, rpm or × g."
            ) from error


def to_ucum(measurement: Measurement) -> tuple[Decimal, str]:
    """The measurement's value and UCUM code (``cells/mL`` → ``{cells}/mL``, ``°C`` → ``Cel``)."""
    numerator: list[str] = []
    denominator: list[str] = []
    for name, exponent in measurement.quantity.units._units.items():
        assert not isinstance(exponent, complex), "a unit's exponents are real"
        for code, power in _ucum_terms(name, measurement.unit):
            size = abs(power * exponent)
            term = code if size == 1 else f"{code}{size}"
            (numerator if power * exponent > 0 else denominator).append(term)
    text = ".".join(numerator) or "1"
    for term in denominator:
        text += "/" + term
    return measurement.value, text
