"""Text for reportlab's paragraph mini-markup. Typed or stored text goes through :func:`text`, and only there."""

from __future__ import annotations

import unicodedata
from xml.sax.saxutils import escape

from lims.documents.styles import WARNING_HEX, drawable_characters

#: drawn in place of a character the font cannot show, so the reader sees that something is there
REPLACEMENT = "\ufffd"
EMPTY = "—"


def text(value: object) -> str:
    """``value`` as markup that shows exactly what was typed: ``<``, ``&`` and ``>`` appear literally and line
    breaks are kept; otherwise as :func:`drawable`. ``None`` and "" show as "—".

    A word longer than its column is split where it reaches the edge (reportlab's ``splitLongWords``)."""
    if value is None or value == "":
        return EMPTY
    return escape(drawable(str(value))).replace("\n", "<br/>")


def drawable(typed: str) -> str:
    """``typed`` with line breaks made ``\\n`` and tabs spaces; control characters and characters the font has no
    glyph for replaced by "�", and invisible format characters (zero-width spaces, direction overrides) dropped."""
    typed = typed.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    undrawable = set(typed) - drawable_characters() - {"\n"}
    if undrawable:
        typed = typed.translate(
            {ord(character): "" if unicodedata.category(character) == "Cf" else REPLACEMENT for character in undrawable}
        )
    return typed


def warning(markup: str) -> str:
    """Markup shown bold in the warning colour."""
    return f'<font color="{WARNING_HEX}"><b>{markup}</b></font>'
