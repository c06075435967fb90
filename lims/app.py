"""The app factory: the web application of the installed areas."""

from __future__ import annotations

import atexit
import threading
from collections.abc import Mapping
from datetime import timedelta
from itertools import chain
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask, Response, g, redirect, request, url_for
from flask_login import LoginManager
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from lims import access, clock, db, document_signing, schema
from lims.api.factory import create_api
from lims.areas import install
from lims.audit import anchors as audit_anchors
from lims.audit.chain import entity_key
from lims.compliance.scheduling import LeasedScheduler
from lims.config import instance_path_from_env, load_config
from lims.errors import LimsError
from lims.inputs import RecordIdConverter, control_character_errors
from lims.navigation import header_links_for, navigation_for
from lims.notifications import service as notifications
from lims.signatures.views import current_user_may_sign
from lims.web import refuse

#: The cookie outlives the idle time, so that a browser coming back late still presents it: the LIMS ends the
#: session itself, from the server-side record of its activity, and audits the idle sign-out.
COOKIE_LIFETIME_BEYOND_IDLE = timedelta(hours=12)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the LIMS web application; ``config`` overrides what the environment says."""
    registry = install()
    instance_path = Path((config or {}).get("INSTANCE_PATH") or instance_path_from_env())
    # Named for the package: templates, static files and the logger are the package's.
    app = Flask("lims", instance_path=str(instance_path), instance_relative_config=True)
    app.config.update(load_config(instance_path, config))
    app.config["PERMANENT_SESSION_LIFETIME"] = (
        timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]) + COOKIE_LIFETIME_BEYOND_IDLE
    )
    clock.set_facility_zone(ZoneInfo(app.config["FACILITY_TIMEZONE"]))

    app.extensions["lims.db"] = db.Database(
        db.create_engine_for(app.config["DATABASE_URL"]),
        session_info={
            audit_anchors.CHECKPOINT_PATH: app.config["AUDIT_CHECKPOINT_PATH"],
            document_signing.SESSION_INFO_KEY: document_signing.SigningSettings.from_config(app.config),
            notifications.EMAIL_ENABLED: bool(app.config["SMTP_HOST"]),
        },
    )
    app.extensions["lims.schema_current"] = False

    # Before any route is added: an id beyond what a key holds matches no route, so it is answered 404.
    app.url_map.converters.update(int=RecordIdConverter, id=RecordIdConverter)
    _register_login(app)
    access.csrf.init_app(app)

    @app.before_request
    def _refuse_when_schema_behind() -> Any:
        if app.extensions["lims.schema_current"]:
            return None
        try:
            schema.assert_current(db.get_session().connection())
        except schema.SchemaBehind as exc:
            # Plain text: the page layout itself reads tables that may not exist yet.
            if request.path.startswith("/api/"):
                return refuse(exc.status_code, exc.message)
            return Response(exc.message, exc.status_code, mimetype="text/plain")
        app.extensions["lims.schema_current"] = True
        return None

    app.before_request(access.start_audit_context)
    app.before_request(access.enforce_access)
    app.before_request(_refuse_control_characters)

    @app.after_request
    def _finish(response: Any) -> Any:
        access.audit_refusal_by_a_rule(response.status_code)
        db.finish_request_session(response.status_code)
        _set_security_headers(app, response)
        if "request_id" in g:
            response.headers["X-Request-ID"] = g.request_id
        return response

    app.teardown_appcontext(db.close_request_session)

    @app.errorhandler(LimsError)
    def _domain_error(error: LimsError) -> Any:
        return refuse(error.status_code, error.message)

    @app.errorhandler(CSRFError)
    def _csrf_error(_error: CSRFError) -> Any:
        return refuse(400, "This form has expired or was not sent from this site. Reload the page and try again.")

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Any:
        return refuse(error.code or 500, error.description or error.name)

    if app.config["SCHEDULER"] == "embedded":
        _run_the_scheduler_embedded(app)
    _register_templating(app)
    app.add_url_rule("/favicon.ico", "favicon", _favicon)
    for blueprint in registry.blueprints:
        app.register_blueprint(blueprint)
    api = create_api(app)
    for api_blueprint in registry.api_blueprints:
        api.register_blueprint(api_blueprint)
    for group in registry.cli_groups:
        app.cli.add_command(group)
    return app


def _run_the_scheduler_embedded(app: Flask) -> None:
    """Start the compliance scheduler in this web process with the first request it serves (not for the `lims`
    commands, which build the app too); of several workers, the one holding the lease runs the jobs."""
    started = threading.Lock()

    @app.before_request
    def _start_scheduler() -> None:
        if "lims.scheduler" in app.extensions:
            return
        with started:
            if "lims.scheduler" not in app.extensions:
                app.extensions["lims.scheduler"] = start_embedded_scheduler(app)


def start_embedded_scheduler(app: Flask) -> LeasedScheduler:
    """Start the scheduler inside this process and stop it (giving the lease up) when the process exits."""
    running = LeasedScheduler(app)
    running.start()
    atexit.register(running.stop)
    return running


@access.public
def _favicon() -> Any:
    # Browsers ask for /favicon.ico wherever no page names an icon (a PDF, the API's JSON).
    return redirect(url_for("static", filename="favicon.svg"), 301)


def _refuse_control_characters() -> Any:
    """Refuse a request whose address, query or form holds a control character, before any view reads it.

    Views and schemas never see such text, whether they load it through a schema or read it as it came.
    """
    pairs = chain(
        ((name, value) for name, value in (request.view_args or {}).items() if isinstance(value, str)),
        request.args.items(multi=True),
        request.form.items(multi=True) if request.method in {"POST", "PUT", "PATCH", "DELETE"} else (),
    )
    errors = control_character_errors(pairs)
    if not errors:
        return None
    fields = ", ".join(sorted(errors))
    return refuse(422, f"Remove the invisible control characters from {fields}; no text can hold them.", errors)


def _register_login(app: Flask) -> None:
    login_manager = LoginManager()
    login_manager.session_protection = None  # the server-side session does this job
    login_manager.init_app(app)
    login_manager.request_loader(lambda _request: access.load_signed_in_user())


def _register_templating(app: Flask) -> None:
    display_zone = ZoneInfo(app.config["DISPLAY_TIMEZONE"])

    @app.template_filter("localtime")
    def _localtime(moment: Any, with_seconds: bool = False) -> str:
        if moment is None:
            return "—"
        local = moment.astimezone(display_zone)
        return local.strftime("%Y-%m-%d %H:%M:%S %Z" if with_seconds else "%Y-%m-%d %H:%M %Z")

    @app.context_processor
    def _globals() -> dict[str, Any]:
        return {
            "navigation": navigation_for,
            "header_links": header_links_for,
            "may_use": access.may_use,
            "may_sign": current_user_may_sign,
            "audit_entity": entity_key,
            "display_timezone": app.config["DISPLAY_TIMEZONE"],
        }


_CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def _set_security_headers(app: Flask, response: Any) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", _CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        # Pages show controlled records; a shared tablet must not keep copies.
        headers["Cache-Control"] = "no-store"
    if app.config["SECURE_COOKIES"]:
        headers.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
