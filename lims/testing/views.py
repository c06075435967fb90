"""Pages of test definitions: the tests the lab performs, their methods and specifications."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from lims.access import STAFF, allow
from lims.db import get_session
from lims.equipment.models import EquipmentType
from lims.identity.models import RoleName
from lims.testing import schemas, service
from lims.testing.models import ResultKind
from lims.units.kinds import KIND_DESCRIPTIONS
from lims.web import load_input, on_refusal_show

blueprint = Blueprint("testing", __name__, template_folder="templates")

DEFINERS = frozenset({RoleName.MANAGER, RoleName.QA})


@blueprint.route("/test-definitions")
@allow(STAFF)
def definitions() -> Any:
    return render_template("testing/definitions.html", definitions=service.list_definitions(get_session()))


def _new_context() -> dict[str, Any]:
    return {
        "kind_options": [
            (ResultKind.QUANTITATIVE.value, "Quantitative: a measured value with a unit"),
            (ResultKind.QUALITATIVE.value, "Qualitative: an observation, e.g. No growth"),
        ],
        "value_kind_options": [(kind.value, description) for kind, description in KIND_DESCRIPTIONS.items()],
        "instrument_options": [(kind.value, kind.value.capitalize()) for kind in EquipmentType],
    }


@blueprint.route("/test-definitions/new", methods=["GET", "POST"])
@allow(DEFINERS)
def new_definition() -> Any:
    if request.method == "GET":
        return render_template("testing/definition_new.html", errors={}, form=MultiDict(), **_new_context())
    with on_refusal_show("testing/definition_new.html", _new_context):
        definition = service.create_definition(get_session(), **load_input(schemas.TestDefinitionSchema()))
    flash(f"Test {definition.code} ({definition.name}) is defined; master batch records can require it.", "success")
    return redirect(url_for("testing.definitions"), 303)
