"""Racing real writers on PostgreSQL: which server process a session runs on, and waiting until it waits on a lock.

SQLite serialises writers when their transactions begin (BEGIN IMMEDIATE), so no two writers ever hold locks at
once there and the races these helpers stage cannot happen.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

#: How long a racer may take to reach the lock it is expected to wait on; far beyond any real wait.
_REACH_LOCK_WITHIN = 30.0
_POLL_EVERY = 0.02


def postgresql_only(url: str) -> None:
    if not url.startswith("postgresql"):
        pytest.skip("SQLite serialises writers at BEGIN IMMEDIATE: no two writers ever hold locks at once")


def backend_pid(session: Session) -> int:
    return session.execute(text("SELECT pg_backend_pid()")).scalar_one()


def wait_until_waiting_on_a_lock(engine: Engine, pid: int) -> None:
    """Return once server process ``pid`` waits on a lock; fail if it never does."""
    stop = threading.Event()
    for _attempt in range(int(_REACH_LOCK_WITHIN / _POLL_EVERY)):
        with engine.connect() as connection:
            waiting = connection.execute(
                text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid}
            ).scalar()
        if waiting == "Lock":
            return
        stop.wait(_POLL_EVERY)
    pytest.fail(f"server process {pid} never waited on a lock")


class Racer(threading.Thread):
    """Runs ``work`` in a thread; ``outcome`` is what it returned or the exception it raised.

    ``work`` calls ``note_server_process`` with its session, so the test can wait until it waits on a lock.
    """

    def __init__(self, work: Callable[[], Any]) -> None:
        super().__init__(daemon=True)
        self.work = work
        self.outcome: Any = None
        self._pid: int | None = None
        self._pid_noted = threading.Event()

    def note_server_process(self, session: Session) -> None:
        self._pid = backend_pid(session)
        self._pid_noted.set()

    def wait_until_waiting_on_a_lock(self, engine: Engine) -> None:
        assert self._pid_noted.wait(_REACH_LOCK_WITHIN), "the racer never started its transaction"
        assert self._pid is not None
        wait_until_waiting_on_a_lock(engine, self._pid)

    def run(self) -> None:
        try:
            self.outcome = self.work()
        except BaseException as error:  # noqa: BLE001 - the test reports it
            self.outcome = error

    def result(self) -> Any:
        self.join(_REACH_LOCK_WITHIN * 2)
        assert not self.is_alive(), "the racer never finished"
        return self.outcome
