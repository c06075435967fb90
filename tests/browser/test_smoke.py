"""A real browser signs in, sees the dashboard and signs out.

Uses Debian's chromium through Playwright. Skipped where no chromium is
installed, except in CI (CI=true), where a missing browser is a failure.
"""
from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from lims import create_app, schema
from lims.db import create_engine_for
from lims.identity import service
from lims.identity.models import OrganizationKind, RoleName
from tests.helpers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run",
]

pytestmark = pytest.mark.browser


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium package")
    pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium package to run browser tests")


@pytest.fixture
def live_server(fresh_database_url: str, tmp_path: Path) -> Iterator[str]:
    """The LIMS served over HTTP on a free local port, on a database of its own."""
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    engine.dispose()
    app = create_app({"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path),
                      "SECRET_KEY": "browser-test", "SECURE_COOKIES": False})
    session = app.extensions["lims.db"].session_factory()
    facility = service.create_organization(session, code="NBCT", name="Northbridge", kind=OrganizationKind.FACILITY)
    service.create_user(session, username="t.nguyen", full_name="Thi Nguyen", email="t@nbct.example",
                        organization=facility, roles={RoleName.TECHNICIAN}, password=PASSWORD,
                        must_change_password=False, actor=None)
    session.commit()
    session.close()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["lims.db"].engine.dispose()


@pytest.fixture
def page(live_server: str):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        # A lab tablet's viewport.
        context = browser.new_context(viewport={"width": 1024, "height": 768}, base_url=live_server)
        yield context.new_page()
        context.close()
        browser.close()


def test_sign_in_see_dashboard_sign_out(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url("/login?next=/")
    page.get_by_label("Username").fill("t.nguyen")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown username or wrong password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Good to see you, Thi Nguyen")
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
