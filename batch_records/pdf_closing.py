"""The closing sections of the executed batch record: what the document is (the digest of its content, the audit
chain's head when it was generated, where its file's SHA-256 is kept) and the batch's audit trail up to that head."""

from __future__ import annotations

from reportlab.platypus import Flowable, Paragraph
from sqlalchemy.orm import Session

from batch_records.models import Batch
from batch_records.service import release
from lims.documents.markup import text
from lims.documents.styles import BODY, END, H2
from lims.documents.tables import fields
from lims.documents.times import Times
from lims.documents.trail import ChainHead, audit_trail_section


def closing_sections(
    session: Session, review: release.BatchReview, times: Times, *, digest: str, head: ChainHead
) -> list[Flowable]:
    """ "This document", the batch's audit trail through event ``head`` and the end of the record."""
    batch = review.batch
    return [
        *_this_document(batch, digest, head),
        Paragraph("Audit trail", H2),
        Paragraph(
            f"Every event of batch {text(batch.batch_number)}, its steps, parameters, entries, materials and release "
            "tests (the audit trail's history of the batch with its parts), of its deviations and QC results, and of "
            f"the equipment uses and lot consumptions of its steps, up to event {head.sequence}: oldest first, "
            "grouped by the part they belong to. A record's creation lists the fields it was given a value.",
            BODY,
        ),
        *audit_trail_section(session, batch, times, through=head.sequence, also=review.trail),
        Paragraph(
            f"End of the executed batch record of batch {text(batch.batch_number)}. This document is a rendering of "
            "the electronic record, which remains the original.",
            END,
        ),
    ]


def _this_document(batch: Batch, digest: str, head: ChainHead) -> list[Flowable]:
    rows = [
        ("Content digest (SHA-256)", text(digest)),
        (
            "What it covers",
            "The text of the sections above, from the summary to the disposition, cell by cell in reading order "
            "with white space folded; not the page headers and footers, this section or the audit trail below. "
            "The unchanged record gives the same digest whenever it is rendered.",
        ),
        ("Audit trail head", f"Event {head.sequence}, hash {text(head.hash)}"),
        (
            "What it shows",
            "The newest event of the audit trail when this document was generated: the audit trail below runs "
            "to it. Its hash fixes every event before it: a trail rewritten since no longer leads to this hash.",
        ),
        (
            "This file's SHA-256",
            "A file cannot contain its own digest. The SHA-256 of this PDF file is recorded with its generation "
            f"in the audit trail (the report.generated event of batch {text(batch.batch_number)} after event "
            f"{head.sequence}) and sent with the download; compare the file's SHA-256 with it.",
        ),
    ]
    return [Paragraph("This document", H2), fields(rows)]
