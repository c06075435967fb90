"""Importing ClinicalTrials.gov records into draft protocols: service, command line and upload page."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from sqlalchemy import select

from lims.cli import cli
from lims.identity.models import RoleName
from protocols.ctgov.parse import parse_study
from protocols.models import Protocol, VersionStatus
from protocols.service import protocols as protocol_service
from tests.helpers import csrf_token_from

RECORDS = Path(__file__).resolve().parents[3] / "shared" / "reference-data" / "clinicaltrials-gov"
needs_records = pytest.mark.skipif(
    not RECORDS.exists(), reason=f"ClinicalTrials.gov reference records not found at {RECORDS}"
)


@needs_records
def test_import_creates_a_draft_protocol_with_arms_and_interventions(db_session, create_organization):
    sponsor = create_organization(code="UCB", name="UCB Pharma")
    study = parse_study((RECORDS / "NCT02552212.api-v2.json").read_bytes())
    protocol = protocol_service.import_study(db_session, study, sponsor=sponsor)
    version = protocol.versions[0]
    assert (protocol.nct_id, protocol.phase.value, version.status) == ("NCT02552212", "phase 3", VersionStatus.DRAFT)
    assert protocol.target_enrolment == study.enrollment
    assert [arm.name for arm in version.arms] == [arm.label for arm in study.arms]
    assert all("Interventions:" in (arm.description or "") for arm in version.arms if study.arms)
    assert "imported from ClinicalTrials.gov API v2 JSON NCT02552212" in version.amendment_summary


@needs_records
@pytest.mark.parametrize("record", ["NCT02552212.api-v2.json", "NCT01298141.legacy.xml", "NCT02654730.legacy.xml"])
def test_command_line_import_lists_what_was_not_mapped(app, db_session, create_organization, record):
    create_organization(code="SPONSOR", name="Study sponsor")
    db_session.commit()
    result = app.test_cli_runner().invoke(
        cli, ["protocol", "import-ctgov", str(RECORDS / record), "--sponsor", "SPONSOR"]
    )
    assert result.exit_code == 0, result.output
    study = parse_study((RECORDS / record).read_bytes())
    assert f"Imported {study.nct_id} as draft protocol" in result.output
    for item in study.unmapped:
        assert f"  - {item}" in result.output


@needs_records
def test_command_line_refuses_an_expanded_access_record_and_creates_nothing(app, db_session, create_organization):
    create_organization(code="SPONSOR", name="Study sponsor")
    db_session.commit()
    result = app.test_cli_runner().invoke(
        cli, ["protocol", "import-ctgov", str(RECORDS / "NCT01220531.legacy.xml"), "--sponsor", "SPONSOR"]
    )
    assert result.exit_code == 1 and "after phase II" in result.output
    db_session.expire_all()
    assert db_session.scalars(select(Protocol)).all() == []


def upload(client, data: bytes, filename: str, **fields):
    page = client.get("/protocols/import")
    return client.post(
        "/protocols/import",
        content_type="multipart/form-data",
        data={"csrf_token": csrf_token_from(page.text), "file": (io.BytesIO(data), filename), **fields},
    )


@needs_records
def test_upload_form_imports_and_shows_the_unmapped_parts(client, create_organization, db_session, signed_in):
    sponsor = create_organization(code="UCB", name="UCB Pharma")
    db_session.commit()
    signed_in(RoleName.MANAGER)
    response = upload(
        client,
        (RECORDS / "NCT02552212.api-v2.json").read_bytes(),
        "NCT02552212.json",
        sponsor_id=str(sponsor.id),
        number="AS0006",
    )
    assert response.status_code == 201
    assert "Imported NCT02552212 as AS0006" in response.text and "results section" in response.text


def test_malformed_uploads_are_refused_and_change_nothing(client, create_organization, db_session, signed_in):
    sponsor = create_organization()
    db_session.commit()
    signed_in(RoleName.MANAGER)
    for data, filename in (
        (b"%PDF-1.7", "record.pdf"),
        (b'{"protocolSection": ', "record.json"),
        (b"<html></html>", "record.xml"),
    ):
        response = upload(client, data, filename, sponsor_id=str(sponsor.id))
        assert response.status_code == 422 and 'id="file-error"' in response.text
    missing = upload(client, b"", "", sponsor_id=str(sponsor.id))
    assert missing.status_code == 422
    db_session.expire_all()
    assert db_session.scalars(select(Protocol)).all() == []
