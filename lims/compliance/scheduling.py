"""One scheduler per database, however many processes start one.

APScheduler keeps its jobs in the LIMS database (``apscheduler_jobs``). A process runs them only while it holds
the lease row (``scheduler_lease``): it takes the lease when it is free or lapsed and renews it every
``renew_seconds``; when its holder dies, the lease lapses after ``lease_seconds`` and another process takes it
over. Jobs that were due while no process ran them run once when one takes over (coalesced), because a stored
job keeps its next run time. Works the same on SQLite and PostgreSQL: the lease is one conditional UPDATE.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.base import run_job as run_job_in_executor
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job as ApschedulerJob
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import STATE_STOPPED
from apscheduler.triggers.base import BaseTrigger
from flask import Flask
from sqlalchemy import Engine, case, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from lims import clock, registry, scheduler
from lims.audit import context as audit_context
from lims.compliance import runner
from lims.compliance.models import SchedulerLease, scheduler_jobs
from lims.compliance.service import settings
from lims.db import get_session

logger = logging.getLogger("lims.scheduler")

LEASE_NAME = "compliance scheduler"
#: how long a lease holds without renewal; a holder that died is replaced after this
LEASE_SECONDS = 90
RENEW_SECONDS = 20


@dataclass(frozen=True)
class Job:
    job_id: str
    title: str
    schedule: str
    trigger: BaseTrigger
    #: runs the job in ``app``: in its own app context and transaction
    run: Callable[[Flask], Any]


def _compliance_job(check_id: str) -> Callable[[Flask], Any]:
    def run(app: Flask) -> None:
        with app.app_context():
            session = get_session()
            audit_context.act_as(session, scheduler.SCHEDULER)
            in_force = settings.check_in_force(session, settings.declared_check(check_id))
            if not in_force.enabled:
                session.rollback()
                logger.info("%s is disabled; not run", check_id)
                return
            runner.run_check(session, in_force)

    return run


def _lims_job(check: scheduler.ScheduledCheck) -> Callable[[Flask], Any]:
    return lambda app: scheduler.run_check(app, check)


def declared_jobs(app: Flask) -> list[Job]:
    """Every job of the installation: the kernel's and the areas' jobs, then every compliance check."""
    jobs = [
        Job(check.job_id, check.title, str(check.trigger), check.trigger, _lims_job(check))
        for check in scheduler.scheduled_checks(app.config)
    ]
    for check in registry.current().compliance_checks.values():
        jobs.append(
            Job(
                check.check_id,
                check.title,
                check.schedule,
                scheduler.schedule_trigger(check.schedule),
                _compliance_job(check.check_id),
            )
        )
    return jobs


#: the app and jobs of the scheduler this process runs, for :func:`run_job` (the job store keeps only its id)
_running: dict[str, Any] = {}


def run_job(job_id: str) -> None:
    """Run a stored job by its id in the app of this process's scheduler (what the job store refers to)."""
    app: Flask | None = _running.get("app")
    job: Job | None = _running.get("jobs", {}).get(job_id)
    if app is None or job is None:
        logger.warning("Job %s is not declared in this process; not run", job_id)
        return
    job.run(app)


class _JobScheduler(BackgroundScheduler):
    def _process_jobs(self) -> float | None:
        # APScheduler's thread can wake for a due job just as shutdown() begins. shutdown() marks the scheduler
        # stopped, then shuts the executor down under the job stores' lock; the thread does not look at the state
        # again, so it would hand the job to the executor that was shut down, which refuses it, and still store the
        # job's next run: the job would be recorded as run without running, and its run lost. Looking at the state
        # under that lock closes the gap: a job handed over before shutdown takes the lock runs (shutdown waits for
        # it), and one not handed over stays due in the database and runs when a scheduler next starts.
        with self._jobstores_lock:
            if self.state == STATE_STOPPED:
                return None
            wait_seconds: float | None = super()._process_jobs()
            return wait_seconds


class _Executor(ThreadPoolExecutor):
    def _do_submit_job(self, job: ApschedulerJob, run_times: list[datetime]) -> None:
        try:
            super()._do_submit_job(job, run_times)
        except RuntimeError:
            # Python's thread pools take no more work once the interpreter begins to exit, before the atexit handler
            # that stops an embedded scheduler has run; APScheduler would store the refused job's next run all the
            # same. The job runs here instead, in the scheduler's thread, before its next run is stored.
            logger.info("The thread pool takes no more work: %s runs in the scheduler's thread", job.id)
            for event in run_job_in_executor(job, job._jobstore_alias, run_times, self._logger.name):
                self._scheduler._dispatch_event(event)


def job_scheduler(engine: Engine) -> BackgroundScheduler:
    """The APScheduler that runs the jobs kept in the database of ``engine``, not yet started."""
    return _JobScheduler(
        executors={"default": _Executor()},
        jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=scheduler_jobs.name)},
        # A run missed while no process held the lease runs once when one does, however many were missed.
        job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        timezone=UTC,
    )


