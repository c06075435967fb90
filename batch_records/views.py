"""Pages of materials, lots and training records."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from batch_records import schemas, service
from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session, keep_changes_despite_refusal
from lims.errors import LimsError
from lims.identity.models import RoleName
from lims.identity.service.sign_in import LoginFailed
from lims.identity.service.users import UserFilter, get_user, list_users
from lims.signatures import service as signatures
from lims.web import load_input, render_form_error

blueprint = Blueprint("batch_records", __name__, template_folder="templates")

MANAGERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
RECEIVERS = frozenset({RoleName.TECHNICIAN, RoleName.MANAGER})


@blueprint.route("/materials")
@allow(STAFF)
def materials() -> Any:
    db = get_session()
    return render_template("batch_records/materials.html", materials=service.list_materials(db),
                           awaiting=service.lots_awaiting_release(db))


@blueprint.route("/materials/new", methods=["GET", "POST"])
@allow(MANAGERS)
def new_material() -> Any:
    if request.method == "GET":
        return render_template("batch_records/material_new.html", errors={}, form=MultiDict())
    try:
        material = service.create_material(get_session(), **load_input(schemas.MaterialSchema()))
    except (ValidationError, LimsError) as error:
        return render_form_error("batch_records/material_new.html", error)
    flash(f"{material.part_number} is registered.", "success")
    return redirect(url_for("batch_records.material", material_id=material.id), 303)


def _material_context(material_id: int) -> dict[str, Any]:
    material = service.get_material(get_session(), material_id)
    today = clock.now().date()
    return {"material": material, "lots": [(lot, service.usability(lot, today)) for lot in material.lots],
            "today": today}


@blueprint.route("/materials/<int:material_id>")
@allow(STAFF)
def material(material_id: int) -> Any:
    return render_template("batch_records/material.html", errors={}, form=MultiDict(), **_material_context(material_id))


@blueprint.route("/materials/<int:material_id>/lots", methods=["POST"])
@allow(RECEIVERS)
def receive(material_id: int) -> Any:
    db = get_session()
    context = _material_context(material_id)
    try:
        lot = service.receive_lot(db, context["material"], **load_input(schemas.LotReceiptSchema()), user=current_user)
    except (ValidationError, LimsError) as error:
        return render_form_error("batch_records/material.html", error, **context)
    flash(f"Lot {lot.lot_number} received into quarantine; QA releases it before use.", "success")
    return redirect(url_for("batch_records.lot", lot_id=lot.id), 303)


def _lot_context(lot_id: int) -> dict[str, Any]:
    db = get_session()
    lot = service.get_lot(db, lot_id)
    return {"lot": lot, "state": service.usability(lot, clock.now().date()),
            "consumptions": service.consumptions(db, lot), "signatures": signatures.signatures_of(db, lot)}


@blueprint.route("/materials/lots/<int:lot_id>")
@allow(STAFF)
def lot(lot_id: int) -> Any:
    return render_template("batch_records/lot.html", errors={}, form=MultiDict(), **_lot_context(lot_id))


@blueprint.route("/materials/lots/<int:lot_id>/reject", methods=["POST"])
@allow(RoleName.QA)
def reject(lot_id: int) -> Any:
    context = _lot_context(lot_id)
    try:
        data = load_input(schemas.LotRejectionSchema())
        service.reject_lot(get_session(), context["lot"], reason=data["reason"], user=current_user,
                           password=data["password"], client_address=request.remote_addr)
    except LoginFailed as error:
        keep_changes_despite_refusal()  # the failed attempt counts toward lockout
        return render_form_error("batch_records/lot.html", error, **context)
    except (ValidationError, LimsError) as error:
        return render_form_error("batch_records/lot.html", error, **context)
    flash(f"Lot {context['lot'].lot_number} is rejected.", "success")
    return redirect(url_for("batch_records.lot", lot_id=lot_id), 303)


def _training_context() -> dict[str, Any]:
    db = get_session()
    staff = [user for user in list_users(db, UserFilter(status="active"), page=1, per_page=1000).items
             if user.is_staff]
    return {"records": service.training_records(db), "today": clock.now().date(),
            "master_subjects": [version.training_subject for version in service.effective_mbr_versions(db)],
            "user_options": [(user.id, f"{user.full_name} ({user.username})") for user in staff]}


@blueprint.route("/training")
@allow(STAFF)
def training() -> Any:
    return render_template("batch_records/training.html", errors={}, form=MultiDict(), **_training_context())


@blueprint.route("/training", methods=["POST"])
@allow(MANAGERS)
def record_training() -> Any:
    db = get_session()
    try:
        data = load_input(schemas.TrainingSchema())
        trainee = get_user(db, data.pop("user_id"))
        service.record_training(db, user=trainee, **data, recorded_by=current_user)
    except (ValidationError, LimsError) as error:
        return render_form_error("batch_records/training.html", error, **_training_context())
    flash(f"Training of {trainee.full_name} on {data['subject']} recorded.", "success")
    return redirect(url_for("batch_records.training"), 303)

# The batch and master record pages join this blueprint.
from batch_records import batch_views, master_views  # noqa: E402,F401
