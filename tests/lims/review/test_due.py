"""When the periodic reviews fall due: at their boundary, with a pinned clock (the day before, on, the day after)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.review.service import access, trail
from tests.helpers import PASSWORD

SIGNED_AT = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def at_local_noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


@pytest.fixture
def access_review_signed(db_session, create_user):
    manager = create_user(RoleName.MANAGER)
    audit_context.attribute_to(db_session, manager.id, manager.full_name)
    people = access.users_to_review(db_session)
    with clock.frozen(SIGNED_AT):
        access.review_access(
            db_session,
            decisions={person.id: set(person.role_names) for person in people},
            listed={person.id: access.role_text(person.role_names) for person in people},
            change_reason=None,
            comment=None,
            interval_days=90,
            user=manager,
            password=PASSWORD,
        )


@pytest.fixture
def trail_review_signed(db_session, create_user):
    with clock.frozen(SIGNED_AT):
        trail.review_period(
            db_session,
            start=date(2026, 8, 1),
            end=date(2026, 8, 31),
            comment="Nothing to report.",
            interval_days=30,
            user=create_user(RoleName.QA),
            password=PASSWORD,
        )


def test_with_no_review_ever_signed_both_are_due_at_once(db_session):
    today = date(2026, 9, 1)
    assert access.due(db_session).describe(today, "access review") == "no access review signed yet"
    assert trail.due(db_session).days_overdue(today) == 0


@pytest.mark.parametrize(
    ("days_after", "overdue", "described"),
    [
        (89, None, "access review due on 2026-11-30"),
        (90, 0, "access review due today (2026-11-30)"),
        (91, 1, "access review 1 day overdue (due 2026-11-30)"),
    ],
)
def test_the_access_review_falls_due_its_interval_after_the_last(
    db_session, access_review_signed, days_after, overdue, described
):
    today = SIGNED_AT.date() + timedelta(days=days_after)
    with clock.frozen(at_local_noon(today)):
        state = access.due(db_session)
    assert state.last_reviewed_on == SIGNED_AT.date()
    assert state.days_overdue(today) == overdue
    assert state.describe(today, "access review") == described


@pytest.mark.parametrize(("days_after", "overdue"), [(29, None), (30, 0), (31, 1)])
def test_the_audit_trail_review_falls_due_its_interval_after_the_last(
    db_session, trail_review_signed, days_after, overdue
):
    today = SIGNED_AT.date() + timedelta(days=days_after)
    assert trail.due(db_session).days_overdue(today) == overdue
