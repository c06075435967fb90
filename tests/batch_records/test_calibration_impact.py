"""Calibration impact reaches the batches: an open out-of-tolerance assessment listing a use in a batch blocks its
release, and QA closes it with a verdict on each batch; a verdict of impact raises a deviation on the batch."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import event, select

from batch_records.errors import ReleaseRefused
from batch_records.models import BatchStatus, DeviationStatus
from batch_records.service import release
from lims import clock
from lims.equipment.models import Equipment, EquipmentUse, ImpactAssessment, Verdict
from lims.equipment.service import calibrations, impact_assessments
from lims.errors import DetailMissing
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY, cd3_result_on_a_flow_cytometer
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch
from tests.helpers import PASSWORD, submit


@dataclass(frozen=True)
class Standard:
    identifier: str
    description: str
    certificate_number: str
    measures: str


ANEMOMETER = Standard("ANEMO-01", "Thermal anemometer", "UKAS-0042", "m/s")
POWER_METER = Standard("POWER-01", "Optical power meter", "UKAS-0077", "mW")


def found_out_of_tolerance(
    db_session, line, item: Equipment, *, point: str, nominal: str, tolerance: str, standard: Standard, reading: str
) -> ImpactAssessment:
    """``item`` found out of tolerance by a calibration that afternoon: its ``point`` read ``reading`` as found."""
    calibration_point = calibrations.add_calibration_point(
        db_session, item, name=point, nominal=parse_measurement(nominal), tolerance=parse_measurement(tolerance)
    )
    reference = calibrations.create_reference_standard(
        db_session,
        identifier=standard.identifier,
        description=standard.description,
        certificate_number=standard.certificate_number,
        valid_until=date(2040, 1, 1),
        measures=standard.measures,
    )
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 15, tzinfo=UTC))
    calibrations.record_calibration(
        db_session,
        item,
        performed_on=TODAY,
        recorded_by=line.author,
        readings=[calibrations.ReadingInput(calibration_point.id, parse_measurement(reading), None)],
        reference_standard_id=reference.id,
    )
    return db_session.scalars(select(ImpactAssessment)).one()


def cabinet_found_out_of_tolerance(db_session, line) -> ImpactAssessment:
    """The cabinet the batch used, found out of tolerance by a calibration that afternoon."""
    return found_out_of_tolerance(
        db_session,
        line,
        line.cabinet,
        point="Inflow velocity",
        nominal="0.50 m/s",
        tolerance="0.05 m/s",
        standard=ANEMOMETER,
        reading="0.62 m/s",
    )


def verdict(batch, given: Verdict, comment: str = "") -> dict[str, impact_assessments.VerdictInput]:
    return {f"impact-batch-{batch.id}-": impact_assessments.VerdictInput(given, comment)}


@pytest.fixture
def assessed(db_session, line, batch) -> ImpactAssessment:
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    return cabinet_found_out_of_tolerance(db_session, line)


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


# A QC instrument found out of tolerance reaches the batches whose release results it measured


@pytest.fixture
def cd3_on_flow_cytometer(db_session, line, batch) -> ImpactAssessment:
    """The batch's CD3+ release result measured on FCM-008 (as in the demo), which the afternoon's calibration
    finds out of tolerance; its processing equipment stays in tolerance."""
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    result = cd3_result_on_a_flow_cytometer(db_session, line, batch, analysts=(line.second_operator,))
    signatures.sign(db_session, result, meaning=SignatureMeaning.VERIFIED, user=line.second_operator, password=PASSWORD)
    assert release.review(db_session, batch.id).blockers == [], "released but for the instrument"
    return found_out_of_tolerance(
        db_session,
        line,
        result.instrument,
        point="Laser power 488 nm",
        nominal="50 mW",
        tolerance="5 mW",
        standard=POWER_METER,
        reading="41.0 mW",
    )


CYTOMETER_BLOCKER = (
    "The out-of-tolerance impact assessment of FCM-008 (Flow cytometer) lists a use in this batch and is open"
)


def test_an_open_assessment_of_the_instrument_a_release_result_used_blocks_release(
    db_session, line, batch, cd3_on_flow_cytometer
):
    records = impact_assessments.affected_records(db_session, cd3_on_flow_cytometer)
    assert [(record.kind, record.key, record.label) for record in records] == [
        ("batch", str(batch.id), f"Batch {batch.batch_number}")
    ]
    review = release.review(db_session, batch.id)
    assert review.open_impact_assessments == [cd3_on_flow_cytometer]
    assert review.blockers == [CYTOMETER_BLOCKER]
    with pytest.raises(ReleaseRefused, match="FCM-008 \\(Flow cytometer\\) lists a use in this batch"):
        release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.AWAITING_REVIEW


def test_no_impact_on_the_results_batch_unblocks_its_release(db_session, line, batch, cd3_on_flow_cytometer):
    with pytest.raises(DetailMissing, match=f"Give the verdict on Batch {batch.batch_number}"):
        impact_assessments.close_impact_assessment(
            db_session, cd3_on_flow_cytometer, conclusion="Reviewed", verdicts={}, user=line.qa, password=PASSWORD
        )
    impact_assessments.close_impact_assessment(
        db_session,
        cd3_on_flow_cytometer,
        conclusion="CD3+ gate set on the bead control of that run; laser power does not shift it.",
        verdicts=verdict(batch, Verdict.NO_IMPACT),
        user=line.qa,
        password=PASSWORD,
    )
    assert [given.label for given in cd3_on_flow_cytometer.verdicts] == [f"Batch {batch.batch_number}"]
    assert release.review(db_session, batch.id).blockers == [] and batch.deviations == []
    release_batch(db_session, batch, line)
    assert batch.status == BatchStatus.RELEASED


def test_impact_on_the_results_batch_raises_a_deviation_on_it(db_session, line, batch, cd3_on_flow_cytometer):
    impact_assessments.close_impact_assessment(
        db_session,
        cd3_on_flow_cytometer,
        conclusion="Laser power low enough to under-count dim CD3+ events.",
        verdicts=verdict(batch, Verdict.IMPACT, "CD3+ result to be repeated on a calibrated cytometer."),
        user=line.qa,
        password=PASSWORD,
    )
    (deviation,) = batch.deviations
    assert deviation.status == DeviationStatus.OPEN
    assert deviation.description == (
        "Out-of-tolerance impact assessment of FCM-008 (Flow cytometer): impact on Batch "
        f"{batch.batch_number}. CD3+ result to be repeated on a calibrated cytometer."
    )
    assert release.review(db_session, batch.id).blockers == [f"Deviation {deviation.number} is open"]


def test_the_review_page_shows_the_instruments_assessment_and_its_page_asks_a_verdict_on_the_batch(
    app, db_session, line, batch, cd3_on_flow_cytometer
):
    qa = signed_in_as(app, db_session, line.qa)
    url = f"/equipment/impact/{cd3_on_flow_cytometer.id}"
    review = qa.get(f"/batches/{batch.id}/review").text
    assert f'href="{url}"' in review and "FCM-008" in review and "lists a use in this batch" in review
    prefix = f"impact-batch-{batch.id}-"
    assert f'name="{prefix}verdict" value="no impact"' in qa.get(url).text
    closed = submit(qa, url, {"conclusion": "Reviewed", "password": PASSWORD, f"{prefix}verdict": "no impact"})
    assert closed.status_code == 303
    review = qa.get(f"/batches/{batch.id}/review").text
    assert "Open out-of-tolerance impact assessments" not in review and f'href="{url}"' not in review
    db_session.expire_all()
    assert release.review(db_session, batch.id).blockers == []


@contextmanager
def counted_statements(db_session) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = db_session.get_bind()

    def count(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


def test_finding_the_batches_of_instrument_uses_takes_as_many_statements_for_many_uses_as_for_one(
    db_session, line, batch, cd3_on_flow_cytometer
):
    def statements_to_review_and_assess() -> int:
        db_session.expire_all()
        with counted_statements(db_session) as statements:
            assert release.review(db_session, batch.id).open_impact_assessments == [cd3_on_flow_cytometer]
            assert len(impact_assessments.affected_records(db_session, cd3_on_flow_cytometer)) == 1
        return len(statements)

    with_one_use = statements_to_review_and_assess()
    (result_use,) = testing.instrument_uses(db_session, release.review(db_session, batch.id).results)
    for minutes in (1, 2, 3):
        db_session.add(
            EquipmentUse(
                equipment_id=result_use.equipment_id,
                used_at=result_use.used_at + timedelta(minutes=minutes),
                user_id=line.operator.id,
                record_type=result_use.record_type,
                record_id=result_use.record_id,
                purpose="Repeat acquisition",
            )
        )
    db_session.flush()
    assert statements_to_review_and_assess() == with_one_use
