"""The batch page offers a release result's verification to exactly those who may sign it, decided for all its
results at once."""

from __future__ import annotations

from batch_records.service import release
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.batch_records.test_batch_views import section, signed_in_as
from tests.batch_records.test_execution import execute_all_steps, sign

VERIFY = "Verify (second person)"


def release_tests_shown(app, db_session, user, batch) -> str:
    page = signed_in_as(app, db_session, user).get(f"/batches/{batch.id}").text
    return section(page, "Release tests", "Deviations")


def test_a_result_is_offered_for_verification_to_a_trained_second_person_only(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability, sterility = (
        release.record_release_result(db_session, test, reported, user=line.operator)
        for test, reported in zip(batch.release_tests, ("91.5", "No growth"), strict=True)
    )
    offered = {
        user.full_name: release_tests_shown(app, db_session, user, batch).count(VERIFY)
        for user in (line.second_operator, line.qa, line.operator, line.untrained, line.author)
    }
    # The recorder, someone untrained on the methods, and a manager (trained on neither) are not offered it.
    assert offered == {"Sara Lind": 2, "Quinn Okafor": 2, "Tran Nguyen": 0, "Noah Berg": 0, "Maja Larsen": 0}
    for user in (line.second_operator, line.operator, line.untrained):
        assert signatures.may_sign(db_session, viability, SignatureMeaning.VERIFIED, user) == (
            user is line.second_operator
        )
    sign(db_session, viability, SignatureMeaning.VERIFIED, line.second_operator)
    assert release_tests_shown(app, db_session, line.qa, batch).count(VERIFY) == 1
    sign(db_session, sterility, SignatureMeaning.VERIFIED, line.qa)
    assert VERIFY not in release_tests_shown(app, db_session, line.second_operator, batch)
