"""Tenant isolation: every samples page and API operation, called by another client with Helix's ids, answers
as if they did not exist, and changes nothing."""

from __future__ import annotations

import io
import re

from sqlalchemy import func, select

from lims.access import ACCESS_ATTRIBUTE
from lims.audit.models import AuditEvent
from lims.certificates.models import IssuedDocument
from lims.identity.models import RoleName
from lims.samples.models import ClientEvent, ResultRelease, Sample, SampleTest, Submission, Webhook, WebhookDelivery
from lims.samples.service import accessioning, events, results, storage
from lims.samples.storage_models import CustodyEvent, SampleLocation, StorageKind
from lims.units.parsing import parse_measurement
from tests.helpers import csrf_token_from, login
from tests.lims.samples.conftest import accept, row, submitted
from tests.lims.samples.results_support import lab, released  # noqa: F401  (fixture)

SAMPLES_ENDPOINTS = (
    "samples.",
    "samples_api.",
    "certificates.results_report_file",
    "certificates_api.results_report_file",
)


def _helix_records(db_session, lab) -> dict[str, str]:  # noqa: F811
    clients = lab.clients
    submission = submitted(db_session, clients, row("A"), row("B"))
    accessioning.receive_sample(db_session, submission.samples[0], accept(), user=clients.technician)
    webhook = events.register_webhook(
        db_session, organization_id=clients.helix.id, url="https://hooks.example.org/x", secret="y" * 20, user_id=None
    )
    db_session.commit()
    cabinet = storage.create_unit(
        db_session,
        name="Cabinet C-01",
        kind=StorageKind.FRIDGE,
        location="Room 2.14",
        minimum_temperature=parse_measurement("18 °C"),
        maximum_temperature=parse_measurement("22 °C"),
        user=clients.technician,
    )
    rack = storage.add_rack(db_session, cabinet, name="Shelf 1")
    box = storage.add_box(db_session, rack, name="Box 1", rows=2, columns=2)
    storage.store(db_session, submission.samples[0], box, (1, 1), user=clients.technician)
    db_session.commit()
    done = released(db_session, lab)
    sample = done.samples[0]
    return {
        "unit": str(cabinet.id),
        "rack": str(rack.id),
        "box": str(box.id),
        "submission": submission.public_id,
        "sample": submission.samples[1].public_id,
        "webhook": webhook.public_id,
        "released": done.public_id,
        "test": str(results.tests_of(db_session, [sample])[sample.id][0].id),
        "subject": str(clients.subject.id),
    }


def _address(rule, ids: dict[str, str]) -> str:
    """The rule's address with Helix's id of the kind each argument names (a released submission's where the
    route reads results or their report)."""
    address = re.sub(r"<(?:\w+:)?(\w+)>", r"<\1>", rule.rule)
    for argument in rule.arguments:
        if argument == "public_id":
            kind = (
                "sample"
                if address.startswith("/samples/")
                else "webhook"
                if address.startswith("/portal/webhooks")
                else "submission"
            )
        else:
            kind = argument.removesuffix("_id")
        if kind == "submission" and re.search(r"/(results|report)", address):
            kind = "released"
        address = address.replace(f"<{argument}>", ids[kind])
    return address


def _state(db_session) -> tuple:
    db_session.expire_all()
    return (
        db_session.execute(select(Submission.public_id, Submission.status).order_by(Submission.id)).all(),
        db_session.execute(select(Sample.public_id, Sample.status, Sample.accession_number).order_by(Sample.id)).all(),
        db_session.execute(select(Webhook.public_id, Webhook.active)).all(),
        db_session.scalar(select(func.count()).select_from(ClientEvent)),
        db_session.scalar(select(func.count()).select_from(WebhookDelivery)),
        db_session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.entity_type.in_(["submission", "sample", "sample_test", "issued_document"]))
        ),
        db_session.execute(select(SampleTest.id, SampleTest.result_id).order_by(SampleTest.id)).all(),
        db_session.scalar(select(func.count()).select_from(ResultRelease)),
        db_session.scalar(select(func.count()).select_from(IssuedDocument)),
        db_session.scalar(select(func.count()).select_from(CustodyEvent)),
        db_session.execute(select(SampleLocation.sample_id, SampleLocation.box_id).order_by(SampleLocation.id)).all(),
    )


