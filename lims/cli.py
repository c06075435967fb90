"""The `lims` command line: database, first start, users, demo data, development server."""
from __future__ import annotations

import getpass
import os
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import click
from apscheduler.schedulers.blocking import BlockingScheduler
from flask import current_app
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple
from sqlalchemy.orm import Session

from lims import create_app, log_setup, scheduler, schema
from lims.audit import service as audit
from lims.db import get_session
from lims.errors import LimsError
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization, organization_by_code
from lims.identity.service.sign_in import unlock_user
from lims.identity.service.users import create_user, deactivate_user, user_by_username


@click.group(cls=FlaskGroup, create_app=create_app, load_dotenv=False)
def cli() -> None:
    """Run and administer the GMP LIMS."""


@contextmanager
def unit_of_work() -> Iterator[Session]:
    """Commit what the block does, or nothing if it fails; domain errors exit non-zero."""
    session = get_session()
    audit.act_as(session, audit.Actor(None, f"command line ({getpass.getuser()})"))
    try:
        yield session
        session.commit()
    except LimsError as error:
        session.rollback()
        raise click.ClickException(error.message) from error
    except BaseException:
        session.rollback()
        raise


def _password_from(variable: str, prompt: str) -> str:
    password = os.environ.get(variable)
    if password:
        return password
    if not sys.stdin.isatty():
        raise click.ClickException(f"No terminal to ask for the password: set {variable}.")
    return click.prompt(prompt, hide_input=True, confirmation_prompt=True)


@cli.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True, help="Alembic revision to migrate to.")
def db_upgrade(revision: str) -> None:
    """Migrate the database schema."""
    with unit_of_work() as session:
        schema.upgrade(session.connection(), revision)
        reached = schema.current_revision(session.connection())
    click.echo(f"Database schema at revision {reached}.")


@db.command("current")
def db_current() -> None:
    """Show the database's schema revision and the one this code needs."""
    current = schema.current_revision(get_session().connection())
    expected = schema.head_revision()
    click.echo(f"database: {current or 'empty'}\ncode needs: {expected}")
    if current != expected:
        raise click.ClickException("The schema is behind: run `lims db upgrade`.")


@cli.command()
@click.option("--facility-code", default="FACILITY", show_default=True, help="Short code of the facility.")
@click.option("--facility-name", required=True, help="Name of the facility, as printed on certificates.")
@click.option("--admin-username", default="admin", show_default=True)
@click.option("--admin-name", required=True, help="The first administrator's full name.")
@click.option("--admin-email", required=True)
def init(facility_code: str, facility_name: str, admin_username: str, admin_name: str, admin_email: str) -> None:
    """Migrate, register the facility and create the first administrator.

    The password comes from LIMS_ADMIN_PASSWORD or a prompt.
    """
    password = _password_from("LIMS_ADMIN_PASSWORD", "Password for the first administrator")
    with unit_of_work() as session:
        schema.upgrade(session.connection())
        facility = create_organization(
            session, code=facility_code, name=facility_name, kind=OrganizationKind.FACILITY
        )
        create_user(
            session, username=admin_username, full_name=admin_name, email=admin_email, organization=facility,
            roles={RoleName.ADMIN}, password=password, must_change_password=False, actor=None,
        )
    click.echo(f"Registered {facility_name} and administrator {admin_username}.")


@cli.group()
def user() -> None:
    """User accounts."""


@user.command("create")
@click.argument("username")
@click.option("--full-name", required=True, help="Printed on the user's signatures.")
@click.option("--email", required=True)
@click.option("--organization", "organization_code", required=True, help="Organization code.")
@click.option("--role", "roles", multiple=True, required=True,
              type=click.Choice([role.value for role in RoleName]), help="Repeat for several roles.")
def user_create(username: str, full_name: str, email: str, organization_code: str, roles: tuple[str, ...]) -> None:
    """Create a user; the password comes from LIMS_USER_PASSWORD or a prompt."""
    password = _password_from("LIMS_USER_PASSWORD", f"Password for {username}")
    with unit_of_work() as session:
        organization = organization_by_code(session, organization_code)
        create_user(
            session, username=username, full_name=full_name, email=email, organization=organization,
            roles={RoleName(role) for role in roles}, password=password, must_change_password=False, actor=None,
        )
    click.echo(f"Created {username.lower()}.")


@user.command("deactivate")
@click.argument("username")
@click.option("--reason", required=True, help="Why the account is deactivated (kept with the account).")
def user_deactivate(username: str, reason: str) -> None:
    """Deactivate a user (accounts are never deleted)."""
    with unit_of_work() as session:
        deactivate_user(session, user_by_username(session, username), reason=reason, actor=None)
    click.echo(f"Deactivated {username}.")


@user.command("unlock")
@click.argument("username")
def user_unlock(username: str) -> None:
    """Lift a lockout after failed sign-ins."""
    with unit_of_work() as session:
        unlock_user(session, user_by_username(session, username))
    click.echo(f"Unlocked {username}.")


