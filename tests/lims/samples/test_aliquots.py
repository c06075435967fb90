"""Aliquots: a received sample split into children whose volumes, in any compatible unit, together take no more
than what remains of it; each child an accessioned sample of the same submission; lineage both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lims.identity.models import RoleName
from lims.samples.errors import AliquotRefused, CustodyRefused
from lims.samples.models import Sample
from lims.samples.service import aliquots, custody, storage
from lims.samples.storage_models import CustodyAction
from lims.units.parsing import parse_measurement
from tests.helpers import csrf_token_from, login, submit
from tests.lims.samples.storage_support import received


def _split(db_session, room, sample, *volumes: str):
    return aliquots.split(db_session, sample, [parse_measurement(v) for v in volumes], user=room.clients.technician)


def test_aliquots_in_mixed_units_take_no_more_than_what_remains(db_session, cold_room):
    (parent,) = received(db_session, cold_room.clients)  # 2 mL received
    first, second = _split(db_session, cold_room, parent, "500 µL", "0.75 mL")
    assert str(aliquots.remaining(db_session, parent)) == "0.75 mL"
    with pytest.raises(AliquotRefused) as refused:
        _split(db_session, cold_room, parent, "0.5 mL", "300 µL")
    assert refused.value.message == (
        f"The aliquots come to 0.8 mL, but only 0.75 mL of {parent.accession_number} remains "
        "(2 mL at receipt, less the aliquots already taken); reduce them by 0.05 mL."
    )
    (third,) = _split(db_session, cold_room, parent, "750 µL")
    assert str(aliquots.remaining(db_session, parent)) == "0 mL"
    with pytest.raises(AliquotRefused, match="only 0 mL"):
        _split(db_session, cold_room, parent, "0.001 µL")
    assert [str(child.received_volume) for child in (first, second, third)] == ["500 µL", "0.75 mL", "750 µL"]


@pytest.mark.parametrize(
    ("volume", "message"),
    [
        ("5 mg", "which is measured in mL; give each aliquot's volume in a unit of the same kind"),
        ("2e6 cells", "which is measured in mL"),
        ("0 mL", "is not a volume to take"),
        ("-1 mL", "is not a volume to take"),
        ("37 °C", "is not a volume to take"),
    ],
)
def test_an_aliquot_volume_must_be_a_volume_of_the_parents_kind(db_session, cold_room, volume, message):
    (parent,) = received(db_session, cold_room.clients)
    with pytest.raises(AliquotRefused, match=message):
        _split(db_session, cold_room, parent, volume)
    db_session.rollback()
    assert db_session.scalar(select(func.count()).select_from(Sample)) == 1


def test_children_inherit_the_parent_and_the_chain_records_the_split(db_session, cold_room):
    (parent,) = received(db_session, cold_room.clients)
    storage.store(db_session, parent, cold_room.box, (1, 1), user=cold_room.clients.technician)
    children = _split(db_session, cold_room, parent, "1 mL", "1 mL")
    year_number = int(parent.accession_number.rsplit("-", 1)[1])
    assert [child.accession_number for child in children] == [
        f"{parent.accession_number[:6]}{year_number + n:06d}" for n in (1, 2)
    ]
    for child in children:
        assert (child.organization_id, child.submission_id, child.sample_type, child.storage_requirement) == (
            parent.organization_id,
            parent.submission_id,
            "serum",
            "-80 °C",
        )
        (event,) = custody.timeline(db_session, child)
        assert (event.action, event.from_location, event.to_location) == (
            CustodyAction.ALIQUOTED,
            "Freezer F-01 / Rack A / Box 1 / A1",
            "at the lab",
        )
    parent_events = custody.timeline(db_session, parent)
    assert (
        parent_events[-1].action == CustodyAction.ALIQUOTED and children[1].accession_number in parent_events[-1].note
    )
    # A child is stored like any sample, and only where its inherited requirement is met.
    storage.store(db_session, children[0], cold_room.box, (1, 2), user=cold_room.clients.technician)
    lineage = aliquots.lineage(db_session, children[0])
    assert lineage.parent.parent_id == parent.id and lineage.children == []


def test_a_shipped_or_rejected_sample_is_not_split(db_session, cold_room):
    first, second = received(db_session, cold_room.clients, "HLX-1", "HLX-2")
    custody.take_action(db_session, first, CustodyAction.SHIPPED, user=cold_room.clients.technician, note="To Helix")
    with pytest.raises(CustodyRefused, match="is shipped; it is split while it is at the lab"):
        _split(db_session, cold_room, first, "1 mL")
    second.status = second.status.__class__("rejected")
    with pytest.raises(AliquotRefused, match="rejected; aliquots are split from an accepted sample"):
        _split(db_session, cold_room, second, "1 mL")


def test_a_technician_splits_on_the_custody_page_and_both_pages_show_the_lineage(client, db_session, cold_room):
    clients = cold_room.clients
    (parent,) = received(db_session, clients)
    login(client, clients.technician)
    page = f"/samples/{parent.public_id}/custody"
    refused = submit(client, page, {"volumes": "1.5 mL\n600 µL"}, action=f"/samples/{parent.public_id}/aliquots")
    assert (
        refused.status_code == 422 and 'id="volumes-error"' in refused.text and "reduce them by 0.1 mL" in refused.text
    )
    done = submit(client, page, {"volumes": "500 µL; 0.75 mL"}, action=f"/samples/{parent.public_id}/aliquots")
    assert done.status_code == 303
    children = aliquots.children_of(db_session, parent)
    shown = client.get(f"/samples/{parent.public_id}").text
    assert all(aliquot.child.accession_number in shown for aliquot in children) and "Remaining: 0.75 mL" in shown
    child_page = client.get(f"/samples/{children[0].child.public_id}").text
    assert (
        f'Aliquot of <a href="/samples/{parent.public_id}">{parent.accession_number}</a> (500 µL taken)' in child_page
    )
    # The client reads the lineage of its own samples, by page and API; another client reads none of it.
    api = client.get(f"/api/v1/samples/{parent.public_id}/lineage", headers=clients.helix_token).json
    assert [item["volume"] for item in api["children"]] == ["500 µL", "0.75 mL"] and api["remaining"] == "0.75 mL"
    child_api = client.get(f"/api/v1/samples/{children[1].child.public_id}/lineage", headers=clients.helix_token).json
    assert child_api["parent"] == {"sample_id": parent.public_id, "accession_number": parent.accession_number}
    assert client.get(f"/api/v1/samples/{parent.public_id}/lineage", headers=clients.nordic_token).status_code == 404


@pytest.mark.parametrize(
    "volumes",
    ["1 mL\x00", "1e40 mL", "9" * 500 + " mL", "; ".join(["1 µL"] * 49), "", "1,5 mL", "x" * 5000],
)
def test_hostile_volumes_are_refused_with_a_message(client, db_session, cold_room, volumes):
    (parent,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    response = submit(
        client,
        f"/samples/{parent.public_id}/custody",
        {"volumes": volumes},
        action=f"/samples/{parent.public_id}/aliquots",
    )
    assert 400 <= response.status_code < 500
    assert aliquots.children_of(db_session, parent) == []


@pytest.mark.parametrize("role", [RoleName.QA, RoleName.CLIENT])
def test_only_technicians_and_managers_split(client, db_session, cold_room, signed_in, role):
    (parent,) = received(db_session, cold_room.clients)
    organization = {"organization": cold_room.clients.helix} if role == RoleName.CLIENT else {}
    signed_in(role, **organization)
    token = csrf_token_from(client.get("/").text)
    response = client.post(f"/samples/{parent.public_id}/aliquots", data={"csrf_token": token, "volumes": "1 mL"})
    assert response.status_code == 403 and "role" in response.text
    assert aliquots.children_of(db_session, parent) == []


def test_a_technician_splits_through_the_api(client, db_session, cold_room):
    (parent,) = received(db_session, cold_room.clients)
    login(client, cold_room.clients.technician)
    token = csrf_token_from(client.get("/").text)
    address = f"/api/v1/samples/{parent.public_id}/aliquots"
    done = client.post(address, json={"volumes": ["0.5 mL", "500 µL"]}, headers={"X-CSRFToken": token})
    assert done.status_code == 201, done.json
    assert [item["status"] for item in done.json["aliquots"]] == ["received", "received"]
    refused = client.post(address, json={"volumes": ["1.5 mL"]}, headers={"X-CSRFToken": token})
    assert refused.status_code == 422 and "reduce them by 0.5 mL" in refused.json["message"]
    hostile = client.post(address, json={"volumes": [10**30]}, headers={"X-CSRFToken": token})
    assert hostile.status_code == 422
