"""The API of storage and custody: staff read the storage units, racks and boxes (each box position by position);
a technician stores and moves samples from the signed-in browser session of a bench tablet; a client reads the
chain of custody of its own samples.

Storing and moving are done by a person, whose name each custody event carries: an organization's API token acts
for no one, so these operations take the signed-in session and its CSRF token (``X-CSRFToken``), as the pages do.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user
from marshmallow import fields, validate

from lims.access import STAFF, client_organization_id
from lims.api.blueprint import MAX_RECORD_ID
from lims.api.paging import Keyset
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage
from lims.samples import storage_schemas
from lims.samples.api import READERS, blueprint
from lims.samples.models import Sample
from lims.samples.service import aliquots, custody, storage
from lims.samples.service import submissions as samples_service
from lims.samples.storage_models import CustodyEvent

STORERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})
#: in the order they were registered
UNIT_PAGES = Keyset(storage_schemas.StorageUnitOutSchema, fields.Integer(validate=validate.Range(1, MAX_RECORD_ID)))
#: oldest first
CUSTODY_PAGES = Keyset(storage_schemas.CustodyEventOutSchema, fields.Integer(validate=validate.Range(1, MAX_RECORD_ID)))


def _unit_out(row: storage.UnitOccupancy) -> dict[str, Any]:
    unit = row.unit
    return {
        "id": unit.id,
        "name": unit.name,
        "kind": unit.kind.value,
        "location": unit.location,
        "minimum_temperature": unit.minimum_temperature,
        "maximum_temperature": unit.maximum_temperature,
        "capacity": row.capacity,
        "stored": row.stored,
    }


@blueprint.route("/storage/units")
@blueprint.allow(STAFF)
@blueprint.arguments(UNIT_PAGES.arguments, location="query")
@blueprint.response(200, UNIT_PAGES.page)
def storage_units(page: dict[str, Any]) -> KeysetPage[dict[str, Any]]:
    """The lab's freezers, fridges and LN2 tanks, each with its capacity and the samples stored in it."""
    found = storage.units_after(get_session(), after=page.get("cursor"), limit=page["limit"])
    return KeysetPage([_unit_out(row) for row in found.items], found.next_key)


@blueprint.route("/storage/units/<int:unit_id>")
@blueprint.allow(STAFF)
@blueprint.response(200, storage_schemas.StorageUnitDetailOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def storage_unit(unit_id: int) -> dict[str, Any]:
    """A storage unit with its racks and their boxes, each box with the samples it holds."""
    db = get_session()
    unit = storage.get_unit(db, unit_id)
    racks = storage.boxes_of(db, unit)
    boxes = [(box, stored) for _rack, found in racks for box, stored in found]
    return {
        **_unit_out(
            storage.UnitOccupancy(unit, sum(box.capacity for box, _ in boxes), sum(stored for _, stored in boxes))
        ),
        "racks": [
            {"id": rack.id, "name": rack.name, "boxes": [storage_schemas.box_out(box, n) for box, n in found]}
            for rack, found in racks
        ],
    }


@blueprint.route("/storage/boxes/<int:box_id>")
@blueprint.allow(STAFF)
@blueprint.response(200, storage_schemas.BoxGridOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def storage_box(box_id: int) -> dict[str, Any]:
    """A box position by position, row by row from A1, each with the sample it holds (or none)."""
    db = get_session()
    box = storage.get_box(db, box_id)
    positions = [
        {
            "position": cell.label,
            "sample_id": cell.sample.public_id if cell.sample else None,
            "accession_number": cell.sample.accession_number if cell.sample else None,
        }
        for row in storage.grid(db, box)
        for cell in row
    ]
    stored = sum(1 for position in positions if position["sample_id"])
    return {**storage_schemas.box_out(box, stored), "positions": positions}


def _put(arguments: dict[str, Any], sample_id: str, *, move: bool) -> CustodyEvent:
    db = get_session()
    sample = samples_service.get_sample(db, sample_id, organization_id=None)
    box = storage.get_box(db, arguments["box_id"])
    return storage.store(
        db,
        sample,
        box,
        storage.parse_position(box, arguments["position"]),
        user=current_user,
        move=move,
        at=arguments["occurred_at"],
        temperature=arguments["temperature"],
        note=arguments["note"],
    )


@blueprint.route("/samples/<sample_id>/store", methods=["POST"])
@blueprint.allow_signed_in(STORERS)
@blueprint.arguments(storage_schemas.ApiStoreSchema)
@blueprint.response(201, storage_schemas.CustodyEventOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY")
def store_sample(arguments: dict[str, Any], sample_id: str) -> CustodyEvent:
    """Store a sample that is at the lab in a box position (`B4`); refused (409) if the position is taken, the
    sample is already stored (move it instead), or the unit's temperatures do not meet its storage requirement."""
    return _put(arguments, sample_id, move=False)


@blueprint.route("/samples/<sample_id>/move", methods=["POST"])
@blueprint.allow_signed_in(STORERS)
@blueprint.arguments(storage_schemas.ApiStoreSchema)
@blueprint.response(201, storage_schemas.CustodyEventOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY")
def move_sample(arguments: dict[str, Any], sample_id: str) -> CustodyEvent:
    """Move a stored sample to another box position."""
    return _put(arguments, sample_id, move=True)


@blueprint.route("/samples/<sample_id>/custody")
@blueprint.allow(READERS)
@blueprint.arguments(CUSTODY_PAGES.arguments, location="query")
@blueprint.response(200, CUSTODY_PAGES.page)
@blueprint.alt_response(404, response="NOT_FOUND")
def sample_custody(page: dict[str, Any], sample_id: str) -> KeysetPage[CustodyEvent]:
    """The sample's chain of custody, oldest first: each move with who, when, from and to, and the temperature."""
    db = get_session()
    sample = samples_service.get_sample(db, sample_id, organization_id=client_organization_id())
    return custody.events_after(db, sample, after=page.get("cursor"), limit=page["limit"])


@blueprint.route("/samples/<sample_id>/aliquots", methods=["POST"])
@blueprint.allow_signed_in(STORERS)
@blueprint.arguments(storage_schemas.AliquotSplitSchema)
@blueprint.response(201, storage_schemas.SplitOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
@blueprint.alt_response(409, response="CONFLICT")
@blueprint.alt_response(422, response="UNPROCESSABLE_ENTITY")
def split_sample(arguments: dict[str, Any], sample_id: str) -> dict[str, list[Sample]]:
    """Split an accepted sample into aliquots of the `volumes` given (each with its unit, e.g. `["500 µL",
    "0.75 mL"]`); refused (422) if together they exceed what remains of it."""
    db = get_session()
    sample = samples_service.get_sample(db, sample_id, organization_id=None)
    children = aliquots.split(
        db, sample, arguments["volumes"], user=current_user, at=arguments["occurred_at"], note=arguments["note"]
    )
    return {"aliquots": children}


@blueprint.route("/samples/<sample_id>/lineage")
@blueprint.allow(READERS)
@blueprint.response(200, storage_schemas.LineageOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def sample_lineage(sample_id: str) -> dict[str, Any]:
    """The sample it was split from (if it is an aliquot), the aliquots split from it, and what remains of it."""
    db = get_session()
    sample = samples_service.get_sample(db, sample_id, organization_id=client_organization_id())
    found = aliquots.lineage(db, sample)
    parent = found.parent.parent if found.parent else None
    return {
        "parent": None
        if parent is None
        else {"sample_id": parent.public_id, "accession_number": parent.accession_number},
        "children": found.children,
        "remaining": found.remaining,
    }
