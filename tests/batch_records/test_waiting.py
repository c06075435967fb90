"""A batch held up says so where people look, with who can unblock it; the floor offers only the forms still needed."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from batch_records.cart_line import calibrated
from batch_records.errors import AlreadyRecorded
from batch_records.service import batches, execution, step_uses, waiting
from lims.audit import context as audit_context
from lims.identifiers import IdentifierRule
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_audit_names import counted_statements
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import DUE_SOON, do_receipt, sign


def expire(db_session, lot) -> None:
    with audit_context.reason_for_change(db_session, "Expired for the test"):
        lot.expires_on = TODAY - timedelta(days=1)


def text_of(page: str) -> str:
    """The page's words as a reader sees them: tags dropped, spaces collapsed, entities read."""
    return html.unescape(" ".join(re.sub(r"<[^>]+>", " ", page).split()))


@pytest.fixture
def held(db_session, line, batch):
    """The batch at step 2 with its only lot of medium expired and its centrifuge overdue."""
    do_receipt(db_session, batch, line)
    expire(db_session, line.medium_lot)
    calibrated(db_session, line.centrifuge, due_on=TODAY - timedelta(days=3))
    return batch


MEDIUM_WAIT = "waiting: no usable lot of TexMACS GMP medium (lot {lot} expired on 2030-04-09)"
CENTRIFUGE_WAIT = "waiting: no usable centrifuge (CEN-01 (Sorvall centrifuge) cannot be used: its calibration was due"


def test_the_service_names_every_reason_and_who_can_unblock_it(db_session, line, held):
    waits = waiting.waiting_batches(db_session, due_soon_days=DUE_SOON)[held.id]
    assert {(wait.step.position, wait.reason, wait.unblocked_by) for wait in waits} == {
        (
            2,
            f"no usable lot of TexMACS GMP medium (lot {line.medium_lot.lot_number} expired on 2030-04-09)",
            "a technician or manager (receive a new lot), then QA (release it)",
        ),
        (
            2,
            "no usable centrifuge (CEN-01 (Sorvall centrifuge) cannot be used: its calibration was due on 2030-04-07)",
            "a technician or manager (calibrate it)",
        ),
    }


def test_a_lot_in_quarantine_names_qa_and_the_lot_to_release(db_session, line, held):
    quarantined = materials.receive_lot(
        db_session,
        line.medium,
        supplier="Miltenyi",
        supplier_lot="Q1",
        received_on=TODAY,
        expires_on=TODAY + timedelta(days=60),
        quantity=parse_measurement("500 mL"),
        user=line.operator,
    )
    [medium] = [
        wait for wait in waiting.waiting_batches(db_session, due_soon_days=DUE_SOON)[held.id] if "medium" in wait.reason
    ]
    assert f"lot {quarantined.lot_number} in quarantine: not released by QA" in medium.reason
    assert medium.unblocked_by.startswith(f"QA (release lot {quarantined.lot_number})")
    sign(db_session, quarantined, SignatureMeaning.RELEASED, line.qa)
    still = waiting.waiting_batches(db_session, due_soon_days=DUE_SOON)[held.id]
    assert [wait.reason for wait in still if "medium" in wait.reason] == [], "a released lot unblocks the batch"


