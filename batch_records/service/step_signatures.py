"""The signatures of a batch's steps: the performer's, a second person's verification, QA's review of a hold point,
and the signature of whoever skips a step the master record allows to be skipped."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from batch_records.errors import (
    NotCalledFor,
    PerformerSignatureMissing,
    StepIncomplete,
    StepNotCompleted,
    StepNotSkippable,
)
from batch_records.models import Batch, BatchParameter, BatchStatus, BatchStep, StepStatus
from batch_records.service.execution import (
    advance_batch,
    hold_step,
    missing_for_completion,
    require_current,
    require_workable,
    uses_of_steps,
)
from lims import clock
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.identity.models import User
from lims.signatures import service as signatures
from lims.signatures.errors import AlreadySigned, SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.training import service as training
from protocols.models import Subject


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


def steps_awaiting_signature(
    session: Session, meaning: SignatureMeaning, *, for_user: User | None = None
) -> list[BatchStep]:
    """Completed steps of open batches still waiting for a second person's verification or QA's hold-point review.

    With ``for_user``, only the steps that user may sign: not those they performed or recorded values on.
    """
    needs = BatchStep.second_person_verification if meaning == SignatureMeaning.VERIFIED else BatchStep.hold_point
    steps = list(
        session.scalars(
            select(BatchStep)
            .join(BatchStep.batch)
            .where(
                BatchStep.status == StepStatus.COMPLETED,
                needs.is_(True),
                Batch.status.in_([BatchStatus.IN_PROGRESS, BatchStatus.AWAITING_REVIEW]),
            )
            .order_by(BatchStep.completed_at)
            .options(
                selectinload(BatchStep.batch).selectinload(Batch.subject).selectinload(Subject.protocol),
                selectinload(BatchStep.parameters).selectinload(BatchParameter.entries),
            )
        )
    )
    signed = signatures.signatures_of_many(session, steps)
    waiting = [step for step in steps if not signatures.holding(signed[step.id], meaning)]
    if for_user is not None:
        waiting = [
            step
            for step in waiting
            if for_user.id != step.performed_by_id
            and all(entry.entered_by_id != for_user.id for parameter in step.parameters for entry in parameter.entries)
        ]
    return waiting
