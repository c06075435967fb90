"""`lims backup` and `lims restore --verify`: a backup with its manifest, and its proof by restore."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from lims.audit import anchors as audit_anchors
from lims.audit import context as audit_context
from lims.backups.service import backups, restore
from lims.commands import password_from, unit_of_work
from lims.errors import LimsError
from lims.identity.service.users import user_by_username

#: the password of the user named by --as, for scripts; otherwise it is asked at the terminal
AS_PASSWORD_VARIABLE = "LIMS_AS_PASSWORD"


@contextmanager
def _bar(label: str, total: int) -> Iterator[Callable[[int], None]]:
    with click.progressbar(length=max(total, 1), label=label, file=sys.stderr) as bar:
        yield bar.update


@click.command("backup")
@with_appcontext
@click.option(
    "--to",
    "folder",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the backup to (default LIMS_BACKUP_DIR).",
)
def backup_command(folder: Path | None) -> None:
    """Back up the database with its manifest (SHA-256, audit chain head, record counts), and record it."""
    folder = folder or current_app.config["BACKUP_DIR"]
    try:
        path, manifest = backups.take_backup(current_app.config["DATABASE_URL"], folder, progress=_bar)
    except LimsError as error:
        raise click.ClickException(error.message) from error
    with unit_of_work() as session:
        backups.record_backup(session, path, manifest)
    click.echo(
        f"Backup {path} written: {manifest.size_bytes:,} bytes, SHA-256 {manifest.sha256}, audit chain head event "
        f"{manifest.head_sequence}, {manifest.records:,} records in {len(manifest.record_counts)} tables. "
        f"Manifest beside it. Prove it with `lims restore --verify {path}`."
    )


@click.command("restore")
@with_appcontext
@click.option(
    "--verify",
    "backup",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The backup file to restore into a scratch database and verify there (the live database is not touched).",
)
@click.option(
    "--as",
    "as_username",
    metavar="USERNAME",
    help=f"QA, a manager or an administrator who signs the verification; password from {AS_PASSWORD_VARIABLE} "
    "or a prompt. Without it the verification is recorded unsigned, to be signed on the Backups page.",
)
def restore_command(backup: Path, as_username: str | None) -> None:
    """Prove a backup: restore it into a scratch database, verify its audit chain, signatures, record counts and
    chain head against its manifest, and record the outcome in the live LIMS; exit 1 unless it passed."""
    origin = f"command line ({getpass.getuser()})"[:64]
    signer, password = None, None
    if as_username:
        password = password_from(AS_PASSWORD_VARIABLE, f"Password of {as_username}", new=False)
        # Proven before the restore, which takes a while: a wrong password ends it at once (and counts).
        with unit_of_work() as session:
            signer = user_by_username(session, as_username)
            restore.check_may_sign(session, signer, password=password, client_address=origin)
    checkpoints = audit_anchors.read_checkpoints(current_app.config["AUDIT_CHECKPOINT_PATH"])
    try:
        result = restore.verify_backup(
            backup, live_url=current_app.config["DATABASE_URL"], checkpoints=checkpoints, progress=_bar
        )
    except LimsError as error:
        raise click.ClickException(error.message) from error
    with unit_of_work() as session:
        if as_username:
            signer = user_by_username(session, as_username)
            audit_context.act_as(session, audit_context.Actor(signer.id, signer.full_name, None, origin))
        verification = restore.record_verification(
            session, result, user=signer, password=password, client_address=origin
        )
        outcome = verification.outcome.value
    for finding in result.findings:
        click.echo(finding)
    if not result.passed:
        raise click.ClickException(f"Restore verification {outcome}: the backup is not proven.")
    signed = f", signed by {signer.full_name}" if signer is not None else ", unsigned (sign it on the Backups page)"
    click.echo(f"Restore verification {outcome}{signed}.")
