"""What every report shares: its parameters stated, who generated it and when, the audit chain's head at that
moment (the report's own generation event, which every generation records), and its rows written as PDF (with the
documents kit, a page at a time) or as spreadsheet-safe CSV.

A report reads its rows only as they are written, through the session it is given then: a web response writes
them after the request's transaction, with the generation event, is committed.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import chain, islice
from typing import IO, Any
from zoneinfo import ZoneInfo

from reportlab.platypus import Flowable, Paragraph
from sqlalchemy.orm import Session

from lims.audit import chain as audit_chain
from lims.csv_export import csv_lines
from lims.documents.markup import text
from lims.documents.streamed import write_streamed
from lims.documents.styles import BODY, END, TITLE
from lims.documents.tables import fields, grid
from lims.documents.template import Document
from lims.documents.times import Times
from lims.identity.models import RoleName, User

#: rows per table in the PDF: about a page of short rows, so that a table is split at most once or twice
ROWS_PER_TABLE = 30


class Format(enum.StrEnum):
    PDF = "pdf"
    CSV = "csv"
    #: the report's rows as JSON (the API's)
    JSON = "json"


@dataclass(frozen=True)
class Column:
    title: str
    #: relative width in the PDF
    width: float


@dataclass(frozen=True)
class Setting:
    """Where and when a report is generated: how its times are shown, which day is today at the facility."""

    times: Times
    #: the display time zone: the zone of the dates a user types
    zone: ZoneInfo
    today: date
    due_soon_days: int


#: a report's rows, read through the session given when they are written: each row its cells as plain text
Rows = Callable[[Session], Iterable[Sequence[str]]]


@dataclass(frozen=True)
class Content:
    """What a report shows for the parameters asked: them as stated (label, value), and how to read its rows."""

    parameters: list[tuple[str, str]]
    rows: Rows


@dataclass(frozen=True)
class ReportType:
    key: str
    title: str
    #: what the report answers, on the reports page
    purpose: str
    columns: tuple[Column, ...]
    #: who may generate it
    roles: frozenset[RoleName]
    #: the report for validated parameters: checks them against the records, states them, says how to read the rows
    prepare: Callable[[Session, dict[str, Any], Setting], Content]


@dataclass(frozen=True)
class Generation:
    """A report as generated: what it states on every page and in the CSV's first lines."""

    report: ReportType
    content: Content
    generated_by: str
    generated_at: datetime
    #: the audit chain's head when the report was generated: its own generation event
    head_sequence: int
    head_hash: str
    setting: Setting

    @property
    def chain_head(self) -> str:
        return f"event {self.head_sequence}, SHA-256 {self.head_hash}"

    @property
    def stated_parameters(self) -> str:
        return "; ".join(f"{label}: {value}" for label, value in self.content.parameters)

    def filename(self, report_format: Format) -> str:
        return f"{self.report.key}-{self.generated_at:%Y%m%dT%H%M%SZ}.{report_format.value}"


def generate(
    session: Session,
    report: ReportType,
    parameters: dict[str, Any],
    *,
    report_format: Format,
    user: User,
    setting: Setting,
) -> Generation:
    """Check ``parameters`` against the records and record the generation in the audit trail; the rows are read
    when the report is written (:func:`write_pdf`, :func:`csv_report`)."""
    content = report.prepare(session, parameters, setting)
    event = audit_chain.record(
        session,
        "report.generated",
        details={"report": report.title, "format": report_format.value, "parameters": dict(content.parameters)},
    )
    return Generation(
        report=report,
        content=content,
        generated_by=f"{user.full_name} ({user.username})",
        generated_at=event["recorded_at"],
        head_sequence=event["sequence"],
        head_hash=event["hash"],
        setting=setting,
    )


def write_pdf(generation: Generation, session: Session, out: IO[bytes]) -> int:
    """Write the report as PDF to ``out``, reading its rows through ``session``; return the number of pages."""
    document = Document(
        title=generation.report.title,
        identity=[("Parameters", generation.stated_parameters), ("Audit chain head", generation.chain_head)],
        generated_by=generation.generated_by,
        generated_at=generation.generated_at,
        times=generation.setting.times,
    )
    return write_streamed(document, _pdf_content(generation, session), out)


def _pdf_content(generation: Generation, session: Session) -> Iterator[Flowable]:
    report = generation.report
    times = generation.setting.times
    yield Paragraph(text(report.title), TITLE)
    yield fields(
        [
            *((label, text(value)) for label, value in generation.content.parameters),
            ("Generated by", text(generation.generated_by)),
            ("Generated at", "<br/>".join(text(moment) for moment in times.local_and_utc(generation.generated_at))),
            ("Audit chain head", text(generation.chain_head)),
        ]
    )
    header = [column.title for column in report.columns]
    widths = [column.width for column in report.columns]
    rows = iter(generation.content.rows(session))
    count = 0
    while chunk := list(islice(rows, ROWS_PER_TABLE)):
        count += len(chunk)
        yield grid(header, [[text(cell) for cell in row] for row in chunk], widths)
    if count == 0:
        yield Paragraph("No records match these parameters.", BODY)
    yield Paragraph(
        text(
            f"End of the report: {count:,} {'row' if count == 1 else 'rows'}. This document is a rendering of the "
            "electronic records, which remain the original."
        ),
        END,
    )


def csv_report(generation: Generation, session: Session) -> Iterator[str]:
    """The report as CSV lines: first what it states (a label and a value a line), an empty line, then its
    columns' titles and its rows, read through ``session`` as the lines are taken."""
    statement = [
        ("Report", generation.report.title),
        *generation.content.parameters,
        ("Generated by", generation.generated_by),
        ("Generated at (UTC)", Times.utc(generation.generated_at)),
        ("Audit chain head event", str(generation.head_sequence)),
        ("Audit chain head SHA-256", generation.head_hash),
    ]
    return csv_lines(
        statement[0],
        chain(
            statement[1:],
            [()],
            [[column.title for column in generation.report.columns]],
            generation.content.rows(session),
        ),
    )


def json_report(generation: Generation, session: Session) -> Iterator[str]:
    """The report as JSON, written a row at a time (a long report is never held whole): what it states, as the CSV's
    first lines do, then its columns' titles and its rows, read through ``session`` as they are written."""
    stated = {
        "report": generation.report.title,
        "parameters": dict(generation.content.parameters),
        "generated_by": generation.generated_by,
        "generated_at": Times.utc(generation.generated_at),
        "audit_chain_head": {"sequence": generation.head_sequence, "hash": generation.head_hash},
        "columns": [column.title for column in generation.report.columns],
    }
    yield json.dumps(stated, ensure_ascii=False).removesuffix("}") + ', "rows": ['
    for number, row in enumerate(generation.content.rows(session)):
        yield ("," if number else "") + json.dumps(list(row), ensure_ascii=False)
    yield "]}"
