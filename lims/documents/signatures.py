"""The signature manifestation (21 CFR 11.50) in a document: printed name, meaning, date and time, and whether the
signature still holds. The wording mirrors lims/templates/_signature.html."""

from __future__ import annotations

from collections.abc import Sequence

from reportlab.platypus import Flowable, Paragraph

from lims.documents.markup import text, warning
from lims.documents.styles import BODY
from lims.documents.tables import grid
from lims.documents.times import Times
from lims.signatures.models import ElectronicSignature
from lims.signatures.service import SignatureStatus

Signatures = Sequence[tuple[ElectronicSignature, SignatureStatus]]

STATUS_TEXT = {
    SignatureStatus.VALID: "Valid",
    SignatureStatus.INVALIDATED: "Invalidated: the record changed after this signature.",
    SignatureStatus.BROKEN: "Not valid for this record: the signature does not match it.",
    SignatureStatus.UNRECORDED: "Not valid: the audit trail has no record of this signature as it stands.",
}


def status_markup(status: SignatureStatus) -> str:
    """Whether a signature holds; a signature that does not is shown as a warning."""
    return text(STATUS_TEXT[status]) if status == SignatureStatus.VALID else warning(text(STATUS_TEXT[status]))


def signature_block(signed: Signatures, times: Times, *, unsigned: str = "Not signed yet.") -> Flowable:
    """One row per signature, in the order given; ``unsigned`` (plain text) when there is none. The time is shown
    in the display time zone and in UTC."""
    if not signed:
        return Paragraph(text(unsigned), BODY)
    rows = [
        [
            text(signature.printed_name),
            text(signature.meaning.value.capitalize()),
            "<br/>".join(text(moment) for moment in times.local_and_utc(signature.signed_at)),
            status_markup(status),
        ]
        for signature, status in signed
    ]
    return grid(["Printed name", "Meaning", "Date and time", "Validity"], rows, [28, 16, 30, 46])
