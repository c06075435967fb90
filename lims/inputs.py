"""What any input must be before a rule reads it: text the database can store, numbers a column can hold.

A NUL byte in a text, or a number beyond a column's range, makes the database refuse the statement that
carries it (PostgreSQL even refuses a query that merely compares with it). Such input is refused where it
arrives, with a message at its field, so that no request reaches the database with it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from marshmallow import ValidationError, fields
from werkzeug.datastructures import MultiDict
from werkzeug.routing import IntegerConverter, Map

from lims.db import STORABLE_IDS

#: the whole numbers an integer column holds (a 4-byte integer on PostgreSQL)
STORABLE_INTEGERS = range(-(2**31), 2**31)

# Tab, line feed and carriage return are typed in multi-line text; every other C0 control (and DEL) is not text.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def control_character_message(text: str) -> str | None:
    """Why ``text`` cannot be kept, if it holds a control character; None if it can."""
    found = _CONTROL_CHARACTER.search(text)
    if found is None:
        return None
    code = ord(found.group())
    name = "NUL " if code == 0 else ""
    return (
        f"Remove the invisible control character ({name}0x{code:02X}) from this text; "
        "text can hold letters, digits, punctuation, tabs and line breaks."
    )


def printable_name(name: str) -> str:
    """A field name as a message may show it: its control characters replaced."""
    return _CONTROL_CHARACTER.sub("?", name)


def control_character_errors(pairs: Iterable[tuple[str, Any]]) -> dict[str, list[str]]:
    """The messages by field name for the (name, value) pairs whose name or text holds a control character."""
    errors: dict[str, list[str]] = {}
    for name, value in pairs:
        texts = [name, value] if isinstance(value, str) else [name]
        message = next((m for m in map(control_character_message, texts) if m), None)
        if message:
            errors.setdefault(printable_name(name), [message])
    return errors


def texts_in(data: Any, name: str = "") -> Iterator[tuple[str, str]]:
    """(dotted name, text) of every string in form or query values, a JSON body or a schema's input."""
    if isinstance(data, str):
        yield name, data
    elif isinstance(data, MultiDict):
        for key, value in data.items(multi=True):
            yield from texts_in(value, _dotted(name, key))
    elif isinstance(data, Mapping):
        for key, value in data.items():
            yield from texts_in(value, _dotted(name, key))
    elif isinstance(data, list | tuple):
        for index, value in enumerate(data):
            yield from texts_in(value, _dotted(name, index))


def _flat_texts(data: Any) -> list[str] | None:
    """The names and texts of a flat mapping (a form's fields, a manifest's row), for one search of them all when
    nothing is wrong, as is usual; None for anything nested, which is walked field by field."""
    if not isinstance(data, dict) or isinstance(data, MultiDict):  # a MultiDict's items() hides repeated values
        return None
    texts: list[str] = []
    for key, value in data.items():
        if not isinstance(key, str):
            return None
        texts.append(key)
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, Mapping | list | tuple):
            return None
    return texts


def _dotted(name: str, key: Any) -> str:
    return f"{name}.{key}" if name else str(key)


def refuse_control_characters(data: Any) -> None:
    """Raise a ValidationError naming each field of ``data`` whose text holds a control character."""
    flat = _flat_texts(data)
    if flat is not None and _CONTROL_CHARACTER.search("\n".join(flat)) is None:
        return
    errors = control_character_errors(texts_in(data))
    if errors:
        raise ValidationError(errors)


def _whole_numbers_up_to(largest: int) -> str:
    """A pattern matching the numbers from 1 to ``largest`` as written, without leading zeros."""
    digits = str(largest)
    shorter = [rf"[1-9]\d{{0,{len(digits) - 2}}}"] if len(digits) > 1 else []
    same_length = []
    for position, digit in enumerate(digits):
        lowest = "1" if position == 0 else "0"
        if int(digit) > int(lowest):
            rest = len(digits) - position - 1
            same_length.append(rf"{digits[:position]}[{lowest}-{int(digit) - 1}]\d{{{rest}}}")
    return "(?:" + "|".join([*shorter, *same_length, digits]) + ")"


class WholeNumber(fields.Integer):
    """A whole number within what a column holds: a count, a day, a page, or (``within=STORABLE_IDS``) an id.

    Beyond that range it is refused with the field's ``out_of_range`` message, before any rule or query
    reads it.
    """

    def __init__(self, *, within: range = STORABLE_INTEGERS, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.error_messages.setdefault("out_of_range", "Enter a whole number from {min} to {max}.")
        self.within = within

    def _validated(self, value: Any) -> int:
        number = super()._validated(value)
        if number not in self.within:
            raise self.make_error("out_of_range", min=self.within[0], max=self.within[-1])
        return number


def record_id(message: str | None = None, **kwargs: Any) -> WholeNumber:
    """A field naming a record by its id; ``message`` answers a missing, malformed or impossible id.

    Without a message of its own, an impossible id is answered as the field's malformed one: a number no
    record can have is a choice not on the list.
    """
    given = kwargs.pop("error_messages", {})
    messages = {"out_of_range": message or given.get("invalid") or "There is no record with this id."}
    if message:
        messages |= {"required": message, "invalid": message}
    return WholeNumber(within=STORABLE_IDS, error_messages=messages | given, **kwargs)


class RecordIdConverter(IntegerConverter):
    """A record id in an address (``<int:batch_id>``): a whole number an id can be; any other is no page.

    The pattern itself admits only those numbers: the router then answers any other with 404 whatever the
    method, where a range check after matching would answer a POST with 405 when a GET shares the address.
    """

    regex = _whole_numbers_up_to(STORABLE_IDS[-1])

    def __init__(self, url_map: Map) -> None:
        super().__init__(url_map, min=STORABLE_IDS[0], max=STORABLE_IDS[-1])