@cli.group("audit")
def audit_group() -> None:
    """The audit trail's integrity."""


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Anchor the chain's head in the checkpoint file outside the database."""
    path = current_app.config["AUDIT_CHECKPOINT_PATH"]
    with unit_of_work() as session:
        checkpoint = audit.write_checkpoint(session.connection(), path)
    click.echo(f"Checkpoint: event {checkpoint.sequence} {checkpoint.hash} written to {path}.")


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute the whole chain; exit 1 naming the first broken event."""
    path = current_app.config["AUDIT_CHECKPOINT_PATH"]
    with unit_of_work() as session:
        connection = session.connection()
        checkpoints = audit.read_checkpoints(path)
        with click.progressbar(length=audit.count_events(connection), label="Verifying audit events",
                               file=sys.stderr) as bar:
            verification = audit.verify_chain(connection, checkpoints=checkpoints, progress=bar.update)
        audit.record(session, "audit.verified", details={"result": verification.summary()})
    if not verification.intact:
        raise click.ClickException(verification.summary())
    click.echo(verification.summary())


@cli.group("scheduler")
def scheduler_group() -> None:
    """The compliance scheduler: recurring integrity checks."""


@scheduler_group.command("jobs")
def scheduler_jobs() -> None:
    """List the checks the scheduler runs and when."""
    for check in scheduler.scheduled_checks(current_app.config):
        click.echo(f"{check.job_id:<18} {check.title} ({check.trigger})")


@scheduler_group.command("run")
@click.option("--now", "run_now", is_flag=True, help="Run every check once at start, then keep the schedule.")
def scheduler_run(run_now: bool) -> None:
    """Run the checks on their schedule until stopped (one such process per installation)."""
    log_setup.log_to_stderr()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # jobs run outside this context
    running = scheduler.build_scheduler(app, BlockingScheduler())
    if run_now:
        for job in running.get_jobs():
            job.modify(next_run_time=datetime.now(timezone.utc))
    for check in scheduler.scheduled_checks(app.config):
        click.echo(f"Scheduled: {check.title} ({check.trigger}).")
    # A service manager stops the process with SIGTERM: let a running check finish first.
    signal.signal(signal.SIGTERM, lambda *_: running.shutdown(wait=False))
    try:
        running.start()
    except KeyboardInterrupt:
        running.shutdown(wait=False)


@cli.group("protocol")
def protocol_group() -> None:
    """Trial protocols."""


@protocol_group.command("import-ctgov")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sponsor", "sponsor_code", required=True, help="Code of the sponsoring client organization.")
@click.option("--number", help="Protocol number (default: the study's acronym, else its NCT id).")
@click.option("--therapeutic-area", help="Default: the study's first conditions.")
@click.option("--product", "investigational_product", help="Default: the study's interventions.")
def protocol_import_ctgov(path: Path, sponsor_code: str, number: str | None, therapeutic_area: str | None,
                          investigational_product: str | None) -> None:
    """Create a draft protocol from a ClinicalTrials.gov record (API v2 JSON or legacy XML)."""
    from protocols import service as protocols
    from protocols.ctgov.parse import parse_study

    with unit_of_work() as session:
        study = parse_study(path.read_bytes(), filename=path.name)
        protocol = protocols.import_study(
            session, study, sponsor=organization_by_code(session, sponsor_code), number=number,
            therapeutic_area=therapeutic_area, investigational_product=investigational_product)
    click.echo(f"Imported {study.nct_id} as draft protocol {protocol.number} ({study.phase.value}, "
               f"{len(study.arms)} arms, enrolment {study.enrollment or 'not stated'}).")
    click.echo("Not mapped, for you to enter by hand where needed:")
    for item in study.unmapped:
        click.echo(f"  - {item}")


@cli.command()
def demo() -> None:
    """Migrate and load the demo data set (safe to run again)."""
    from lims.demo import load_demo

    with unit_of_work() as session:
        schema.upgrade(session.connection())
        accounts = load_demo(session)
    click.echo("Demo data loaded. Sign in with:")
    for account in accounts:
        click.echo(f"  {account.role.value:<11} {account.username:<10} {account.password:<26} {account.organization_code}")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the development server over plain HTTP (use gunicorn in production)."""
    # Ends its transaction before serving: an open one would hold SQLite's write lock.
    with unit_of_work() as session:
        schema.assert_current(session.connection())
    log_setup.log_to_stderr()
    app = create_app({**_instance_override(), "SECURE_COOKIES": False})
    click.echo(f"LIMS at http://{host}:{port}/ (development server; stop with Ctrl+C)")
    # app.run() refuses to start inside a `flask` CLI command; serve directly.
    run_simple(host, port, app, threaded=True)


def _instance_override() -> dict[str, str]:
    return {"INSTANCE_PATH": current_app.instance_path}
