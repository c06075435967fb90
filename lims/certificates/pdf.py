"""The batch certificate as a PDF, drawn with the documents kit; the kit adds the chain of identity, "page X of Y"
and who issued it to every page."""

from __future__ import annotations

import itertools
from datetime import datetime

from reportlab.graphics.barcode import qrencoder
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Table, TableStyle

from lims import clock
from lims.certificates.service.batch_certificate import CertificateFacts
from lims.certificates.service.documents import Issuance
from lims.documents.markup import text, warning
from lims.documents.signatures import signature_block
from lims.documents.styles import BODY, END, H2, SMALL, TITLE, WIDTH
from lims.documents.tables import fields, grid
from lims.documents.template import Document
from lims.documents.times import Times
from lims.signatures.models import ElectronicSignature
from lims.signatures.service import SignatureStatus

QR_SIZE = 32 * mm
AUTOLOGOUS = "For autologous use only"
ALLOGENEIC = "Allogeneic product"


def facility_time(moment: datetime | None, with_seconds: bool = True) -> str:
    """A moment in the facility's time zone, as the pages write it."""
    if moment is None:
        return "—"
    local = moment.astimezone(clock.facility_zone())
    return local.strftime("%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z")


TIMES = Times(facility_time)


class QrCode(Flowable):
    """A QR code ``size`` square (reportlab's encoder), its dark modules drawn as one path in module units: a
    shape per module, as reportlab's own widget draws it, took longer than the rest of the certificate."""

    def __init__(self, data: str, size: float = QR_SIZE) -> None:
        super().__init__()
        self.width = self.height = size
        code = qrencoder.QRCode(None, qrencoder.QRErrorCorrectLevel.M)
        code.addData(data)
        code.make()
        self.modules: list[list[bool]] = code.modules

    def draw(self) -> None:
        count = len(self.modules)
        quiet = 4  # modules of white border the symbol needs around it
        canvas = self.canv
        canvas.saveState()
        canvas.scale(self.width / (count + 2 * quiet), self.height / (count + 2 * quiet))
        path = canvas.beginPath()
        for row_number, row in enumerate(self.modules):
            column = 0
            for dark, run in itertools.groupby(row):
                length = len(list(run))
                if dark:
                    path.rect(quiet + column, quiet + count - row_number - 1, length, 1)
                column += length
        canvas.drawPath(path, stroke=0, fill=1)
        canvas.restoreState()


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return "<br/>".join(text(part) for part in TIMES.local_and_utc(moment))


