"""JSON API of the identity area, for client systems holding an API token."""

from __future__ import annotations

from lims.access import current_api_token
from lims.api.blueprint import ApiBlueprint
from lims.identity import schemas
from lims.identity.models import ApiToken, RoleName

blueprint = ApiBlueprint("identity_api", __name__, description="Who a client system is acting as.")


@blueprint.route("/me")
@blueprint.allow(RoleName.CLIENT)
@blueprint.response(200, schemas.ApiCallerOutSchema)
def me() -> ApiToken:
    """Tell a client system which organization and token it is acting as."""
    return current_api_token()
