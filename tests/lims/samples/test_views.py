"""The client's manifest pages and the technician's receiving page, as a browser uses them."""

from __future__ import annotations

import io

from openpyxl import Workbook

from lims.samples.models import SampleStatus, Submission, SubmissionStatus
from lims.samples.service import accessioning
from lims.samples.service import submissions as service
from tests.helpers import csrf_token_from, login, submit
from tests.lims.samples.conftest import accept, row, submitted


def _draft(client, clients) -> str:
    login(client, clients.helix_user)
    response = submit(client, "/submissions/new", {"reference": "Week 49 PBMC"})
    assert response.status_code == 303
    return response.headers["Location"]


def test_a_client_drafts_adds_a_row_and_submits(client, clients, db_session):
    page = _draft(client, clients)
    response = submit(client, page, row(), action=f"{page}/rows")
    assert response.status_code == 303
    response = submit(client, page, {}, action=f"{page}/submit")
    assert response.status_code == 303
    shown = client.get(page).text
    assert "HLX-0001-PB" in shown and ">submitted<" in shown and "Chain-of-custody form" in shown
    assert client.get(f"{page}/custody-form.pdf").data.startswith(b"%PDF")


def test_a_wrong_row_shows_its_message_beside_the_input_and_nothing_is_added(client, clients, db_session):
    page = _draft(client, clients)
    response = submit(client, page, row(quantity="ten"), action=f"{page}/rows")
    assert response.status_code == 422
    assert 'id="quantity-error"' in response.text and "No samples on this manifest yet" in response.text


def _xlsx(rows: list[dict]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    columns = list(rows[0])
    sheet.append(columns)
    for values in rows:
        sheet.append([values[column] for column in columns])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _upload(client, page: str, data: bytes, filename: str, content_type: str):
    token = csrf_token_from(client.get(page).text)
    return client.post(
        f"{page}/upload",
        data={"csrf_token": token, "file": (io.BytesIO(data), filename, content_type)},
        content_type="multipart/form-data",
    )


def test_an_upload_with_one_bad_row_is_refused_whole_with_the_row_and_column(client, clients):
    page = _draft(client, clients)
    data = _xlsx([row("A"), row("B", visit="D99"), row("C")])
    response = _upload(
        client, page, data, "manifest.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    )
    assert response.status_code == 422
    assert "<td>2</td><td>visit</td><td>HLX-301 version" in response.text
    assert "No samples on this manifest yet" in response.text
    fixed = _xlsx([row("A"), row("B"), row("C")])
    response = _upload(client, page, fixed, "manifest.xlsx", "application/octet-stream")
    assert response.status_code == 303
    assert client.get(page).text.count('data-accession-of="') == 3


def test_a_csv_upload_and_the_export_neutralises_formulas(client, clients):
    page = _draft(client, clients)
    template = client.get("/submissions/template.csv").text
    assert template.splitlines()[0].startswith("client_sample_id,sample_type,protocol")
    lines = (
        template.splitlines()[0]
        + "\n"
        + ",".join(
            ["HLX-9", "peripheral blood", "", "", "", "2026-01-02 08:00", "10 mL", "=HYPERLINK(1)", "-80 °C", ""]
        )
    )
    response = _upload(client, page, lines.encode(), "m.csv", "text/csv")
    assert response.status_code == 303
    exported = client.get(f"{page}/manifest.csv").text
    assert "'=HYPERLINK(1)" in exported


def test_an_upload_that_is_not_a_manifest_is_refused(client, clients):
    page = _draft(client, clients)
    response = _upload(client, page, b"%PDF-1.4", "m.pdf", "application/pdf")
    assert response.status_code == 422 and "as a .csv or .xlsx file" in response.text
    response = _upload(client, page, b"PK\x03\x04junk", "m.xlsx", "application/octet-stream")
    assert response.status_code == 422 and "could not be read" in response.text


def test_a_technician_receives_a_sample_and_the_client_sees_it(client, clients, db_session):
    submission: Submission = submitted(db_session, clients, row("A"), row("B"))
    first, second = submission.samples
    login(client, clients.technician)
    page = f"/receiving/{submission.public_id}"
    assert "Receive A" in client.get(page).text
    prefix = f"s-{first.public_id}-"
    response = submit(
        client,
        page,
        {f"{prefix}arrival_temperature": "21 °C", f"{prefix}container_intact": "on", f"{prefix}decision": "accept"},
        action=f"{page}/samples/{first.public_id}",
    )
    assert response.status_code == 303
    prefix = f"s-{second.public_id}-"
    response = submit(
        client,
        page,
        {f"{prefix}arrival_temperature": "21 °C", f"{prefix}decision": "reject"},
        action=f"{page}/samples/{second.public_id}",
    )
    assert response.status_code == 422 and "reason for rejecting" in response.text
    assert client.get(f"/receiving/{submission.public_id}/labels.pdf").data.startswith(b"%PDF")
    db_session.expire_all()
    assert first.status == SampleStatus.RECEIVED and second.status == SampleStatus.EXPECTED
    assert submission.status == SubmissionStatus.PARTLY_RECEIVED
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    login(client, clients.helix_user)
    changes = client.get("/portal/changes").json
    assert [event["kind"] for event in changes["items"]][-2:] == ["sample.received", "submission.partly_received"]


def test_a_client_cannot_receive_and_a_technician_cannot_draft(client, clients, db_session):
    submission = submitted(db_session, clients)
    login(client, clients.helix_user)
    assert client.get(f"/receiving/{submission.public_id}").status_code == 403
    assert (
        service.get_submission(db_session, submission.public_id, organization_id=None).status
        == SubmissionStatus.SUBMITTED
    )


def test_the_portal_shows_the_clients_submissions_samples_and_subjects(client, clients, db_session):
    submission = submitted(db_session, clients, row("A"))
    accessioning.receive_sample(db_session, submission.samples[0], accept(), user=clients.technician)
    db_session.commit()
    login(client, clients.helix_user)
    page = client.get("/portal").text
    assert "Week 49" in page and submission.samples[0].accession_number in page
    # HLX301-014-0007's screening visit calls for one sample, and it arrived.
    subject = f'<a href="/portal/subjects/{clients.subject.id}">HLX301-014-0007</a>'
    assert f"{subject}</td><td>1</td><td>1</td>" in page and "HLX-301 <span" in page
    assert 'data-live-feed="/portal/changes"' in page
