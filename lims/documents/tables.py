"""Tables: label/value fields and grids whose header row repeats on every page they run onto.

Cells are markup (typed text through :func:`lims.documents.markup.text`). Most cells are only text and line breaks,
perhaps all in bold: such a cell is broken into lines here exactly as a paragraph would break it (a word too long for
its column cut where a paragraph cuts it) and drawn as :class:`PlainLines`, which looks the same as the paragraph but
skips reportlab's markup parser and line breaker (most of the time a page took). A cell with other markup, or one a
paragraph would draw differently (a line squeezed to fit, runs of spaces), stays a paragraph
(:class:`CellParagraph`, which breaks its lines once however often the table measures it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from xml.sax.saxutils import unescape

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import stringWidth
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle

from lims.documents.markup import text
from lims.documents.styles import CELL, CELL_BOLD, GRID, SHADE, WIDTH

PADDING = 6
#: only escaped text and line breaks: what :func:`text` makes of typed text
_PLAIN = re.compile(r"(?:[^<&]|&(?:amp|lt|gt);|<br/>)*")
#: all of a cell in bold, e.g. an entered value
_ALL_BOLD = re.compile(r"<b>((?:[^<&]|&(?:amp|lt|gt);|<br/>)*)</b>")
#: the markup of a cell that mixes bold and regular text ("<b>Correction</b> replacing …")
_RUN_TOKEN = re.compile(r"<b>|</b>|<br/>|(?:[^<&]|&(?:amp|lt|gt);)+")
#: a line's pieces of text, each with its font
Runs = list[tuple[str, str]]


class PlainLines(Flowable):
    """Lines of text already broken to fit, drawn in a paragraph style where a paragraph would draw them.

    ``shown`` is the text as it was before it was broken (a word cut at the column's edge whole again), where it
    differs from the lines joined by spaces. ``runs``, where a line mixes bold and regular text, are each line's
    pieces and their fonts (``lines`` then hold their text)."""

    def __init__(
        self,
        lines: list[str],
        font: str,
        size: float,
        leading: float,
        *,
        shown: str | None = None,
        runs: list[Runs] | None = None,
    ) -> None:
        super().__init__()
        self.lines, self.font, self.size, self.leading = lines, font, size, leading
        self.shown = " ".join(lines) if shown is None else shown
        self.runs = runs

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803 (reportlab's names)
        self.width, self.height = availWidth, len(self.lines) * self.leading
        return self.width, self.height

    def split(self, availWidth: float, availHeight: float) -> list[Flowable]:  # noqa: N803
        # As a paragraph splits: never leaving one line behind (it has no orphans).
        fitting = int(availHeight / self.leading)
        if fitting <= 1:
            return []
        if len(self.lines) <= fitting:
            return [self]
        return [
            PlainLines(
                self.lines[:fitting], self.font, self.size, self.leading, runs=self.runs and self.runs[:fitting]
            ),
            PlainLines(
                self.lines[fitting:], self.font, self.size, self.leading, runs=self.runs and self.runs[fitting:]
            ),
        ]

    def drawOn(self, canvas: Canvas, x: float, y: float, _sW: float = 0) -> None:  # noqa: N802, N803 (reportlab's)
        # Drawn in place: a flowable's usual save, move and restore of the graphics state, for each of a table's many
        # cells, cost more than the text. Nothing drawn later relies on what the text sets: the kit's fonts are
        # TrueType, and a text in a TrueType font always names its font first.
        self._draw_at(canvas, x, y)

    def draw(self) -> None:
        self._draw_at(self.canv, 0, 0)

    def _draw_at(self, canvas: Canvas, x: float, y: float) -> None:
        lines = canvas.beginText(x, y + self.height - self.size)
        lines.setFont(self.font, self.size, self.leading)
        if self.runs is None:
            for line in self.lines:
                lines.textLine(line)
        else:
            for runs in self.runs:
                for number, (piece, font) in enumerate(runs, start=1):
                    lines.setFont(font, self.size, self.leading)
                    if number < len(runs):
                        lines.textOut(piece)
                    else:
                        lines.textLine(piece)
        canvas.drawText(lines)


def _cell(markup: str, width: float, *, bold: bool = False) -> Flowable:
    """``markup`` in a column ``width`` wide, as :class:`PlainLines` where that looks the same, else a paragraph."""
    style = CELL_BOLD if bold else CELL
    if not markup:
        return PlainLines([], style.fontName, style.fontSize, style.leading)
    plain = markup
    if match := _ALL_BOLD.fullmatch(markup):
        plain, style = match.group(1), CELL_BOLD
    if _PLAIN.fullmatch(plain):
        shown = [unescape(line) for line in plain.split("<br/>")]
        lines = _broken(shown, style.fontName, style.fontSize, width - 2 * PADDING)
        if lines is not None:
            return PlainLines(lines, style.fontName, style.fontSize, style.leading, shown="\n".join(shown))
    if not bold and (fragments := _bold_and_regular(markup)) is not None:
        broken = _broken_runs(fragments, width - 2 * PADDING)
        if broken is not None:
            text_lines, runs = broken
            return PlainLines(
                text_lines,
                CELL.fontName,
                CELL.fontSize,
                CELL.leading,
                shown="\n".join("".join(text for text, _ in line) for line in fragments),
                runs=runs,
            )
    return CellParagraph(markup, CELL_BOLD if bold else CELL)


def _bold_and_regular(markup: str) -> list[list[tuple[str, bool]]] | None:
    """The lines of ``markup`` that holds only text, line breaks and (unnested) bold, each as its pieces of text
    and whether they are bold; ``None`` for other markup."""
    lines: list[list[tuple[str, bool]]] = [[]]
    bold, at = False, 0
    for token in _RUN_TOKEN.finditer(markup):
        if token.start() != at:
            return None
        at = token.end()
        tag = token.group()
        if tag == "<br/>":
            lines.append([])
        elif tag in ("<b>", "</b>"):
            if bold == (tag == "<b>"):
                return None
            bold = not bold
        else:
            lines[-1].append((unescape(tag), bold))
    return None if bold or at != len(markup) else lines


def _broken_runs(lines: list[list[tuple[str, bool]]], room: float) -> tuple[list[str], list[Runs]] | None:
    """Lines mixing bold and regular text broken to ``room`` as a paragraph of several fragments breaks them
    (reportlab's ``breakLines``: a space measured in its own font, the squeeze allowed by the spaces already on the
    line) and drawn as it draws them (a space with the text it was typed in), or ``None`` where a paragraph would
    draw them otherwise (see :func:`_broken`; a word too long for the column is left to the paragraph)."""
    size, fonts = CELL.fontSize, {False: CELL.fontName, True: CELL_BOLD.fontName}
    texts: list[str] = []
    broken: list[Runs] = []
    for fragments in lines:
        whole = "".join(text for text, _ in fragments)
        words = whole.split(" ")
        if "" in words or len(whole.split()) != len(words):
            return None
        font_of = [fonts[bold] for text, bold in fragments for _ in text]
        runs: Runs = []
        used = spaced = space = 0.0
        start = 0
        for word in words:
            pieces: Runs = []
            for character, font in zip(word, font_of[start : start + len(word)], strict=True):
                _add(pieces, character, font)
            width = sum(stringWidth(piece, font, size) for piece, font in pieces)
            wider = used + space + width
            if runs and wider > room + CELL.spaceShrinkage * (space + spaced):
                texts.append("".join(piece for piece, _ in runs))
                broken.append(runs)
                runs, spaced, wider = [], 0.0, width
            elif runs:
                _add(runs, " ", font_of[start - 1])
                spaced += space
            if wider > room:
                return None
            for piece, font in pieces:
                _add(runs, piece, font)
            used = wider
            start += len(word) + 1
            space = stringWidth(" ", font_of[start - 1], size) if start <= len(font_of) else 0.0
        texts.append("".join(piece for piece, _ in runs))
        broken.append(runs)
    return texts, broken


def _add(runs: Runs, text: str, font: str) -> None:
    if runs and runs[-1][1] == font:
        runs[-1] = (runs[-1][0] + text, font)
    else:
        runs.append((text, font))


class CellParagraph(Paragraph):
    """A paragraph that breaks its lines once per width: a table wraps each cell again when it measures its rows,
    splits across a page and draws, always at the column's width, and breaking the lines is a paragraph's cost."""

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:  # noqa: N803 (reportlab's names)
        broken = self.__dict__.get("_broken_at")
        if broken is not None and broken[0] == availWidth:
            _, self.blPara, self._wrapWidths, self.height = broken
            self.width = availWidth
            return self.width, self.height
        width, height = super().wrap(availWidth, availHeight)
        self._broken_at = (availWidth, self.blPara, self._wrapWidths, height)
        return width, height


class _Piece(str):
    """A piece of a word too long for its column, cut at the column's edge: never cut again."""


def _broken(lines: list[str], font: str, size: float, room: float) -> list[str] | None:
    """``lines`` broken to ``room`` as a paragraph breaks them, or ``None`` where a paragraph would draw them
    otherwise: where it lets a line run over by squeezing its spaces to fit one more word, folds runs of spaces or
    other white space into one space, or drops an empty line. A word too long for the column is cut where it
    reaches the edge, as a paragraph cuts it (``splitLongWords``): from where the line has got to, then a line a
    piece."""
    space = stringWidth(" ", font, size)
    squeeze = CELL.spaceShrinkage * space
    broken: list[str] = []
    for line in lines:
        words = line.split(" ")
        if "" in words or len(line.split()) != len(words):
            return None
        current: list[str] = []
        used = -space
        pending = words[::-1]
        while pending:
            word = pending.pop()
            if isinstance(word, _Piece) and not word:
                # Not one character of the long word fitted after the line's words: the line ends there.
                broken.append(" ".join(current))
                current, used = [], -space
                continue
            width = stringWidth(word, font, size)
            wider = used + space + width
            if wider > room + squeeze * len(current):
                if width > room and not isinstance(word, _Piece):
                    pending += [_Piece(piece) for piece in reversed(_cut(word, used + space, room, font, size))]
                    continue
                if current:
                    broken.append(" ".join(current))
                    current, used = [], -space
                    wider = width
            if wider > room:
                return None
            current.append(word)
            used = wider
        broken.append(" ".join(current))
    return broken


def _cut(word: str, start: float, room: float, font: str, size: float) -> list[str]:
    """``word`` cut into pieces: the first fills the line from ``start``, each other a line of ``room``."""
    pieces: list[str] = []
    piece, used = "", start
    for character in word:
        width = stringWidth(character, font, size)
        if used + width > room and (piece or width <= room):
            pieces.append(piece)
            piece, used = "", 0
        piece += character
        used += width
    return [*pieces, piece]


def _style(shaded: tuple[tuple[int, int], tuple[int, int]]) -> TableStyle:
    return TableStyle(
        [
            ("GRID", (0, 0), (-1, -1), 0.4, GRID),
            ("BACKGROUND", *shaded, SHADE),
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("TOPPADDING", (0, 0), (-1, -1), 2),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
            ("LEFTPADDING", (0, 0), (-1, -1), PADDING),
            ("RIGHTPADDING", (0, 0), (-1, -1), PADDING),
        ]
    )


def fields(rows: Sequence[tuple[str, str]], *, label_width: float = 38 * mm) -> Table:
    """A two-column table of labels (plain text) and values (markup), split between rows or within a long row."""
    value_width = WIDTH - label_width
    table = Table(
        [[_cell(text(label), label_width, bold=True), _cell(value, value_width)] for label, value in rows],
        colWidths=[label_width, value_width],
        splitInRow=1,
    )
    table.setStyle(_style(((0, 0), (0, -1))))
    return table


def grid(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    """A table under a header row (plain text) that is repeated on each page the table runs onto.

    ``rows`` are markup; ``widths`` are relative and scaled to the text column."""
    scale = WIDTH / sum(widths)
    column_widths = [width * scale for width in widths]
    table = Table(
        [
            [_cell(text(title), width, bold=True) for title, width in zip(header, column_widths, strict=True)],
            *[[_cell(cell, width) for cell, width in zip(row, column_widths, strict=True)] for row in rows],
        ],
        colWidths=column_widths,
        repeatRows=1,
        splitInRow=1,
    )
    table.setStyle(_style(((0, 0), (-1, 0))))
    return table
