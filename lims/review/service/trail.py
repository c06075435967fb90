"""The audit-trail review: QA signs that it read the trail of a period (the facility's local dates) or of one
record with its parts (a batch's before release), up to the chain's head when it signed.

A record's review stands while nothing is added to the record's trail after the event it went up to; the area
that owns the record says which records make up its trail (a batch's steps, deviations, QC results...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Select, and_, func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from lims import clock
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.audit.naming import RecordKey
from lims.errors import RecordNotFound
from lims.identity.models import RoleName, User
from lims.identity.service.sign_in import reauthenticate
from lims.pagination import KeysetPage, page_after
from lims.review.errors import PeriodRefused
from lims.review.models import TrailReview, TrailScope
from lims.review.service.intervals import DueState, due_state, next_due_on
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning

MEANING = SignatureMeaning.REVIEWED
REVIEWERS = frozenset({RoleName.QA})
SORT_KEY = (TrailReview.reviewed_at, TrailReview.id)
#: the events that change a record: after a review of its trail, only these make the review outdated (reading it,
#: generating its PDF or a refusal leave what was reviewed as it was)
CHANGING_ACTIONS = ("create", "update", "signature.applied")
#: the longest period one review covers: a longer one is not read with care
LONGEST_PERIOD_DAYS = 366


def _start_of(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=clock.facility_zone()).astimezone(UTC)


def _count_of_events(records: Sequence[RecordKey]) -> Select[int]:
    """The count of the events of ``records`` (narrowed further by the caller)."""
    ids_by_type: dict[str, list[str]] = {}
    for entity_type, entity_id in records:
        ids_by_type.setdefault(entity_type, []).append(entity_id)
    return select(func.count()).where(
        or_(
            *(
                and_(AuditEvent.entity_type == entity_type, AuditEvent.entity_id.in_(ids))
                for entity_type, ids in ids_by_type.items()
            )
        )
    )


def _head(session: Session) -> int:
    return session.scalar(select(func.max(AuditEvent.sequence))) or 0


def check_may_review(session: Session, user: User) -> None:
    """Refuse, before the password is asked for, anyone who may not sign an audit-trail review."""
    signatures.check_may_sign(session, TrailReview(), MEANING, user)


def _sign(
    session: Session, review: TrailReview, *, user: User, password: str, client_address: str | None
) -> TrailReview:
    with audit_context.reason_for_change(session, f"Review of the {review.label} signed"):
        session.add(review)
    signatures.sign(session, review, meaning=MEANING, user=user, password=password, client_address=client_address)
    return review


def review_period(
    session: Session,
    *,
    start: date,
    end: date,
    comment: str,
    interval_days: int,
    user: User,
    password: str,
    client_address: str | None = None,
) -> TrailReview:
    """Sign QA's review of every event recorded from ``start`` to ``end`` (local dates, both included)."""
    check_may_review(session, user)
    if end < start:
        raise PeriodRefused("The period ends before it starts.", field="period_end")
    if end >= clock.today():
        raise PeriodRefused("A period is reviewed once it is over: end it yesterday at the latest.", field="period_end")
    if (end - start).days >= LONGEST_PERIOD_DAYS:
        raise PeriodRefused(
            f"Review at most {LONGEST_PERIOD_DAYS} days at a time: a longer trail is not read with care.",
            field="period_start",
        )
    reauthenticate(
        session, user, password=password, client_address=client_address, purpose="signing an audit-trail review"
    )
    count, newest = session.execute(
        select(func.count(), func.max(AuditEvent.sequence)).where(
            AuditEvent.recorded_at >= _start_of(start), AuditEvent.recorded_at < _start_of(end + timedelta(days=1))
        )
    ).one()
    now = clock.now()
    review = TrailReview(
        scope=TrailScope.PERIOD,
        next_due_on=next_due_on(now, interval_days),
        period_start=start,
        period_end=end,
        through_sequence=newest or _head(session),
        events_reviewed=count,
        comment=comment.strip(),
        reviewed_at=now,
        reviewed_by_id=user.id,
    )
    return _sign(session, review, user=user, password=password, client_address=client_address)


