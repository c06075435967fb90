"""JSON API of the equipment area (staff): the registry with derived status."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, jsonify, request
from marshmallow import ValidationError

from lims.access import STAFF, allow
from lims.db import get_session
from lims.equipment import schemas
from lims.equipment.service import inventory
from lims.web import field_errors, load_input, refuse

blueprint = Blueprint("equipment_api", __name__, url_prefix="/api/v1")

_OUT = schemas.EquipmentOutSchema()


@blueprint.get("/equipment")
@allow(STAFF)
def index() -> Any:
    try:
        criteria = load_input(schemas.EquipmentFilterSchema(), request.args)
    except ValidationError as error:
        return refuse(422, "The filters are not valid.", field_errors(error))
    page = inventory.list_equipment(
        get_session(), inventory.EquipmentFilter(status=criteria["status"], equipment_type=criteria["equipment_type"],
                                                 location=criteria["location"], text=criteria["q"]),
        due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"], page=criteria["page"],
    )
    return jsonify(
        items=[{**_OUT.dump(equipment), "status": status.value} for equipment, status in page.rows],
        page=page.number,
        next_page=page.number + 1 if page.has_next else None,
    )


@blueprint.get("/equipment/<int:equipment_id>")
@allow(STAFF)
def show(equipment_id: int) -> Any:
    db = get_session()
    equipment = inventory.get_equipment(db, equipment_id)
    status = inventory.status_of(db, equipment, due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"])
    return jsonify({**_OUT.dump(equipment), "status": status.value})
