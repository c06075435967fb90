"""Identity's part of the demo data set: the facility, two client start-ups and a user per role (two technicians)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.errors import RecordNotFound
from lims.identity.demo_accounts import ACCOUNTS, mark_demo_database
from lims.identity.models import Organization, OrganizationKind
from lims.identity.service.organizations import create_organization, facility
from lims.identity.service.users import create_user, user_by_username

FACILITY = ("NBCT", "Northbridge Cell Therapy Facility")
CLIENTS = (
    ("HELIX", "Helix Cell Therapeutics, Inc."),
    ("NORDCAR", "Nordic CAR Bio AB"),
)


def load_accounts(session: Session) -> None:
    """Add whichever of the demo's organizations and accounts are missing.

    They stay attributed to whoever loaded the demo (the command line): no demo user exists before them, and an admin
    account shown creating itself would mislead an inspector. The other areas' demo data is attributed to the demo
    user who does it, as if they had signed in.
    """
    mark_demo_database(session)
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
