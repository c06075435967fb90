"""One scheduler per database: of two started on one database only the holder of the lease runs the jobs, and the
other takes over when the holder's lease lapses; a run missed while none ran happens once when one starts, and so does
one that fell due as the scheduler shut down. On
PostgreSQL (LIMS_TEST_DATABASE_URL) and SQLite alike: the lease is a row both engines update the same way."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from apscheduler.events import EVENT_SCHEDULER_SHUTDOWN
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy import Engine, func, select

from lims import schema
from lims.app import create_app
from lims.compliance import scheduling
from lims.compliance.models import CheckRun, SchedulerLease
from lims.compliance.scheduling import LEASE_NAME, Job, LeasedScheduler
from lims.db import create_engine_for


@pytest.fixture
def apps_on_one_database(fresh_database_url, tmp_path) -> Iterator[Callable[[str], Flask]]:
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    engine.dispose()
    made: list[Flask] = []

    def make(name: str) -> Flask:
        app = create_app({"DATABASE_URL": fresh_database_url, "INSTANCE_PATH": str(tmp_path / name), "SECRET_KEY": "x"})
        made.append(app)
        return app

    yield make
    for app in made:
        app.extensions["lims.db"].engine.dispose()


def _wait_for(condition: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def _read(app: Flask, query) -> Any:
    with app.extensions["lims.db"].engine.connect() as connection:
        return connection.execute(query).scalar_one()


def _stored_next_run(engine: Engine, job_id: str) -> datetime:
    store = SQLAlchemyJobStore(engine=engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(), "default")
    return store.lookup_job(job_id).next_run_time


def test_only_the_lease_holder_runs_jobs_and_another_takes_over_when_its_lease_lapses(apps_on_one_database):
    first = LeasedScheduler(apps_on_one_database("first"), holder="first", lease_seconds=2, renew_seconds=0.2)
    second = LeasedScheduler(
        apps_on_one_database("second"), holder="second", lease_seconds=2, renew_seconds=0.2, run_now=True
    )
    first.start()
    second.start()
    try:
        # Several renewals later the holder keeps the lease and the other keeps waiting.
        renewed = select(SchedulerLease.renewed_at).where(SchedulerLease.name == LEASE_NAME)
        first_seen = _read(first.app, renewed)
        assert _wait_for(lambda: _read(first.app, renewed) >= first_seen + timedelta(seconds=0.5))
        assert first.holds_lease and not second.holds_lease
        assert "equipment.calibration-due" in {job.id for job in first.running_jobs.get_jobs()}
        # Every job is new to the database: the holder runs each at once (each check records its run).
        runs = select(func.count()).select_from(CheckRun)
        assert _wait_for(lambda: _read(first.app, runs) >= 15)
        first.stop(release=False)  # dies without giving its lease up
        before_takeover = _read(second.app, runs)
        assert _wait_for(lambda: second.holds_lease, seconds=10)
        holder = _read(second.app, select(SchedulerLease.holder).where(SchedulerLease.name == LEASE_NAME))
        assert holder == "second" and not first.holds_lease
        # The one that took over runs the jobs: every check again (run_now) records its run.
        assert _wait_for(lambda: _read(second.app, runs) >= before_takeover + 15)
    finally:
        second.stop()
        first.stop()


def test_a_run_missed_while_no_scheduler_ran_happens_once_when_one_starts(apps_on_one_database):
    app = apps_on_one_database("only")
    earlier = LeasedScheduler(app, holder="earlier", lease_seconds=5, renew_seconds=1)
    earlier.start()  # runs every job, new to the database, once at start
    runs = select(func.count()).select_from(CheckRun).where(CheckRun.check_id == "identity.performer-and-releaser")
    assert _wait_for(lambda: _read(app, runs) == 1)
    earlier.stop()
    # No scheduler ran for five hours: the stored job's next run was due four hours ago and has been missed since.
    store = SQLAlchemyJobStore(engine=app.extensions["lims.db"].engine, tablename="apscheduler_jobs")
    store.start(BackgroundScheduler(), "default")
    job = store.lookup_job("identity.performer-and-releaser")
    job._modify(next_run_time=datetime.now(UTC) - timedelta(hours=4))
    store.update_job(job)
    restarted = LeasedScheduler(app, holder="later", lease_seconds=5, renew_seconds=1)
    restarted.start()
    try:
        assert _wait_for(lambda: _read(app, runs) >= 2)
    finally:
        restarted.stop()  # waits for the job to finish: every run of the missed slots it was given has happened
    assert _read(app, runs) == 2


def _scheduler_with_a_probe_due(
    apps_on_one_database: Callable[[str], Flask], monkeypatch: pytest.MonkeyPatch, due: datetime
) -> tuple[Engine, BackgroundScheduler, threading.Event]:
    """A job scheduler, started paused, with one stored job falling due at ``due``, and the event its run sets."""
    app = apps_on_one_database("only")
    engine = app.extensions["lims.db"].engine
    ran = threading.Event()
    probe = Job("probe", "Probe", "every 1h", IntervalTrigger(hours=1), lambda _app: ran.set())
    monkeypatch.setattr(scheduling, "_running", {"app": app, "jobs": {"probe": probe}})
    scheduler = scheduling.job_scheduler(engine)
    scheduler.start(paused=True)
    scheduler.add_job(scheduling.run_job, probe.trigger, args=("probe",), id="probe", next_run_time=due)
    return engine, scheduler, ran


def _assert_the_probe_runs_then_waits_for_its_next_slot(
    running: BackgroundScheduler, engine: Engine, ran: threading.Event
) -> None:
    """The running scheduler runs the probe job; once shut down, the job's stored next run is in the future."""
    try:
        assert ran.wait(20)
    finally:
        running.shutdown(wait=True)
    assert _stored_next_run(engine, "probe") > datetime.now(UTC)


