"""Signing in: checking the password, lockout after repeated failures, the record of attempts, session cookies."""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.identity.errors import AccountLocked, AccountNotLocked, LoginFailed
from lims.identity.models import LoginAttempt, LoginOutcome, User
from lims.identity.service.passwords import (
    hash_password,
    needs_rehash,
    password_matches,
)

FAILURES_BEFORE_LOCKOUT = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=30)


def authenticate(session: Session, *, username: str, password: str, client_address: str | None) -> User:
    """Check a login; count failures and lock the account at the fifth within the window."""
    now = clock.now()
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Hash anyway so the response time does not reveal which usernames exist.
        hash_password(password)
        _record_attempt(session, username, None, LoginOutcome.UNKNOWN_USER, client_address)
        raise LoginFailed("Unknown username or wrong password.")
    _check_password(session, user, password, now, client_address, "Unknown username or wrong password.")
    if not user.active:
        _record_attempt(session, username, user, LoginOutcome.DEACTIVATED, client_address)
        raise LoginFailed("This account is deactivated. Ask an administrator if you need access.")
    audit_context.attribute_to(session, user.id, user.full_name)
    user.last_login_at = now
    user.locked_until = None
    user.failures_counted_since = now
    _record_attempt(session, username, user, LoginOutcome.SUCCESS, client_address)
    if needs_rehash(user.password_hash):
        with audit_context.reason_for_change(session, "Password hash upgraded to the current parameters at sign-in"):
            user.password_hash = hash_password(password)
    return user


def reauthenticate(session: Session, user: User, *, password: str, client_address: str | None, purpose: str) -> None:
    """Prove that the signed-in user is at the keyboard (before a signature); failures count toward lockout.

    A failure is audited with ``purpose``, so that QA tells a refused signature from a refused sign-in.
    """
    if not user.active:
        raise LoginFailed("This account is deactivated.")
    _check_password(
        session,
        user,
        password,
        clock.now(),
        client_address,
        "The password is wrong; nothing was signed.",
        purpose=purpose,
    )


def _check_password(
    session: Session,
    user: User,
    password: str,
    now: datetime,
    client_address: str | None,
    wrong_password_message: str,
    *,
    purpose: str | None = None,
) -> None:
    if user.is_locked(now):
        _record_attempt(session, user.username, user, LoginOutcome.LOCKED, client_address, purpose)
        raise AccountLocked(_locked_message(user))
    if password_matches(user, password):
        return
    _record_attempt(session, user.username, user, LoginOutcome.WRONG_PASSWORD, client_address, purpose)
    if _count_recent_failures(session, user, now) >= FAILURES_BEFORE_LOCKOUT:
        user.locked_until = now + LOCKOUT_DURATION
        user.failures_counted_since = now
        session.flush()
        audit_chain.record(
            session,
            "login.lockout",
            entity=user,
            details={"failures": FAILURES_BEFORE_LOCKOUT, "locked_until": user.locked_until},
        )
        raise AccountLocked(_locked_message(user))
    raise LoginFailed(wrong_password_message, field="password")


def _locked_message(user: User) -> str:
    assert user.locked_until is not None
    minutes = max(1, int((user.locked_until - clock.now()).total_seconds() // 60))
    return (
        f"This account is locked after {FAILURES_BEFORE_LOCKOUT} failed sign-in attempts. "
        f"Try again in {minutes} minutes or ask an administrator to unlock it."
    )


def _count_recent_failures(session: Session, user: User, now: datetime) -> int:
    since = max(now - FAILURE_WINDOW, user.failures_counted_since)
    return (
        session.scalar(
            select(func.count(LoginAttempt.id)).where(
                LoginAttempt.user_id == user.id,
                LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD,
                LoginAttempt.attempted_at > since,
            )
        )
        or 0
    )


def _record_attempt(
    session: Session,
    username: str,
    user: User | None,
    outcome: LoginOutcome,
    client_address: str | None,
    purpose: str | None = None,
) -> None:
    session.add(
        LoginAttempt(
            username=username[:200],
            user_id=user.id if user else None,
            outcome=outcome,
            attempted_at=clock.now(),
            client_address=client_address,
        )
    )
    session.flush()
    details = {"username": username[:200]} if purpose is None else {"username": username[:200], "while": purpose}
    audit_chain.record(session, f"login.{outcome.value}", entity=user, details=details)


def recent_login_attempts(session: Session, user: User, *, limit: int = 20) -> list[LoginAttempt]:
    return list(
        session.scalars(
            select(LoginAttempt)
            .where(LoginAttempt.user_id == user.id)
            .order_by(LoginAttempt.attempted_at.desc(), LoginAttempt.id.desc())
            .limit(limit)
        )
    )


def locked_users_count(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.locked_until > clock.now())) or 0


def unlock_user(session: Session, user: User) -> User:
    """Lift a lockout and forget the failures that caused it."""
    now = clock.now()
    if not user.is_locked(now):
        raise AccountNotLocked(f"{user.username} is not locked.")
    user.locked_until = None
    user.failures_counted_since = now
    session.flush()
    audit_chain.record(session, "user.unlocked", entity=user)
    return user


def user_for_session(session: Session, session_id: str) -> User | None:
    """Return the active user a session cookie names, or None if it no longer holds."""
    user_id, _, nonce = session_id.partition(":")
    if not user_id.isdigit():
        return None
    # Every request asks the user's roles and organization; load them with it.
    user = session.get(User, int(user_id), options=[selectinload(User.roles), joinedload(User.organization)])
    if user is None or not user.active or not hmac.compare_digest(user.session_nonce, nonce):
        return None
    return user
