"""The periodic reviews' compliance checks at their boundary, with a pinned clock: the day before, on, after due."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.registry import Condition
from lims.review import compliance
from lims.review.service import access, trail
from tests.helpers import PASSWORD

SIGNED_AT = datetime(2026, 9, 1, 10, 0, tzinfo=UTC)


def noon(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 12, 0, tzinfo=UTC)


def test_both_are_due_while_none_was_ever_signed(db_session):
    [access_due] = compliance.access_review_due(db_session, SIGNED_AT, {})
    assert access_due == Condition(
        "access_review", "none", "the periodic access review", "no access review signed yet", "/reviews/access"
    )
    [trail_due] = compliance.audit_trail_review_due(db_session, SIGNED_AT, {})
    assert trail_due.detail == "no audit-trail review signed yet" and trail_due.severity is None


@pytest.fixture
def access_review(db_session, create_user):
    manager = create_user(RoleName.MANAGER)
    audit_context.attribute_to(db_session, manager.id, manager.full_name)
    people = access.users_to_review(db_session)
    with clock.frozen(SIGNED_AT):
        return access.review_access(
            db_session,
            decisions={person.id: set(person.role_names) for person in people},
            listed={person.id: access.role_text(person.role_names) for person in people},
            change_reason=None,
            comment=None,
            interval_days=90,
            user=manager,
            password=PASSWORD,
        )


@pytest.mark.parametrize(
    ("days_after", "detail", "severity"),
    [
        (89, None, None),
        (90, "access review due today (2026-11-30)", "minor"),
        (91, "access review 1 day overdue (due 2026-11-30)", None),
    ],
)
def test_the_access_review_check_at_its_due_date(db_session, access_review, days_after, detail, severity):
    conditions = list(compliance.access_review_due(db_session, noon(SIGNED_AT.date() + timedelta(days=days_after)), {}))
    if detail is None:
        assert conditions == []
        return
    [condition] = conditions
    assert (condition.record_id, condition.detail, condition.severity) == (str(access_review.id), detail, severity)


@pytest.fixture
def period_review(db_session, create_user):
    with clock.frozen(SIGNED_AT):
        return trail.review_period(
            db_session,
            start=date(2026, 8, 1),
            end=date(2026, 8, 31),
            comment="Nothing to report.",
            interval_days=30,
            user=create_user(RoleName.QA),
            password=PASSWORD,
        )


@pytest.mark.parametrize(
    ("days_after", "detail"),
    [
        (29, None),
        (30, "audit-trail review due today (2026-10-01)"),
        (31, "audit-trail review 1 day overdue (due 2026-10-01)"),
    ],
)
def test_the_audit_trail_review_check_at_its_due_date(db_session, period_review, days_after, detail):
    conditions = list(
        compliance.audit_trail_review_due(db_session, noon(SIGNED_AT.date() + timedelta(days=days_after)), {})
    )
    assert [condition.detail for condition in conditions] == ([detail] if detail else [])
    assert all(condition.record_id == str(period_review.id) for condition in conditions)


def test_a_batch_trail_review_does_not_count_as_the_periodic_one(db_session, create_user, period_review):
    qa = create_user(RoleName.QA)
    keys = [("user_account", str(qa.id))]
    with clock.frozen(SIGNED_AT + timedelta(days=40)):
        trail.review_record(
            db_session, keys[0], label="user q", trail=keys, comment="Fine.", user=qa, password=PASSWORD
        )
    [condition] = compliance.audit_trail_review_due(db_session, noon(SIGNED_AT.date() + timedelta(days=41)), {})
    assert condition.record_id == str(period_review.id)
