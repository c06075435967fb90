"""The samples' papers: the chain-of-custody form that travels in the box (a bar code per sample) and the labels
the lab sticks on received samples (Code 128 of the accession number, at a label printer's size). Every document
and export is audited as generated."""

from __future__ import annotations

import io
from collections.abc import Sequence

from reportlab.graphics.barcode.code128 import Code128
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, Paragraph, Table, TableStyle
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import chain as audit_chain
from lims.documents.markup import drawable, text
from lims.documents.styles import BODY, BOLD_FONT, CELL, CELL_BOLD, FONT, GRID, H2, SHADE, TITLE, WIDTH
from lims.documents.tables import fields
from lims.documents.template import Document
from lims.documents.times import LocalTime, Times
from lims.identity.models import User
from lims.samples.models import Sample, Submission
from lims.samples.service.submissions import samples_of

#: a common thermal label (2.25 × 1.25 in), one label a page as label printers take them
LABEL_SIZE = (57 * mm, 32 * mm)
BAR_WIDTH = 0.25 * mm


def record_export(session: Session, submission: Submission, what: str) -> None:
    audit_chain.record(session, "samples.exported", entity=submission, details={"export": what})


def custody_form(session: Session, submission: Submission, *, user: User, localtime: LocalTime) -> bytes:
    """The chain-of-custody form of a submitted manifest: each sample with its bar code, and the hand-over lines."""
    samples = samples_of(session, submission)
    times = Times(localtime)
    document = Document(
        title="Chain-of-custody form",
        identity=[
            ("Submission", f"{submission.reference} ({submission.public_id})"),
            ("Client", submission.organization.name),
        ],
        generated_by=user.full_name,
        generated_at=clock.now(),
        times=times,
    )
    content: list[Flowable] = [
        Paragraph("Chain-of-custody form", TITLE),
        fields(
            [
                ("Client", text(submission.organization.name)),
                ("Submission", text(f"{submission.reference} ({submission.public_id})")),
                ("Submitted", text(times.local(submission.submitted_at))),
                ("Samples", text(str(len(samples)))),
            ]
        ),
        Paragraph("Samples in this shipment", H2),
        _sample_table(samples, times),
        Paragraph("Hand-overs", H2),
        Paragraph("Each person who takes the box signs and dates it, with the temperature inside.", BODY),
        _handover_table(),
    ]
    pdf = document.render(content)
    audit_chain.record(
        session, "report.generated", entity=submission, details={"report": "chain-of-custody form", "bytes": len(pdf)}
    )
    return pdf


def _sample_table(samples: Sequence[Sample], times: Times) -> Table:
    widths = [0.05, 0.3, 0.2, 0.15, 0.3]
    header = ["#", "Client sample id, type", "Collected, quantity", "Container, storage", "Bar code"]
    rows: list[list[Flowable | str]] = [[Paragraph(text(title), CELL_BOLD) for title in header]]
    for sample in samples:
        rows.append(
            [
                Paragraph(text(str(sample.line)), CELL),
                Paragraph(f"<b>{text(sample.client_sample_id)}</b><br/>{text(sample.sample_type)}", CELL),
                Paragraph(f"{text(times.local(sample.collected_at))}<br/>{text(sample.quantity)}", CELL),
                Paragraph(f"{text(sample.container)}<br/>{text(sample.storage_requirement)}", CELL),
                _barcode(sample.client_sample_id),
            ]
        )
    table = Table(rows, colWidths=[width * WIDTH for width in widths], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("GRID", (0, 0), (-1, -1), 0.4, GRID),
                ("BACKGROUND", (0, 0), (-1, 0), SHADE),
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
            ]
        )
    )
    return table


def _barcode(value: str) -> Flowable:
    """Code 128 of ``value`` (a sample's id), with the text under it, as a scanner at receipt reads it."""
    return Code128(drawable(value), barHeight=9 * mm, barWidth=BAR_WIDTH, humanReadable=True, fontName=FONT)


def _handover_table() -> Table:
    header = ["Hand-over", "Name", "Signature", "Date and time", "Temperature"]
    rows = [
        header,
        ["Packed by the client", "", "", "", ""],
        ["Courier", "", "", "", ""],
        ["Received by the lab", "", "", "", ""],
    ]
    table = Table(
        [[Paragraph(text(cell), CELL_BOLD if index == 0 else CELL) for cell in row] for index, row in enumerate(rows)],
        colWidths=[WIDTH * share for share in (0.22, 0.22, 0.22, 0.2, 0.14)],
        rowHeights=[None, 12 * mm, 12 * mm, 12 * mm],
    )
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, GRID), ("BACKGROUND", (0, 0), (-1, 0), SHADE)]))
    return table


def labels(session: Session, samples: Sequence[Sample], *, about: Submission | Sample) -> bytes:
    """Labels for received samples, one a page at a label printer's size: the accession number as Code 128 and
    in text, the client's id and the sample type."""
    buffer = io.BytesIO()
    canvas = Canvas(buffer, pagesize=LABEL_SIZE)
    canvas.setTitle("Sample labels")
    width, height = LABEL_SIZE
    for sample in samples:
        number = sample.accession_number or ""
        barcode = Code128(number, barHeight=11 * mm, barWidth=BAR_WIDTH, humanReadable=False)
        barcode.drawOn(canvas, max(0.0, (width - barcode.width) / 2), height - 15 * mm)
        canvas.setFont(BOLD_FONT, 9)
        canvas.drawCentredString(width / 2, height - 19.5 * mm, number)
        canvas.setFont(FONT, 7)
        canvas.drawCentredString(width / 2, height - 23.5 * mm, drawable(sample.client_sample_id)[:40])
        canvas.drawCentredString(width / 2, height - 27 * mm, drawable(sample.sample_type)[:40])
        canvas.showPage()
    canvas.save()
    pdf = buffer.getvalue()
    audit_chain.record(
        session, "report.generated", entity=about, details={"report": "sample labels", "labels": len(samples)}
    )
    return pdf
