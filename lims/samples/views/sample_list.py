"""The samples work list (technicians and QA see every client's samples, a client its own), and the lab's stability
limits per sample type (managers set them)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.datastructures import MultiDict

from lims import clock
from lims.access import STAFF, allow
from lims.db import get_session
from lims.identity.models import RoleName
from lims.samples import list_schemas
from lims.samples.models import SampleStatus
from lims.samples.service import sample_list, stability
from lims.samples.views import CLIENT, blueprint, organization_scope
from lims.web import load_input, on_refusal_show

READERS = STAFF | {CLIENT}
LIMIT_SETTERS = frozenset({RoleName.MANAGER, RoleName.ADMIN})
PAGE_SIZE = 50


def _after() -> tuple[int] | None:
    """The keyset cursor (``?after=<sample id>``); a malformed one starts from the top."""
    text = request.args.get("after", "")
    return (int(text),) if text.isdigit() and len(text) <= 10 else None


def _list_context() -> dict[str, Any]:
    db = get_session()
    return {
        "statuses": [(status.value, status.value) for status in SampleStatus],
        "organizations": sample_list.client_organizations(db) if current_user.is_staff else [],
        "known_types": [limit.sample_type for limit in stability.limits(db)],
        "now": clock.now(),
    }


@blueprint.route("/samples")
@allow(READERS)
def sample_index() -> Any:
    with on_refusal_show("samples/sample_list.html", _list_context, page=None, form=request.args, filter_args={}):
        criteria = load_input(list_schemas.SampleFilterSchema(), request.args)
    page = sample_list.samples_after(
        get_session(),
        sample_list.SampleFilter(**criteria),
        organization_id=organization_scope(),
        after=_after(),
        limit=PAGE_SIZE,
    )
    filter_args = {key: value for key, value in request.args.items() if value and key != "after"}
    return render_template(
        "samples/sample_list.html",
        page=page,
        form=request.args,
        errors={},
        filter_args=filter_args,
        **_list_context(),
    )


def _limits_context() -> dict[str, Any]:
    return {"limits": stability.limits(get_session()), "max_hours": list_schemas.MAX_STABILITY_HOURS}


@blueprint.route("/sample-types/stability")
@allow(STAFF)
def stability_limits() -> Any:
    return render_template("samples/stability.html", errors={}, form=MultiDict(), **_limits_context())


@blueprint.route("/sample-types/stability", methods=["POST"])
@allow(LIMIT_SETTERS)
def set_stability_limit() -> Any:
    with on_refusal_show("samples/stability.html", _limits_context):
        data = load_input(list_schemas.StabilityLimitSchema())
        limit = stability.set_limit(
            get_session(),
            sample_type=data["sample_type"],
            max_hours=data["max_hours"],
            user=current_user,
            reason=data["reason"],
        )
    flash(f"{limit.sample_type}: at most {limit.max_hours} h from collection to processing.", "success")
    return redirect(url_for("samples.stability_limits"), 303)
