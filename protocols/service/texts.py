"""The texts the protocol rules keep, checked whichever way they arrive (forms, the API, a ClinicalTrials.gov file).

A text is kept whole or refused with the reason: it must fit its column and hold no control character
(XML, and so the ODM export, cannot carry one).
"""

from __future__ import annotations

from sqlalchemy.orm import InstrumentedAttribute

from lims.inputs import control_character_message
from protocols.errors import ControlCharacterInText, TextTooLong


def refuse_control_characters(**texts: str | None) -> None:
    """Refuse the first of ``texts`` (field name → text) that holds a control character, at its field.

    Forms and the API refuse them already (``lims.web.FormSchema``); this holds the rule for the command line, a
    ClinicalTrials.gov file and any other caller of the protocol rules.
    """
    for field, text in texts.items():
        if text is not None and (message := control_character_message(text)):
            raise ControlCharacterInText(message, field=field)


def refuse_longer_than_column(text: str, column: InstrumentedAttribute[str | None], what: str, *, field: str) -> str:
    """``text`` if the ``column`` holds it whole; else refused, naming ``what`` and both lengths."""
    length = getattr(column.property.columns[0].type, "length", None)
    if length is not None and len(text) > length:
        raise TextTooLong(f"{what} is {len(text)} characters long; it holds at most {length}.", field=field)
    return text
