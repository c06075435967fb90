"""User accounts and the roles they hold: creation, changes, deactivation and reactivation, listing.

Every role granted or revoked, at creation or later, needs a reason and is recorded as a ``RoleChange`` for the
access-change report; nobody changes their own roles.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import get_record
from lims.errors import AlreadyExists, RecordNotFound
from lims.identity.errors import (
    AccountAlreadyActive,
    AccountAlreadyDeactivated,
    OrganizationDeactivated,
    OwnRolesRefused,
    RolesRefused,
    SelfLockoutRefused,
)
from lims.identity.models import (
    STAFF_ROLES,
    Organization,
    Role,
    RoleChange,
    RoleChangeKind,
    RoleName,
    SessionEndCause,
    User,
    user_role,
)
from lims.identity.service.api_tokens import revoke_tokens_created_by
from lims.identity.service.password_policy import DEFAULT_MINIMUM_SCORE, check_password_policy
from lims.identity.service.passwords import hash_password, password_context
from lims.identity.service.sessions import end_sessions
from lims.pagination import Page, paginate

ROLE_DESCRIPTIONS: dict[RoleName, str] = {
    RoleName.TECHNICIAN: "Receives and accessions samples, executes batch steps, records calibrations and results.",
    RoleName.QA: "Reviews batch records, closes deviations, signs releases and reads audit trails.",
    RoleName.MANAGER: "Manages equipment, protocols and master batch records.",
    RoleName.ADMIN: "Manages users, roles, organizations and API tokens.",
    RoleName.CLIENT: "A client company's user: submits samples and sees only its own organization's data.",
}


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
        raise RolesRefused(f"Unknown roles: {', '.join(sorted(missing))}.", field="roles")
    return roles


def _check_roles_fit_organization(roles: set[RoleName], organization: Organization) -> None:
    if not roles:
        raise RolesRefused("A user needs at least one role.", field="roles")
    if organization.is_facility and RoleName.CLIENT in roles:
        raise RolesRefused("The client role is for users of a client organization.", field="roles")
    if not organization.is_facility and roles & STAFF_ROLES:
        raise RolesRefused("Users of a client organization can only hold the client role.", field="roles")


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
    reason: str,
    minimum_score: int = DEFAULT_MINIMUM_SCORE,
) -> User:
    """Create a user account holding ``roles``, granted for ``reason``; the password must satisfy the policy."""
    username = username.lower()
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AlreadyExists(f"The username {username!r} is taken.", field="username")
    if not organization.active:
        raise OrganizationDeactivated(f"{organization.name} is deactivated.", field="organization_id")
    _check_roles_fit_organization(roles, organization)
    check_password_policy(
        password,
        password_context(session, username=username, full_name=full_name, email=email, minimum_score=minimum_score),
    )
    now = clock.now()
    with audit_context.reason_for_change(session, reason):
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
        )
        session.add(user)
        _record_role_changes(session, user, granted=roles, revoked=())
    return user


def update_user(
    session: Session, user: User, *, full_name: str, email: str, roles: set[RoleName], actor: User, reason: str
) -> User:
    """Change a user's name, e-mail or roles, for the reason given; nobody changes their own roles."""
    held = user.role_names
    if user.id == actor.id and roles != held:
        _refuse_own_role_change(session, user, roles)
    _check_roles_fit_organization(roles, user.organization)
    with audit_context.reason_for_change(session, reason):
        user.full_name = full_name
        user.email = email
        if held != roles:
            user.roles = _roles_by_name(session, roles)
            _record_role_changes(session, user, granted=roles - held, revoked=held - roles)
    return user


OWN_ROLES_REFUSAL = "Nobody changes their own roles: ask another administrator to do it."


def _refuse_own_role_change(session: Session, user: User, roles: set[RoleName]) -> None:
    """Audit the attempt, then refuse it: its event is kept though the change is not made."""
    audit_chain.record(
        session,
        "access.refused",
        entity=user,
        details={"refusal": OWN_ROLES_REFUSAL, "roles_asked": sorted(roles), "roles_held": sorted(user.role_names)},
    )
    raise OwnRolesRefused(OWN_ROLES_REFUSAL, field="roles")


def _record_role_changes(
    session: Session, user: User, *, granted: Iterable[RoleName], revoked: Iterable[RoleName]
) -> None:
    """Record each role granted and revoked, attributed as the audit trail attributes the change, with its reason.

    Called inside ``reason_for_change``, whose reason it records.
    """
    actor = audit_context.current_actor(session)
    reason = audit_context.stated_reason(session)
    assert reason is not None, "role changes are recorded inside reason_for_change"
    now = clock.now()
    for kind, roles in ((RoleChangeKind.GRANTED, granted), (RoleChangeKind.REVOKED, revoked)):
        for role in sorted(roles):
            session.add(
                RoleChange(
                    user=user,
                    role=role,
                    kind=kind,
                    changed_at=now,
                    changed_by_id=actor.user_id,
                    changed_by_name=actor.name,
                    reason=reason,
                )
            )


def deactivate_user(session: Session, user: User, *, reason: str, actor: User | None) -> User:
    """Deactivate an account (accounts are never deleted) and end its sessions."""
    if not reason.strip():
        raise ReasonRequired("Give the reason for deactivating this account.")
    if actor is not None and user.id == actor.id:
        raise SelfLockoutRefused("You cannot deactivate your own account.")
    if not user.active:
        raise AccountAlreadyDeactivated(f"{user.username} is already deactivated.")
    with audit_context.reason_for_change(session, reason):
        user.active = False
        user.deactivated_at = clock.now()
        user.deactivation_reason = reason.strip()
        revoke_tokens_created_by(session, user)
    end_sessions(session, user, SessionEndCause.DEACTIVATED, reason=reason.strip())
    return user


def reactivate_user(session: Session, user: User, *, reason: str) -> User:
    """Let a deactivated user sign in again, for the reason given."""
    if user.active:
        raise AccountAlreadyActive(f"{user.username} is already active.")
    with audit_context.reason_for_change(session, reason):
        user.active = True
        user.deactivated_at = None
        user.deactivation_reason = None
    return user
