"""JSON API of compliance findings (QA, managers and administrators): the findings, and one finding."""

from __future__ import annotations

from typing import Any

from lims.api.blueprint import ApiBlueprint
from lims.api.paging import Keyset
from lims.compliance import schemas
from lims.compliance.models import UNSETTLED, Finding
from lims.compliance.service import dashboard, findings
from lims.db import get_session
from lims.identity.models import RoleName
from lims.pagination import KeysetPage

blueprint = ApiBlueprint(
    "compliance_api", __name__, description="Findings of the scheduled compliance checks (QA, managers, admins)."
)
READERS = frozenset({RoleName.QA, RoleName.MANAGER, RoleName.ADMIN})
#: gravest first, then newest; a page goes on after the severity, opening time and id of the last finding shown
FINDING_PAGES = Keyset(schemas.FindingOutSchema, *schemas.FINDING_KEY)


@blueprint.route("/findings")
@blueprint.allow(READERS)
@blueprint.arguments(schemas.FindingQuerySchema, location="query")
@blueprint.arguments(FINDING_PAGES.arguments, location="query")
@blueprint.response(200, FINDING_PAGES.page)
def index(criteria: dict[str, Any], page: dict[str, Any]) -> KeysetPage[Finding]:
    """List the findings that still need someone (open or acknowledged) unless a status is asked for, gravest and
    newest first; filter by severity or area."""
    status = criteria["status"]
    return dashboard.findings_after(
        get_session(),
        dashboard.FindingFilter(
            severity=criteria["severity"],
            area=criteria["area"] or None,
            statuses=frozenset({status}) if status else UNSETTLED,
        ),
        after=page.get("cursor"),
        limit=page["limit"],
    )


@blueprint.route("/findings/<id:finding_id>")
@blueprint.allow(READERS)
@blueprint.response(200, schemas.FindingOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def show(finding_id: int) -> Finding:
    """One finding, whatever its status."""
    return findings.get_finding(get_session(), finding_id)
