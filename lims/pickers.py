"""Pickers for records of a table that grows (equipment, lots, subjects): a search field and the first matches that
may be chosen, found, filtered and limited in SQL, continued by keyset; they work without JavaScript.

A page holds several pickers; its address says which one was searched (``?picker=<key>&find=<text>&after=<cursor>``)
and the others show their first matches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from flask import request
from marshmallow import fields, validate

from lims.api.paging import Cursor
from lims.pagination import PICKER_SIZE, KeysetPage
from lims.web import FormSchema, Trimmed, load_input, refusals_answered, refuse

T = TypeVar("T")

BAD_SEARCH = "This list cannot go on from there: search again."


class PickerSearchSchema(FormSchema):
    """A search in one of a page's pickers: which picker, the text typed, and the key its list goes on after."""

    picker = Trimmed(load_default="", validate=validate.Length(max=64))
    find = Trimmed(load_default="", validate=validate.Length(max=100))
    after = fields.String(load_default=None, validate=validate.Length(max=400))


@dataclass(frozen=True)
class PickerSearch:
    """What the page's address asks of its pickers."""

    picker: str = ""
    text: str = ""
    after: str | None = None

    def of(self, key: str) -> PickerSearch:
        """What picker ``key`` is asked: the search when it is the one searched, else its first matches."""
        return self if key == self.picker else PickerSearch(key)


def picker_search() -> PickerSearch:
    """Read the picker search from the address; a malformed one is refused with the reason."""
    with refusals_answered(lambda errors, status: refuse(status, BAD_SEARCH, errors)):
        data = load_input(PickerSearchSchema(), request.args)
    return PickerSearch(data["picker"], data["find"], data["after"])


@dataclass(frozen=True)
class Picker:
    """One picker as a page draws it (``lims/templates/_picker.html``)."""

    #: names the picker in the address and the page's element ids, e.g. ``equipment-centrifuge``
    key: str
    #: the label of the choice, e.g. "Centrifuge used"
    label: str
    #: what a search looks in, e.g. "asset tag or name"
    searched_in: str
    #: the form field the chosen id is posted as
    name: str
    #: (id, text) of the matches that may be chosen, at most PICKER_SIZE
    options: list[tuple[int, str]]
    #: the text searched ("" for every record)
    text: str = ""
    #: whether these matches go on after an earlier page of them
    continued: bool = False
    #: the cursor of the next matches, None on the last page
    next_after: str | None = None
    #: matching records that may not be chosen, each with why (at most REFUSED_SHOWN)
    refused: Sequence[str] = field(default_factory=list)
    #: what the select shows when nothing matches, e.g. "No usable centrifuge"
    none_text: str = "Nothing matches"

    @property
    def size(self) -> int:
        return PICKER_SIZE

    def keeping(self, chosen: tuple[int, str] | None) -> Picker:
        """The picker offering ``chosen`` too, first (a choice posted from another page of matches, shown again
        with a refusal of the rest of its form)."""
        if chosen is None or chosen[0] in {value for value, _text in self.options}:
            return self
        return replace(self, options=[chosen, *self.options])


def picker(
    key: str,
    search: PickerSearch,
    cursor: Cursor,
    find: Callable[[str, tuple[Any, ...] | None], KeysetPage[T]],
    option: Callable[[T], tuple[int, str]],
    *,
    refused: Callable[[str], Sequence[str]] | None = None,
    **presentation: Any,
) -> Picker:
    """Build picker ``key``: ``find(text, after)`` pages the matches that may be chosen, ``cursor`` reads and writes
    its sort key, ``refused(text)`` names the matches that may not be."""
    asked = search.of(key)
    after = None
    if asked.after is not None:
        with refusals_answered(lambda errors, status: refuse(status, BAD_SEARCH, errors)):
            after = cursor.deserialize(asked.after)
    found = find(asked.text, after)
    return Picker(
        key,
        options=[option(item) for item in found.items],
        text=asked.text,
        continued=after is not None,
        next_after=cursor.serialize("next_key", found),
        refused=refused(asked.text) if refused else [],
        **presentation,
    )
