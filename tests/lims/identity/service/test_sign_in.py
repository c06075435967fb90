"""Signing in: the record of attempts, one message for every refusal, lockout and unlocking."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.models import AuditEvent
from lims.identity.errors import AccountLocked, AccountNotLocked, LoginFailed
from lims.identity.models import LoginAttempt, LoginOutcome, RoleName
from lims.identity.service import sign_in, users
from tests.helpers import PASSWORD

# After any real creation time, so users made before freezing predate every attempt.
START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)


def fail_login(db_session, user, times: int = 1):
    for _ in range(times):
        with pytest.raises(LoginFailed):
            sign_in.authenticate(
                db_session, username=user.username, password="not-the-password", client_address="10.1.2.3"
            )


def test_login_succeeds_with_the_right_password_and_records_it(db_session, create_user):
    clock.freeze(START)
    user = create_user()
    signed_in = sign_in.authenticate(
        db_session, username=user.username.upper(), password=PASSWORD, client_address="10.0.0.9"
    )
    assert signed_in is user
    assert user.last_login_at == START
    attempt = db_session.scalar(select(LoginAttempt).where(LoginAttempt.user_id == user.id))
    assert (attempt.outcome, attempt.client_address, attempt.attempted_at) == (LoginOutcome.SUCCESS, "10.0.0.9", START)


def test_wrong_password_and_unknown_user_get_the_same_message(db_session, create_user):
    user = create_user()
    with pytest.raises(LoginFailed) as wrong:
        sign_in.authenticate(db_session, username=user.username, password="nope-nope-nope", client_address=None)
    with pytest.raises(LoginFailed) as unknown:
        sign_in.authenticate(db_session, username="nobody-here", password="nope-nope-nope", client_address=None)
    assert wrong.value.message == unknown.value.message == "Unknown username or wrong password."


def test_account_locks_at_the_fifth_failure_within_fifteen_minutes(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())
    clock.advance(timedelta(minutes=14))
    with pytest.raises(AccountLocked, match="locked after 5 failed"):
        sign_in.authenticate(db_session, username=user.username, password="still-wrong-pw", client_address="10.1.2.3")
    assert user.locked_until == START + timedelta(minutes=14 + 30)
    lockout = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.lockout")).one()
    assert (lockout.entity_type, lockout.entity_id) == ("user_account", str(user.id))
    assert lockout.recorded_at == START + timedelta(minutes=14)
    assert json.loads(lockout.changes) == {
        "failures": 5,
        "locked_until": (START + timedelta(minutes=44)).isoformat(timespec="microseconds"),
    }
    failures = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.wrong_password")).all()
    assert len(failures) == 5 and all(event.entity_id == str(user.id) for event in failures)


def test_a_locked_account_refuses_even_the_right_password(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    with pytest.raises(AccountLocked):
        sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)


def test_failures_spread_beyond_fifteen_minutes_do_not_lock(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    clock.advance(timedelta(minutes=15, seconds=1))
    fail_login(db_session, user)
    assert not user.is_locked(clock.now())


def test_a_successful_login_resets_the_failure_count(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())


def test_lockout_lifts_by_itself_after_thirty_minutes(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    clock.advance(timedelta(minutes=29, seconds=59))
    with pytest.raises(AccountLocked):
        sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    clock.advance(timedelta(seconds=2))
    assert sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None) is user


def test_admin_unlock_lifts_the_lock_and_forgets_old_failures(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    sign_in.unlock_user(db_session, user)
    assert not user.is_locked(clock.now())
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())
    assert sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None) is user


def test_unlocking_an_unlocked_account_is_refused(db_session, create_user):
    user = create_user()
    with pytest.raises(AccountNotLocked):
        sign_in.unlock_user(db_session, user)


def test_deactivated_user_is_refused_at_login(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    users.deactivate_user(db_session, user, reason="Left the company", actor=admin)
    with pytest.raises(LoginFailed, match="deactivated"):
        sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    assert (user.active, user.deactivation_reason) == (False, "Left the company")
