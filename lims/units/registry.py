"""The one pint registry, with the lab units pint lacks, and unit text: read as typed, written as labs write it.

Magnitudes are exact decimals from input to database. Conversions run in
pint's Decimal mode and are settled to 20 significant digits, far beyond any
instrument, so that 37 °C converts to exactly 98.6 °F and compares as equal.
"""

from __future__ import annotations

import re
import tokenize
from decimal import Context, Decimal
from functools import lru_cache

import pint
from pint.facets.plain import PlainUnit

from lims.units.errors import UnitError

registry: pint.UnitRegistry[Decimal] = pint.UnitRegistry(non_int_type=Decimal, autoconvert_offset_to_baseunit=False)
# Each count is its own dimension: cells never silently become CFU or copies.
for _definition in (
    "cell = [cell_count] = _ = cells",
    "colony_forming_unit = [colony_forming_units] = CFU",
    "endotoxin_unit = [endotoxin] = EU",
    "international_unit = [biological_activity] = IU = iU",
    "copy = [copy_count] = _ = copies",
    "vector_genome = [vector_genome_count] = vg",
    # Milliequivalents stay their own kind: converting them to mmol needs the ion's charge.
    "equivalent = [charge_equivalents] = eq = Eq",
    # A centrifuge's speed is revolutions per unit time, as a tachometer's Hz is: 3000 rpm is 50 Hz, not 2π more.
    "revolutions_per_minute = 1 / minute = rpm",
    "revolutions_per_second = 1 / second = rps",
    # Relative centrifugal force, typed 400 × g, 400 xg or 400 RCF; 400 g stays a mass.
    "relative_centrifugal_force = standard_gravity = xg = RCF",
):
    registry.define(_definition)

#: The longest text of a quantity, limit or unit the LIMS reads. Reading takes longer the longer the text,
#: so a longer one is refused unread; the longest lab quantity (``1.5–2.5 ×10^8 cells/kg``) is far shorter.
MAX_QUANTITY_TEXT = 120
#: The highest power a unit takes (``m^3``); a higher one is a slip, and converting it would take long.
MAX_UNIT_POWER = 9

_SETTLE = Context(prec=20)
_DIMENSION_NAMES = {
    "[length] ** 3": "volume",
    "[mass]": "mass",
    "[temperature]": "temperature",
    "[time]": "time",
    "[length]": "length",
    "dimensionless": "a plain number or percentage",
    "[cell_count]": "a cell count",
    "[colony_forming_units]": "colony-forming units",
    "[endotoxin]": "endotoxin units",
    "[biological_activity]": "international units",
    "[copy_count]": "copies",
    "[vector_genome_count]": "vector genomes",
    "[charge_equivalents]": "equivalents (mEq)",
    "[substance]": "an amount of substance (mol)",
    "[substance] / [time]": "an enzyme activity (U)",
    "[mass] / [length] ** 3": "a mass concentration",
    "[cell_count] / [length] ** 3": "a cell concentration",
    "[endotoxin] / [length] ** 3": "an endotoxin concentration (endotoxin units per volume)",
    "[biological_activity] / [length] ** 3": "an activity concentration (international units per volume)",
    "[copy_count] / [length] ** 3": "a copy concentration (copies per volume)",
    "[vector_genome_count] / [length] ** 3": "a vector genome concentration (vector genomes per volume)",
    "[colony_forming_units] / [length] ** 3": "a colony-forming unit concentration (CFU per volume)",
    "[charge_equivalents] / [length] ** 3": "an equivalent concentration (mEq per volume)",
    "[substance] / [length] ** 3": "a molar concentration",
    "1 / [time]": "a rotational speed or frequency (rpm, Hz)",
    "[length] / [time] ** 2": "a centrifugal force (× g) or acceleration",
    "[length] ** 2 / [time] ** 2": "a radiation dose (Gy)",
}
#: Words for the dimensions a unit built from several is described with ("copies per a mass" reads badly).
_BASE_DIMENSION_WORDS = {
    "[length]": ("length", "area", "volume"),
    "[mass]": ("mass",),
    "[time]": ("time",),
    "[temperature]": ("temperature",),
    "[substance]": ("amount of substance",),
    "[current]": ("electric current",),
    "[luminosity]": ("luminous intensity",),
    "[cell_count]": ("cells",),
    "[colony_forming_units]": ("colony-forming units",),
    "[endotoxin]": ("endotoxin units",),
    "[biological_activity]": ("international units",),
    "[copy_count]": ("copies",),
    "[vector_genome_count]": ("vector genomes",),
    "[charge_equivalents]": ("equivalents",),
}
# "400 × g", "400 x g", "400 xg": relative centrifugal force, never the gram.
_RCF_TYPED = re.compile(r"(?<![A-Za-z0-9_])[x×]\s*g(?![A-Za-z0-9_])")
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")


