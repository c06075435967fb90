"""Organizations: the one facility and the client companies it serves."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_record
from lims.errors import AlreadyExists, RecordNotFound
from lims.identity.errors import FacilityDeactivationRefused
from lims.identity.models import Organization, OrganizationKind


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
        raise AlreadyExists("The facility is already registered; a deployment serves one facility.")
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
        raise FacilityDeactivationRefused("The facility cannot be deactivated.", field="active")
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
        raise AlreadyExists(f"An organization named {name!r} already exists.", field="name")
    if code is not None and session.scalar(select(Organization.id).where(Organization.code == code)) is not None:
        raise AlreadyExists(f"The organization code {code!r} is taken.", field="code")
