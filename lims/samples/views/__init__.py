"""The pages of samples: one blueprint, its routes in a module per part (the client's manifests, receiving, the
client's portal)."""

from __future__ import annotations

from flask import Blueprint
from flask_login import current_user

from lims.identity.models import RoleName

blueprint = Blueprint("samples", __name__, template_folder="../templates")

CLIENT = RoleName.CLIENT
RECEIVERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})


def organization_scope() -> int | None:
    """The organization whose records the signed-in user sees: a client's own; None for staff, who see all."""
    return None if current_user.is_staff else current_user.organization_id


# The routes join the blueprint when their modules are imported.
from lims.samples.views import portal, receiving, results, sample_list, storage, submissions  # noqa: E402,F401
