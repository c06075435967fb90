"""The entries of the unmapped list that both formats write the same way."""

from __future__ import annotations

from collections.abc import Iterable

MESH_TERMS = "MeSH terms (derived)"
STUDY_DATES = "study dates"
OTHER_INTERVENTION_NAMES = "other intervention names"


def counted(label: str, count: int) -> str:
    return f"{label} ({count})"


def valued(label: str, value: str | None) -> str:
    return f"{label}: {value}" if value else label


def outcome_measures(primary: int, secondary: int, other: int) -> str:
    counts = [
        f"{count} {kind}" for count, kind in ((primary, "primary"), (secondary, "secondary"), (other, "other")) if count
    ]
    return valued("outcome measures", ", ".join(counts))


def distinct(entries: Iterable[str]) -> tuple[str, ...]:
    """The entries in their first order, each once."""
    return tuple(dict.fromkeys(entries))
