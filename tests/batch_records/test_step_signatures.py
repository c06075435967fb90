"""The signatures of steps: a verifier is trained like a performer, and a skipped step is signed by whoever skips it."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from batch_records.errors import StepNotSkippable
from batch_records.models import StepStatus
from batch_records.service import release, step_signatures
from lims.audit.errors import ReasonRequired
from lims.identity.errors import LoginFailed
from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.training import service as training
from lims.training.errors import NotTrained
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import do_receipt, do_selection, enter, sign
from tests.helpers import PASSWORD, submit


def performed_receipt(db_session, batch, line):
    step = batch.steps[0]
    enter(db_session, step, {"Volume": "180", "Temperature on receipt": "4.5 °C"}, line.operator)
    sign(db_session, step, SignatureMeaning.PERFORMED, line.operator)
    return step


def test_verifying_a_step_needs_training_on_the_master_record_version(db_session, line, batch):
    step = performed_receipt(db_session, batch, line)
    with pytest.raises(NotTrained):
        sign(db_session, step, SignatureMeaning.VERIFIED, line.untrained)
    assert not signatures.signers_with_meaning(db_session, step, SignatureMeaning.VERIFIED)
    training.record_training(
        db_session,
        user=line.untrained,
        subject=line.version.training_subject,
        trained_on=TODAY,
        expires_on=None,
        recorded_by=line.author,
    )
    sign(db_session, step, SignatureMeaning.VERIFIED, line.untrained)
    assert signatures.signers_with_meaning(db_session, step, SignatureMeaning.VERIFIED) == [line.untrained.id]


def test_an_untrained_verifier_is_refused_on_the_signing_page(app, db_session, line, batch):
    step = performed_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.untrained)
    url = f"/sign/batch_step/{step.id}/verified"
    refused = client.get(url)
    assert refused.status_code == 403 and "training" in refused.text.lower()
    assert "Verify (second person)" not in client.get(f"/batch-steps/{step.id}").text
    trained = signed_in_as(app, db_session, line.second_operator)
    assert "Verify (second person)" in trained.get(f"/batch-steps/{step.id}").text
    assert submit(trained, url, {"password": PASSWORD}).status_code == 303


def reach_the_skippable_step(db_session, batch, line):
    do_receipt(db_session, batch, line)
    do_selection(db_session, batch, line)
    return batch.steps[2]


def test_a_skipped_step_is_signed_by_whoever_skips_it_with_the_reason(db_session, line, batch):
    step = reach_the_skippable_step(db_session, batch, line)
    signature = step_signatures.skip_step(
        db_session, step, reason="  Count on target  ", user=line.second_operator, password=PASSWORD
    )
    assert step.status == StepStatus.SKIPPED and step.skip_reason == "Count on target"
    assert signature.meaning == SignatureMeaning.SKIPPED and signature.signer_id == line.second_operator.id
    assert signatures.signatures_of(db_session, step)[-1] == (signature, signatures.SignatureStatus.VALID)
    assert step.signed_content()["skip_reason"] == "Count on target"
    review = release.review(db_session, batch.id)
    assert [record.step for record in review.skipped] == [step]
    assert review.verification_gaps == ["Step 4 (Harvest and count) is pending"]


def test_skipping_is_refused_without_a_reason_a_password_a_role_or_a_skippable_step(
    db_session, line, batch, create_user
):
    step = reach_the_skippable_step(db_session, batch, line)
    with pytest.raises(ReasonRequired, match="Say why the step is skipped"):
        step_signatures.skip_step(db_session, step, reason="  ", user=line.operator, password=PASSWORD)
    with pytest.raises(LoginFailed):
        step_signatures.skip_step(db_session, step, reason="Count on target", user=line.operator, password="wrong")
    with pytest.raises(SignatureRefused, match="may not sign a batch step as skipped"):
        step_signatures.skip_step(
            db_session, step, reason="Count on target", user=create_user(RoleName.QA), password=PASSWORD
        )
    with pytest.raises(NotTrained):
        step_signatures.skip_step(db_session, step, reason="Count on target", user=line.untrained, password=PASSWORD)
    assert step.status == StepStatus.PENDING and step.skip_reason is None
    assert not db_session.scalars(
        select(ElectronicSignature).where(ElectronicSignature.meaning == SignatureMeaning.SKIPPED)
    ).all()


def test_signing_as_skipped_without_going_through_the_skip_form_is_refused(db_session, line, batch):
    with pytest.raises(StepNotSkippable, match="cannot be skipped: the master record requires it"):
        sign(db_session, batch.steps[0], SignatureMeaning.SKIPPED, line.operator)
    step = reach_the_skippable_step(db_session, batch, line)
    with pytest.raises(ReasonRequired):
        sign(db_session, step, SignatureMeaning.SKIPPED, line.operator)
    assert step.status == StepStatus.PENDING


def test_the_skip_form_asks_for_the_password_and_the_review_lists_the_skipped_step(app, db_session, line, batch):
    step = reach_the_skippable_step(db_session, batch, line)
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{step.id}"
    assert "Sign and skip step" in client.get(url).text
    no_password = submit(client, url, {"reason": "Count on target"}, action=f"{url}/skip")
    assert no_password.status_code == 422 and "Enter your password to sign the skipped step." in no_password.text
    wrong = submit(client, url, {"reason": "Count on target", "password": "wrong-password"}, action=f"{url}/skip")
    assert wrong.status_code == 401
    db_session.expire_all()
    assert step.status == StepStatus.PENDING and step.skip_reason is None
    skipped = submit(client, url, {"reason": "Count <on> target", "password": PASSWORD}, action=f"{url}/skip")
    assert skipped.status_code == 303
    db_session.expire_all()
    assert step.status == StepStatus.SKIPPED

    review = signed_in_as(app, db_session, line.qa).get(f"/batches/{batch.id}/review").text
    assert "Skipped steps" in review
    assert "Step 3 (Optional medium top-up): Count &lt;on&gt; target — skipped by Tran Nguyen" in review
