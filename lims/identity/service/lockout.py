"""The record of password attempts, and the lockout that repeated wrong passwords lead to.

A wrong password counts the same wherever it is typed: at sign-in, when signing a record, or when
changing one's own password. Locking an account ends its sessions.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import chain as audit_chain
from lims.identity.errors import AccountLocked
from lims.identity.models import LoginAttempt, LoginOutcome, SessionEndCause, User
from lims.identity.service.sessions import end_sessions

FAILURES_BEFORE_LOCKOUT = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=30)


def record_attempt(
    session: Session,
    username: str,
    user: User | None,
    outcome: LoginOutcome,
    client_address: str | None,
    purpose: str | None = None,
) -> None:
    """Keep an attempt and audit it; ``purpose`` tells QA what the password was typed for, when not to sign in."""
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


def refuse_while_locked(session: Session, user: User, client_address: str | None, purpose: str | None) -> None:
    """Refuse, and record the attempt, while ``user`` is locked out: not even the right password opens it."""
    if user.is_locked(clock.now()):
        record_attempt(session, user.username, user, LoginOutcome.LOCKED, client_address, purpose)
        raise AccountLocked(locked_message(user))


def count_wrong_password(session: Session, user: User, client_address: str | None, purpose: str | None) -> None:
    """Record a wrong password of ``user``; at the fifth within the window lock the account, end its sessions
    and raise AccountLocked."""
    record_attempt(session, user.username, user, LoginOutcome.WRONG_PASSWORD, client_address, purpose)
    now = clock.now()
    if _count_recent_failures(session, user, now) < FAILURES_BEFORE_LOCKOUT:
        return
    user.locked_until = now + LOCKOUT_DURATION
    user.failures_counted_since = now
    session.flush()
    audit_chain.record(
        session,
        "login.lockout",
        entity=user,
        details={"failures": FAILURES_BEFORE_LOCKOUT, "locked_until": user.locked_until},
    )
    end_sessions(session, user, SessionEndCause.LOCKED)
    raise AccountLocked(locked_message(user))


def locked_message(user: User) -> str:
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
