"""The dashboard page."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from lims.access import ANY_USER, allow
from lims.dashboard.service import held_records_for, work_queues_for
from lims.db import get_session

blueprint = Blueprint("dashboard", __name__, template_folder="templates")


@blueprint.route("/")
@allow(ANY_USER)
def index() -> Any:
    return render_template(
        "dashboard/index.html",
        queues=work_queues_for(get_session(), current_user, current_app.config),
        held=held_records_for(get_session(), current_user, current_app.config),
    )