def settle(value: Decimal) -> Decimal:
    """A converted magnitude settled to 20 significant digits."""
    return _SETTLE.plus(value).normalize()


def describe_dimension(unit: PlainUnit) -> str:
    """What a unit measures, in words for a message: "a volume", "a cell count", "copies per mass"."""
    dimensionality = unit.dimensionality
    if str(dimensionality) in _DIMENSION_NAMES:
        return _DIMENSION_NAMES[str(dimensionality)]
    numerator: list[str] = []
    denominator: list[str] = []
    for dimension, power in dimensionality.items():
        assert not isinstance(power, complex), "a dimension's powers are real"
        words = _BASE_DIMENSION_WORDS.get(dimension, (dimension.strip("[]").replace("_", " "),))
        size = int(abs(power))
        word = words[size - 1] if size == abs(power) and size <= len(words) else f"{words[0]} to the power {abs(power)}"
        (numerator if power > 0 else denominator).append(word)
    text = " × ".join(numerator) or "one"
    if denominator:
        text += " per " + " per ".join(denominator)
    return f"a quantity of {text}"


def _symbol(name: str, *, counted: bool) -> str:
    """A unit's lab symbol; a count reads as a plural when it is counted (cells/mL) and not per one (copies/cell)."""
    _prefix, base, _suffix = registry.parse_unit_name(name)[0]
    symbol = registry.get_symbol(name)
    if base == "liter":
        return symbol[:-1] + "L"  # labs write mL and µL
    if base == "equivalent":
        return symbol[:-2] + "Eq"  # labs write mEq/L
    if base == "relative_centrifugal_force":
        return "× g"
    return {"cell": "cells", "copy": "copies"}.get(symbol, symbol) if counted else symbol


# Units are re-read from their text at every conversion; pint parses text slowly.
# Bounded, because the text is typed by users; the registry is complete at import.
@lru_cache(maxsize=1024)
def format_unit(unit: pint.Unit) -> str:
    """The LIMS's text for a unit: lab symbols (mL, µL, °C, %), parseable back."""
    numerator: list[str] = []
    denominator: list[str] = []
    for name, exponent in unit._units.items():
        assert not isinstance(exponent, complex), "a unit's exponents are real"
        symbol = _symbol(name, counted=exponent > 0)
        power = abs(exponent)
        term = symbol if power == 1 else f"{symbol}^{power}"
        (numerator if exponent > 0 else denominator).append(term)
    text = "*".join(numerator) or "1"
    if denominator:
        text += "/" + (denominator[0] if len(denominator) == 1 else "(" + "*".join(denominator) + ")")
    return "" if text == "1" else text


def refuse_long_text(text: str, what: str = "A value with its unit") -> None:
    """Refuse, unread, a quantity's text longer than any the lab writes."""
    if len(text) > MAX_QUANTITY_TEXT:
        raise UnitError(f"{what} is written in at most {MAX_QUANTITY_TEXT} characters; this text has {len(text)}.")


