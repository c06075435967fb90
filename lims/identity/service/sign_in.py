"""Signing in: checking the password (failures count toward lockout), proving it again to sign, unlocking."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.identity.errors import AccountNotLocked, LoginFailed
from lims.identity.models import LoginAttempt, LoginOutcome, User
from lims.identity.service.lockout import count_wrong_password, record_attempt, refuse_while_locked
from lims.identity.service.passwords import (
    hash_password,
    needs_rehash,
    password_matches,
)


def authenticate(session: Session, *, username: str, password: str, client_address: str | None) -> User:
    """Check a login; count failures and lock the account at the fifth within the window."""
    now = clock.now()
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Hash anyway so the response time does not reveal which usernames exist.
        hash_password(password)
        record_attempt(session, username, None, LoginOutcome.UNKNOWN_USER, client_address)
        raise LoginFailed("Unknown username or wrong password.")
    _check_password(session, user, password, client_address, "Unknown username or wrong password.")
    if not user.active:
        record_attempt(session, username, user, LoginOutcome.DEACTIVATED, client_address)
        raise LoginFailed("This account is deactivated. Ask an administrator if you need access.")
    audit_context.attribute_to(session, user.id, user.full_name)
    user.last_login_at = now
    user.locked_until = None
    user.failures_counted_since = now
    record_attempt(session, username, user, LoginOutcome.SUCCESS, client_address)
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
        client_address,
        "The password is wrong; nothing was signed.",
        purpose=purpose,
    )


def _check_password(
    session: Session,
    user: User,
    password: str,
    client_address: str | None,
    wrong_password_message: str,
    *,
    purpose: str | None = None,
) -> None:
    refuse_while_locked(session, user, client_address, purpose)
    if password_matches(user, password):
        return
    count_wrong_password(session, user, client_address, purpose)
    raise LoginFailed(wrong_password_message, field="password")


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
