"""Reading, converting and comparing lab measurements through ``lims.units`` vs pint alone on the same strings.

Each operation reads a value as a technician types it, converts it to the unit
a report shows and compares it with a specification limit in a compatible
unit: ``parse_measurement(text).to(unit).compare(limit)`` on the LIMS side,
``registry.Quantity(text).to(unit) > limit`` on pint's, with the LIMS's own
registry (Decimal mode, the lab units) on both. The ratio shows what the
LIMS's exact decimals, lab symbols and typing rules cost on top of pint.

pint's expression parser refuses an offset temperature such as ``37 degC`` in
a registry that keeps offsets (it reads 37 times 1 °C), so for those the pint
side splits the text at its space and builds the quantity the way pint's
documentation does, ``Quantity(Decimal("37"), "degC")``: less work than
parsing an expression, so it only makes the baseline faster.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pint

from bench.audit import Target
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement
from lims.units.registry import registry

WARM_UP_OPERATIONS = 1_000
ROUNDS = 3
OVERHEAD_TARGET = Target("≤", 1.5)


@dataclass(frozen=True)
class LabInput:
    typed: str
    #: the unit a report shows it in
    shown_in: str
    #: a specification limit in a compatible unit, often the one it was specified in
    limit: str


LAB_INPUTS = (
    LabInput("2.5e6 cells/mL", "cells/µL", "1e6 cells/mL"),
    LabInput("1.2e6 cells/mL", "cells/L", "5e8 cells/L"),
    LabInput("3.2e12 vg/mL", "vg/µL", "1e12 vg/mL"),
    LabInput("150 copies/µL", "copies/mL", "1e5 copies/mL"),
    LabInput("1e4 CFU/mL", "CFU/L", "100 CFU/mL"),
    LabInput("250 mL", "µL", "200 mL"),
    LabInput("0.5 mL", "µL", "500 µL"),
    LabInput("20 µL", "mL", "0.025 mL"),
    LabInput("12.5 mg", "µg", "10 mg"),
    LabInput("0.45 g", "mg", "500 mg"),
    LabInput("1.5 mg/mL", "µg/µL", "2 g/L"),
    LabInput("37 degC", "degF", "37 degC"),
    LabInput("4 degC", "K", "8 degC"),
    LabInput("-80 degC", "degF", "-65 degC"),
    LabInput("92.5 %", "", "70 %"),
    LabInput("0.25 EU/mL", "EU/L", "0.5 EU/mL"),
    LabInput("5000 IU/mL", "IU/µL", "4000 IU/mL"),
    LabInput("72 h", "min", "3 d"),
)

LimsOperation = tuple[str, str, Measurement]
PintReader = Callable[[str], pint.Quantity]
PintOperation = tuple[PintReader, str, str, pint.Quantity]


def run(operations: int) -> None:
    lims_operations = _lims_operations(operations)
    pint_operations = _pint_operations(operations)
    _lims_seconds(lims_operations[:WARM_UP_OPERATIONS])
    _pint_seconds(pint_operations[:WARM_UP_OPERATIONS])

    lims_rounds: list[tuple[float, int]] = []
    pint_rounds: list[tuple[float, int]] = []
    # Interleaved, so a change in the machine's load falls on both sides.
    for _ in range(ROUNDS):
        lims_rounds.append(_lims_seconds(lims_operations))
        pint_rounds.append(_pint_seconds(pint_operations))
    (lims_best, lims_above), (pint_best, pint_above) = min(lims_rounds), min(pint_rounds)
    if lims_above != pint_above:
        raise RuntimeError(f"the LIMS found {lims_above:,} values above their limit, pint alone {pint_above:,}")

    print(
        f"units: LIMS      {operations / lims_best:>9,.0f} ops/s ({operations:,} parse + convert + compare, "
        f"{min(operations, len(LAB_INPUTS))} distinct inputs, best of {ROUNDS})"
    )
    print(
        f"units: pint alone {operations / pint_best:>8,.0f} ops/s (the same strings and registry; "
        f"{pint_above:,} above their limit on both sides)"
    )
    ratio = lims_best / pint_best
    verdict = "PASS" if OVERHEAD_TARGET.met_by(ratio) else "MISS"
    print(
        f"units: ratio LIMS/pint time {ratio:.2f}× "
        f"(target {OVERHEAD_TARGET.bound} {OVERHEAD_TARGET.ratio:g}×) {verdict}"
    )


def _cycle(operations: int) -> list[LabInput]:
    return [LAB_INPUTS[index % len(LAB_INPUTS)] for index in range(operations)]


def _lims_operations(operations: int) -> list[LimsOperation]:
    limits = {lab_input.limit: parse_measurement(lab_input.limit) for lab_input in LAB_INPUTS}
    return [(lab_input.typed, lab_input.shown_in, limits[lab_input.limit]) for lab_input in _cycle(operations)]


def _pint_operations(operations: int) -> list[PintOperation]:
    readers = {lab_input.typed: _pint_reader(lab_input.typed) for lab_input in LAB_INPUTS}
    limits = {lab_input.limit: _pint_reader(lab_input.limit)(lab_input.limit) for lab_input in LAB_INPUTS}
    return [
        (readers[lab_input.typed], lab_input.typed, lab_input.shown_in, limits[lab_input.limit])
        for lab_input in _cycle(operations)
    ]


def _pint_reader(text: str) -> PintReader:
    """pint's expression parser where it accepts ``text``, else its value-and-unit form for offset temperatures."""
    try:
        registry.Quantity(text)
    except pint.OffsetUnitCalculusError:
        return _offset_temperature
    return registry.Quantity


def _offset_temperature(text: str) -> pint.Quantity:
    value, _space, unit = text.partition(" ")
    return registry.Quantity(Decimal(value), unit)


def _lims_seconds(operations: list[LimsOperation]) -> tuple[float, int]:
    """Time every operation; return the seconds and how many values were above their limit."""
    above = 0
    started = time.perf_counter()
    for typed, shown_in, limit in operations:
        above += parse_measurement(typed).to(shown_in).compare(limit) > 0
    return time.perf_counter() - started, above


def _pint_seconds(operations: list[PintOperation]) -> tuple[float, int]:
    """Time every operation; return the seconds and how many values were above their limit."""
    above = 0
    started = time.perf_counter()
    for read, typed, shown_in, limit in operations:
        above += read(typed).to(shown_in) > limit
    return time.perf_counter() - started, above
