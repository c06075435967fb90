"""Passwords: the policy in context, argon2 hashing, temporary passwords, resets, changes, history and maximum age."""

from __future__ import annotations

import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.identity.demo_accounts import DEMO_PASSWORDS, is_demo_database
from lims.identity.errors import PasswordPolicyViolation, WrongCurrentPassword
from lims.identity.models import PasswordHistory, SessionEndCause, User
from lims.identity.service.lockout import count_wrong_password
from lims.identity.service.organizations import facility
from lims.identity.service.password_policy import (
    DEFAULT_MINIMUM_SCORE,
    PasswordContext,
    check_password_policy,
)
from lims.identity.service.sessions import end_sessions

#: A new password may not be any of the owner's last this many (the current one included).
PASSWORDS_REMEMBERED = 5

_hasher = PasswordHasher()


def password_context(
    session: Session, *, username: str, full_name: str, email: str, minimum_score: int = DEFAULT_MINIMUM_SCORE
) -> PasswordContext:
    """What a password of this person, in this database, is judged against."""
    registered_facility = facility(session)
    return PasswordContext(
        username=username,
        personal=(full_name, *email.split("@")),
        facility=() if registered_facility is None else (registered_facility.name, registered_facility.code),
        refused=frozenset() if is_demo_database(session) else DEMO_PASSWORDS,
        minimum_score=minimum_score,
    )


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    return _hash_matches(user.password_hash, password)


def _hash_matches(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True for a hash made with other parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


def generate_temporary_password(username: str) -> str:
    """Return a random password that satisfies the policy, for a first or reset login."""
    while True:
        candidate = secrets.token_urlsafe(15)
        try:
            check_password_policy(candidate, PasswordContext(username=username))
        except PasswordPolicyViolation:
            continue
        return candidate


def reset_password(session: Session, user: User, *, actor: User) -> str:
    """Give a user a temporary password they must change at the next login; return it."""
    temporary = generate_temporary_password(user.username)
    with audit_context.reason_for_change(session, f"Temporary password issued by {actor.full_name}"):
        _replace_password(session, user, hash_password(temporary))
        user.must_change_password = True
    end_sessions(session, user, SessionEndCause.PASSWORD_RESET)
    return temporary


def change_password(
    session: Session,
    user: User,
    *,
    current_password: str,
    new_password: str,
    client_address: str | None = None,
    minimum_score: int = DEFAULT_MINIMUM_SCORE,
) -> User:
    """Change one's own password after proving the current one (a wrong one counts toward lockout); end every
    session of the user, the one in use included: the caller opens a new one if it is to go on."""
    if not password_matches(user, current_password):
        count_wrong_password(session, user, client_address, "changing their password")
        raise WrongCurrentPassword("The current password is wrong.", field="current_password")
    if current_password == new_password:
        raise PasswordPolicyViolation("The new password must differ from the current one.", field="new_password")
    context = password_context(
        session, username=user.username, full_name=user.full_name, email=user.email, minimum_score=minimum_score
    )
    check_password_policy(new_password, context, field_name="new_password")
    if _used_recently(session, user, new_password):
        raise PasswordPolicyViolation(
            f"You have used this password recently: it must differ from your last {PASSWORDS_REMEMBERED} passwords.",
            field="new_password",
        )
    with audit_context.reason_for_change(session, "Password changed by its owner"):
        _replace_password(session, user, hash_password(new_password))
        user.must_change_password = False
    end_sessions(session, user, SessionEndCause.PASSWORD_CHANGED)
    return user


def require_change_if_too_old(session: Session, user: User, *, max_age_days: int | None) -> bool:
    """Make a user whose password is older than ``max_age_days`` change it before working; True if so."""
    if max_age_days is None or user.must_change_password:
        return False
    if clock.now() - user.password_changed_at <= timedelta(days=max_age_days):
        return False
    with audit_context.reason_for_change(session, f"Password older than the maximum age of {max_age_days} days"):
        user.must_change_password = True
    return True


def _used_recently(session: Session, user: User, password: str) -> bool:
    earlier = session.scalars(
        select(PasswordHistory.password_hash)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
        .limit(PASSWORDS_REMEMBERED - 1)
    )
    return any(_hash_matches(password_hash, password) for password_hash in earlier)


def _replace_password(session: Session, user: User, new_hash: str) -> None:
    """Put the new hash in place, remember the old one, forget those beyond what the history rule needs."""
    now = clock.now()
    session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash, replaced_at=now))
    session.flush()
    kept = (
        select(PasswordHistory.id)
        .where(PasswordHistory.user_id == user.id)
        .order_by(PasswordHistory.replaced_at.desc(), PasswordHistory.id.desc())
        .limit(PASSWORDS_REMEMBERED - 1)
    )
    session.execute(
        delete(PasswordHistory).where(
            PasswordHistory.user_id == user.id, PasswordHistory.id.not_in(kept.scalar_subquery())
        )
    )
    user.password_hash = new_hash
    user.password_changed_at = now
