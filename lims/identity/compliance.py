"""Identity's compliance checks: accounts nobody has used for a long time, shared or generic accounts, and users
who hold both a role that performs GMP work and one that releases it. One or two queries each."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta

from sqlalchemy import Exists, func, select
from sqlalchemy.orm import Session

from lims.identity.models import Role, RoleName, User, user_role
from lims.registry import ComplianceCheck, Condition

#: usernames that name a function, a place or nobody rather than a person (compared lower-case, without digits,
#: dots, hyphens or underscores: "Lab-2" is "lab")
GENERIC_USERNAMES = frozenset(
    {
        "admin",
        "administrator",
        "root",
        "user",
        "test",
        "tester",
        "guest",
        "demo",
        "lab",
        "labuser",
        "shared",
        "generic",
        "temp",
        "operator",
        "technician",
        "tech",
        "qa",
        "qc",
        "manager",
        "station",
        "cleanroom",
        "bench",
        "service",
    }
)
#: roles that perform GMP work, and the role that releases it: one person should not hold both
PERFORMING_ROLES = frozenset({RoleName.TECHNICIAN})
RELEASING_ROLES = frozenset({RoleName.QA})


def _condition(user_id: int, username: str, full_name: str, detail: str) -> Condition:
    return Condition("user_account", str(user_id), f"{username} ({full_name})", detail, f"/admin/users/{user_id}")


def unused_accounts(session: Session, now: datetime, parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Active accounts not signed in to for ``days`` (or never, since they were created that long ago)."""
    last_used = func.coalesce(User.last_login_at, User.created_at)
    rows = session.execute(
        select(User.id, User.username, User.full_name, User.last_login_at, User.created_at).where(
            User.active.is_(True), last_used < now - timedelta(days=parameters["days"])
        )
    )
    for row in rows:
        if row.last_login_at is None:
            detail = f"never signed in since it was created on {row.created_at.date().isoformat()}"
        else:
            detail = f"not signed in for {(now - row.last_login_at).days} days (last {row.last_login_at.date()})"
        yield _condition(row.id, row.username, row.full_name, detail)


def shared_accounts(session: Session, _now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Active accounts with a generic name ("admin", "lab2"), or whose e-mail address another active account
    uses too: an electronic signature must be one person's."""
    bare_name = func.lower(User.username)
    for character in "0123456789._-":
        bare_name = func.replace(bare_name, character, "")
    for row in session.execute(
        select(User.id, User.username, User.full_name).where(User.active.is_(True), bare_name.in_(GENERIC_USERNAMES))
    ):
        yield _condition(row.id, row.username, row.full_name, "a generic account name, not a person's")
    shared_email = (
        select(func.lower(User.email).label("email"))
        .where(User.active.is_(True))
        .group_by(func.lower(User.email))
        .having(func.count() > 1)
        .subquery()
    )
    for shared in session.execute(
        select(User.id, User.username, User.full_name, User.email).where(
            User.active.is_(True), func.lower(User.email).in_(select(shared_email.c.email))
        )
    ):
        yield _condition(
            shared.id,
            shared.username,
            shared.full_name,
            f"shares the e-mail address {shared.email} with another active account",
        )


def _holds_one_of(roles: frozenset[RoleName]) -> Exists:
    return (
        select(user_role.c.user_id)
        .join(Role, Role.id == user_role.c.role_id)
        .where(user_role.c.user_id == User.id, Role.name.in_(roles))
        .exists()
    )


def performers_who_release(session: Session, _now: datetime, _parameters: Mapping[str, int]) -> Iterator[Condition]:
    """Active users holding both a role that performs GMP work and the role that releases it."""
    rows = session.execute(
        select(User.id, User.username, User.full_name).where(
            User.active.is_(True), _holds_one_of(PERFORMING_ROLES), _holds_one_of(RELEASING_ROLES)
        )
    )
    performing = " or ".join(sorted(role.value for role in PERFORMING_ROLES))
    releasing = " or ".join(sorted(role.value for role in RELEASING_ROLES))
    for row in rows:
        yield _condition(
            row.id,
            row.username,
            row.full_name,
            f"holds both a performing role ({performing}) and a releasing role ({releasing})",
        )


CHECKS = (
    ComplianceCheck(
        "identity.account-unused",
        "Accounts unused for N days",
        "identity",
        "minor",
        "cron 0 6 * * *",
        unused_accounts,
        {"days": 90},
    ),
    ComplianceCheck(
        "identity.shared-account",
        "Shared or generic accounts",
        "identity",
        "major",
        "cron 5 6 * * *",
        shared_accounts,
    ),
    ComplianceCheck(
        "identity.performer-and-releaser",
        "Users with both performing and releasing roles",
        "identity",
        "major",
        "cron 10 6 * * *",
        performers_who_release,
    ),
)
