"""The audit trail viewer, its CSV export and the chain-integrity page (QA and admin)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Response,
    current_app,
    render_template,
    request,
    stream_with_context,
)

from lims import clock, registry
from lims.access import allow
from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import display as audit_display
from lims.audit import export as audit_export
from lims.audit import naming as audit_naming
from lims.audit import schemas
from lims.audit import trail as audit_trail
from lims.audit import verification as audit_verification
from lims.audit.models import Controlled
from lims.db import get_session
from lims.identity.models import RoleName
from lims.identity.service.users import UserFilter, list_users
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("audit", __name__, template_folder="templates")

REVIEWERS = frozenset({RoleName.QA, RoleName.ADMIN})


def _criteria(data: dict[str, Any]) -> tuple[audit_trail.EventFilter, Controlled | None]:
    """The filter the form asks for, in UTC, and the record whose history with its parts it shows, if any."""
    zone = ZoneInfo(current_app.config["DISPLAY_TIMEZONE"])

    def start_of(day: Any) -> datetime | None:
        if day is None:
            return None
        try:
            return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
        except OverflowError:
            # A bound at the very edge of the calendar (year 1 or 9999) excludes no event.
            return None

    entity_type, entity_id = audit_trail.record_filter(get_session(), data["entity_type"], data["entity_id"])
    whole_record = audit_trail.controlled_record(get_session(), entity_type, entity_id) if data["with_parts"] else None
    criteria = audit_trail.EventFilter(
        entity_type=None if whole_record else entity_type or None,
        entity_id=None if whole_record else entity_id or None,
        records=tuple(audit_trail.record_and_parts(whole_record)) if whole_record else (),
        user_id=data["user_id"],
        actions=_actions_meant_by(data["action"]),
        recorded_from=start_of(data["date_from"]),
        recorded_until=start_of(
            data["date_to"] + timedelta(days=1) if data["date_to"] and data["date_to"] < date.max else None
        ),
        text=data["q"],
    )
    return criteria, whole_record


def _actions_meant_by(typed: str) -> tuple[str, ...]:
    """The action typed, or every known action of the family it names ("login" for login.success and the rest)."""
    if not typed:
        return ()
    family = tuple(action for action in registry.current().known_audit_actions if action.startswith(f"{typed}."))
    return (typed, *family)


#: the query arguments that choose a page rather than filter the trail
PAGING = ("before", "after")


def _filter_args() -> dict[str, str]:
    """The filters of this request, to carry over to other pages and the export."""
    return {key: value for key, value in request.args.items() if value and key not in PAGING}


def _filter_context() -> dict[str, Any]:
    users = list_users(get_session(), UserFilter(), page=1, per_page=1000).items
    return {
        "entity_types": audit_trail.controlled_entity_types(),
        "user_options": [(user.id, f"{user.full_name} ({user.username})") for user in users],
        "known_actions": registry.current().known_audit_actions,
    }


def _history_of(
    criteria: audit_trail.EventFilter,
    whole_record: Controlled | None,
    names: dict[audit_naming.RecordKey, Any],
) -> str | None:
    """The record whose history the page shows, as people call it."""
    if whole_record is not None:
        return audit_naming.record_label(*audit_chain.entity_key(whole_record), names)
    if criteria.entity_type and criteria.entity_id:
        return audit_naming.record_label(criteria.entity_type, criteria.entity_id, names)
    return None


@blueprint.route("/audit")
@allow(REVIEWERS)
def events() -> Any:
    with on_refusal_show(
        "audit/events.html",
        _filter_context,
        page=None,
        form=request.args,
        filter_args=_filter_args(),
        whole_record=None,
        history_of=None,
    ):
        data = load_input(schemas.EventFilterSchema(), request.args)
        criteria, whole_record = _criteria(data)
        page = audit_trail.search_events(get_session(), criteria, before=data["before"], after=data["after"])
    named = [(event.entity_type, event.entity_id) for event in page.events if event.entity_type and event.entity_id]
    if criteria.entity_type and criteria.entity_id:
        named.append((criteria.entity_type, criteria.entity_id))
    groups = audit_display.part_groups(whole_record) if whole_record is not None and whole_record.audit_parts else {}
    names = audit_naming.name_records(get_session(), [*named, *groups.values(), *audit_display.references(page.events)])
    return render_template(
        "audit/events.html",
        page=page,
        form=request.args,
        errors={},
        filter_args=_filter_args(),
        describe=lambda event: audit_display.changes(event, names),
        grouped_events=audit_display.grouped(page.events, groups),
        whole_record=whole_record,
        history_of=_history_of(criteria, whole_record, names),
        record_label=lambda entity_type, entity_id: audit_naming.record_label(entity_type, entity_id, names),
        filter_value=lambda entity_type, entity_id: audit_naming.filter_value(entity_type, entity_id, names),
        **_filter_context(),
    )


@blueprint.route("/audit/export.csv")
@allow(REVIEWERS)
def export() -> Any:
    with on_refusal_show(
        "audit/events.html",
        _filter_context,
        page=None,
        form=request.args,
        filter_args=_filter_args(),
        whole_record=None,
    ):
        data = load_input(schemas.EventFilterSchema(), request.args)
        criteria, _whole_record = _criteria(data)
    # The lines stream after the request's session is finished: get_session() then opens a fresh one.
    lines = audit_export.export_events(get_session(), criteria, filters=_filter_args(), reading_session=get_session)
    filename = f"audit-trail-{clock.now():%Y%m%dT%H%M%SZ}.csv"
    return Response(
        stream_with_context(lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@blueprint.route("/audit/integrity", methods=["GET", "POST"])
@allow(REVIEWERS)
def integrity() -> Any:
    checkpoints = audit_anchors.read_checkpoints(current_app.config["AUDIT_CHECKPOINT_PATH"])
    page = {"checkpoints": checkpoints, "checkpoint_minutes": current_app.config["AUDIT_CHECKPOINT_MINUTES"]}
    if request.method == "GET":
        return render_template("audit/integrity.html", verification=None, **page)
    session = get_session()
    verification = audit_verification.verify_trail(session, checkpoints=checkpoints)
    audit_chain.record(session, "audit.verified", details={"result": verification.summary()})
    return render_template("audit/integrity.html", verification=verification, **page)
