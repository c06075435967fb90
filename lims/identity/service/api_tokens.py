"""API tokens of client organizations: issued once in clear, stored as a digest, revoked at once."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.db import get_child, get_record
from lims.identity.errors import ClientOrganizationRequired, NotYourOrganization, OrganizationDeactivated, TokenRevoked
from lims.identity.models import ApiToken, Organization, RoleName, User

API_TOKEN_PREFIX = "lims"


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def issue_api_token(session: Session, *, organization: Organization, name: str, actor: User) -> tuple[ApiToken, str]:
    """Issue a token for a client organization; the returned secret is never stored."""
    if organization.is_facility:
        raise ClientOrganizationRequired("API tokens are issued to client organizations only.", field="organization_id")
    if not organization.active:
        raise OrganizationDeactivated(f"{organization.name} is deactivated.", field="organization_id")
    _check_may_manage_tokens_of(actor, organization)
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    token = ApiToken(
        organization=organization,
        name=name,
        prefix=prefix,
        secret_hash=_digest(secret),
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(token)
    session.flush()
    return token, f"{API_TOKEN_PREFIX}_{prefix}_{secret}"


def revoke_api_token(session: Session, token: ApiToken, *, actor: User) -> ApiToken:
    """Revoke a token at once; requests carrying it are refused from now on."""
    _check_may_manage_tokens_of(actor, token.organization)
    if token.is_revoked:
        raise TokenRevoked(f"The token {token.name!r} is already revoked.")
    with audit_context.reason_for_change(session, f"API token revoked by {actor.full_name}"):
        token.revoked_at = clock.now()
        token.revoked_by_id = actor.id
    return token


def _check_may_manage_tokens_of(actor: User, organization: Organization) -> None:
    if RoleName.ADMIN in actor.role_names:
        return
    if RoleName.CLIENT in actor.role_names and actor.organization_id == organization.id:
        return
    raise NotYourOrganization("You may only manage the API tokens of your own organization.")


def get_api_token(session: Session, token_id: int, *, organization: Organization | None = None) -> ApiToken:
    """A token by id; with ``organization``, one of that organization's, as if no other existed."""
    if organization is None:
        return get_record(session, ApiToken, token_id, "API token")
    return get_child(
        session, ApiToken, token_id, parent=organization, label="API token", parent_label=organization.name
    )


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


def revoke_tokens_created_by(session: Session, user: User) -> None:
    """Revoke the live tokens a client user issued, as their account is deactivated."""
    # Tokens stay with their organization; only a client user's own tokens
    # go with them, because the organization may not know they exist.
    if user.is_staff:
        return
    for token in session.scalars(
        select(ApiToken).where(ApiToken.created_by_id == user.id, ApiToken.revoked_at.is_(None))
    ):
        token.revoked_at = clock.now()
        token.revoked_by_id = user.id
