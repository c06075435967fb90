"""The `lims` command line: database, first start, scheduler, demo data, development server.

The areas' own command groups (`lims user`, `lims protocol`, ...) come from the registry, through the app.
"""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Callable

import click
from flask import current_app
from flask.cli import FlaskGroup
from werkzeug.serving import run_simple

from lims import document_signing, log_setup, registry, schema
from lims.app import create_app, start_embedded_scheduler
from lims.backups import demo as backups_demo
from lims.backups.cli import backup_command, restore_command
from lims.backups.models import RestoreOutcome
from lims.commands import password_from, unit_of_work
from lims.compliance import scheduling
from lims.db import get_session
from lims.errors import LimsError
from lims.identity.demo_accounts import ACCOUNTS
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization
from lims.identity.service.users import create_user


@click.group(cls=FlaskGroup, create_app=create_app, load_dotenv=False)
def cli() -> None:
    """Run and administer the GMP LIMS."""


cli.add_command(backup_command)
cli.add_command(restore_command)


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
    password = password_from("LIMS_ADMIN_PASSWORD", "Password for the first administrator")
    with unit_of_work() as session:
        schema.upgrade(session.connection())
        facility = create_organization(session, code=facility_code, name=facility_name, kind=OrganizationKind.FACILITY)
        create_user(
            session,
            username=admin_username,
            full_name=admin_name,
            email=admin_email,
            organization=facility,
            roles={RoleName.ADMIN},
            password=password,
            must_change_password=False,
            actor=None,
            # No administrator exists yet to name with --as: the first is attributed to the command line.
            reason="First administrator, created by lims init",
            minimum_score=current_app.config["PASSWORD_MIN_SCORE"],
        )
    click.echo(f"Registered {facility_name} and administrator {admin_username}.")
    signing = document_signing.SigningSettings.from_config(current_app.config)
    if signing.configured:
        try:
            signer = document_signing.load_signer(signing)
        except LimsError as error:
            raise click.ClickException(
                f"Facility registered, but documents cannot be signed: {error.message}"
            ) from error
        click.echo(f"Documents are signed with the facility's own key {signing.key_path} ({signer.subject}).")
    elif document_signing.create_self_signed(signing, facility_name=facility_name, facility_code=facility_code):
        click.echo(
            f"Created a self-signed document-signing key and certificate in {signing.key_path}; "
            "set LIMS_SIGNING_KEY to use a CA-issued one."
        )


@cli.group("scheduler")
def scheduler_group() -> None:
    """The compliance scheduler: recurring integrity checks."""


@scheduler_group.command("jobs")
def scheduler_jobs() -> None:
    """List the jobs the scheduler runs and when: the integrity jobs, the areas' jobs and the compliance checks."""
    for job in scheduling.declared_jobs(current_app._get_current_object()):  # type: ignore[attr-defined]
        click.echo(f"{job.job_id:<18} {job.title} ({job.schedule})")


@scheduler_group.command("run")
@click.option("--now", "run_now", is_flag=True, help="Run every job once at start, then keep the schedule.")
def scheduler_run(run_now: bool) -> None:
    """Run the jobs on their schedule until stopped. Start as many as you like: one per database runs the jobs
    (the holder of the lease), the others take over if it stops."""
    log_setup.log_to_stderr()
    app = current_app._get_current_object()  # type: ignore[attr-defined]  # jobs run outside this context
    running = scheduling.LeasedScheduler(app, run_now=run_now)
    for job in scheduling.declared_jobs(app):
        click.echo(f"Scheduled: {job.title} ({job.schedule}).")
    stopping = threading.Event()
    # A service manager stops the process with SIGTERM: let a running job finish first.
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    running.start()
    click.echo(f"Running the jobs while this process ({running.holder}) holds the scheduler's lease.")
    with contextlib.suppress(KeyboardInterrupt):
        stopping.wait()
    running.stop()


@cli.command()
def demo() -> None:
    """Migrate and load the demo data set (safe to run again)."""
    loaders = registry.current().demo_loaders
    with unit_of_work() as session:
        click.echo("Bringing the database schema up to date…")
        schema.upgrade(session.connection())
        for number, load in enumerate(loaders, start=1):
            click.echo(f"[{number}/{len(loaders)}] {_area_of(load)} demo data…")
            load(session)
    # Once the demo data is committed: a backup holds only what is.
    with unit_of_work() as session:
        click.echo("Backing up the demo data and proving the backup by a restore…")
        proven = backups_demo.prove_demo_backup(session, current_app.config)
        failed = proven.detail if proven is not None and proven.outcome != RestoreOutcome.PASSED else None
        proven_text = "A restore has proven a backup already." if proven is None else f"{proven.file_name} proven."
    if failed is not None:
        raise click.ClickException(f"The demo's backup was not proven by its restore: {failed}")
    click.echo(proven_text)
    click.echo("Demo data loaded. Sign in with:")
    for account in ACCOUNTS:
        click.echo(
            f"  {account.role.value:<11} {account.username:<10} {account.password:<26} {account.organization_code}"
        )


def _area_of(loader: Callable[..., object]) -> str:
    """The area a demo loader belongs to, as its package names it ("equipment" for lims.equipment.demo)."""
    return loader.__module__.removesuffix(".demo").rpartition(".")[2].replace("_", " ")


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
def serve(host: str, port: int) -> None:
    """Run the development server over plain HTTP (use gunicorn in production)."""
    # Ends its transaction before serving: an open one would hold SQLite's write lock.
    with unit_of_work() as session:
        try:
            schema.assert_current(session.connection())
        except schema.SchemaBehind as error:
            raise click.ClickException(error.message) from error
    log_setup.log_to_stderr()
    # The development server runs the compliance scheduler itself unless LIMS_SCHEDULER says another process does.
    mode = os.environ.get("LIMS_SCHEDULER") or "embedded"
    app = create_app({**_instance_override(), "SECURE_COOKIES": False, "SCHEDULER": mode})
    if mode == "embedded":
        app.extensions["lims.scheduler"] = start_embedded_scheduler(app)
        click.echo("Compliance scheduler running in this process (set LIMS_SCHEDULER=external to run it apart).")
    click.echo(f"LIMS at http://{host}:{port}/ (development server; stop with Ctrl+C)")
    # app.run() refuses to start inside a `flask` CLI command; serve directly.
    run_simple(host, port, app, threaded=True)


def _instance_override() -> dict[str, str]:
    return {"INSTANCE_PATH": current_app.instance_path}
