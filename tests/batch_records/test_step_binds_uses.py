"""A step's signatures cover the equipment it used and the lots it took from; a step signed before they did keeps
its signed content, and so its signatures, exactly as they were."""

from __future__ import annotations

import json

from sqlalchemy import text

from batch_records.service import step_uses
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import SignatureStatus
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import sign
from tests.batch_records.test_signing_pages import prepare_selection
from tests.batch_records.test_waiting import text_of


def statuses(db_session, step) -> list[SignatureStatus]:
    db_session.expire_all()
    return [status for _signature, status in signatures.signatures_of(db_session, step)]


def test_a_new_steps_signature_covers_its_equipment_and_lots_and_a_rewrite_of_them_invalidates_it(
    db_session, line, batch
):
    step = prepare_selection(db_session, line, batch)
    content = step.signed_content()
    assert content["equipment"] == [
        "BSC-01 Class II biosafety cabinet (biosafety cabinet)",
        "CEN-01 Sorvall centrifuge (centrifuge)",
    ]
    assert [lot.split(" (supplier")[0] for lot in content["lots"]] == [
        f"250 mL of TexMACS GMP medium from lot {line.medium_lot.lot_number}"
    ]
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    db_session.commit()
    assert statuses(db_session, step) == [SignatureStatus.VALID]
    swapped = {"equipment": ["CEN-99 Another centrifuge (centrifuge)"], "lots": content["lots"]}
    db_session.execute(
        text("UPDATE batch_step SET bound_uses = :uses WHERE id = :id"), {"uses": json.dumps(swapped), "id": step.id}
    )
    assert statuses(db_session, step) == [SignatureStatus.INVALIDATED]


def test_a_step_signed_before_signatures_bound_its_uses_keeps_a_valid_signature_and_shows_them_beside_it(
    app, db_session, line, batch
):
    step = prepare_selection(db_session, line, batch)
    # A step made before the migration: no bound uses (the column it added is NULL), its hash over the rest.
    db_session.execute(text("UPDATE batch_step SET bound_uses = NULL WHERE id = :id"), {"id": step.id})
    db_session.expire(step)
    signatures.refresh_signature_state(db_session, step)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    db_session.commit()
    assert "equipment" not in step.signed_content() and "lots" not in step.signed_content()
    assert statuses(db_session, step) == [SignatureStatus.VALID]
    page = text_of(signed_in_as(app, db_session, line.qa).get(f"/sign/batch_step/{step.id}/reviewed").text)
    assert "Recorded with it" in page and "Equipment used BSC-01" in page
    assert step_uses.attested_with_step(db_session, step)["Lots taken from"]
