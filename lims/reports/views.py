"""The reports page: a form per report; each report answers as a PDF or CSV download, its generation audited."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from batch_records.models import BatchStatus, DeviationCategory
from lims.access import allow, may_use
from lims.audit.trail import controlled_entity_types
from lims.db import get_session
from lims.identity.service.users import UserFilter, list_users
from lims.reports.responses import report_response, setting
from lims.reports.schemas import FORMS, ReportForm
from lims.reports.service import deviations, generation
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("reports", __name__, template_folder="templates")

READERS = frozenset(role for form in FORMS for role in form.report.roles)


def _endpoint(form: ReportForm) -> str:
    return f"reports.{form.view_name}"


def _page_context() -> dict[str, Any]:
    users = list_users(get_session(), UserFilter(), page=1, per_page=1000).items
    return {
        "forms": [form for form in FORMS if may_use(_endpoint(form))],
        "entity_type_options": [(name, name.replace("_", " ")) for name in controlled_entity_types()],
        "user_options": [(user.id, f"{user.full_name} ({user.username})") for user in users],
        "categories": [(category.value, category.value) for category in DeviationCategory]
        + [(deviations.UNCLASSIFIED, "not classified yet")],
        "statuses": [(status.value, status.value) for status in BatchStatus],
        "due_soon_days": current_app.config["CALIBRATION_DUE_SOON_DAYS"],
    }


@blueprint.route("/reports")
@allow(READERS)
def index() -> Any:
    return render_template("reports/index.html", errors={}, form={}, failed=None, **_page_context())


def _generate(form: ReportForm) -> Any:
    with on_refusal_show("reports/index.html", _page_context, form=request.args, failed=form.report.key):
        parameters = load_input(form.schema(), request.args)
        report_format = parameters.pop("format")
        generated = generation.generate(
            get_session(), form.report, parameters, report_format=report_format, user=current_user, setting=setting()
        )
    return report_response(generated, report_format)


def _view(form: ReportForm) -> Callable[[], Any]:
    def view() -> Any:
        return _generate(form)

    view.__name__ = form.view_name
    view.__doc__ = f"Generate the {form.report.title.lower()}."
    return allow(form.report.roles)(view)


for _form in FORMS:
    blueprint.add_url_rule(f"/reports/{_form.report.key}", view_func=_view(_form))
