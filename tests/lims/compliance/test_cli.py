"""`lims compliance list` shows the checks; `lims compliance run [CHECK]` runs them now with its progress, and an
unknown check exits non-zero naming the checks there are."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.cli import cli
from lims.compliance.models import CheckRun, RunOutcome


def test_list_shows_every_declared_check_with_its_schedule_and_parameters(app):
    result = app.test_cli_runner().invoke(cli, ["compliance", "list"])
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith("equipment.calibration-due "))
    assert "minor" in line and "every 1h" in line and "enabled" in line and "days=14" in line
    assert "audit.chain-integrity" in result.output and "cron 30 2 * * *" in result.output


def test_run_one_check_shows_its_progress_and_records_the_run(app, db_session):
    result = app.test_cli_runner().invoke(cli, ["compliance", "run", "identity.performer-and-releaser"])
    assert result.exit_code == 0, result.output
    assert "[1/1] identity.performer-and-releaser: 0 open, 0 opened, 0 resolved" in result.output
    db_session.expire_all()
    run = db_session.scalars(select(CheckRun)).one()
    assert (run.check_id, run.outcome) == ("identity.performer-and-releaser", RunOutcome.SUCCEEDED)


def test_an_unknown_check_exits_non_zero_and_runs_nothing(app, db_session):
    result = app.test_cli_runner().invoke(cli, ["compliance", "run", "equipment.calibration-overdue", "no.such"])
    assert result.exit_code == 1
    assert "No compliance check is called 'no.such'" in result.output and "equipment.calibration-due" in result.output
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CheckRun)) == 0


def test_run_without_a_check_runs_every_enabled_check(app, db_session):
    result = app.test_cli_runner().invoke(cli, ["compliance", "run"])
    assert result.exit_code == 0, result.output
    db_session.expire_all()
    ran = set(db_session.scalars(select(CheckRun.check_id)))
    assert {"equipment.calibration-overdue", "audit.chain-integrity", "signatures.invalidated-not-resigned"} <= ran
