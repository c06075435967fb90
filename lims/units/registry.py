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
    "[mass] / [length] ** 3": "a mass concentration",
    "[cell_count] / [length] ** 3": "a cell concentration",
    "[length] / [time] ** 2": "an acceleration",
}
_SUPERSCRIPTS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+")
_SUPERSCRIPT_RUN = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺]+")


def settle(value: Decimal) -> Decimal:
    """A converted magnitude settled to 20 significant digits."""
    return _SETTLE.plus(value).normalize()


def describe_dimension(unit: PlainUnit) -> str:
    """What a unit measures, in words for a message: "volume", "a cell count"."""
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
    try:
        unit = registry.parse_units(cleaned.replace("µ", "u"))
    except (
        pint.UndefinedUnitError,
        pint.errors.DefinitionSyntaxError,
        AttributeError,
        TypeError,
        ValueError,
        AssertionError,
        ArithmeticError,  # a power or a quotient the decimals cannot hold: "m**9**9**9", "m/0"
        tokenize.TokenError,  # a bracket left open: "(m"
    ) as error:
        raise UnitError(
            f"Unknown unit {cleaned!r}. Examples of units the LIMS knows: mL, µL, cells/mL, °C, %, "
            "EU/mL, IU, CFU, copies/µg, vg/mL.",
        ) from error
    if any(abs(power) > MAX_UNIT_POWER for power in unit._units.values()):
        raise UnitError(f"{cleaned!r} raises a unit beyond the power {MAX_UNIT_POWER}; no lab unit does.")
    return unit


def normalise_typing(text: str) -> str:
    """Text as typed, with look-alike characters made plain and superscript powers written as ``^6``."""
    # Unicode minus, no-break space and the Greek mu arrive from copied text.
    text = text.replace("−", "-").replace("\u00a0", " ").replace("μ", "µ")
    return _SUPERSCRIPT_RUN.sub(lambda run: "^" + run.group(0).translate(_SUPERSCRIPTS), text)


def unit_text(text: str) -> str:
    """Normalise a unit as typed (``cells / ml``) to the LIMS's text (``cells/mL``)."""
    return format_unit(parse_unit(normalise_typing(text)))


def same_quantity(unit: str, other: str) -> bool:
    """True when two units measure the same quantity (µL and mL; not µL and g, nor °C and K differences)."""
    return parse_unit(unit).dimensionality == parse_unit(other).dimensionality
