"""The client's portal: its submissions, samples and subjects at a glance; the change feed its pages poll to
update without a reload; and its webhooks with their delivery log."""

from __future__ import annotations

from typing import Any

from flask import flash, jsonify, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import registry
from lims.access import allow
from lims.db import get_session
from lims.samples import schemas
from lims.samples.service import custody, events, portal
from lims.samples.service import submissions as submissions_service
from lims.samples.views import CLIENT, blueprint
from lims.web import load_input, on_refusal_show
from protocols.service import subjects as subjects_service

#: how many of the newest records the portal's front page shows (the lists page on from there)
RECENT = 10


@blueprint.route("/portal")
@allow(CLIENT)
def portal_home() -> Any:
    db = get_session()
    organization_id = current_user.organization_id
    samples = submissions_service.samples_after(db, organization_id=organization_id, after=None, limit=RECENT)
    return render_template(
        "samples/portal.html",
        submissions=submissions_service.submissions_after(
            db, organization_id=organization_id, after=None, limit=RECENT
        ),
        samples=samples,
        custody_of=custody.latest_events(db, samples.items, organization_id=organization_id),
        subjects=portal.subjects_expected_and_received(db, organization_id),
        feed_cursor=events.latest_cursor(db, organization_id),
        portal_sections=[
            (section, section.rows(db, organization_id)) for section in registry.current().portal_sections
        ],
    )


@blueprint.route("/portal/subjects/<int:subject_id>")
@allow(CLIENT)
def portal_subject(subject_id: int) -> Any:
    """A subject of one of the client's protocols: each visit's samples expected and received, and those
    collected outside the visit's window."""
    db = get_session()
    subject = subjects_service.get_subject(db, subject_id, sponsor_id=current_user.organization_id)
    return render_template(
        "samples/portal_subject.html", subject=subject, calendar=subjects_service.sample_calendar(db, subject)
    )


@blueprint.route("/portal/changes")
@allow(CLIENT)
def changes() -> Any:
    """What changed for the client's organization after ``?after=``: what its pages poll (one indexed query)."""
    page = events.events_after(get_session(), current_user.organization_id, request.args.get("after"), limit=200)
    return jsonify({"items": [events.event_body(event) for event in page.items], "next_cursor": page.next_cursor})


def _webhooks_context() -> dict[str, Any]:
    return {"webhooks": events.webhooks_of(get_session(), current_user.organization_id)}


@blueprint.route("/portal/webhooks", methods=["GET", "POST"])
@allow(CLIENT)
def webhooks() -> Any:
    if request.method == "GET":
        return render_template("samples/webhooks.html", errors={}, form=MultiDict(), **_webhooks_context())
    with on_refusal_show("samples/webhooks.html", _webhooks_context):
        data = load_input(schemas.WebhookSchema())
        webhook = events.register_webhook(
            get_session(),
            organization_id=current_user.organization_id,
            url=data["url"],
            secret=data["secret"],
            user_id=current_user.id,
        )
    flash(f"Events will be sent to {webhook.url}.", "success")
    return redirect(url_for("samples.webhook", public_id=webhook.public_id), 303)


@blueprint.route("/portal/webhooks/<public_id>")
@allow(CLIENT)
def webhook(public_id: str) -> Any:
    db = get_session()
    found = events.get_webhook(db, public_id, organization_id=current_user.organization_id)
    return render_template("samples/webhook.html", webhook=found, deliveries=events.deliveries_of(db, found))


@blueprint.route("/portal/webhooks/<public_id>/disable", methods=["POST"])
@allow(CLIENT)
def disable_webhook(public_id: str) -> Any:
    db = get_session()
    found = events.get_webhook(db, public_id, organization_id=current_user.organization_id)
    events.disable_webhook(db, found)
    flash(f"No more events will be sent to {found.url}.", "success")
    return redirect(url_for("samples.webhook", public_id=public_id), 303)
