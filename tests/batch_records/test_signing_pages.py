"""The signing page names what is signed as people call it and shows all it covers; after signing, the step's page
offers what comes next."""

from __future__ import annotations

import re

from batch_records.models import DeviationCategory
from batch_records.service import deviations, execution
from lims.materials import service as materials
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import DUE_SOON, do_receipt, execute_all_steps, sign
from tests.batch_records.test_waiting import text_of
from tests.helpers import PASSWORD, submit


def prepare_selection(db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_equipment_use(db_session, step, line.cabinet, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_equipment_use(db_session, step, line.centrifuge, user=line.operator, due_soon_days=DUE_SOON)
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    execution.record_entries(db_session, step, {step.parameters[0].id: "92.4"}, user=line.operator)
    return step


def test_the_signing_page_names_the_step_and_shows_its_entries_equipment_and_lots(app, db_session, line, batch):
    step = prepare_selection(db_session, line, batch)
    client = signed_in_as(app, db_session, line.operator)
    page = client.get(f"/sign/batch_step/{step.id}/performed").text
    assert f"<h1>Sign step 2. CD4/CD8 selection of batch {batch.batch_number} as “performed”</h1>" in page
    shown = text_of(page)
    assert "CD3+ purity: 92.4 %" in shown
    assert "Equipment BSC-01" in shown and "CEN-01 Sorvall centrifuge (centrifuge)" in shown
    lot = line.medium_lot
    assert (
        f"Lots 250 mL of TexMACS GMP medium from lot {lot.lot_number} (supplier lot {lot.supplier_lot}, "
        f"expires {lot.expires_on.isoformat()})"
    ) in shown
    assert "Recorded with it" not in shown, "the equipment and lots are part of the signed content itself"
    assert "batch step" not in shown.lower()


def test_a_lot_is_signed_under_its_lot_number(app, db_session, line):
    lot = materials.receive_lot(
        db_session,
        line.medium,
        supplier="Miltenyi",
        supplier_lot="Q1",
        received_on=TODAY,
        expires_on=TODAY.replace(year=TODAY.year + 1),
        quantity=parse_measurement("500 mL"),
        user=line.operator,
    )
    page = signed_in_as(app, db_session, line.qa).get(f"/sign/material_lot/{lot.id}/released").text
    assert f"<h1>Sign lot {lot.lot_number} of TexMACS GMP medium as “released”</h1>" in page
    assert "Recorded with it" not in page


def test_after_signing_the_step_page_offers_the_next_step_and_says_who_signs_next(app, db_session, line, batch):
    step = prepare_selection(db_session, line, batch)
    client = signed_in_as(app, db_session, line.operator)
    step_url = f"/batch-steps/{step.id}"
    signed = submit(
        client, f"/sign/batch_step/{step.id}/performed?next={step_url}", {"password": PASSWORD, "next": step_url}
    )
    assert signed.status_code == 303 and signed.headers["Location"].endswith(step_url)
    page = client.get(step_url).text
    assert f"Step 2. CD4/CD8 selection of batch {batch.batch_number} signed as performed." in page
    shown = text_of(page)
    assert "What comes next" in shown
    assert "the batch goes on once QA has reviewed it" in shown
    next_step = batch.steps[2]
    assert f'href="/batch-steps/{next_step.id}">Next: step 3. {next_step.title}</a>' in page
    assert "Next: The batch goes on once QA has reviewed this hold point." in shown, "the flash after signing"
    db_session.expire_all()  # the page signed in its own session
    sign(db_session, step, SignatureMeaning.REVIEWED, line.qa)
    db_session.commit()
    assert "the batch goes on once QA has reviewed it" not in text_of(client.get(step_url).text)


def test_a_step_not_yet_signed_offers_no_next_step(app, db_session, line, batch):
    step = prepare_selection(db_session, line, batch)
    page = signed_in_as(app, db_session, line.operator).get(f"/batch-steps/{step.id}").text
    assert "What comes next" not in page and "Next: step" not in page


def signed_through_the_page(client, entity_type: str, entity_id: int, meaning: str, back_to: str) -> str:
    """Sign on the signing page as a user does, and read the page it returns to."""
    signed = submit(
        client, f"/sign/{entity_type}/{entity_id}/{meaning}?next={back_to}", {"password": PASSWORD, "next": back_to}
    )
    assert signed.status_code == 303, signed.text
    return client.get(back_to).text


def test_after_qa_reviews_a_hold_point_the_page_offers_the_step_to_work_on_now(app, db_session, line, batch):
    step = prepare_selection(db_session, line, batch)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    db_session.commit()
    page = signed_through_the_page(
        signed_in_as(app, db_session, line.qa), "batch_step", step.id, "reviewed", f"/batch-steps/{step.id}"
    )
    following = batch.steps[2]
    assert re.search(
        rf'<div class="flash flash-next-step" role="status"><strong>Next:</strong> Step 2 is signed\. '
        rf'<a class="button" href="/batch-steps/{following.id}">Next: step 3\. {re.escape(following.title)}</a></div>',
        page,
    )


def test_after_qa_releases_a_lot_the_page_says_what_it_means_and_offers_the_lots_still_in_quarantine(
    app, db_session, line
):
    lot = materials.receive_lot(
        db_session,
        line.medium,
        supplier="Miltenyi",
        supplier_lot="Q1 <b>",
        received_on=TODAY,
        expires_on=TODAY.replace(year=TODAY.year + 1),
        quantity=parse_measurement("500 mL"),
        user=line.operator,
    )
    db_session.commit()
    lot_url = f"/materials/lots/{lot.id}"
    page = signed_through_the_page(signed_in_as(app, db_session, line.qa), "material_lot", lot.id, "released", lot_url)
    assert (
        f"<strong>Next:</strong> Lot {lot.lot_number} can be taken for batches until it expires on "
        f'{lot.expires_on.isoformat()}. <a class="button" href="/materials">Lots in quarantine</a>'
    ) in page


def test_after_closing_a_deviation_qa_is_offered_the_batch_review(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    deviation = deviations.raise_deviation(db_session, batch, description="Label smudged", user=line.operator)
    deviations.record_investigation(
        db_session,
        deviation,
        deviations.InvestigationInput(
            category=DeviationCategory.MINOR,
            investigation="Label checked against the COI record: legible, matching.",
            root_cause="Printer ribbon worn",
            other_batches_assessed="None affected",
            conclusion="No impact on identity",
            capa="Ribbon replaced",
        ),
        reason="Investigation completed",
    )
    db_session.commit()
    page = signed_through_the_page(
        signed_in_as(app, db_session, line.qa), "deviation", deviation.id, "approved", f"/deviations/{deviation.id}"
    )
    assert f'<a class="button" href="/batches/{batch.id}/review">Review batch {batch.batch_number}</a>' in page
