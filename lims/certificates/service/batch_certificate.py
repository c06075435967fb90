"""The batch certificate (certificate of analysis and release): issued when QA releases a batch, stating what the
release rested on, and corrected by a new version with a reason.

The chain of identity (subject → starting material → batch) heads every certificate. Whether the product is
autologous or allogeneic is part of the master record version the batch was made to: an autologous product's
certificate says "For autologous use only" beside the subject's code (never personal data); an allogeneic one's
does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_records.models import Batch, BatchStatus, DonorType
from batch_records.service import batches, release
from lims.certificates.errors import AlreadyIssued, NotReleased
from lims.certificates.models import DocumentKind, IssuedDocument
from lims.certificates.service import documents
from lims.identity.models import User
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature, SignatureMeaning

#: the kind of record a batch certificate is about
BATCH = "batch"
NUMBER_PREFIX = "COA-"


@dataclass(frozen=True)
class ReleaseTestLine:
    test: str
    code: str
    method: str
    specification: str
    result: str
    unit: str
    conforms: bool


@dataclass(frozen=True)
class DeviationLine:
    number: str
    category: str
    status: str
    description: str
    conclusion: str


@dataclass(frozen=True)
class CertificateFacts:
    """What a batch certificate states."""

    facility_code: str
    facility_name: str
    issued_to: str
    product: str
    batch_number: str
    subject_code: str
    protocol_number: str
    starting_material_identity: str
    autologous: bool
    master_batch_record: str
    manufacturing_started: datetime
    manufacturing_completed: datetime | None
    release_tests: tuple[ReleaseTestLine, ...]
    deviations: tuple[DeviationLine, ...]
    released_by: str
    released_at: datetime
    release_meaning: str

    def content(self) -> dict[str, object]:
        return asdict(self)


def certificate_number(batch: Batch) -> str:
    return f"{NUMBER_PREFIX}{batch.batch_number}"


def release_signature(session: Session, batch: Batch) -> ElectronicSignature:
    """QA's release signature that holds; a batch without one is not released."""
    held = signatures.holding(signatures.signatures_of(session, batch), SignatureMeaning.RELEASED)
    if batch.status != BatchStatus.RELEASED or not held:
        raise NotReleased(f"Batch {batch.batch_number} is not released: it has no certificate.")
    return held[-1]


def facts_of(session: Session, batch: Batch) -> CertificateFacts:
    review = release.review(session, batch.id)
    batch = review.batch
    signature = release_signature(session, batch)
    facility = documents.facility(session)
    started = [step.started_at for step in batch.steps if step.started_at is not None]
    completed = [step.completed_at for step in batch.steps if step.completed_at is not None]
    tests = []
    for state in review.release_tests:
        definition = state.test.definition
        result = state.result
        tests.append(
            ReleaseTestLine(
                test=definition.name,
                code=definition.code,
                method=definition.method,
                specification=state.test.specification,
                result=result.reported if result is not None else "",
                unit=definition.unit,
                conforms=bool(result is not None and result.conforms),
            )
        )
    deviations = tuple(
        DeviationLine(
            number=deviation.number,
            category=deviation.category.value if deviation.category else "not classified",
            status=deviation.status.value,
            description=deviation.description,
            conclusion=deviation.conclusion or "",
        )
        for deviation in sorted(batch.deviations, key=lambda deviation: deviation.id)
    )
    return CertificateFacts(
        facility_code=facility.code,
        facility_name=facility.name,
        issued_to=batch.subject.protocol.sponsor.name,
        product=batch.product,
        batch_number=batch.batch_number,
        subject_code=batch.subject.code,
        protocol_number=batch.subject.protocol.number,
        starting_material_identity=batch.starting_material_identity,
        autologous=batch.donor_type == DonorType.AUTOLOGOUS,
        master_batch_record=batch.mbr_label,
        manufacturing_started=min(started, default=batch.created_at),
        manufacturing_completed=max(completed, default=None),
        release_tests=tuple(tests),
        deviations=deviations,
        released_by=signature.printed_name,
        released_at=signature.signed_at,
        release_meaning=signature.meaning.value,
    )


def draft_for(session: Session, batch: Batch) -> documents.DocumentDraft:
    # Imported here: the PDF module draws with reportlab, which the rules above need not load.
    from lims.certificates import pdf

    facts = facts_of(session, batch)
    signature = release_signature(session, batch)
    return documents.DocumentDraft(
        kind=DocumentKind.BATCH_CERTIFICATE,
        number=certificate_number(batch),
        subject_type=BATCH,
        subject_id=str(batch.id),
        organization_id=batch.subject.protocol.sponsor_id,
        product=batch.product,
        reference=batch.batch_number,
        content=facts.content(),
        render=lambda issuance: pdf.certificate_pdf(facts, issuance, signature),
    )


def certificates_of(session: Session, batch: Batch) -> list[IssuedDocument]:
    return documents.documents_of(session, BATCH, str(batch.id))


def issue_certificate(session: Session, batch: Batch, user: User) -> IssuedDocument:
    """Issue the first version of a released batch's certificate."""
    if certificates_of(session, batch):
        raise AlreadyIssued(f"Batch {batch.batch_number} has its certificate; correct it with a reason instead.")
    return documents.issue(session, draft_for(session, batch), user=user)


def issue_on_release(session: Session, batch: Batch, user: User) -> None:
    """QA's release signature issues the certificate in the same transaction."""
    issue_certificate(session, batch, user)


def released_batches_without_certificate(session: Session) -> list[Batch]:
    released = select(Batch).where(Batch.status == BatchStatus.RELEASED)
    return list(session.scalars(documents.without_document(released, BATCH, Batch.id)))


SUBJECT = documents.DocumentSubject(
    BATCH, lambda session, batch_id: draft_for(session, batches.get_batch(session, int(batch_id)))
)
