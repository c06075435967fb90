"""Receiving: accession numbers, condition on arrival, acceptance or rejection, unexpected samples."""

from __future__ import annotations

from datetime import timedelta

import pytest

from lims import clock
from lims.errors import DateInFuture, DetailMissing
from lims.samples.errors import NotReceivable, ReceiptRefused
from lims.samples.models import SampleStatus, SubmissionStatus
from lims.samples.service import accessioning
from lims.samples.service import submissions as service
from lims.units.parsing import parse_measurement
from tests.lims.samples.conftest import accept, row, submitted


def test_receipt_numbers_each_sample_in_the_year_without_gaps(db_session, clients):
    submission = submitted(db_session, clients, row("A"), row("B"), row("C"))
    year = clock.today().year
    numbers = [
        accessioning.receive_sample(db_session, sample, accept(), user=clients.technician).accession_number
        for sample in submission.samples
    ]
    assert numbers == [f"S{year}-000001", f"S{year}-000002", f"S{year}-000003"]
    assert submission.status == SubmissionStatus.RECEIVED and submission.received_at is not None


def test_a_rejected_sample_is_numbered_and_needs_a_reason(db_session, clients):
    submission = submitted(db_session, clients, row("A"), row("B"))
    first = submission.samples[0]
    with pytest.raises(DetailMissing):
        accessioning.receive_sample(db_session, first, accept(accepted=False), user=clients.technician)
    rejected = accessioning.receive_sample(
        db_session, first, accept(accepted=False, rejection_reason="Tube cracked"), user=clients.technician
    )
    assert rejected.status == SampleStatus.REJECTED and rejected.accession_number.endswith("000001")
    assert submission.status == SubmissionStatus.PARTLY_RECEIVED
    with pytest.raises(NotReceivable, match="received once"):
        accessioning.receive_sample(db_session, first, accept(), user=clients.technician)


def test_receipt_refuses_what_cannot_be(db_session, clients):
    (sample,) = submitted(db_session, clients).samples
    with pytest.raises(ReceiptRefused, match="not a temperature"):
        accessioning.receive_sample(
            db_session, sample, accept(arrival_temperature=parse_measurement("5 mL")), user=clients.technician
        )
    with pytest.raises(DateInFuture):
        accessioning.receive_sample(
            db_session, sample, accept(received_at=clock.now() + timedelta(hours=1)), user=clients.technician
        )
    assert sample.accession_number is None


def test_a_draft_is_not_received(db_session, clients):
    submission = service.create_draft(db_session, clients.helix, reference="Draft", user=clients.helix_user)
    (sample,) = service.add_rows(db_session, submission, [row()])
    with pytest.raises(NotReceivable, match="still a draft"):
        accessioning.receive_sample(db_session, sample, accept(), user=clients.technician)


def test_a_sample_not_on_the_manifest_is_recorded_as_such(db_session, clients):
    submission = submitted(db_session, clients)
    extra = accessioning.receive_unexpected_sample(
        db_session,
        submission,
        accept(),
        client_sample_id="HLX-EXTRA",
        sample_type="serum",
        container="SST tube",
        user=clients.technician,
    )
    assert not extra.on_manifest and extra.line == 2 and extra.accession_number is not None
    # The manifest's own sample is still awaited.
    assert submission.status == SubmissionStatus.PARTLY_RECEIVED
