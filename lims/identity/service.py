"""The rules of identity: passwords, logins and lockout, roles, organizations, API tokens."""
from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, joinedload, selectinload

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.errors import AccessDenied, Conflict, InvalidInput, LimsError, RecordNotFound
from lims.identity.models import (
    STAFF_ROLES,
    ApiToken,
    LoginAttempt,
    LoginOutcome,
    Organization,
    OrganizationKind,
    Role,
    RoleName,
    User,
    user_role,
)
from lims.db import get_record
from lims.pagination import Page, paginate

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
FAILURES_BEFORE_LOCKOUT = 5
FAILURE_WINDOW = timedelta(minutes=15)
LOCKOUT_DURATION = timedelta(minutes=30)
API_TOKEN_PREFIX = "lims"

ROLE_DESCRIPTIONS: dict[RoleName, str] = {
    RoleName.TECHNICIAN: "Receives and accessions samples, executes batch steps, records calibrations and results.",
    RoleName.QA: "Reviews batch records, closes deviations, signs releases and reads audit trails.",
    RoleName.MANAGER: "Manages equipment, protocols and master batch records.",
    RoleName.ADMIN: "Manages users, roles, organizations and API tokens.",
    RoleName.CLIENT: "A client company's user: submits samples and sees only its own organization's data.",
}

_hasher = PasswordHasher()


class PasswordPolicyViolation(InvalidInput):
    def __init__(self, message: str) -> None:
        super().__init__(message, field="password")


class LoginFailed(LimsError):
    status_code = 401


class AccountLocked(LoginFailed):
    status_code = 423


class PasswordChangeRequired(AccessDenied):
    pass


@cache
def _common_passwords() -> frozenset[str]:
    text = resources.files("lims.identity").joinpath("common_passwords.txt").read_text()
    return frozenset(
        line.strip().lower() for line in text.splitlines() if line.strip() and not line.startswith("#")
    )


