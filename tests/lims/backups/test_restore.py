"""Backups proven by restore (EU GMP Annex 11 §7.2), on SQLite and on PostgreSQL; a damaged backup refused."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from sqlalchemy import pool, select
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from lims import schema
from lims.audit import context as audit_context
from lims.backups.errors import BackupUnreadable
from lims.backups.models import RestoreOutcome, RestoreVerification
from lims.backups.service import backups, restore
from lims.backups.service.manifest import manifest_path, read_manifest
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service import organizations, users
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD


def populate(url: str) -> None:
    """A database worth backing up: migrated, with users whose creation and a signature are in the audit chain."""
    engine = create_engine_for(url, poolclass=pool.NullPool)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with Session(engine) as session:
            audit_context.act_as(session, audit_context.Actor(None, "test set-up"))
            facility = organizations.create_organization(
                session, code="NBCT", name="Northbridge", kind=OrganizationKind.FACILITY
            )
            for role in (RoleName.QA, RoleName.MANAGER):
                users.create_user(
                    session,
                    username=f"backup.{role.value}",
                    full_name=f"Backup {role.value}",
                    email=f"{role.value}@example.org",
                    organization=facility,
                    roles={role},
                    password=PASSWORD,
                    must_change_password=False,
                    actor=None,
                    reason="Test user",
                )
            session.commit()
    finally:
        engine.dispose()


def prove(url: str, folder: Path):
    path, manifest = backups.take_backup(url, folder)
    return path, manifest, restore.verify_backup(path, live_url=url, checkpoints=[])


def check_proven(path: Path, manifest, result) -> None:
    assert manifest_path(path).is_file() and read_manifest(path) == manifest
    assert manifest.head_sequence > 0 and manifest.record_counts["user_account"] == 2
    assert result.passed, result.detail
    assert result.head_sequence == manifest.head_sequence and result.records == manifest.records
    assert "as the manifest counts" in result.detail and "Audit trail intact" in result.detail


def test_an_sqlite_backup_is_restored_and_verified(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    populate(url)
    path, manifest, result = prove(url, tmp_path / "backups")
    assert path.suffix == ".sqlite3" and manifest.engine == "sqlite"
    check_proven(path, manifest, result)


def test_a_postgresql_backup_is_restored_and_verified(database_url, tmp_path):
    url = make_url(database_url)
    if url.get_backend_name() != "postgresql":
        pytest.skip("needs PostgreSQL: set LIMS_TEST_DATABASE_URL to run it on that server")
    from tests.conftest import _drop_database, _postgresql_server

    live = url.set(database=f"{url.database}_backup_{uuid.uuid4().hex[:8]}")
    with _postgresql_server(url) as server:
        server.exec_driver_sql(f'CREATE DATABASE "{live.database}"')
    try:
        live_url = live.render_as_string(hide_password=False)
        populate(live_url)
        path, manifest, result = prove(live_url, tmp_path)
        assert path.suffix == ".dump" and manifest.engine == "postgresql"
        check_proven(path, manifest, result)
    finally:
        _drop_database(live)


@pytest.fixture
def sqlite_backup(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    populate(url)
    path, _manifest = backups.take_backup(url, tmp_path / "backups")
    return url, path


def test_a_backup_with_a_changed_byte_is_refused_unrestored(sqlite_backup):
    url, path = sqlite_backup
    content = bytearray(path.read_bytes())
    content[len(content) // 2] ^= 0x01
    path.write_bytes(bytes(content))
    with pytest.raises(BackupUnreadable, match=r"changed or damaged after it was written\. It is not restored"):
        restore.verify_backup(path, live_url=url, checkpoints=[])


def test_a_truncated_backup_is_refused_unrestored(sqlite_backup):
    url, path = sqlite_backup
    content = path.read_bytes()
    path.write_bytes(content[: len(content) - 4096])
    with pytest.raises(BackupUnreadable, match="was truncated after it was written"):
        restore.verify_backup(path, live_url=url, checkpoints=[])


def test_a_backup_without_its_manifest_is_refused(sqlite_backup):
    url, path = sqlite_backup
    manifest_path(path).unlink()
    with pytest.raises(BackupUnreadable, match="has no manifest"):
        restore.verify_backup(path, live_url=url, checkpoints=[])


def test_counts_that_disagree_with_the_manifest_fail_the_verification(sqlite_backup):
    url, path = sqlite_backup
    manifest = json.loads(manifest_path(path).read_text())
    manifest["record_counts"]["user_account"] = 3
    manifest_path(path).write_text(json.dumps(manifest))
    result = restore.verify_backup(path, live_url=url, checkpoints=[])
    assert not result.passed
    assert "user_account: 2 rows, the manifest says 3" in result.detail


def test_the_verification_is_recorded_and_signed_in_the_live_lims(db_session, create_user, sqlite_backup):
    url, path = sqlite_backup
    result = restore.verify_backup(path, live_url=url, checkpoints=[])
    qa = create_user(RoleName.QA)
    recorded = restore.record_verification(db_session, result, user=qa, password=PASSWORD)
    assert recorded.outcome == RestoreOutcome.PASSED and recorded.run_by == qa.full_name
    [(signature, status)] = signatures.signatures_of(db_session, recorded)
    assert signature.meaning == SignatureMeaning.VERIFIED and status == signatures.SignatureStatus.VALID
    assert restore.last_passed_at(db_session) == recorded.verified_at
    assert db_session.scalar(select(RestoreVerification.id)) == recorded.id