def access_rule(app, endpoint: str) -> frozenset:
    return getattr(app.view_functions[endpoint], ACCESS_ATTRIBUTE)


def _routes_with_ids(app) -> list:
    return [rule for rule in app.url_map.iter_rules() if rule.endpoint.startswith(SAMPLES_ENDPOINTS) and rule.arguments]


def test_another_clients_user_reaches_none_of_helixs_records_on_any_page(app, client, lab, db_session):  # noqa: F811
    clients = lab.clients
    ids = _helix_records(db_session, lab)
    before = _state(db_session)
    login(client, clients.nordic_user)
    token = csrf_token_from(client.get("/portal/webhooks").text)
    form = {**row("N-1"), "csrf_token": token, "reason": "Because", "file": (io.BytesIO(b"a,b\n1,2\n"), "m.csv")}
    swept = []
    for rule in _routes_with_ids(app):
        if rule.rule.startswith("/api/"):
            continue
        address = _address(rule, ids)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            data = dict(form, file=(io.BytesIO(b"a,b\n1,2\n"), "m.csv")) if method == "POST" else None
            response = client.open(address, method=method, data=data)
            # A page for staff only is refused for the role; every other answers as for an id never used.
            assert response.status_code in {403, 404}, (method, address, response.status_code)
            if response.status_code == 403:
                assert "role" in response.text, (method, address)
            swept.append((method, address))
    assert len(swept) >= 15
    reached = {address for _, address in swept}
    for own in ("/tests", "/release", "/results", "/results.csv", "/report.pdf"):
        assert any(address.endswith(own) for address in reached), own
    assert any(address.startswith("/sample-tests/") for address in reached)
    assert f"/portal/subjects/{ids['subject']}" in reached
    assert {f"/samples/{ids['sample']}/custody", f"/storage/boxes/{ids['box']}/store"} <= reached
    assert _state(db_session) == before


def test_another_clients_token_reaches_none_of_helixs_records_in_the_api(app, client, lab, db_session):  # noqa: F811
    clients = lab.clients
    ids = _helix_records(db_session, lab)
    before = _state(db_session)
    swept = []
    for rule in _routes_with_ids(app):
        if not rule.rule.startswith("/api/"):
            continue
        address = _address(rule, ids)
        admits_clients = RoleName.CLIENT in access_rule(app, rule.endpoint)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            body = {"reason": "Because"} if method == "POST" else None
            response = client.open(address, method=method, json=body, headers=clients.nordic_token)
            if not admits_clients:
                # The lab's own operations (storage) refuse a client's token before reading any id.
                assert response.status_code in {401, 403}, (method, address, response.status_code)
                continue
            assert response.status_code == 404, (method, address, response.status_code, response.json)
            assert response.json["message"].startswith("There is no such")
            swept.append((method, address))
    assert len(swept) >= 6
    assert {f"/api/v1/submissions/{ids['released']}/{what}" for what in ("results", "report")} <= {a for _, a in swept}
    assert f"/api/v1/samples/{ids['sample']}/custody" in {a for _, a in swept}
    assert _state(db_session) == before
    # Helix's own token reaches them: the sweep used real ids.
    assert client.get(f"/api/v1/submissions/{ids['submission']}", headers=clients.helix_token).status_code == 200


def test_lists_and_feeds_show_only_the_callers_own(client, lab, db_session):  # noqa: F811
    clients = lab.clients
    _helix_records(db_session, lab)
    assert client.get("/api/v1/submissions", headers=clients.nordic_token).json["items"] == []
    assert client.get("/api/v1/webhooks", headers=clients.nordic_token).json["items"] == []
    assert client.get("/api/v1/events", headers=clients.nordic_token).json["items"] == []
    assert client.get("/api/v1/certificates", headers=clients.nordic_token).json["items"] == []
    login(client, clients.nordic_user)
    assert "Week 49" not in client.get("/submissions").text
    assert "Week 49" not in client.get("/portal").text
    assert client.get("/portal/changes").json["items"] == []
