"""The starting material's identity follows the lab's identifier rule and never names the person: it heads
every page of the batch record."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from batch_records.errors import StartingMaterialIdentityRefused, StartingMaterialUsed
from batch_records.models import Batch
from batch_records.service import batches
from lims.identifiers import IdentifierRule
from tests.helpers import login, submit

LAB_PATTERN = r"APH-\d{6}"


def start(db_session, line, identity: str, **rule):
    return batches.start_batch(
        db_session, line.version, subject=line.subject, starting_material_identity=identity, user=line.operator, **rule
    )


@pytest.mark.parametrize(
    ("identity", "message"),
    [
        ("John Smith 1984-03-12", "'JOHN' looks like a name; the starting material identity must not identify"),
        ("W1234 26 123456 A", "The check character of W1234 26 123456 is 7, not A"),
        ("W1234-26-123456", "Enter the ISBT 128 donation identification number"),
    ],
    ids=["a person", "a mistyped check character", "no check character"],
)
def test_a_starting_material_that_is_not_a_din_is_refused(db_session, line, identity, message):
    with pytest.raises(StartingMaterialIdentityRefused, match=message) as refused:
        start(db_session, line, identity)
    assert refused.value.field == "starting_material_identity"
    assert db_session.scalar(select(func.count(Batch.id))) == 0


def test_a_din_is_kept_in_one_form_so_a_scan_of_a_used_bag_is_refused(db_session, line):
    batch = start(db_session, line, "w1234 26 123456 00 7")
    assert batch.starting_material_identity == "W1234 26 123456 7"
    with pytest.raises(StartingMaterialUsed, match="already in batch"):
        start(db_session, line, "=W12342612345600")


def test_the_lab_s_own_pattern_is_the_rule_when_configured(db_session, line):
    own = IdentifierRule(LAB_PATTERN)
    with pytest.raises(StartingMaterialIdentityRefused, match="is not an identifier of this lab's pattern"):
        start(db_session, line, "W1234 26 123456 7", identity_rule=own)
    assert start(db_session, line, "aph-000123", identity_rule=own).starting_material_identity == "APH-000123"


def test_the_start_form_refuses_a_person_beside_the_field_and_starts_from_a_din(app, db_session, line):
    db_session.commit()
    client = app.test_client()
    assert login(client, line.operator).status_code == 302
    form = {"mbr_version_id": line.version.id, "subject_id": line.subject.id}
    assert "ISBT 128 donation identification number with its check character" in client.get("/batches/new").text
    refused = submit(client, "/batches/new", {**form, "starting_material_identity": "John Smith 1984-03-12"})
    assert refused.status_code == 422
    assert 'id="starting_material_identity-error"' in refused.text
    assert "&#39;JOHN&#39; looks like a name" in refused.text
    mistyped = submit(client, "/batches/new", {**form, "starting_material_identity": "W1234 26 123456 A"})
    assert mistyped.status_code == 422 and "is 7, not A" in mistyped.text
    assert db_session.scalar(select(func.count(Batch.id))) == 0
    started = submit(client, "/batches/new", {**form, "starting_material_identity": "W1234 26 123456 7"})
    assert started.status_code == 303


def test_the_start_form_follows_the_configured_pattern(app, db_session, line):
    app.config["STARTING_MATERIAL_ID_PATTERN"] = LAB_PATTERN
    db_session.commit()
    client = app.test_client()
    assert login(client, line.operator).status_code == 302
    form = {"mbr_version_id": line.version.id, "subject_id": line.subject.id}
    assert "an identifier of this lab&#39;s pattern APH-\\d{6}" in client.get("/batches/new").text
    refused = submit(client, "/batches/new", {**form, "starting_material_identity": "W1234 26 123456 7"})
    assert refused.status_code == 422 and "is not an identifier of this lab&#39;s pattern" in refused.text
    started = submit(client, "/batches/new", {**form, "starting_material_identity": "APH-000123"})
    assert started.status_code == 303
    assert "APH-000123" in client.get(started.headers["Location"]).text
