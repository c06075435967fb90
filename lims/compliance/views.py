"""The compliance pages: the findings dashboard (QA and managers), a finding with QA's acknowledgement and
closing, and the checks' settings (administrators)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import allow
from lims.compliance import charts, schemas
from lims.compliance.models import UNSETTLED
from lims.compliance.service import dashboard, findings, settings
from lims.db import get_session
from lims.identity.models import RoleName
from lims.web import load_input, on_refusal_show, refusals_answered, refuse

blueprint = Blueprint("compliance", __name__, template_folder="templates")

READERS = frozenset({RoleName.QA, RoleName.MANAGER})
PER_PAGE = 25
#: how many days the trend chart looks back
TREND_DAYS = 30


@blueprint.route("/compliance")
@allow(READERS)
def index() -> Any:
    db = get_session()
    schema = schemas.FindingListSchema()
    with refusals_answered(lambda errors, status: refuse(status, "This list cannot go on from there.", errors)):
        data = load_input(schema, request.args)
    counts = dashboard.counts_by_severity_and_area(db)
    page = dashboard.findings_after(
        db,
        dashboard.FindingFilter(severity=data["severity"], area=data["area"] or None),
        after=data["cursor"],
        limit=PER_PAGE,
    )
    return render_template(
        "compliance/index.html",
        counts=counts,
        severities=dashboard.SEVERITY_ORDER,
        findings=page.items,
        chart=charts.trend_chart(dashboard.open_findings_trend(db, now=clock.now(), days=TREND_DAYS)),
        trend_days=TREND_DAYS,
        filters={
            name: value
            for name, value in (("severity", request.args.get("severity", "")), ("area", data["area"]))
            if value
        },
        first_page=data["cursor"] is None,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
    )


def _finding_context(finding_id: int) -> dict[str, Any]:
    finding = findings.get_finding(get_session(), finding_id)
    return {"finding": finding, "unsettled": finding.status in UNSETTLED}


@blueprint.route("/compliance/findings/<int:finding_id>")
@allow(READERS)
def finding(finding_id: int) -> Any:
    return render_template(
        "compliance/finding.html", errors={}, form=MultiDict(), action=None, **_finding_context(finding_id)
    )


@blueprint.route("/compliance/findings/<int:finding_id>/acknowledge", methods=["POST"])
@allow(RoleName.QA)
def acknowledge(finding_id: int) -> Any:
    db = get_session()
    shown = findings.get_finding(db, finding_id)
    with on_refusal_show("compliance/finding.html", lambda: _finding_context(finding_id), action="acknowledge"):
        data = load_input(schemas.FindingCommentSchema())
        findings.acknowledge(db, shown, user=current_user, comment=data["comment"], now=clock.now())
    flash(f"The finding on {shown.record_label} is acknowledged.", "success")
    return redirect(url_for("compliance.finding", finding_id=finding_id), 303)


@blueprint.route("/compliance/findings/<int:finding_id>/close", methods=["POST"])
@allow(RoleName.QA)
def close(finding_id: int) -> Any:
    db = get_session()
    shown = findings.get_finding(db, finding_id)
    with on_refusal_show("compliance/finding.html", lambda: _finding_context(finding_id), action="close"):
        data = load_input(schemas.FindingCommentSchema())
        findings.close(db, shown, user=current_user, comment=data["comment"], now=clock.now())
    flash(
        f"The finding on {shown.record_label} is closed; it reopens if the next run still finds the condition.",
        "success",
    )
    return redirect(url_for("compliance.finding", finding_id=finding_id), 303)


@blueprint.route("/compliance/checks")
@allow(RoleName.ADMIN)
def checks() -> Any:
    db = get_session()
    return render_template(
        "compliance/checks.html", checks=settings.checks_in_force(db), runs=dashboard.latest_runs(db)
    )


def _check_context(check_id: str) -> dict[str, Any]:
    in_force = settings.check_in_force(get_session(), settings.declared_check(check_id))
    return {"in_force": in_force, "check": in_force.check}


@blueprint.route("/compliance/checks/<string:check_id>", methods=["GET", "POST"])
@allow(RoleName.ADMIN)
def check(check_id: str) -> Any:
    context = _check_context(check_id)
    if request.method == "GET":
        shown = MultiDict({name: str(value) for name, value in context["in_force"].parameters.items()})
        if context["in_force"].enabled:
            shown["enabled"] = "on"
        return render_template("compliance/check.html", errors={}, form=shown, **context)
    with on_refusal_show("compliance/check.html", lambda: _check_context(check_id)):
        data = load_input(schemas.check_setting_schema(context["check"].parameters))
        settings.change_setting(
            get_session(),
            check_id,
            enabled=data.pop("enabled"),
            reason=data.pop("reason"),
            parameters=data,
            now=clock.now(),
        )
    flash(f"The settings of “{context['check'].title}” are saved.", "success")
    return redirect(url_for("compliance.checks"), 303)
