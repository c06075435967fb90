"""The API's description (``/api/v1/openapi.json``) and a page to browse it (``/api/v1/docs``).

The page is Swagger UI served from this site (the swagger-ui-bundle package), so it runs under the
site's Content-Security-Policy, which allows scripts and styles from this site only.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, json, render_template, send_from_directory
from swagger_ui_bundle import swagger_ui_path
from werkzeug.exceptions import NotFound

from lims.access import public
from lims.api.blueprint import API_PREFIX

blueprint = Blueprint("api_docs", __name__, url_prefix=API_PREFIX, template_folder="templates")
#: What the docs page loads of Swagger UI (the package holds more: other builds, source maps).
SWAGGER_UI_ASSETS = frozenset({"swagger-ui.css", "swagger-ui-bundle.js"})


@blueprint.get("/openapi.json")
@public
def openapi_json() -> Any:
    description = current_app.extensions["lims.api"].spec.to_dict()
    return current_app.response_class(json.dumps(description, indent=2), mimetype="application/json")


@blueprint.get("/docs")
@public
def docs() -> Any:
    return render_template("api/docs.html")


@blueprint.get("/docs/<name>")
@public
def asset(name: str) -> Any:
    if name not in SWAGGER_UI_ASSETS:
        raise NotFound(f"The API's docs page has no file {name[:80]!r}.")
    return send_from_directory(swagger_ui_path, name)
