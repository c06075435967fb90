"""Identity's part of the demo data set: the facility, two client start-ups and a user per role (two technicians)."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.errors import RecordNotFound
from lims.identity.models import Organization, OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization, facility
from lims.identity.service.users import create_user, user_by_username


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    full_name: str
    role: RoleName
    organization_code: str


FACILITY = ("NBCT", "Northbridge Cell Therapy Facility")
CLIENTS = (
    ("HELIX", "Helix Cell Therapeutics, Inc."),
    ("NORDCAR", "Nordic CAR Bio AB"),
)
#: The README lists these; change both together.
ACCOUNTS = (
    DemoAccount("a.rossi", "demo-admin-2026", "Alessandro Rossi", RoleName.ADMIN, "NBCT"),
    DemoAccount("m.larsen", "demo-manager-2026", "Maja Larsen", RoleName.MANAGER, "NBCT"),
    DemoAccount("q.okafor", "demo-qa-officer-2026", "Quinn Okafor", RoleName.QA, "NBCT"),
    DemoAccount("t.nguyen", "demo-technician-2026", "Thi Nguyen", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("s.lind", "demo-technician-lind-2026", "Sara Lind", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("c.patel", "demo-client-helix-2026", "Chandra Patel", RoleName.CLIENT, "HELIX"),
    DemoAccount("d.weber", "demo-client-nordcar-2026", "Dana Weber", RoleName.CLIENT, "NORDCAR"),
)


def demo_password(username: str) -> str:
    return next(account.password for account in ACCOUNTS if account.username == username)


def load_accounts(session: Session) -> None:
    """Add whichever of the demo's organizations and accounts are missing.

    They stay attributed to whoever loaded the demo (the command line): no demo user exists before them, and an admin
    account shown creating itself would mislead an inspector. The other areas' demo data is attributed to the demo
    user who does it, as if they had signed in.
    """
    organizations = {o.code: o for o in session.scalars(select(Organization))}
    existing_facility = facility(session)
    if existing_facility is None:
        code, name = FACILITY
        organizations[code] = create_organization(session, code=code, name=name, kind=OrganizationKind.FACILITY)
    elif existing_facility.code != FACILITY[0]:
        # A real deployment: demo users join its facility.
        organizations[FACILITY[0]] = existing_facility
    for code, name in CLIENTS:
        if code not in organizations:
            organizations[code] = create_organization(session, code=code, name=name, kind=OrganizationKind.CLIENT)
    for account in ACCOUNTS:
        try:
            user_by_username(session, account.username)
        except RecordNotFound:
            create_user(
                session,
                username=account.username,
                full_name=account.full_name,
                email=f"{account.username}@{account.organization_code.lower()}.example",
                organization=organizations[account.organization_code],
                roles={account.role},
                password=account.password,
                must_change_password=False,
                actor=None,
                reason="Demo data set",
            )
