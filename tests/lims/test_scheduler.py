"""The compliance scheduler anchors and verifies the audit trail on its own, on the schedule configured."""

from __future__ import annotations

import json
import logging
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from lims import clock, scheduler, schema
from lims.app import create_app
from lims.areas import install
from lims.audit import anchors as audit_anchors
from lims.audit.models import AuditEvent
from lims.cli import cli
from lims.compliance.scheduling import LeasedScheduler
from lims.config import ConfigurationError, load_config
from lims.db import create_engine_for
from lims.identity.models import RoleName


def test_the_schedule_comes_from_the_configuration(monkeypatch, tmp_path):
    monkeypatch.setenv("LIMS_AUDIT_CHECKPOINT_MINUTES", "15")
    monkeypatch.setenv("LIMS_AUDIT_VERIFY_AT", "03:30")
    config = load_config(tmp_path, {"DISPLAY_TIMEZONE": "Europe/Berlin", "SECRET_KEY": "x"})
    install()
    checkpoint, verify, _idle_sessions, *_areas_jobs = scheduler.scheduled_checks(config)
    assert checkpoint.job_id == "audit-checkpoint" and checkpoint.trigger.interval == timedelta(minutes=15)
    fire = verify.trigger.get_next_fire_time(None, datetime(2030, 1, 10, 12, tzinfo=UTC))
    assert (fire.hour, fire.minute, str(fire.tzinfo)) == (3, 30, "Europe/Berlin")


@pytest.mark.parametrize(
    ("variable", "value"),
    [("LIMS_AUDIT_VERIFY_AT", "25:00"), ("LIMS_AUDIT_VERIFY_AT", "2am"), ("LIMS_AUDIT_CHECKPOINT_MINUTES", "0")],
)
def test_a_bad_schedule_is_refused_at_start(monkeypatch, tmp_path, variable, value):
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError, match=variable):
        load_config(tmp_path, {"SECRET_KEY": "x"})


def check(app, job_id):
    return next(item for item in scheduler.scheduled_checks(app.config) if item.job_id == job_id)


def test_the_checkpoint_check_anchors_the_current_head(app, db_session, create_user):
    create_user()
    db_session.commit()
    summary = scheduler.run_check(app, check(app, "audit-checkpoint"))
    head = db_session.scalar(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1))
    [anchored] = audit_anchors.read_checkpoints(app.config["AUDIT_CHECKPOINT_PATH"])
    assert (anchored.sequence, anchored.hash) == (head.sequence, head.hash)
    assert f"event {head.sequence}" in summary


def test_the_checkpoint_check_refuses_to_anchor_a_rewritten_chain_and_audits_it(app, db_session, create_user, caplog):
    create_user()
    db_session.commit()
    path = Path(app.config["AUDIT_CHECKPOINT_PATH"])
    forged = {"sequence": 1, "hash": "f" * 64, "written_at": datetime.now(UTC).isoformat()}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(forged) + "\n")
    with caplog.at_level(logging.ERROR, logger="lims.scheduler"):
        summary = scheduler.run_check(app, check(app, "audit-checkpoint"))
    assert "No checkpoint written: event 1" in summary and "not anchored" in caplog.text
    assert len(audit_anchors.read_checkpoints(path)) == 1
    refusal = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.anchor_refused"))
    assert refusal.user_name == "compliance scheduler" and "event 1" in refusal.changes


def test_the_verify_check_is_audited_as_the_scheduler_and_logs_a_break_as_an_error(
    app, db_session, create_user, caplog
):
    create_user()
    db_session.commit()
    scheduler.run_check(app, check(app, "audit-checkpoint"))
    assert "intact" in scheduler.run_check(app, check(app, "audit-verify"))
    event = db_session.scalar(select(AuditEvent).where(AuditEvent.action == "audit.verified"))
    assert event.user_name == "compliance scheduler" and event.user_id is None

    path = Path(app.config["AUDIT_CHECKPOINT_PATH"])
    forged = {"sequence": event.sequence, "hash": "0" * 64, "written_at": datetime.now(UTC).isoformat()}
    path.write_text(path.read_text() + json.dumps(forged) + "\n")
    with caplog.at_level(logging.ERROR, logger="lims.scheduler"):
        summary = scheduler.run_check(app, check(app, "audit-verify"))
    assert "checkpoint" in summary and "not intact" in caplog.text


def test_a_running_scheduler_anchors_the_chain_by_itself(fresh_database_url, tmp_path):
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    engine.dispose()
    app = create_app({"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"})
    assert sorted(check.job_id for check in scheduler.scheduled_checks(app.config)) == [
        "audit-checkpoint",
        "audit-verify",
        "backup",
        "idle-sessions",
        "notification-emails",
        "restore-verify",
        "webhook-deliveries",
    ]
    # The scheduler a process runs: each job is new to the database, so each runs at once, then on its schedule.
    running = LeasedScheduler(app, holder="only")
    running.start()
    try:
        deadline = time.monotonic() + 15
        while not audit_anchors.read_checkpoints(app.config["AUDIT_CHECKPOINT_PATH"]) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        running.stop()
        app.extensions["lims.db"].engine.dispose()
    assert audit_anchors.read_checkpoints(app.config["AUDIT_CHECKPOINT_PATH"])


def test_the_idle_sessions_check_ends_and_audits_sessions_whose_browser_never_came_back(
    app, client, db_session, signed_in
):
    user = signed_in(RoleName.TECHNICIAN)
    clock.freeze(clock.now() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    assert scheduler.run_check(app, check(app, "idle-sessions")) == "1 idle session ended"
    db_session.expire_all()
    logout = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "logout")).one()
    assert (logout.entity_id, logout.user_name) == (str(user.id), "compliance scheduler")
    assert json.loads(logout.changes)["cause"] == f"idle for more than {app.config['SESSION_IDLE_MINUTES']} minutes"
    assert client.get("/").headers["Location"].startswith("/login")
    assert scheduler.run_check(app, check(app, "idle-sessions")) == "0 idle sessions ended"


def test_the_cli_lists_the_checks(app):
    result = app.test_cli_runner().invoke(cli, ["scheduler", "jobs"])
    assert result.exit_code == 0
    assert "audit-checkpoint" in result.output and "interval[0:05:00]" in result.output
    assert "audit-verify" in result.output and "hour='2', minute='0'" in result.output