def test_a_job_due_as_its_scheduler_shuts_down_is_not_recorded_as_run_and_runs_at_the_next_start(
    apps_on_one_database, monkeypatch
):
    due = datetime.now(UTC) - timedelta(seconds=1)
    engine, stopping, ran = _scheduler_with_a_probe_due(apps_on_one_database, monkeypatch, due)
    # The scheduler's thread wakes for the due job, and the scheduler is shut down (its executor and job store
    # with it) before the thread looks for the jobs that are due.
    woke, shut_down = threading.Event(), threading.Event()
    look_for_due_jobs = stopping._process_jobs

    def wake_as_the_scheduler_shuts_down() -> float | None:
        woke.set()
        shut_down.wait()
        return look_for_due_jobs()

    stopping._process_jobs = wake_as_the_scheduler_shuts_down
    stopping.add_listener(lambda _event: shut_down.set(), EVENT_SCHEDULER_SHUTDOWN)
    stopping.resume()
    assert woke.wait(20)
    stopping.shutdown(wait=True)
    assert not ran.is_set()
    assert _stored_next_run(engine, "probe") == due  # still due: not recorded as run

    restarted = scheduling.job_scheduler(engine)
    restarted.start()
    _assert_the_probe_runs_then_waits_for_its_next_slot(restarted, engine, ran)


def test_a_job_due_once_the_thread_pool_takes_no_more_work_runs_before_it_is_recorded_as_run(
    apps_on_one_database, monkeypatch
):
    engine, running, ran = _scheduler_with_a_probe_due(apps_on_one_database, monkeypatch, datetime.now(UTC))
    # As when the interpreter has begun to exit: its thread pools refuse work before the process's atexit handlers
    # stop the scheduler.
    running._lookup_executor("default")._pool.shutdown(wait=True)
    running.resume()
    _assert_the_probe_runs_then_waits_for_its_next_slot(running, engine, ran)
