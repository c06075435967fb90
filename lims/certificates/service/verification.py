"""Verifying an issued document: by its number (what the public page shows) or from a copy of the file (its hash
recomputed and its PAdES signature checked), and the public pages' rate limit per client address."""

from __future__ import annotations

import enum
import hashlib
import io
import re
from dataclasses import dataclass
from datetime import timedelta

from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.certificates.errors import TooManyVerifications
from lims.certificates.models import REFERENCE_LABELS, DocumentStatus, IssuedDocument, VerificationRequest
from lims.certificates.service import documents
from lims.document_signing import PdfSignatureState, check_pdf_signature
from lims.errors import RecordNotFound

WINDOW = timedelta(minutes=1)
#: how a document names itself in its PDF's metadata (the kit writes the header's identity into the subject)
_NAMED = re.compile(r"(?:Certificate|Results report): (\S+) version (\d+)")


class Outcome(enum.StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"
    #: the file claims to be an issued document but is none of its versions as issued
    ALTERED = "altered"
    #: the file names no document this LIMS issued
    UNKNOWN = "unknown"


OUTCOME_TEXT = {
    Outcome.VALID: "Valid: this file is the current version, exactly as issued.",
    Outcome.SUPERSEDED: "Superseded: this file is an earlier version, exactly as issued; a corrected version "
    "replaces it.",
    Outcome.REVOKED: "Revoked: this file is exactly as issued, but the document was revoked.",
    Outcome.ALTERED: "Altered: this file is not any version of the document as issued. Do not rely on it.",
    Outcome.UNKNOWN: "Unknown: this file is not a document issued by this facility.",
}


@dataclass(frozen=True)
class PublicStatus:
    """All the verification page shows of a document version."""

    status: DocumentStatus
    product: str
    reference_label: str
    reference: str
    issued_at: object
    file_sha256: str
    content_sha256: str


@dataclass(frozen=True)
class FileVerification:
    outcome: Outcome
    file_sha256: str
    signature: PdfSignatureState
    #: the document version the file is, or claims to be
    number: str | None = None
    version: int | None = None

    @property
    def message(self) -> str:
        return OUTCOME_TEXT[self.outcome]


def admit(session: Session, client_address: str | None, *, limit: int) -> None:
    """Count a request from ``client_address`` to the public pages; refuse it beyond ``limit`` a minute."""
    now = clock.now()
    address = (client_address or "unknown")[:64]
    session.execute(delete(VerificationRequest).where(VerificationRequest.requested_at < now - WINDOW))
    recent = session.scalar(
        select(func.count()).where(
            VerificationRequest.client_address == address, VerificationRequest.requested_at >= now - WINDOW
        )
    )
    if (recent or 0) >= limit:
        raise TooManyVerifications(
            f"Too many verification requests from your address: at most {limit} a minute. Wait a minute and try again."
        )
    session.add(VerificationRequest(client_address=address, requested_at=now))
    session.flush()


def public_status(session: Session, number: str, version: int | None = None) -> PublicStatus:
    """What anyone may know of a document version (the newest when ``version`` is None)."""
    versions = documents.versions_of_number(session, number)
    chosen = versions[-1] if version is None and versions else next((d for d in versions if d.version == version), None)
    if chosen is None:
        raise RecordNotFound(
            f"No document with the number {number}"
            + (f" and version {version}" if version else "")
            + " was issued here."
        )
    return PublicStatus(
        status=documents.status_of(session, chosen),
        product=chosen.product,
        reference_label=_reference_label(chosen),
        reference=chosen.reference,
        issued_at=chosen.issued_at,
        file_sha256=chosen.file_sha256,
        content_sha256=chosen.content_sha256,
    )


def _reference_label(document: IssuedDocument) -> str:
    return REFERENCE_LABELS[document.kind]


def verify_file(session: Session, data: bytes, *, claimed_number: str | None = None) -> FileVerification:
    """What a copy of a document is: an issued version exactly (valid, superseded or revoked), an altered copy of
    one (it claims a number this LIMS issued, or was uploaded on that number's page), or unknown."""
    file_sha256 = hashlib.sha256(data).hexdigest()
    signature = check_pdf_signature(data, documents.facility_signer(session).certificate)
    issued = session.scalar(select(IssuedDocument).where(IssuedDocument.file_sha256 == file_sha256))
    if issued is not None:
        status = documents.status_of(session, issued)
        return FileVerification(Outcome(status.value), file_sha256, signature, issued.number, issued.version)
    named = claimed_number or _number_named_in(data)
    if named is not None and documents.versions_of_number(session, named):
        return FileVerification(Outcome.ALTERED, file_sha256, signature, named)
    return FileVerification(Outcome.UNKNOWN, file_sha256, signature)


def _number_named_in(data: bytes) -> str | None:
    try:
        info = PdfFileReader(io.BytesIO(data), strict=False).trailer_view.get("/Info")
        subject = str(info.get_object().get("/Subject", "")) if info is not None else ""
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
        return None
    match = _NAMED.search(subject)
    return match.group(1) if match else None
