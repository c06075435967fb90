"""What batch records contribute: master and executed batch records, deviations and their pages, API, signing
rules, work queues, the batches made from a subject's material, the lots they consume, the training they require,
and the demo's master record and batches."""

from __future__ import annotations

from batch_records import api, compliance, demo, views
from batch_records.models import (
    Batch,
    BatchStatus,
    BatchStep,
    Deviation,
    MbrStatus,
    MbrVersion,
)
from batch_records.service import (
    batches,
    deviations,
    impact,
    masters,
    record_names,
    release,
    step_signatures,
    step_uses,
    waiting,
)
from lims.dashboard.service import HeldRecords, WorkQueue
from lims.identity.models import RoleName
from lims.registry import PortalSection, Registry
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import SignableType
from lims.versioning import errors as versioning_errors
from lims.versioning import service as versioning


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Batches", "batch_records.batches", order=40)
    registry.navigation("Deviations", "batch_records.deviations", order=41)
    registry.navigation("Master records", "batch_records.masters", order=43)
    _register_signables(registry)
    _register_work_queues(registry)
    registry.held_records(
        HeldRecords(
            roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}), find=waiting.held_for_dashboard
        )
    )
    registry.subject_records(batches.batches_as_subject_records)
    registry.portal_section(PortalSection("Your batches", "Batch", batches.batches_as_portal_rows))
    registry.consuming_records(step_uses.BATCH_STEP, step_uses.steps_as_consuming_records)
    registry.training_subjects(masters.effective_versions_as_training_subjects)
    registry.impacted_records(impact.IMPACTED_BATCHES)
    registry.audit_actions("report.generated")
    for names in (record_names.BATCHES, record_names.STEPS, record_names.PARAMETERS, record_names.DEVIATIONS):
        registry.record_names(names)
    # Comes after the other areas' demo loaders: the batches are made with their users, equipment, lots and subjects.
    registry.demo_loader(demo.load_batches)


def _register_signables(registry: Registry) -> None:
    registry.signable(
        signatures.two_person_approval(
            MbrVersion,
            signatures.ApprovalStates(
                draft=MbrStatus.DRAFT, in_review=MbrStatus.IN_REVIEW, approved=MbrStatus.APPROVED
            ),
            locked=versioning_errors.VersionNotInReview,
            describe=lambda version: version.label,
            ready_for_review=masters.check_ready_for_review,
        )
    )
    registry.signable(
        SignableType(
            BatchStep,
            {
                SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
                SignatureMeaning.SKIPPED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
                SignatureMeaning.VERIFIED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
                SignatureMeaning.REVIEWED: frozenset({RoleName.QA}),
            },
            before_signing=step_signatures.check_step_signature,
            after_signing=step_signatures.after_step_signature,
            name=lambda step: f"step {step.position}. {step.title} of batch {step.batch.batch_number}",
            attests=step_uses.attested_with_step,
            next_step=step_signatures.next_after_step_signature,
        )
    )
    registry.signable(
        SignableType(
            Deviation,
            {SignatureMeaning.APPROVED: frozenset({RoleName.QA})},
            before_signing=deviations.check_deviation_closure,
            after_signing=deviations.close_deviation,
            name=lambda deviation: f"deviation {deviation.number}",
            next_step=deviations.next_after_closure,
        )
    )
    registry.signable(
        SignableType(
            Batch,
            {meaning: frozenset({RoleName.QA}) for meaning in release.DISPOSITIONS},
            before_signing=release.check_batch_signature,
            after_signing=release.apply_batch_disposition,
            name=lambda batch: f"batch {batch.batch_number}",
            next_step=release.next_after_disposition,
        )
    )


def _register_work_queues(registry: Registry) -> None:
    registry.work_queue(
        WorkQueue(
            title="Master batch records in review",
            description="Master batch record versions waiting for QA's approval.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: versioning.count_in_review(session, MbrVersion),
            endpoint="batch_records.masters",
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Batches awaiting QA disposition",
            description="Batches with every step done, or held in quarantine, waiting for QA's review and disposition.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: release.count_awaiting_review(session),
            endpoint="batch_records.batches",
            arguments=(("status", BatchStatus.AWAITING_REVIEW.value),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Open deviations",
            description="Deviations to investigate and close before their batches can be released.",
            roles=frozenset({RoleName.QA, RoleName.MANAGER}),
            count=lambda session, _user, _settings: deviations.open_deviation_count(session),
            endpoint="batch_records.deviations",
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Steps to verify",
            description="Completed steps waiting for a second person's verification, other than your own.",
            roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.QA}),
            count=lambda session, user, _settings: step_signatures.count_steps_awaiting_signature(
                session, SignatureMeaning.VERIFIED, for_user=user
            ),
            endpoint="batch_records.steps_to_sign",
            arguments=(("meaning", SignatureMeaning.VERIFIED.value),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Hold points to review",
            description="Batches stopped at a hold point until QA has reviewed the step.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: step_signatures.count_steps_awaiting_signature(
                session, SignatureMeaning.REVIEWED
            ),
            endpoint="batch_records.steps_to_sign",
            arguments=(("meaning", SignatureMeaning.REVIEWED.value),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Batches in progress",
            description="Batches on the floor, with their current step.",
            roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
            count=lambda session, _user, _settings: batches.batches_in_progress_count(session),
            endpoint="batch_records.batches",
            arguments=(("status", BatchStatus.IN_PROGRESS.value),),
        )
    )
