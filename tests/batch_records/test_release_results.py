"""Release results through the batch page: only an analyst trained on the test method records or verifies one."""

from __future__ import annotations

from batch_records.service import release
from lims.training import service as training
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.helpers import PASSWORD, submit


def test_an_analyst_untrained_on_the_method_cannot_record_a_result(app, db_session, line, batch):
    viability = batch.release_tests[0]
    client = signed_in_as(app, db_session, line.untrained)
    url, action = f"/batches/{batch.id}", f"/batch-release-tests/{viability.id}/results"
    refused = submit(client, url, {f"test-{viability.id}-result": "91.5"}, action=action)
    assert refused.status_code == 403
    assert "Noah Berg has no training on Test method VIAB in force on 2030-04-10." in refused.text
    assert release.results_of_test(db_session, viability) == []
    training.record_training(
        db_session,
        user=line.untrained,
        subject=viability.definition.training_subject,
        trained_on=TODAY,
        expires_on=None,
        recorded_by=line.author,
    )
    db_session.commit()
    assert submit(client, url, {f"test-{viability.id}-result": "91.5"}, action=action).status_code == 303


def test_an_untrained_verifier_is_refused_on_the_signing_page(app, db_session, line, batch):
    result = release.record_release_result(db_session, batch.release_tests[0], "91.5", user=line.operator)
    client = signed_in_as(app, db_session, line.untrained)
    url = f"/sign/test_result/{result.id}/verified"
    refused = client.get(url)
    assert refused.status_code == 403 and "no training on Test method VIAB" in refused.text, "refused before signing"
    db_session.expire_all()
    assert not release.release_test_states(db_session, batch)[0].verified
    verifier = signed_in_as(app, db_session, line.second_operator)
    assert submit(verifier, url, {"password": PASSWORD}).status_code == 303
