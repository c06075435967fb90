"""A manifest is taken whole or refused whole, with every error listed by row and column."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from lims.samples.errors import EmptyManifest, ManifestRefused, NotADraft, NotCancellable
from lims.samples.models import Sample, SampleStatus, SubmissionStatus
from lims.samples.service import submissions as service
from tests.lims.samples.conftest import accept, row, submitted


def draft(db_session, clients):
    return service.create_draft(db_session, clients.helix, reference="Week 49", user=clients.helix_user)


def test_rows_that_are_right_go_on_the_manifest_with_what_they_refer_to(db_session, clients):
    submission = draft(db_session, clients)
    (sample,) = service.add_rows(db_session, submission, [row()])
    assert sample.subject_id == clients.subject.id and sample.visit is not None and sample.visit.code == "SCR"
    assert str(sample.quantity) == "10 mL" and sample.requested_test_codes == ["VIAB", "STER"]
    assert sample.storage_minimum is not None and str(sample.storage_minimum) == "15 °C"
    assert sample.status == SampleStatus.EXPECTED and len(sample.public_id) == 16


def test_one_bad_row_refuses_the_whole_manifest_and_names_its_row_and_column(db_session, clients):
    submission = draft(db_session, clients)
    rows = [row("HLX-1"), row("HLX-2", quantity="10 kg/mL"), row("HLX-3")]
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, rows)
    assert [(e.row, e.column) for e in refused.value.errors] == [(2, "quantity")]
    assert "not an amount of material" in refused.value.errors[0].message
    assert db_session.scalar(select(func.count()).select_from(Sample)) == 0


def test_every_error_is_listed_not_only_the_first(db_session, clients):
    submission = draft(db_session, clients)
    rows = [
        row("HLX-1", visit="D99"),
        row("HLX-1", requested_tests="VIAB, NOPE"),
        row("HLX-3", sample_type="serum", collected_at="tomorrow", storage_requirement="10 mL"),
        row("HLX-4", subject="HLX301-999-0001"),
        {"client_sample_id": "HLX-5", "colour": "red"},
    ]
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, rows)
    cells = {(e.row, e.column): e.message for e in refused.value.errors}
    assert "has no visit D99" in cells[(1, "visit")]
    assert "already on one of your manifests" in cells[(2, "client_sample_id")]
    assert "no test NOPE" in cells[(2, "requested_tests")]
    assert "YYYY-MM-DD HH:MM" in cells[(3, "collected_at")]
    assert "not a temperature" in cells[(3, "storage_requirement")]
    assert "No subject HLX301-999-0001" in cells[(4, "subject")]
    assert cells[(5, "colour")] == "This is not a manifest column."
    assert (5, "sample_type") in cells and (5, "quantity") in cells


def test_a_visit_takes_the_samples_it_calls_for(db_session, clients):
    submission = draft(db_session, clients)
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, [row(sample_type="serum"), row("B", container="bag", quantity="5 g")])
    cells = {(e.row, e.column): e.message for e in refused.value.errors}
    assert cells[(1, "sample_type")] == "Visit SCR calls for peripheral blood, not serum."
    assert "K2EDTA tube" in cells[(2, "container")] and "10 mL" in cells[(2, "quantity")]


def test_a_client_cannot_send_samples_under_another_clients_protocol(db_session, clients):
    submission = service.create_draft(db_session, clients.nordic, reference="Ours", user=clients.nordic_user)
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, [row()])
    assert refused.value.errors[0].message == "You have no protocol HLX-301."


def test_samples_without_a_protocol_are_fine(db_session, clients):
    submission = draft(db_session, clients)
    (sample,) = service.add_rows(
        db_session, submission, [row(protocol="", subject="", visit="", storage_requirement="-80 °C")]
    )
    assert sample.protocol_id is None and str(sample.storage_maximum) == "-80 °C"


def test_submitting_and_cancelling(db_session, clients):
    submission = draft(db_session, clients)
    with pytest.raises(EmptyManifest):
        service.submit(db_session, submission)
    service.add_rows(db_session, submission, [row()])
    service.submit(db_session, submission)
    assert submission.status == SubmissionStatus.SUBMITTED
    with pytest.raises(NotADraft):
        service.add_rows(db_session, submission, [row("X")])
    service.cancel(db_session, submission, reason="Courier strike")
    assert submission.status == SubmissionStatus.CANCELLED and submission.samples[0].status == SampleStatus.CANCELLED


def test_a_manifest_whose_samples_arrived_is_not_the_clients_to_cancel(db_session, clients):
    from lims.samples.service import accessioning

    submission = submitted(db_session, clients, row("A"), row("B"))
    accessioning.receive_sample(db_session, submission.samples[0], accept(), user=clients.technician)
    assert submission.status == SubmissionStatus.PARTLY_RECEIVED
    with pytest.raises(NotCancellable):
        service.cancel(db_session, submission, reason="Changed our mind")


def test_a_manifest_of_many_bad_rows_lists_each_rows_errors_once(db_session, clients):
    submission = draft(db_session, clients)
    rows = [row(f"HLX-{n}", requested_tests="NOPE", quantity="ten" if n % 2 else "10 mL") for n in range(300)]
    with pytest.raises(ManifestRefused) as refused:
        service.add_rows(db_session, submission, rows)
    cells = [(e.row, e.column) for e in refused.value.errors]
    assert len(cells) == len(set(cells)) == 300 + 150
    assert cells[:3] == [(1, "requested_tests"), (2, "quantity"), (2, "requested_tests")]


def test_samples_added_together_each_get_a_random_public_id(db_session, clients):
    submission = draft(db_session, clients)
    added = service.add_rows(db_session, submission, [row(f"HLX-{n}") for n in range(40)])
    public_ids = [sample.public_id for sample in added]
    assert len(set(public_ids)) == 40
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{16}", public_id) for public_id in public_ids)
    assert [sample.line for sample in added] == list(range(1, 41))
