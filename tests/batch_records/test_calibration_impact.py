"""Calibration impact reaches the batches: an open out-of-tolerance assessment listing a use in a batch blocks its
release, and QA closes it with a verdict on each batch; a verdict of impact raises a deviation on the batch."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from batch_records.errors import ReleaseRefused
from batch_records.models import BatchStatus, DeviationStatus
from batch_records.service import release
from lims import clock
from lims.equipment.models import ImpactAssessment, Verdict
from lims.equipment.service import calibrations, impact_assessments
from lims.errors import DetailMissing
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch
from tests.helpers import PASSWORD, submit


def found_out_of_tolerance(db_session, line) -> ImpactAssessment:
    """The cabinet the batch used, found out of tolerance by a calibration that afternoon."""
    cabinet = line.cabinet
    point = calibrations.add_calibration_point(
        db_session,
        cabinet,
        name="Inflow velocity",
        nominal=parse_measurement("0.50 m/s"),
        tolerance=parse_measurement("0.05 m/s"),
    )
    standard = calibrations.create_reference_standard(
        db_session,
        identifier="ANEMO-01",
        description="Thermal anemometer",
        certificate_number="UKAS-0042",
        valid_until=date(2040, 1, 1),
        measures="m/s",
    )
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 15, tzinfo=UTC))
    calibrations.record_calibration(
        db_session,
        cabinet,
        performed_on=TODAY,
        recorded_by=line.author,
        readings=[calibrations.ReadingInput(point.id, parse_measurement("0.62 m/s"), None)],
        reference_standard_id=standard.id,
    )
    return db_session.scalars(select(ImpactAssessment)).one()


def verdict(batch, given: Verdict, comment: str = "") -> dict[str, impact_assessments.VerdictInput]:
    return {f"impact-batch-{batch.id}-": impact_assessments.VerdictInput(given, comment)}


@pytest.fixture
def assessed(db_session, line, batch) -> ImpactAssessment:
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    return found_out_of_tolerance(db_session, line)


def test_an_open_assessment_listing_a_use_in_the_batch_blocks_its_release(db_session, line, batch, assessed):
    records = impact_assessments.affected_records(db_session, assessed)
    assert [(record.kind, record.key, record.label) for record in records] == [
        ("batch", str(batch.id), f"Batch {batch.batch_number}")
    ]
    review = release.review(db_session, batch.id)
    assert review.open_impact_assessments == [assessed]
    blocker = "The out-of-tolerance impact assessment of BSC-01 (Class II biosafety cabinet) lists a use in this batch"
    assert review.blockers == [f"{blocker} and is open"]
    with pytest.raises(ReleaseRefused, match=re.escape(blocker)):
        release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.AWAITING_REVIEW


def test_closing_needs_a_verdict_on_each_batch_and_says_what_an_impact_is(db_session, line, batch, assessed):
    close = impact_assessments.close_impact_assessment
    with pytest.raises(DetailMissing, match=f"Give the verdict on Batch {batch.batch_number}") as missing:
        close(db_session, assessed, conclusion="Reviewed", verdicts={}, user=line.qa, password=PASSWORD)
    assert missing.value.field == f"impact-batch-{batch.id}-verdict"
    with pytest.raises(DetailMissing, match=f"Say what the impact on Batch {batch.batch_number} is") as silent:
        close(
            db_session,
            assessed,
            conclusion="Reviewed",
            verdicts=verdict(batch, Verdict.IMPACT),
            user=line.qa,
            password=PASSWORD,
        )
    assert silent.value.field == f"impact-batch-{batch.id}-comment"
    assert assessed.closed_at is None and batch.deviations == []


def test_no_impact_closes_the_assessment_and_the_batch_is_released(db_session, line, batch, assessed):
    impact_assessments.close_impact_assessment(
        db_session,
        assessed,
        conclusion="Inflow alarm never triggered; operator protection only.",
        verdicts=verdict(batch, Verdict.NO_IMPACT),
        user=line.qa,
        password=PASSWORD,
    )
    [given] = assessed.verdicts
    assert (given.label, given.verdict, given.comment) == (f"Batch {batch.batch_number}", Verdict.NO_IMPACT, None)
    assert assessed.signed_content()["verdicts"] == [f"Batch {batch.batch_number}: no impact "]
    assert release.review(db_session, batch.id).blockers == [] and batch.deviations == []
    release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED


def test_impact_raises_a_deviation_on_the_batch_that_then_blocks_release(db_session, line, batch, assessed):
    impact_assessments.close_impact_assessment(
        db_session,
        assessed,
        conclusion="Open manipulation during selection with reduced inflow.",
        verdicts=verdict(batch, Verdict.IMPACT, "Sterility assurance of the selection step reduced."),
        user=line.qa,
        password=PASSWORD,
    )
    (deviation,) = batch.deviations
    assert deviation.status == DeviationStatus.OPEN and deviation.raised_by_id == line.qa.id
    assert deviation.description == (
        "Out-of-tolerance impact assessment of BSC-01 (Class II biosafety cabinet): impact on Batch "
        f"{batch.batch_number}. Sterility assurance of the selection step reduced."
    )
    review = release.review(db_session, batch.id)
    assert review.open_impact_assessments == []
    assert review.blockers == [f"Deviation {deviation.number} is open"]


def test_the_review_page_links_the_open_assessment_and_its_page_takes_a_verdict_per_batch(
    app, db_session, line, batch, assessed
):
    qa = signed_in_as(app, db_session, line.qa)
    review = qa.get(f"/batches/{batch.id}/review").text
    assert "Open out-of-tolerance impact assessments" in review
    assert f'href="/equipment/impact/{assessed.id}"' in review and "lists a use in this batch" in review

    url = f"/equipment/impact/{assessed.id}"
    page = qa.get(url).text
    assert f"Verdict on Batch {batch.batch_number}" in page
    assert f'name="impact-batch-{batch.id}-verdict" value="no impact"' in page
    prefix = f"impact-batch-{batch.id}-"
    missing = submit(qa, url, {"conclusion": "Reviewed", "password": PASSWORD})
    assert missing.status_code == 422
    assert f'id="{prefix}verdict-error"' in missing.text and "Give the verdict on Batch" in missing.text
    unknown = submit(qa, url, {"conclusion": "Reviewed", "password": PASSWORD, f"{prefix}verdict": "maybe"})
    assert unknown.status_code == 422 and "Choose no impact or impact." in unknown.text
    closed = submit(
        qa,
        url,
        {
            "conclusion": "Reviewed",
            "password": PASSWORD,
            f"{prefix}verdict": "impact",
            f"{prefix}comment": "Selection <done> under reduced inflow",
        },
    )
    assert closed.status_code == 303
    page = qa.get(url).text
    assert f"Batch {batch.batch_number}: <strong>impact</strong> — Selection &lt;done&gt; under reduced inflow" in page
    db_session.expire_all()
    assert [deviation.status for deviation in batch.deviations] == [DeviationStatus.OPEN]
