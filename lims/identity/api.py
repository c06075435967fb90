"""JSON API of the identity area, for client systems holding an API token."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify

from lims.access import allow, current_api_token
from lims.identity.models import RoleName

blueprint = Blueprint("identity_api", __name__, url_prefix="/api/v1")


@blueprint.get("/me")
@allow(RoleName.CLIENT)
def me() -> Any:
    """Tell a client system which organization and token it is acting as."""
    token = current_api_token()
    return jsonify(
        organization={"id": token.organization.id, "code": token.organization.code, "name": token.organization.name},
        token={"name": token.name, "prefix": token.prefix, "created_at": token.created_at.isoformat()},
    )
