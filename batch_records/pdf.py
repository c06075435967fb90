"""The executed batch record as a PDF: the document an inspector reads.

Everything shown comes from :func:`batch_records.service.release.review` (plus one query each for the signatures
of the test results and of the deviations). Every page carries the chain of identity in its header and
"page X of Y" with who generated the document and when in its footer. Text typed by users is escaped for
reportlab's paragraph mini-markup, so ``<b>`` or ``&`` appear as typed. Times are shown with the templates'
``localtime`` filter, so the PDF and the pages agree on the display time zone.
"""
from __future__ import annotations

import io
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import reportlab
from reportlab.lib import colors
from reportlab.lib.enums import TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, KeepTogether, Paragraph, SimpleDocTemplate, Table, TableStyle
from sqlalchemy.orm import Session

from batch_records.models import FINAL_BATCH_STATUSES, BatchEntry, BatchParameter, DeviationStatus, StepStatus
from batch_records.service import execution, release
from lims.identity.models import User
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature
from lims.testing.models import TestResult

#: the templates' ``localtime`` filter: ``localtime(moment, with_seconds)`` → text in the display time zone
LocalTime = Callable[..., str]
Signatures = Sequence[tuple[ElectronicSignature, signatures.SignatureStatus]]

PAGE_WIDTH, PAGE_HEIGHT = A4
MARGIN = 15 * mm
#: reportlab's frame pads its content by 6 pt: the document's margins are pulled in by as much
FRAME_PADDING = 6
WIDTH = PAGE_WIDTH - 2 * MARGIN
FONT = "LimsSans"
WARNING_HEX = "#a61b1b"
GRID = colors.HexColor("#9aa3ad")
SHADE = colors.HexColor("#e8ecf0")

#: the signature manifestation's wording (mirrors lims/templates/_signature.html)
SIGNATURE_STATUS_TEXT = {
    signatures.SignatureStatus.VALID: "Valid",
    signatures.SignatureStatus.INVALIDATED: "Invalidated: the record changed after this signature.",
    signatures.SignatureStatus.BROKEN: "Not valid for this record: the signature does not match it.",
}


