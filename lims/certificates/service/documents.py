"""Issuing, keeping, correcting and revoking documents of any kind, and reading their status.

A kind of document (the batch certificate; later the results report of a submission) supplies a
:class:`DocumentDraft`: what the document states (its canonical content) and how to render it once its number,
version and hashes are known. Everything else is common: the content's SHA-256 printed on the document, the
facility's PAdES signature, the file's SHA-256, keeping the file unchanged, corrections as new versions with a
reason and QA's signature, revocation with a reason and QA's signature.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import Select, String, cast, exists, select
from sqlalchemy.orm import InstrumentedAttribute, Session, aliased

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit.errors import ReasonRequired
from lims.certificates.errors import AlreadyRevoked, NotCurrent
from lims.certificates.models import (
    REFERENCE_LABELS,
    DocumentKind,
    DocumentRevocation,
    DocumentStatus,
    IssuedDocument,
)
from lims.db import lock_for_update
from lims.document_signing import FacilitySigner, create_self_signed, load_signer, settings_of, sign_pdf
from lims.errors import RecordNotFound
from lims.identity.models import Organization, OrganizationKind, User
from lims.registry import PortalRow
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning

#: QA approves a corrected version and a revocation with this meaning
APPROVAL = SignatureMeaning.APPROVED
#: how many of an organization's newest document versions its portal lists (the Certificates page has them all)
PORTAL_DOCUMENTS = 10


@dataclass(frozen=True)
class Issuance:
    """What a document prints about itself, known only when it is issued."""

    number: str
    version: int
    issued_at: datetime
    #: SHA-256 of the canonical content, printed on the document
    content_sha256: str
    verification_url: str
    facility: Organization
    #: the version this one corrects, and why
    corrects: tuple[int, str] | None = None


@dataclass(frozen=True)
class DocumentDraft:
    """A document ready to issue: what it states and how it is drawn."""

    kind: DocumentKind
    number: str
    subject_type: str
    subject_id: str
    organization_id: int
    product: str
    reference: str
    #: what the document states; its canonical JSON is kept and hashed
    content: dict[str, Any]
    render: Callable[[Issuance], bytes]


@dataclass(frozen=True)
class DocumentSubject:
    """A kind of record documents are issued about (a batch, a submission): how the document about one is drafted
    from the record as it stands, given the record's id."""

    subject_type: str
    draft: Callable[[Session, str], DocumentDraft]


def _subjects() -> dict[str, DocumentSubject]:
    # Imported here: each kind of document builds on this module, which finds them by the record they are about.
    from lims.certificates.service import batch_certificate, results_report

    return {subject.subject_type: subject for subject in (batch_certificate.SUBJECT, results_report.SUBJECT)}


Owed = TypeVar("Owed")


def without_document(query: Select[Owed], subject_type: str, id_column: InstrumentedAttribute[int]) -> Select[Owed]:
    """``query``'s records (released ones) that no document of ``subject_type`` is issued about yet, by id."""
    issued = select(IssuedDocument.subject_id).where(IssuedDocument.subject_type == subject_type)
    return query.where(cast(id_column, String(64)).not_in(issued)).order_by(id_column)


def facility(session: Session) -> Organization:
    """The facility that issues the documents."""
    found = session.scalar(
        select(Organization).where(Organization.kind == OrganizationKind.FACILITY).order_by(Organization.id).limit(1)
    )
    if found is None:
        raise RecordNotFound("No facility is registered: run `lims init`.")
    return found


def facility_signer(session: Session) -> FacilitySigner:
    """The facility's signing key; a self-signed one is created where none is configured or exists yet."""
    settings = settings_of(session)
    if not settings.configured and not settings.key_path.exists():
        issuer = facility(session)
        create_self_signed(settings, facility_name=issuer.name, facility_code=issuer.code)
    return load_signer(settings)


def verification_url(session: Session, number: str, version: int) -> str:
    return f"{settings_of(session).public_url}/verify/{number}?version={version}"


