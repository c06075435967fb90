"""The signatures of a batch's steps: the performer's, a second person's verification, QA's review of a hold point,
and the signature of whoever skips a step the master record allows to be skipped."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from sqlalchemy import Exists, Select, SQLColumnExpression, String, cast, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from batch_records.errors import (
    NotCalledFor,
    PerformerSignatureMissing,
    StepIncomplete,
    StepNotCompleted,
    StepNotSkippable,
)
from batch_records.models import Batch, BatchEntry, BatchParameter, BatchStatus, BatchStep, StepStatus
from batch_records.service.execution import (
    advance_batch,
    current_step,
    hold_step,
    require_current,
    require_workable,
)
from batch_records.service.step_uses import missing_for_completion, uses_of_steps
from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.signatures import service as signatures
from lims.signatures.errors import AlreadySigned, SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.training import service as training
from protocols.models import Subject

STEPS_PER_PAGE = 50


def skip_step(
    session: Session,
    step: BatchStep,
    *,
    reason: str,
    user: User,
    password: str,
    client_address: str | None = None,
) -> ElectronicSignature:
    """Skip a step the master record allows to be skipped: whoever skips it signs it as skipped, with the reason."""
    reason = reason.strip()
    if not reason:
        raise ReasonRequired("Say why the step is skipped.", field="reason")
    if not signatures.role_may_sign(user, BatchStep, SignatureMeaning.SKIPPED):
        raise SignatureRefused("Your role may not sign a batch step as skipped.")
    require_workable(session, step, user)
    _check_skippable(session, step, user)
    # The password is proven before the reason is written: a refused signature leaves the step as it was.
    signatures.reauthenticate_to_sign(
        session, step, SignatureMeaning.SKIPPED, user, password=password, client_address=client_address
    )
    with audit_context.reason_for_change(session, f"Step {step.position} skipped: {reason}"):
        step.skip_reason = reason
        session.flush()
    signatures.refresh_signature_state(session, step)
    return signatures.sign(
        session, step, meaning=SignatureMeaning.SKIPPED, user=user, password=password, client_address=client_address
    )


def _check_skippable(session: Session, step: BatchStep, user: User) -> None:
    require_current(session, step, user)
    if not step.skippable:
        raise StepNotSkippable(f"Step {step.position} ({step.title}) cannot be skipped: the master record requires it.")


def check_step_signature(session: Session, step: BatchStep, meaning: SignatureMeaning, user: User) -> None:
    hold_step(session, step)
    valid = signatures.signers_with_meaning(session, step, meaning)
    if meaning == SignatureMeaning.SKIPPED:
        _check_skippable(session, step, user)
        if not step.skip_reason:
            raise ReasonRequired("Say why the step is skipped.")
        return
    if meaning == SignatureMeaning.PERFORMED:
        if step.status == StepStatus.COMPLETED and valid:
            raise AlreadySigned(f"Step {step.position} is already signed as performed.")
        if step.status != StepStatus.COMPLETED:
            require_current(session, step, user)
        else:
            training.require_training(session, user, step.batch.training_subject)
        missing = missing_for_completion(step, uses_of_steps(session, [step])[step.id])
        if missing:
            raise StepIncomplete(f"Step {step.position} still needs {', '.join(missing)}.")
        return
    if step.status != StepStatus.COMPLETED:
        raise StepNotCompleted(f"Step {step.position} is {step.status.value}; it is checked once it is completed.")
    if valid:
        raise AlreadySigned(f"Step {step.position} is already signed as {meaning.value}.")
    if meaning == SignatureMeaning.VERIFIED:
        if not step.second_person_verification:
            raise NotCalledFor(f"Step {step.position} does not call for a second person's verification.")
        performers = signatures.signers_with_meaning(session, step, SignatureMeaning.PERFORMED)
        if not performers:
            raise PerformerSignatureMissing(f"Step {step.position}'s performer must sign again before it is verified.")
        training.require_training(session, user, step.batch.training_subject)
        entrants = [entry.entered_by_id for parameter in step.parameters for entry in parameter.entries]
        signatures.require_different_person(
            user, [*performers, step.performed_by_id, *entrants], earlier_role="performed or recorded"
        )
    elif meaning == SignatureMeaning.REVIEWED and not step.hold_point:
        raise NotCalledFor(f"Step {step.position} is not a hold point.")


def after_step_signature(session: Session, step: BatchStep, meaning: SignatureMeaning, user: User) -> None:
    if meaning == SignatureMeaning.PERFORMED and step.status != StepStatus.COMPLETED:
        with audit_context.reason_for_change(session, f"Step {step.position} signed as performed"):
            step.status = StepStatus.COMPLETED
            step.completed_at = clock.now()
            step.performed_by_id = user.id
        advance_batch(step.batch)
    elif meaning == SignatureMeaning.SKIPPED:
        with audit_context.reason_for_change(session, f"Step {step.position} signed as skipped: {step.skip_reason}"):
            step.status = StepStatus.SKIPPED
            step.completed_at = clock.now()
            step.performed_by_id = user.id
        advance_batch(step.batch)


#: the open batches whose steps wait for signatures (a quarantined batch waits for QA's decision first)
_SIGNING_OPEN = (BatchStatus.IN_PROGRESS, BatchStatus.AWAITING_REVIEW)


def _holds(meaning: SignatureMeaning, *, signer: User) -> Exists:
    """The condition that a step has a signature with ``meaning`` by ``signer`` covering its content as it is."""
    return exists(
        select(ElectronicSignature.id).where(
            ElectronicSignature.entity_type == BatchStep.__tablename__,
            ElectronicSignature.entity_id == cast(BatchStep.id, String),
            ElectronicSignature.meaning == meaning,
            ElectronicSignature.content_hash == BatchStep.content_hash,
            ElectronicSignature.signer_id == signer.id,
        )
    )


def _waiting(meaning: SignatureMeaning) -> list[SQLColumnExpression[bool]]:
    """The conditions that a step waits for a signature with ``meaning``, on the step's own columns: its stored
    signature state, written as the partial indexes ``AWAITING_VERIFICATION`` and ``AWAITING_REVIEW`` are."""
    if meaning == SignatureMeaning.VERIFIED:
        # A step whose performer's signature no longer holds waits for the performer to sign again, not a verifier.
        waiting: list[SQLColumnExpression[bool]] = [
            BatchStep.second_person_verification,
            BatchStep.performed_signed,
            ~BatchStep.verified_signed,
        ]
    else:
        waiting = [BatchStep.hold_point, ~BatchStep.reviewed_signed]
    return [*waiting, BatchStep.status == StepStatus.COMPLETED]


def _awaiting(columns: Any, meaning: SignatureMeaning) -> Select[Any]:
    """The completed steps of open batches waiting for a signature with ``meaning``."""
    return (
        select(columns)
        .select_from(BatchStep)
        .join(BatchStep.batch)
        .where(*_waiting(meaning), Batch.status.in_(_SIGNING_OPEN))
    )


def _queue(columns: Any, meaning: SignatureMeaning, for_user: User | None) -> Select[Any]:
    """``_awaiting``, for a work queue: with ``for_user``, only the steps that user may verify.

    The waiting steps are few of all (a partial index holds them alone) but the database cannot know how few: they
    are read first, materialized, so it does not start from every step of the open batches instead.
    """
    waiting = select(BatchStep.id.label("id")).where(*_waiting(meaning)).cte(f"waiting_for_{meaning.value}")
    query = (
        select(columns)
        .select_from(BatchStep)
        .join(BatchStep.batch)
        .where(BatchStep.id.in_(select(waiting.prefix_with("MATERIALIZED").c.id)), Batch.status.in_(_SIGNING_OPEN))
    )
    if meaning != SignatureMeaning.VERIFIED or for_user is None:
        return query
    recorded_by_user = (
        select(BatchEntry.id)
        .join(BatchEntry.parameter)
        .where(BatchParameter.step_id == BatchStep.id, BatchEntry.entered_by_id == for_user.id)
    )
    return query.where(
        or_(BatchStep.performed_by_id.is_(None), BatchStep.performed_by_id != for_user.id),
        ~_holds(SignatureMeaning.PERFORMED, signer=for_user),
        ~exists(recorded_by_user),
        training.in_force(for_user, Batch.training_subject),
    )


def hold_point_unreviewed_before(step: Any) -> Exists:
    """The condition that a hold point before ``step`` (the model or an alias of it) in its batch waits for QA's
    review."""
    return exists(
        _awaiting(BatchStep.id, SignatureMeaning.REVIEWED).where(
            BatchStep.batch_id == step.batch_id, BatchStep.position < step.position
        )
    )


def hold_points_awaiting_review(session: Session, batch_ids: Collection[int] | None = None) -> list[BatchStep]:
    """The hold points of open batches (of ``batch_ids``, or all) that QA has not reviewed, in one statement."""
    query = _awaiting(BatchStep, SignatureMeaning.REVIEWED)
    if batch_ids is not None:
        query = query.where(BatchStep.batch_id.in_(batch_ids))
    return list(session.scalars(query))


def count_steps_awaiting_signature(session: Session, meaning: SignatureMeaning, *, for_user: User | None = None) -> int:
    """How many steps ``steps_awaiting_signature`` would list, in one statement."""
    return session.scalar(_queue(func.count(BatchStep.id), meaning, for_user)) or 0


def steps_awaiting_signature(
    session: Session,
    meaning: SignatureMeaning,
    *,
    for_user: User | None = None,
    after: tuple[datetime, int] | None = None,
    limit: int = STEPS_PER_PAGE,
) -> KeysetPage[BatchStep]:
    """Completed steps of open batches still waiting for a second person's verification or QA's hold-point review,
    in the order they were completed, a page after the (completed at, id) of ``after``.

    A step waits for verification once its performer's signature holds. With ``for_user``, only the steps that
    user may verify: trained on the batch's master record, and not the one who performed it or recorded values on
    it.
    """
    query = _queue(BatchStep, meaning, for_user).options(
        selectinload(BatchStep.batch).selectinload(Batch.subject).selectinload(Subject.protocol),
        selectinload(BatchStep.performed_by),
    )
    return page_after(session, query, (BatchStep.completed_at, BatchStep.id), after=after, limit=limit)


def next_after_step_signature(
    session: Session, step: BatchStep, _meaning: SignatureMeaning, user: User
) -> signatures.NextStep:
    """After a step's signature: who signs it next, if anyone, and the step to work on now (or the batch's review)."""
    waits = []
    if step.second_person_verification and not signatures.signers_with_meaning(
        session, step, SignatureMeaning.VERIFIED
    ):
        waits.append(
            f"Step {step.position} waits for a second person's verification (anyone trained but who performed it "
            "or recorded its values)."
        )
    held = step.hold_point and not signatures.signers_with_meaning(session, step, SignatureMeaning.REVIEWED)
    if held:
        waits.append("The batch goes on once QA has reviewed this hold point.")
    text = " ".join(waits) or f"Step {step.position} is signed."
    if held and signatures.may_sign(session, step, SignatureMeaning.REVIEWED, user):
        arguments = (("entity_type", BatchStep.__tablename__), ("entity_id", step.id), ("meaning", "reviewed"))
        return signatures.NextStep(text, "Review the hold point", "signatures.sign", arguments)
    following = current_step(step.batch)
    if following is not None and not held:
        return signatures.NextStep(
            text,
            f"Next: step {following.position}. {following.title}",
            "batch_records.batch_step",
            (("step_id", following.id),),
        )
    if step.batch.status == BatchStatus.AWAITING_REVIEW:
        return signatures.NextStep(
            f"{text} Every step is done: the batch waits for QA's review and disposition.",
            f"Batch {step.batch.batch_number}: release tests",
            "batch_records.batch",
            (("batch_id", step.batch_id),),
        )
    return signatures.NextStep(text)
