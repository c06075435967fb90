"""What a page of the executed batch record PDF costs, against reportlab drawing the same pages with nothing around.

``batch-pdf`` renders the batch record of a batch of ``size`` steps with 1,000 entries at 60 steps (the batch
``batch-review`` reviews: every step performed and verified, a third of the entries corrected) through
:func:`batch_records.pdf.batch_record_pdf`, the record loaded once beforehand, as the download route renders it.

The baseline is a minimal reportlab document with the same pages: the text of each page of the batch record, read
back from the rendered PDF, laid out by reportlab's ``SimpleDocTemplate`` as ``Preformatted`` text (no markup, no
tables, no page furniture), one page of the record a page, in the kit's font and size. It draws the same characters
on the same number of pages, so the ratio is what the kit and the batch record's layout cost on top of the text.
For information the same text is also laid out as one plain-string ``Table`` a page, a row a line, with its grid.

The two (three) renderings alternate after a warm-up, and the medians count.
"""

from __future__ import annotations

import importlib.util
import io
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, PageBreak, Preformatted, SimpleDocTemplate, Table, TableStyle
from sqlalchemy.orm import Session

from batch_records.pdf import batch_record_pdf
from batch_records.service import release
from bench.audit import Target, _print_ratio
from bench.batch import CHEAP_ARGON2, _bench_database, _build_line, _build_reviewed_batch, _review_design
from lims import clock
from lims.app import create_app
from lims.documents.styles import CELL_FONT_SIZE, FONT, GRID, MARGIN, PAGE_HEIGHT
from lims.identity.models import User

PAGE_TARGET = Target("≤", 10)
TIMED_RENDERINGS = 7
#: room for the longest page's lines between the margins (each baseline page must stay one page)
TEXT_HEIGHT = PAGE_HEIGHT - 2 * MARGIN - 24


@dataclass(frozen=True)
class Rendering:
    pages: int
    size: int
    milliseconds: float

    @property
    def per_page(self) -> float:
        return self.milliseconds / self.pages


def _pages_text(pdf: bytes) -> list[list[str]]:
    return [(page.extract_text() or "").splitlines() for page in PdfReader(io.BytesIO(pdf)).pages]


def _document(flowables: list[Flowable]) -> bytes:
    buffer = io.BytesIO()
    SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN, rightMargin=MARGIN, topMargin=MARGIN, bottomMargin=MARGIN
    ).build(flowables)
    return buffer.getvalue()


def _preformatted(pages: list[list[str]]) -> Callable[[], bytes]:
    """The pages as preformatted text, a page of the record a page."""
    leading = min(CELL_FONT_SIZE * 1.25, TEXT_HEIGHT / max(len(lines) for lines in pages))
    style = ParagraphStyle("baseline", fontName=FONT, fontSize=CELL_FONT_SIZE, leading=leading)

    def render() -> bytes:
        flowables: list[Flowable] = []
        for lines in pages:
            flowables += [Preformatted("\n".join(lines), style), PageBreak()]
        return _document(flowables[:-1])

    return render


def _plain_tables(pages: list[list[str]]) -> Callable[[], bytes]:
    """The pages as a table of plain strings each, a row a line, with a grid."""
    row_height = min(CELL_FONT_SIZE * 1.25, TEXT_HEIGHT / max(len(lines) for lines in pages))
    style = TableStyle(
        [
            ("FONT", (0, 0), (-1, -1), FONT, CELL_FONT_SIZE),
            ("GRID", (0, 0), (-1, -1), 0.4, GRID),
            ("TOPPADDING", (0, 0), (-1, -1), 0),
            ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
        ]
    )

    def render() -> bytes:
        flowables: list[Flowable] = []
        for lines in pages:
            table = Table([[line] for line in lines], rowHeights=[row_height] * len(lines))
            table.setStyle(style)
            flowables += [table, PageBreak()]
        return _document(flowables[:-1])

    return render


def _measure(renderings: dict[str, Callable[[], bytes]]) -> dict[str, Rendering]:
    """The median time of each rendering, alternated after a warm-up, and the pages and bytes it makes."""
    made = {name: render() for name, render in renderings.items()}  # and a warm-up
    times: dict[str, list[float]] = {name: [] for name in renderings}
    # Alternating keeps every rendering equally exposed to the machine's load.
    for _ in range(TIMED_RENDERINGS):
        for name, render in renderings.items():
            started = time.perf_counter()
            render()
            times[name].append(time.perf_counter() - started)
    return {
        name: Rendering(len(PdfReader(io.BytesIO(pdf)).pages), len(pdf), statistics.median(times[name]) * 1000)
        for name, pdf in made.items()
    }


def _accelerated() -> bool:
    """Whether reportlab finds its C accelerator (the ``rl_accel`` package, ``reportlab[accel]``)."""
    return importlib.util.find_spec("_rl_accel") is not None


def run(steps: int) -> None:
    with _bench_database() as engine, tempfile.TemporaryDirectory() as tmp:
        line = _build_line(engine, _review_design("CART-PDF", steps))
        batch = _build_reviewed_batch(engine, line, code="CART-PDF", steps=steps, starting_material="W1234 26 000003 J")
        app = create_app(
            {
                "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "INSTANCE_PATH": f"{tmp}/instance",
                "SECRET_KEY": "bench",
            }
        )
        try:
            localtime = app.jinja_env.filters["localtime"]
            with Session(engine) as session:
                review = release.review(session, batch.batch_id)
                user = session.get_one(User, line.qa_id)

                def record() -> bytes:
                    return batch_record_pdf(review, generated_by=user, generated_at=clock.now(), localtime=localtime)

                pages = _pages_text(record())
                measured = _measure(
                    {
                        "record": record,
                        "preformatted": _preformatted(pages),
                        "tables": _plain_tables(pages),
                    }
                )
        finally:
            # Release the SQLite file before the temporary directory goes.
            app.extensions["lims.db"].engine.dispose()

    record_pages = measured["record"].pages
    for name, rendering in measured.items():
        if rendering.pages != record_pages:
            raise RuntimeError(f"the {name} baseline has {rendering.pages} pages, not the record's {record_pages}")
    print(f"batch-pdf: password hashing for the run: {CHEAP_ARGON2}")
    print(
        f"batch-pdf: batch of {batch.steps} steps, {batch.entries:,} entries ({batch.corrections:,} corrections); "
        f"reportlab accelerator (rl_accel) {'in use' if _accelerated() else 'NOT installed'}"
    )
    for label, name in (
        ("batch record PDF", "record"),
        ("baseline: preformatted text", "preformatted"),
        ("for information: plain tables", "tables"),
    ):
        rendering = measured[name]
        print(
            f"batch-pdf: {label:<32} {rendering.milliseconds:8.1f} ms {rendering.per_page:6.2f} ms a page "
            f"({rendering.pages} pages, {rendering.size:,} bytes; median of {TIMED_RENDERINGS})"
        )
    _print_ratio(
        "batch-pdf",
        "time a page, batch record/preformatted text",
        measured["record"].milliseconds / measured["preformatted"].milliseconds,
        PAGE_TARGET,
    )
    print(
        "batch-pdf: ratio time a page, batch record/plain tables "
        f"{measured['record'].milliseconds / measured['tables'].milliseconds:.2f}× (for information)"
    )
