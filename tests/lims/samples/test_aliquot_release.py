"""Releasing a submission whose samples were split into aliquots: a manifest sample is releasable when it or one of
its aliquots (however deep) has tests, every test in the family verified; untested aliquots are retention material.
The client reads an aliquot's results under the manifest sample it came from; another client reads nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.samples.errors import NotReleasable, NotTestable
from lims.samples.models import ClientEvent, SampleStatus, SubmissionStatus
from lims.samples.service import aliquots, release, results
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing.models import TestDefinition
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD, login
from tests.lims.samples.results_support import Lab, lab, received, through_testing  # noqa: F401  (fixture)

PASSING = {"VIAB": "conforms", "STER": "conforms"}


def _split(db_session, lab: Lab, sample, *volumes: str):  # noqa: F811
    children = aliquots.split(db_session, sample, [parse_measurement(v) for v in volumes], user=lab.analyst)
    db_session.commit()
    return children


def _definition(db_session, code: str) -> TestDefinition:
    return db_session.scalar(select(TestDefinition).where(TestDefinition.code == code))


def _tested(db_session, lab: Lab, sample, *, verify: bool = True):  # noqa: F811
    """VIAB assigned to the sample and a conforming result entered (verified by a second person unless not)."""
    (test,) = results.assign_tests(
        db_session, sample, [_definition(db_session, "VIAB")], user=lab.analyst, requested=False
    )
    result = results.record_result(db_session, test, "conforms", user=lab.analyst)
    if verify:
        signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=lab.verifier, password=PASSWORD)
    db_session.commit()
    return test


def _release(db_session, lab: Lab, submission):  # noqa: F811
    release.release_results(db_session, submission, user=lab.qa, password=PASSWORD)
    db_session.commit()


def test_tests_on_an_aliquot_only_release_the_manifest_sample(app, client, db_session, lab):  # noqa: F811
    submission = received(db_session, lab, "HLX-0001-PB", "HLX-0002-PB")
    first, second = submission.samples
    tested, retained = _split(db_session, lab, first, "1 mL", "2 mL")
    # a split of a split: the grandchild's tests count for the manifest sample too
    (grandchild,) = _split(db_session, lab, second, "1 mL")
    (deeper,) = _split(db_session, lab, grandchild, "500 µL")
    _tested(db_session, lab, tested)
    _tested(db_session, lab, deeper)
    assert release.review(db_session, submission).problems == []
    _release(db_session, lab, submission)
    db_session.refresh(submission)
    assert submission.status == SubmissionStatus.RESULTS_RELEASED
    # the grandchild's results are released through the aliquot split from it; the untested retention aliquot has none
    assert {sample.status for sample in (first, second, tested, grandchild, deeper)} == {SampleStatus.RESULTS_RELEASED}
    assert retained.status == SampleStatus.RECEIVED

    lines = release.released_results(db_session, submission)
    assert [(line.client_sample_id, line.accession_number, line.aliquot_of) for line in lines] == [
        ("HLX-0001-PB", tested.accession_number, first.accession_number),
        ("HLX-0002-PB", deeper.accession_number, second.accession_number),
    ]
    body = client.get(f"/api/v1/submissions/{submission.public_id}/results", headers=lab.clients.helix_token).json
    assert [(item["client_sample_id"], item["accession_number"], item["aliquot_of"]) for item in body["items"]] == [
        ("HLX-0001-PB", tested.accession_number, first.accession_number),
        ("HLX-0002-PB", deeper.accession_number, second.accession_number),
    ]
    other = client.get(f"/api/v1/submissions/{submission.public_id}/results", headers=lab.clients.nordic_token)
    assert other.status_code == 404
    login(client, lab.clients.helix_user)
    page = client.get(f"/submissions/{submission.public_id}/results").text
    assert f"aliquot of {first.accession_number}" in page and tested.accession_number in page
    rows = list(csv.reader(io.StringIO(client.get(f"/submissions/{submission.public_id}/results.csv").text)))
    assert rows[0][-1] == "aliquot_of"
    assert [(row[0], row[1], row[-1]) for row in rows[1:]] == [
        ("HLX-0001-PB", tested.accession_number, first.accession_number),
        ("HLX-0002-PB", deeper.accession_number, second.accession_number),
    ]
    report = client.get(f"/submissions/{submission.public_id}/report.pdf")
    assert report.status_code == 200 and report.data.startswith(b"%PDF")
    nordic = app.test_client()
    login(nordic, lab.clients.nordic_user)
    assert nordic.get(f"/submissions/{submission.public_id}/results").status_code == 404
    assert nordic.get(f"/submissions/{submission.public_id}/results.csv").status_code == 404


def test_an_untested_retention_aliquot_keeps_its_status_when_its_family_is_released(
    app,
    client,
    db_session,
    lab,  # noqa: F811
):
    submission = received(db_session, lab)
    (parent,) = submission.samples
    (retained,) = _split(db_session, lab, parent, "1 mL")
    through_testing(db_session, lab, parent, PASSING)
    assert release.review(db_session, submission).problems == []
    _release(db_session, lab, submission)
    lines = release.released_results(db_session, submission)
    assert [(line.accession_number, line.aliquot_of) for line in lines] == [
        (parent.accession_number, None),
        (parent.accession_number, None),
    ]
    db_session.refresh(submission)
    assert submission.status == SubmissionStatus.RESULTS_RELEASED
    assert parent.status == SampleStatus.RESULTS_RELEASED
    assert retained.status == SampleStatus.RECEIVED

    # the audit trail and the client's feed (what its webhooks receive) say the parent's results were released
    updates = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "sample", AuditEvent.action == "update")
    ).all()
    released_by_qa = [event.entity_id for event in updates if event.reason == "Results released by QA"]
    assert released_by_qa == [str(parent.id)]
    announced = db_session.scalars(
        select(ClientEvent.sample_public_id).where(ClientEvent.kind == "sample.results_released")
    ).all()
    assert announced == [parent.public_id]

    api = client.get(f"/api/v1/samples/{retained.public_id}", headers=lab.clients.helix_token)
    assert api.status_code == 200 and api.json["status"] == "received"
    assert client.get(f"/api/v1/samples/{parent.public_id}", headers=lab.clients.helix_token).json["status"] == (
        "results released"
    )
    login(client, lab.clients.helix_user)
    portal = client.get("/portal").text
    assert f'data-status-of="{retained.public_id}">received<' in portal
    assert f'data-status-of="{parent.public_id}">results released<' in portal
    assert f'data-status-of="{submission.public_id}">results released<' in portal

    # its family's release was the last: the kept tube is not tested for it afterwards
    with pytest.raises(NotTestable, match="kept untested when its submission's results were released"):
        results.assign_tests(db_session, retained, [_definition(db_session, "VIAB")], user=lab.analyst, requested=False)
    db_session.rollback()
    assert results.tests_of(db_session, [retained])[retained.id] == []
    technician = app.test_client()
    login(technician, lab.analyst)
    assert "Assign tests" not in technician.get(f"/samples/{retained.public_id}/tests").text


def test_an_unverified_aliquot_test_blocks_the_release(db_session, lab):  # noqa: F811
    submission = received(db_session, lab)
    (parent,) = submission.samples
    (child,) = _split(db_session, lab, parent, "1 mL")
    _tested(db_session, lab, child, verify=False)
    db_session.refresh(submission)
    assert submission.status == SubmissionStatus.IN_TESTING
    with pytest.raises(NotReleasable) as refused:
        _release(db_session, lab, submission)
    assert refused.value.message == (
        f"The results cannot be released yet: {child.accession_number} (aliquot of {parent.accession_number}): "
        "the Viability result is not verified by a second person."
    )
    db_session.rollback()
    assert release.release_of(db_session, submission) is None
    db_session.refresh(submission)
    assert submission.status == SubmissionStatus.IN_TESTING
    assert {parent.status, child.status} == {SampleStatus.RECEIVED, SampleStatus.IN_TESTING}


def test_a_family_without_any_test_blocks_the_release(db_session, lab):  # noqa: F811
    submission = received(db_session, lab, "HLX-0001-PB", "HLX-0002-PB")
    first, second = submission.samples
    (child,) = _split(db_session, lab, first, "1 mL")
    _split(db_session, lab, second, "1 mL")
    _tested(db_session, lab, child)
    assert release.review(db_session, submission).problems == [
        f"{second.accession_number} has no test assigned, neither on itself nor on an aliquot of it."
    ]
    with pytest.raises(NotReleasable, match="has no test assigned"):
        _release(db_session, lab, submission)
