"""The periodic reviews' compliance checks: a finding while the access review or the audit-trail review is due.

Each signed review records the date the next one is due (the interval in force when it was signed), so the checks
take no parameter of their own: one finding per review missed, keyed by the last review, which the next signed
review resolves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from sqlalchemy.orm import Session

from lims import clock
from lims.registry import ComplianceCheck, Condition
from lims.review.service import access, trail
from lims.review.service.intervals import DueState

#: every morning before the lab's day starts (crontab, the facility's time zone)
EVERY_MORNING = "cron 0 6 * * *"


def _due(
    state: DueState, now: datetime, *, record_type: str, last_id: int | None, what: str, link: str
) -> list[Condition]:
    today = now.astimezone(clock.facility_zone()).date()
    overdue = state.days_overdue(today)
    if overdue is None:
        return []
    return [
        Condition(
            record_type=record_type,
            record_id=str(last_id) if last_id is not None else "none",
            record_label=f"the periodic {what}",
            detail=state.describe(today, what),
            link=link,
            # On its due day a review is a reminder; the day after, a lapse.
            severity="minor" if overdue == 0 and state.due_on is not None else None,
        )
    ]


def access_review_due(session: Session, now: datetime, _parameters: Mapping[str, int]) -> Iterable[Condition]:
    """The access review is due: its due date has come, or none was ever signed."""
    last = access.last_review(session)
    return _due(
        access.due(session),
        now,
        record_type="access_review",
        last_id=last[0] if last else None,
        what="access review",
        link="/reviews/access",
    )


def audit_trail_review_due(session: Session, now: datetime, _parameters: Mapping[str, int]) -> Iterable[Condition]:
    """The periodic audit-trail review is due: its due date has come, or none was ever signed."""
    last = trail.last_period_review(session)
    return _due(
        trail.due(session),
        now,
        record_type="audit_trail_review",
        last_id=last.id if last else None,
        what="audit-trail review",
        link="/reviews/audit-trail",
    )


ACCESS_REVIEW_DUE = ComplianceCheck(
    check_id="review.access-review-due",
    title="Periodic access review due",
    area="review",
    severity="major",
    schedule=EVERY_MORNING,
    run=access_review_due,
)
AUDIT_TRAIL_REVIEW_DUE = ComplianceCheck(
    check_id="review.audit-trail-review-due",
    title="Periodic audit-trail review due",
    area="review",
    severity="major",
    schedule=EVERY_MORNING,
    run=audit_trail_review_due,
)
