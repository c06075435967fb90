"""A live LIMS on its own database, and Debian's Chromium driven by Playwright.

Browser tests are skipped where no chromium is installed, except in CI
(CI=true), where a missing browser is a failure.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.serving import make_server

from batch_records.models import Batch
from batch_records.service import batches
from lims import schema
from lims.app import create_app
from lims.db import create_engine_for
from lims.equipment.models import Equipment
from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service.organizations import create_organization, facility
from lims.identity.service.users import UserFilter, create_user, list_users
from lims.materials.models import LotStatus, MaterialLot
from tests.batch_records.conftest import Line, build_line
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


def person(session: Session, username: str, full_name: str, role: RoleName) -> User:
    """Another user of the facility, with the tests' password."""
    return create_user(
        session,
        username=username,
        full_name=full_name,
        email=f"{username}@nbct.example",
        organization=facility(session),
        roles={role},
        password=PASSWORD,
        must_change_password=False,
        actor=None,
        reason="Test user",
    )


def active_users(session: Session) -> dict[str, User]:
    """The active users by username."""
    return {
        user.username: user for user in list_users(session, UserFilter(status="active"), page=1, per_page=100).items
    }


@dataclass(frozen=True)
class StartedBatch:
    batch_id: int
    #: the batch's steps in order
    step_ids: tuple[int, ...]


@pytest.fixture
def started_batch(live_app: tuple[Flask, str]) -> StartedBatch:
    """The compact CAR-T line around the live app's technician and QA (a manager authored it; a second technician
    and an untrained one work beside them), and a batch the technician started on it, committed."""
    app, _base_url = live_app

    def arrange(session: Session) -> StartedBatch:
        users = active_users(session)
        line = build_line(
            session,
            author=person(session, "m.larsen", "Maja Larsen", RoleName.MANAGER),
            qa=users["q.okafor"],
            operator=users["t.nguyen"],
            second_operator=person(session, "s.lind", "Sara Lind", RoleName.TECHNICIAN),
            untrained=person(session, "n.berg", "Noah Berg", RoleName.TECHNICIAN),
            sponsor=create_organization(
                session, code="HELIX", name="Helix Cell Therapeutics", kind=OrganizationKind.CLIENT
            ),
        )
        batch = batches.start_batch(
            session,
            line.version,
            subject=line.subject,
            starting_material_identity="W1234 26 654321 C",
            user=line.operator,
        )
        return StartedBatch(batch.id, tuple(step.id for step in batch.steps))

    return seed(app, arrange)


def line_of(session: Session, batch: Batch) -> Line:
    """The line ``started_batch`` built, read back in ``session`` (the tests' step helpers take one)."""
    users = active_users(session)
    equipment = {item.asset_tag: item for item in session.scalars(select(Equipment))}
    lot = session.scalars(select(MaterialLot).where(MaterialLot.status == LotStatus.RELEASED)).one()
    return Line(
        version=batch.mbr_version,
        operator=users["t.nguyen"],
        second_operator=users["s.lind"],
        untrained=users["n.berg"],
        qa=users["q.okafor"],
        author=users["m.larsen"],
        cabinet=equipment["BSC-01"],
        centrifuge=equipment["CEN-01"],
        medium=lot.material,
        medium_lot=lot,
        subject=batch.subject,
        subjects=[batch.subject],
    )
