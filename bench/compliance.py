"""Every compliance check over a lab's worth of records, against the same checks over an almost empty lab.

Each check's function is run once in each lab, its SQL statements counted and its time taken; then one full run of
every check through the runner (the findings engine and the record of each run included, one transaction a check)
is timed in the lab. The statements a check sends should not depend on how many records it looks at: a check is a
bounded number of set-based queries. The audit chain's full verification is the exception by nature: it reads
every event, in batches, so its statements grow with the chain.

``LIMS_BENCH_LAB_URL`` and ``LIMS_BENCH_EMPTY_LAB_URL`` name the two databases (``python -m bench generate``);
without them both are generated into temporary SQLite files at small scales. Whatever the runs write (findings,
runs, audit events) is rolled back at the end: the labs stay as they were.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from bench.audit import Target, _print_ratio
from bench.pages import _databases
from lims import clock, scheduler
from lims.app import create_app
from lims.audit import context as audit_context
from lims.compliance import runner
from lims.compliance.models import RunOutcome
from lims.compliance.service import settings
from lims.db import get_session

#: the check whose statements grow with the records by nature: it hashes every event of the chain
READS_EVERY_EVENT = "audit.chain-integrity"
STATEMENTS_TARGET = Target("≤", 1.0)


@dataclass(frozen=True)
class CheckMeasured:
    statements: int
    seconds: float
    conditions: int


@dataclass(frozen=True)
class LabMeasured:
    checks: dict[str, CheckMeasured]
    full_run_seconds: float
    failed: list[str]


def run(_size: int) -> None:
    with ExitStack() as stack:
        lab_url, empty_url = _databases(stack)
        empty = _measure(empty_url)
        lab = _measure(lab_url)
    print(f"compliance: {'check':<40} {'empty stmts':>11} {'lab stmts':>9} {'lab time':>9} {'lab findings':>12}")
    for check_id, measured in lab.checks.items():
        baseline = empty.checks[check_id]
        print(
            f"compliance: {check_id:<40} {baseline.statements:11d} {measured.statements:9d} "
            f"{measured.seconds * 1000:7.0f}ms {measured.conditions:12d}"
        )
    print(
        f"compliance: one full run of {len(lab.checks)} checks through the runner in the lab: "
        f"{lab.full_run_seconds:.1f} s (empty lab {empty.full_run_seconds:.1f} s)"
        + (f"; FAILED: {', '.join(lab.failed)}" if lab.failed else "")
    )
    bounded = [check_id for check_id in lab.checks if check_id != READS_EVERY_EVENT]
    worst = max(bounded, key=lambda check_id: lab.checks[check_id].statements / empty.checks[check_id].statements)
    _print_ratio(
        "compliance",
        f"lab/empty statements, worst set-based check ({worst})",
        lab.checks[worst].statements / empty.checks[worst].statements,
        STATEMENTS_TARGET,
    )


def _measure(url: str) -> LabMeasured:
    with tempfile.TemporaryDirectory() as instance, _rolled_back(url, instance) as (session, statements):
        measured: dict[str, CheckMeasured] = {}
        for in_force in settings.checks_in_force(session):
            before, started = len(statements), time.perf_counter()
            conditions = list(in_force.check.run(session, clock.now(), in_force.parameters))
            measured[in_force.check.check_id] = CheckMeasured(
                len(statements) - before, time.perf_counter() - started, len(conditions)
            )
            session.rollback()
        started = time.perf_counter()
        runs = runner.run_checks(session)
        full_run = time.perf_counter() - started
        # Read while the session is open: its records of the runs are gone with it.
        failed = [run.check_id for run in runs if run.outcome == RunOutcome.FAILED]
    return LabMeasured(measured, full_run, failed)


@contextmanager
def _rolled_back(url: str, instance: str) -> Iterator[tuple[Session, list[str]]]:
    """A session of the LIMS on ``url`` whose every commit is undone at the end, and the statements it sends."""
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    database = app.extensions["lims.db"]
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    try:
        with database.engine.connect() as connection, app.app_context():
            outer = connection.begin()
            database.bind_to(connection)
            event.listen(connection, "before_cursor_execute", count)
            session = get_session()
            audit_context.act_as(session, scheduler.SCHEDULER)
            try:
                yield session, statements
            finally:
                event.remove(connection, "before_cursor_execute", count)
                session.close()
                outer.rollback()
    finally:
        database.engine.dispose()