def certificate_pdf(facts: CertificateFacts, issuance: Issuance, release_signature: ElectronicSignature) -> bytes:
    """The certificate as unsigned PDF bytes (the facility's signature is added when it is issued)."""
    number = f"{issuance.number} version {issuance.version}"
    flowables: list[Flowable] = [Paragraph("Certificate of analysis and release", TITLE)]
    if facts.autologous:
        flowables.append(
            Paragraph(warning(f"{AUTOLOGOUS} · subject {text(facts.subject_code)}"), BODY),
        )
    rows = [
        ("Certificate number", f"<b>{text(issuance.number)}</b>"),
        ("Version", text(issuance.version)),
        ("Issued", _when(issuance.issued_at)),
        ("Facility", f"{text(facts.facility_name)} ({text(facts.facility_code)})"),
        ("Issued to", text(facts.issued_to)),
        ("Product", text(facts.product) + ("" if facts.autologous else f" ({ALLOGENEIC})")),
        ("Batch number", f"<b>{text(facts.batch_number)}</b>"),
        ("Subject", text(facts.subject_code)),
        ("Protocol", text(facts.protocol_number)),
        ("Starting material", text(facts.starting_material_identity)),
        ("Master batch record", text(facts.master_batch_record)),
        ("Manufacturing started", _when(facts.manufacturing_started)),
        ("Manufacturing completed", _when(facts.manufacturing_completed)),
    ]
    if issuance.corrects is not None:
        version, reason = issuance.corrects
        rows.append(("Corrects", f"Supersedes version {text(version)}. Reason: {text(reason)}"))
    flowables += [fields(rows), Paragraph("Release tests", H2)]
    if facts.release_tests:
        flowables.append(
            grid(
                ["Test", "Method", "Specification", "Result (with its unit)", "Conformance"],
                [
                    [
                        f"{text(line.test)} ({text(line.code)})",
                        text(line.method),
                        text(line.specification),
                        f"<b>{text(line.result)}</b>",
                        "Conforms" if line.conforms else warning("Does not conform"),
                    ]
                    for line in facts.release_tests
                ],
                [24, 24, 19, 18, 15],
            )
        )
    else:
        flowables.append(Paragraph("The master record names no release tests.", BODY))
    flowables.append(Paragraph("Deviations", H2))
    flowables += _deviations(facts)
    flowables += [
        KeepTogether(
            [
                Paragraph("QA release", H2),
                Paragraph(
                    f"Batch {text(facts.batch_number)} was released by QA with an electronic signature (printed "
                    "name, meaning, date and time in the facility's time zone and in UTC):",
                    BODY,
                ),
                signature_block([(release_signature, SignatureStatus.VALID)], TIMES),
            ]
        ),
        Paragraph("Verification", H2),
        verification_block(issuance),
        Paragraph(
            f"End of certificate {text(number)} for batch {text(facts.batch_number)}. It was issued from the "
            "electronic batch record, which remains the original.",
            END,
        ),
    ]
    document = Document(
        title=f"Certificate of analysis and release · {number}",
        identity=[
            ("Certificate", number),
            (
                "Chain of identity",
                f"Subject {facts.subject_code} ({facts.protocol_number}) · starting material "
                f"{facts.starting_material_identity} · batch {facts.batch_number}",
            ),
            ("Product", f"{facts.product} · {AUTOLOGOUS if facts.autologous else ALLOGENEIC}"),
        ],
        generated_by=facts.facility_name,
        generated_at=issuance.issued_at,
        times=TIMES,
    )
    return document.render(flowables)


def _deviations(facts: CertificateFacts) -> list[Flowable]:
    if not facts.deviations:
        return [Paragraph("No deviation was raised on this batch.", BODY)]
    closed = sum(1 for line in facts.deviations if line.status == "closed")
    by_category: dict[str, int] = {}
    for line in facts.deviations:
        by_category[line.category] = by_category.get(line.category, 0) + 1
    counted = ", ".join(f"{count} {category}" for category, count in sorted(by_category.items()))
    summary = f"{len(facts.deviations)} deviation(s) ({counted}); {closed} closed before release."
    return [
        Paragraph(text(summary), BODY),
        grid(
            ["Deviation", "Category", "Status", "Description", "Conclusion"],
            [
                [
                    text(line.number),
                    text(line.category.capitalize()),
                    text(line.status.capitalize()),
                    text(line.description),
                    text(line.conclusion),
                ]
                for line in facts.deviations
            ],
            [16, 12, 10, 36, 26],
        ),
    ]


def verification_block(issuance: Issuance, what: str = "certificate") -> Table:
    """The QR code to the verification page beside the printed content hash and what it means."""
    explanation = [
        Paragraph(f"Verify this {what} at <b>{text(issuance.verification_url)}</b> (the QR code leads there).", BODY),
        Paragraph(f"Content SHA-256: <b>{text(issuance.content_sha256)}</b>", BODY),
        Paragraph(
            f"The printed SHA-256 is the hash of the {what}'s canonical content (every field above, as the LIMS "
            "keeps it); a file cannot print its own hash. The verification page shows the SHA-256 of this PDF file "
            "as issued, which an uploaded copy is checked against. The file also carries the facility's digital "
            "signature (PAdES): a PDF reader shows whether it was changed after issue.",
            SMALL,
        ),
    ]
    table = Table(
        [[QrCode(issuance.verification_url), explanation]], colWidths=[QR_SIZE + 6 * mm, WIDTH - QR_SIZE - 6 * mm]
    )
    table.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LEFTPADDING", (0, 0), (0, 0), 0)]))
    return KeepTogether([table])  # type: ignore[return-value]