@cache
def _register_fonts() -> None:
    """A Unicode TrueType family (≥, ≤, –, ×, ° are not all in the PDF base fonts): DejaVu if installed, else
    the Bitstream Vera reportlab ships."""
    dejavu = Path("/usr/share/fonts/truetype/dejavu")
    vera = Path(reportlab.__file__).parent / "fonts"
    if (dejavu / "DejaVuSans.ttf").exists() and (dejavu / "DejaVuSans-Bold.ttf").exists():
        files = {"": dejavu / "DejaVuSans.ttf", "-Bold": dejavu / "DejaVuSans-Bold.ttf",
                 "-Italic": dejavu / "DejaVuSans-Oblique.ttf", "-BoldItalic": dejavu / "DejaVuSans-BoldOblique.ttf"}
        if not all(path.exists() for path in files.values()):
            files["-Italic"], files["-BoldItalic"] = files[""], files["-Bold"]
    else:
        files = {"": vera / "Vera.ttf", "-Bold": vera / "VeraBd.ttf", "-Italic": vera / "VeraIt.ttf",
                 "-BoldItalic": vera / "VeraBI.ttf"}
    for suffix, path in files.items():
        pdfmetrics.registerFont(TTFont(FONT + suffix, str(path)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=f"{FONT}-Bold", italic=f"{FONT}-Italic",
                                  boldItalic=f"{FONT}-BoldItalic")


def _style(name: str, size: float, *, bold: bool = False, **extra: Any) -> ParagraphStyle:
    return ParagraphStyle(name, fontName=f"{FONT}-Bold" if bold else FONT, fontSize=size, leading=size * 1.25,
                          **extra)


BODY = _style("body", 8.5, spaceAfter=3)
CELL = _style("cell", 8)
CELL_BOLD = _style("cell-bold", 8, bold=True)
SMALL = _style("small", 7.5)
SMALL_RIGHT = _style("small-right", 7.5, alignment=TA_RIGHT)
HEADER_TITLE = _style("header-title", 9.5, bold=True)
TITLE = _style("title", 16, bold=True, spaceAfter=6)
H2 = _style("h2", 12, bold=True, spaceBefore=12, spaceAfter=5, keepWithNext=1)
H3 = _style("h3", 9.5, bold=True, spaceBefore=9, spaceAfter=3, keepWithNext=1)
END = _style("end", 7.5, spaceBefore=12)
LABEL = _style("label", 8.5, bold=True, spaceBefore=4, spaceAfter=2, keepWithNext=1)


def text(value: object) -> str:
    """Stored or typed text made literal for reportlab's paragraph markup; its line breaks are kept."""
    if value is None or value == "":
        return "—"
    return escape(str(value).replace("\r\n", "\n")).replace("\n", "<br/>")


def warning(markup: str) -> str:
    return f'<font color="{WARNING_HEX}"><b>{markup}</b></font>'


def batch_record_pdf(review: release.BatchReview, *, generated_by: User, generated_at: datetime,
                     localtime: LocalTime) -> bytes:
    """The executed batch record of ``review.batch`` as PDF bytes.

    ``localtime`` is the app's ``localtime`` template filter (``current_app.jinja_env.filters["localtime"]``),
    so times appear in the configured display time zone exactly as on the pages.
    """
    _register_fonts()
    batch = review.batch
    session = Session.object_session(batch)
    deviation_signatures = signatures.signatures_of_many(session, review.deviations) if session is not None else {}
    record = _Record(localtime)

    flowables: list[Flowable] = [
        Paragraph("Executed batch record", TITLE),
        *record.summary(review),
        Paragraph("Steps", H2),
    ]
    for step_record in review.steps:
        flowables += record.step(step_record)
    flowables.append(Paragraph("Release tests", H2))
    flowables += record.release_tests(review, review.result_signatures)
    flowables.append(Paragraph("Deviations", H2))
    if not review.deviations:
        flowables.append(Paragraph("No deviation was raised on this batch.", BODY))
    for deviation in sorted(review.deviations, key=lambda d: d.id):
        flowables += record.deviation(deviation, deviation_signatures.get(deviation.id, []))
    flowables.append(Paragraph("Disposition", H2))
    flowables += record.disposition(review)
    flowables.append(Paragraph(
        f"End of the executed batch record of batch {text(batch.batch_number)}. This document is a rendering of "
        "the electronic record, which remains the original.", END))

    header = [Paragraph(f"Executed batch record · Batch {text(batch.batch_number)}", HEADER_TITLE),
              Paragraph(f"Chain of identity: {text(batch.chain_of_identity)}", SMALL),
              Paragraph(f"Product: {text(batch.product)} · MBR {text(batch.mbr_label)}", SMALL)]
    generated = (f"Generated by {text(generated_by.full_name)} on {text(localtime(generated_at, True))} "
                 "from the electronic record")
    header_height = sum(paragraph.wrap(WIDTH, PAGE_HEIGHT)[1] for paragraph in header) + 3 * mm
    footer_height = Paragraph(generated, SMALL).wrap(WIDTH - 35 * mm, PAGE_HEIGHT)[1] + 3 * mm

    def furniture(canvas: Canvas, page: int, pages: int) -> None:
        canvas.saveState()
        top = PAGE_HEIGHT - 10 * mm
        for paragraph in header:
            paragraph.drawOn(canvas, MARGIN, top - paragraph.height)
            top -= paragraph.height
        canvas.setStrokeColor(GRID)
        canvas.setLineWidth(0.6)
        canvas.line(MARGIN, top - 1.5 * mm, PAGE_WIDTH - MARGIN, top - 1.5 * mm)
        bottom = 10 * mm
        canvas.line(MARGIN, bottom + footer_height, PAGE_WIDTH - MARGIN, bottom + footer_height)
        left = Paragraph(generated, SMALL)
        left.wrap(WIDTH - 35 * mm, PAGE_HEIGHT)
        left.drawOn(canvas, MARGIN, bottom + footer_height - 1.5 * mm - left.height)
        right = Paragraph(f"Page {page} of {pages}", SMALL_RIGHT)
        right.wrap(35 * mm, PAGE_HEIGHT)
        right.drawOn(canvas, PAGE_WIDTH - MARGIN - 35 * mm, bottom + footer_height - 1.5 * mm - right.height)
        canvas.restoreState()

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=MARGIN - FRAME_PADDING, rightMargin=MARGIN - FRAME_PADDING,
        topMargin=10 * mm + header_height + 4 * mm - FRAME_PADDING,
        bottomMargin=10 * mm + footer_height + 4 * mm - FRAME_PADDING,
        title=f"Executed batch record {batch.batch_number}", author=generated_by.full_name,
        subject=batch.chain_of_identity, creator="GMP LIMS")
    document.build(flowables, canvasmaker=partial(_PagedCanvas, furniture=furniture))
    return buffer.getvalue()