@lru_cache(maxsize=1024)
def parse_unit(text: str) -> pint.Unit:
    """The registry's unit for a unit's text; UnitError if the LIMS does not know it."""
    refuse_long_text(text, "A unit")
    cleaned = text.strip()
    if not cleaned:
        return registry.dimensionless
    if cleaned.startswith("/"):
        cleaned = "1" + cleaned  # "2.5e6/mL": per millilitre
    cleaned = _RCF_TYPED.sub("xg", cleaned)
    try:
        unit = _parse_lab_or_ucum(cleaned.replace("µ", "u"))
    except (
        pint.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
        ArithmeticError,  # a power or a quotient the decimals cannot hold: "m**9**9**9", "m/0"
        KeyError,  # a unit to the power zero: "A^0"
        tokenize.TokenError,  # a bracket left open: "(m"
    ) as error:
        raise UnitError(
            f"Unknown unit {cleaned!r}. Examples of units the LIMS knows: mL, µL, cells/mL, °C, %, "
            "EU/mL, IU, CFU, copies/µg, vg/mL, mEq/L, U/L, rpm, × g.",
        ) from error
    if any(abs(power) > MAX_UNIT_POWER for power in unit._units.values()):
        raise UnitError(f"{cleaned!r} raises a unit beyond the power {MAX_UNIT_POWER}; no lab unit does.")
    return unit


# UCUM annotations labs type in a unit; any other annotation is a label, worth 1 as in UCUM.
_UCUM_COUNT_ANNOTATIONS = {
    "cells": "cells",
    "cell": "cell",
    "copies": "copies",
    "copy": "copy",
    "vg": "vg",
    "EU": "EU",
}
_ANNOTATION = re.compile(r"\{(?P<label>[^{}]*)\}")
_UCUM_POWER = re.compile(r"(?<=[A-Za-z\]])(?P<power>[+-]?[1-9]\d*)(?=$|[./*)\s])")
_UCUM_PRODUCT = re.compile(r"(?<=[A-Za-z0-9\]])\.(?=[A-Za-z\[{])")
_UCUM_SQUARE_ATOMS = {"[iU]": "IU", "[IU]": "IU", "[CFU]": "CFU", "[degF]": "degF", "[g]": "xg"}
_POWER_OF_TEN_IN_UNIT = re.compile(r"(?:^|[./*\s])10\s*(?:\*\*|\*|\^)\s*[+-]?\d+")


def _ucum_as_lab_text(text: str) -> str:
    """A unit typed with UCUM syntax (``{copies}/ug``, ``cm3``, ``mg.kg-1``, ``[iU]/mL``) in the registry's terms."""

    def annotation(match: re.Match[str]) -> str:
        count = _UCUM_COUNT_ANNOTATIONS.get(match.group("label"))
        if count is not None:
            return count
        attached = match.start() > 0 and (
            match.string[match.start() - 1].isalnum() or match.string[match.start() - 1] == "]"
        )
        return "" if attached else "1"

    text = _ANNOTATION.sub(annotation, text)
    for atom, lab in _UCUM_SQUARE_ATOMS.items():
        text = text.replace(atom, lab)
    text = _UCUM_PRODUCT.sub("*", text)
    return _UCUM_POWER.sub(lambda match: "^" + match.group("power"), text)


def _parse_lab_or_ucum(text: str) -> pint.Unit:
    """A unit as labs type it, else as UCUM writes it; a power of ten belongs to the value, not the unit."""
    if _POWER_OF_TEN_IN_UNIT.search(text):
        raise UnitError(
            f"The unit {text!r} holds a power of ten: put it with the value (1.2 ×10^6 /µL), not in the unit."
        )
    try:
        return registry.parse_units(text)
    except (pint.UndefinedUnitError, pint.errors.DefinitionSyntaxError, AttributeError, TypeError, ValueError):
        ucum = _ucum_as_lab_text(text)
        if ucum == text:
            raise
        return registry.parse_units(ucum)


def normalise_typing(text: str) -> str:
    """Text as typed, with look-alike characters made plain and superscript powers written as ``^6``."""
    # Unicode minus, no-break space and the Greek mu arrive from copied text.
    text = text.replace("−", "-").replace("\u00a0", " ").replace("μ", "µ")
    return _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group(0).translate(_SUPERSCRIPTS), text)


def same_quantity(unit: str, other: str) -> bool:
    """True when two units measure the same quantity (µL and mL; not µL and g, nor °C and K differences)."""
    return parse_unit(unit).dimensionality == parse_unit(other).dimensionality
