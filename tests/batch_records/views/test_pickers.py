"""The floor's pickers stay the same size whatever the registry holds: a search field and the first usable matches,
filtered in SQL; a search reaches any item, and an item that may not be used is refused when posted anyway."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest

from batch_records.cart_line import calibrated
from batch_records.service import step_uses
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.materials.models import LotStatus, MaterialLot
from lims.pagination import PICKER_SIZE
from lims.units.parsing import parse_measurement
from protocols.models import Subject
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import do_receipt
from tests.helpers import counted_statements, duplicate_ids, submit

CENTRIFUGES = "equipment_id-equipment-centrifuge"


def options_of(page: str, select_id: str) -> list[str]:
    """The texts of the options of the select ``select_id``."""
    [select] = re.findall(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, flags=re.S)
    return [text.strip() for text in re.findall(r"<option[^>]*>([^<]*)</option>", select)]


def add_centrifuges(session, count: int, *, first: int = 100, due_on=None) -> list[Equipment]:
    """``count`` more usable centrifuges, CEN-<first>..., beside the line's CEN-01."""
    made = []
    for number in range(first, first + count):
        item = Equipment(
            asset_tag=f"CEN-{number}",
            name="Sorvall centrifuge",
            equipment_type=EquipmentType.CENTRIFUGE,
            location="Cleanroom B",
            manufacturer="Thermo",
            model="ST 4",
            serial_number=f"SN-{number}",
            calibration_interval_days=365,
            owner_id=None,
            created_at=clock.now(),
        )
        session.add(item)
        made.append(calibrated(session, item, due_on=due_on or TODAY + timedelta(days=200)))
    session.flush()
    return made


def add_lots(session, line, count: int, *, first: int = 100) -> list[MaterialLot]:
    """``count`` more released lots of medium, each expiring a day later than the one before."""
    made = []
    for number in range(first, first + count):
        lot = MaterialLot(
            material=line.medium,
            lot_number=f"MED-001-EXTRA-{number}",
            supplier="Miltenyi",
            supplier_lot=f"SUP-{number}",
            received_on=TODAY - timedelta(days=10),
            expires_on=TODAY + timedelta(days=100 + number),
            quantity_received=parse_measurement("500 mL"),
            quantity_remaining=parse_measurement("500 mL"),
            status=LotStatus.RELEASED,
            received_by_id=line.operator.id,
        )
        session.add(lot)
        made.append(lot)
    session.flush()
    return made


@pytest.fixture
def at_selection(db_session, line, batch):
    """The batch at step 2, which needs a biosafety cabinet, a centrifuge and medium."""
    do_receipt(db_session, batch, line)
    return batch.steps[1]


def test_the_step_page_sends_as_many_statements_and_shows_as_many_options_for_200_items_as_for_25(
    app, db_session, line, at_selection
):
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{at_selection.id}"
    lot_select = f"lot_id-lot-{at_selection.materials[0].id}"

    def measured() -> tuple[int, int, int]:
        # The items added and their audit events are written first, as the request that made them would have: the
        # trail writes waiting events before the next read (a statement) or by COPY (none) from 200 of them.
        db_session.commit()
        db_session.expire_all()
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get(url)
        assert page.status_code == 200
        return len(traffic.statements), len(options_of(page.text, CENTRIFUGES)), len(options_of(page.text, lot_select))

    add_centrifuges(db_session, 25)
    add_lots(db_session, line, 25)
    few = measured()
    add_centrifuges(db_session, 175, first=200)
    add_lots(db_session, line, 175, first=200)
    many = measured()
    assert few == many
    assert few[1:] == (PICKER_SIZE, PICKER_SIZE)


def test_a_search_finds_an_item_beyond_the_first_matches_and_the_next_page_goes_on(app, db_session, line, at_selection):
    add_centrifuges(db_session, 60)
    lots = add_lots(db_session, line, 60)
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{at_selection.id}"
    first = client.get(url).text
    assert "CEN-159 — " not in first and lots[-1].lot_number not in first
    found = client.get(f"{url}?{urlencode({'picker': 'equipment-centrifuge', 'find': 'cen-159'})}").text
    assert options_of(found, CENTRIFUGES) == ["CEN-159 — Sorvall centrifuge"]
    assert "Matching “cen-159”" in found and duplicate_ids(found) == []
    lot_key = f"lot-{at_selection.materials[0].id}"
    by_supplier_lot = client.get(f"{url}?{urlencode({'picker': lot_key, 'find': 'SUP-159'})}").text
    assert [option.split(" — ")[0] for option in options_of(by_supplier_lot, f"lot_id-{lot_key}")] == [
        lots[-1].lot_number
    ]
    [next_link] = re.findall(r'<a href="([^"]+)">the next 20</a>', first.split(f'id="lot_id-{lot_key}"')[1])
    second = client.get(next_link.replace("&amp;", "&")).text
    shown = [option.split(" — ")[0] for option in options_of(second, f"lot_id-{lot_key}")]
    assert shown[0] == lots[PICKER_SIZE - 1].lot_number, "the line's own lot comes first, then the extra ones"
    assert "Back to the first matches" in second


