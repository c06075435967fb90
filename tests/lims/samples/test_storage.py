"""Storage: units, racks and boxes; a sample stored only where its storage requirement is met; one sample per box
position; the pages a manager and a technician use, and what other roles may not do."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lims.errors import AlreadyExists
from lims.identity.models import RoleName
from lims.samples.errors import CustodyRefused, PositionOccupied, StorageRefused, UnsuitableStorage
from lims.samples.models import SampleStatus
from lims.samples.service import custody, storage
from lims.samples.storage_models import CustodyEvent, CustodyState, SampleLocation, StorageKind
from tests.helpers import counted_statements, csrf_token_from, login, submit
from tests.lims.samples.conftest import row, submitted
from tests.lims.samples.storage_support import received, unit


def _store(db_session, room, sample, box, position: str, **options):
    return storage.store(
        db_session, sample, box, storage.parse_position(box, position), user=room.clients.technician, **options
    )


def test_a_minus_80_sample_is_refused_in_a_4_degree_fridge_and_nothing_moves(db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    with pytest.raises(UnsuitableStorage) as refused:
        _store(db_session, cold_room, sample, cold_room.fridge_box, "A1")
    assert refused.value.message == (
        f"{sample.accession_number} must be stored at -80 °C, but Fridge R-02 (fridge) holds 2 °C to 8 °C. "
        "Choose a unit that keeps it at -80 °C."
    )
    db_session.rollback()
    assert db_session.scalar(select(func.count()).where(SampleLocation.box_id.is_not(None))) == 0
    event = _store(db_session, cold_room, sample, cold_room.box, "B3")
    assert event.to_location == "Freezer F-01 / Rack A / Box 1 / B3"


@pytest.mark.parametrize(
    ("requirement", "unit_name", "allowed"),
    [
        ("2–8 °C", "Fridge R-02", True),
        ("2–8 °C", "Freezer F-01", False),
        ("≤ -150 °C", "LN2 tank N-01", True),
        ("≤ -150 °C", "Freezer F-01", False),
        ("-196 °C", "LN2 tank N-01", True),
        ("-320.8 °F", "LN2 tank N-01", True),
        ("193 K", "Freezer F-01", True),
        ("193 K", "Fridge R-02", False),
    ],
)
def test_the_storage_condition_is_compared_in_any_temperature_unit(
    db_session, cold_room, requirement, unit_name, allowed
):
    (sample,) = received(db_session, cold_room.clients, storage_requirement=requirement)
    target = {u.name: u for u in (cold_room.freezer, cold_room.fridge, cold_room.tank)}[unit_name]
    if allowed:
        storage.check_condition(sample, target)
    else:
        with pytest.raises(UnsuitableStorage):
            storage.check_condition(sample, target)


def test_a_position_holds_one_sample_and_a_stored_sample_is_moved_not_stored_again(db_session, cold_room):
    first, second = received(db_session, cold_room.clients, "HLX-1", "HLX-2")
    _store(db_session, cold_room, first, cold_room.box, "A1")
    with pytest.raises(
        PositionOccupied, match=f"Position A1 of Freezer F-01 / Rack A / Box 1 holds {first.accession_number}"
    ):
        _store(db_session, cold_room, second, cold_room.box, "a1")
    with pytest.raises(CustodyRefused, match="already stored in Freezer F-01 / Rack A / Box 1 / A1; move it instead"):
        _store(db_session, cold_room, first, cold_room.big_box, "C3")
    moved = _store(db_session, cold_room, first, cold_room.big_box, "C3", move=True)
    assert (moved.from_location, moved.to_location) == (
        "Freezer F-01 / Rack A / Box 1 / A1",
        "Freezer F-01 / Rack A / Box 2 / C3",
    )
    # The position it left is free again.
    _store(db_session, cold_room, second, cold_room.box, "A1")
    with pytest.raises(CustodyRefused, match="not in storage; store it before it is moved"):
        third = received(db_session, cold_room.clients, "HLX-3")[0]
        _store(db_session, cold_room, third, cold_room.box, "A2", move=True)


def test_a_position_is_one_of_its_boxs(db_session, cold_room):
    box = cold_room.box
    assert storage.parse_position(box, " c4 ") == (3, 4)
    for typed in ("D1", "A5", "A0", "4C", "", "A" * 300):
        with pytest.raises(StorageRefused):
            storage.parse_position(box, typed)


def test_units_racks_and_boxes_refuse_what_cannot_be(db_session, cold_room):
    manager = cold_room.manager
    with pytest.raises(StorageRefused, match="not a temperature"):
        unit(db_session, manager, "Shelf", StorageKind.FRIDGE, "2 mL", "8 °C")
    with pytest.raises(StorageRefused, match="above the highest"):
        unit(db_session, manager, "Upside down", StorageKind.FREEZER, "-70 °C", "-86 °C")
    with pytest.raises(AlreadyExists):
        unit(db_session, manager, "Freezer F-01", StorageKind.FREEZER, "-86 °C", "-70 °C")
    with pytest.raises(StorageRefused, match="1 to 26 rows"):
        storage.add_box(db_session, cold_room.box.rack, name="Huge", rows=27, columns=1)


def test_a_rejected_or_unreceived_sample_is_not_stored(db_session, cold_room):
    expected = submitted(db_session, cold_room.clients, row("HLX-9", storage_requirement="-80 °C")).samples[0]
    with pytest.raises(CustodyRefused, match="has not arrived at the lab; it is expected"):
        _store(db_session, cold_room, expected, cold_room.box, "A1")
    (sample,) = received(db_session, cold_room.clients)
    sample.status = SampleStatus.REJECTED
    with pytest.raises(CustodyRefused, match="rejected at receipt"):
        _store(db_session, cold_room, sample, cold_room.box, "A1")


def test_the_storage_list_costs_the_same_statements_for_three_units_or_twelve(client, db_session, cold_room):
    login(client, cold_room.clients.technician)
    with counted_statements(db_session.get_bind()) as few:
        assert client.get("/storage").text.count("/storage/units/") == 3
    for number in range(9):
        added = unit(db_session, cold_room.manager, f"Freezer F-1{number}", StorageKind.FREEZER, "-86 °C", "-70 °C")
        storage.add_box(db_session, storage.add_rack(db_session, added, name="Rack A"), name="Box 1", rows=9, columns=9)
    db_session.commit()
    with counted_statements(db_session.get_bind()) as many:
        assert client.get("/storage").text.count("/storage/units/") == 12
    with counted_statements(db_session.get_bind()) as unit_page:
        client.get(f"/storage/units/{cold_room.freezer.id}")
    assert len(many.statements) == len(few.statements) and len(unit_page.statements) < 15


# Pages


def test_a_manager_registers_a_unit_with_a_rack_and_a_box(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    response = submit(
        client,
        "/storage",
        {
            "name": "Freezer F-09",
            "kind": "freezer",
            "location": "Room 1.02",
            "minimum_temperature": "-86 degC",
            "maximum_temperature": "-70 °C",
        },
    )
    assert response.status_code == 303
    unit_page = response.headers["Location"]
    response = submit(client, unit_page, {"name": "Rack A"}, action=f"{unit_page}/racks")
    assert response.status_code == 303
    rack_id = db_session.scalar(select(func.max(storage.StorageRack.id)))
    response = submit(
        client, unit_page, {"name": "Box 1", "rows": "9", "columns": "9"}, action=f"/storage/racks/{rack_id}/boxes"
    )
    assert response.status_code == 303
    box_page = client.get(response.headers["Location"]).text
    assert "Freezer F-09 / Rack A" in box_page and box_page.count('class="free"') == 81
    listing = client.get("/storage").text
    assert "Freezer F-09" in listing and "0 of 81 positions" in listing and "-86 °C to -70 °C" in listing


def test_a_unit_form_with_a_wrong_temperature_says_so_beside_it(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    response = submit(
        client,
        "/storage",
        {
            "name": "F",
            "kind": "freezer",
            "location": "R",
            "minimum_temperature": "-86 °C",
            "maximum_temperature": "5 mL",
        },
    )
    assert response.status_code == 422
    assert 'id="maximum_temperature-error"' in response.text
    assert (
        "5 mL is not a temperature" in response.text
        or "Start with a number" in response.text
        or "unit" in response.text
    )


def test_a_technician_stores_a_sample_from_the_box_page_and_sees_it_in_the_grid(client, db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    page = f"/storage/boxes/{cold_room.box.id}"
    response = submit(
        client,
        page,
        {"sample": sample.accession_number.lower(), "position": "B2", "temperature": "-79 °C"},
        action=f"{page}/store",
    )
    assert response.status_code == 303
    shown = client.get(page).text
    assert f'data-position="B2"><a href="/samples/{sample.public_id}/custody"' in shown
    assert f"{sample.accession_number} is stored in Freezer F-01 / Rack A / Box 1 / B2." in shown
    response = submit(client, page, {"sample": sample.accession_number, "position": "B3"}, action=f"{page}/store")
    assert response.status_code == 409 and "move it instead" in response.text
    response = submit(client, page, {"sample": sample.accession_number, "position": "B3"}, action=f"{page}/move")
    assert response.status_code == 303
    fridge = f"/storage/boxes/{cold_room.fridge_box.id}"
    response = submit(client, fridge, {"sample": sample.accession_number, "position": "A1"}, action=f"{fridge}/move")
    assert response.status_code == 409 and "holds 2 °C to 8 °C" in response.text


def test_the_box_page_costs_the_same_statements_with_one_sample_or_full(client, db_session, cold_room):
    samples = received(db_session, cold_room.clients, *(f"HLX-{n}" for n in range(12)))
    positions = [f"{row}{column}" for row in "ABC" for column in range(1, 5)]
    _store(db_session, cold_room, samples[0], cold_room.box, positions[0])
    db_session.commit()
    login(client, cold_room.clients.technician)
    page = f"/storage/boxes/{cold_room.box.id}"
    with counted_statements(db_session.get_bind()) as one:
        assert client.get(page).text.count('class="occupied"') == 1
    for sample, position in zip(samples[1:], positions[1:], strict=True):
        _store(db_session, cold_room, sample, cold_room.box, position)
    db_session.commit()
    with counted_statements(db_session.get_bind()) as full:
        assert client.get(page).text.count('class="occupied"') == 12
    assert len(full.statements) == len(one.statements)


@pytest.mark.parametrize(
    ("role", "method", "address"),
    [
        (RoleName.TECHNICIAN, "POST", "/storage"),
        (RoleName.QA, "POST", "/storage/boxes/{box}/store"),
        (RoleName.CLIENT, "GET", "/storage"),
        (RoleName.CLIENT, "GET", "/storage/boxes/{box}"),
    ],
)
def test_a_role_without_the_right_is_refused(
    client, db_session, cold_room, signed_in, create_organization, role, method, address
):
    organization = {"organization": create_organization()} if role == RoleName.CLIENT else {}
    signed_in(role, **organization)
    token = csrf_token_from(client.get("/").text) if method == "POST" else None
    before = db_session.scalar(select(func.count()).select_from(CustodyEvent))
    response = client.open(
        address.format(box=cold_room.box.id),
        method=method,
        data={"csrf_token": token, "name": "X", "sample": "S2026-000001", "position": "A1"} if token else None,
    )
    assert response.status_code == 403 and "role" in response.text
    assert db_session.scalar(select(func.count()).select_from(CustodyEvent)) == before


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("name", "Freezer\x00"),
        ("name", "F" * 5000),
        ("minimum_temperature", "1e999999 °C"),
        ("minimum_temperature", "-" + "9" * 400 + " °C"),
        ("kind", "volcano"),
        ("location", "\x00"),
    ],
)
def test_hostile_unit_input_is_refused_with_a_message(client, db_session, signed_in, field, value):
    signed_in(RoleName.MANAGER)
    form = {
        "name": "F",
        "kind": "freezer",
        "location": "R",
        "minimum_temperature": "-86 °C",
        "maximum_temperature": "-70 °C",
    }
    response = submit(client, "/storage", form | {field: value})
    assert 400 <= response.status_code < 500
    assert db_session.scalar(select(func.count()).select_from(storage.StorageUnit)) == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("sample", "S2026-\x00"),
        ("sample", "S" * 3000),
        ("position", "A" + "9" * 40),
        ("temperature", "9" * 90 + " K"),
        ("note", "x" * 5000),
        ("occurred_at", "9999-99-99 99:99"),
    ],
)
def test_hostile_store_input_is_refused_with_a_message(client, db_session, cold_room, field, value):
    (sample,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    page = f"/storage/boxes/{cold_room.box.id}"
    response = submit(
        client, page, {"sample": sample.accession_number, "position": "A1"} | {field: value}, action=f"{page}/store"
    )
    assert 400 <= response.status_code < 500
    assert (
        custody.location_state(db_session, sample) is None
        or custody.location_state(db_session, sample).state == CustodyState.AT_LAB
    )


# API


def test_staff_read_storage_and_a_technician_stores_through_the_api(client, db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    units = client.get("/api/v1/storage/units").json
    assert [item["name"] for item in units["items"]] == ["Freezer F-01", "Fridge R-02", "LN2 tank N-01"]
    assert units["items"][0]["capacity"] == 12 + 81
    token = csrf_token_from(client.get("/").text)
    body = {"box_id": cold_room.box.id, "position": "C4", "temperature": "-80 °C"}
    refused = client.post(f"/api/v1/samples/{sample.public_id}/store", json=body)
    assert refused.status_code == 400  # no CSRF token: not from the lab's own page
    stored = client.post(f"/api/v1/samples/{sample.public_id}/store", json=body, headers={"X-CSRFToken": token})
    assert stored.status_code == 201, stored.json
    assert stored.json["action"] == "stored" and stored.json["to_location"].endswith("Box 1 / C4")
    again = client.post(
        f"/api/v1/samples/{sample.public_id}/store", json=body | {"position": "A1"}, headers={"X-CSRFToken": token}
    )
    assert again.status_code == 409 and "move it instead" in again.json["message"]
    grid = client.get(f"/api/v1/storage/boxes/{cold_room.box.id}").json
    assert grid["stored"] == 1 and grid["positions"][11] == {
        "position": "C4",
        "sample_id": sample.public_id,
        "accession_number": sample.accession_number,
    }
    detail = client.get(f"/api/v1/storage/units/{cold_room.freezer.id}").json
    assert detail["stored"] == 1 and [box["name"] for box in detail["racks"][0]["boxes"]] == ["Box 1", "Box 2"]
    hostile = client.post(
        f"/api/v1/samples/{sample.public_id}/move",
        json={"box_id": 10**30, "position": "A1\x00"},
        headers={"X-CSRFToken": token},
    )
    assert hostile.status_code == 422


def test_a_client_token_neither_reads_storage_nor_stores(client, db_session, cold_room):
    (sample,) = received(db_session, cold_room.clients)
    token = cold_room.clients.helix_token
    assert client.get("/api/v1/storage/units", headers=token).status_code == 403
    response = client.post(
        f"/api/v1/samples/{sample.public_id}/store", json={"box_id": cold_room.box.id, "position": "A1"}, headers=token
    )
    assert response.status_code == 401
    assert custody.location_state(db_session, sample) is None
