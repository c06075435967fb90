"""Worker processes that check parts of a long chain at once, a core each, and say whether their part holds."""

from __future__ import annotations

import gc
import logging
import multiprocessing
import multiprocessing.connection
from collections.abc import Callable
from multiprocessing.connection import Connection as MultiprocessingConnection
from typing import Any

from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool

from lims.audit.anchors import Anchors
from lims.audit.bulk_check import Part, check_in_bulk

logger = logging.getLogger("lims.audit")


class Workers:
    """Worker processes checking parts of the chain, each reporting the events it checked, then whether its part holds.

    Forked, so a worker starts at once with what it needs; it opens a connection of its own and keeps
    nothing it inherited.
    """

    def __init__(
        self, engine: Engine, parts: list[Part], hashes_before: list[str], anchors: Anchors, batch_size: int
    ) -> None:
        self.engine, self.parts, self.hashes_before, self.anchors = engine, parts, hashes_before, anchors
        self.batch_size = batch_size
        #: events each worker has reported checked
        self.reported = [0] * len(parts)
        self._holds: list[bool | None] = [None] * len(parts)
        self._readers: list[MultiprocessingConnection] = []
        self._processes: list[multiprocessing.process.BaseProcess] = []

    def __enter__(self) -> Workers:
        context = multiprocessing.get_context("fork")
        for index, part in enumerate(self.parts):
            reader, writer = context.Pipe(duplex=False)
            process = context.Process(
                target=_check_part_in_worker,
                daemon=True,
                name=f"audit-verify-{index + 1}",
                args=(self.engine, part, self.hashes_before[index], self.anchors, self.batch_size, writer),
            )
            process.start()
            writer.close()
            self._readers.append(reader)
            self._processes.append(process)
        return self

    def __exit__(self, *_exception: Any) -> None:
        for process in self._processes:
            process.kill()
            process.join()
        for reader in self._readers:
            reader.close()

    def forward_progress(self, progress: Callable[[int], None]) -> None:
        """Pass on what the workers have reported so far, without waiting for more."""
        for index, reader in enumerate(self._readers):
            while self._holds[index] is None and reader.poll():
                self._receive(index, progress)

    def part_holds(self, index: int, progress: Callable[[int], None]) -> bool:
        """Wait for the worker of part ``index`` to finish; whether its part holds."""
        while self._holds[index] is None:
            self.forward_progress(progress)
            if self._holds[index] is None:
                multiprocessing.connection.wait([self._readers[index]])
                self._receive(index, progress)
        return bool(self._holds[index])

    def _receive(self, index: int, progress: Callable[[int], None]) -> None:
        try:
            kind, value = self._readers[index].recv()
        except (EOFError, OSError):
            kind, value = "holds", False  # the worker died: its part is checked here instead
        if kind == "checked":
            self.reported[index] += value
            progress(value)
        else:
            self._holds[index] = value


def _check_part_in_worker(
    parent_engine: Engine,
    part: Part,
    previous_hash: str,
    anchors: Anchors,
    batch_size: int,
    results: MultiprocessingConnection,
) -> None:
    # What the process inherited is the parent's to collect: a connection finalised here would close the parent's.
    gc.freeze()
    holds = False
    try:
        engine = _engine_for_worker(parent_engine)
        try:
            with engine.connect() as connection:
                verified_to, _head_hash, failed = check_in_bulk(
                    connection,
                    part,
                    previous_hash,
                    anchors,
                    batch_size,
                    lambda events: results.send(("checked", events)),
                )
            holds = failed is None and verified_to == part.last
        finally:
            engine.dispose()
    except Exception:
        logger.warning(
            "A worker could not check audit events %d to %d; the calling process checks them.",
            part.after + 1,
            part.last,
            exc_info=True,
        )
    results.send(("holds", holds))
    results.close()


def _engine_for_worker(parent_engine: Engine) -> Engine:
    """The parent's engine with a pool of its own, its dialect already set up; on SQLite a plain engine instead,
    because the LIMS begins every SQLite transaction IMMEDIATE, as a writer, and a worker only reads."""
    if parent_engine.dialect.name == "sqlite":
        return create_engine(parent_engine.url, poolclass=NullPool)
    # The pool's connections are the parent's: left alone, not closed.
    parent_engine.dispose(close=False)
    return parent_engine
