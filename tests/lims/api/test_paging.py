"""The one page shape: items and the cursor of the next page, followed until it is null."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest
from marshmallow import ValidationError, fields

from lims.api.paging import BAD_CURSOR, Cursor
from lims.identity.models import RoleName
from tests.lims.api.conftest import add_protocol


def numbers(page):
    return [item["number"] for item in page["items"]]


def cursor_of(*parts):
    return base64.urlsafe_b64encode(json.dumps(list(parts)).encode()).decode().rstrip("=")


def test_a_list_goes_on_page_by_page_until_the_next_cursor_is_null(client, db_session, clients):
    for number in ("HLX-301", "HLX-302", "HLX-303", "HLX-304"):
        add_protocol(db_session, clients.helix, number)
    db_session.commit()

    first = client.get("/api/v1/protocols?limit=2", headers=clients.helix_token).json
    assert set(first) == {"items", "next_cursor"}
    assert numbers(first) == ["HLX-301", "HLX-302"] and first["next_cursor"]
    second = client.get(
        "/api/v1/protocols", query_string={"limit": 2, "cursor": first["next_cursor"]}, headers=clients.helix_token
    ).json
    # The last page says so itself: no empty page is needed to find the end.
    assert second == {"items": second["items"], "next_cursor": None}
    assert numbers(second) == ["HLX-303", "HLX-304"]


def test_records_added_between_pages_neither_repeat_nor_shift_the_next_page(client, db_session, clients):
    for number in ("HLX-301", "HLX-303", "HLX-305"):
        add_protocol(db_session, clients.helix, number)
    db_session.commit()
    first = client.get("/api/v1/protocols?limit=2", headers=clients.helix_token).json
    assert numbers(first) == ["HLX-301", "HLX-303"]

    add_protocol(db_session, clients.helix, "HLX-302")  # before the cursor: an offset would show HLX-303 again
    add_protocol(db_session, clients.helix, "HLX-304")
    db_session.commit()
    second = client.get("/api/v1/protocols", query_string={"cursor": first["next_cursor"]}, headers=clients.helix_token)
    assert numbers(second.json) == ["HLX-304", "HLX-305"] and second.json["next_cursor"] is None


def test_a_client_pages_through_its_own_records_only(client, db_session, clients, signed_in):
    add_protocol(db_session, clients.helix, "HLX-301")
    for number in ("NCB-201", "NCB-202"):
        add_protocol(db_session, clients.nordic, number)
    db_session.commit()
    assert numbers(client.get("/api/v1/protocols?limit=1", headers=clients.helix_token).json) == ["HLX-301"]
    nordic_first = client.get("/api/v1/protocols?limit=1", headers=clients.nordic_token).json
    nordic_second = client.get(
        "/api/v1/protocols",
        query_string={"limit": 1, "cursor": nordic_first["next_cursor"]},
        headers=clients.nordic_token,
    ).json
    assert numbers(nordic_first) + numbers(nordic_second) == ["NCB-201", "NCB-202"]
    assert nordic_second["next_cursor"] is None
    signed_in(RoleName.QA)
    assert numbers(client.get("/api/v1/protocols").json) == ["HLX-301", "NCB-201", "NCB-202"]


@pytest.mark.parametrize(
    "cursor",
    [
        "",
        "not base64 ~",
        "bm90IGpzb24",
        cursor_of(),
        cursor_of("HLX-301", 2),
        cursor_of(301),
        cursor_of(None),
        cursor_of(""),
        cursor_of("HLX\u0000301"),
        cursor_of("x" * 65),
    ],
)
def test_a_cursor_the_list_did_not_give_out_is_refused_with_a_message(client, clients, cursor):
    response = client.get("/api/v1/protocols", query_string={"cursor": cursor}, headers=clients.helix_token)
    assert response.status_code == 422
    assert response.json["errors"] == {"cursor": [BAD_CURSOR]}


def test_a_batch_cursor_is_typed_by_creation_time_and_id(client, clients):
    # A batch cursor carries a time and an id: a protocol's cursor (a number) does not fit it.
    protocol_cursor = cursor_of("HLX-301")
    response = client.get("/api/v1/batches", query_string={"cursor": protocol_cursor}, headers=clients.helix_token)
    assert response.status_code == 422 and response.json["errors"] == {"cursor": [BAD_CURSOR]}
    huge_id = cursor_of("2030-04-10T08:00:00+00:00", 2**40)
    huge = client.get("/api/v1/batches", query_string={"cursor": huge_id}, headers=clients.helix_token)
    assert huge.status_code == 422


def test_a_cursor_carries_its_key_there_and_back():
    cursor = Cursor(fields.AwareDateTime(), fields.Integer())
    key = (datetime(2030, 4, 10, 8, 30, tzinfo=UTC), 17)
    text = cursor._serialize(key, None, None)
    assert "=" not in text and cursor.deserialize(text) == key
    with pytest.raises(ValidationError):
        cursor.deserialize(cursor_of("2030-04-10T08:30:00", 17))  # a time without its zone is no position
