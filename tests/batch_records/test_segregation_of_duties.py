"""Segregation of duties: whoever worked on a batch does not sign its release or rejection, even holding QA's role."""

from __future__ import annotations

import pytest

from batch_records.errors import DispositionByContributor
from batch_records.models import BatchStatus
from batch_records.service import execution, release, step_signatures
from lims.identity.models import RoleName
from lims.signatures.models import SignatureMeaning
from lims.training import service as training
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import (
    do_harvest,
    do_receipt,
    do_selection,
    enter,
    execute_all_steps,
    pass_release_tests,
    release_batch,
    review_trail,
    sign,
)
from tests.helpers import PASSWORD, submit


@pytest.fixture
def technician_and_qa(db_session, line, create_user):
    """Someone holding both roles, trained on the master record and on its release test methods."""
    both = create_user(RoleName.TECHNICIAN, RoleName.QA, full_name="Robin Both")
    subjects = [
        line.version.training_subject,
        *(test.definition.training_subject for test in line.version.release_tests),
    ]
    for subject in subjects:
        training.record_training(
            db_session, user=both, subject=subject, trained_on=TODAY, expires_on=None, recorded_by=line.author
        )
    return both


def receipt_performed_by(db_session, batch, line, performer):
    """The batch ready for release, its first step performed by ``performer``."""
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180", "Temperature on receipt": "4.5 °C"}, performer)
    sign(db_session, step, SignatureMeaning.PERFORMED, performer)
    sign(db_session, step, SignatureMeaning.VERIFIED, line.second_operator)
    do_selection(db_session, batch, line)
    step_signatures.skip_step(
        db_session, batch.steps[2], reason="Count on target", user=line.operator, password=PASSWORD
    )
    do_harvest(db_session, batch, line)
    pass_release_tests(db_session, batch, line)


def test_who_performed_and_recorded_on_a_step_cannot_release_the_batch(db_session, line, batch, technician_and_qa):
    receipt_performed_by(db_session, batch, line, technician_and_qa)
    with pytest.raises(DispositionByContributor) as refusal:
        release.dispose(db_session, batch, SignatureMeaning.RELEASED, user=technician_and_qa, password=PASSWORD)
    assert str(refusal.value) == (
        f"You performed step 1 and recorded a value on step 1 of batch {batch.batch_number}: its release or "
        "rejection is signed by someone who did not work on it."
    )
    assert batch.status == BatchStatus.AWAITING_REVIEW
    release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED


def test_who_verified_a_step_or_a_result_cannot_reject_the_batch(db_session, line, batch, technician_and_qa):
    do_receipt(db_session, batch, line)
    do_selection(db_session, batch, line)
    step_signatures.skip_step(
        db_session, batch.steps[2], reason="Count on target", user=line.operator, password=PASSWORD
    )
    harvest = batch.steps[3]
    enter(db_session, harvest, {"Viable cell concentration": "2.4 ×10^6 cells/mL"}, line.operator)
    execution.record_yield(db_session, harvest, parse_measurement("1.9 ×10^9 cells"), user=line.operator)
    sign(db_session, harvest, SignatureMeaning.PERFORMED, line.operator)
    sign(db_session, harvest, SignatureMeaning.VERIFIED, technician_and_qa)
    viability = release.record_release_result(db_session, batch.release_tests[0], "91", user=line.operator)
    sign(db_session, viability, SignatureMeaning.VERIFIED, technician_and_qa)
    with pytest.raises(DispositionByContributor, match="You verified step 4 and verified the Viability result of"):
        release.dispose(
            db_session,
            batch,
            SignatureMeaning.REJECTED,
            user=technician_and_qa,
            password=PASSWORD,
            reason="Sterility pending too long",
        )
    assert batch.status == BatchStatus.AWAITING_REVIEW
    # Quarantine decides nothing: it only holds the batch for someone else's decision.
    release.dispose(
        db_session,
        batch,
        SignatureMeaning.QUARANTINED,
        user=technician_and_qa,
        password=PASSWORD,
        reason="Hold for an independent QA review",
    )
    assert batch.status == BatchStatus.QUARANTINED


def test_who_recorded_a_release_result_cannot_release_and_qa_reviewing_a_hold_point_still_may(
    db_session, line, batch, technician_and_qa
):
    execute_all_steps(db_session, batch, line)
    for release_test, reported in zip(batch.release_tests, ("91.5", "No growth"), strict=True):
        result = release.record_release_result(db_session, release_test, reported, user=technician_and_qa)
        sign(db_session, result, SignatureMeaning.VERIFIED, line.second_operator)
    review = release.review(db_session, batch.id)
    assert review.work_of(technician_and_qa) == ["recorded the Viability result", "recorded the Sterility result"]
    assert review.work_of(line.qa) == [], "QA reviewed the hold point: that is no work on the batch"
    with pytest.raises(DispositionByContributor):
        release.dispose(db_session, batch, SignatureMeaning.RELEASED, user=technician_and_qa, password=PASSWORD)
    release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED


def test_the_review_page_tells_a_contributor_why_and_refuses_their_release(
    app, db_session, line, batch, technician_and_qa
):
    receipt_performed_by(db_session, batch, line, technician_and_qa)
    client = signed_in_as(app, db_session, technician_and_qa)
    url = f"/batches/{batch.id}/review"
    page = client.get(url).text
    assert 'id="segregation-of-duties"' in page
    assert "You performed step 1 and recorded a value on step 1 of batch" in page
    assert 'value="released" ' in page and 'value="released"  disabled' in page
    refused = submit(
        client, url, {"meaning": "released", "password": PASSWORD}, action=f"/batches/{batch.id}/disposition"
    )
    assert refused.status_code == 403 and "did not work on it" in refused.text
    db_session.expire_all()
    assert batch.status == BatchStatus.AWAITING_REVIEW

    review_trail(db_session, batch, line)
    qa = signed_in_as(app, db_session, line.qa)
    assert 'id="segregation-of-duties"' not in qa.get(url).text
    released = submit(qa, url, {"meaning": "released", "password": PASSWORD}, action=f"/batches/{batch.id}/disposition")
    assert released.status_code == 303
    db_session.expire_all()
    assert batch.status == BatchStatus.RELEASED
