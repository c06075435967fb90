"""`lims certificate`: checking a copy of an issued certificate from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from lims.certificates.service import verification
from lims.commands import unit_of_work
from lims.document_signing import STATE_TEXT


@click.group("certificate")
def certificate_group() -> None:
    """Issued certificates."""


@certificate_group.command("verify")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def certificate_verify(file: Path) -> None:
    """Recompute FILE's SHA-256 and check its signature; say valid, superseded, revoked, altered or unknown
    (exit 1 for anything but valid)."""
    with unit_of_work() as session:
        checked = verification.verify_file(session, file.read_bytes())
    named = f"{checked.number} version {checked.version}: " if checked.version else ""
    lines = [
        f"{file}: {checked.outcome.value}",
        f"{named}{checked.message}",
        STATE_TEXT[checked.signature],
        f"SHA-256 {checked.file_sha256}",
    ]
    if checked.outcome != verification.Outcome.VALID:
        raise click.ClickException("\n".join(lines))
    click.echo("\n".join(lines))
