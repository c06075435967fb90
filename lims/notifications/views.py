"""The inbox: one's own messages, newest first, marked read one by one or all at once, and the e-mail choice."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user

from lims.access import ANY_USER, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.notifications import delivery, schemas, service
from lims.notifications.models import EmailStatus
from lims.web import load_input, on_refusal_show, safe_next_url

blueprint = Blueprint("notifications", __name__, template_folder="templates")

PER_PAGE = 25


def _inbox_context(data: dict[str, Any]) -> dict[str, Any]:
    page = service.inbox(
        get_session(), current_user.id, after=data["cursor"], limit=PER_PAGE, unread_only=data["unread"]
    )
    return {
        "page": page,
        "unread_only": data["unread"],
        "first_page": data["cursor"] is None,
        "next_cursor": schemas.InboxFilterSchema().fields["cursor"].serialize("next_key", page),
    }


@blueprint.route("/inbox")
@allow(ANY_USER)
def inbox() -> Any:
    with on_refusal_show("notifications/inbox.html", lambda: _inbox_context({"cursor": None, "unread": False})):
        data = load_input(schemas.InboxFilterSchema(), request.args)
    return render_template("notifications/inbox.html", errors={}, **_inbox_context(data))


def _back_to_inbox() -> Any:
    return redirect(safe_next_url(request.form.get("next"), url_for("notifications.inbox")))


@blueprint.route("/inbox/<int:notification_id>/read", methods=["POST"])
@allow(ANY_USER)
def mark_read(notification_id: int) -> Any:
    service.mark_read(get_session(), current_user.id, notification_id)
    return _back_to_inbox()


@blueprint.route("/inbox/read-all", methods=["POST"])
@allow(ANY_USER)
def mark_all_read() -> Any:
    with on_refusal_show("notifications/inbox.html", lambda: _inbox_context({"cursor": None, "unread": False})):
        data = load_input(schemas.MarkAllReadSchema())
    marked = service.mark_all_read(get_session(), current_user.id, up_to=data["up_to"])
    flash(f"{marked} message{'' if marked == 1 else 's'} marked read.", "success")
    return _back_to_inbox()


@blueprint.route("/inbox/settings", methods=["GET", "POST"])
@allow(ANY_USER)
def settings() -> Any:
    db = get_session()
    if request.method == "POST":
        with on_refusal_show("notifications/settings.html", email_enabled=service.email_enabled(db, current_user.id)):
            data = load_input(schemas.EmailChoiceSchema())
            service.set_email_enabled(db, current_user, data["email_enabled"])
        flash("E-mail of your messages is " + ("on." if data["email_enabled"] else "off."), "success")
        return redirect(url_for("notifications.settings"))
    return render_template(
        "notifications/settings.html", errors={}, form={}, email_enabled=service.email_enabled(db, current_user.id)
    )


@blueprint.route("/admin/emails")
@allow(RoleName.ADMIN)
def outbox() -> Any:
    schema = schemas.OutboxFilterSchema()
    with on_refusal_show(
        "notifications/outbox.html", form=request.args, page=None, next_cursor=None, statuses=list(EmailStatus)
    ):
        data = load_input(schema, request.args)
    page = delivery.outbox(get_session(), after=data["cursor"], limit=PER_PAGE, status=data["status"])
    return render_template(
        "notifications/outbox.html",
        errors={},
        form=request.args,
        page=page,
        next_cursor=schema.fields["cursor"].serialize("next_key", page),
        statuses=list(EmailStatus),
        configured=current_app.config["SMTP_HOST"] is not None,
    )
