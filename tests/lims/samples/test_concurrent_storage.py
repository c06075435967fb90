"""Technicians storing at once on PostgreSQL: a box position ends up holding one sample, and a sample one position,
the others told why (never a database error)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from lims import schema
from lims.audit import context as audit_context
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service import organizations, users
from lims.samples.errors import CustodyRefused, PositionOccupied
from lims.samples.models import Sample
from lims.samples.service import accessioning, storage
from lims.samples.service import submissions as service
from lims.samples.storage_models import SampleLocation, StorageBox, StorageKind
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD
from tests.lims import lock_waits
from tests.lims.samples.conftest import accept, row

WRITERS = 6


def _lab(engine: Engine) -> tuple[int, int, list[int]]:
    """A technician, a freezer box and WRITERS received −80 °C samples: their ids."""
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        facility = organizations.create_organization(session, code="NBCT", name="NB", kind=OrganizationKind.FACILITY)
        client = organizations.create_organization(session, code="HELIX", name="Helix", kind=OrganizationKind.CLIENT)
        technician = users.create_user(
            session,
            username="tech",
            full_name="Tech",
            email="t@x.org",
            organization=facility,
            roles={RoleName.TECHNICIAN, RoleName.MANAGER},
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="Test user",
        )
        audit_context.act_as(session, audit_context.Actor(technician.id, "Tech"))
        freezer = storage.create_unit(
            session,
            name="Freezer F-01",
            kind=StorageKind.FREEZER,
            location="Room 2.14",
            minimum_temperature=parse_measurement("-86 °C"),
            maximum_temperature=parse_measurement("-70 °C"),
            user=technician,
        )
        box = storage.add_box(
            session, storage.add_rack(session, freezer, name="Rack A"), name="Box 1", rows=9, columns=9
        )
        submission = service.create_draft(session, client, reference="Rush", user=None)
        service.add_rows(
            session,
            submission,
            [
                row(f"S-{n}", protocol="", subject="", visit="", requested_tests="", storage_requirement="-80 °C")
                for n in range(WRITERS)
            ],
        )
        service.submit(session, submission)
        for sample in submission.samples:
            accessioning.receive_sample(session, sample, accept(), user=technician)
        session.commit()
        return technician.id, box.id, [sample.id for sample in submission.samples]


def _race(engine: Engine, technician_id: int, work: Callable[[Session, User, int], Any]) -> list[Any]:
    start = threading.Barrier(WRITERS)
    outcomes: list[Any] = [None] * WRITERS

    def run(index: int) -> None:
        try:
            with Session(engine) as session:
                audit_context.act_as(session, audit_context.Actor(technician_id, "Tech"))
                user = session.get(User, technician_id)
                assert user is not None
                start.wait(10)
                outcomes[index] = work(session, user, index)
                session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(WRITERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def _put(session: Session, user: User, sample_id: int, box_id: int, position: str) -> str:
    sample = session.get(Sample, sample_id)
    box = session.get(StorageBox, box_id)
    assert sample is not None and box is not None
    return storage.store(session, sample, box, storage.parse_position(box, position), user=user).to_location or ""


def test_concurrent_stores_into_one_position_leave_one_sample_there(fresh_database_url):
    lock_waits.postgresql_only(fresh_database_url)
    engine = create_engine_for(fresh_database_url, pool_size=WRITERS + 1, max_overflow=0)
    try:
        technician_id, box_id, sample_ids = _lab(engine)
        outcomes = _race(engine, technician_id, lambda s, u, i: _put(s, u, sample_ids[i], box_id, "E5"))
        stored = [outcome for outcome in outcomes if isinstance(outcome, str)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, PositionOccupied)]
        assert stored == ["Freezer F-01 / Rack A / Box 1 / E5"], outcomes
        assert len(refused) == WRITERS - 1, outcomes
        with Session(engine) as session:
            holders = session.scalars(
                select(SampleLocation.sample_id).where(
                    SampleLocation.box_id == box_id, SampleLocation.position_row == 5
                )
            ).all()
            assert len(holders) == 1
    finally:
        engine.dispose()


def test_concurrent_stores_of_one_sample_put_it_in_one_place(fresh_database_url):
    lock_waits.postgresql_only(fresh_database_url)
    engine = create_engine_for(fresh_database_url, pool_size=WRITERS + 1, max_overflow=0)
    try:
        technician_id, box_id, sample_ids = _lab(engine)
        outcomes = _race(engine, technician_id, lambda s, u, i: _put(s, u, sample_ids[0], box_id, f"A{i + 1}"))
        stored = [outcome for outcome in outcomes if isinstance(outcome, str)]
        refused = [outcome for outcome in outcomes if isinstance(outcome, CustodyRefused)]
        assert len(stored) == 1 and len(refused) == WRITERS - 1, outcomes
        assert all("already stored" in refused_one.message for refused_one in refused)
        with Session(engine) as session:
            assert session.scalar(select(func.count()).where(SampleLocation.box_id == box_id)) == 1
    finally:
        engine.dispose()
