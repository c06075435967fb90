"""Executed batches as a whole: making one to the effective master record version (frozen copies of its design),
finding them (by status, client, subject: the chain of identity), and holding one for a change while it is open."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from batch_records.errors import BatchLocked, StartingMaterialIdentityRefused, StartingMaterialUsed
from batch_records.models import (
    FINAL_BATCH_STATUSES,
    NOTHING_USED,
    Batch,
    BatchMaterial,
    BatchParameter,
    BatchReleaseTest,
    BatchStatus,
    BatchStep,
    MasterBatchRecord,
    MbrStatus,
    MbrVersion,
    StepStatus,
)
from batch_records.service import masters
from lims import clock
from lims.db import get_record, lock_for_update, serialise_numbering
from lims.errors import RecordNotFound
from lims.identifiers import ISBT_128_DIN, IdentifierRefused, IdentifierRule
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.registry import PortalRow
from lims.signatures import service as signatures
from lims.versioning import errors as versioning_errors
from protocols.models import Subject
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service


def get_batch(session: Session, batch_id: int, *, sponsor_id: int | None = None) -> Batch:
    """A batch by id; with ``sponsor_id``, one made for that organization's protocols, as if no other existed."""
    if sponsor_id is None:
        return get_record(session, Batch, batch_id, "batch")
    batch = session.scalar(_visible_to(select(Batch).where(Batch.id == batch_id), sponsor_id))
    if batch is None:
        raise RecordNotFound(f"There is no batch with id {batch_id}.")
    return batch


def get_batch_for_page(session: Session, batch_id: int) -> Batch:
    """A batch with what its page shows and what its signatures cover loaded in a fixed number of statements: its
    steps with their performers, parameters and entries, its release tests, deviations, subject and maker."""
    batch = session.scalar(
        select(Batch)
        .where(Batch.id == batch_id)
        .options(
            selectinload(Batch.subject).selectinload(Subject.protocol),
            selectinload(Batch.created_by),
            selectinload(Batch.steps).selectinload(BatchStep.performed_by),
            selectinload(Batch.steps).selectinload(BatchStep.parameters).selectinload(BatchParameter.entries),
            selectinload(Batch.release_tests).selectinload(BatchReleaseTest.definition),
            selectinload(Batch.deviations),
        )
    )
    if batch is None:
        raise RecordNotFound(f"There is no batch with id {batch_id}.")
    return batch


def batches_after(
    session: Session,
    *,
    status: BatchStatus | None = None,
    sponsor_id: int | None = None,
    after: tuple[datetime, int] | None,
    limit: int,
) -> KeysetPage[Batch]:
    """Batches newest first from just after (older than) ``after``, their creation time and id, each with the master
    record version that says whether its product is autologous or allogeneic."""
    return page_after(
        session,
        _batches(status, sponsor_id).options(_WITH_VERSION),
        (Batch.created_at, Batch.id),
        after=after,
        limit=limit,
        descending=True,
    )


#: how many of a client's newest batches its portal lists
PORTAL_BATCHES = 20


def batches_as_portal_rows(session: Session, organization_id: int) -> list[PortalRow]:
    """A client's newest batches with their status, for its portal (one query with their subjects)."""
    page = page_after(
        session,
        _batches(None, organization_id).options(selectinload(Batch.subject)),
        (Batch.created_at, Batch.id),
        after=None,
        limit=PORTAL_BATCHES,
        descending=True,
    )
    return [
        PortalRow(f"{batch.batch_number} (subject {batch.subject.code})", batch.status.value) for batch in page.items
    ]


#: a batch's master record version in the same statement as the batch (one version a batch)
_WITH_VERSION = joinedload(Batch.mbr_version, innerjoin=True)


def _batches(status: BatchStatus | None, sponsor_id: int | None) -> Select[Batch]:
    query = select(Batch).options(selectinload(Batch.subject).selectinload(Subject.protocol))
    if status is not None:
        query = query.where(Batch.status == status)
    if sponsor_id is not None:
        query = _visible_to(query, sponsor_id)
    return query


def _visible_to(query: Select[Batch], sponsor_id: int) -> Select[Batch]:
    """A batch belongs to the sponsor of its subject's protocol."""
    return protocol_service.visible_to(query.join(Batch.subject).join(Subject.protocol), sponsor_id)


def batches_of_subject(session: Session, subject: Subject) -> list[Batch]:
    """Every batch made from a subject's material: the chain of identity read from the subject's side."""
    return list(
        session.scalars(select(Batch).where(Batch.subject_id == subject.id).order_by(Batch.created_at, Batch.id))
    )


