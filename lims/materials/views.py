"""Pages of materials and their lots."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.materials import schemas, service
from lims.signatures import service as signatures
from lims.web import load_input, on_refusal_show, refusals_answered, refuse

blueprint = Blueprint("materials", __name__, template_folder="templates")

MANAGERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
RECEIVERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})


@blueprint.route("/materials")
@allow(STAFF)
def index() -> Any:
    db = get_session()
    schema = schemas.QuarantinePageSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    awaiting = service.lots_awaiting_release(db, after=data["cursor"])
    return render_template(
        "materials/index.html",
        materials=service.list_materials(db),
        lot_counts=service.lot_counts(db),
        awaiting=awaiting.items,
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", awaiting),
    )


@blueprint.route("/materials/new", methods=["GET", "POST"])
@allow(MANAGERS)
def new() -> Any:
    if request.method == "GET":
        return render_template("materials/new.html", errors={}, form=MultiDict())
    with on_refusal_show("materials/new.html"):
        material = service.create_material(get_session(), **load_input(schemas.MaterialSchema()))
    flash(f"{material.part_number} is registered.", "success")
    return redirect(url_for("materials.show", material_id=material.id), 303)


def _material_context(material_id: int) -> dict[str, Any]:
    db = get_session()
    material = service.get_material(db, material_id)
    today = clock.today()
    page = service.lots_page(db, material, page=request.args.get("page", 1, type=int))
    return {
        "material": material,
        "page": page,
        "lots": [(lot, service.usability(lot, today)) for lot in page.items],
        "today": today,
    }


@blueprint.route("/materials/<int:material_id>")
@allow(STAFF)
def show(material_id: int) -> Any:
    return render_template("materials/show.html", errors={}, form=MultiDict(), **_material_context(material_id))


@blueprint.route("/materials/<int:material_id>/lots", methods=["POST"])
@allow(RECEIVERS)
def receive_lot(material_id: int) -> Any:
    db = get_session()
    context = _material_context(material_id)
    with on_refusal_show("materials/show.html", **context):
        lot = service.receive_lot(db, context["material"], **load_input(schemas.LotReceiptSchema()), user=current_user)
    flash(f"Lot {lot.lot_number} received into quarantine; QA releases it before use.", "success")
    return redirect(url_for("materials.lot", lot_id=lot.id), 303)


def _lot_context(lot_id: int) -> dict[str, Any]:
    db = get_session()
    lot = service.get_lot(db, lot_id)
    return {
        "lot": lot,
        "state": service.usability(lot, clock.today()),
        "consumptions": service.consumptions(db, lot),
        "signatures": signatures.signatures_of(db, lot),
    }


@blueprint.route("/materials/lots/<int:lot_id>")
@allow(STAFF)
def lot(lot_id: int) -> Any:
    return render_template("materials/lot.html", errors={}, form=MultiDict(), **_lot_context(lot_id))


@blueprint.route("/materials/lots/<int:lot_id>/reject", methods=["POST"])
@allow(RoleName.QA)
def reject_lot(lot_id: int) -> Any:
    context = _lot_context(lot_id)
    with on_refusal_show("materials/lot.html", **context):
        data = load_input(schemas.LotRejectionSchema())
        service.reject_lot(
            get_session(),
            context["lot"],
            reason=data["reason"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"Lot {context['lot'].lot_number} is rejected.", "success")
    return redirect(url_for("materials.lot", lot_id=lot_id), 303)
