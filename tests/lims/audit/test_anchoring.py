"""The head is anchored at every commit that signs or exports, and the scheduler's checkpoints come every few
minutes: the events a rewrite or a deletion could change unseen are few, counted, and never anchored while broken."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from lims import clock
from lims.audit import anchors as audit_anchors
from lims.audit.models import AuditEvent
from lims.cli import cli
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures.models import ElectronicSignature
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD, login, submit
from tests.lims.audit.helpers import MOMENT
from tests.lims.audit.tampering import alter_action, drop_append_only_triggers, relink_whole_chain


@pytest.fixture
def lot_awaiting_release(db_session, create_user):
    clock.freeze(MOMENT)
    medium = materials.create_material(
        db_session,
        part_number="med-001",
        name="Medium",
        specification="Sterile",
        storage_condition="2–8 °C",
        unit="mL",
    )
    return materials.receive_lot(
        db_session,
        medium,
        supplier="Miltenyi Biotec",
        supplier_lot="7231104",
        received_on=MOMENT.date() - timedelta(days=1),
        expires_on=MOMENT.date() + timedelta(days=180),
        quantity=parse_measurement("1 L"),
        user=create_user(),
    )


@pytest.fixture
def release_signed(app, client, db_session, create_user, lot_awaiting_release):
    """QA releases the lot through the signing page, after a scheduled checkpoint anchored everything before it;
    the ``signature.applied`` event's sequence."""
    qa = create_user(RoleName.QA)
    db_session.commit()
    assert app.test_cli_runner().invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    login(client, qa)
    signed = submit(client, f"/sign/material_lot/{lot_awaiting_release.id}/released", {"password": PASSWORD})
    assert signed.status_code == 303
    db_session.expire_all()
    return db_session.scalar(select(AuditEvent.sequence).where(AuditEvent.action == "signature.applied"))


def head(db_session) -> tuple[int, str]:
    latest = db_session.scalar(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1))
    return latest.sequence, latest.hash


def latest_anchored(app) -> tuple[int, str]:
    latest = audit_anchors.latest_checkpoint(app.config["AUDIT_CHECKPOINT_PATH"])
    return latest.sequence, latest.hash


def test_a_signature_anchors_the_head_its_commit_leaves(app, db_session, release_signed):
    assert latest_anchored(app) == head(db_session)
    assert head(db_session)[0] >= release_signed


def test_a_rewritten_tail_after_an_anchored_signature_is_found(app, connection, db_session, release_signed):
    drop_append_only_triggers(connection)
    relink_whole_chain(connection, from_sequence=release_signed)
    verified = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 1
    assert "Audit trail broken at event" in verified.output and "head disagrees with checkpoint" in verified.output


def test_a_deleted_tail_after_an_anchored_signature_is_found(app, connection, db_session, release_signed):
    anchored = latest_anchored(app)[0]
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence >= :first"), {"first": release_signed})
    verified = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 1
    assert (
        f"Audit trail broken at event {release_signed}: head disagrees with checkpoint "
        f"(the chain ends at event {release_signed - 1} but the checkpoint written"
    ) in verified.output
    assert f"recorded event {anchored})" in verified.output


def test_verification_counts_the_events_not_yet_anchored(app, client, db_session, create_organization, release_signed):
    create_organization()
    create_organization()
    db_session.commit()
    verified = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0 and "; 2 events since not yet anchored." in verified.output
    page = submit(client, "/audit/integrity", {}).text
    assert "Not yet anchored" in page
    assert "3 events after the latest checkpoint" in page, "the verification the CLI recorded is one more"


def test_an_anchored_head_is_said_so(app, db_session, create_organization):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    verified = runner.invoke(cli, ["audit", "verify"])
    assert "; every event is anchored." in verified.output


def test_an_export_anchors_the_head_its_commit_leaves(app, client, db_session, signed_in):
    signed_in(RoleName.QA)
    exported = client.get("/audit/export.csv")
    assert exported.status_code == 200 and exported.get_data(as_text=True).startswith("sequence,")
    db_session.expire_all()
    export_event = db_session.scalar(select(AuditEvent.sequence).where(AuditEvent.action == "audit.exported"))
    assert latest_anchored(app) == head(db_session) and head(db_session)[0] == export_event


def test_a_checkpoint_is_refused_while_an_event_since_the_last_one_is_altered(
    app, connection, db_session, create_organization
):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    anchored = latest_anchored(app)[0]
    for _ in range(3):
        create_organization()
    db_session.commit()
    drop_append_only_triggers(connection)
    alter_action(connection, anchored + 2, "tampered")
    refused = runner.invoke(cli, ["audit", "checkpoint"])
    assert refused.exit_code == 1
    assert (
        f"No checkpoint written: event {anchored + 2} does not match its hash: it was altered after it was written. "
        "Run `lims audit verify`" in refused.output
    )
    assert latest_anchored(app)[0] == anchored, "a refused checkpoint writes nothing"


def test_a_checkpoint_is_refused_while_an_event_since_the_last_one_is_missing(
    app, connection, db_session, create_organization
):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    anchored = latest_anchored(app)[0]
    for _ in range(3):
        create_organization()
    db_session.commit()
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence = :gone"), {"gone": anchored + 1})
    refused = runner.invoke(cli, ["audit", "checkpoint"])
    assert refused.exit_code == 1
    assert f"No checkpoint written: events {anchored + 1} to {anchored + 1} are missing." in refused.output


def test_a_signature_stands_when_its_head_cannot_be_anchored(
    app, client, connection, db_session, create_user, lot_awaiting_release, caplog
):
    qa = create_user(RoleName.QA)
    db_session.commit()
    drop_append_only_triggers(connection)
    alter_action(connection, 1, "tampered")
    login(client, qa)
    with caplog.at_level(logging.ERROR, logger="lims.audit"):
        signed = submit(client, f"/sign/material_lot/{lot_awaiting_release.id}/released", {"password": PASSWORD})
    assert signed.status_code == 303
    assert db_session.scalar(select(func.count(ElectronicSignature.id))) == 1
    assert "The audit chain was not anchored after a signature or an export" in caplog.text
    assert "event 1 does not match its hash" in caplog.text
    assert audit_anchors.latest_checkpoint(app.config["AUDIT_CHECKPOINT_PATH"]) is None


def test_a_head_already_anchored_is_not_written_again(app, db_session, create_organization):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    for _ in range(2):
        assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    assert len(audit_anchors.read_checkpoints(app.config["AUDIT_CHECKPOINT_PATH"])) == 1
