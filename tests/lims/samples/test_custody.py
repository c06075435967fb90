"""Chain of custody: the receipt starts it, every move is an event in order, a sample is in one place at a time,
and a client reads the chain of its own samples only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.models import AuditEvent
from lims.errors import DateInFuture, DetailMissing
from lims.samples.errors import CustodyOutOfOrder, CustodyRefused
from lims.samples.service import custody, storage
from lims.samples.storage_models import CustodyAction
from lims.units.parsing import parse_measurement
from tests.helpers import csrf_token_from, login, submit
from tests.lims.samples.storage_support import received


def _store(db_session, room, sample, position="A1", *, move=False, box=None):
    box = box or room.box
    return storage.store(
        db_session, sample, box, storage.parse_position(box, position), user=room.clients.technician, move=move
    )


def _act(db_session, room, sample, action, **options):
    return custody.take_action(db_session, sample, action, user=room.clients.technician, **options)


def test_the_chain_starts_at_receipt_and_lists_every_move_in_order(db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    _store(db_session, cold_room, sample, "A1")
    _act(db_session, cold_room, sample, CustodyAction.SENT_FOR_TESTING, temperature=parse_measurement("4 °C"))
    _act(db_session, cold_room, sample, CustodyAction.RETURNED)
    _store(db_session, cold_room, sample, "B2", box=cold_room.big_box)
    _store(db_session, cold_room, sample, "C3", box=cold_room.big_box, move=True)
    _act(db_session, cold_room, sample, CustodyAction.SHIPPED, note="Back to Helix, Heidelberg")
    chain = [
        (event.action.value, event.from_location, event.to_location, event.by.full_name)
        for event in custody.timeline(db_session, sample)
    ]
    assert chain == [
        ("received", None, "Receiving", "Thi Nguyen"),
        ("stored", "at the lab", "Freezer F-01 / Rack A / Box 1 / A1", "Thi Nguyen"),
        ("sent for testing", "Freezer F-01 / Rack A / Box 1 / A1", "sent for testing", "Thi Nguyen"),
        ("returned", "sent for testing", "at the lab", "Thi Nguyen"),
        ("stored", "at the lab", "Freezer F-01 / Rack A / Box 2 / B2", "Thi Nguyen"),
        ("moved", "Freezer F-01 / Rack A / Box 2 / B2", "Freezer F-01 / Rack A / Box 2 / C3", "Thi Nguyen"),
        ("shipped", "Freezer F-01 / Rack A / Box 2 / C3", "shipped", "Thi Nguyen"),
    ]
    received_event = custody.timeline(db_session, sample)[0]
    assert str(received_event.temperature) == "-78 °C"


def test_a_sample_is_in_one_place_shipped_or_disposed_is_gone(db_session, cold_room):
    first, second = received(db_session, cold_room.clients, "HLX-1", "HLX-2")
    _act(db_session, cold_room, first, CustodyAction.SENT_FOR_TESTING)
    with pytest.raises(CustodyRefused, match="out for testing; record its return"):
        _store(db_session, cold_room, first)
    _act(db_session, cold_room, first, CustodyAction.DISPOSED, note="Used up in testing")
    with pytest.raises(CustodyRefused, match="has been disposed; it is no longer at the lab"):
        _store(db_session, cold_room, first)
    _store(db_session, cold_room, second, "A2")
    _act(db_session, cold_room, second, CustodyAction.SHIPPED, note="To the client")
    with pytest.raises(CustodyRefused, match="has been shipped"):
        _store(db_session, cold_room, second, "A3", move=True)
    with pytest.raises(CustodyRefused, match="has been shipped"):
        _act(db_session, cold_room, second, CustodyAction.RETURNED)
    # Its position is free again.
    third = received(db_session, cold_room.clients, "HLX-3")[0]
    assert _store(db_session, cold_room, third, "A2").to_location.endswith("A2")


def test_a_custody_event_is_not_dated_before_the_last_or_in_the_future(db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    with pytest.raises(CustodyOutOfOrder, match="last custody event is at"):
        _act(db_session, cold_room, sample, CustodyAction.SENT_FOR_TESTING, at=clock.now() - timedelta(days=3))
    with pytest.raises(DateInFuture):
        _act(db_session, cold_room, sample, CustodyAction.SENT_FOR_TESTING, at=clock.now() + timedelta(hours=1))
    with pytest.raises(DetailMissing, match="reason for disposing"):
        _act(db_session, cold_room, sample, CustodyAction.DISPOSED, note="  ")


def test_every_move_is_in_the_audit_trail_with_its_reason(db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    _store(db_session, cold_room, sample, "A1")
    _store(db_session, cold_room, sample, "B1", move=True)
    db_session.commit()
    updates = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "sample_location", AuditEvent.action == "update")
        .order_by(AuditEvent.sequence)
    ).all()
    assert [event.reason for event in updates] == [
        f"{sample.accession_number} stored",
        f"{sample.accession_number} moved",
    ]
    created = db_session.scalars(select(AuditEvent.entity_id).where(AuditEvent.entity_type == "custody_event")).all()
    assert len(created) == 3


def test_the_timeline_page_and_the_clients_view_of_it(client, db_session, cold_room):
    clients = cold_room.clients
    (sample,) = received(db_session, clients)
    _store(db_session, cold_room, sample, "C4")
    db_session.commit()
    login(client, clients.helix_user)
    assert f'/samples/{sample.public_id}/custody"' in client.get(f"/samples/{sample.public_id}").text
    page = client.get(f"/samples/{sample.public_id}/custody").text
    assert "Freezer F-01 / Rack A / Box 1 / C4" in page and "Thi Nguyen" in page and "Record a move" not in page
    portal = client.get("/portal").text
    assert f'data-custody-of="{sample.public_id}">stored: Freezer F-01 / Rack A / Box 1 / C4, ' in portal
    feed = client.get("/portal/changes").json["items"]
    assert feed[-1]["kind"] == "sample.custody" and feed[-1]["data"]["action"] == "stored"
    api = client.get(f"/api/v1/samples/{sample.public_id}/custody", headers=clients.helix_token).json
    assert [item["action"] for item in api["items"]] == ["received", "stored"]
    assert client.get(f"/api/v1/samples/{sample.public_id}/custody", headers=clients.nordic_token).status_code == 404
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    login(client, clients.nordic_user)
    assert client.get(f"/samples/{sample.public_id}/custody").status_code == 404


def test_a_technician_records_a_shipment_on_the_timeline_page(client, db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    page = f"/samples/{sample.public_id}/custody"
    refused = submit(client, page, {"action": "shipped"})
    assert refused.status_code == 422 and "Say where the sample is shipped to." in refused.text
    hostile = submit(client, page, {"action": "teleported\x00"})
    assert hostile.status_code == 422
    done = submit(client, page, {"action": "shipped", "note": "Courier to Helix", "temperature": "-70 °C"})
    assert done.status_code == 303
    shown = client.get(page).text
    assert "Courier to Helix" in shown and "-70 °C" in shown and 'id="current-place">shipped<' in shown