def test_a_hold_point_waits_for_qa_and_a_batch_with_what_it_needs_waits_for_nothing(db_session, line, batch):
    assert waiting.waiting_batches(db_session, due_soon_days=DUE_SOON) == {}
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_equipment_use(db_session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    execution.record_entries(db_session, step, {step.parameters[0].id: "92.4"}, user=line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    [wait] = waiting.waiting_batches(db_session, due_soon_days=DUE_SOON)[batch.id]
    assert wait.step.position == 3
    assert wait.reason == f"QA's review of the hold point at step 2 ({step.title})"
    assert wait.unblocked_by == "QA (review the hold point)"
    sign(db_session, step, SignatureMeaning.REVIEWED, line.qa)
    assert waiting.waiting_batches(db_session, due_soon_days=DUE_SOON) == {}


def test_batch_list_batch_page_and_step_page_say_what_the_batch_waits_for(app, db_session, line, held):
    lot = line.medium_lot.lot_number
    client = signed_in_as(app, db_session, line.operator)
    listed = text_of(client.get("/batches").text.split("<tbody>")[1])
    assert MEDIUM_WAIT.format(lot=lot) in listed and CENTRIFUGE_WAIT in listed
    assert "who can unblock it: a technician or manager (calibrate it)" in listed
    batch_page = text_of(client.get(f"/batches/{held.id}").text)
    assert "Waiting at step 2 (CD4/CD8 selection)." in batch_page and MEDIUM_WAIT.format(lot=lot) in batch_page
    step_page = client.get(f"/batch-steps/{held.steps[1].id}").text
    assert MEDIUM_WAIT.format(lot=lot) in text_of(step_page)
    # Nothing can be taken: the button is disabled and says so to assistive technology too.
    assert re.search(
        r'<button type="submit" class="secondary" disabled aria-disabled="true">Take from lot</button>', step_page
    )
    assert text_of(client.get(f"/batch-steps/{held.steps[0].id}").text).count("waiting:") == 0
    # ... and looks it: the stylesheet greys out every disabled button, whatever its kind, with a dashed border.
    with client.get("/static/lims.css") as response:
        stylesheet = response.text
    [disabled_rule] = re.findall(r'button:disabled, button\[aria-disabled="true"\][^{]*\{([^}]*)\}', stylesheet)
    assert "cursor: not-allowed" in disabled_rule and "border-style: dashed" in disabled_rule


def test_a_batch_that_waits_for_nothing_shows_no_notice(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.operator)
    assert "waiting:" not in client.get("/").text
    assert "waiting:" not in client.get("/batches").text and "waiting:" not in client.get(f"/batches/{batch.id}").text


def test_the_dashboard_names_the_held_batch_what_it_waits_for_and_who_can_unblock_it(
    app, db_session, line, held, create_user
):
    lot = line.medium_lot.lot_number
    for user in (line.operator, line.qa):
        dashboard = text_of(signed_in_as(app, db_session, user).get("/").text)
        assert "Waiting for someone 1 batch held up" in dashboard
        assert f"Batch {held.batch_number}, step 2. CD4/CD8 selection" in dashboard
        assert MEDIUM_WAIT.format(lot=lot) in dashboard
        assert "Who can unblock it: a technician or manager (receive a new lot), then QA (release it)" in dashboard
        assert CENTRIFUGE_WAIT in dashboard
        assert "Who can unblock it: a technician or manager (calibrate it)" in dashboard
    admin = create_user(RoleName.ADMIN)
    db_session.commit()
    assert "Waiting for someone" not in signed_in_as(app, db_session, admin).get("/").text


def test_the_dashboard_finds_a_wait_for_equipment_alone_and_for_a_hold_point(app, db_session, line, batch):
    do_receipt(db_session, batch, line)
    calibrated(db_session, line.centrifuge, due_on=TODAY - timedelta(days=3))
    db_session.commit()
    client = signed_in_as(app, db_session, line.operator)
    dashboard = text_of(client.get("/").text)
    assert CENTRIFUGE_WAIT in dashboard and "TexMACS" not in dashboard
    calibrated(db_session, line.centrifuge, due_on=TODAY + timedelta(days=100))
    step = batch.steps[1]
    execution.record_equipment_use(db_session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    execution.record_entries(db_session, step, {step.parameters[0].id: "92.4"}, user=line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    db_session.commit()
    dashboard = text_of(client.get("/").text)
    assert f"waiting: QA's review of the hold point at step 2 ({step.title})" in dashboard
    assert "Who can unblock it: QA (review the hold point)" in dashboard


def test_the_dashboard_counts_every_held_batch_and_names_the_first_in_as_many_statements_for_many_as_for_one(
    app, db_session, line, held
):
    client = signed_in_as(app, db_session, line.operator)

    def dashboard() -> tuple[int, str]:
        db_session.expire_all()
        with counted_statements(db_session) as statements:
            page = client.get("/")
        assert page.status_code == 200
        return len(statements), text_of(page.text)

    one, shown = dashboard()
    assert "1 batch held up" in shown
    for number in range(2, waiting.HELD_SHOWN + 4):
        other = batches.start_batch(
            db_session,
            line.version,
            subject=line.subject,
            starting_material_identity=f"SM{number:04d}",
            user=line.operator,
            identity_rule=IdentifierRule(r"SM\d+"),
        )
        do_receipt(db_session, other, line)
    db_session.commit()
    many, shown = dashboard()
    assert many == one
    assert f"{waiting.HELD_SHOWN + 3} batches held up" in shown and "(3 more not named here)" in shown
    assert shown.count("waiting: no usable lot of TexMACS GMP medium") == waiting.HELD_SHOWN


def test_the_batch_list_finds_what_batches_wait_for_in_as_many_statements_for_many_as_for_one(
    app, db_session, line, held
):
    client = signed_in_as(app, db_session, line.operator)

    def statements_for(url: str) -> int:
        with counted_statements(db_session) as statements:
            page = client.get(url)
        assert page.status_code == 200
        return len(statements)

    one = statements_for("/batches")
    for identity in ("W1234 26 000002 L", "W1234 26 000003 J"):
        other = batches.start_batch(
            db_session, line.version, subject=line.subject, starting_material_identity=identity, user=line.operator
        )
        do_receipt(db_session, other, line)
    db_session.commit()
    assert text_of(client.get("/batches").text).count("waiting: no usable lot of TexMACS GMP medium") == 3
    assert statements_for("/batches") == one


def test_a_step_page_offers_no_form_for_what_is_recorded_and_the_rest_of_a_partly_taken_material(
    app, db_session, line, batch
):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    client = signed_in_as(app, db_session, line.operator)
    page = client.get(f"/batch-steps/{step.id}").text
    assert ">Record centrifuge</button>" in page and ">Take from lot</button>" in page
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("100 mL"), user=line.operator
    )
    db_session.commit()
    page = client.get(f"/batch-steps/{step.id}").text
    assert ">Record centrifuge</button>" not in page and ">Record biosafety cabinet</button>" in page
    assert "100 mL of 250 mL taken so far: take the rest, from this lot or another." in page
    assert ">Take the rest from lot</button>" in page and 'value="150 mL"' in page
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("0.15 L"), user=line.operator
    )
    db_session.commit()
    page = client.get(f"/batch-steps/{step.id}").text
    assert "Take the rest" not in page and ">Take from lot</button>" not in page


def test_a_second_item_of_a_type_the_step_has_recorded_is_refused(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    with pytest.raises(AlreadyRecorded, match="needs one centrifuge, and CEN-01 is recorded already"):
        execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    assert len(step_uses.uses_of_steps(db_session, [step])[step.id].equipment) == 1
