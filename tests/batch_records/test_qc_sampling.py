"""Release results are entered from the step where the master record says QC samples are taken."""

from __future__ import annotations

import pytest

from batch_records.errors import QcSamplesNotTaken
from batch_records.service import execution, release, step_signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.units.parsing import parse_measurement
from tests.batch_records.test_batch_views import signed_in_as
from tests.batch_records.test_execution import do_receipt, do_selection, enter, sign
from tests.helpers import PASSWORD, submit


def harvest_recorded_but_not_signed(db_session, batch, line):
    do_receipt(db_session, batch, line)
    do_selection(db_session, batch, line)
    step_signatures.skip_step(
        db_session, batch.steps[2], reason="Count on target", user=line.operator, password=PASSWORD
    )
    harvest = batch.steps[3]
    enter(db_session, harvest, {"Viable cell concentration": "2.4 ×10^6 cells/mL"}, line.operator)
    execution.record_yield(db_session, harvest, parse_measurement("1.9 ×10^9 cells"), user=line.operator)
    return harvest


def test_the_master_marks_the_step_where_qc_samples_are_taken_and_the_batch_keeps_it(batch):
    assert [step.qc_sampling for step in batch.mbr_version.steps] == [False, False, False, True]
    assert release.qc_sampling_step(batch) is batch.steps[3]


def test_a_release_result_waits_for_the_qc_sampling_step_to_be_completed(db_session, line, batch):
    viability = batch.release_tests[0]
    with pytest.raises(
        QcSamplesNotTaken, match=r"QC samples are taken at step 4 \(Harvest and count\), which is pending"
    ):
        release.record_release_result(db_session, viability, "91", user=line.operator)
    harvest = harvest_recorded_but_not_signed(db_session, batch, line)
    with pytest.raises(QcSamplesNotTaken, match="which is in progress; release results are entered once it is"):
        release.record_release_result(db_session, viability, "91", user=line.operator)
    assert testing.all_results(db_session, release.BATCH, batch.id) == []
    sign(db_session, harvest, SignatureMeaning.PERFORMED, line.operator)
    result = release.record_release_result(db_session, viability, "91", user=line.operator)
    assert result.conforms and testing.all_results(db_session, release.BATCH, batch.id) == [result]


def test_the_batch_page_offers_result_forms_only_once_qc_has_its_samples(app, db_session, line, batch):
    harvest = harvest_recorded_but_not_signed(db_session, batch, line)
    viability = batch.release_tests[0]
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batches/{batch.id}"
    page = client.get(url).text
    assert (
        "QC samples are taken at step 4 (Harvest and count): release results are entered once it is completed." in page
    )
    assert f"/batch-release-tests/{viability.id}/results" not in page
    refused = submit(
        client, url, {f"test-{viability.id}-result": "91"}, action=f"/batch-release-tests/{viability.id}/results"
    )
    assert refused.status_code == 409 and "QC samples are taken at step 4" in refused.text

    sign(db_session, harvest, SignatureMeaning.PERFORMED, line.operator)
    page = signed_in_as(app, db_session, line.operator).get(url).text
    assert 'id="qc-sampling"' not in page and f"/batch-release-tests/{viability.id}/results" in page
    recorded = submit(
        client, url, {f"test-{viability.id}-result": "91"}, action=f"/batch-release-tests/{viability.id}/results"
    )
    assert recorded.status_code == 303
