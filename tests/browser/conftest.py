"""A live LIMS on its own database, and Debian's Chromium driven by Playwright.

Browser tests are skipped where no chromium is installed, except in CI
(CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from lims import schema
from lims.app import create_app
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization
from lims.identity.service.users import create_user
from tests.helpers import PASSWORD

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{CHROMIUM} is missing in CI: .ci/run installs Debian's chromium package")
    pytest.skip(f"no browser at {CHROMIUM}: install Debian's chromium package to run browser tests")


@pytest.fixture
def live_app(fresh_database_url: str, tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    """The LIMS served over HTTP on a free local port, with the facility and one user per staff role."""
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    engine.dispose()
    app = create_app(
        {
            "DATABASE_URL": fresh_database_url,
            "INSTANCE_PATH": str(tmp_path),
            "SECRET_KEY": "browser-test",
            "SECURE_COOKIES": False,
        }
    )

    def staff(session: Session) -> None:
        facility = create_organization(session, code="NBCT", name="Northbridge", kind=OrganizationKind.FACILITY)
        for username, full_name, role in (
            ("t.nguyen", "Thi Nguyen", RoleName.TECHNICIAN),
            ("q.okafor", "Quinn Okafor", RoleName.QA),
        ):
            create_user(
                session,
                username=username,
                full_name=full_name,
                email=f"{username}@nbct.example",
                organization=facility,
                roles={role},
                password=PASSWORD,
                must_change_password=False,
                actor=None,
                reason="Test user",
            )

    seed(app, staff)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        app.extensions["lims.db"].engine.dispose()


def seed(app: Flask, arrange: Callable[[Session], Any]) -> Any:
    """Run ``arrange`` in a committed transaction of the live app's database; return what it returns."""
    session = app.extensions["lims.db"].session_factory()
    try:
        result = arrange(session)
        session.commit()
        return result
    finally:
        session.close()


@pytest.fixture
def page(live_app: tuple[Flask, str]):
    _require_chromium()
    from playwright.sync_api import sync_playwright

    _app, base_url = live_app
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        # A lab tablet's viewport.
        context = browser.new_context(viewport={"width": 1024, "height": 768}, base_url=base_url)
        yield context.new_page()
        context.close()
        browser.close()


def sign_in(page, username: str) -> None:
    page.goto("/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
