"""The backups page: the backups taken and the restores that proved them, for QA, managers and administrators."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request
from marshmallow import ValidationError

from lims.access import allow
from lims.backups import schemas
from lims.backups.service import backups, restore
from lims.db import get_session
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.web import field_errors, load_input

blueprint = Blueprint("backups", __name__, template_folder="templates")

READERS = frozenset({RoleName.QA, RoleName.MANAGER, RoleName.ADMIN})


@blueprint.route("/backups")
@allow(READERS)
def index() -> Any:
    db = get_session()
    schema = schemas.BackupListSchema()
    try:
        data = load_input(schema, request.args)
    except ValidationError as error:
        abort(422, " ".join(message for messages in field_errors(error).values() for message in messages))
    taken = backups.list_backups(db, after=data["cursor"])
    verified = restore.list_verifications(db, after=data["verified_cursor"])
    return render_template(
        "backups/index.html",
        taken=taken,
        verified=verified,
        signed=signatures.signatures_of_many(db, verified.items),
        next_cursor=schema.fields["cursor"].serialize("next_key", taken),
        next_verified_cursor=schema.fields["verified_cursor"].serialize("next_key", verified),
        args={key: value for key, value in request.args.items() if key in {"cursor", "verified_cursor"}},
        last_backup_at=backups.last_backup_at(db),
        last_passed_at=restore.last_passed_at(db),
    )
