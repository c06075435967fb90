"""QA reviews a batch's audit trail before releasing it: a review stands until the batch's trail changes."""

from __future__ import annotations

import pytest

from batch_records.errors import ReleaseRefused
from batch_records.models import BatchStatus
from batch_records.service import release
from lims.audit import chain as audit_chain
from lims.identity.models import RoleName
from lims.review.models import TrailScope
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, review_trail
from tests.helpers import PASSWORD


@pytest.fixture
def ready(db_session, line, batch):
    """The batch complete, its release tests passed: ready for release but for QA's review of its trail."""
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    return batch


def release_as_qa(db_session, batch, line):
    return release.dispose(db_session, batch, SignatureMeaning.RELEASED, user=line.qa, password=PASSWORD)


def test_a_batch_is_released_only_after_qa_reviewed_its_audit_trail(db_session, line, ready):
    outcome = release.review(db_session, ready.id)
    assert outcome.blockers == []
    assert outcome.release_blockers == [f"QA has not reviewed the audit trail of batch {ready.batch_number}"]
    with pytest.raises(ReleaseRefused, match="QA has not reviewed the audit trail"):
        release_as_qa(db_session, ready, line)
    reviewed = review_trail(db_session, ready, line)
    assert reviewed.scope == TrailScope.RECORD and reviewed.label == f"audit trail of batch {ready.batch_number}"
    # The batch, its steps with their entries, its QC results and deviations, its equipment uses and lots taken.
    assert reviewed.events_reviewed > 20
    release_as_qa(db_session, ready, line)
    assert ready.status == BatchStatus.RELEASED


def test_a_change_to_the_batch_after_the_review_asks_for_another(db_session, line, ready):
    first = review_trail(db_session, ready, line)
    release.dispose(
        db_session, ready, SignatureMeaning.QUARANTINED, user=line.qa, password=PASSWORD, reason="Check the bag label"
    )
    problem = release.review(db_session, ready.id).trail_review.problem(f"batch {ready.batch_number}")
    assert problem.startswith(f"the audit trail of batch {ready.batch_number} has ")
    assert f"since QA reviewed it (up to event {first.through_sequence})" in problem
    with pytest.raises(ReleaseRefused, match="since QA reviewed it"):
        release_as_qa(db_session, ready, line)
    review_trail(db_session, ready, line)
    release_as_qa(db_session, ready, line)
    assert ready.status == BatchStatus.RELEASED


def test_generating_the_batch_record_pdf_leaves_the_review_standing(db_session, line, ready):
    review_trail(db_session, ready, line)
    audit_chain.record(db_session, "report.generated", entity=ready, details={"file_sha256": "0" * 64})
    assert release.review(db_session, ready.id).trail_review.reviewed


def test_only_qa_reviews_a_batchs_trail(db_session, line, ready, create_user):
    manager = create_user(RoleName.MANAGER)
    with pytest.raises(SignatureRefused, match="Your role may not sign"):
        release.review_trail(db_session, ready, comment="Looks fine.", user=manager, password=PASSWORD)
    assert release.review(db_session, ready.id).trail_review.review is None
