"""Tables: a header row repeated on every page, cells that wrap, bold where asked, split within long rows."""

from __future__ import annotations

import io

from pypdf import PdfReader
from reportlab.platypus import Paragraph, Table

from lims.documents import tables
from lims.documents.markup import text, warning
from lims.documents.tables import PlainLines, fields, grid
from tests.lims.documents.conftest import fonts_of, pages_of, placed_text

HEADER = ["Parameter", "Value", "Entered by"]


def rows(count: int) -> list[list[str]]:
    return [
        [text(f"Volume of bag {number}"), f"<b>{number} mL</b>", f"{text('Tran Nguyen')}<br/>2030-04-10 10:00"]
        for number in range(count)
    ]


def test_a_table_longer_than_a_page_repeats_its_header_row_on_every_page(render):
    pages = pages_of(render([grid(HEADER, rows(200), [2, 1, 2])]))
    assert len(pages) >= 3
    for page in pages:
        assert "Parameter Value Entered by" in page
    record = " ".join(pages)
    assert all(f"Volume of bag {number} {number} mL Tran Nguyen" in record for number in range(200))


def test_a_row_taller_than_a_page_is_split_within_the_row_and_loses_no_line(render):
    long_text = "<br/>".join(f"line {number:03d} of the investigation" for number in range(150))
    record = " ".join(pages_of(render([fields([("Investigation", long_text), ("Conclusion", text("No impact"))])])))
    assert all(f"line {number:03d} of the investigation" in record for number in range(150))
    assert "Conclusion No impact" in record


def test_text_wider_than_its_column_wraps_onto_more_lines(render):
    sentence = "Feed the culture per SOP-EXP-001; inspect the bag for leaks and note the viable cell count."
    pdf = render([grid(["Instruction", "Notes"], [[text(sentence), ""]], [1, 3])])
    lines = [drawn for drawn in fonts_of(pdf) if drawn in sentence]
    assert len(lines) >= 3 and " ".join(lines) == sentence


def test_header_labels_and_cells_marked_bold_are_drawn_bold_and_the_rest_plain(render):
    pdf = render(
        [
            grid(HEADER, rows(1), [2, 1, 2]),
            fields([("Status", warning(text("Outside limits"))), ("Reason", text("Count on target"))]),
        ]
    )
    fonts = fonts_of(pdf)
    for bold in ("Parameter", "0 mL", "Status", "Outside limits", "Reason"):
        assert all("Bold" in font for font in fonts[bold]), bold
    for plain in ("Volume of bag 0", "Tran Nguyen", "Count on target"):
        assert not any("Bold" in font for font in fonts[plain]), plain


def test_plain_cells_skip_the_paragraph_parser_and_other_cells_keep_it():
    width = 60 * tables.mm
    assert isinstance(tables._cell(text("Within limits"), width), PlainLines)
    assert isinstance(tables._cell(f"<b>{text('180 mL')}</b>", width), PlainLines)
    assert isinstance(tables._cell(f"{text('Tran Nguyen')}<br/>{text('2030-04-10')}", width), PlainLines)
    assert isinstance(tables._cell(warning(text("Outside limits")), width), Paragraph)
    mixed = tables._cell(f"<b>Correction</b> replacing {text('180 mL')}", width)
    assert isinstance(mixed, PlainLines) and mixed.runs is not None
    assert isinstance(tables._cell("<b>nested <b>bold</b></b>", width), Paragraph)
    assert isinstance(tables._cell("<i>italic</i> and <b>bold</b>", width), Paragraph)
    assert isinstance(tables._cell(text("w" * 200), width), PlainLines)  # cut where a paragraph cuts it
    assert isinstance(tables._cell(text("two  spaces"), width), Paragraph)  # a paragraph folds them
    assert isinstance(tables._cell(text("thin\u2009space"), width), Paragraph)  # and draws it as a space


