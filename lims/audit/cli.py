"""`lims audit`: anchoring and verifying the audit trail's hash chain from the command line."""

from __future__ import annotations

import sys

import click
from flask import current_app

from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.commands import unit_of_work


@click.group("audit")
def audit_group() -> None:
    """The audit trail's integrity."""


@audit_group.command("checkpoint")
def audit_checkpoint() -> None:
    """Anchor the chain's head in the checkpoint file outside the database; refused while the chain is broken."""
    path = current_app.config["AUDIT_CHECKPOINT_PATH"]
    with unit_of_work() as session:
        checkpoint = audit_anchors.write_checkpoint(session.connection(), path)
    click.echo(f"Checkpoint: event {checkpoint.sequence} {checkpoint.hash} written to {path}.")


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute the whole chain and check every signature against it; exit 1 naming what disagrees."""
    path = current_app.config["AUDIT_CHECKPOINT_PATH"]
    with unit_of_work() as session:
        connection = session.connection()
        checkpoints = audit_anchors.read_checkpoints(path)
        with click.progressbar(
            length=audit_verification.count_events(connection), label="Verifying audit events", file=sys.stderr
        ) as bar:
            verification = audit_verification.verify_trail(session, checkpoints=checkpoints, progress=bar.update)
        audit_chain.record(session, "audit.verified", details={"result": verification.summary()})
    if not verification.intact:
        raise click.ClickException(verification.summary())
    click.echo(verification.summary())
