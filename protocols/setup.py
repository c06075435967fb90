"""What trial protocols contribute: their pages and API, version approval, the review queue, `lims protocol`, and
the demo's study."""

from __future__ import annotations

from lims.dashboard.service import WorkQueue
from lims.identity.models import RoleName
from lims.registry import Registry
from lims.signatures import service as signatures
from lims.versioning import errors as versioning_errors
from lims.versioning import service as versioning
from protocols import api, compliance, demo, views
from protocols.cli import protocol_group
from protocols.models import ProtocolVersion, VersionStatus
from protocols.service import design as design_service


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Protocols", "protocols.index", order=20)
    registry.signable(
        signatures.two_person_approval(
            ProtocolVersion,
            signatures.ApprovalStates(
                draft=VersionStatus.DRAFT, in_review=VersionStatus.IN_REVIEW, approved=VersionStatus.APPROVED
            ),
            locked=versioning_errors.VersionNotInReview,
            describe=lambda version: f"Version {version.number}",
            ready_for_review=design_service.check_ready_for_review,
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Protocol versions to approve",
            description="Versions signed by their author, waiting for QA's approval or rejection.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: versioning.count_in_review(session, ProtocolVersion),
            endpoint="protocols.index",
        )
    )
    registry.audit_actions("export.odm")
    registry.cli_group(protocol_group)
    registry.demo_loader(demo.load_protocol)
