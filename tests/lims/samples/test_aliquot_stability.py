"""Aliquoting is processing: a parent split into aliquots and the aliquots themselves no longer wait for processing,
so the compliance check, the work list's filter and flag and the sample's page leave them out; whether the split came
after the stability deadline stays on record, to the second (the clock is pinned)."""

from __future__ import annotations

import importlib.util
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, text, update

from lims import clock
from lims.identity.models import RoleName
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import aliquots, results, stability
from lims.samples.service import submissions as service
from lims.samples.service.sample_list import SampleFilter, filtered
from lims.testing.models import TestDefinition
from lims.units.parsing import parse_measurement
from tests.helpers import login
from tests.lims.compliance.checking import found
from tests.lims.samples.stability_support import NOW, hours_ago, plasma, received

CHECK = "samples.past-stability-window"
#: a 6-hour limit on plasma collected 2 hours before receipt
DEADLINE = NOW + timedelta(hours=4)
LATE = "processed after its stability deadline</span>"
PAST = "past its stability window</span>"


@pytest.fixture(autouse=True)
def _pinned_clock():
    clock.freeze(NOW)


@pytest.fixture
def manager(create_user):
    return create_user(RoleName.MANAGER, full_name="Mara Lind")


def _listed(db_session, moment) -> set[str]:
    clock.freeze(moment)
    return {
        sample.client_sample_id
        for sample in db_session.scalars(filtered(SampleFilter(past_stability_window=True), organization_id=None))
    }


@pytest.mark.parametrize(
    ("split_after_deadline", "late"),
    [(timedelta(seconds=-1), False), (timedelta(0), False), (timedelta(seconds=1), True)],
)
def test_an_aliquoted_parent_and_its_aliquots_are_processed_when_split(
    client, db_session, clients, manager, split_after_deadline, late
):
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    parent, waiting = received(
        db_session, clients, plasma("P-SPLIT", collected_at=hours_ago(2)), plasma("P-WAIT", collected_at=hours_ago(2))
    )
    clock.freeze(DEADLINE + split_after_deadline)
    (child,) = aliquots.split(db_session, parent, [parse_measurement("500 µL")], user=clients.technician)
    db_session.commit()
    assert parent.processed_at == child.processed_at == DEADLINE + split_after_deadline
    assert (parent.processed_late, child.processed_late) == (late, late)

    later = DEADLINE + timedelta(days=1)
    assert set(found(db_session, CHECK, at=later)) == {str(waiting.id)}
    assert _listed(db_session, later) == {"P-WAIT"}
    assert not parent.past_stability_window(later) and not child.past_stability_window(later)
    assert waiting.past_stability_window(later)
    assert stability.count_past_window(db_session) == 1

    login(client, clients.technician)
    for sample in (parent, child):
        page = client.get(f"/samples/{sample.public_id}").text
        assert PAST not in page and (LATE in page) is late and "Processing began" in page
    assert PAST in client.get(f"/samples/{waiting.public_id}").text
    listing = client.get("/samples").text
    assert listing.count(PAST) == 1 and listing.count(LATE) == (2 if late else 0)
    filtered_page = client.get("/samples?past_stability_window=on").text
    assert "P-WAIT" in filtered_page and "P-SPLIT" not in filtered_page


def test_an_aliquot_split_before_the_deadline_is_never_flagged_and_its_api_says_so(
    client, db_session, clients, manager
):
    stability.set_limit(db_session, sample_type="plasma", max_hours=6, user=manager)
    (parent,) = received(db_session, clients, plasma("P-EARLY", collected_at=hours_ago(2)))
    (child,) = aliquots.split(db_session, parent, [parse_measurement("0.5 mL")], user=clients.technician)
    db_session.commit()
    assert child.stability_deadline == parent.stability_deadline == DEADLINE
    assert child.status == SampleStatus.RECEIVED
    assert found(db_session, CHECK, at=DEADLINE + timedelta(days=3)) == {}
    clock.freeze(DEADLINE + timedelta(days=3))
    body = client.get(f"/api/v1/samples/{child.public_id}", headers=clients.helix_token).json
    assert body["past_stability_window"] is False and body["processed_after_deadline"] is False
    assert body["processed_at"] is not None
    assert client.get(f"/api/v1/samples/{child.public_id}", headers=clients.nordic_token).status_code == 404


def test_testing_started_late_stays_on_record_once_it_no_longer_waits(db_session, clients, manager):
    stability.set_limit(db_session, sample_type="plasma", max_hours=1, user=manager)
    (sample,) = received(db_session, clients, plasma("P-LATE", collected_at=hours_ago(5)))
    assert set(found(db_session, CHECK, at=NOW)) == {str(sample.id)}
    service.move_samples(db_session, [sample], SampleStatus.IN_TESTING, reason="Testing started")
    db_session.commit()
    assert found(db_session, CHECK, at=NOW) == {}
    assert sample.processed_at == NOW and sample.processed_late
    stored = db_session.scalar(select(Sample.processed_at).where(Sample.id == sample.id))
    assert stored == NOW


def _migration():
    path = Path(__file__).parents[3] / "migrations" / "versions" / "20261207_aliquotrules_processed.py"
    spec = importlib.util.spec_from_file_location("processed_at_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_migration_dates_the_processing_of_samples_split_or_tested_before_it(db_session, clients, manager):
    stability.set_limit(db_session, sample_type="plasma", max_hours=1, user=manager)
    parent, tested, waiting = received(
        db_session,
        clients,
        plasma("P-SPLIT", collected_at=hours_ago(5)),
        plasma("P-TESTED", collected_at=hours_ago(5)),
        plasma("P-WAIT", collected_at=hours_ago(5)),
    )
    clock.freeze(NOW + timedelta(minutes=30))
    (child,) = aliquots.split(db_session, parent, [parse_measurement("0.5 mL")], user=clients.technician)
    clock.freeze(NOW + timedelta(hours=1))
    viab = db_session.scalar(select(TestDefinition).where(TestDefinition.code == "VIAB"))
    results.assign_tests(db_session, tested, [viab], user=clients.technician, requested=True)
    db_session.flush()
    # as the samples stood before the column existed: dated from their splits and tests only
    db_session.execute(update(Sample).values(processed_at=None))
    migration = _migration()
    db_session.execute(text(migration._FROM_SPLITS))
    db_session.execute(text(migration._FROM_TESTS))
    db_session.expire_all()
    dated = dict(db_session.execute(select(Sample.client_sample_id, Sample.processed_at)).all())
    assert dated == {
        "P-SPLIT": NOW + timedelta(minutes=30),
        child.client_sample_id: NOW + timedelta(minutes=30),
        "P-TESTED": NOW + timedelta(hours=1),
        "P-WAIT": None,
    }
    assert set(found(db_session, CHECK, at=NOW + timedelta(hours=2))) == {str(waiting.id)}
