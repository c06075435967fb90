"""Server-side sessions: opened at sign-in, found by the cookie's token, ended for a cause, each end audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.errors import ReasonRequired
from lims.identity.errors import AccountLocked, LoginFailed, NoSessionToEnd, WrongCurrentPassword
from lims.identity.models import SessionEndCause, UserSession
from lims.identity.service import passwords, sessions, sign_in
from tests.lims.audit.helpers import events

START = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
IDLE = timedelta(minutes=15)


def open_for(db_session, user, address="10.0.0.7"):
    return sessions.open_session(db_session, user, client_address=address, user_agent="Tablet Browser 1.0")


def causes(db_session, action):
    return [json.loads(event.changes)["cause"] for event in events(db_session, action=action)]


def test_the_table_keeps_only_a_hash_of_the_cookies_token(db_session, create_user):
    user = create_user()
    token = open_for(db_session, user)
    stored = db_session.scalars(select(UserSession).where(UserSession.user_id == user.id)).one()
    assert token not in stored.token_hash and len(stored.token_hash) == 64
    assert (stored.client_address, stored.user_agent) == ("10.0.0.7", "Tablet Browser 1.0")
    assert sessions.find_open_session(db_session, token) is stored
    assert sessions.find_open_session(db_session, token + "x") is None


def test_ending_all_sessions_of_a_user_leaves_other_users_signed_in(db_session, create_user):
    user, colleague = create_user(), create_user()
    tokens = [open_for(db_session, user), open_for(db_session, user, "10.0.0.8")]
    colleague_token = open_for(db_session, colleague)
    assert sessions.end_sessions(db_session, user, SessionEndCause.PASSWORD_RESET) == 2
    assert [sessions.find_open_session(db_session, token) for token in tokens] == [None, None]
    assert sessions.find_open_session(db_session, colleague_token).user is colleague
    assert causes(db_session, "session.ended") == ["the password was reset"] * 2
    assert {event.entity_id for event in events(db_session, action="session.ended")} == {str(user.id)}


def test_a_password_reset_by_an_administrator_ends_the_users_sessions(db_session, create_user):
    admin, user = create_user(), create_user()
    token = open_for(db_session, user)
    passwords.reset_password(db_session, user, actor=admin)
    assert sessions.find_open_session(db_session, token) is None
    assert causes(db_session, "session.ended") == ["the password was reset"]


def test_a_wrong_current_password_counts_toward_lockout_which_ends_the_sessions(db_session, create_user):
    user = create_user()
    token = open_for(db_session, user)
    clock.freeze(START)
    for _ in range(4):
        with pytest.raises(WrongCurrentPassword):
            passwords.change_password(
                db_session, user, current_password="guess-guess-1", new_password="fresh-start-pipette-9"
            )
    assert sessions.find_open_session(db_session, token) is not None
    with pytest.raises(AccountLocked):
        passwords.change_password(db_session, user, current_password="guess-guess-2", new_password="fresh-start-9x")
    assert user.is_locked(clock.now()) and sessions.find_open_session(db_session, token) is None
    wrong = events(db_session, action="login.wrong_password")
    assert len(wrong) == 5 and json.loads(wrong[0].changes)["while"] == "changing their password"
    assert causes(db_session, "session.ended") == ["the account was locked"]


def test_wrong_signing_passwords_that_lock_the_account_end_its_sessions(db_session, create_user):
    user = create_user()
    token = open_for(db_session, user)
    clock.freeze(START)
    for _ in range(4):
        with pytest.raises(LoginFailed):
            sign_in.reauthenticate(db_session, user, password="not-it-at-all", client_address=None, purpose="a test")
    with pytest.raises(AccountLocked):
        sign_in.reauthenticate(db_session, user, password="not-it-at-all", client_address=None, purpose="a test")
    assert sessions.find_open_session(db_session, token) is None


def test_the_active_sessions_leave_out_ended_and_idle_ones(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    open_for(db_session, user, "10.0.0.1")
    clock.advance(IDLE)
    ended = open_for(db_session, user, "10.0.0.2")
    sessions.end_session(db_session, sessions.find_open_session(db_session, ended), SessionEndCause.SIGNED_OUT)
    open_for(db_session, user, "10.0.0.3")
    clock.advance(timedelta(seconds=1))
    listed = sessions.active_sessions(db_session, user, idle_time=IDLE)
    assert [user_session.client_address for user_session in listed] == ["10.0.0.3"]


def test_idle_sessions_whose_browser_never_returns_are_ended_and_audited(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    stale = open_for(db_session, user, "10.0.0.1")
    clock.advance(IDLE - timedelta(minutes=1))
    fresh = open_for(db_session, user, "10.0.0.2")
    clock.advance(timedelta(minutes=1, seconds=1))
    assert sessions.end_idle_sessions(db_session, idle_time=IDLE) == 1
    assert sessions.find_open_session(db_session, stale) is None
    assert sessions.find_open_session(db_session, fresh) is not None
    assert causes(db_session, "logout") == ["idle for more than 15 minutes"]


def test_an_administrator_ends_sessions_only_with_a_reason_and_only_open_ones(db_session, create_user):
    user = create_user()
    token = open_for(db_session, user)
    with pytest.raises(ReasonRequired):
        sessions.end_sessions_by_administrator(db_session, user, reason="  ")
    assert sessions.find_open_session(db_session, token) is not None
    assert sessions.end_sessions_by_administrator(db_session, user, reason="Tablet reported stolen") == 1
    (ended,) = events(db_session, action="session.ended")
    assert (ended.reason, json.loads(ended.changes)["cause"]) == ("Tablet reported stolen", "ended by an administrator")
    with pytest.raises(NoSessionToEnd):
        sessions.end_sessions_by_administrator(db_session, user, reason="Again")


def test_a_session_ended_twice_at_once_is_audited_once(db_session, create_user):
    user = create_user()
    found = sessions.find_open_session(db_session, open_for(db_session, user))
    assert sessions.end_session(db_session, found, SessionEndCause.SIGNED_OUT)
    # A second tab's request, which found the session open a moment before, ends it too late.
    assert not sessions.end_session(db_session, found, SessionEndCause.IDLE, idle_time=IDLE)
    assert causes(db_session, "logout") == ["signed out"]
