"""JSON API of the equipment area (staff): the registry with derived status."""

from __future__ import annotations

from typing import Any

from flask import current_app
from marshmallow import fields, validate

from lims.access import STAFF
from lims.api.blueprint import ApiBlueprint
from lims.api.paging import Keyset
from lims.db import get_session
from lims.equipment import schemas
from lims.equipment.service import inventory
from lims.pagination import KeysetPage

blueprint = ApiBlueprint(
    "equipment_api", __name__, description="The equipment registry, with each item's status today (staff)."
)
#: In asset-tag order; a page goes on after the tag of the last item shown.
EQUIPMENT_PAGES = Keyset(schemas.EquipmentOutSchema, fields.String(validate=validate.Length(min=1, max=32)))


@blueprint.route("/equipment")
@blueprint.allow(STAFF)
@blueprint.arguments(schemas.EquipmentQuerySchema, location="query")
@blueprint.arguments(EQUIPMENT_PAGES.arguments, location="query")
@blueprint.response(200, EQUIPMENT_PAGES.page)
def index(criteria: inventory.EquipmentFilter, page: dict[str, Any]) -> KeysetPage[inventory.EquipmentWithStatus]:
    """List the registry, filtered by status (as of today), type, location or text in tag, name or serial number."""
    return inventory.equipment_after(
        get_session(),
        criteria,
        due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"],
        after=page.get("cursor"),
        limit=page["limit"],
    )


@blueprint.route("/equipment/<id:equipment_id>")
@blueprint.allow(STAFF)
@blueprint.response(200, schemas.EquipmentOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(equipment_id: int) -> inventory.EquipmentWithStatus:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    status = inventory.status_of(db, equipment, due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"])
    return inventory.EquipmentWithStatus(equipment, status)
