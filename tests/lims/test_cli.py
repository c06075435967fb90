"""The `lims` command line: first start, demo data, the server; bad input exits non-zero and changes nothing."""

from __future__ import annotations

import getpass
import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import func, select

from batch_records.cart_designs import CART_HLX19
from batch_records.models import (
    TYPICAL_STAGES,
    Batch,
    BatchStatus,
    DeviationCategory,
    DeviationStatus,
    MasterBatchRecord,
    MbrStatus,
    StepStatus,
)
from batch_records.service import deviations, execution, release, step_uses
from lims import clock, document_signing
from lims.audit import trail as audit_trail
from lims.audit.models import AuditEvent
from lims.certificates.service import batch_certificate
from lims.cli import cli
from lims.equipment.models import Equipment, EquipmentStatus
from lims.equipment.service.inventory import status_of
from lims.identifiers import ISBT_128_DIN
from lims.identity.demo_accounts import ACCOUNTS
from lims.identity.models import Organization, RoleName, User
from lims.identity.service import sign_in, users
from lims.materials import service as materials
from lims.materials.models import MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.testing.demo import TEST_DEFINITIONS
from lims.training import service as training
from protocols.models import Protocol, VersionStatus
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD
from tests.lims.local_dates import JUST_AFTER_MIDNIGHT_EAST, at_facility

README = Path(__file__).resolve().parents[2] / "README.md"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(cli, list(args), env=env)

    return invoke


def count(db_session, model) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count()).select_from(model))


