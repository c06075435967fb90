"""CSV exports that are safe to open in a spreadsheet: every export writes its lines through here."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator
from typing import Any

_FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: Any) -> str:
    """Render a cell so that no spreadsheet evaluates it as a formula."""
    cell = "" if value is None else str(value)
    return f"'{cell}" if cell.startswith(_FORMULA_TRIGGERS) else cell


def csv_lines(header: Iterable[str], rows: Iterable[Iterable[Any]]) -> Iterator[str]:
    """The header's line, then one line per row, each produced as it is read (exports stream)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)

    def line(cells: Iterable[Any]) -> str:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow([spreadsheet_safe(cell) for cell in cells])
        return buffer.getvalue()

    yield line(header)
    for row in rows:
        yield line(row)
