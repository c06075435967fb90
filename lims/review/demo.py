"""The demo's periodic reviews: an access review signed by the manager six weeks ago, and QA's review of the
audit trail of the month before last week."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user, on
from lims.identity.demo_accounts import demo_password
from lims.review.models import AccessReview, TrailReview
from lims.review.service import access, trail

#: the defaults of LIMS_ACCESS_REVIEW_DAYS and LIMS_AUDIT_TRAIL_REVIEW_DAYS (a demo loader reads no settings)
DEMO_ACCESS_REVIEW_DAYS = 90
DEMO_TRAIL_REVIEW_DAYS = 30


def load_reviews(session: Session) -> None:
    today = clock.today()
    if session.scalar(select(AccessReview.id).limit(1)) is None:
        manager = demo_user(session, "m.larsen")
        with on(today, (42, "10:15")), acting_as(session, manager):
            people = access.users_to_review(session)
            access.review_access(
                session,
                decisions={person.id: set(person.role_names) for person in people},
                listed={person.id: access.role_text(person.role_names) for person in people},
                change_reason=None,
                comment="Every account is in use by its owner; roles match their jobs.",
                interval_days=DEMO_ACCESS_REVIEW_DAYS,
                user=manager,
                password=demo_password(manager.username),
            )
    if session.scalar(select(TrailReview.id).limit(1)) is None:
        qa = demo_user(session, "q.okafor")
        with on(today, (9, "16:40")), acting_as(session, qa):
            trail.review_period(
                session,
                start=today - timedelta(days=40),
                end=today - timedelta(days=10),
                comment="Nothing to report: changes carry reasons, refusals were followed up.",
                interval_days=DEMO_TRAIL_REVIEW_DAYS,
                user=qa,
                password=demo_password(qa.username),
            )
