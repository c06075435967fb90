"""Webhooks: each event posted to the client's receiver, signed, retried after a failure, logged; never another's."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from lims import clock, scheduler
from lims.samples.models import DeliveryStatus
from lims.samples.service import accessioning, events
from tests.lims.samples.conftest import accept, row, submitted

SECRET = "s3cret-for-helix-webhooks"


class Receiver:
    """A client's webhook receiver on this machine: it answers with the statuses queued, then 204, and checks
    each signature with the secret as a client's system would."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        self.answers: list[int] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-LIMS-Timestamp"]
                expected = (
                    "sha256=" + hmac.new(SECRET.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
                )
                outer.received.append(
                    {
                        "event": json.loads(body),
                        "signature_valid": hmac.compare_digest(expected, self.headers["X-LIMS-Signature"]),
                        "timestamp": int(timestamp),
                    }
                )
                self.send_response(outer.answers.pop(0) if outer.answers else 204)
                self.end_headers()

            def log_message(self, *_args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/hooks/lims"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    thread = threading.Thread(target=receiver.server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    receiver.server.shutdown()
    receiver.server.server_close()
    thread.join(5)


def test_each_event_reaches_the_receiver_signed_and_a_failure_is_retried(client, clients, db_session, receiver):
    created = client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=clients.helix_token)
    assert created.status_code == 201
    clock.freeze(clock.now())
    receiver.answers = [500]
    submission = submitted(db_session, clients, row("A"))
    assert events.deliver_due(db_session) == "0 of 1 webhook deliveries made"
    db_session.commit()
    log = client.get(f"/api/v1/webhooks/{created.json['id']}/deliveries", headers=clients.helix_token).json
    log = log["items"]
    assert log[0]["status"] == "pending" and log[0]["attempts"] == 1 and log[0]["last_status_code"] == 500
    # Not due again before its pause is over; then delivered.
    assert events.deliver_due(db_session) == "0 of 0 webhook deliveries made"
    clock.advance(timedelta(seconds=31))
    accessioning.receive_sample(db_session, submission.samples[0], accept(), user=clients.technician)
    assert events.deliver_due(db_session) == "3 of 3 webhook deliveries made"
    db_session.commit()
    kinds = [delivery["event"]["kind"] for delivery in receiver.received]
    assert kinds[0] == kinds[1] == "submission.submitted"
    assert sorted(kinds[2:]) == ["sample.received", "submission.received"]
    assert all(delivery["signature_valid"] for delivery in receiver.received)
    log = client.get(f"/api/v1/webhooks/{created.json['id']}/deliveries", headers=clients.helix_token).json
    assert {entry["status"] for entry in log["items"]} == {"delivered"}


def test_no_delivery_to_another_tenant_and_no_reading_of_its_log(client, clients, db_session, receiver):
    nordic = client.post("/api/v1/webhooks", json={"url": receiver.url, "secret": SECRET}, headers=clients.nordic_token)
    submitted(db_session, clients, row("A"))
    assert events.deliver_due(db_session) == "0 of 0 webhook deliveries made"
    assert receiver.received == []
    deliveries = f"/api/v1/webhooks/{nordic.json['id']}/deliveries"
    assert client.get(deliveries, headers=clients.helix_token).status_code == 404
    assert client.get(deliveries, headers=clients.nordic_token).json == {"items": [], "next_cursor": None}


def test_a_receiver_that_never_answers_is_given_up_after_the_last_attempt(db_session, clients):
    webhook = events.register_webhook(
        db_session, organization_id=clients.helix.id, url="http://127.0.0.1:9/none", secret=SECRET, user_id=None
    )
    submitted(db_session, clients, row("A"))
    clock.freeze(clock.now())
    unreachable = events.Answer(None, "The receiver could not be reached: refused")
    for _attempt in range(events.MAX_ATTEMPTS):
        events.deliver_due(db_session, send=lambda _url, _body, _headers: unreachable)
        clock.advance(events.LONGEST_PAUSE)
    (delivery,) = events.deliveries_of(db_session, webhook)
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == events.MAX_ATTEMPTS


def test_a_webhook_is_an_https_address_with_a_real_secret(client, clients):
    refused = client.post(
        "/api/v1/webhooks", json={"url": "http://example.org/hook", "secret": SECRET}, headers=clients.helix_token
    )
    assert refused.status_code == 422 and "https://" in refused.json["message"]
    short = client.post(
        "/api/v1/webhooks", json={"url": "https://example.org/h", "secret": "x"}, headers=clients.helix_token
    )
    assert short.status_code == 422


def test_the_scheduler_delivers_webhooks(app):
    assert "webhook-deliveries" in {check.job_id for check in scheduler.scheduled_checks(app.config)}
