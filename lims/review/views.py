"""The periodic review pages: where each review stands, the access review, and the audit-trail reviews."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for
from flask_login import current_user
from marshmallow import ValidationError
from sqlalchemy.orm import Session

from lims import clock
from lims.access import allow
from lims.db import get_session
from lims.errors import LimsError
from lims.identity.models import RoleName, User
from lims.review import schemas
from lims.review.models import TrailReview, TrailScope
from lims.review.service import access, trail
from lims.signatures import service as signatures
from lims.web import field_errors, load_input, on_refusal_show

blueprint = Blueprint("review", __name__, template_folder="templates")

#: who reads the reviews: QA and managers sign them, administrators act on what the access review finds
READERS = frozenset({RoleName.QA, RoleName.MANAGER, RoleName.ADMIN})


def _intervals() -> dict[str, int]:
    return {
        "access": current_app.config["ACCESS_REVIEW_DAYS"],
        "trail": current_app.config["AUDIT_TRAIL_REVIEW_DAYS"],
    }


@blueprint.route("/reviews")
@allow(READERS)
def index() -> Any:
    db = get_session()
    return render_template(
        "review/index.html",
        today=clock.today(),
        intervals=_intervals(),
        access_due=access.due(db),
        trail_due=trail.due(db),
    )


# The access review


def _access_context() -> dict[str, Any]:
    db = get_session()
    schema = schemas.ReviewListSchema()
    data = _list_arguments(schema)
    people = access.users_to_review(db)
    page = access.list_reviews(db, after=data["cursor"])
    return {
        "people": people,
        "listed": {person.id: access.role_text(person.role_names) for person in people},
        "roles": list(RoleName),
        "may_review": _may(access.check_may_review),
        "page": page,
        "next_cursor": schema.fields["cursor"].serialize("next_key", page),
        "on_first_page": data["cursor"] is None,
        "due": access.due(db),
        "today": clock.today(),
    }


def _list_arguments(schema: schemas.ReviewListSchema) -> dict[str, Any]:
    """The list's page argument; a cursor this list did not give out is refused with the reason (422)."""
    try:
        return load_input(schema, request.args)
    except ValidationError as error:
        abort(422, " ".join(message for messages in field_errors(error).values() for message in messages))


def _may(check: Callable[[Session, User], None]) -> bool:
    """Whether the signed-in user may sign the review ``check`` guards: the page offers the form only then."""
    try:
        check(get_session(), current_user)
    except LimsError:
        return False
    return True


@blueprint.route("/reviews/access", methods=["GET", "POST"])
@allow(READERS)
def access_review() -> Any:
    if request.method == "GET":
        return render_template("review/access.html", errors={}, form=request.form, **_access_context())
    db = get_session()
    with on_refusal_show("review/access.html", _access_context):
        data = load_input(schemas.AccessReviewSchema())
        decisions, listed = schemas.access_decisions(request.form)
        review = access.review_access(
            db,
            decisions=decisions,
            listed=listed,
            change_reason=data["change_reason"],
            comment=data["comment"],
            interval_days=_intervals()["access"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    changed = len(review.changed_entries)
    flash(
        f"Access review signed: {len(review.entries)} users reviewed, {changed} with changed roles."
        if changed
        else f"Access review signed: {len(review.entries)} users confirmed.",
        "success",
    )
    return redirect(url_for("review.access_review_record", review_id=review.id), 303)


@blueprint.route("/reviews/access/<int:review_id>")
@allow(READERS)
def access_review_record(review_id: int) -> Any:
    db = get_session()
    review = access.get_review(db, review_id)
    return render_template("review/access_record.html", review=review, signatures=signatures.signatures_of(db, review))


# The audit-trail review


def _trail_context() -> dict[str, Any]:
    db = get_session()
    schema = schemas.ReviewListSchema()
    data = _list_arguments(schema)
    page = trail.list_reviews(db, after=data["cursor"])
    last_review = trail.last_period_review(db)
    today = clock.today()
    return {
        "page": page,
        "next_cursor": schema.fields["cursor"].serialize("next_key", page),
        "on_first_page": data["cursor"] is None,
        "may_review": _may(trail.check_may_review),
        "due": trail.due(db),
        "today": today,
        "suggested_start": last_review.period_end + timedelta(days=1)
        if last_review and last_review.period_end
        else today - timedelta(days=_intervals()["trail"]),
        "suggested_end": today - timedelta(days=1),
    }


@blueprint.route("/reviews/audit-trail", methods=["GET", "POST"])
@allow(READERS)
def trail_reviews() -> Any:
    if request.method == "GET":
        return render_template("review/trail.html", errors={}, form=request.form, **_trail_context())
    db = get_session()
    with on_refusal_show("review/trail.html", _trail_context):
        data = load_input(schemas.PeriodReviewSchema())
        review = trail.review_period(
            db,
            start=data["period_start"],
            end=data["period_end"],
            comment=data["comment"],
            interval_days=_intervals()["trail"],
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"Review of the {review.label} signed ({review.events_reviewed} events).", "success")
    return redirect(url_for("review.trail_review_record", review_id=review.id), 303)


@blueprint.route("/reviews/audit-trail/<int:review_id>")
@allow(READERS)
def trail_review_record(review_id: int) -> Any:
    db = get_session()
    review = trail.get_review(db, review_id)
    return render_template(
        "review/trail_record.html",
        review=review,
        signatures=signatures.signatures_of(db, review),
        trail_link=_trail_link(review),
    )


def _trail_link(review: TrailReview) -> str:
    """The audit viewer showing what the review covered."""
    if review.scope == TrailScope.PERIOD:
        return url_for("audit.events", date_from=review.period_start, date_to=review.period_end)
    return url_for("audit.events", entity_type=review.entity_type, entity_id=review.entity_id, with_parts=1)
