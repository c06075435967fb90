"""`lims protocol`: trial protocols from the command line."""

from __future__ import annotations

from pathlib import Path

import click

from lims.commands import unit_of_work
from lims.identity.service import organizations as identity_organizations
from protocols.ctgov.parse import parse_study
from protocols.service import protocols as protocol_service


@click.group("protocol")
def protocol_group() -> None:
    """Trial protocols."""


@protocol_group.command("import-ctgov")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--sponsor", "sponsor_code", required=True, help="Code of the sponsoring client organization.")
@click.option("--number", help="Protocol number (default: the study's acronym, else its NCT id).")
@click.option("--therapeutic-area", help="Default: the study's first conditions.")
@click.option("--product", "investigational_product", help="Default: the study's interventions.")
def protocol_import_ctgov(
    path: Path, sponsor_code: str, number: str | None, therapeutic_area: str | None, investigational_product: str | None
) -> None:
    """Create a draft protocol from a ClinicalTrials.gov record (API v2 JSON or legacy XML)."""
    with unit_of_work() as session:
        study = parse_study(path.read_bytes(), filename=path.name)
        protocol = protocol_service.import_study(
            session,
            study,
            sponsor=identity_organizations.organization_by_code(session, sponsor_code),
            number=number,
            therapeutic_area=therapeutic_area,
            investigational_product=investigational_product,
        )
    click.echo(
        f"Imported {study.nct_id} as draft protocol {protocol.number} ({study.phase.value}, "
        f"{len(study.arms)} arms, enrolment {study.enrollment or 'not stated'})."
    )
    click.echo("Not mapped, for you to enter by hand where needed:")
    for item in study.unmapped:
        click.echo(f"  - {item}")
