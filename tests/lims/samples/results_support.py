"""What the results tests share: a lab with a quantitative test beside the conftest's qualitative ones, two
trained technicians and a trained QA officer, and samples received and taken through testing to release."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy.orm import Session

from lims.identity.models import RoleName, User
from lims.samples.models import Sample, SampleTest, Submission
from lims.samples.service import accessioning, release, results
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from tests.helpers import PASSWORD
from tests.lims.samples.conftest import Clients, accept, row, submitted
from tests.lims.testing.helpers import trained


@dataclass
class Lab:
    clients: Clients
    analyst: User
    verifier: User
    qa: User


@pytest.fixture
def lab(db_session, clients, create_user) -> Lab:
    testing.create_definition(
        db_session,
        code="VPCT",
        name="Viable cells",
        method="Trypan blue count",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 70 %",
    )
    found = Lab(
        clients=clients,
        analyst=trained(db_session, clients.technician),
        verifier=trained(db_session, create_user(RoleName.TECHNICIAN, full_name="Sara Lind")),
        qa=trained(db_session, create_user(RoleName.QA, full_name="Queen Okafor")),
    )
    db_session.commit()
    return found


def received(db_session: Session, lab: Lab, *client_ids: str, requested: str = "VIAB, STER") -> Submission:
    """A Helix submission whose samples (one by default) are all received and accepted."""
    rows = [row(client_id, requested_tests=requested) for client_id in client_ids or ("HLX-0001-PB",)]
    submission = submitted(db_session, lab.clients, *rows)
    for sample in submission.samples:
        accessioning.receive_sample(db_session, sample, accept(), user=lab.analyst)
    db_session.commit()
    return submission


def through_testing(db_session: Session, lab: Lab, sample: Sample, reported: dict[str, str]) -> list[SampleTest]:
    """The sample's requested tests assigned, each result entered as ``reported`` by code, and verified."""
    tests = results.assign_requested_tests(db_session, sample, user=lab.analyst)
    for test in tests:
        result = results.record_result(db_session, test, reported[test.definition.code], user=lab.analyst)
        signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=lab.verifier, password=PASSWORD)
    db_session.commit()
    return tests


def released(db_session: Session, lab: Lab, reported: dict[str, str] | None = None) -> Submission:
    """A one-sample submission tested and released by QA (its report issued on release)."""
    submission = received(db_session, lab)
    through_testing(db_session, lab, submission.samples[0], reported or {"VIAB": "conforms", "STER": "conforms"})
    release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    db_session.commit()
    return submission
