"""The reports page: a form per report; each report answers as a PDF or CSV download, its generation audited."""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, render_template, request, stream_with_context
from flask_login import current_user

from batch_records.models import BatchStatus, DeviationCategory
from lims import clock
from lims.access import allow, may_use
from lims.audit.trail import controlled_entity_types
from lims.db import get_session
from lims.documents.times import Times
from lims.identity.service.users import UserFilter, list_users
from lims.reports import schemas
from lims.reports.service import audit_trail, batch_reviews, calibration, deviations, generation, releases, training
from lims.reports.service.generation import Format, ReportType
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("reports", __name__, template_folder="templates")

#: bytes sent at a time from a generated PDF
BLOCK = 64 * 1024


@dataclass(frozen=True)
class ReportForm:
    report: ReportType
    schema: type[schemas.ReportSchema]

    @property
    def endpoint(self) -> str:
        return f"reports.{self.view_name}"

    @property
    def view_name(self) -> str:
        return self.report.key.replace("-", "_")


FORMS = (
    ReportForm(audit_trail.REPORT, schemas.AuditTrailReportSchema),
    ReportForm(calibration.REPORT, schemas.CalibrationReportSchema),
    ReportForm(deviations.REPORT, schemas.OpenDeviationsReportSchema),
    ReportForm(releases.REPORT, schemas.ReleaseRegisterSchema),
    ReportForm(training.REPORT, schemas.TrainingMatrixSchema),
    ReportForm(batch_reviews.REPORT, schemas.BatchReviewSummarySchema),
)
READERS = frozenset(role for form in FORMS for role in form.report.roles)


def _page_context() -> dict[str, Any]:
    users = list_users(get_session(), UserFilter(), page=1, per_page=1000).items
    return {
        "forms": [form for form in FORMS if may_use(form.endpoint)],
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


def _setting() -> generation.Setting:
    return generation.Setting(
        times=Times(current_app.jinja_env.filters["localtime"]),
        zone=ZoneInfo(current_app.config["DISPLAY_TIMEZONE"]),
        today=clock.today(),
        due_soon_days=current_app.config["CALIBRATION_DUE_SOON_DAYS"],
    )


def _generate(form: ReportForm) -> Any:
    with on_refusal_show("reports/index.html", _page_context, form=request.args, failed=form.report.key):
        parameters = load_input(form.schema(), request.args)
        report_format = parameters.pop("format")
        generated = generation.generate(
            get_session(), form.report, parameters, report_format=report_format, user=current_user, setting=_setting()
        )
    # The report is read after the request's transaction, with the generation's audit event, is committed:
    # get_session() then opens a fresh session.
    if report_format == Format.CSV:
        body: Iterator[Any] = _csv(generated)
        mimetype = "text/csv"
    else:
        body, mimetype = _pdf(generated), "application/pdf"
    return Response(
        stream_with_context(body),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{generated.filename(report_format)}"'},
    )


def _csv(generated: generation.Generation) -> Iterator[str]:
    yield from generation.csv_report(generated, get_session())


def _pdf(generated: generation.Generation) -> Iterator[bytes]:
    # Written to a temporary file a page at a time, then sent from it: "page X of Y" needs the last page first.
    with tempfile.TemporaryFile() as spool:
        generation.write_pdf(generated, get_session(), spool)
        spool.seek(0)
        while block := spool.read(BLOCK):
            yield block


def _view(form: ReportForm) -> Callable[[], Any]:
    def view() -> Any:
        return _generate(form)

    view.__name__ = form.view_name
    view.__doc__ = f"Generate the {form.report.title.lower()}."
    return allow(form.report.roles)(view)


for _form in FORMS:
    blueprint.add_url_rule(f"/reports/{_form.report.key}", view_func=_view(_form))
