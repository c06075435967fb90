"""Typed text appears as typed: never read as markup, never breaking the document."""

from __future__ import annotations

import pytest
from reportlab.platypus import Paragraph

from lims.documents.markup import text
from lims.documents.styles import BODY, drawable_characters
from lims.documents.tables import fields, grid
from tests.lims.documents.conftest import fonts_of, pages_of

MARKUP = "<b>not bold</b> & <font color='red'>x</font> <br/> &amp;"


def test_markup_typed_by_a_user_is_shown_literally_and_in_the_plain_face(render):
    pdf = render(
        [
            Paragraph(text(f"Body {MARKUP}"), BODY),
            fields([("Reason", text(f"Field {MARKUP}"))]),
            grid(["Typed"], [[text(f"Cell {MARKUP}")]], [1]),
        ]
    )
    record = " ".join(pages_of(pdf))
    for where in ("Body", "Field", "Cell"):
        assert f"{where} {MARKUP}" in record
    assert not any("Bold" in font for drawn, fonts in fonts_of(pdf).items() if "not bold" in drawn for font in fonts)


def test_control_characters_show_as_a_replacement_mark_and_line_breaks_are_kept():
    assert text("a\x00b\x07c\x1bd\x7fe\x9ff") == "a\ufffdb\ufffdc\ufffdd\ufffde\ufffdf"
    assert text("line 1\r\nline 2\rline 3\nline\t4") == "line 1<br/>line 2<br/>line 3<br/>line 4"
    assert text("zero\u200bwidth \u202eoverride\ufeff") == "zerowidth override"
    assert text(None) == text("") == "—" and text(0) == "0"


def test_a_nul_byte_and_other_control_characters_render_and_read_back_marked(render):
    record = " ".join(
        pages_of(render([fields([("Remark", text("before\x00after\x01end"))]), Paragraph(text("body\x00text"), BODY)]))
    )
    assert "before\ufffdafter\ufffdend" in record and "body\ufffdtext" in record
    assert "\x00" not in record


def test_a_ten_thousand_character_word_wraps_within_its_column_across_pages(render):
    word = "q" * 10_000
    pdf = render(
        [
            Paragraph(text(word), BODY),
            fields([("Word", text(word))]),
            grid(["Narrow", "Wide"], [[text(word), "short"]], [1, 2]),
        ]
    )
    pages = pages_of(pdf)
    assert len(pages) > 3
    assert "".join(pages).count("q") == 3 * 10_000
    assert all(len(line) < 200 for line in fonts_of(pdf)), "a line ran past its column"


def test_non_latin_text_and_emoji_render(render):
    sample = "Ωμέγα Привет Žluťoučký"
    missing = set(sample) - drawable_characters() - {" "}
    if missing:
        pytest.skip(f"the installed font cannot draw {sorted(missing)}")
    pdf = render(
        [
            Paragraph(text(f"{sample} 😀"), BODY),
            fields([("Name", text(sample))]),
            grid(["Name"], [[text(f"{sample} 😀")]], [1]),
        ]
    )
    record = " ".join(pages_of(pdf))
    assert record.count(sample) == 3


def test_a_character_the_font_cannot_draw_shows_as_a_replacement_mark(render):
    if "中" in drawable_characters():
        pytest.skip("the installed font draws CJK")
    record = " ".join(pages_of(render([fields([("Name", text("Name: 中文 ok"))])])))
    assert "Name: \ufffd\ufffd ok" in record
