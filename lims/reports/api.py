"""JSON API of the QA reports: each report generated from its parameters, answered as PDF, CSV or its rows as JSON.

The same reports, for the same roles, as the reports page (QA and managers; the audit trail report QA and
administrators), read from a signed-in staff member's session; each generation is audited as the page's is, and a
bad parameter is refused with a 422 naming it, nothing generated.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask_login import current_user

from lims.api.blueprint import ApiBlueprint
from lims.api.errors import INVALID_ARGUMENTS
from lims.db import get_session
from lims.reports import schemas
from lims.reports.responses import MIMETYPES, report_response, setting
from lims.reports.schemas import FORMS, ReportForm
from lims.reports.service import generation
from lims.reports.service.generation import Format
from lims.web import refusals_answered, refuse

blueprint = ApiBlueprint(
    "reports_api", __name__, description="QA reports, as PDF, CSV or JSON rows; every generation audited."
)

_FILE = {"schema": {"type": "string", "format": "binary"}}


def _refused(errors: dict[str, list[str]], status: int) -> Any:
    """A refusal of the report's parameters or records: its one message, or each at the parameter it names."""
    messages = [message for listed in errors.values() for message in listed]
    named = {name: listed for name, listed in errors.items() if name != "_form"}
    return refuse(status, messages[0] if len(messages) == 1 else INVALID_ARGUMENTS, named)


def _operation(form: ReportForm) -> None:
    report = form.report

    def generate(parameters: dict[str, Any]) -> Response:
        report_format = parameters.pop("format")
        with refusals_answered(_refused):
            generated = generation.generate(
                get_session(), report, parameters, report_format=report_format, user=current_user, setting=setting()
            )
        return report_response(generated, report_format)

    generate.__name__ = form.view_name
    generate.__doc__ = f"{report.title}: {report.purpose[0].lower()}{report.purpose[1:]}"
    described = blueprint.doc(
        responses={
            "200": {
                "description": f"The {report.title.lower()} as generated: a file that states its parameters, who "
                "generated it and when, and the audit chain's head, or the same and its rows as JSON.",
                "content": {
                    MIMETYPES[Format.JSON]: {"schema": schemas.ReportOutSchema},
                    MIMETYPES[Format.CSV]: _FILE,
                    MIMETYPES[Format.PDF]: _FILE,
                },
            }
        }
    )(generate)
    described = blueprint.alt_response(404, response="NOT_FOUND")(described)
    described = blueprint.arguments(schemas.api_arguments(form.schema), location="query")(described)
    blueprint.route(f"/reports/{report.key}")(blueprint.allow(report.roles)(described))


for _form in FORMS:
    _operation(_form)
