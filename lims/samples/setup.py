"""What samples contribute: the client's manifests and portal, receiving at the lab, the receiving queue, the
change feed's API and webhooks, and the demo's submissions."""

from __future__ import annotations

from lims.audit.naming import named_by_column
from lims.dashboard.service import WorkQueue
from lims.identity.models import RoleName
from lims.registry import AreaJob, Registry
from lims.samples import api, compliance, demo, models, storage_models, views
from lims.samples.service import accessioning, events, portal, release, results, stability
from lims.signatures.service import NextStep, SignableType

#: how often the scheduler sends the webhook deliveries that are due
WEBHOOK_EVERY_SECONDS = 15


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Portal", "samples.portal_home", order=11)
    registry.navigation("Receiving", "samples.receiving", order=25)
    registry.navigation("Samples", "samples.sample_index", order=26)
    # QA looks into storage from a sample's custody page; its menu is full of the pages it works in daily.
    registry.navigation(
        "Storage",
        "samples.storage_units",
        order=27,
        shown_to=frozenset({RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.ADMIN}),
    )
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.work_queue(
        WorkQueue(
            title="Submissions to receive",
            description="Submitted manifests whose samples the lab still expects.",
            roles=frozenset({RoleName.TECHNICIAN}),
            count=lambda session, _user, _settings: accessioning.count_awaiting_receipt(session),
            endpoint="samples.receiving",
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Samples past their stability window",
            description="Accepted samples not yet processed whose time from collection to processing has run out.",
            roles=frozenset({RoleName.TECHNICIAN, RoleName.QA}),
            count=lambda session, _user, _settings: stability.count_past_window(session),
            endpoint="samples.sample_index",
            arguments=(("past_stability_window", "on"),),
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Sample results out of specification",
            description="Client samples' results that miss their specification, before their release.",
            roles=frozenset({RoleName.QA}),
            count=lambda session, _user, _settings: results.count_out_of_specification(session),
            endpoint="samples.out_of_specification",
        )
    )
    registry.signable(
        SignableType(
            models.ResultRelease,
            {release.RELEASED: release.RELEASERS},
            before_signing=release.check_release_signature,
            after_signing=release.after_release_signed,
            name=lambda found: f"the release of the results of submission {found.submission.reference}",
            next_step=lambda _session, found, _meaning, _user: NextStep(
                f"The results of submission {found.submission.reference} are released to the client, with their "
                "signed results report.",
                "Sample results out of specification",
                "samples.out_of_specification",
            ),
        )
    )
    registry.visit_samples(portal.visit_samples)
    registry.audit_actions("samples.exported", "report.generated")
    registry.demo_loader(demo.load_submissions)
    registry.area_job(
        AreaJob(
            "webhook-deliveries",
            "Deliver the clients' events to their webhooks, retrying those that failed",
            WEBHOOK_EVERY_SECONDS,
            lambda session, _config: events.deliver_due(session),
        )
    )
    registry.record_names(
        named_by_column(models.Submission, "submission", models.Submission.public_id, identifier_hint="a submission id")
    )
    registry.record_names(
        named_by_column(
            models.Sample,
            "sample",
            models.Sample.public_id,
            referent=models.Sample.client_sample_id,
            identifier_hint="a sample id",
        )
    )
    registry.record_names(
        named_by_column(
            storage_models.StorageUnit,
            "storage unit",
            storage_models.StorageUnit.name,
            identifier_hint="a storage unit's name",
        )
    )