def review_record(
    session: Session,
    record: RecordKey,
    *,
    label: str,
    trail: Sequence[RecordKey],
    comment: str,
    user: User,
    password: str,
    client_address: str | None = None,
) -> TrailReview:
    """Sign QA's review of the trail of ``record`` (named ``label``), made of the events of the records ``trail``,
    up to the chain's head now."""
    check_may_review(session, user)
    reauthenticate(
        session, user, password=password, client_address=client_address, purpose=f"signing the review of {label}"
    )
    head = _head(session)
    count = session.execute(_count_of_events(trail).where(AuditEvent.sequence <= head)).scalar_one()
    review = TrailReview(
        scope=TrailScope.RECORD,
        entity_type=record[0],
        entity_id=record[1],
        record_label=label,
        through_sequence=head,
        events_reviewed=count,
        comment=comment.strip(),
        reviewed_at=clock.now(),
        reviewed_by_id=user.id,
    )
    return _sign(session, review, user=user, password=password, client_address=client_address)


@dataclass(frozen=True)
class RecordTrailState:
    """Whether a record's trail is reviewed: its newest review whose signature holds, and the events since."""

    review: TrailReview | None = None
    #: changes to the record's trail after the review's last event (``CHANGING_ACTIONS``); None without a review
    events_since: int | None = None

    @property
    def reviewed(self) -> bool:
        return self.review is not None and self.events_since == 0

    def problem(self, label: str) -> str | None:
        """Why the trail does not count as reviewed, in the lab's words; None when it does."""
        if self.review is None:
            return f"QA has not reviewed the audit trail of {label}"
        if self.events_since:
            plural = "s" if self.events_since != 1 else ""
            return (
                f"the audit trail of {label} has {self.events_since} change{plural} since QA reviewed it "
                f"(up to event {self.review.through_sequence}): review it again"
            )
        return None


def record_trail_state(session: Session, record: RecordKey, trail: Sequence[RecordKey]) -> RecordTrailState:
    """The newest signed review of ``record``'s trail (made of the events of ``trail``) and what came since; a few
    queries, whatever the record's size."""
    reviews = list(
        session.scalars(
            select(TrailReview)
            .where(TrailReview.entity_type == record[0], TrailReview.entity_id == record[1])
            .options(selectinload(TrailReview.reviewed_by))
            .order_by(TrailReview.id.desc())
        )
    )
    signed = signatures.signatures_of_many(session, reviews)
    holding = next((review for review in reviews if signatures.holding(signed[review.id], MEANING)), None)
    if holding is None:
        return RecordTrailState()
    count = session.execute(
        _count_of_events(trail).where(
            AuditEvent.sequence > holding.through_sequence, AuditEvent.action.in_(CHANGING_ACTIONS)
        )
    ).scalar_one()
    return RecordTrailState(holding, count)


def latest_record_review(session: Session, record: RecordKey) -> TrailReview | None:
    """The newest review of ``record``'s trail with its reviewer, in one statement: where a record's page says
    whether and by whom its trail was reviewed (a review is written with its signature, and cannot change after).
    Whether the trail changed since is the full reading of ``record_trail_state``."""
    return session.scalars(
        select(TrailReview)
        .where(TrailReview.entity_type == record[0], TrailReview.entity_id == record[1])
        .options(joinedload(TrailReview.reviewed_by))
        .order_by(TrailReview.id.desc())
        .limit(1)
    ).first()


def get_review(session: Session, review_id: int) -> TrailReview:
    review = session.get(TrailReview, review_id)
    if review is None:
        raise RecordNotFound(f"There is no audit-trail review {review_id}.")
    return review


def list_reviews(
    session: Session, *, after: tuple[datetime, int] | None = None, limit: int = 25
) -> KeysetPage[TrailReview]:
    """A page of the signed audit-trail reviews, periods and records, newest first."""
    query = select(TrailReview).options(selectinload(TrailReview.reviewed_by))
    return page_after(session, query, SORT_KEY, after=after, limit=limit, descending=True)


def last_period_review(session: Session) -> TrailReview | None:
    """The newest signed review of a period's trail."""
    return session.scalars(
        select(TrailReview)
        .where(TrailReview.scope == TrailScope.PERIOD)
        .order_by(*(column.desc() for column in SORT_KEY))
        .limit(1)
    ).first()


def due(session: Session) -> DueState:
    """Where the periodic audit-trail review stands: due on the date the last one set, or at once if none was."""
    last = last_period_review(session)
    return due_state(last.reviewed_at, last.next_due_on) if last else due_state(None, None)
