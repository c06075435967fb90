"""Pages of training records."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.identity.service import users as identity_users
from lims.training import schemas, service
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("training", __name__, template_folder="templates")

MANAGERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})


def _training_context() -> dict[str, Any]:
    db = get_session()
    staff = [
        user
        for user in identity_users.list_users(
            db, identity_users.UserFilter(status="active"), page=1, per_page=1000
        ).items
        if user.is_staff
    ]
    return {
        "records": service.training_records(db),
        "today": clock.today(),
        "required_subjects": service.required_subjects(db),
        "user_options": [(user.id, f"{user.full_name} ({user.username})") for user in staff],
    }


@blueprint.route("/training")
@allow(STAFF)
def index() -> Any:
    return render_template("training/index.html", errors={}, form=MultiDict(), **_training_context())


@blueprint.route("/training", methods=["POST"])
@allow(MANAGERS)
def record() -> Any:
    db = get_session()
    with on_refusal_show("training/index.html", _training_context):
        data = load_input(schemas.TrainingSchema())
        trainee = identity_users.get_user(db, data.pop("user_id"))
        service.record_training(db, user=trainee, **data, recorded_by=current_user)
    flash(f"Training of {trainee.full_name} on {data['subject']} recorded.", "success")
    return redirect(url_for("training.index"), 303)
