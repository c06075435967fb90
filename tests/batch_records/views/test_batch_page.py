"""The batch page offers a release result's verification to exactly those who may sign it, decided for all its
results at once, and says where the review of the batch's audit trail stands."""

from __future__ import annotations

from batch_records.service import release
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.batch_records.test_batch_views import section, signed_in_as
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, review_trail, sign
from tests.helpers import PASSWORD, counted_statements

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


def trail_review_shown(client, batch) -> str:
    page = client.get(f"/batches/{batch.id}").text
    return page.split('<dd id="trail-review">', 1)[1].split("</dd>", 1)[0]


def statements_of_batch_page(client, db_session, batch) -> int:
    with counted_statements(db_session.get_bind()) as traffic:
        assert client.get(f"/batches/{batch.id}").status_code == 200
    return len(traffic.statements)


def test_the_batch_page_says_whether_and_by_whom_its_audit_trail_was_reviewed(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    as_qa = signed_in_as(app, db_session, line.qa)
    as_operator = signed_in_as(app, db_session, line.operator)
    before = trail_review_shown(as_qa, batch)
    assert before.startswith("Not reviewed") and f'href="/batches/{batch.id}/review#trail-review-title"' in before
    assert "Review the audit trail" in before
    # A technician reads where the review stands but is not offered to sign it.
    assert trail_review_shown(as_operator, batch).startswith("Not reviewed")
    assert "/review" not in trail_review_shown(as_operator, batch)
    unreviewed_cost = statements_of_batch_page(as_qa, db_session, batch)

    reviewed = review_trail(db_session, batch, line)
    db_session.commit()
    after = trail_review_shown(as_qa, batch)
    assert after.startswith(f"Reviewed by {line.qa.full_name} on ")
    assert f"up to event {reviewed.through_sequence}" in after and "Not reviewed" not in after
    assert "Not reviewed" not in trail_review_shown(as_operator, batch)
    # One statement reads the review and its reviewer, whether there is one or not.
    assert statements_of_batch_page(as_qa, db_session, batch) == unreviewed_cost


def test_a_released_batch_links_its_signed_trail_review_instead_of_offering_another(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    reviewed = review_trail(db_session, batch, line)
    release.dispose(db_session, batch, SignatureMeaning.RELEASED, user=line.qa, password=PASSWORD)
    shown = trail_review_shown(signed_in_as(app, db_session, line.qa), batch)
    assert f'href="/reviews/audit-trail/{reviewed.id}"' in shown and "Review the audit trail" not in shown
