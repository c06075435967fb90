"""The content digest: the SHA-256 of the text a document's content shows, a cell a line, whatever styles it."""

from __future__ import annotations

import hashlib

from reportlab.platypus import KeepTogether, Paragraph, Spacer

from lims.documents.digest import content_digest, content_text
from lims.documents.markup import text, warning
from lims.documents.styles import BODY, H2
from lims.documents.tables import fields, grid


def content(volume: str = "180 mL") -> list:
    return [
        Paragraph("Summary", H2),
        grid(
            ["Parameter", "Value"],
            [[text("Volume"), f"<b>{text(volume)}</b>"], [text("Note"), warning(text("A & B <i>  x"))]],
            [1, 1],
        ),
        Spacer(1, 12),
        KeepTogether([fields([("Reason", text("line one\nline two " + "w" * 300))])]),
        Paragraph(f"<strike>{text('190 mL')}</strike> replaced", BODY),
    ]


def test_the_digest_is_the_sha256_of_each_cells_text_a_line_as_a_reader_sees_it():
    shown = [
        "Summary",
        "Parameter",
        "Value",
        "Volume",
        "180 mL",
        "Note",
        "A & B <i> x",
        "Reason",
        "line one line two " + "w" * 300,
        "190 mL replaced",
    ]
    assert list(content_text(content())) == shown
    assert content_digest(content()) == hashlib.sha256("\n".join(shown).encode()).hexdigest()


def test_any_change_to_what_is_shown_changes_the_digest_and_the_same_content_keeps_it():
    assert content_digest(content()) == content_digest(content())
    assert content_digest(content("181 mL")) != content_digest(content())
