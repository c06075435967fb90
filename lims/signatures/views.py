"""The signing page every signable record links to."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from markupsafe import Markup

from lims.access import STAFF, allow
from lims.db import get_session
from lims.signatures import schemas, service
from lims.signatures.models import Signable, SignatureMeaning
from lims.web import load_input, on_refusal_show, safe_next_url

blueprint = Blueprint("signatures", __name__, template_folder="templates")
#: the flash category of what comes after a signature (``base.html`` draws it with its link)
NEXT_STEP = "next-step"


@blueprint.route("/sign/<entity_type>/<int:entity_id>/<meaning>", methods=["GET", "POST"])
@allow(STAFF)
def sign(entity_type: str, entity_id: int, meaning: str) -> Any:
    if meaning not in {member.value for member in SignatureMeaning}:
        abort(404, f"{meaning!r} is not a signature meaning.")
    db = get_session()
    record = service.signable_record(db, entity_type, entity_id)
    # Refused before the password is asked for: the error handler answers with the reason alone.
    service.check_may_sign(db, record, SignatureMeaning(meaning), current_user)
    context: dict[str, Any] = {
        "record": record,
        "record_name": service.name_of(record),
        "attested": service.attested_with(db, record),
        "entity_type": entity_type,
        "meaning": SignatureMeaning(meaning),
        "signatures": service.signatures_of(db, record),
    }
    if request.method == "GET":
        return render_template(
            "signatures/sign.html", errors={}, form={"next": request.args.get("next", "")}, **context
        )
    with on_refusal_show("signatures/sign.html", **context):
        data = load_input(schemas.SignSchema())
        service.sign(
            db,
            record,
            meaning=SignatureMeaning(meaning),
            user=current_user,
            password=data["password"],
            client_address=request.remote_addr,
        )
    flash(f"{service.name_of(record)[:1].upper()}{service.name_of(record)[1:]} signed as {meaning}.", "success")
    following = service.next_step_after(db, record, SignatureMeaning(meaning), current_user)
    # Markup survives the session cookie (Flask tags it), so the link is drawn as a link; the texts are escaped here.
    offered = (
        Markup(' <a class="button" href="{}">{}</a>').format(
            url_for(following.endpoint, **dict(following.arguments)), following.label
        )
        if following.endpoint
        else Markup("")
    )
    flash(Markup("{}{}").format(following.text, offered), NEXT_STEP)
    return redirect(
        safe_next_url(
            data["next"], url_for("signatures.sign", entity_type=entity_type, entity_id=entity_id, meaning=meaning)
        ),
        303,
    )


def current_user_may_sign(record: Signable, meaning: str) -> bool:
    """Whether the signed-in user may sign ``record`` with ``meaning`` now; pages offer only such signatures."""
    return service.may_sign(get_session(), record, SignatureMeaning(meaning), current_user)
