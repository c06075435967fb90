"""The protocols' compliance check at its boundary: a version in review beyond N days since its author sent it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims import clock
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from protocols.models import VersionStatus
from tests.helpers import PASSWORD
from tests.lims.compliance.checking import found

SENT = datetime(2030, 4, 10, 8, tzinfo=UTC)


@pytest.mark.parametrize(("days_beyond", "is_found"), [(-1, False), (0, False), (1, True)])
def test_a_version_in_review_beyond_the_days_set_is_found(
    db_session, car_t_protocol, author_and_approver, days_beyond, is_found
):
    clock.freeze(SENT)
    version = car_t_protocol.versions[0]
    author, _approver = author_and_approver
    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    assert version.status == VersionStatus.IN_REVIEW
    conditions = found(db_session, "protocols.version-review-overdue", at=SENT + timedelta(days=14 + days_beyond))
    assert (str(version.id) in conditions) is is_found
    if is_found:
        condition = conditions[str(version.id)]
        assert condition.record_label == f"protocol HLX-301 version {version.number}"
        assert condition.detail == "in review for 15 days (sent 2030-04-10)"


def test_an_approved_version_is_not_found(db_session, car_t_protocol, approve_version):
    clock.freeze(SENT)
    approve_version(car_t_protocol.versions[0])
    assert not found(db_session, "protocols.version-review-overdue", at=SENT + timedelta(days=100))