def check_password_policy(password: str, *, username: str) -> None:
    """Refuse a password that breaks the policy, saying which rule it breaks."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyViolation(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long "
            f"(this one has {len(password)})."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyViolation(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    if username and username.lower() in password.lower():
        raise PasswordPolicyViolation("The password must not contain the username.")
    if password.lower() in _common_passwords():
        raise PasswordPolicyViolation("This password is on the list of commonly used passwords; choose another.")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _password_matches(user: User, password: str) -> bool:
    try:
        return _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def generate_temporary_password(username: str) -> str:
    """Return a random password that satisfies the policy, for a first or reset login."""
    while True:
        candidate = secrets.token_urlsafe(15)
        try:
            check_password_policy(candidate, username=username)
        except PasswordPolicyViolation:
            continue
        return candidate


# Organizations


def list_organizations(session: Session, *, kind: OrganizationKind | None = None) -> list[Organization]:
    query = select(Organization).order_by(Organization.kind, Organization.name)
    if kind is not None:
        query = query.where(Organization.kind == kind)
    return list(session.scalars(query))


def get_organization(session: Session, organization_id: int) -> Organization:
    return get_record(session, Organization, organization_id, "organization")


def organization_by_code(session: Session, code: str) -> Organization:
    organization = session.scalar(select(Organization).where(Organization.code == code.upper()))
    if organization is None:
        raise RecordNotFound(f"There is no organization with code {code!r}.")
    return organization


def facility(session: Session) -> Organization | None:
    return session.scalar(select(Organization).where(Organization.kind == OrganizationKind.FACILITY))


def create_organization(session: Session, *, code: str, name: str, kind: OrganizationKind) -> Organization:
    """Register the facility or a client company."""
    code = code.upper()
    if kind == OrganizationKind.FACILITY and facility(session) is not None:
        raise Conflict("The facility is already registered; a deployment serves one facility.")
    _refuse_duplicate_organization(session, code=code, name=name)
    organization = Organization(code=code, name=name, kind=kind, active=True, created_at=clock.now())
    session.add(organization)
    session.flush()
    return organization


def update_organization(
    session: Session, organization: Organization, *, name: str, active: bool, reason: str
) -> Organization:
    """Rename an organization or change whether it is active, for the reason given."""
    _refuse_duplicate_organization(session, name=name, exclude_id=organization.id)
    if organization.is_facility and not active:
        raise InvalidInput("The facility cannot be deactivated.", field="active")
    with audit_context.reason_for_change(session, reason):
        organization.name = name
        organization.active = active
    return organization


def _refuse_duplicate_organization(
    session: Session, *, name: str, code: str | None = None, exclude_id: int | None = None
) -> None:
    same_name = select(Organization.id).where(func.lower(Organization.name) == name.lower())
    if exclude_id is not None:
        same_name = same_name.where(Organization.id != exclude_id)
    if session.scalar(same_name) is not None:
        raise Conflict(f"An organization named {name!r} already exists.", field="name")
    if code is not None and session.scalar(select(Organization.id).where(Organization.code == code)) is not None:
        raise Conflict(f"The organization code {code!r} is taken.", field="code")


# Roles


def list_roles(session: Session) -> list[tuple[Role, int]]:
    """Return every role with the number of active users holding it."""
    members = (
        select(func.count(user_role.c.user_id))
        .join(User, User.id == user_role.c.user_id)
        .where(user_role.c.role_id == Role.id, User.active.is_(True))
        .correlate(Role)
        .scalar_subquery()
    )
    return [(role, count) for role, count in session.execute(select(Role, members).order_by(Role.id))]


def _roles_by_name(session: Session, names: set[RoleName]) -> list[Role]:
    roles = list(session.scalars(select(Role).where(Role.name.in_(names)).order_by(Role.id)))
    if len(roles) != len(names):
        missing = names - {role.name for role in roles}
        raise InvalidInput(f"Unknown roles: {', '.join(sorted(missing))}.", field="roles")
    return roles


def _check_roles_fit_organization(roles: set[RoleName], organization: Organization) -> None:
    if not roles:
        raise InvalidInput("A user needs at least one role.", field="roles")
    if organization.is_facility and RoleName.CLIENT in roles:
        raise InvalidInput("The client role is for users of a client organization.", field="roles")
    if not organization.is_facility and roles & STAFF_ROLES:
        raise InvalidInput(
            "Users of a client organization can only hold the client role.", field="roles"
        )


# Users


@dataclass(frozen=True)
class UserFilter:
    text: str = ""
    role: RoleName | None = None
    organization_id: int | None = None
    status: str = "all"  # all | active | deactivated | locked


def list_users(session: Session, criteria: UserFilter, *, page: int, per_page: int = 25) -> Page[User]:
    query = select(User).order_by(User.username)
    if criteria.text:
        pattern = f"%{criteria.text.lower()}%"
        query = query.where(
            or_(
                func.lower(User.username).like(pattern),
                func.lower(User.full_name).like(pattern),
                func.lower(User.email).like(pattern),
            )
        )
    if criteria.role is not None:
        query = query.where(User.roles.any(Role.name == criteria.role))
    if criteria.organization_id is not None:
        query = query.where(User.organization_id == criteria.organization_id)
    if criteria.status == "active":
        query = query.where(User.active.is_(True))
    elif criteria.status == "deactivated":
        query = query.where(User.active.is_(False))
    elif criteria.status == "locked":
        query = query.where(User.locked_until > clock.now())
    return paginate(session, query, page=page, per_page=per_page)


def locked_users_count(session: Session) -> int:
    return session.scalar(select(func.count(User.id)).where(User.locked_until > clock.now())) or 0


def get_user(session: Session, user_id: int) -> User:
    return get_record(session, User, user_id, "user")


def user_by_username(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username.lower()))
    if user is None:
        raise RecordNotFound(f"There is no user {username!r}.")
    return user


def create_user(
    session: Session,
    *,
    username: str,
    full_name: str,
    email: str,
    organization: Organization,
    roles: set[RoleName],
    password: str,
    must_change_password: bool,
    actor: User | None,
) -> User:
    """Create a user account; the password must satisfy the policy."""
    username = username.lower()
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"The username {username!r} is taken.", field="username")
    if not organization.active:
        raise InvalidInput(f"{organization.name} is deactivated.", field="organization_id")
    _check_roles_fit_organization(roles, organization)
    check_password_policy(password, username=username)
    now = clock.now()
    user = User(
        username=username,
        full_name=full_name,
        email=email,
        organization=organization,
        roles=_roles_by_name(session, roles),
        password_hash=hash_password(password),
        must_change_password=must_change_password,
        active=True,
        created_at=now,
        password_changed_at=now,
        failures_counted_since=now,
        session_nonce=secrets.token_hex(16),
    )
    session.add(user)
    session.flush()
    return user


def update_user(
    session: Session, user: User, *, full_name: str, email: str, roles: set[RoleName], actor: User, reason: str
) -> User:
    """Change a user's name, e-mail or roles, for the reason given."""
    _check_roles_fit_organization(roles, user.organization)
    if user.id == actor.id and RoleName.ADMIN in user.role_names and RoleName.ADMIN not in roles:
        raise InvalidInput("You cannot remove your own admin role; ask another administrator.", field="roles")
    with audit_context.reason_for_change(session, reason):
        user.full_name = full_name
        user.email = email
        if user.role_names != roles:
            user.roles = _roles_by_name(session, roles)
    return user


