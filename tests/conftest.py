"""Fixtures for the whole suite.

The schema is built once per run through the alembic migrations; each test
runs inside a transaction of its own that is rolled back at the end. Set
LIMS_TEST_DATABASE_URL to run on PostgreSQL (the database must be empty or
disposable: the run resets its public schema). Under pytest-xdist each worker
runs on a database of its own named after it (``<database>_gw0``, ...), created
on the same server and dropped at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.orm import Session

from lims import clock, schema
from lims.app import create_app
from lims.db import create_engine_for
from lims.identity.models import Organization, OrganizationKind, RoleName, User
from lims.identity.service import organizations, passwords, users
from tests.helpers import PASSWORD, login


@pytest.fixture(scope="session", autouse=True)
def _cheap_password_hashing() -> Iterator[None]:
    # Full-cost argon2 would dominate the suite's run time; the algorithm stays argon2id.
    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield
    passwords._hasher = original


@pytest.fixture(autouse=True)
def _real_clock_after_each_test() -> Iterator[None]:
    yield
    clock.unfreeze()
    clock.set_facility_zone(UTC)


@contextmanager
def _postgresql_server(url: URL) -> Iterator[Connection]:
    """A connection to the server's maintenance database, for creating and dropping databases."""
    server = create_engine_for(
        url.set(database="postgres").render_as_string(hide_password=False), isolation_level="AUTOCOMMIT"
    )
    try:
        with server.connect() as connection:
            yield connection
    finally:
        server.dispose()


def _drop_database(url: URL) -> None:
    with _postgresql_server(url) as server:
        server.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def database_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    configured = os.environ.get("LIMS_TEST_DATABASE_URL")
    if not configured:
        yield f"sqlite:///{tmp_path_factory.mktemp('db') / 'lims.sqlite3'}"
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker is None:
        yield configured
        return
    # Each run resets and migrates its database's schema: xdist workers sharing one would undo each other's work.
    url = make_url(configured)
    worker_url = url.set(database=f"{url.database}_{worker}")
    with _postgresql_server(url) as server:
        exists = server.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": worker_url.database}
        ).scalar()
        if not exists:
            server.execute(text(f'CREATE DATABASE "{worker_url.database}"'))
    try:
        yield worker_url.render_as_string(hide_password=False)
    finally:
        _drop_database(worker_url)


def _reset_postgresql_schema(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))


@pytest.fixture(scope="session")
def migrated_engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine_for(database_url)
    if engine.dialect.name == "postgresql":
        _reset_postgresql_schema(engine)
    with engine.begin() as connection:
        schema.upgrade(connection)
    yield engine
    engine.dispose()


@pytest.fixture
def fresh_database_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An empty database of the same engine, for tests that must really commit."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.sqlite3'}"
        return
    fresh_url = url.set(database=f"{url.database}_{uuid.uuid4().hex[:10]}")
    with _postgresql_server(url) as server:
        server.execute(text(f'CREATE DATABASE "{fresh_url.database}"'))
    try:
        yield fresh_url.render_as_string(hide_password=False)
    finally:
        _drop_database(fresh_url)


@pytest.fixture
def connection(migrated_engine: Engine) -> Iterator[Connection]:
    with migrated_engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


@pytest.fixture
def app(connection: Connection, database_url: str, tmp_path: Path) -> Iterator[Flask]:
    app = create_app(
        {"DATABASE_URL": database_url, "INSTANCE_PATH": str(tmp_path / "instance"), "SECRET_KEY": "test-secret-key"}
    )
    app.extensions["lims.db"].bind_to(connection)
    yield app
    app.extensions["lims.db"].engine.dispose()


@pytest.fixture
def db_session(app: Flask) -> Iterator[Session]:
    """A session in the test's transaction, for arranging and checking data.

    No app context is pushed: requests must each get their own, as in production.
    """
    session = app.extensions["lims.db"].session_factory()
    yield session
    session.close()


@pytest.fixture
def facility(db_session: Session) -> Organization:
    return organizations.create_organization(
        db_session, code="NBCT", name="Northbridge Cell Therapy Facility", kind=OrganizationKind.FACILITY
    )


@pytest.fixture
def create_organization(db_session: Session) -> Callable[..., Organization]:
    def make(
        *, code: str | None = None, name: str | None = None, kind: OrganizationKind = OrganizationKind.CLIENT
    ) -> Organization:
        code = code or f"C{uuid.uuid4().hex[:6].upper()}"
        return organizations.create_organization(db_session, code=code, name=name or f"Client {code}", kind=kind)

    return make


@pytest.fixture
def create_user(
    db_session: Session, facility: Organization, create_organization: Callable[..., Organization]
) -> Callable[..., User]:
    def make(
        *roles: RoleName,
        username: str | None = None,
        organization: Organization | None = None,
        password: str = PASSWORD,
        must_change_password: bool = False,
        full_name: str | None = None,
    ) -> User:
        roles_set = set(roles) or {RoleName.TECHNICIAN}
        if organization is None:
            organization = create_organization() if RoleName.CLIENT in roles_set else facility
        username = username or f"user{uuid.uuid4().hex[:8]}"
        return users.create_user(
            db_session,
            username=username,
            full_name=full_name or f"Test {username}",
            email=f"{username}@example.org",
            organization=organization,
            roles=roles_set,
            password=password,
            must_change_password=must_change_password,
            actor=None,
            reason="Test user",
        )

    return make


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def signed_in(client: FlaskClient, create_user: Callable[..., User], db_session: Session) -> Callable[..., User]:
    """Sign the test client in as a new user with ``roles``; return the user."""

    def sign_in(*roles: RoleName, **overrides) -> User:
        user = create_user(*roles, **overrides)
        db_session.commit()
        response = login(client, user)
        assert response.status_code == 302, response.text
        return user

    return sign_in
