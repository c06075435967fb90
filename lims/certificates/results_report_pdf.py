"""The results report of a submission as a PDF, drawn with the documents kit like the batch certificate: who it is
issued to, each released result with its specification and conformance, QA's release signature, and the QR code
and content hash that lead to the verification page."""

from __future__ import annotations

from datetime import datetime

from reportlab.platypus import Flowable, KeepTogether, Paragraph

from lims.certificates.pdf import TIMES, verification_block
from lims.certificates.service.documents import Issuance
from lims.certificates.service.results_report import ReportFacts
from lims.documents.markup import text, warning
from lims.documents.signatures import signature_block
from lims.documents.styles import BODY, END, H2, TITLE
from lims.documents.tables import fields, grid
from lims.documents.template import Document
from lims.signatures.models import ElectronicSignature
from lims.signatures.service import SignatureStatus


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return "<br/>".join(text(part) for part in TIMES.local_and_utc(moment))


def report_pdf(facts: ReportFacts, issuance: Issuance, release_signature: ElectronicSignature) -> bytes:
    """The results report as unsigned PDF bytes (the facility's signature is added when it is issued)."""
    number = f"{issuance.number} version {issuance.version}"
    rows = [
        ("Report number", f"<b>{text(issuance.number)}</b>"),
        ("Version", text(issuance.version)),
        ("Issued", _when(issuance.issued_at)),
        ("Facility", f"{text(facts.facility_name)} ({text(facts.facility_code)})"),
        ("Issued to", text(facts.issued_to)),
        ("Submission", f"<b>{text(facts.reference)}</b> ({text(facts.submission)})"),
    ]
    if issuance.corrects is not None:
        version, reason = issuance.corrects
        rows.append(("Corrects", f"Supersedes version {text(version)}. Reason: {text(reason)}"))
    nonconforming = sum(1 for line in facts.results if not line.conforms)
    flowables: list[Flowable] = [
        Paragraph("Results report", TITLE),
        fields(rows),
        Paragraph("Samples", H2),
        grid(
            ["Accession", "Client sample id", "Type", "Protocol and subject", "Collected", "Received"],
            [
                [
                    f"<b>{text(sample.accession_number)}</b>",
                    text(sample.client_sample_id),
                    text(sample.sample_type),
                    text(sample.subject or "—"),
                    _when(sample.collected_at),
                    _when(sample.received_at),
                ]
                for sample in facts.samples
            ],
            [14, 16, 16, 18, 18, 18],
        ),
        Paragraph("Results", H2),
        Paragraph(
            text(
                f"{len(facts.results)} result(s), "
                + (f"{nonconforming} out of specification." if nonconforming else "all within specification.")
            ),
            BODY,
        ),
        grid(
            ["Sample", "Test", "Method", "Specification", "Result (with its unit)", "Conformance"],
            [
                [
                    text(line.accession_number),
                    f"{text(line.test)} ({text(line.code)})",
                    text(line.method),
                    text(line.specification),
                    f"<b>{text(line.result)}</b>",
                    "Conforms" if line.conforms else warning("Does not conform"),
                ]
                for line in facts.results
            ],
            [14, 20, 20, 16, 16, 14],
        ),
        KeepTogether(
            [
                Paragraph("QA release", H2),
                Paragraph(
                    "The results were verified by a second person and released to the client by QA with an "
                    "electronic signature (printed name, meaning, date and time in the facility's time zone and "
                    "in UTC):",
                    BODY,
                ),
                signature_block([(release_signature, SignatureStatus.VALID)], TIMES),
            ]
        ),
        Paragraph("Verification", H2),
        verification_block(issuance, "report"),
        Paragraph(
            f"End of results report {text(number)} for submission {text(facts.reference)}. It was issued from the "
            "LIMS's records, which remain the original.",
            END,
        ),
    ]
    document = Document(
        title=f"Results report · {number}",
        identity=[
            ("Results report", number),
            ("Submission", f"{facts.reference} ({facts.submission})"),
            ("Client", facts.issued_to),
        ],
        generated_by=facts.facility_name,
        generated_at=issuance.issued_at,
        times=TIMES,
    )
    return document.render(flowables)
