"""The texts the protocol rules keep, checked whichever way they arrive (forms, the API, a ClinicalTrials.gov file).

A text is kept whole or refused with the reason: it must fit its column and hold no control character
(XML, and so the ODM export, cannot carry one).
"""

from __future__ import annotations

import re

from sqlalchemy.orm import InstrumentedAttribute

from protocols.errors import ControlCharacterInText, TextTooLong

# Tab, line feed and carriage return are typed in multi-line text; every other C0 control (and DEL) is not text.
_CONTROL_CHARACTER = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def refuse_control_characters(**texts: str | None) -> None:
    """Refuse the first of ``texts`` (field name → text) that holds a control character, at its field."""
    for field, text in texts.items():
        if text is not None and (found := _CONTROL_CHARACTER.search(text)):
            raise ControlCharacterInText(
                f"Remove the invisible control character (0x{ord(found.group()):02X}) from this text; "
                "text can hold letters, digits, punctuation, tabs and line breaks.",
                field=field,
            )


def refuse_longer_than_column(text: str, column: InstrumentedAttribute[str | None], what: str, *, field: str) -> str:
    """``text`` if the ``column`` holds it whole; else refused, naming ``what`` and both lengths."""
    length = getattr(column.property.columns[0].type, "length", None)
    if length is not None and len(text) > length:
        raise TextTooLong(f"{what} is {len(text)} characters long; it holds at most {length}.", field=field)
    return text
