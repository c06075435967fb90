"""The samples API for client systems: manifests as JSON or CSV, status, the change feed."""

from __future__ import annotations

from sqlalchemy import func, select

from lims.samples.models import Sample, Submission
from lims.samples.service import accessioning
from tests.lims.samples.conftest import accept, row


def test_a_client_system_sends_and_submits_a_manifest_as_json(client, clients, db_session):
    response = client.post(
        "/api/v1/submissions",
        json={"reference": "Week 50", "samples": [row("A"), row("B")], "submit": True},
        headers=clients.helix_token,
    )
    assert response.status_code == 201, response.json
    body = response.json
    assert body["status"] == "submitted" and [s["client_sample_id"] for s in body["samples"]] == ["A", "B"]
    assert body["samples"][0]["requested_tests"] == ["VIAB", "STER"] and body["samples"][0]["quantity"] == "10 mL"
    shown = client.get(f"/api/v1/submissions/{body['id']}", headers=clients.helix_token).json
    assert shown["samples"][1]["status"] == "expected"


def test_a_manifest_with_one_bad_row_is_refused_whole_with_each_cell_named(client, clients, db_session):
    response = client.post(
        "/api/v1/submissions",
        json={"reference": "Week 50", "samples": [row("A"), row("B", quantity="ten mL", visit="X")]},
        headers=clients.helix_token,
    )
    assert response.status_code == 422
    assert set(response.json["errors"]) == {"row 2.quantity", "row 2.visit"}
    assert "nothing was imported" in response.json["message"]
    assert db_session.scalar(select(func.count()).select_from(Submission)) == 0


def test_a_manifest_sent_as_csv(client, clients):
    csv = (
        "client_sample_id,sample_type,collected_at,quantity,container,storage_requirement\n"
        "C-1,serum,2026-01-05 09:00,2 mL,SST tube,-20 °C\n"
    )
    response = client.post(
        "/api/v1/submissions/csv?reference=From%20LIMS&submit=true",
        data=csv.encode(),
        headers={**clients.helix_token, "Content-Type": "text/csv"},
    )
    assert response.status_code == 201, response.json
    assert response.json["samples"][0]["storage_requirement"] == "-20 °C"
    bad = client.post(
        "/api/v1/submissions/csv?reference=x",
        data=b"\xff\xfe",
        headers={**clients.helix_token, "Content-Type": "text/csv"},
    )
    assert bad.status_code == 422 and "UTF-8" in bad.json["message"]


def test_the_change_feed_goes_on_from_its_cursor(client, clients, db_session):
    created = client.post(
        "/api/v1/submissions", json={"reference": "W", "samples": [row()], "submit": True}, headers=clients.helix_token
    ).json
    first = client.get("/api/v1/events", headers=clients.helix_token).json
    assert [event["kind"] for event in first["items"]] == ["submission.submitted"]
    sample = db_session.scalar(select(Sample).where(Sample.public_id == created["samples"][0]["id"]))
    accessioning.receive_sample(db_session, sample, accept(), user=clients.technician)
    db_session.commit()
    after = client.get(f"/api/v1/events?after={first['next_cursor']}", headers=clients.helix_token).json
    assert [event["kind"] for event in after["items"]] == ["sample.received", "submission.received"]
    assert after["items"][0]["data"]["accession_number"] == sample.accession_number
    nothing_new = client.get(f"/api/v1/events?after={after['next_cursor']}", headers=clients.helix_token).json
    assert nothing_new == {"items": [], "next_cursor": after["next_cursor"]}
    assert client.get("/api/v1/events", headers=clients.nordic_token).json["items"] == []
    assert client.get("/api/v1/events?after=abc", headers=clients.helix_token).status_code == 422


def test_cancel_and_submit_through_the_api(client, clients):
    created = client.post(
        "/api/v1/submissions", json={"reference": "W", "samples": [row()]}, headers=clients.helix_token
    ).json
    assert created["status"] == "draft"
    submitted = client.post(f"/api/v1/submissions/{created['id']}/submit", headers=clients.helix_token)
    assert submitted.json["status"] == "submitted"
    again = client.post(f"/api/v1/submissions/{created['id']}/submit", headers=clients.helix_token)
    assert again.status_code == 409
    cancelled = client.post(
        f"/api/v1/submissions/{created['id']}/cancel", json={"reason": "Trial paused"}, headers=clients.helix_token
    )
    assert cancelled.json["status"] == "cancelled" and cancelled.json["cancellation_reason"] == "Trial paused"