def test_init_registers_the_facility_and_first_admin(run, db_session):
    result = run(
        "init",
        "--facility-code",
        "NBCT",
        "--facility-name",
        "Northbridge Cell Therapy",
        "--admin-username",
        "root.admin",
        "--admin-name",
        "Rita Admin",
        "--admin-email",
        "rita@nbct.example",
        env={"LIMS_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    admin = users.user_by_username(db_session, "root.admin")
    assert admin.role_names == {RoleName.ADMIN} and admin.organization.is_facility
    assert sign_in.authenticate(db_session, username="root.admin", password=PASSWORD, client_address=None) is admin
    assert "Created a self-signed document-signing key" in result.output


def test_init_with_a_configured_key_that_does_not_open_says_so(run, app, tmp_path):
    app.config.update(SIGNING_KEY_PATH=tmp_path / "absent.p12", SIGNING_KEY_CONFIGURED=True)
    result = run(
        "init",
        "--facility-name",
        "Northbridge Cell Therapy",
        "--admin-name",
        "Rita Admin",
        "--admin-email",
        "rita@nbct.example",
        env={"LIMS_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 1
    assert "documents cannot be signed" in result.output and "absent.p12" in result.output
    assert not (tmp_path / "absent.p12").exists()


def test_init_creates_the_facility_signing_key_and_certificate(run, app):
    key_path = app.config["SIGNING_KEY_PATH"]
    result = run(
        "init",
        "--facility-code",
        "NBCT",
        "--facility-name",
        "Northbridge Cell Therapy",
        "--admin-name",
        "Rita Admin",
        "--admin-email",
        "rita@nbct.example",
        env={"LIMS_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    assert key_path.stat().st_mode & 0o777 == 0o600
    signer = document_signing.load_signer(document_signing.SigningSettings.from_config(app.config))
    assert "Northbridge Cell Therapy" in signer.subject and "NBCT document signing" in signer.subject


def test_init_twice_is_refused(run, facility):
    result = run(
        "init",
        "--facility-name",
        "Another",
        "--admin-name",
        "X",
        "--admin-email",
        "x@example.org",
        env={"LIMS_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 1 and "already registered" in result.output


def test_init_with_a_weak_password_exits_non_zero_and_creates_nothing(run, db_session):
    result = run(
        "init",
        "--facility-name",
        "Lab",
        "--admin-name",
        "X",
        "--admin-email",
        "x@example.org",
        env={"LIMS_ADMIN_PASSWORD": "short"},
    )
    assert result.exit_code == 1 and "at least 12 characters" in result.output
    assert count(db_session, Organization) == 0 and count(db_session, User) == 0


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("Northbridge2026", "built on the facility's name or code"),
        ("RitaAdmin-2026!", "built on your name, username or e-mail address"),
        ("aaaaaaaaaaaa", "repeats the same character"),
        ("demo-admin-2026", "demo passwords published with the LIMS"),
    ],
)
def test_init_refuses_a_guessable_password_saying_why(run, db_session, password, reason):
    result = run(
        "init",
        "--facility-name",
        "Northbridge Cell Therapy Facility",
        "--admin-username",
        "rita.a",
        "--admin-name",
        "Rita Admin",
        "--admin-email",
        "rita@nbct.example",
        env={"LIMS_ADMIN_PASSWORD": password},
    )
    assert result.exit_code == 1 and reason in result.output
    assert count(db_session, Organization) == 0 and count(db_session, User) == 0


def test_without_a_terminal_the_password_must_come_from_the_environment(run, monkeypatch):
    monkeypatch.delenv("LIMS_ADMIN_PASSWORD", raising=False)
    result = run("init", "--facility-name", "Lab", "--admin-name", "X", "--admin-email", "x@example.org")
    assert result.exit_code == 1 and "set LIMS_ADMIN_PASSWORD" in result.output


def test_demo_loads_every_role_and_can_run_again(run, db_session):
    first = run("demo")
    assert first.exit_code == 0, first.output
    # Loading takes a while: each area's part is announced as it starts, in order.
    assert re.findall(r"\[(\d+)/10\] ([a-z ]+) demo data", first.output) == [
        (str(number), area)
        for number, area in enumerate(
            [
                "identity",
                "equipment",
                "protocols",
                "materials",
                "training",
                "testing",
                "batch records",
                "certificates",
                "samples",
                "review",
            ],
            start=1,
        )
    ]
    again = run("demo")
    assert again.exit_code == 0, again.output
    assert count(db_session, User) == len(ACCOUNTS)
    for account in ACCOUNTS:
        user = sign_in.authenticate(
            db_session, username=account.username, password=account.password, client_address=None
        )
        assert account.role in user.role_names
        assert account.username in first.output and account.password in first.output
    assert {account.role for account in ACCOUNTS} == set(RoleName)


def test_demo_equipment_shows_every_status_a_lab_meets(run, db_session):
    assert run("demo").exit_code == 0
    db_session.expire_all()
    statuses = {
        item.asset_tag: status_of(db_session, item, due_soon_days=14) for item in db_session.scalars(select(Equipment))
    }
    assert statuses["INC-001"] == EquipmentStatus.IN_SERVICE
    assert statuses["BSC-002"] == EquipmentStatus.DUE_SOON
    assert statuses["CEN-003"] == EquipmentStatus.OVERDUE
    assert statuses["PIP-004"] == EquipmentStatus.OUT_OF_TOLERANCE
    assert statuses["CNT-006"] == EquipmentStatus.UNDER_MAINTENANCE


def test_demo_protocol_has_an_effective_version_one_in_review_and_subjects(run, db_session):
    assert run("demo").exit_code == 0
    db_session.expire_all()
    protocol = db_session.scalars(select(Protocol).where(Protocol.number == "HLX-301")).one()
    assert [(version.number, version.status) for version in protocol.versions] == [
        ("1.0", VersionStatus.EFFECTIVE),
        ("2.0", VersionStatus.IN_REVIEW),
    ]
    # three from the protocol's own demo data, two more enrolled for the batches
    assert len(subjects_service.subjects_of(db_session, protocol)) == 5


def test_demo_lots_show_released_quarantined_and_expired(run, db_session):
    assert run("demo").exit_code == 0
    db_session.expire_all()
    today = clock.today()
    states = {
        lot.material.part_number + " " + lot.supplier_lot: materials.usability(lot, today).reason
        for lot in db_session.scalars(select(MaterialLot))
    }
    assert states["MED-001 7231104"] == "released"
    assert states["MED-001 7235518"].startswith("in quarantine")
    assert states["IL2-001 P22-0871"].startswith("expired on")


def test_demo_at_a_facility_east_of_utc_just_after_midnight_records_nothing_in_the_future(run, db_session):
    with at_facility(JUST_AFTER_MIDNIGHT_EAST):
        loaded = run("demo")
        assert loaded.exit_code == 0, loaded.output
        db_session.expire_all()
        latest = db_session.scalar(select(func.max(AuditEvent.recorded_at)))
        assert latest <= clock.now()
        assert all(
            ISBT_128_DIN.normalise(identity) == identity
            for identity in db_session.scalars(select(Batch.starting_material_identity))
        )
        states = {
            lot.supplier_lot: materials.usability(lot, clock.today()).reason
            for lot in db_session.scalars(select(MaterialLot))
        }
        assert states["7231104"] == "released" and states["P22-0871"].startswith("expired on")


def test_demo_released_batches_have_their_certificates(run, db_session):
    assert run("demo").exit_code == 0
    assert run("demo").exit_code == 0
    db_session.expire_all()
    released = db_session.scalars(select(Batch).where(Batch.status == BatchStatus.RELEASED)).all()
    assert released
    for batch in released:
        [certificate] = batch_certificate.certificates_of(db_session, batch)
        assert certificate.reference == batch.batch_number and certificate.pdf.startswith(b"%PDF-")


def test_demo_master_record_is_effective_with_release_tests_and_trained_operators(run, db_session):
    assert run("demo").exit_code == 0
    db_session.expire_all()
    master = db_session.scalars(select(MasterBatchRecord).where(MasterBatchRecord.code == CART_HLX19.code)).one()
    (version,) = master.versions
    assert version.status == MbrStatus.EFFECTIVE
    assert 10 <= len(version.steps) <= 14
    assert {step.stage for step in version.steps} == set(TYPICAL_STAGES)
    assert any(step.hold_point for step in version.steps) and any(step.skippable for step in version.steps)
    assert any(step.second_person_verification for step in version.steps)
    assert any(step.theoretical_yield is not None for step in version.steps)
    assert [step.title for step in version.steps if step.qc_sampling] == ["Formulate the dose in CryoStor CS10"]
    assert [test.definition.code for test in version.release_tests] == [row[0] for row in TEST_DEFINITIONS]
    signers = {
        (signature.meaning, signature.printed_name)
        for signature, status in signatures.signatures_of(db_session, version)
        if status == signatures.SignatureStatus.VALID
    }
    assert signers == {(SignatureMeaning.AUTHORED, "Maja Larsen"), (SignatureMeaning.APPROVED, "Quinn Okafor")}
    for username in ("t.nguyen", "s.lind"):
        training.require_training(db_session, users.user_by_username(db_session, username), version.training_subject)


def test_demo_batches_are_released_awaiting_review_and_in_progress(run, db_session):
    assert run("demo").exit_code == 0
    assert run("demo").exit_code == 0  # a second run adds no batches
    db_session.expire_all()
    batches = {batch.status: batch for batch in db_session.scalars(select(Batch))}
    assert count(db_session, Batch) == 3
    assert set(batches) == {BatchStatus.RELEASED, BatchStatus.AWAITING_REVIEW, BatchStatus.IN_PROGRESS}
    assert {batch.subject.protocol.number for batch in batches.values()} == {"HLX-301"}

    released = release.review(db_session, batches[BatchStatus.RELEASED].id)
    assert released.blockers == [] and released.exception_count == 1  # the skipped step, listed for review
    assert [(signature.meaning, signature.printed_name, status) for signature, status in released.disposition] == [
        (SignatureMeaning.RELEASED, "Quinn Okafor", signatures.SignatureStatus.VALID)
    ]
    assert released.work_of(users.user_by_username(db_session, "q.okafor")) == []
    (skipped,) = released.skipped
    assert [signature.printed_name for signature in skipped.valid_signers(SignatureMeaning.SKIPPED)] == ["Thi Nguyen"]

    # QA sees what needs judgement: the open deviation an out-of-limit entry raised, beside a closed one.
    review = release.review(db_session, batches[BatchStatus.AWAITING_REVIEW].id)
    (open_deviation,) = review.open_deviations
    assert open_deviation.entry is not None and open_deviation.entry in review.out_of_limit
    assert open_deviation.category is None  # QA classifies it
    (closed,) = [deviation for deviation in review.deviations if deviation.status == DeviationStatus.CLOSED]
    assert closed.category == DeviationCategory.MINOR and deviations.missing_for_closure(closed) == []
    assert review.blockers == [f"Deviation {open_deviation.number} is open"]
    assert all(state.verified and state.result.conforms for state in review.release_tests)
    assert len(review.corrections) == 1

    in_progress = batches[BatchStatus.IN_PROGRESS]
    current = execution.current_step(in_progress)
    assert current is not None and current.status == StepStatus.IN_PROGRESS
    assert any(parameter.current_entry is not None for parameter in current.parameters)
    assert step_uses.missing_for_completion(current, step_uses.uses_of_steps(db_session, [current])[current.id])
    done = in_progress.steps[: current.position - 1]
    assert len(done) >= 2 and all(step.status == StepStatus.COMPLETED for step in done)
    records = release.review(db_session, in_progress.id).steps
    assert all(record.verification_gap is None for record in records[: current.position - 1])
    assert not release.qc_samples_taken(in_progress)


def test_demo_trail_names_the_demo_user_who_did_each_thing(run, db_session):
    assert run("demo").exit_code == 0
    db_session.expire_all()
    names = {user.id: user.full_name for user in db_session.scalars(select(User))}

    def events(**criteria):
        return list(audit_trail.matching_events(db_session, audit_trail.EventFilter(**criteria)))

    # Each record that names who made it is attributed to them in the trail, by id and printed name.
    for entity_type, maker_column in (
        ("batch_entry", "entered_by_id"),
        ("calibration_record", "recorded_by_id"),
        ("test_result", "recorded_by_id"),
        ("deviation", "raised_by_id"),
        ("material_lot", "received_by_id"),
        ("batch", "created_by_id"),
    ):
        creations = events(entity_type=entity_type, actions=("create",))
        assert creations, entity_type
        for event in creations:
            maker = json.loads(event.changes)[maker_column][1]
            assert (event.user_id, event.user_name) == (maker, names[maker]), (entity_type, event.entity_id)

    signed = {signature.id: signature for signature in db_session.scalars(select(ElectronicSignature))}
    applied = events(actions=("signature.applied",))
    assert len(applied) == len(signed)
    for event in applied:
        signature = signed[json.loads(event.changes)["signature_id"]]
        assert (event.user_id, event.user_name) == (signature.signer_id, signature.printed_name)

    # The audit viewer's filter by user finds a technician's work.
    technician = users.user_by_username(db_session, "t.nguyen")
    assert {("create", "batch_entry"), ("create", "calibration_record"), ("signature.applied", "batch_step")} <= {
        (event.action, event.entity_type) for event in events(user_id=technician.id)
    }

    # Whoever loaded the demo created only what precedes every demo user: the organizations and the accounts.
    by_command_line = [event for event in events() if event.user_id is None]
    assert {event.user_name for event in by_command_line} == {f"command line ({getpass.getuser()})"}
    assert {(event.action, event.entity_type) for event in by_command_line} == {
        ("create", "organization"),
        ("create", "user_account"),
        ("create", "role_change"),
    }
    accounts_created = events(entity_type="user_account", actions=("create",))
    assert len(accounts_created) == len(ACCOUNTS) and all(event.user_id is None for event in accounts_created)


def test_readme_lists_every_demo_account_with_its_password():
    if not README.exists():
        pytest.skip("README.md is not beside the tests (installed without the source tree)")
    text = README.read_text()
    for account in ACCOUNTS:
        assert f"`{account.username}`" in text and f"`{account.password}`" in text, account.username


def test_serve_starts_the_development_server_on_a_migrated_database(tmp_path):
    lims_command = Path(sys.executable).with_name("lims")
    if not lims_command.exists():
        pytest.skip(f"the console script is not installed beside {sys.executable}")
    environment = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path), "LIMS_SECRET_KEY": "serve-test"}
    environment.pop("LIMS_DATABASE_URL", None)
    port = _free_port()
    subprocess.run([lims_command, "db", "upgrade"], env=environment, check=True, capture_output=True)
    server = subprocess.Popen(
        [lims_command, "serve", "--port", str(port)],
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status = _wait_for(f"http://127.0.0.1:{port}/login")
        assert status == 200
    finally:
        server.terminate()
        output = server.communicate(timeout=10)[0]
    assert f"LIMS at http://127.0.0.1:{port}/" in output


def test_serve_refuses_an_outdated_schema(tmp_path):
    lims_command = Path(sys.executable).with_name("lims")
    if not lims_command.exists():
        pytest.skip(f"the console script is not installed beside {sys.executable}")
    environment = {**os.environ, "LIMS_INSTANCE_PATH": str(tmp_path), "LIMS_SECRET_KEY": "serve-test"}
    environment.pop("LIMS_DATABASE_URL", None)
    result = subprocess.run(
        [lims_command, "serve", "--port", str(_free_port())],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "lims db upgrade" in result.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_for(url: str, seconds: float = 30) -> int:
    deadline = time.monotonic() + seconds
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return response.status
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
