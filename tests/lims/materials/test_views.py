"""Materials and lots through the pages."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select

from lims.identity.models import RoleName
from lims.materials import service
from lims.materials.models import LotStatus, MaterialLot
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD, duplicate_ids, history_link, login, submit


def test_receive_a_lot_and_qa_releases_it(app, client, create_user, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    created = submit(
        client,
        "/materials/new",
        {
            "part_number": "MED-001",
            "name": "TexMACS medium",
            "specification": "Sterile",
            "storage_condition": "2–8 °C",
            "unit": "mL",
        },
    )
    assert created.status_code == 303
    material_url = created.headers["Location"]
    bad = submit(
        client,
        material_url,
        {
            "supplier": "Miltenyi",
            "supplier_lot": "7231",
            "received_on": "2030-04-09",
            "expires_on": "2030-10-01",
            "quantity": "1 m",
        },
        action=material_url + "/lots",
    )
    assert bad.status_code == 422 and "not an amount of material" in bad.text
    received = submit(
        client,
        material_url,
        {
            "supplier": "Miltenyi",
            "supplier_lot": "7231",
            "received_on": "2030-04-09",
            "expires_on": "2030-10-01",
            "quantity": "1 L",
        },
        action=material_url + "/lots",
    )
    assert received.status_code == 303
    lot = db_session.scalars(select(MaterialLot)).one()
    manager_page = client.get(f"/materials/lots/{lot.id}").text
    assert "Release (QA signature)" not in manager_page and "Reject lot" not in manager_page
    assert "The lot stays in quarantine until QA releases or rejects it." in manager_page
    refused = client.get(f"/sign/material_lot/{lot.id}/released")
    assert refused.status_code == 403 and "Your role may not sign a material lot as released." in refused.text
    qa = create_user(RoleName.QA)
    db_session.commit()
    qa_client = app.test_client()
    login(qa_client, qa)
    assert "Lots in quarantine" in qa_client.get("/").text
    lot_page = qa_client.get(f"/materials/lots/{lot.id}").text
    assert "Release (QA signature)" in lot_page and duplicate_ids(lot_page) == []
    assert submit(qa_client, f"/sign/material_lot/{lot.id}/released", {"password": PASSWORD}).status_code == 303
    db_session.expire_all()
    assert db_session.get(MaterialLot, lot.id).status == LotStatus.RELEASED


def test_qa_rejects_a_lot_with_a_reason_and_a_signature(client, create_user, db_session, signed_in):
    material = service.create_material(
        db_session,
        part_number="BAG-01",
        name="Transfer bag",
        specification="Sterile",
        storage_condition="room temperature",
        unit="",
    )
    lot = service.receive_lot(
        db_session,
        material,
        supplier="Fresenius",
        supplier_lot="B77",
        received_on=date(2030, 4, 9),
        expires_on=date(2031, 4, 9),
        quantity=parse_measurement("20"),
        user=create_user(),
    )
    db_session.commit()
    signed_in(RoleName.QA)
    url = f"/materials/lots/{lot.id}"
    wrong = submit(client, url, {"reason": "Seal broken", "password": "not-my-password"}, action=url + "/reject")
    assert wrong.status_code == 401
    done = submit(client, url, {"reason": "Seal broken", "password": PASSWORD}, action=url + "/reject")
    assert done.status_code == 303 and "Seal broken" in client.get(url).text


def test_technicians_cannot_reject_or_register(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    assert client.get("/materials/new").status_code == 403
    assert client.post("/materials/lots/1/reject", data={}).status_code == 403


@pytest.mark.parametrize(("role", "sees_history"), [(RoleName.QA, True), (RoleName.TECHNICIAN, False)])
def test_material_and_lot_pages_link_to_their_history_for_those_who_read_the_trail(
    role, sees_history, client, medium, receive, db_session, signed_in
):
    lot = receive()
    db_session.commit()
    signed_in(role)
    for url, link, text in (
        (f"/materials/{medium.id}", history_link("material", medium.id), "History of this material"),
        (f"/materials/lots/{lot.id}", history_link("material_lot", lot.id), "History of this lot"),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert (link in page.text) is sees_history and (text in page.text) is sees_history, url


def test_a_material_counted_in_iu_gets_no_lot_in_ml_or_in_items(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    material = {"part_number": "IL2-001", "name": "IL-2", "specification": "GMP", "storage_condition": "2–8 °C"}
    not_an_amount = submit(client, "/materials/new", {**material, "unit": "°C"})
    assert not_an_amount.status_code == 422 and 'id="unit-error"' in not_an_amount.text
    created = submit(client, "/materials/new", {**material, "unit": "IU"})
    assert created.status_code == 303
    material_url = created.headers["Location"]
    assert "Counted in</dt><dd>IU" in client.get(material_url).text
    lot = {"supplier": "Clinigen", "supplier_lot": "P22", "received_on": "2030-04-09", "expires_on": "2030-10-01"}
    for quantity, dimension in (("500 mL", "volume"), ("20", "a plain number or percentage")):
        refused = submit(client, material_url, {**lot, "quantity": quantity}, action=material_url + "/lots")
        assert refused.status_code == 422 and 'id="quantity-error"' in refused.text
        assert f"IL2-001 is counted in IU: {quantity} is {dimension}, not international units." in refused.text
    assert db_session.scalars(select(MaterialLot)).all() == []
    received = submit(client, material_url, {**lot, "quantity": "2.2e7 IU"}, action=material_url + "/lots")
    assert received.status_code == 303


def test_a_materials_lots_show_a_page_at_a_time_latest_expiry_first_in_as_many_statements_as_for_one_lot(
    client, db_session, medium, receive, signed_in
):
    signed_in(RoleName.QA)
    first = receive(expires_in_days=10)
    db_session.commit()
    client.get(f"/materials/{medium.id}")
    one = _statements_of(db_session, client, f"/materials/{medium.id}")
    lots = [first, *(receive(expires_in_days=10 + day) for day in range(1, service.LOTS_PER_PAGE + 1))]
    db_session.commit()
    many = _statements_of(db_session, client, f"/materials/{medium.id}")
    assert many[0] == one[0]
    page_one, page_two = many[1], client.get(f"/materials/{medium.id}?page=2").text
    assert lots[-1].lot_number in page_one and first.lot_number not in page_one
    assert f"Page 1 of 2 ({service.LOTS_PER_PAGE + 1} in all)" in page_one
    assert first.lot_number in page_two and lots[-1].lot_number not in page_two


def _statements_of(db_session, client, url: str) -> tuple[int, str]:
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200
    return len(statements), page.text