def deactivate_user(session: Session, user: User, *, reason: str, actor: User | None) -> User:
    """Deactivate an account (accounts are never deleted) and end its sessions."""
    if not reason.strip():
        raise InvalidInput("Give the reason for deactivating this account.", field="reason")
    if actor is not None and user.id == actor.id:
        raise InvalidInput("You cannot deactivate your own account.")
    if not user.active:
        raise Conflict(f"{user.username} is already deactivated.")
    with audit_context.reason_for_change(session, reason):
        user.active = False
        user.deactivated_at = clock.now()
        user.deactivation_reason = reason.strip()
        user.session_nonce = secrets.token_hex(16)
        _revoke_tokens_created_by(session, user)
    return user


def _revoke_tokens_created_by(session: Session, user: User) -> None:
    # Tokens stay with their organization; only a client user's own tokens
    # go with them, because the organization may not know they exist.
    if user.is_staff:
        return
    for token in session.scalars(
        select(ApiToken).where(ApiToken.created_by_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = clock.now()
        token.revoked_by_id = user.id


def reactivate_user(session: Session, user: User, *, reason: str) -> User:
    """Let a deactivated user sign in again, for the reason given."""
    if user.active:
        raise Conflict(f"{user.username} is already active.")
    with audit_context.reason_for_change(session, reason):
        user.active = True
        user.deactivated_at = None
        user.deactivation_reason = None
    return user


def unlock_user(session: Session, user: User) -> User:
    """Lift a lockout and forget the failures that caused it."""
    now = clock.now()
    if not user.is_locked(now):
        raise Conflict(f"{user.username} is not locked.")
    user.locked_until = None
    user.failures_counted_since = now
    session.flush()
    audit_chain.record(session, "user.unlocked", entity=user)
    return user


def reset_password(session: Session, user: User, *, actor: User) -> str:
    """Give a user a temporary password they must change at the next login; return it."""
    temporary = generate_temporary_password(user.username)
    with audit_context.reason_for_change(session, f"Temporary password issued by {actor.full_name}"):
        user.password_hash = hash_password(temporary)
        user.must_change_password = True
        user.password_changed_at = clock.now()
        user.session_nonce = secrets.token_hex(16)
    return temporary


def change_password(session: Session, user: User, *, current_password: str, new_password: str) -> User:
    """Change one's own password after proving the current one."""
    if not _password_matches(user, current_password):
        raise InvalidInput("The current password is wrong.", field="current_password")
    if current_password == new_password:
        raise PasswordPolicyViolation("The new password must differ from the current one.")
    check_password_policy(new_password, username=user.username)
    with audit_context.reason_for_change(session, "Password changed by its owner"):
        user.password_hash = hash_password(new_password)
        user.must_change_password = False
        user.password_changed_at = clock.now()
        user.session_nonce = secrets.token_hex(16)
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


# Logins


def authenticate(session: Session, *, username: str, password: str, client_address: str | None) -> User:
    """Check a login; count failures and lock the account at the fifth within the window."""
    now = clock.now()
    username = username.strip().lower()
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        # Hash anyway so the response time does not reveal which usernames exist.
        _hasher.hash(password)
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
    if _hasher.check_needs_rehash(user.password_hash):
        with audit_context.reason_for_change(session, "Password hash upgraded to the current parameters at sign-in"):
            user.password_hash = hash_password(password)
    return user


def reauthenticate(session: Session, user: User, *, password: str, client_address: str | None, purpose: str) -> None:
    """Prove that the signed-in user is at the keyboard (before a signature); failures count toward lockout.

    A failure is audited with ``purpose``, so that QA tells a refused signature from a refused sign-in.
    """
    if not user.active:
        raise LoginFailed("This account is deactivated.")
    _check_password(session, user, password, clock.now(), client_address,
                    "The password is wrong; nothing was signed.", purpose=purpose)


def _check_password(session: Session, user: User, password: str, now: datetime, client_address: str | None,
                    wrong_password_message: str, *, purpose: str | None = None) -> None:
    if user.is_locked(now):
        _record_attempt(session, user.username, user, LoginOutcome.LOCKED, client_address, purpose)
        raise AccountLocked(_locked_message(user))
    if _password_matches(user, password):
        return
    _record_attempt(session, user.username, user, LoginOutcome.WRONG_PASSWORD, client_address, purpose)
    if _count_recent_failures(session, user, now) >= FAILURES_BEFORE_LOCKOUT:
        user.locked_until = now + LOCKOUT_DURATION
        user.failures_counted_since = now
        session.flush()
        audit_chain.record(session, "login.lockout", entity=user,
                           details={"failures": FAILURES_BEFORE_LOCKOUT, "locked_until": user.locked_until})
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
    return session.scalar(
        select(func.count(LoginAttempt.id)).where(
            LoginAttempt.user_id == user.id,
            LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD,
            LoginAttempt.attempted_at > since,
        )
    ) or 0


def _record_attempt(
    session: Session, username: str, user: User | None, outcome: LoginOutcome, client_address: str | None,
    purpose: str | None = None,
) -> None:
    session.add(
        LoginAttempt(
            username=username[:200], user_id=user.id if user else None, outcome=outcome,
            attempted_at=clock.now(), client_address=client_address,
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


# API tokens


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_token(session: Session, *, organization: Organization, name: str, actor: User) -> tuple[ApiToken, str]:
    """Issue a token for a client organization; the returned secret is never stored."""
    if organization.is_facility:
        raise InvalidInput("API tokens are issued to client organizations only.", field="organization_id")
    if not organization.active:
        raise InvalidInput(f"{organization.name} is deactivated.", field="organization_id")
    _check_may_manage_tokens_of(actor, organization)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        organization=organization, name=name, prefix=prefix, secret_hash=_digest(secret),
        created_by_id=actor.id, created_at=clock.now(),
    )
    session.add(token)
    session.flush()
    return token, f"{API_TOKEN_PREFIX}_{prefix}_{secret}"


def revoke_api_token(session: Session, token: ApiToken, *, actor: User) -> ApiToken:
    """Revoke a token at once; requests carrying it are refused from now on."""
    _check_may_manage_tokens_of(actor, token.organization)
    if token.is_revoked:
        raise Conflict(f"The token {token.name!r} is already revoked.")
    with audit_context.reason_for_change(session, f"API token revoked by {actor.full_name}"):
        token.revoked_at = clock.now()
        token.revoked_by_id = actor.id
    return token


def _check_may_manage_tokens_of(actor: User, organization: Organization) -> None:
    if RoleName.ADMIN in actor.role_names:
        return
    if RoleName.CLIENT in actor.role_names and actor.organization_id == organization.id:
        return
    raise AccessDenied("You may only manage the API tokens of your own organization.")


def get_api_token(session: Session, token_id: int) -> ApiToken:
    return get_record(session, ApiToken, token_id, "API token")


def list_api_tokens(session: Session, *, organization: Organization | None = None) -> list[ApiToken]:
    query = select(ApiToken).order_by(ApiToken.revoked_at.is_not(None), ApiToken.created_at.desc())
    if organization is not None:
        query = query.where(ApiToken.organization_id == organization.id)
    return list(session.scalars(query))


def authenticate_api_token(session: Session, presented: str) -> ApiToken | None:
    """Return the live token ``presented`` matches, noting its use; None if it matches none."""
    label, _, rest = presented.partition("_")
    prefix, _, secret = rest.partition("_")
    if label != API_TOKEN_PREFIX or not prefix or not secret:
        return None
    token = session.scalar(select(ApiToken).where(ApiToken.prefix == prefix))
    if token is None or token.is_revoked or not token.organization.active:
        return None
    if not hmac.compare_digest(token.secret_hash, _digest(secret)):
        return None
    token.last_used_at = clock.now()
    session.flush()
    return token
