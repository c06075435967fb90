"""Two people at once: the second waits for the first and then sees what was done (a fresh database, real threads).

The first writer records and holds its transaction open for a moment before committing; the second starts
meanwhile from what it read before the first committed. Without locking on PostgreSQL the second would act
on stale data: overdraw the lot, or record the same value twice.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from batch_records.errors import AlreadyRecorded
from batch_records.models import BatchEntry, BatchParameter, Deviation
from batch_records.service import batches, deviations, execution
from lims import schema
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service import organizations, users
from lims.identity.service import organizations as identity_organizations
from lims.identity.service import users as identity_users
from lims.materials import service as materials
from lims.materials.errors import LotExhausted
from lims.materials.models import LotConsumption, MaterialLot
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import build_line
from tests.helpers import PASSWORD
from tests.lims import lock_waits


@pytest.fixture
def committed_line(fresh_database_url):
    engine = create_engine_for(fresh_database_url, pool_size=4, max_overflow=0)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        facility = organizations.create_organization(
            session, code="NBCT", name="Northbridge", kind=OrganizationKind.FACILITY
        )

        def person(username: str, role: RoleName):
            return users.create_user(
                session,
                username=username,
                full_name=username,
                email=f"{username}@x.org",
                organization=facility,
                roles={role},
                password=PASSWORD,
                must_change_password=False,
                actor=None,
                reason="Test user",
            )

        line = build_line(
            session,
            author=person("author", RoleName.MANAGER),
            qa=person("qa", RoleName.QA),
            operator=person("first", RoleName.TECHNICIAN),
            second_operator=person("second", RoleName.TECHNICIAN),
            untrained=person("untrained", RoleName.TECHNICIAN),
            sponsor=identity_organizations.create_organization(
                session, code="HELIX", name="Helix", kind=OrganizationKind.CLIENT
            ),
        )
        batch = batches.start_batch(
            session,
            line.version,
            subject=line.subject,
            starting_material_identity="W1234 26 123456 7",
            user=line.operator,
        )
        ids = {
            "batch": batch.id,
            "lot": line.medium_lot.id,
            "first": line.operator.id,
            "second": line.second_operator.id,
            "volume": batch.steps[0].parameters[0].id,
        }
        session.commit()
    yield engine, ids
    engine.dispose()


def race(engine, first: Callable[[Session], Any], second: Callable[[Session], Any]) -> list[BaseException | Any]:
    """Run ``first`` and hold its transaction open while ``second`` reads, then commit it."""
    outcomes: list[BaseException | Any] = [None, None]
    first_done = threading.Event()
    second_read = threading.Event()

    def run_first() -> None:
        try:
            with Session(engine) as session:
                outcomes[0] = first(session)
                first_done.set()
                # On SQLite the second cannot even read until this commits (BEGIN IMMEDIATE): wait briefly.
                second_read.wait(1)
                time.sleep(0.5)
                session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            outcomes[0] = error
            first_done.set()

    def run_second() -> None:
        try:
            first_done.wait(5)
            with Session(engine) as session:
                outcomes[1] = second(session, second_read)
                session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            outcomes[1] = error
            second_read.set()

    threads = [threading.Thread(target=run_first), threading.Thread(target=run_second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return outcomes


def test_two_takings_from_one_lot_cannot_overdraw_it(committed_line):
    engine, ids = committed_line

    def take(session: Session, read: threading.Event | None = None) -> LotConsumption:
        lot = session.get(MaterialLot, ids["lot"])
        user = users.get_user(session, ids["first"])
        if read is not None:
            read.set()
        return materials.consume(session, lot, parse_measurement("600 mL"), user=user, record_type="test", record_id=1)

    first, second = race(engine, take, take)
    assert isinstance(first, LotConsumption)
    assert isinstance(second, LotExhausted) and "has only 0.4 L left" in str(second)
    with Session(engine) as session:
        assert session.get(MaterialLot, ids["lot"]).quantity_remaining == parse_measurement("0.4 L")
        assert session.scalar(select(func.count(LotConsumption.id))) == 1


def test_two_people_cannot_both_record_the_same_value(committed_line):
    engine, ids = committed_line

    def record(user_key: str, value: str):
        def act(session: Session, read: threading.Event | None = None) -> BatchEntry:
            parameter = session.get(BatchParameter, ids["volume"])
            parameter.current_entry  # noqa: B018  (read before the other commits, where the engine allows it)
            if read is not None:
                read.set()
            return execution.record_entry(
                session, parameter, value, user=identity_users.get_user(session, ids[user_key])
            )

        return act

    first, second = race(engine, record("first", "180"), record("second", "190"))
    assert isinstance(first, BatchEntry)
    assert isinstance(second, AlreadyRecorded)
    with Session(engine) as session:
        assert [str(entry.value) for entry in session.scalars(select(BatchEntry))] == ["180 mL"]


def test_deviations_raised_at_once_get_different_numbers(committed_line):
    engine, ids = committed_line

    def raise_one(session: Session, read: threading.Event | None = None) -> str:
        batch = batches.get_batch(session, ids["batch"])
        if read is not None:
            read.set()
        return deviations.raise_deviation(
            session, batch, description="Label smudged", user=identity_users.get_user(session, ids["first"])
        ).number

    first, second = race(engine, raise_one, raise_one)
    assert {first, second} == {"DEV-2030-0001", "DEV-2030-0002"}
    with Session(engine) as session:
        assert session.scalar(select(func.count(Deviation.id))) == 2


def test_batches_started_at_once_get_different_numbers(committed_line):
    engine, ids = committed_line

    def start(identity_text: str):
        def act(session: Session, read: threading.Event | None = None) -> str:
            batch = batches.get_batch(session, ids["batch"])
            if read is not None:
                read.set()
            return batches.start_batch(
                session,
                batch.mbr_version,
                subject=batch.subject,
                starting_material_identity=identity_text,
                user=users.get_user(session, ids["first"]),
            ).batch_number

        return act

    first, second = race(engine, start("W1234 26 000002 L"), start("W1234 26 000003 J"))
    assert {first, second} == {"CART-001-300002", "CART-001-300003"}


def test_an_out_of_limit_entry_and_a_deviation_raised_by_hand_do_not_deadlock(committed_line, fresh_database_url):
    """The manual deviation draws its number first, then writes; the out-of-limit entry writes first, then draws
    the deviation's number. Were the write lock taken after the numbering lock, each would hold what the other
    waits for. Here the manual one stops right after drawing its number until the entry waits on a lock."""
    lock_waits.postgresql_only(fresh_database_url)
    engine, ids = committed_line
    with Session(engine) as session:
        temperature = session.scalar(
            select(BatchParameter.id).where(BatchParameter.name == "Temperature on receipt").limit(1)
        )
    numbered, entry_waits = threading.Event(), threading.Event()

    def pause_once_numbered(_connection, _cursor, statement, *_args) -> None:
        if "hashtext" in statement and not numbered.is_set():
            numbered.set()
            entry_waits.wait()

    def raise_by_hand() -> str:
        with Session(engine) as session:
            event.listen(session.connection(), "after_cursor_execute", pause_once_numbered)
            batch = batches.get_batch(session, ids["batch"])
            number = deviations.raise_deviation(
                session, batch, description="Label smudged", user=identity_users.get_user(session, ids["first"])
            ).number
            session.commit()
            return number

    def record_out_of_limit() -> str:
        with Session(engine) as session:
            entry.note_server_process(session)
            parameter = session.get(BatchParameter, temperature)
            execution.record_entry(session, parameter, "11 °C", user=identity_users.get_user(session, ids["first"]))
            session.commit()
            return parameter.step.batch.deviations[-1].number

    by_hand = lock_waits.Racer(raise_by_hand)
    by_hand.start()
    assert numbered.wait(30), "the deviation raised by hand never drew its number"
    entry = lock_waits.Racer(record_out_of_limit)
    entry.start()
    entry.wait_until_waiting_on_a_lock(engine)
    entry_waits.set()
    assert (by_hand.result(), entry.result()) == ("DEV-2030-0001", "DEV-2030-0002")
