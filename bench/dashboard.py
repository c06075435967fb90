"""Authenticated dashboard requests per second through the WSGI app vs a bare Flask app rendering the same template.

The full app pays for everything a signed-in page view costs: the session
cookie, access control, CSRF, the database queries and the template. The bare
app renders the same template with the same values and nothing else, so the
ratio shows what the LIMS adds on top of rendering.
"""

from __future__ import annotations

import re
import tempfile
import time
from dataclasses import dataclass

from flask import Flask, render_template
from flask.testing import FlaskClient

from lims import registry, schema
from lims.access import keep_signed_in, may_use
from lims.app import create_app
from lims.dashboard.service import QueueSummary, work_queues_for
from lims.db import get_session
from lims.identity.demo_accounts import ACCOUNTS, DemoAccount
from lims.identity.models import RoleName
from lims.identity.service.sessions import open_session
from lims.identity.service.users import user_by_username
from lims.navigation import ShownHeaderLink, header_links_for, navigation_for

WARM_UP_REQUESTS = 50
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class StandInOrganization:
    name: str


@dataclass(frozen=True)
class StandInUser:
    """The attributes of ``current_user`` that base.html and dashboard/index.html read."""

    full_name: str
    organization: StandInOrganization
    role_names: frozenset[RoleName]
    is_authenticated: bool = True


@dataclass(frozen=True)
class DashboardValues:
    """Everything the dashboard template shows the technician, taken from the real app."""

    user: StandInUser
    navigation: list[tuple[str, str]]
    header_links: list[ShownHeaderLink]
    #: the endpoints the technician may use, as the real app's access rules answer
    usable_endpoints: frozenset[str]
    queues: list[QueueSummary]
    csrf_token: str


def run(requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        app = create_app(
            {
                "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
                "INSTANCE_PATH": f"{tmp}/instance",
                "SECRET_KEY": "bench",
            }
        )
        try:
            _load_demo_database(app)
            technician = next(account for account in ACCOUNTS if account.role.value == "technician")
            full_client = app.test_client()
            csrf_token = _sign_in(full_client, technician)
            bare_client = _bare_dashboard_app(app, _dashboard_values(app, technician, csrf_token)).test_client()

            full_page = _get_dashboard(full_client)
            bare_page = _get_dashboard(bare_client)
            print(f"dashboard: page size full app {len(full_page)} bytes, bare Flask {len(bare_page)} bytes")

            full_rate = _requests_per_second(full_client, requests)
            bare_rate = _requests_per_second(bare_client, requests)
        finally:
            # Release the SQLite file before the temporary directory goes.
            app.extensions["lims.db"].engine.dispose()
    print(f"dashboard: full app  {full_rate:.1f} req/s ({requests} requests)")
    print(f"dashboard: bare Flask {bare_rate:.1f} req/s ({requests} requests)")
    print(f"dashboard: ratio full/bare {full_rate / bare_rate:.2f}")


def _load_demo_database(app: Flask) -> None:
    with app.app_context():
        session = get_session()
        schema.upgrade(session.connection())
        for load in registry.current().demo_loaders:
            load(session)
        session.commit()


def _sign_in(client: FlaskClient, account: DemoAccount) -> str:
    """Sign in through the real login form; return its CSRF token (same length as the pages' tokens)."""
    login_page = client.get("/login")
    match = CSRF_TOKEN.search(login_page.get_data(as_text=True))
    if match is None:
        raise RuntimeError("the login page carries no CSRF token")
    csrf_token = match.group(1)
    response = client.post(
        "/login", data={"csrf_token": csrf_token, "username": account.username, "password": account.password}
    )
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {account.username} answered {response.status_code}, not 302")
    return csrf_token


def _dashboard_values(app: Flask, account: DemoAccount, csrf_token: str) -> DashboardValues:
    with app.test_request_context("/"):
        session = get_session()
        user = user_by_username(session, account.username)
        # navigation_for() asks the access rules about whoever is signed in.
        keep_signed_in(open_session(session, user, client_address=None, user_agent=None))
        return DashboardValues(
            user=StandInUser(
                full_name=user.full_name,
                organization=StandInOrganization(name=user.organization.name),
                role_names=user.role_names,
            ),
            navigation=navigation_for(),
            header_links=header_links_for(),
            usable_endpoints=frozenset(rule.endpoint for rule in app.url_map.iter_rules() if may_use(rule.endpoint)),
            queues=work_queues_for(session, user, app.config),
            csrf_token=csrf_token,
        )


def _bare_dashboard_app(app: Flask, values: DashboardValues) -> Flask:
    bare = Flask(__name__, static_folder=app.static_folder)
    bare.jinja_env.loader = app.jinja_env.loader

    @bare.route("/", endpoint="dashboard.index")
    def dashboard_index() -> str:
        return render_template("dashboard/index.html", queues=values.queues)

    # url_for in the templates must build the same links as the real app does.
    bare.url_map.converters.update(app.url_map.converters)
    for rule in app.url_map.iter_rules():
        if rule.endpoint not in bare.view_functions:
            bare.add_url_rule(rule.rule, endpoint=rule.endpoint, view_func=_never_requested, defaults=rule.defaults)

    @bare.context_processor
    def _template_globals() -> dict[str, object]:
        return {
            "current_user": values.user,
            "navigation": lambda: values.navigation,
            "header_links": lambda: values.header_links,
            "may_use": lambda endpoint: endpoint in values.usable_endpoints,
            "csrf_token": lambda: values.csrf_token,
            "display_timezone": app.config["DISPLAY_TIMEZONE"],
        }

    return bare


def _never_requested() -> str:
    raise RuntimeError("the bare app registers these rules only so url_for builds the real links")


def _get_dashboard(client: FlaskClient) -> bytes:
    response = client.get("/")
    if response.status_code != 200:
        raise RuntimeError(f"the dashboard answered {response.status_code}, not 200")
    return response.get_data()


def _requests_per_second(client: FlaskClient, requests: int) -> float:
    for _ in range(WARM_UP_REQUESTS):
        _get_dashboard(client)
    started = time.perf_counter()
    for _ in range(requests):
        _get_dashboard(client)
    return requests / (time.perf_counter() - started)
