"""Sample results: tests assigned from the definitions, results judged with their units, verified by a second
person, corrected with a reason; out-of-specification results on QA's queue; QA's signed release."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.identity.errors import LoginFailed
from lims.samples.errors import AlreadyAssigned, NotReleasable, NotTestable, ResultAlreadyRecorded
from lims.samples.models import ClientEvent, SampleStatus, SubmissionStatus
from lims.samples.service import release, results
from lims.signatures import service as signatures
from lims.signatures.errors import SamePersonRefused, SignatureRefused
from lims.signatures.models import SignatureMeaning
from lims.testing.models import TestDefinition
from tests.helpers import PASSWORD, counted_statements
from tests.lims.samples.results_support import lab, received, released, through_testing  # noqa: F401  (fixture)


def _definition(db_session, code):
    return db_session.scalar(select(TestDefinition).where(TestDefinition.code == code))


def test_the_requested_tests_are_assigned_and_the_sample_goes_into_testing(db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    sample = submission.samples[0]
    tests = results.assign_requested_tests(db_session, sample, user=lab.analyst)
    assert [test.definition.code for test in tests] == ["STER", "VIAB"] and all(test.requested for test in tests)
    assert sample.status == SampleStatus.IN_TESTING and submission.status == SubmissionStatus.IN_TESTING
    kinds = db_session.scalars(select(ClientEvent.kind).order_by(ClientEvent.id)).all()
    assert "sample.in_testing" in kinds and "submission.in_testing" in kinds
    with pytest.raises(AlreadyAssigned, match="Every test the manifest asks for"):
        results.assign_requested_tests(db_session, sample, user=lab.analyst)
    extra = results.assign_test(db_session, sample, _definition(db_session, "VPCT").id, user=lab.analyst)
    assert not extra.requested and extra.specification == "≥ 70 %"
    with pytest.raises(AlreadyAssigned, match="VPCT is already assigned"):
        results.assign_test(db_session, sample, extra.definition_id, user=lab.analyst)


def test_a_rejected_or_expected_sample_gets_no_tests(db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    from tests.lims.samples.conftest import row, submitted

    waiting = submitted(db_session, lab.clients, row("W-1"), reference="Waiting")
    with pytest.raises(NotTestable, match="expected"):
        results.assign_requested_tests(db_session, waiting.samples[0], user=lab.analyst)
    assert submission.samples[0].status == SampleStatus.RECEIVED


def test_a_result_is_judged_against_the_specification_in_its_unit(db_session, lab):  # noqa: F811
    sample = received(db_session, lab).samples[0]
    test = results.assign_test(db_session, sample, _definition(db_session, "VPCT").id, user=lab.analyst)
    result = results.record_result(db_session, test, "0.65", user=lab.analyst)
    # 0.65 in a percent test is read as 0.65 %: far out of "≥ 70 %"
    assert not result.conforms and test.out_of_specification and test.result_id == result.id
    with pytest.raises(ResultAlreadyRecorded, match="correct it"):
        results.record_result(db_session, test, "80 %", user=lab.analyst)


def test_the_analyst_cannot_verify_their_own_result(db_session, lab):  # noqa: F811
    sample = received(db_session, lab).samples[0]
    test, _ = results.assign_requested_tests(db_session, sample, user=lab.analyst)
    result = results.record_result(db_session, test, "conforms", user=lab.analyst)
    with pytest.raises(SamePersonRefused, match="different person"):
        signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=lab.analyst, password=PASSWORD)
    signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=lab.verifier, password=PASSWORD)
    assert results.is_verified(results.verifications_of(db_session, [test])[result.id])


def test_a_correction_needs_a_reason_and_keeps_the_old_value(db_session, lab):  # noqa: F811
    sample = received(db_session, lab).samples[0]
    test = results.assign_test(db_session, sample, _definition(db_session, "VPCT").id, user=lab.analyst)
    first = results.record_result(db_session, test, "65 %", user=lab.analyst)
    with pytest.raises(ReasonRequired):
        results.correct_result(db_session, test, "75 %", reason="  ", user=lab.analyst)
    corrected = results.correct_result(db_session, test, "75 %", reason="Transcription error", user=lab.analyst)
    db_session.flush()
    assert test.result_id == corrected.id and corrected.conforms and not test.out_of_specification
    assert first.replaced and str(first.measured) == "65 %"
    assert [r.reported for r in results.history_of(db_session, [test])[test.id]] == ["65 %", "75 %"]
    trail = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "sample_test", AuditEvent.entity_id == str(test.id))
    ).all()
    assert "Transcription error" in [event.reason for event in trail]


def test_out_of_specification_results_wait_on_qas_queue_until_release(app, db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    through_testing(db_session, lab, submission.samples[0], {"VIAB": "conforms", "STER": "growth"})
    with counted_statements(db_session.connection()) as traffic:
        assert results.count_out_of_specification(db_session) == 1
    assert len(traffic.statements) == 1
    page = results.out_of_specification_after(db_session, after=None, limit=10)
    assert [test.definition.code for test in page.items] == ["STER"]
    release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    assert results.count_out_of_specification(db_session) == 0


def test_release_waits_for_every_result_verified(db_session, lab):  # noqa: F811
    submission = received(db_session, lab, "A", "B")
    through_testing(db_session, lab, submission.samples[0], {"VIAB": "conforms", "STER": "conforms"})
    with pytest.raises(NotReleasable, match="has no test assigned"):
        release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    test, _ = results.assign_requested_tests(db_session, submission.samples[1], user=lab.analyst)
    results.record_result(db_session, test, "conforms", user=lab.analyst)
    with pytest.raises(NotReleasable, match="not verified by a second person"):
        release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)


def test_release_needs_qa_and_its_signature(db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    through_testing(db_session, lab, submission.samples[0], {"VIAB": "conforms", "STER": "conforms"})
    with pytest.raises(SignatureRefused, match="Only QA"):
        release.release_results(db_session, submission, user=lab.verifier, password=PASSWORD)
    with pytest.raises(LoginFailed):
        release.release_results(db_session, submission, user=lab.qa, password="not the password")
    assert release.release_of(db_session, submission) is None
    found = release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    assert signatures.holding(signatures.signatures_of(db_session, found), SignatureMeaning.RELEASED)
    assert submission.status == SubmissionStatus.RESULTS_RELEASED
    assert submission.samples[0].status == SampleStatus.RESULTS_RELEASED
    with pytest.raises(NotReleasable, match="were released"):
        release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)


def test_released_results_are_final(db_session, lab):  # noqa: F811
    submission = released(db_session, lab)
    test = results.tests_of(db_session, submission.samples)[submission.samples[0].id][0]
    with pytest.raises(NotTestable, match="results released"):
        results.correct_result(db_session, test, "growth", reason="Late finding", user=lab.analyst)
    lines = release.released_results(db_session, submission)
    assert [(line.test_code, line.result, line.conforms) for line in lines] == [
        ("STER", "conforms", True),
        ("VIAB", "conforms", True),
    ]
