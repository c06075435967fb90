"""What equipment contributes: its pages and API, the calibration queues, calibration and impact signatures, and the
demo's equipment."""

from __future__ import annotations

from lims.dashboard.service import WorkQueue
from lims.equipment import api, compliance, demo, views
from lims.equipment.models import CalibrationRecord, EquipmentStatus, ImpactAssessment
from lims.equipment.service import calibrations, impact_assessments, inventory
from lims.identity.models import RoleName
from lims.registry import Registry
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import NextStep, SignableType


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Equipment", "equipment.index", order=30)
    registry.work_queue(
        WorkQueue(
            title="Calibrations overdue",
            description="Equipment that may not be used until it is calibrated.",
            roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
            count=lambda session, _user, settings: inventory.count_with_status(
                session, frozenset({EquipmentStatus.OVERDUE}), due_soon_days=settings["CALIBRATION_DUE_SOON_DAYS"]
            ),
            endpoint="equipment.index",
            arguments=(("status", EquipmentStatus.OVERDUE.value),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Calibrations due soon",
            description="Equipment to calibrate before it falls due.",
            roles=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
            count=lambda session, _user, settings: inventory.count_with_status(
                session, frozenset({EquipmentStatus.DUE_SOON}), due_soon_days=settings["CALIBRATION_DUE_SOON_DAYS"]
            ),
            endpoint="equipment.index",
            arguments=(("status", EquipmentStatus.DUE_SOON.value),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Calibrations to review",
            description="Calibrations signed by their performer, waiting for QA review.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: calibrations.count_awaiting_review(session),
            endpoint="equipment.review",
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Out-of-tolerance impact assessments",
            description="Uses of equipment found out of tolerance, waiting for QA's conclusion.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: impact_assessments.open_impact_assessments_count(session),
            endpoint="equipment.review",
        )
    )
    registry.signable(
        SignableType(
            CalibrationRecord,
            {
                SignatureMeaning.PERFORMED: frozenset({RoleName.TECHNICIAN, RoleName.MANAGER}),
                SignatureMeaning.REVIEWED: frozenset({RoleName.QA}),
            },
            before_signing=calibrations.check_calibration_signature,
            name=lambda record: f"the calibration of {record.equipment.asset_tag} on {record.performed_on.isoformat()}",
            next_step=lambda _session, _record, meaning, _user: (
                NextStep(
                    "QA reviews the calibration next (Calibrations to review); the item's status follows its result."
                )
                if meaning == SignatureMeaning.PERFORMED
                else NextStep("The calibration is reviewed.", "Calibrations to review", "equipment.review")
            ),
        )
    )
    registry.signable(
        SignableType(
            ImpactAssessment,
            {SignatureMeaning.REVIEWED: frozenset({RoleName.QA})},
            name=lambda assessment: f"the impact assessment of {assessment.equipment.asset_tag} out of tolerance",
            next_step=lambda _session, _assessment, _meaning, _user: NextStep(
                "The impact assessment is concluded: each batch judged impacted has a deviation raised.",
                "Equipment to review",
                "equipment.review",
            ),
        )
    )
    registry.audit_actions("export.certificate")
    registry.demo_loader(demo.load_equipment)
