"""What batch records contribute: materials, master and executed batch records, deviations and their pages, API,
signing rules, work queues, the batches made from a subject's material, and the demo data set."""
from __future__ import annotations

from sqlalchemy import func, select

from batch_records import api, service, views
from batch_records.models import Batch, BatchStatus, BatchStep, Deviation, MaterialLot, MbrStatus, MbrVersion
from lims.dashboard.service import WorkQueue
from lims.demo import load_demo
from lims.identity.models import RoleName
from lims.registry import Registry
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import SignableType


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Batches", "batch_records.batches", order=40)
    registry.navigation("Deviations", "batch_records.deviations", order=41)
    registry.navigation("Materials", "batch_records.materials", order=42)
    registry.navigation("Master records", "batch_records.masters", order=43)
    _register_signables(registry)
    _register_work_queues(registry)
    registry.subject_records(service._batches_as_subject_records)
    registry.audit_actions("report.generated")
    # The demo data set spans every area; this one comes last and depends on all it touches.
    registry.demo_loader(load_demo)


def _register_signables(registry: Registry) -> None:
    registry.signable(SignableType(
        MaterialLot,
        {SignatureMeaning.RELEASED: frozenset({RoleName.QA}), SignatureMeaning.REJECTED: frozenset({RoleName.QA})},
        before_signing=service._check_disposition,
        after_signing=service._apply_disposition,
    ))
    registry.signable(signatures.two_person_approval(
        MbrVersion,
        signatures.ApprovalStates(draft=MbrStatus.DRAFT, in_review=MbrStatus.IN_REVIEW, approved=MbrStatus.APPROVED),
        locked=service.MbrLocked, describe=lambda version: version.label, ready_for_review=service._ready_for_review,
    ))
    registry.signable(SignableType(
        BatchStep,
        {SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
         SignatureMeaning.VERIFIED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
         SignatureMeaning.REVIEWED: frozenset({RoleName.QA})},
        before_signing=service._check_step_signature,
        after_signing=service._after_step_signature,
    ))
    registry.signable(SignableType(
        Deviation,
        {SignatureMeaning.APPROVED: frozenset({RoleName.QA})},
        before_signing=service._check_deviation_closure,
        after_signing=service._close_deviation,
    ))
    registry.signable(SignableType(
        Batch,
        {meaning: frozenset({RoleName.QA}) for meaning in service.DISPOSITIONS},
        before_signing=service._check_batch_signature,
        after_signing=service._apply_batch_disposition,
    ))


def _register_work_queues(registry: Registry) -> None:
    registry.work_queue(WorkQueue(
        title="Lots in quarantine",
        description="Received material lots waiting for QA's release or rejection.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: len(service.lots_awaiting_release(session)),
        endpoint="batch_records.materials",
    ))
    registry.work_queue(WorkQueue(
        title="Master batch records in review",
        description="Master batch record versions waiting for QA's approval.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: len(service.mbr_versions_in_review(session)),
        endpoint="batch_records.masters",
    ))
    registry.work_queue(WorkQueue(
        title="Batches awaiting QA disposition",
        description="Batches with every step done, or held in quarantine, waiting for QA's review and disposition.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: len(service.batches_awaiting_review(session)),
        endpoint="batch_records.batches",
        arguments=(("status", BatchStatus.AWAITING_REVIEW.value),),
    ))
    registry.work_queue(WorkQueue(
        title="Open deviations",
        description="Deviations to investigate and close before their batches can be released.",
        roles=frozenset({RoleName.QA, RoleName.MANAGER}),
        count=lambda session, _user, _settings: service.open_deviation_count(session),
        endpoint="batch_records.deviations",
    ))
    registry.work_queue(WorkQueue(
        title="Steps to verify",
        description="Completed steps waiting for a second person's verification, other than your own.",
        roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
        count=lambda session, user, _settings: len(service.steps_awaiting_signature(
            session, SignatureMeaning.VERIFIED, for_user=user)),
        endpoint="batch_records.steps_to_sign",
        arguments=(("meaning", SignatureMeaning.VERIFIED.value),),
    ))
    registry.work_queue(WorkQueue(
        title="Hold points to review",
        description="Batches stopped at a hold point until QA has reviewed the step.",
        roles=frozenset({RoleName.QA}),
        count=lambda session, _user, _settings: len(service.steps_awaiting_signature(
            session, SignatureMeaning.REVIEWED)),
        endpoint="batch_records.steps_to_sign",
        arguments=(("meaning", SignatureMeaning.REVIEWED.value),),
    ))
    registry.work_queue(WorkQueue(
        title="Batches in progress",
        description="Batches on the floor, with their current step.",
        roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
        count=lambda session, _user, _settings: session.scalar(
            select(func.count(Batch.id)).where(Batch.status == BatchStatus.IN_PROGRESS)) or 0,
        endpoint="batch_records.batches",
        arguments=(("status", BatchStatus.IN_PROGRESS.value),),
    ))