class _PagedCanvas(Canvas):
    """Holds the pages back until the end so each can say "page X of Y"."""

    def __init__(self, *args: Any, furniture: Callable[[Canvas, int, int], None], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._furniture = furniture
        self._pages: list[dict[str, Any]] = []

    def showPage(self) -> None:  # noqa: N802 (reportlab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        for number, state in enumerate(self._pages, start=1):
            self.__dict__.update(state)
            self._furniture(self, number, len(self._pages))
            super().showPage()
        super().save()


def _fields(rows: Sequence[tuple[str, str]], *, label_width: float = 38 * mm) -> Table:
    """A two-column table of labels and values (the values already markup)."""
    table = Table([[Paragraph(text(label), CELL_BOLD), Paragraph(value, CELL)] for label, value in rows],
                  colWidths=[label_width, WIDTH - label_width], splitInRow=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (0, -1), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


def _grid(header: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float]) -> Table:
    """A table with a header row repeated on each page; cells are markup."""
    scale = WIDTH / sum(widths)
    table = Table([[Paragraph(text(title), CELL_BOLD) for title in header],
                   *[[Paragraph(cell, CELL) for cell in row] for row in rows]],
                  colWidths=[width * scale for width in widths], repeatRows=1, splitInRow=1)
    table.setStyle(TableStyle([
        ("GRID", (0, 0), (-1, -1), 0.4, GRID),
        ("BACKGROUND", (0, 0), (-1, 0), SHADE),
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("TOPPADDING", (0, 0), (-1, -1), 2), ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
    ]))
    return table


class _Record:
    """Builds the sections; ``localtime`` formats every time."""

    def __init__(self, localtime: LocalTime) -> None:
        self.localtime = localtime

    def when(self, moment: datetime | None) -> str:
        return text(self.localtime(moment, True))

    def by_at(self, user: User | None, moment: datetime | None) -> str:
        return f"{text(user.full_name if user else None)}<br/>{self.when(moment)}"

    def signatures(self, signed: Signatures, *, unsigned: str = "Not signed yet.") -> list[Flowable]:
        """Each signature's manifestation: printed name, date and time, meaning, and whether it still holds."""
        if not signed:
            return [Paragraph(unsigned, BODY)]
        rows = [[text(signature.printed_name), text(signature.meaning.value.capitalize()),
                 self.when(signature.signed_at),
                 text(SIGNATURE_STATUS_TEXT[status]) if status == signatures.SignatureStatus.VALID
                 else warning(text(SIGNATURE_STATUS_TEXT[status]))]
                for signature, status in signed]
        return [_grid(["Printed name", "Meaning", "Date and time", "Validity"], rows, [28, 16, 30, 46])]

    # Summary

    def summary(self, review: release.BatchReview) -> list[Flowable]:
        batch = review.batch
        disposition = "Not disposed yet"
        if batch.disposition_at is not None:
            disposition = f"{text(batch.status.value.capitalize())} on {self.when(batch.disposition_at)}"
        rows = [
            ("Batch", f"<b>{text(batch.batch_number)}</b>"),
            ("Product", text(batch.product)),
            ("Master batch record", text(batch.mbr_label)),
            ("Subject", f"{text(batch.subject.code)} (protocol {text(batch.subject.protocol.number)})"),
            ("Starting material", text(batch.starting_material_identity)),
            ("Chain of identity", text(batch.chain_of_identity)),
            ("Status", f"<b>{text(batch.status.value.capitalize())}</b>"),
            ("Disposition", disposition),
            ("Disposition reason", text(batch.disposition_reason)),
            ("Created", self.by_at(batch.created_by, batch.created_at)),
            ("Times", "Shown in the display time zone. Entry times are the server's clock when the value was "
                      "recorded; a late entry also states when the operator observed it."),
        ]
        exceptions = [
            ("Out-of-limit entries", len(review.out_of_limit)),
            ("Corrected entries", len(review.corrections)),
            ("Late entries", len(review.late_entries)),
            ("Verification gaps", len(review.verification_gaps)),
            ("Yields outside limits", len(review.yields_outside)),
            ("Deviations (open)", f"{len(review.deviations)} ({len(review.open_deviations)})"),
        ]
        blockers = review.blockers
        flowables: list[Flowable] = [
            Paragraph("Summary", H2), _fields(rows),
            Paragraph("Review by exception", H3),
            _grid([label for label, _ in exceptions], [[text(count) for _, count in exceptions]], [1] * 6),
        ]
        if blockers and batch.status not in FINAL_BATCH_STATUSES:
            flowables.append(Paragraph("Open items before release", LABEL))
            flowables += [Paragraph(f"• {text(blocker)}", BODY) for blocker in blockers]
        return flowables

    # Steps

    def step(self, record: release.StepRecord) -> list[Flowable]:
        step = record.step
        controls = [label for flag, label in ((step.second_person_verification, "second-person verification"),
                                              (step.hold_point, "QA hold point"), (step.skippable, "skippable"))
                    if flag]
        status = text(step.status.value.capitalize())
        rows = [("Stage", text(step.stage)),
                ("Status", status if step.status in {StepStatus.COMPLETED, StepStatus.SKIPPED} else warning(status)),
                ("Instruction", text(step.instruction))]
        if controls:
            listed = ", ".join(controls)
            rows.append(("Controls", text(listed[:1].upper() + listed[1:])))
        if step.equipment_types:
            rows.append(("Equipment required", text(", ".join(kind.value for kind in step.equipment_types))))
        if step.materials:
            rows.append(("Materials required", "<br/>".join(
                f"{text(material.material.part_number)} {text(material.material.name)}: {text(material.quantity)}"
                for material in step.materials)))
        rows += [("Started", self.when(step.started_at)), ("Completed", self.when(step.completed_at)),
                 ("Performed by", text(step.performed_by.full_name if step.performed_by else None))]
        if step.status == StepStatus.SKIPPED or step.skip_reason:
            rows.append(("Skip reason", text(step.skip_reason)))
        flowables: list[Flowable] = [
            Paragraph(f"Step {step.position} · {text(step.title)}", H3), _fields(rows)]
        if step.parameters:
            flowables += [Paragraph("Entries", LABEL), self.entries(step.parameters)]
        if record.uses.equipment or step.equipment_types:
            flowables.append(Paragraph("Equipment used", LABEL))
            flowables.append(_grid(
                ["Asset tag", "Equipment", "Used by", "Used at"],
                [[text(use.equipment.asset_tag), text(use.equipment.name), text(use.user.full_name),
                  self.when(use.used_at)] for use in record.uses.equipment], [18, 42, 20, 20])
                if record.uses.equipment else Paragraph("None recorded.", BODY))
        if record.uses.consumptions or step.materials:
            flowables.append(Paragraph("Material lots consumed", LABEL))
            flowables.append(_grid(
                ["Lot", "Material", "Quantity", "Used by", "Used at"],
                [[text(use.lot.lot_number), f"{text(use.lot.material.part_number)} {text(use.lot.material.name)}",
                  text(use.quantity), text(use.user.full_name), self.when(use.used_at)]
                 for use in record.uses.consumptions], [22, 33, 13, 16, 18])
                if record.uses.consumptions else Paragraph("None recorded.", BODY))
        if step.theoretical_yield is not None:
            flowables += [Paragraph("Yield", LABEL), _fields(self.yield_rows(step))]
        flowables += [Paragraph("Signatures", LABEL), *self.signatures(record.signatures)]
        return flowables

    def yield_rows(self, step: Any) -> list[tuple[str, str]]:
        percent = execution.yield_percent(step)
        within = execution.yield_within_limits(step)
        low, high = step.yield_minimum_percent, step.yield_maximum_percent
        limits = (f"{low} – {high} %" if low is not None and high is not None
                  else f"≥ {low} %" if low is not None else f"≤ {high} %")
        verdict = "—" if within is None else "Within limits" if within else warning("Outside limits")
        return [("Theoretical yield", text(step.theoretical_yield)), ("Actual yield", text(step.actual_yield)),
                ("Yield", "—" if percent is None else f"{text(percent)} % of theoretical"),
                ("Acceptable", text(limits)), ("Judgement", verdict)]

    def entries(self, parameters: Sequence[BatchParameter]) -> Table:
        rows: list[list[str]] = []
        for parameter in parameters:
            name = f"{text(parameter.name)}<br/>[{text(parameter.unit or 'number')}]" + (
                "" if parameter.required else " (optional)")
            limits = self.limits(parameter)
            if not parameter.entries:
                rows.append([name, "<i>Not recorded</i>" if parameter.required else "Not recorded (optional)",
                             limits, "—", "—", ""])
            by_id = {entry.id: entry for entry in parameter.entries}
            for entry in parameter.entries:
                rows.append([name, *self.entry_cells(parameter, entry, by_id)])
        return _grid(["Parameter", "Value", "Limits", "Judgement", "Entered by", "Notes"], rows,
                     [19, 13, 14, 14, 19, 38])

    @staticmethod
    def limits(parameter: BatchParameter) -> str:
        limits = text(parameter.limit)
        if parameter.target is not None:
            limits += f"<br/>target {text(parameter.target)}"
        return limits

    def entry_cells(self, parameter: BatchParameter, entry: BatchEntry,
                    by_id: dict[int, BatchEntry]) -> list[str]:
        value = f"<b>{text(entry.value)}</b>"
        limits = self.limits(parameter)
        if not parameter.limit:
            judgement = "No limits"
        else:
            judgement = "Within limits" if entry.within_limits else warning("Outside limits")
        notes: list[str] = []
        if entry.replaces_id is not None:
            replaced = by_id.get(entry.replaces_id)
            replaced_text = (f"{text(replaced.value)} (entered by {text(replaced.entered_by.full_name)} on "
                             f"{self.when(replaced.entered_at)})" if replaced else f"entry {entry.replaces_id}")
            notes.append(f"<b>Correction</b> replacing {replaced_text}. Reason: {text(entry.correction_reason)}")
        if entry.replaced_by_id is not None:
            value = f"<strike>{text(entry.value)}</strike>"
            notes.append("<b>Replaced</b> by the correction below; kept on the record.")
        if entry.late_reason is not None:
            notes.append(f"<b>Late entry</b>: observed at {self.when(entry.observed_at)}. "
                         f"Reason: {text(entry.late_reason)}")
        elif entry.observed_at is not None:
            notes.append(f"Observed at {self.when(entry.observed_at)}")
        return [value, limits, judgement, self.by_at(entry.entered_by, entry.entered_at), "<br/>".join(notes)]

    # Release tests

    def release_tests(self, review: release.BatchReview, signed: dict[Any, list[Any]]) -> list[Flowable]:
        flowables: list[Flowable] = []
        if not review.release_tests:
            flowables.append(Paragraph("The master record names no release tests.", BODY))
        listed: set[int] = set()
        for state in review.release_tests:
            results = [result for result in review.results if result.definition_id == state.test.definition_id]
            listed.update(result.id for result in results)
            flowables += self.release_test(state, results, signed)
        others = [result for result in review.results if result.id not in listed]
        if others:
            flowables += [Paragraph("Other results on this batch", H3), self.results(others, signed)]
        return flowables

    def release_test(self, state: release.ReleaseTestState, results: list[TestResult],
                     signed: dict[Any, list[Any]]) -> list[Flowable]:
        definition = state.test.definition
        if state.result is None:
            conformity = warning("No result")
        else:
            conformity = "Conforms" if state.result.conforms else warning("Does not conform")
        rows = [("Specification", text(state.test.specification)), ("Method", text(definition.method)),
                ("Current result", "—" if state.result is None else f"<b>{text(state.result.reported)}</b>"),
                ("Conformity", conformity),
                ("Verification", "Verified by a second person" if state.verified
                 else warning("Not verified by a second person"))]
        flowables: list[Flowable] = [Paragraph(f"{text(definition.name)} ({text(definition.code)})", H3),
                                     _fields(rows)]
        if results:
            flowables += [Paragraph("Results", LABEL), self.results(results, signed)]
        return flowables

    def results(self, results: list[TestResult], signed: dict[Any, list[Any]]) -> Table:
        by_id = {result.id: result for result in results}
        rows = []
        for result in results:
            reported = text(result.reported)
            notes = []
            if result.replaced:
                reported = f"<strike>{reported}</strike>"
                notes.append("<b>Replaced</b> by a correction; kept on the record.")
            else:
                reported = f"<b>{reported}</b>"
            if result.replaces_id is not None:
                replaced = by_id.get(result.replaces_id)
                notes.append(f"<b>Correction</b> replacing {text(replaced.reported if replaced else None)}. "
                             f"Reason: {text(result.correction_reason)}")
            verifications = [
                f"{text(signature.printed_name)}, {text(signature.meaning.value.capitalize())}, "
                f"{self.when(signature.signed_at)}"
                + ("" if status == signatures.SignatureStatus.VALID
                   else f" {warning(text(SIGNATURE_STATUS_TEXT[status]))}")
                for signature, status in signed.get(result.id, [])]
            rows.append([reported, text(result.specification),
                         "Conforms" if result.conforms else warning("Does not conform"),
                         self.by_at(result.recorded_by, result.recorded_at), "<br/>".join(notes) or "Current",
                         "<br/>".join(verifications) or "Not verified"])
        return _grid(["Result", "Specification", "Conformity", "Recorded by", "Status", "Verification"], rows,
                     [12, 15, 14, 19, 20, 23])

    # Deviations and disposition

    def deviation(self, deviation: Any, signed: Signatures) -> list[Flowable]:
        step = deviation.step
        status = text(deviation.status.value.capitalize())
        rows = [
            ("Category", text(deviation.category.value.capitalize()) if deviation.category
             else warning("Not classified yet")),
            ("Status", status if deviation.status == DeviationStatus.CLOSED else warning(status)),
            ("Raised", self.by_at(deviation.raised_by, deviation.raised_at)),
            ("Step", f"Step {step.position} · {text(step.title)}" if step is not None else "—"),
        ]
        if deviation.test_result is not None:
            rows.append(("Test result", f"{text(deviation.test_result.definition.name)}: "
                                        f"{text(deviation.test_result.reported)}"))
        rows += [("Description", text(deviation.description)), ("Investigation", text(deviation.investigation)),
                 ("Root cause", text(deviation.root_cause)),
                 ("Other batches assessed", text(deviation.other_batches_assessed)),
                 ("Conclusion", text(deviation.conclusion)), ("CAPA", text(deviation.capa)),
                 ("Closed", self.when(deviation.closed_at))]
        return [Paragraph(f"Deviation {text(deviation.number)}", H3), _fields(rows),
                Paragraph("Closure signature", LABEL), *self.signatures(signed, unsigned="Not closed yet.")]

    def disposition(self, review: release.BatchReview) -> list[Flowable]:
        batch = review.batch
        rows = [("Status", f"<b>{text(batch.status.value.capitalize())}</b>"),
                ("Reason", text(batch.disposition_reason)), ("Disposed", self.when(batch.disposition_at))]
        return [_fields(rows), Paragraph("QA disposition signatures", LABEL),
                KeepTogether(self.signatures(review.disposition, unsigned="No disposition signed yet."))]
