"""`lims compliance`: the checks, and running them now (for sites that drive them from cron)."""

from __future__ import annotations

import getpass

import click

from lims.audit import context as audit_context
from lims.compliance import runner
from lims.compliance.models import CheckRun, RunOutcome
from lims.compliance.service import settings
from lims.compliance.service.settings import CheckInForce
from lims.db import get_session
from lims.errors import LimsError


@click.group("compliance")
def compliance_group() -> None:
    """Compliance checks and their findings."""


@compliance_group.command("list")
def compliance_list() -> None:
    """List the checks: id, severity, schedule, whether enabled, parameters, title."""
    session = get_session()
    for item in settings.checks_in_force(session):
        check = item.check
        parameters = ", ".join(f"{name}={value}" for name, value in item.parameters.items()) or "-"
        state = "enabled" if item.enabled else "disabled"
        click.echo(
            f"{check.check_id:<44} {check.severity:<8} {check.schedule:<16} {state:<8} {parameters:<14} {check.title}"
        )
    session.rollback()


@compliance_group.command("run")
@click.argument("check_ids", metavar="[CHECK]...", nargs=-1)
def compliance_run(check_ids: tuple[str, ...]) -> None:
    """Run every enabled check now (or the CHECKs named), each in its own transaction; exit 1 if one failed."""
    session = get_session()
    audit_context.act_as(session, audit_context.Actor(None, f"command line ({getpass.getuser()})"))
    total = len(check_ids) or len(settings.checks_in_force(session))
    position = 0

    def report(item: CheckInForce, run: CheckRun | None) -> None:
        nonlocal position
        position += 1
        prefix = f"[{position}/{total}] {item.check.check_id}:"
        if run is None:
            click.echo(f"{prefix} disabled, not run")
        elif run.outcome == RunOutcome.FAILED:
            click.echo(f"{prefix} FAILED: {run.error}", err=True)
        else:
            seconds = (run.finished_at - run.started_at).total_seconds()
            click.echo(
                f"{prefix} {run.findings_open} open, {run.findings_opened} opened, "
                f"{run.findings_resolved} resolved ({seconds:.2f} s)"
            )

    try:
        runs = runner.run_checks(session, check_ids or None, progress=report)
    except LimsError as error:
        session.rollback()
        raise click.ClickException(error.message) from error
    failed = [run.check_id for run in runs if run.outcome == RunOutcome.FAILED]
    if failed:
        raise click.ClickException(f"{len(failed)} check{'s' if len(failed) > 1 else ''} failed: {', '.join(failed)}.")
