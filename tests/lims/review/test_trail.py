"""QA's review of the audit trail of a period (the facility's local dates)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.errors import LoginFailed
from lims.identity.models import RoleName
from lims.review.errors import PeriodRefused
from lims.review.models import TrailReview, TrailScope
from lims.review.service import trail
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from tests.helpers import PASSWORD

NOW = datetime(2026, 12, 5, 9, 0, tzinfo=UTC)


@pytest.fixture
def qa(create_user):
    return create_user(RoleName.QA)


def event_at(session, moment):
    with clock.frozen(moment):
        audit_chain.record(session, "audit.verified", details={"result": f"at {moment.isoformat()}"})
        session.flush()


def review_period(session, user, start, end, **overrides):
    return trail.review_period(
        session,
        start=start,
        end=end,
        comment=overrides.pop("comment", "Nothing to report."),
        interval_days=30,
        user=user,
        password=overrides.pop("password", PASSWORD),
    )


def test_qa_signs_the_review_of_a_period_counting_its_events_in_local_dates(db_session, qa):
    # At a site at UTC+8 the 1st of December starts at 16:00 UTC on the 30th of November.
    clock.set_facility_zone(ZoneInfo("Asia/Singapore"))
    event_at(db_session, datetime(2026, 11, 30, 15, 59, tzinfo=UTC))  # 30 Nov local: outside
    event_at(db_session, datetime(2026, 11, 30, 16, 0, tzinfo=UTC))  # 1 Dec local
    event_at(db_session, datetime(2026, 12, 2, 15, 59, tzinfo=UTC))  # 2 Dec local, last minute
    event_at(db_session, datetime(2026, 12, 2, 16, 0, tzinfo=UTC))  # 3 Dec local: outside
    with clock.frozen(NOW):
        signed = review_period(db_session, qa, date(2026, 12, 1), date(2026, 12, 2))
    assert signed.scope == TrailScope.PERIOD and signed.events_reviewed == 2
    assert signed.label == "audit trail of 2026-12-01 to 2026-12-02"
    [(signature, status)] = signatures.signatures_of(db_session, signed)
    assert signature.signer_id == qa.id and status == signatures.SignatureStatus.VALID


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (date(2026, 12, 3), date(2026, 12, 2), "ends before it starts"),
        (date(2026, 12, 1), date(2026, 12, 5), "once it is over"),
        (date(2025, 11, 1), date(2026, 12, 2), "at most 366 days"),
    ],
)
def test_a_period_not_yet_over_backwards_or_too_long_is_refused(db_session, qa, start, end, message):
    with clock.frozen(NOW), pytest.raises(PeriodRefused, match=message):
        review_period(db_session, qa, start, end)
    assert db_session.scalar(select(func.count()).select_from(TrailReview)) == 0


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.ADMIN])
def test_only_qa_signs_an_audit_trail_review(db_session, create_user, role):
    with clock.frozen(NOW), pytest.raises(SignatureRefused, match="Your role may not sign"):
        review_period(db_session, create_user(role), date(2026, 12, 1), date(2026, 12, 2))


def test_a_wrong_password_signs_no_review(db_session, qa):
    with clock.frozen(NOW), pytest.raises(LoginFailed, match="nothing was signed"):
        review_period(db_session, qa, date(2026, 12, 1), date(2026, 12, 2), password="wrong-password-1")
    assert db_session.scalar(select(func.count()).select_from(TrailReview)) == 0


def test_a_record_review_stands_until_the_records_trail_grows(db_session, qa, create_user):
    subject = create_user(RoleName.TECHNICIAN)
    keys = [("user_account", str(subject.id))]
    assert trail.record_trail_state(db_session, keys[0], keys).problem("user x") == (
        "QA has not reviewed the audit trail of user x"
    )
    signed = trail.review_record(
        db_session, keys[0], label="user x", trail=keys, comment="Fine.", user=qa, password=PASSWORD
    )
    assert signed.events_reviewed == db_session.scalar(
        select(func.count()).where(AuditEvent.entity_type == "user_account", AuditEvent.entity_id == str(subject.id))
    )
    state = trail.record_trail_state(db_session, keys[0], keys)
    assert state.reviewed and state.review.id == signed.id
    audit_chain.record(db_session, "report.generated", entity=subject)
    db_session.flush()
    assert trail.record_trail_state(db_session, keys[0], keys).reviewed, "reading a record changes nothing"
    with audit_context.reason_for_change(db_session, "Typo"):
        subject.full_name = "Corrected Name"
    state = trail.record_trail_state(db_session, keys[0], keys)
    assert not state.reviewed
    assert state.problem("user x") == (
        f"the audit trail of user x has 1 change since QA reviewed it (up to event {signed.through_sequence}): "
        "review it again"
    )