def batches_of_subject_after(
    session: Session, subject: Subject, *, after: tuple[datetime, int] | None, limit: int
) -> KeysetPage[Batch]:
    """A subject's batches oldest first, as :func:`batches_of_subject`, from just after ``after``, each with its
    master record version as :func:`batches_after`."""
    query = (
        select(Batch)
        .where(Batch.subject_id == subject.id)
        .options(selectinload(Batch.subject).selectinload(Subject.protocol), _WITH_VERSION)
    )
    return page_after(session, query, (Batch.created_at, Batch.id), after=after, limit=limit)


def batches_as_subject_records(session: Session, subject: Subject) -> list[subjects_service.SubjectRecord]:
    return [
        subjects_service.SubjectRecord(
            "batch",
            f"{batch.batch_number} from {batch.starting_material_identity}",
            batch.status.value,
            "batch_records.batch",
            (("batch_id", batch.id),),
        )
        for batch in batches_of_subject(session, subject)
    ]


def _next_batch_number(session: Session, master: MasterBatchRecord) -> str:
    serialise_numbering(session, "batch number")
    year = clock.today().year
    prefix = f"{master.code}-{year % 100:02d}"
    made = session.scalar(select(func.count(Batch.id)).where(Batch.batch_number.like(f"{prefix}%"))) or 0
    return f"{prefix}{made + 1:04d}"


def start_batch(
    session: Session,
    version: MbrVersion,
    *,
    subject: Subject,
    starting_material_identity: str,
    user: User,
    identity_rule: IdentifierRule = ISBT_128_DIN,
) -> Batch:
    """Make a batch to the effective version: its steps, parameters, materials and tests are frozen copies.

    The starting material's identity follows ``identity_rule`` (the lab's, LIMS_STARTING_MATERIAL_ID_PATTERN).
    """
    if version.status != MbrStatus.EFFECTIVE:
        raise versioning_errors.VersionNotEffective(
            f"Batches are made to the effective version only; {version.label} is {version.status.value}."
        )
    try:
        identity_text = identity_rule.normalise(starting_material_identity)
    except IdentifierRefused as refusal:
        raise StartingMaterialIdentityRefused(refusal.message, field="starting_material_identity") from refusal
    existing = session.scalar(select(Batch.batch_number).where(Batch.starting_material_identity == identity_text))
    if existing is not None:
        raise StartingMaterialUsed(
            f"Starting material {identity_text} is already in batch {existing}; one starting material makes one batch.",
            field="starting_material_identity",
        )
    batch = Batch(
        batch_number=_next_batch_number(session, version.master),
        mbr_version=version,
        mbr_label=version.label,
        product=version.master.product,
        training_subject=version.training_subject,
        subject=subject,
        starting_material_identity=identity_text,
        status=BatchStatus.IN_PROGRESS,
        created_by_id=user.id,
        created_at=clock.now(),
    )
    session.add(batch)
    # Reading the master's steps must not flush a copy before its content hash is known.
    with session.no_autoflush:
        for source in version.steps:
            step = BatchStep(batch=batch, position=source.position, status=StepStatus.PENDING, bound_uses=NOTHING_USED)
            masters.copy_step_design(source, step)
            session.add(step)
            for parameter in source.parameters:
                session.add(BatchParameter(step=step, **masters.parameter_design(parameter)))
            for requirement in source.materials:
                session.add(
                    BatchMaterial(step=step, material_id=requirement.material_id, quantity=requirement.quantity)
                )
            signatures.refresh_signature_state(session, step)
    for test in version.release_tests:
        session.add(
            BatchReleaseTest(batch=batch, definition=test.definition, specification=test.definition.specification)
        )
    session.flush()
    return batch


def lock_open_batch(session: Session, batch: Batch) -> None:
    """Hold the batch against concurrent changes for this transaction, then require it open.

    Whoever records on a batch waits for anyone already doing so and then sees what they did, so two
    people cannot both record the same value or complete the same step.
    """
    lock_for_update(session, batch)
    _require_open(batch)


def _require_open(batch: Batch) -> None:
    if batch.status in FINAL_BATCH_STATUSES:
        raise BatchLocked(f"Batch {batch.batch_number} is {batch.status.value} and can no longer change.")
    if batch.status == BatchStatus.QUARANTINED:
        raise BatchLocked(f"Batch {batch.batch_number} is in quarantine; QA must decide on it first.")


def batches_in_progress_count(session: Session) -> int:
    return session.scalar(select(func.count(Batch.id)).where(Batch.status == BatchStatus.IN_PROGRESS)) or 0
