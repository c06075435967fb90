"""Passwords: the policy a new one must meet, argon2 hashing, temporary passwords, resets and changes."""

from __future__ import annotations

import secrets
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.identity.errors import PasswordPolicyViolation, WrongCurrentPassword
from lims.identity.models import SessionEndCause, User
from lims.identity.service.lockout import count_wrong_password
from lims.identity.service.sessions import end_sessions

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256

_hasher = PasswordHasher()


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("lims.identity").joinpath("common_passwords.txt").read_text()
    return frozenset(line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#"))


def check_password_policy(password: str, *, username: str) -> None:
    """Refuse a password that breaks the policy, saying which rule it breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyViolation(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long (this one has {len(password)})."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyViolation(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    if username and username.lower() in password.lower():
        raise PasswordPolicyViolation("The password must not contain the username.")
    if password.lower() in _common_passwords():
        raise PasswordPolicyViolation("This password is on the list of commonly used passwords; choose another.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
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
            check_password_policy(candidate, username=username)
        except PasswordPolicyViolation:
            continue
        return candidate


def reset_password(session: Session, user: User, *, actor: User) -> str:
    """Give a user a temporary password they must change at the next login; return it."""
    temporary = generate_temporary_password(user.username)
    with audit_context.reason_for_change(session, f"Temporary password issued by {actor.full_name}"):
        user.password_hash = hash_password(temporary)
        user.must_change_password = True
        user.password_changed_at = clock.now()
    end_sessions(session, user, SessionEndCause.PASSWORD_RESET)
    return temporary


def change_password(
    session: Session, user: User, *, current_password: str, new_password: str, client_address: str | None = None
) -> User:
    """Change one's own password after proving the current one (a wrong one counts toward lockout); end every
    session of the user, the one in use included: the caller opens a new one if it is to go on."""
    if not password_matches(user, current_password):
        count_wrong_password(session, user, client_address, "changing their password")
        raise WrongCurrentPassword("The current password is wrong.", field="current_password")
    if current_password == new_password:
        raise PasswordPolicyViolation("The new password must differ from the current one.")
    check_password_policy(new_password, username=user.username)
    with audit_context.reason_for_change(session, "Password changed by its owner"):
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_changed_at = clock.now()
    end_sessions(session, user, SessionEndCause.PASSWORD_CHANGED)
    return user
