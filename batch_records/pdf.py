"""The executed batch record as a PDF: the document an inspector reads.

Everything shown comes from :func:`batch_records.service.release.review` (plus one query each for the
signatures of the test results and of the deviations, and the audit trail's). The page furniture (the chain of
identity on every page, "page X of Y", who generated the document and when, "NOT RELEASED" across every page of a
batch not released), the tables, the signature blocks, the content digest, the audit trail section and the escaping
of typed text come from :mod:`lims.documents`; this module supplies the batch record's content.

A PDF cannot print the SHA-256 of its own bytes. The record prints the digest of its content (the text of its
sections, the same whenever the unchanged record is rendered) and the audit chain's head when it was generated; the
SHA-256 of the file itself is recorded with its generation in the audit trail and sent with the download.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table
from sqlalchemy.orm import Session

from batch_records import pdf_closing as closing
from batch_records.models import (
    FINAL_BATCH_STATUSES,
    BatchEntry,
    BatchMaterial,
    BatchParameter,
    BatchStatus,
    DeviationStatus,
    StepStatus,
)
from batch_records.service import execution, release
from lims import clock
from lims.audit import chain as audit_chain
from lims.documents.digest import content_digest
from lims.documents.markup import text, warning
from lims.documents.signatures import Signatures, signature_block, status_markup
from lims.documents.styles import BODY, H2, H3, LABEL, TITLE
from lims.documents.tables import fields, grid
from lims.documents.template import Document
from lims.documents.times import LocalTime, Times
from lims.documents.trail import ChainHead, chain_head
from lims.identity.models import User
from lims.signatures import service as signatures
from lims.testing.models import TestResult


@dataclass(frozen=True)
class RenderedRecord:
    data: bytes
    #: the SHA-256 of the text of the record's sections, printed in it (:func:`lims.documents.digest.content_digest`)
    content_digest: str
    #: the newest audit event when it was generated; its audit trail section runs to it
    chain_head: ChainHead


@dataclass(frozen=True)
class BatchRecordPdf:
    filename: str
    data: bytes
    #: the SHA-256 of ``data`` (hexadecimal), recorded with the generation in the audit trail
    sha256: str
    content_digest: str
    chain_head: ChainHead


def generate_batch_record_pdf(session: Session, batch_id: int, *, user: User, localtime: LocalTime) -> BatchRecordPdf:
    """The executed batch record of a batch as it stands now, as PDF, its generation recorded in the audit trail with
    the file's SHA-256, the content digest it prints and the audit chain's head it shows."""
    review = release.review(session, batch_id)
    rendered = render_batch_record(review, generated_by=user, generated_at=clock.now(), localtime=localtime)
    sha256 = hashlib.sha256(rendered.data).hexdigest()
    audit_chain.record(
        session,
        "report.generated",
        entity=review.batch,
        details={
            "report": "executed batch record (PDF)",
            "bytes": len(rendered.data),
            "sha256": sha256,
            "content_digest": rendered.content_digest,
            "audit_chain_head": rendered.chain_head.sequence,
        },
    )
    return BatchRecordPdf(
        f"batch-record-{review.batch.batch_number}.pdf",
        rendered.data,
        sha256,
        rendered.content_digest,
        rendered.chain_head,
    )


def batch_record_pdf(
    review: release.BatchReview, *, generated_by: User, generated_at: datetime, localtime: LocalTime
) -> bytes:
    """The executed batch record of ``review.batch`` as PDF bytes (see :func:`render_batch_record`)."""
    return render_batch_record(review, generated_by=generated_by, generated_at=generated_at, localtime=localtime).data


def render_batch_record(
    review: release.BatchReview, *, generated_by: User, generated_at: datetime, localtime: LocalTime
) -> RenderedRecord:
    """The executed batch record of ``review.batch`` as PDF, with the content digest and the audit chain head it
    prints.

    ``localtime`` is the app's ``localtime`` template filter (``current_app.jinja_env.filters["localtime"]``),
    so times appear in the configured display time zone exactly as on the pages.
    """
    batch = review.batch
    session = Session.object_session(batch)
    if session is None:
        raise ValueError("the batch under review must belong to a session: its audit trail is read through it")
    deviation_signatures = signatures.signatures_of_many(session, review.deviations)
    times = Times(localtime)
    record = _Record(times)

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

    digest = content_digest(flowables)
    head = chain_head(session)
    flowables += closing.closing_sections(session, review, times, digest=digest, head=head)

    document = Document(
        title=f"Executed batch record · Batch {batch.batch_number}",
        identity=[("Chain of identity", batch.chain_of_identity), ("Product", batch.product), ("MBR", batch.mbr_label)],
        generated_by=generated_by.full_name,
        generated_at=generated_at,
        times=times,
        marking=None if batch.status == BatchStatus.RELEASED else f"NOT RELEASED — {batch.status.value}",
    )
    return RenderedRecord(document.render(flowables), digest, head)


def _material_required(required: BatchMaterial) -> str:
    return f"{text(required.material.part_number)} {text(required.material.name)}: {text(required.quantity)}"


class _Record:
    """Builds the sections; ``times`` formats every time."""

    def __init__(self, times: Times) -> None:
        self.times = times

    def when(self, moment: datetime | None) -> str:
        return text(self.times.local(moment))

    def by_at(self, user: User | None, moment: datetime | None) -> str:
        return f"{text(user.full_name if user else None)}<br/>{self.when(moment)}"

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
            (
                "Times",
                "Shown in the display time zone. Entry times are the server's clock when the value was "
                "recorded; a late entry also states when the operator observed it.",
            ),
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
            Paragraph("Summary", H2),
            fields(rows),
            Paragraph("Review by exception", H3),
            grid([label for label, _ in exceptions], [[text(count) for _, count in exceptions]], [1] * 6),
        ]
        if blockers and batch.status not in FINAL_BATCH_STATUSES:
            flowables.append(Paragraph("Open items before release", LABEL))
            flowables += [Paragraph(f"• {text(blocker)}", BODY) for blocker in blockers]
        return flowables

    # Steps

    def step(self, record: release.StepRecord) -> list[Flowable]:
        step = record.step
        controls = [
            label
            for flag, label in (
                (step.second_person_verification, "second-person verification"),
                (step.hold_point, "QA hold point"),
                (step.skippable, "skippable"),
                (step.qc_sampling, "QC release samples"),
            )
            if flag
        ]
        status = text(step.status.value.capitalize())
        rows = [
            ("Stage", text(step.stage)),
            ("Status", status if step.status in {StepStatus.COMPLETED, StepStatus.SKIPPED} else warning(status)),
            ("Instruction", text(step.instruction)),
        ]
        if controls:
            listed = ", ".join(controls)
            rows.append(("Controls", text(listed[:1].upper() + listed[1:])))
        if step.equipment_types:
            rows.append(("Equipment required", text(", ".join(kind.value for kind in step.equipment_types))))
        if step.materials:
            rows.append(
                ("Materials required", "<br/>".join(_material_required(material) for material in step.materials))
            )
        rows += [
            ("Started", self.when(step.started_at)),
            ("Completed", self.when(step.completed_at)),
            ("Performed by", text(step.performed_by.full_name if step.performed_by else None)),
        ]
        if step.status == StepStatus.SKIPPED or step.skip_reason:
            rows.append(("Skip reason", text(step.skip_reason)))
        flowables: list[Flowable] = [Paragraph(f"Step {step.position} · {text(step.title)}", H3), fields(rows)]
        if step.parameters:
            flowables += [Paragraph("Entries", LABEL), self.entries(step.parameters)]
        if record.uses.equipment or step.equipment_types:
            flowables.append(Paragraph("Equipment used", LABEL))
            flowables.append(
                grid(
                    ["Asset tag", "Equipment", "Used by", "Used at"],
                    [
                        [
                            text(use.equipment.asset_tag),
                            text(use.equipment.name),
                            text(use.user.full_name),
                            self.when(use.used_at),
                        ]
                        for use in record.uses.equipment
                    ],
                    [18, 42, 20, 20],
                )
                if record.uses.equipment
                else Paragraph("None recorded.", BODY)
            )
        if record.uses.consumptions or step.materials:
            flowables.append(Paragraph("Material lots consumed", LABEL))
            flowables.append(
                grid(
                    ["Lot", "Material", "Supplier lot", "Expires", "Quantity", "Used by", "Used at"],
                    [
                        [
                            text(use.lot.lot_number),
                            f"{text(use.lot.material.part_number)} {text(use.lot.material.name)}",
                            f"{text(use.lot.supplier_lot)} ({text(use.lot.supplier)})",
                            text(use.lot.expires_on.isoformat()),
                            text(use.quantity),
                            text(use.user.full_name),
                            self.when(use.used_at),
                        ]
                        for use in record.uses.consumptions
                    ],
                    [36, 26, 26, 21, 19, 24, 28],
                )
                if record.uses.consumptions
                else Paragraph("None recorded.", BODY)
            )
        if step.theoretical_yield is not None:
            flowables += [Paragraph("Yield", LABEL), fields(self.yield_rows(step))]
        flowables += [Paragraph("Signatures", LABEL), signature_block(record.signatures, self.times)]
        return flowables

    def yield_rows(self, step: Any) -> list[tuple[str, str]]:
        percent = execution.yield_percent(step)
        within = execution.yield_within_limits(step)
        low, high = step.yield_minimum_percent, step.yield_maximum_percent
        limits = (
            f"{low} – {high} %"
            if low is not None and high is not None
            else f"≥ {low} %"
            if low is not None
            else f"≤ {high} %"
        )
        verdict = "—" if within is None else "Within limits" if within else warning("Outside limits")
        return [
            ("Theoretical yield", text(step.theoretical_yield)),
            ("Actual yield", text(step.actual_yield)),
            ("Yield", "—" if percent is None else f"{text(percent)} % of theoretical"),
            ("Acceptable", text(limits)),
            ("Judgement", verdict),
        ]

    def entries(self, parameters: Sequence[BatchParameter]) -> Table:
        rows: list[list[str]] = []
        for parameter in parameters:
            name = f"{text(parameter.name)}<br/>[{text(parameter.unit or 'number')}]" + (
                "" if parameter.required else " (optional)"
            )
            limits = self.limits(parameter)
            if not parameter.entries:
                rows.append(
                    [
                        name,
                        "<i>Not recorded</i>" if parameter.required else "Not recorded (optional)",
                        limits,
                        "—",
                        "—",
                        "",
                    ]
                )
            by_id = {entry.id: entry for entry in parameter.entries}
            for entry in parameter.entries:
                rows.append([name, *self.entry_cells(parameter, entry, by_id)])
        return grid(
            ["Parameter", "Value", "Limits", "Judgement", "Entered by", "Notes"], rows, [19, 13, 14, 14, 19, 38]
        )

    @staticmethod
    def limits(parameter: BatchParameter) -> str:
        limits = text(parameter.limit)
        if parameter.target is not None:
            limits += f"<br/>target {text(parameter.target)}"
        return limits

    def entry_cells(self, parameter: BatchParameter, entry: BatchEntry, by_id: dict[int, BatchEntry]) -> list[str]:
        value = f"<b>{text(entry.value)}</b>"
        limits = self.limits(parameter)
        if not parameter.limit:
            judgement = "No limits"
        else:
            judgement = "Within limits" if entry.within_limits else warning("Outside limits")
        notes: list[str] = []
        if entry.replaces_id is not None:
            replaced = by_id.get(entry.replaces_id)
            replaced_text = (
                f"{text(replaced.value)} (entered by {text(replaced.entered_by.full_name)} on "
                f"{self.when(replaced.entered_at)})"
                if replaced
                else f"entry {entry.replaces_id}"
            )
            notes.append(f"<b>Correction</b> replacing {replaced_text}. Reason: {text(entry.correction_reason)}")
        if entry.replaced_by_id is not None:
            value = f"<strike>{text(entry.value)}</strike>"
            notes.append("<b>Replaced</b> by the correction below; kept on the record.")
        if entry.late_reason is not None:
            notes.append(
                f"<b>Late entry</b>: observed at {self.when(entry.observed_at)}. Reason: {text(entry.late_reason)}"
            )
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

    def release_test(
        self, state: release.ReleaseTestState, results: list[TestResult], signed: dict[Any, list[Any]]
    ) -> list[Flowable]:
        definition = state.test.definition
        if state.result is None:
            conformity = warning("No result")
        else:
            conformity = "Conforms" if state.result.conforms else warning("Does not conform")
        rows = [
            ("Specification", text(state.test.specification)),
            ("Method", text(definition.method)),
            ("Current result", "—" if state.result is None else f"<b>{text(state.result.reported)}</b>"),
            ("Conformity", conformity),
            (
                "Verification",
                "Verified by a second person" if state.verified else warning("Not verified by a second person"),
            ),
        ]
        flowables: list[Flowable] = [Paragraph(f"{text(definition.name)} ({text(definition.code)})", H3), fields(rows)]
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
                notes.append(
                    f"<b>Correction</b> replacing {text(replaced.reported if replaced else None)}. "
                    f"Reason: {text(result.correction_reason)}"
                )
            verifications = [
                f"{text(signature.printed_name)}, {text(signature.meaning.value.capitalize())}, "
                f"{self.when(signature.signed_at)}"
                + ("" if status == signatures.SignatureStatus.VALID else f" {status_markup(status)}")
                for signature, status in signed.get(result.id, [])
            ]
            instrument = result.instrument
            rows.append(
                [
                    reported,
                    text(result.specification),
                    "Conforms" if result.conforms else warning("Does not conform"),
                    f"{text(instrument.asset_tag)}<br/>{text(instrument.name)}" if instrument else "None recorded",
                    self.by_at(result.recorded_by, result.recorded_at),
                    "<br/>".join(notes) or "Current",
                    "<br/>".join(verifications) or "Not verified",
                ]
            )
        return grid(
            ["Result", "Specification", "Conformity", "Instrument", "Recorded by", "Status", "Verification"],
            rows,
            [22, 25, 22, 24, 27, 30, 30],
        )

    # Deviations and disposition

    def deviation(self, deviation: Any, signed: Signatures) -> list[Flowable]:
        step = deviation.step
        status = text(deviation.status.value.capitalize())
        rows = [
            (
                "Category",
                text(deviation.category.value.capitalize()) if deviation.category else warning("Not classified yet"),
            ),
            ("Status", status if deviation.status == DeviationStatus.CLOSED else warning(status)),
            ("Raised", self.by_at(deviation.raised_by, deviation.raised_at)),
            ("Step", f"Step {step.position} · {text(step.title)}" if step is not None else "—"),
        ]
        if deviation.test_result is not None:
            rows.append(
                (
                    "Test result",
                    f"{text(deviation.test_result.definition.name)}: {text(deviation.test_result.reported)}",
                )
            )
        rows += [
            ("Description", text(deviation.description)),
            ("Investigation", text(deviation.investigation)),
            ("Root cause", text(deviation.root_cause)),
            ("Other batches assessed", text(deviation.other_batches_assessed)),
            ("Conclusion", text(deviation.conclusion)),
            ("CAPA", text(deviation.capa)),
            ("Closed", self.when(deviation.closed_at)),
        ]
        return [
            Paragraph(f"Deviation {text(deviation.number)}", H3),
            fields(rows),
            Paragraph("Closure signature", LABEL),
            signature_block(signed, self.times, unsigned="Not closed yet."),
        ]

    def disposition(self, review: release.BatchReview) -> list[Flowable]:
        batch = review.batch
        rows = [
            ("Status", f"<b>{text(batch.status.value.capitalize())}</b>"),
            ("Reason", text(batch.disposition_reason)),
            ("Disposed", self.when(batch.disposition_at)),
        ]
        return [
            fields(rows),
            Paragraph("QA disposition signatures", LABEL),
            KeepTogether([signature_block(review.disposition, self.times, unsigned="No disposition signed yet.")]),
        ]
