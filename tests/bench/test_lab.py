"""The lab generator at a tiny scale: the counts asked for, open batches at several steps, signatures that hold
on the copies, and an audit trail that verifies."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from batch_records.models import Batch, BatchStatus, BatchStep, StepStatus
from bench.__main__ import main
from bench.lab.generate import LabSize
from lims import clock, registry
from lims.audit.models import AuditEvent
from lims.audit.verification import verify_trail
from lims.db import create_engine_for
from lims.equipment.models import Equipment
from lims.identity.models import Organization, OrganizationKind
from lims.materials.models import LotStatus, MaterialLot
from lims.samples.models import AccessionCounter, Sample, SampleStatus, Submission
from lims.samples.service import stability
from lims.signatures.models import ElectronicSignature
from lims.signatures.service import signatures_of_many
from protocols.models import Protocol

SCALE = 0.02


@pytest.fixture(scope="module")
def lab_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('lab') / 'lab.sqlite3'}"
    assert main(["generate", "--database-url", url, "--scale", str(SCALE)]) == 0
    return url


@pytest.fixture
def lab(lab_url: str):
    engine = create_engine_for(lab_url)
    with Session(engine) as session:
        yield session
    engine.dispose()


def test_the_lab_holds_what_the_scale_asks_for(lab):
    size = LabSize.at(SCALE)
    count = lambda model: lab.scalar(select(func.count()).select_from(model))  # noqa: E731
    assert (count(Batch), count(Equipment), count(MaterialLot), count(Protocol), count(AuditEvent)) == (
        size.batches,
        size.equipment,
        size.lots,
        size.protocols,
        size.audit_events,
    )
    statuses = Counter(lab.scalars(select(Batch.status)))
    assert statuses[BatchStatus.IN_PROGRESS] + statuses[BatchStatus.AWAITING_REVIEW] == size.open_batches
    assert statuses[BatchStatus.RELEASED] > statuses[BatchStatus.REJECTED] > 0
    assert set(lab.scalars(select(MaterialLot.status))) == set(LotStatus)


def test_open_batches_wait_at_different_steps(lab):
    current_steps = lab.scalars(
        select(func.min(BatchStep.position))
        .join(Batch)
        .where(
            Batch.status == BatchStatus.IN_PROGRESS, BatchStep.status.in_([StepStatus.PENDING, StepStatus.IN_PROGRESS])
        )
        .group_by(Batch.id)
    ).all()
    assert len(set(current_steps)) >= 3


def test_every_batch_number_and_starting_material_is_unique(lab):
    assert lab.scalar(select(func.count(func.distinct(Batch.batch_number)))) == lab.scalar(select(func.count(Batch.id)))
    assert lab.scalar(select(func.count(func.distinct(Batch.starting_material_identity)))) == lab.scalar(
        select(func.count(Batch.id))
    )


def test_the_signatures_of_the_copies_hold_for_what_the_copies_say(lab):
    statuses: Counter[str] = Counter()
    for entity_type, signable in registry.current().signables.items():
        ids = lab.scalars(
            select(ElectronicSignature.entity_id).where(ElectronicSignature.entity_type == entity_type).distinct()
        ).all()
        records = [lab.get(signable.model, int(record_id)) for record_id in ids]
        for signed in signatures_of_many(lab, records).values():
            statuses.update(status.value for _signature, status in signed)
    assert set(statuses) == {"valid"}
    assert statuses["valid"] > size_of_the_demo_signatures()


def test_the_samples_come_in_every_status_from_every_client_with_some_past_their_stability_window(lab):
    size = LabSize.at(SCALE)
    assert lab.scalar(select(func.count()).select_from(Sample)) == size.samples
    assert set(lab.scalars(select(Sample.status).distinct())) == set(SampleStatus)
    assert lab.scalar(select(func.count()).where(Organization.kind == OrganizationKind.CLIENT)) == size.clients
    by_client = Counter(lab.scalars(select(Sample.organization_id)))
    assert len(by_client) == size.clients and max(by_client.values()) > 2 * min(by_client.values())
    assert len(set(lab.scalars(select(Sample.sample_type)))) >= 5
    assert lab.scalar(select(func.count()).where(stability.past_window(clock.now()))) > 0
    # Every generated sample received has the stability deadline its receipt would set, and samples are numbered
    # without gaps or repeats after the demo's: the year's counter is where the next receipt goes on.
    generated = Sample.submission.has(Submission.reference.like("Shipment %"))
    assert lab.scalar(select(func.count()).where(generated, Sample.received_at.is_not(None))) > 0
    assert not lab.scalar(
        select(func.count()).where(generated, Sample.received_at.is_not(None), Sample.stability_deadline.is_(None))
    )
    for counter in lab.scalars(select(AccessionCounter)):
        numbers = lab.scalars(select(Sample.accession_number).where(Sample.accession_number.like(f"S{counter.year}-%")))
        assert sorted(int(number.rsplit("-", 1)[1]) for number in numbers) == list(range(1, counter.last_number + 1))


def size_of_the_demo_signatures() -> int:
    # The demo applies well under a hundred; the copies apply thousands even at this scale.
    return 100


def test_the_audit_trail_verifies_with_every_signature_recorded(lab):
    verification = verify_trail(lab)
    assert verification.intact, verification.summary()
    assert verification.events_checked == LabSize.at(SCALE).audit_events


def test_the_trail_runs_in_time_order(lab):
    out_of_order = lab.scalar(
        text(
            "SELECT count(*) FROM audit_event later JOIN audit_event earlier "
            "ON earlier.sequence = later.sequence - 1 WHERE later.recorded_at < earlier.recorded_at"
        )
    )
    assert out_of_order == 0


def test_a_database_that_holds_tables_is_refused(lab_url, capsys):
    assert main(["generate", "--database-url", lab_url, "--scale", str(SCALE)]) == 2
    assert "give an empty database" in capsys.readouterr().err


def test_a_scale_of_nothing_is_refused(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_code:
        main(["generate", "--database-url", f"sqlite:///{tmp_path}/lab.sqlite3", "--scale", "0"])
    assert exit_code.value.code == 2
    assert "--scale must be a positive number" in capsys.readouterr().err
