"""`lims audit checkpoint` and `lims audit verify`."""

from __future__ import annotations

from sqlalchemy import select, text

from lims.audit import anchors as audit_anchors
from lims.audit.models import AuditEvent
from lims.cli import cli
from tests.lims.audit.tampering import alter_action, drop_append_only_triggers


def test_verify_passes_on_an_intact_chain_and_names_the_checkpoint(app, db_session, create_organization):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    checkpoint = runner.invoke(cli, ["audit", "checkpoint"])
    assert checkpoint.exit_code == 0 and "Checkpoint: event" in checkpoint.output
    assert app.config["AUDIT_CHECKPOINT_PATH"].exists()
    verified = runner.invoke(cli, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert "Audit trail intact" in verified.output and "matches the checkpoint" in verified.output
    assert "Verifying audit events" in verified.output


def test_verify_exits_non_zero_naming_the_first_broken_event(app, connection, db_session, create_organization):
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.commit()
    drop_append_only_triggers(connection)
    alter_action(connection, 2, "tampered")
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "Audit trail broken at event 2: hash mismatch" in result.output


def test_verify_from_the_command_line_is_audited_even_when_it_finds_a_break(
    app, connection, db_session, create_organization
):
    create_organization()
    db_session.commit()
    drop_append_only_triggers(connection)
    alter_action(connection, 1, "tampered")
    assert app.test_cli_runner().invoke(cli, ["audit", "verify"]).exit_code == 1
    db_session.rollback()
    verified = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verified"))
    assert verified.user_name.startswith("command line") and "broken at event 1" in verified.changes


def test_checkpoint_is_refused_with_a_non_zero_exit_when_the_chain_was_rewritten(
    app, connection, db_session, create_organization
):
    create_organization()
    db_session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["audit", "checkpoint"]).exit_code == 0
    drop_append_only_triggers(connection)
    connection.execute(text("UPDATE audit_event SET hash = :forged WHERE sequence = 1"), {"forged": "f" * 64})
    refused = runner.invoke(cli, ["audit", "checkpoint"])
    assert refused.exit_code == 1 and "No checkpoint written: event 1" in refused.output
    assert len(audit_anchors.read_checkpoints(app.config["AUDIT_CHECKPOINT_PATH"])) == 1
