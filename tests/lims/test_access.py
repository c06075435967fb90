"""Deny by default: every route declares who may use it, and anyone else is refused."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import event, select
from werkzeug.http import parse_date
from werkzeug.routing.converters import NumberConverter

from lims import clock
from lims.access import ACCESS_ATTRIBUTE, OWN_RECORDS_ATTRIBUTE, PUBLIC, declared_access
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName, SessionEndCause, UserSession
from lims.identity.service import api_tokens
from tests.helpers import login


def every_route(app: Flask) -> list[tuple[str, str, str]]:
    """(endpoint, method, url) for every route and method the app serves."""
    routes = []
    adapter = app.url_map.bind("localhost")
    for rule in app.url_map.iter_rules():
        values = {
            name: 1 if isinstance(converter, NumberConverter) else "x" for name, converter in rule._converters.items()
        }
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            routes.append((rule.endpoint, method, adapter.build(rule.endpoint, values, method=method)))
    return routes


def test_every_route_declares_who_may_use_it(app):
    with app.test_request_context():
        undeclared = [endpoint for endpoint, _, _ in every_route(app) if declared_access(endpoint) is None]
    assert undeclared == []


def test_an_undeclared_route_is_refused_even_to_an_admin(app, client, signed_in):
    @app.get("/forgotten")
    def forgotten():  # a view someone forgot to declare
        return "secret"

    signed_in(RoleName.ADMIN)
    response = client.get("/forgotten")
    assert response.status_code == 403 and "declares no access rule" in response.text


def test_anonymous_requests_to_non_public_routes_are_refused(app, client):
    with app.test_request_context():
        routes = [(e, m, u) for e, m, u in every_route(app) if declared_access(e) != PUBLIC]
    assert len(routes) > 15
    for endpoint, method, url in routes:
        response = client.open(url, method=method)
        if url.startswith("/api/"):
            assert response.status_code == 401, (endpoint, method, url, response.status_code)
        else:
            assert response.status_code == 302, (endpoint, method, url, response.status_code)
            assert response.headers["Location"].startswith("/login"), (endpoint, method, url)


def test_a_client_user_is_refused_on_every_staff_route(app, client, signed_in):
    signed_in(RoleName.CLIENT)
    with app.test_request_context():
        staff_routes = [
            (e, m, u)
            for e, m, u in every_route(app)
            if declared_access(e) != PUBLIC and RoleName.CLIENT not in declared_access(e)
        ]
    assert staff_routes
    for endpoint, method, url in staff_routes:
        response = client.open(url, method=method)
        # A browser session opens the API to staff only: a client's session is not even authenticated there.
        expected = {401, 403} if url.startswith("/api/") else {403}
        assert response.status_code in expected, (endpoint, method, url, response.status_code)


def test_a_client_api_token_is_refused_on_every_staff_api_route(
    app, client, create_user, create_organization, db_session
):
    admin = create_user(RoleName.ADMIN)
    _, presented = api_tokens.issue_api_token(db_session, organization=create_organization(), name="x", actor=admin)
    db_session.commit()
    with app.test_request_context():
        staff_api = [
            (e, m, u)
            for e, m, u in every_route(app)
            if u.startswith("/api/") and declared_access(e) != PUBLIC and RoleName.CLIENT not in declared_access(e)
        ]
    for endpoint, method, url in staff_api:
        response = client.open(url, method=method, headers={"Authorization": f"Bearer {presented}"})
        # An operation a person does from their signed-in session (storing a sample) asks the token's caller to sign in.
        by_a_person = getattr(app.view_functions[endpoint], OWN_RECORDS_ATTRIBUTE, False)
        assert response.status_code == (401 if by_a_person else 403), (endpoint, method, url)


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.QA, RoleName.MANAGER])
def test_staff_without_admin_role_are_refused_admin_pages(app, client, signed_in, role):
    signed_in(role)
    for url in ("/admin/users", "/admin/roles", "/admin/organizations", "/admin/api-tokens"):
        assert client.get(url).status_code == 403


def test_navigation_shows_only_what_the_role_may_open(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    page = client.get("/").text
    assert 'href="/admin/users"' not in page and 'href="/portal/api-tokens"' not in page


def test_every_view_function_declares_access_through_the_decorators(app):
    declared = {
        getattr(view, ACCESS_ATTRIBUTE, None) is not None
        for name, view in app.view_functions.items()
        if name != "static"
    }
    assert declared == {True}


def test_login_page_is_public(client, create_user, db_session):
    assert client.get("/login").status_code == 200
    user = create_user()
    db_session.commit()
    assert login(client, user).status_code == 302


@pytest.mark.parametrize(("url", "status"), [("/", 302), ("/api/v1/equipment", 401)])
def test_a_session_ended_by_the_idle_timeout_is_audited_as_a_logout(app, client, db_session, signed_in, url, status):
    user = signed_in(RoleName.QA)
    clock.freeze(clock.now() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    assert client.get(url).status_code == status
    db_session.expire_all()
    logout = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "logout")).one()
    assert (logout.user_id, logout.entity_id) == (user.id, str(user.id))
    details = json.loads(logout.changes)
    assert details["cause"] == f"idle for more than {app.config['SESSION_IDLE_MINUTES']} minutes"
    ended = db_session.get(UserSession, details["session"])
    assert (ended.user_id, ended.end_cause) == (user.id, SessionEndCause.IDLE)


def test_the_idle_check_uses_the_servers_record_of_activity_not_the_cookies_lifetime(
    app, client, create_user, db_session
):
    user = create_user()
    db_session.commit()
    clock.freeze(clock.now())
    signed_in_at = clock.now()
    response = login(client, user)
    cookie_expires = parse_date(response.headers["Set-Cookie"].split("Expires=")[1].split(";")[0])
    idle = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"])
    # The browser still presents the cookie after the idle time: the LIMS ends the session and audits it.
    assert cookie_expires > datetime.now(UTC) + idle
    clock.freeze(signed_in_at + idle - timedelta(seconds=1))
    assert client.get("/").status_code == 200
    clock.freeze(signed_in_at + 2 * idle - timedelta(seconds=2))
    assert client.get("/").status_code == 200, "activity is recorded on the server, request by request"
    clock.freeze(signed_in_at + 3 * idle)
    assert client.get("/").headers["Location"] == "/login"
    db_session.expire_all()
    assert len(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "logout")).all()) == 1


def test_a_signed_in_request_reads_its_session_once_and_writes_its_activity_once(app, client, connection, signed_in):
    signed_in(RoleName.TECHNICIAN)
    statements: list[str] = []

    def remember(_conn, _cursor, statement, *_args):
        if "user_session" in statement:
            statements.append(statement.split()[0].upper())

    a_thirtieth_of_the_idle_time = timedelta(minutes=app.config["SESSION_IDLE_MINUTES"]) / 30
    start = clock.now()
    event.listen(connection, "before_cursor_execute", remember)
    try:
        clock.freeze(start + a_thirtieth_of_the_idle_time)
        assert client.get("/").status_code == 200
        clock.freeze(start + 2 * a_thirtieth_of_the_idle_time)
        assert client.get("/no-such-page").status_code == 404, "a refused request is activity too"
        assert client.get("/").status_code == 200, "activity just recorded is not written again"
    finally:
        event.remove(connection, "before_cursor_execute", remember)
    assert statements == ["SELECT", "UPDATE", "SELECT", "UPDATE", "SELECT"]
