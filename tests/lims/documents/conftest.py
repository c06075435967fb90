"""Render kit documents and read them back from the PDF's own text."""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader
from reportlab.platypus import Flowable

from lims.documents.template import Document
from lims.documents.times import LocalTime, Times

GENERATED_AT = datetime(2030, 4, 10, 8, 0, 0, tzinfo=UTC)
IDENTITY = [
    ("Chain of identity", "Subject HLX001-DE01-0007 (HLX-001) · batch CART-001-000042"),
    ("Product", "Autologous CAR-T"),
]


def localtime_in(zone: str) -> LocalTime:
    """What the app's ``localtime`` filter does with a display time zone of ``zone``."""

    def localtime(moment: datetime | None, with_seconds: bool = False) -> str:
        if moment is None:
            return "—"
        return moment.astimezone(ZoneInfo(zone)).strftime(
            "%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z"
        )

    return localtime


BERLIN = Times(localtime_in("Europe/Berlin"))


def pages_of(pdf: bytes) -> list[str]:
    """Each page's text, whitespace runs made single spaces."""
    assert pdf.startswith(b"%PDF-")
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(pdf)).pages]


def fonts_of(pdf: bytes) -> dict[str, set[str]]:
    """The text drawn, each piece with the names of the fonts it is drawn in."""
    drawn: dict[str, set[str]] = {}
    for _page, text, _x, _y, font in placed_text(pdf):
        drawn.setdefault(text, set()).add(font)
    return drawn


def placed_text(pdf: bytes) -> list[tuple[int, str, float, float, str]]:
    """Every piece of text drawn: page, text, where (x, y) and in which font; sorted."""
    placed: list[tuple[int, str, float, float, str]] = []
    for number, page in enumerate(PdfReader(io.BytesIO(pdf)).pages):

        def visit(
            text: str, cm: list[float], tm: list[float], font: dict | None, _size: float, number: int = number
        ) -> None:
            if text.strip() and font is not None:
                placed.append(
                    (number, text.strip(), round(cm[4] + tm[4], 2), round(cm[5] + tm[5], 2), str(font["/BaseFont"]))
                )

        page.extract_text(visitor_text=visit)
    return sorted(placed)


@pytest.fixture
def render() -> Callable[..., bytes]:
    """A document with the usual furniture around ``content``."""

    def render_document(
        content: Sequence[Flowable],
        *,
        title: str = "Test document",
        times: Times = BERLIN,
        identity: Sequence[tuple[str, str]] = IDENTITY,
        generated_by: str = "Quinn Okafor",
        marking: str | None = None,
    ) -> bytes:
        return Document(
            title=title,
            identity=identity,
            generated_by=generated_by,
            generated_at=GENERATED_AT,
            times=times,
            marking=marking,
        ).render(content)

    return render_document
