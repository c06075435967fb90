"""The lab's storage: its units (managers register them, their racks and boxes), each box as a grid of positions
where technicians store and move samples, and a sample's chain of custody."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims.access import STAFF, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.samples import storage_schemas
from lims.samples.service import aliquots, custody, storage
from lims.samples.service import submissions as submissions_service
from lims.samples.storage_models import CustodyAction, StorageBox, StorageKind
from lims.samples.views import RECEIVERS, blueprint, organization_scope
from lims.web import load_input, on_refusal_show

MANAGERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
#: technicians store, move and send samples; managers stand in for them
STORERS = RECEIVERS
READERS = STAFF | {RoleName.CLIENT}
PAGE_SIZE = 25


def _after() -> tuple[int] | None:
    """The keyset cursor of the units list (``?after=<id>``); a malformed one starts from the top."""
    text = request.args.get("after", "")
    return (int(text),) if text.isdigit() and len(text) <= 10 else None


def _units_context() -> dict[str, Any]:
    page = storage.units_after(get_session(), after=_after(), limit=PAGE_SIZE)
    return {
        "page": page,
        "next_after": None if page.next_key is None else str(page.next_key[0]),
        "kinds": [(kind.value, kind.value) for kind in StorageKind],
    }


@blueprint.route("/storage", methods=["GET"])
@allow(STAFF)
def storage_units() -> Any:
    return render_template("samples/storage_units.html", errors={}, form=MultiDict(), **_units_context())


@blueprint.route("/storage", methods=["POST"])
@allow(MANAGERS)
def create_storage_unit() -> Any:
    with on_refusal_show("samples/storage_units.html", _units_context):
        data = load_input(storage_schemas.UnitSchema())
        unit = storage.create_unit(
            get_session(),
            name=data["name"],
            kind=StorageKind(data["kind"]),
            location=data["location"],
            minimum_temperature=data["minimum_temperature"],
            maximum_temperature=data["maximum_temperature"],
            user=current_user,
        )
    flash(f"{unit.name} is registered: add its racks and boxes.", "success")
    return redirect(url_for("samples.storage_unit", unit_id=unit.id), 303)


def _unit_context(unit_id: int) -> dict[str, Any]:
    db = get_session()
    unit = storage.get_unit(db, unit_id)
    return {"unit": unit, "racks": storage.boxes_of(db, unit)}


@blueprint.route("/storage/units/<int:unit_id>")
@allow(STAFF)
def storage_unit(unit_id: int) -> Any:
    return render_template("samples/storage_unit.html", errors={}, form=MultiDict(), **_unit_context(unit_id))


@blueprint.route("/storage/units/<int:unit_id>/racks", methods=["POST"])
@allow(MANAGERS)
def add_rack(unit_id: int) -> Any:
    db = get_session()
    unit = storage.get_unit(db, unit_id)
    with on_refusal_show("samples/storage_unit.html", lambda: _unit_context(unit_id)):
        rack = storage.add_rack(db, unit, name=load_input(storage_schemas.RackSchema())["name"])
    flash(f"{rack.name} is added to {unit.name}.", "success")
    return redirect(url_for("samples.storage_unit", unit_id=unit.id, _anchor=f"rack-{rack.id}"), 303)


@blueprint.route("/storage/racks/<int:rack_id>/boxes", methods=["POST"])
@allow(MANAGERS)
def add_box(rack_id: int) -> Any:
    db = get_session()
    rack = storage.get_rack(db, rack_id)
    with on_refusal_show("samples/storage_unit.html", lambda: _unit_context(rack.unit_id), box_rack=rack.id):
        data = load_input(storage_schemas.BoxSchema())
        box = storage.add_box(db, rack, name=data["name"], rows=data["rows"], columns=data["columns"])
    flash(f"{box.name} ({box.rows} × {box.columns}) is added to {rack.name}.", "success")
    return redirect(url_for("samples.storage_box", box_id=box.id), 303)


def _box_context(box_id: int) -> dict[str, Any]:
    db = get_session()
    box = storage.get_box(db, box_id)
    return {"box": box, "grid": storage.grid(db, box)}


@blueprint.route("/storage/boxes/<int:box_id>")
@allow(STAFF)
def storage_box(box_id: int) -> Any:
    return render_template("samples/storage_box.html", errors={}, form=MultiDict(), **_box_context(box_id))


def _put(box_id: int, *, move: bool) -> Any:
    db = get_session()
    box: StorageBox = storage.get_box(db, box_id)
    with on_refusal_show("samples/storage_box.html", lambda: _box_context(box_id)):
        data = load_input(storage_schemas.StoreSchema())
        sample = storage.find_received_sample(db, data["sample"])
        event = storage.store(
            db,
            sample,
            box,
            storage.parse_position(box, data["position"]),
            user=current_user,
            move=move,
            at=data["occurred_at"],
            temperature=data["temperature"],
            note=data["note"],
        )
    flash(f"{custody.name_of(sample)} is {'moved to' if move else 'stored in'} {event.to_location}.", "success")
    return redirect(url_for("samples.storage_box", box_id=box_id), 303)


@blueprint.route("/storage/boxes/<int:box_id>/store", methods=["POST"])
@allow(STORERS)
def store_in_box(box_id: int) -> Any:
    return _put(box_id, move=False)


@blueprint.route("/storage/boxes/<int:box_id>/move", methods=["POST"])
@allow(STORERS)
def move_to_box(box_id: int) -> Any:
    return _put(box_id, move=True)


def _custody_context(public_id: str) -> dict[str, Any]:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=organization_scope())
    location = custody.location_state(db, sample)
    return {
        "sample": sample,
        "events": custody.timeline(db, sample),
        "place": None if location is None else custody.place_text(location),
        "lineage": aliquots.lineage(db, sample),
        "actions": [(action.value, action.value.capitalize()) for action in custody.MANUAL_ACTIONS],
    }


@blueprint.route("/samples/<public_id>/custody")
@allow(READERS)
def sample_custody(public_id: str) -> Any:
    return render_template("samples/custody.html", errors={}, form=MultiDict(), **_custody_context(public_id))


@blueprint.route("/samples/<public_id>/custody", methods=["POST"])
@allow(STORERS)
def record_custody(public_id: str) -> Any:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=None)
    with on_refusal_show("samples/custody.html", lambda: _custody_context(public_id)):
        data = load_input(storage_schemas.CustodyActionSchema())
        event = custody.take_action(
            db,
            sample,
            CustodyAction(data["action"]),
            user=current_user,
            at=data["occurred_at"],
            temperature=data["temperature"],
            note=data["note"],
        )
    flash(f"{custody.name_of(sample)}: {event.action.value} recorded.", "success")
    return redirect(url_for("samples.sample_custody", public_id=public_id), 303)


@blueprint.route("/samples/<public_id>/aliquots", methods=["POST"])
@allow(STORERS)
def split_sample(public_id: str) -> Any:
    db = get_session()
    sample = submissions_service.get_sample(db, public_id, organization_id=None)
    with on_refusal_show("samples/custody.html", lambda: _custody_context(public_id)):
        data = load_input(storage_schemas.AliquotSplitSchema())
        children = aliquots.split(
            db, sample, data["volumes"], user=current_user, at=data["occurred_at"], note=data["note"]
        )
    numbers = ", ".join(child.accession_number or "" for child in children)
    flash(f"{custody.name_of(sample)} is split into {numbers}: label and store them.", "success")
    return redirect(url_for("samples.sample_custody", public_id=public_id, _anchor="lineage"), 303)
