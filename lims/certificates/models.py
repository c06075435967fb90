"""Issued documents and their revocations, kept append-only; and the public verification pages' request counts.

An issued document is never changed once stored: the database refuses updates and deletes, as it does for the
audit trail. A correction is a new version that supersedes the old, and a revocation is a record of its own, so
a document's status (valid, superseded, revoked) is read from what exists, never written over.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any, ClassVar

from sqlalchemy import ForeignKey, Index, LargeBinary, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, deferred, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import Organization, User


class DocumentKind(enum.StrEnum):
    BATCH_CERTIFICATE = "batch certificate"
    RESULTS_REPORT = "results report"


#: what the verification page calls the reference of each kind of document
REFERENCE_LABELS = {DocumentKind.BATCH_CERTIFICATE: "Batch number", DocumentKind.RESULTS_REPORT: "Submission"}


class DocumentStatus(enum.StrEnum):
    VALID = "valid"
    SUPERSEDED = "superseded"
    REVOKED = "revoked"


class IssuedDocument(Controlled, Base):
    """One version of an issued document: the PDF exactly as issued, its SHA-256, and the canonical content whose
    SHA-256 is printed on it (a file cannot print its own hash)."""

    __tablename__ = "issued_document"
    __table_args__ = (
        UniqueConstraint("number", "version", name="uq_issued_document_number_version"),
        Index("ix_issued_document_organization", "organization_id", "issued_at", "id"),
        Index("ix_issued_document_subject", "subject_type", "subject_id"),
        Index("ix_issued_document_issued", "issued_at", "id"),
    )
    #: the file is recorded in the audit trail by its hash, not its bytes
    audit_redacted_fields: ClassVar[frozenset[str]] = frozenset({"pdf"})

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[DocumentKind] = mapped_column(string_enum(DocumentKind, "document_kind"))
    number: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int]
    #: the record the document is about ("batch", its id)
    subject_type: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str] = mapped_column(String(64))
    #: the client organization the document is issued to: its users and API tokens may fetch it
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    product: Mapped[str] = mapped_column(String(200))
    #: the batch number (of a batch certificate)
    reference: Mapped[str] = mapped_column(String(64))
    issued_at: Mapped[datetime]
    issued_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the canonical JSON of what the document states; its SHA-256 is printed on every copy
    content: Mapped[str] = deferred(mapped_column(Text, nullable=False))
    content_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes] = deferred(mapped_column(LargeBinary, nullable=False))
    file_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    file_size: Mapped[int]
    #: the version this one corrects, and why
    supersedes_id: Mapped[int | None] = mapped_column(ForeignKey("issued_document.id"), unique=True)
    correction_reason: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()
    issued_by: Mapped[User] = relationship()
    supersedes: Mapped[IssuedDocument | None] = relationship(remote_side=[id])

    @property
    def label(self) -> str:
        return f"{self.number} version {self.version}"

    @property
    def filename(self) -> str:
        return f"{self.number}-v{self.version}.pdf"

    def signed_content(self) -> dict[str, Any]:
        """What QA's approval of a corrected version covers: the file and content as issued, what it corrects."""
        return {
            "number": self.number,
            "version": self.version,
            "content_sha256": self.content_sha256,
            "file_sha256": self.file_sha256,
            "supersedes": self.supersedes_id,
            "correction_reason": self.correction_reason,
        }


class DocumentRevocation(Controlled, Base):
    """The revocation of an issued document's version, with its reason, approved by QA's signature."""

    __tablename__ = "document_revocation"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("issued_document.id"), unique=True)
    reason: Mapped[str] = mapped_column(Text)
    revoked_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    revoked_at: Mapped[datetime]

    document: Mapped[IssuedDocument] = relationship()
    revoked_by: Mapped[User] = relationship()

    def signed_content(self) -> dict[str, Any]:
        return {
            "document": self.document.label,
            "file_sha256": self.document.file_sha256,
            "reason": self.reason,
            "revoked_at": self.revoked_at,
        }


class VerificationRequest(Base):
    """A request to the public verification pages, counted per client address for the rate limit; requests
    older than the limit's window are deleted as new ones come."""

    __tablename__ = "verification_request"
    __table_args__ = (Index("ix_verification_request_address", "client_address", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_address: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(index=True)
