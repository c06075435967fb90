"""What periodic reviews contribute: the access review and the audit-trail reviews, their pages and signing rules,
and the demo's reviews."""

from __future__ import annotations

from lims.dashboard.service import WorkQueue
from lims.registry import Registry
from lims.review import compliance, demo, views
from lims.review.models import AccessReview, TrailReview
from lims.review.service import access, signing, trail
from lims.signatures.service import NextStep, SignableType


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    # QA's menu is full: the reviews are reached from the dashboard's queues, which say when one falls due.
    registry.work_queue(
        WorkQueue(
            title="Access review due",
            description="Every user's roles, confirmed or changed by a manager, at the set interval.",
            roles=access.REVIEWERS,
            count=lambda session, _user, _settings: int(access.due(session).is_due()),
            endpoint="review.access_review",
        )
    )
    registry.work_queue(
        WorkQueue(
            title="Audit-trail review due",
            description="QA's review of the audit trail of the period since the last one.",
            roles=trail.REVIEWERS,
            count=lambda session, _user, _settings: int(trail.due(session).is_due()),
            endpoint="review.trail_reviews",
        )
    )
    registry.signable(
        SignableType(
            AccessReview,
            {access.MEANING: access.REVIEWERS},
            before_signing=signing.check_signed_once,
            name=lambda review: "the access review",
            next_step=lambda _session, review, _meaning, _user: NextStep(
                f"The access review is signed; the next is due on {review.next_due_on}.",
                "Access reviews",
                "review.access_review",
            ),
        )
    )
    registry.signable(
        SignableType(
            TrailReview,
            {trail.MEANING: trail.REVIEWERS},
            before_signing=signing.check_signed_once,
            name=lambda review: f"the review of the {review.label}",
            next_step=lambda _session, review, _meaning, _user: NextStep(
                f"The review of the {review.label} is signed.", "Audit-trail reviews", "review.trail_reviews"
            ),
        )
    )
    registry.compliance_check(compliance.ACCESS_REVIEW_DUE)
    registry.compliance_check(compliance.AUDIT_TRAIL_REVIEW_DUE)
    registry.demo_loader(demo.load_reviews)
