"""The page, the font and the paragraph styles every document uses."""

from __future__ import annotations

import unicodedata
from functools import cache
from pathlib import Path
from typing import Any

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
#: the width of the text column
WIDTH = PAGE_WIDTH - 2 * MARGIN
FONT = "LimsSans"
BOLD_FONT = f"{FONT}-Bold"
WARNING_HEX = "#a61b1b"
GRID = colors.HexColor("#9aa3ad")
SHADE = colors.HexColor("#e8ecf0")
CELL_FONT_SIZE = 8
CELL_LEADING = CELL_FONT_SIZE * 1.25


def _register_fonts() -> None:
    """A Unicode TrueType family (≥, ≤, –, ×, ° are not all in the PDF base fonts): DejaVu if installed, else
    the Bitstream Vera reportlab ships."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    vera = Path(reportlab.__file__).parent / "fonts"
    if (dejavu / "DejaVuSans.ttf").exists() and (dejavu / "DejaVuSans-Bold.ttf").exists():
        files = {
            "": dejavu / "DejaVuSans.ttf",
            "-Bold": dejavu / "DejaVuSans-Bold.ttf",
            "-Italic": dejavu / "DejaVuSans-Oblique.ttf",
            "-BoldItalic": dejavu / "DejaVuSans-BoldOblique.ttf",
        }
        if not all(path.exists() for path in files.values()):
            files["-Italic"], files["-BoldItalic"] = files[""], files["-Bold"]
    else:
        files = {
            "": vera / "Vera.ttf",
            "-Bold": vera / "VeraBd.ttf",
            "-Italic": vera / "VeraIt.ttf",
            "-BoldItalic": vera / "VeraBI.ttf",
        }
    for suffix, path in files.items():
        pdfmetrics.registerFont(TTFont(FONT + suffix, str(path)))
    pdfmetrics.registerFontFamily(
        FONT, normal=FONT, bold=BOLD_FONT, italic=f"{FONT}-Italic", boldItalic=f"{FONT}-BoldItalic"
    )


@cache
def drawable_characters() -> frozenset[str]:
    """The characters the regular and the bold face both draw a glyph for; control and format characters are left
    out even where a font maps them, as they are not meant to be seen."""
    regular, bold = pdfmetrics.getFont(FONT), pdfmetrics.getFont(BOLD_FONT)
    assert isinstance(regular, TTFont) and isinstance(bold, TTFont), "both are registered from TrueType files"
    characters = (chr(code_point) for code_point in regular.face.charToGlyph.keys() & bold.face.charToGlyph.keys())
    return frozenset(character for character in characters if unicodedata.category(character) not in {"Cc", "Cf", "Cs"})


# The styles below name this family: registered on import, no paragraph can be built before the fonts exist.
_register_fonts()


def _style(name: str, size: float, *, bold: bool = False, **extra: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=BOLD_FONT if bold else FONT, fontSize=size, leading=size * 1.25, **extra)


BODY = _style("body", 8.5, spaceAfter=3)
CELL = _style("cell", CELL_FONT_SIZE)
CELL_BOLD = _style("cell-bold", CELL_FONT_SIZE, bold=True)
SMALL = _style("small", 7.5)
SMALL_RIGHT = _style("small-right", 7.5, alignment=TA_RIGHT)
HEADER_TITLE = _style("header-title", 9.5, bold=True)
TITLE = _style("title", 16, bold=True, spaceAfter=6)
H2 = _style("h2", 12, bold=True, spaceBefore=12, spaceAfter=5, keepWithNext=1)
H3 = _style("h3", 9.5, bold=True, spaceBefore=9, spaceAfter=3, keepWithNext=1)
END = _style("end", 7.5, spaceBefore=12)
LABEL = _style("label", 8.5, bold=True, spaceBefore=4, spaceAfter=2, keepWithNext=1)
