"""The reports through the JSON API: each as PDF, CSV or JSON rows for QA, audited as on the reports page; other
roles refused; bad parameters refused at the parameter they name, nothing generated."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from batch_records.service import deviations
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from tests.lims.documents.conftest import pages_of
from tests.lims.reports.test_views import REPORTS, generation_events


@pytest.mark.parametrize("key", REPORTS)
def test_qa_gets_each_report_as_json_rows_stating_what_it_is_and_audited(
    client, db_session, signed_in, line, batch, key
):
    db_session.commit()
    qa = signed_in(RoleName.QA)
    response = client.get(f"/api/v1/reports/{key}?format=json&date_from=2030-04-01")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.headers["Content-Disposition"].startswith(f'attachment; filename="{key}-')
    [event] = generation_events(db_session)
    assert event.user_id == qa.id and f'"report":"{REPORTS[key]}"' in event.changes
    assert '"format":"json"' in event.changes
    body = response.json
    assert body["report"] == REPORTS[key]
    assert body["generated_by"] == f"{qa.full_name} ({qa.username})"
    assert body["generated_at"] == "2030-04-10T08:00:00Z"
    assert body["audit_chain_head"] == {"sequence": event.sequence, "hash": event.hash}
    assert body["columns"] and all(len(row) == len(body["columns"]) for row in body["rows"])


def test_a_batchs_audit_trail_comes_as_rows_csv_and_pdf_alike(client, db_session, signed_in, line, batch):
    deviations.raise_deviation(db_session, batch, description='=HYPERLINK("http://x")', user=line.operator)
    db_session.commit()
    signed_in(RoleName.QA)
    address = f"/api/v1/reports/audit-trail?entity_type=batch&entity_id={batch.batch_number}"
    body = client.get(address + "&format=json").json
    assert body["parameters"] == {"Record": f"batch {batch.batch_number}, with its parts", "Days": "any date"}
    records = {row[body["columns"].index("Record")] for row in body["rows"]}
    assert f"batch {batch.batch_number}" in records and any(record.startswith("deviation DEV-") for record in records)

    table = client.get(address + "&format=csv")
    assert table.status_code == 200 and table.mimetype == "text/csv"
    lines = list(csv.reader(io.StringIO(table.text)))
    assert lines[0] == ["Report", "Audit trail report"]
    assert any('description: =HYPERLINK("http://x")' in row[-2] for row in lines if len(row) > 2)

    document = client.get(address)  # PDF unless asked otherwise
    assert document.status_code == 200 and document.mimetype == "application/pdf"
    assert all("Audit trail report" in page for page in pages_of(document.data))
    assert [event.changes.count('"format"') for event in generation_events(db_session)] == [1, 1, 1]


def test_a_manager_gets_every_report_but_the_audit_trail(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    assert client.get("/api/v1/reports/calibration?format=json").status_code == 200
    refused = client.get("/api/v1/reports/audit-trail?date_from=2030-01-01&format=json")
    assert refused.status_code == 403 and refused.json["code"] == 403
    assert len(generation_events(db_session)) == 1


def test_a_technician_gets_no_report_and_the_refusal_is_audited(client, db_session, signed_in):
    technician = signed_in(RoleName.TECHNICIAN)
    for key in REPORTS:
        refused = client.get(f"/api/v1/reports/{key}?date_from=2030-01-01")
        assert refused.status_code == 403, key
        assert refused.json == {
            "code": 403,
            "message": "Your role does not give access to this operation.",
            "errors": {},
        }
    assert generation_events(db_session) == []
    refusals = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).all()
    assert len(refusals) == len(REPORTS) and {event.user_id for event in refusals} == {technician.id}


def test_a_clients_browser_session_is_no_way_into_the_reports(client, db_session, signed_in):
    # A browser session opens the API to staff only: a client system sends its token.
    signed_in(RoleName.CLIENT)
    for key in REPORTS:
        assert client.get(f"/api/v1/reports/{key}?date_from=2030-01-01").status_code == 401, key
    assert generation_events(db_session) == []


def test_a_client_systems_token_gets_no_report(client, db_session, create_user, create_organization):
    _, token = api_tokens.issue_api_token(
        db_session, organization=create_organization(), name="lims", actor=create_user(RoleName.ADMIN)
    )
    db_session.commit()
    refused = client.get("/api/v1/reports/release-register", headers={"Authorization": f"Bearer {token}"})
    assert refused.status_code == 403 and refused.json["code"] == 403
    assert client.get("/api/v1/reports/release-register").status_code == 401
    assert generation_events(db_session) == []


@pytest.mark.parametrize(
    ("address", "status", "field", "message"),
    [
        ("audit-trail", 422, "entity_type", "Choose a record, a user or a range of days"),
        ("audit-trail?date_from=2030-04-10&date_to=2030-04-01", 422, "date_to", "The end date is before the start"),
        ("audit-trail?entity_type=batch&entity_id=CART-NONE", 422, "entity_id", "There is no batch called"),
        ("audit-trail?entity_type=nothing", 422, "entity_type", "is not a type of controlled record"),
        ("audit-trail?user_id=99999999999", 422, "user_id", "Choose a user from the list."),
        ("audit-trail?user_id=999999", 404, None, "There is no user with id 999999."),
        ("calibration?due_within_days=soon", 422, "due_within_days", "Enter a number of days"),
        ("calibration?due_within_days=100000000000000000000", 422, "due_within_days", "Enter a number of days"),
        ("open-deviations?category=grave", 422, "category", "Choose a category from the list."),
        ("open-deviations?category=minor%00", 422, "category", "Remove the invisible control character"),
        ("release-register?decision=quarantined", 422, "decision", "Choose released or rejected."),
        ("release-register?date_from=yesterday", 422, "date_from", "Enter a date as YYYY-MM-DD."),
        ("training-matrix?format=docx", 422, "format", "Choose pdf, csv or json."),
        ("training-matrix?subject=" + "x" * 121, 422, "subject", "Longer than maximum length 120"),
        ("batch-review?status=lost", 422, "status", "Choose a status from the list."),
    ],
)
def test_bad_parameters_are_refused_naming_them_and_nothing_is_generated(
    client, db_session, signed_in, address, status, field, message
):
    signed_in(RoleName.QA)
    response = client.get(f"/api/v1/reports/{address}")
    assert response.status_code == status and response.mimetype == "application/json"
    body = response.json
    shown = body["errors"][field] if field else [body["message"]]
    assert body["code"] == status and any(message in text for text in shown), body
    assert generation_events(db_session) == []
