"""The application shell: security headers, cookies, schema check, error pages."""

from __future__ import annotations

from sqlalchemy import text

from lims import schema
from lims.app import create_app
from lims.db import create_engine_for
from lims.identity.models import RoleName


def test_responses_carry_security_headers(client):
    headers = client.get("/login").headers
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["Cache-Control"] == "no-store"
    assert headers["Strict-Transport-Security"].startswith("max-age=")


def test_session_cookie_is_secure_httponly_and_samesite(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    cookie = client.get_cookie("lims_session")
    assert cookie is not None
    assert cookie.secure and cookie.http_only and cookie.same_site == "Lax"


def test_refuses_to_serve_while_the_schema_is_behind(fresh_database_url, tmp_path):
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection, "base")
    engine.dispose()
    app = create_app({"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    response = app.test_client().get("/login")
    assert response.status_code == 503
    assert "lims db upgrade" in response.text and schema.head_revision() in response.text
    api = app.test_client().get("/api/v1/me")
    assert api.status_code == 503 and "lims db upgrade" in api.json["message"]
    app.extensions["lims.db"].engine.dispose()


def test_a_current_schema_is_served(fresh_database_url, tmp_path):
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    engine.dispose()
    app = create_app({"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k"})
    assert app.test_client().get("/login").status_code == 200
    app.extensions["lims.db"].engine.dispose()


def test_unknown_page_gets_a_readable_404(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404 and "Not found" in response.text


def test_sqlite_connections_enforce_foreign_keys_and_use_wal(tmp_path):
    engine = create_engine_for(f"sqlite:///{tmp_path / 'x.sqlite3'}")
    with engine.connect() as connection:
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_every_page_names_the_lims_icon_and_browsers_asking_for_favicon_ico_find_it(client):
    login_page = client.get("/login").text
    assert 'rel="icon" type="image/svg+xml" href="/static/favicon.svg"' in login_page

    asked = client.get("/favicon.ico")
    assert asked.status_code == 301 and asked.headers["Location"].endswith("/static/favicon.svg")
    with client.get("/static/favicon.svg") as icon:
        assert icon.status_code == 200 and icon.mimetype == "image/svg+xml" and b"<svg" in icon.data