def test_a_search_names_a_matching_item_that_may_not_be_used_with_why(app, db_session, line, at_selection):
    calibrated(db_session, line.centrifuge, due_on=TODAY - timedelta(days=3))
    client = signed_in_as(app, db_session, line.operator)
    page = client.get(f"/batch-steps/{at_selection.id}?picker=equipment-centrifuge&find=CEN-01").text
    assert options_of(page, CENTRIFUGES) == ["No usable centrifuge matching “CEN-01”"]
    assert "CEN-01 (Sorvall centrifuge) cannot be used: its calibration was due on 2030-04-07." in page
    assert 'disabled aria-disabled="true">Record centrifuge' in page


def test_an_overdue_centrifuge_or_an_expired_lot_posted_anyway_is_refused_and_nothing_recorded(
    app, db_session, line, at_selection
):
    overdue = add_centrifuges(db_session, 1)[0]
    calibrated(db_session, overdue, due_on=TODAY - timedelta(days=1))
    expired = add_lots(db_session, line, 1)[0]
    with audit_context.reason_for_change(db_session, "Expired for the test"):
        expired.expires_on = TODAY - timedelta(days=1)
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{at_selection.id}"
    refused = submit(client, url, {"equipment_id": overdue.id}, action=f"{url}/equipment")
    assert refused.status_code == 409
    assert "CEN-100 (Sorvall centrifuge) cannot be used: its calibration was due on 2030-04-09." in refused.text
    taken = submit(
        client,
        url,
        {"requirement_id": at_selection.materials[0].id, "lot_id": expired.id, "quantity": "250 mL"},
        action=f"{url}/materials",
    )
    assert taken.status_code == 409 and f"Lot {expired.lot_number} of TexMACS GMP medium cannot be used" in taken.text
    db_session.expire_all()
    uses = step_uses.uses_of_steps(db_session, [at_selection])[at_selection.id]
    assert uses.equipment == [] and uses.consumptions == []


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({"picker": "equipment-centrifuge", "find": "CEN\x00"}, 422),
        ({"picker": "equipment-centrifuge", "find": "C" * 101}, 422),
        ({"picker": "equipment-centrifuge", "after": "not-a-cursor"}, 422),
        ({"picker": "lot-1", "after": "W10="}, 422),
    ],
    ids=["NUL byte", "search too long", "cursor not given out", "cursor of the wrong shape"],
)
def test_a_hostile_search_is_refused_with_a_message(app, db_session, line, at_selection, query, status):
    client = signed_in_as(app, db_session, line.operator)
    query = {**query, "picker": query["picker"].replace("lot-1", f"lot-{at_selection.materials[0].id}")}
    answer = client.get(f"/batch-steps/{at_selection.id}?{urlencode(query)}")
    assert answer.status_code == status


def test_a_search_with_like_wildcards_takes_them_literally(app, db_session, line, at_selection):
    add_centrifuges(db_session, 3)
    client = signed_in_as(app, db_session, line.operator)
    page = client.get(f"/batch-steps/{at_selection.id}?picker=equipment-centrifuge&find=%25").text
    assert options_of(page, CENTRIFUGES) == ["No usable centrifuge matching “%”"]


def test_starting_a_batch_offers_the_first_subjects_and_finds_any_by_code(app, db_session, line):
    for number in range(30):
        db_session.add(
            Subject(
                protocol_id=line.subject.protocol_id,
                version_id=line.subject.version_id,
                code=f"HLX-9{number:03d}",
                site="01",
                arm_id=line.subject.arm_id,
                enrolled_on=TODAY,
                consent_version="1.0",
            )
        )
    db_session.flush()
    client = signed_in_as(app, db_session, line.operator)
    page = client.get("/batches/new").text
    assert len(options_of(page, "subject_id")) == PICKER_SIZE and "HLX-9029" not in page
    found = client.get("/batches/new?picker=subject&find=9029").text
    assert [option.split(" (")[0] for option in options_of(found, "subject_id")] == ["HLX-9029"]