class LeasedScheduler:
    """The compliance scheduler of one process: it runs the jobs only while it holds the database's lease."""

    def __init__(
        self,
        app: Flask,
        *,
        holder: str | None = None,
        lease_seconds: float = LEASE_SECONDS,
        renew_seconds: float = RENEW_SECONDS,
        run_now: bool = False,
    ) -> None:
        self.app = app
        self.engine: Engine = app.extensions["lims.db"].engine
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self.lease = timedelta(seconds=lease_seconds)
        self.renew_seconds = renew_seconds
        self.run_now = run_now
        self._stopping = threading.Event()
        self._keeper: threading.Thread | None = None
        self._scheduler: BackgroundScheduler | None = None

    @property
    def holds_lease(self) -> bool:
        """Whether this process runs the jobs now."""
        return self._scheduler is not None

    @property
    def running_jobs(self) -> BackgroundScheduler | None:
        return self._scheduler

    def start(self) -> None:
        """Try for the lease now and keep trying (or renewing) in the background."""
        self._keep_lease_once()
        self._keeper = threading.Thread(target=self._keep_lease, name="lims-scheduler-lease", daemon=True)
        self._keeper.start()

    def stop(self, *, release: bool = True) -> None:
        """Stop running jobs (a running one finishes first) and give the lease up for another process to take at
        once; without ``release`` the lease lapses in its own time, as when a holder dies."""
        self._stopping.set()
        if self._keeper is not None:
            self._keeper.join()
        self._stop_jobs()
        if release:
            self._release()

    def _keep_lease(self) -> None:
        while not self._stopping.wait(self.renew_seconds):
            self._keep_lease_once()

    def _keep_lease_once(self) -> None:
        try:
            held = self._take_or_renew()
        except SQLAlchemyError:
            logger.exception("The scheduler's lease could not be taken or renewed")
            held = False
        if held and self._scheduler is None:
            logger.info("%s holds the scheduler lease: running the jobs", self.holder)
            self._start_jobs()
        elif not held and self._scheduler is not None:
            logger.warning("%s lost the scheduler lease: no longer running the jobs", self.holder)
            self._stop_jobs()

    def _take_or_renew(self) -> bool:
        """Take the lease if it is free or lapsed, renew it if this process holds it; say whether it does."""
        now = clock.now()
        values = {
            "holder": self.holder,
            "renewed_at": now,
            "expires_at": now + self.lease,
        }
        try:
            with self.engine.begin() as connection:
                taken = connection.execute(
                    update(SchedulerLease)
                    .where(
                        SchedulerLease.name == LEASE_NAME,
                        or_(SchedulerLease.holder == self.holder, SchedulerLease.expires_at < now),
                    )
                    .values(
                        **values,
                        acquired_at=case((SchedulerLease.holder == self.holder, SchedulerLease.acquired_at), else_=now),
                    )
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    return True
                if connection.execute(select(SchedulerLease.name).where(SchedulerLease.name == LEASE_NAME)).first():
                    return False
                connection.execute(insert(SchedulerLease).values(name=LEASE_NAME, acquired_at=now, **values))
                return True
        except IntegrityError:
            # Another process created the lease row at the same moment: it holds it.
            return False

    def _release(self) -> None:
        try:
            with self.engine.begin() as connection:
                connection.execute(
                    update(SchedulerLease)
                    .where(SchedulerLease.name == LEASE_NAME, SchedulerLease.holder == self.holder)
                    .values(expires_at=clock.now())
                    .execution_options(synchronize_session=False)
                )
        except SQLAlchemyError:
            logger.exception("The scheduler's lease could not be given up; it lapses by itself")

    def _start_jobs(self) -> None:
        jobs = {job.job_id: job for job in declared_jobs(self.app)}
        _running.update(app=self.app, jobs=jobs)
        running = job_scheduler(self.engine)
        running.start(paused=True)
        for stored in running.get_jobs():
            if stored.id not in jobs:
                stored.remove()
        for job in jobs.values():
            stored = running.get_job(job.job_id)
            # A job stored with the same trigger keeps its next run time, so that a missed run is not lost; a job
            # never stored before (a new installation, a new check) runs at once, then on its schedule.
            if stored is not None and str(stored.trigger) == str(job.trigger) and not self.run_now:
                continue
            at_once = self.run_now or stored is None
            running.add_job(
                run_job,
                job.trigger,
                args=(job.job_id,),
                id=job.job_id,
                name=job.title,
                replace_existing=True,
                **({"next_run_time": clock.now()} if at_once else {}),
            )
        self.run_now = False
        running.resume()
        self._scheduler = running

    def _stop_jobs(self) -> None:
        if self._scheduler is not None:
            running, self._scheduler = self._scheduler, None
            running.shutdown(wait=True)