def canonical_content(draft: DocumentDraft, number: str, version: int) -> str:
    """The document's content as canonical JSON (keys sorted, times in UTC), numbered: what its hash covers."""
    return audit_chain.canonical_json(_plain({**draft.content, "document": {"number": number, "version": version}}))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return audit_chain.stable_value(value)


def issue(
    session: Session,
    draft: DocumentDraft,
    *,
    user: User,
    supersedes: IssuedDocument | None = None,
    reason: str | None = None,
) -> IssuedDocument:
    """Render, sign and keep a new version of ``draft``'s document (the first, or one correcting ``supersedes``)."""
    version = 1 if supersedes is None else supersedes.version + 1
    content = canonical_content(draft, draft.number, version)
    content_sha256 = hashlib.sha256(content.encode()).hexdigest()
    issued_at = clock.now()
    issuer = facility(session)
    issuance = Issuance(
        number=draft.number,
        version=version,
        issued_at=issued_at,
        content_sha256=content_sha256,
        verification_url=verification_url(session, draft.number, version),
        facility=issuer,
        corrects=None if supersedes is None else (supersedes.version, reason or ""),
    )
    signed = sign_pdf(
        draft.render(issuance),
        facility_signer(session),
        reason=f"{draft.kind.value.capitalize()} {draft.number} version {version} issued",
        location=issuer.name,
    )
    document = IssuedDocument(
        kind=draft.kind,
        number=draft.number,
        version=version,
        subject_type=draft.subject_type,
        subject_id=draft.subject_id,
        organization_id=draft.organization_id,
        product=draft.product,
        reference=draft.reference,
        issued_at=issued_at,
        issued_by_id=user.id,
        content=content,
        content_sha256=content_sha256,
        pdf=signed,
        file_sha256=hashlib.sha256(signed).hexdigest(),
        file_size=len(signed),
        supersedes_id=None if supersedes is None else supersedes.id,
        correction_reason=reason,
    )
    session.add(document)
    session.flush()
    return document


def documents_of(session: Session, subject_type: str, subject_id: str) -> list[IssuedDocument]:
    """Every version issued about a record, oldest first."""
    return list(
        session.scalars(
            select(IssuedDocument)
            .where(IssuedDocument.subject_type == subject_type, IssuedDocument.subject_id == subject_id)
            .order_by(IssuedDocument.version)
        )
    )


def get_document(session: Session, document_id: int, *, organization_id: int | None = None) -> IssuedDocument:
    """A document version; one issued to another organization than ``organization_id`` (a client's) is not
    found, exactly as one that does not exist."""
    document = session.get(IssuedDocument, document_id)
    if document is None or (organization_id is not None and document.organization_id != organization_id):
        raise RecordNotFound(f"There is no issued document with id {document_id}.")
    return document


def versions_of_number(session: Session, number: str) -> list[IssuedDocument]:
    return list(session.scalars(select(IssuedDocument).where(IssuedDocument.number == number).order_by("version")))


def _superseded() -> Any:
    newer = aliased(IssuedDocument)
    return exists().where(newer.supersedes_id == IssuedDocument.id)


def _revoked() -> Any:
    return exists().where(DocumentRevocation.document_id == IssuedDocument.id)


def status_of(session: Session, document: IssuedDocument) -> DocumentStatus:
    """Revoked, superseded by a corrected version, or valid."""
    return statuses(session, [document])[document.id]


def listed(organization_id: int | None, *, reference: str | None = None) -> Select[IssuedDocument]:
    """Every document version newest first; only ``organization_id``'s when given, only those about the batch
    (or other reference) ``reference`` when given."""
    query = select(IssuedDocument).order_by(IssuedDocument.issued_at.desc(), IssuedDocument.id.desc())
    if organization_id is not None:
        query = query.where(IssuedDocument.organization_id == organization_id)
    if reference:
        query = query.where(IssuedDocument.reference == reference)
    return query


def portal_rows(session: Session, organization_id: int) -> list[PortalRow]:
    """An organization's newest document versions with their status, for its portal (two queries)."""
    newest = list(session.scalars(listed(organization_id).limit(PORTAL_DOCUMENTS)))
    found = statuses(session, newest)
    return [
        PortalRow(
            f"{document.label} ({REFERENCE_LABELS[document.kind].lower()} {document.reference})",
            found[document.id].value,
        )
        for document in newest
    ]


