"""Page-by-page listing of query results: numbered pages for the web, keyset pages for the API."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, literal, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

#: how many matches a picker (``lims.pickers``) offers at a time: enough to choose from on a tablet, bounded at any
#: size of the table it picks from
PICKER_SIZE = 20
#: how many matching records that may not be chosen a picker names, each with why
REFUSED_SHOWN = 5


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    @property
    def has_next(self) -> bool:
        return self.number < self.pages


def paginate(session: Session, query: Select[T], *, page: int, per_page: int) -> Page[T]:
    """Return page ``page`` (from 1) of ``query``; a page past the end is the last page."""
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    number = min(max(1, page), max(1, math.ceil(total / per_page)))
    items = list(session.scalars(query.limit(per_page).offset((number - 1) * per_page)))
    return Page(items=items, number=number, per_page=per_page, total=total)


@dataclass(frozen=True)
class KeysetPage(Generic[T]):
    """A page that goes on after a sort key rather than at an offset."""

    items: list[T]
    #: the sort key of the last item when more follow, else None
    next_key: tuple[Any, ...] | None


def page_after(
    session: Session,
    query: Select[*tuple[Any, ...]],
    key: Sequence[InstrumentedAttribute[Any]],
    *,
    after: tuple[Any, ...] | None,
    limit: int,
    descending: bool = False,
    key_of: Callable[[Any], tuple[Any, ...]] | None = None,
) -> KeysetPage[Any]:
    """Up to ``limit`` rows of ``query`` in the order of ``key`` (unique together), from just after ``after``.

    Rows are the query's entity when it selects one thing, else its row tuples; ``key_of`` reads a row's
    key (by default the ``key`` attributes of the entity).
    """
    if after is not None:
        position, bound = (
            tuple_(*key),
            tuple_(*(literal(value, column.type) for column, value in zip(key, after, strict=True))),
        )
        query = query.where(position < bound if descending else position > bound)
    query = query.order_by(*(column.desc() if descending else column.asc() for column in key)).limit(limit + 1)
    result = session.execute(query)
    rows = list(result.scalars() if len(query.column_descriptions) == 1 else result.all())
    read_key = key_of or (lambda row: tuple(getattr(row, column.key) for column in key))
    shown = rows[:limit]
    # One row more than a page tells whether another page follows, without counting every match.
    return KeysetPage(shown, read_key(shown[-1]) if len(rows) > limit else None)