def varied_tables() -> list[Table]:
    cells = [
        [
            text("Volume of the apheresis bag on receipt"),
            f"<b>{text('180 mL')}</b>",
            text("50–300 mL"),
            text("Within limits"),
            f"{text('Tran Nguyen')}<br/>{text('2030-04-10 10:00:00 CEST')}",
            "",
        ],
        [
            text("Hash"),
            text("content_hash: " + "69f8557ce7f3" * 6 + " meaning: performed"),
            text("9" * 40),
            text("a" + "b" * 60 + "\nsigner_id: 3"),
            text("signed_at: 2030-04-10 08:00:00 UTC " + "x" * 90),
            text("Transcription error: value re-read from the display"),
        ],
        [
            text("Notes"),
            "Verified by <b>Sara Lind</b>",
            "<b>Replaced</b> by the correction below; kept on the record.<br/><b>Late entry</b>: observed at "
            "2030-04-10 09:00:00 UTC. Reason: Tablet flat",
            "<b>A</b> b",
            "<b>Correction</b> replacing 4.5 °C<br/>Observed at 2030-04-10 07:00:00 UTC",
            f"<b>Correction</b> replacing {text('180 mL')} (entered by Tran Nguyen on 2030-04-10 08:00:00 UTC). "
            f"Reason: {text('Transcription error: value re-read from the display <b> & co')}",
        ],
        [
            text("More notes"),
            "",
            "",
            "",
            "",
            "Step<b>4</b> done, <b>several bold words in</b> the middle of a line long enough to wrap, and "
            "<b>Replaced</b> by the correction below; kept on the record: a line of text as long as three",
        ],
        [
            text("Temperature"),
            f"<b>{text('4.5 °C')}</b>",
            text("2–8 °C"),
            warning(text("Outside limits")),
            text("Sara Lind"),
            text("Label smudged & re-read <b> twice; the bag was inspected for leaks"),
        ],
    ]
    return [
        grid(["Parameter", "Value", "Limits", "Judgement", "Entered by", "Notes"], cells, [19, 13, 14, 14, 19, 38]),
        fields(
            [
                (
                    "Instruction",
                    text(
                        "Check the label against the chain-of-identity record; record volume and "
                        "temperature before the bag warms up."
                    ),
                ),
                ("Status", "<b>Completed</b>"),
            ]
        ),
    ]


def test_a_plain_cell_is_drawn_exactly_where_and_how_a_paragraph_would_draw_it(render, monkeypatch):
    plain = [cell for row in varied_tables()[0]._cellvalues for cell in row if isinstance(cell, PlainLines)]
    assert len(plain) >= 22 and sum(cell.runs is not None for cell in plain) == 6, "the bold and regular cells too"
    plain_pdf = render(varied_tables())
    plain = placed_text(plain_pdf)
    monkeypatch.setattr(
        tables,
        "_cell",
        lambda markup, width, *, bold=False: Paragraph(markup, tables.CELL_BOLD if bold else tables.CELL),
    )
    pdf = render(varied_tables())
    assert plain == placed_text(pdf)
    assert shown_pieces(plain_pdf) == shown_pieces(pdf), "each piece of text, spaces included, in the same font"


def shown_pieces(pdf: bytes) -> list[tuple[str, str]]:
    """Each piece of text as drawn (white space kept), in drawing order, with its font."""
    pieces: list[tuple[str, str]] = []
    for page in PdfReader(io.BytesIO(pdf)).pages:
        page.extract_text(
            visitor_text=lambda text, _cm, _tm, font, _size: (
                pieces.append((text, str(font["/BaseFont"]))) if text.strip() and font is not None else None
            )
        )
    return pieces


def test_a_paragraph_cell_breaks_its_lines_once_however_often_its_table_measures_and_splits(render, monkeypatch):
    broken: list[str] = []
    break_lines = Paragraph.breakLines

    def counted(paragraph: Paragraph, width: float):
        broken.append(paragraph.text)
        return break_lines(paragraph, width)

    monkeypatch.setattr(Paragraph, "breakLines", counted)
    judgements = [[text(f"Bag {number}"), warning(text(f"Outside limits {number}"))] for number in range(200)]
    pages = pages_of(render([grid(["Bag", "Judgement"], judgements, [1, 1])]))
    assert len(pages) >= 3 and "Outside limits 199" in pages[-1]
    cells = [paragraph for paragraph in broken if "Outside limits" in paragraph]
    assert sorted(cells) == sorted(judgement for _, judgement in judgements)