def statuses(session: Session, shown: list[IssuedDocument]) -> dict[int, DocumentStatus]:
    """The status of each of ``shown``, by id, in one query."""
    if not shown:
        return {}
    rows = session.execute(
        select(IssuedDocument.id, _revoked(), _superseded()).where(IssuedDocument.id.in_([d.id for d in shown]))
    )
    return {document_id: _status(revoked, superseded) for document_id, revoked, superseded in rows}


def _status(revoked: bool, superseded: bool) -> DocumentStatus:
    if revoked:
        return DocumentStatus.REVOKED
    return DocumentStatus.SUPERSEDED if superseded else DocumentStatus.VALID


def revocation_of(session: Session, document: IssuedDocument) -> DocumentRevocation | None:
    return session.scalar(select(DocumentRevocation).where(DocumentRevocation.document_id == document.id))


def require_current(session: Session, document: IssuedDocument) -> None:
    """Refuse unless ``document`` is the valid, current version (locked for the rest of the transaction)."""
    lock_for_update(session, document)
    status = status_of(session, document)
    if status == DocumentStatus.REVOKED:
        raise AlreadyRevoked(f"{document.label} is revoked; a revoked document is final.")
    if status == DocumentStatus.SUPERSEDED:
        raise NotCurrent(f"{document.label} is superseded; only the current version is corrected or revoked.")


def _stated(reason: str | None, what: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise ReasonRequired(f"Say why the document is {what}.", field="reason")
    return reason


def correct_document(
    session: Session,
    document: IssuedDocument,
    *,
    reason: str | None,
    user: User,
    password: str,
    client_address: str | None = None,
) -> IssuedDocument:
    """Issue a new version superseding ``document`` (of any kind), drawn from the record it is about as that stands
    now, for ``reason``, approved by QA's signature."""
    draft = _subjects()[document.subject_type].draft(session, document.subject_id)
    reason = _stated(reason, "corrected")
    require_current(session, document)
    # The password is proven before anything is written: a refused signature leaves no new version behind.
    signatures.reauthenticate_to_sign(
        session, document, APPROVAL, user, password=password, client_address=client_address
    )
    corrected = issue(session, draft, user=user, supersedes=document, reason=reason)
    signatures.sign(session, corrected, meaning=APPROVAL, user=user, password=password, client_address=client_address)
    return corrected


def revoke(
    session: Session,
    document: IssuedDocument,
    *,
    reason: str | None,
    user: User,
    password: str,
    client_address: str | None = None,
) -> DocumentRevocation:
    """Revoke the current version ``document`` for ``reason``, approved by QA's signature."""
    reason = _stated(reason, "revoked")
    require_current(session, document)
    signatures.reauthenticate_to_sign(
        session, document, APPROVAL, user, password=password, client_address=client_address
    )
    revocation = DocumentRevocation(document=document, reason=reason, revoked_by_id=user.id, revoked_at=clock.now())
    session.add(revocation)
    session.flush()
    signatures.sign(session, revocation, meaning=APPROVAL, user=user, password=password, client_address=client_address)
    return revocation


def check_correction_signature(session: Session, document: IssuedDocument, _meaning: Any, _user: User) -> None:
    """QA approves a corrected version once, as it is issued; a first version stands on the release signature."""
    if document.supersedes_id is None or signatures.signatures_of(session, document):
        raise SignatureRefused(f"{document.label} is not a correction awaiting QA's approval.")


def check_revocation_signature(session: Session, revocation: DocumentRevocation, _meaning: Any, _user: User) -> None:
    if signatures.signatures_of(session, revocation):
        raise SignatureRefused(f"The revocation of {revocation.document.label} is approved already.")


def record_download(session: Session, document: IssuedDocument) -> None:
    """A copy of a document went out: audited, with the file's hash."""
    audit_chain.record(
        session,
        "document.downloaded",
        entity=document,
        details={"document": document.label, "file_sha256": document.file_sha256},
    )
