"""Checking a part of the chain in bulk: events read a batch at a time as two strings, each batch checked whole.

A batch that fails is not examined here; ``lims.audit.verification`` walks it event by event to say what is
wrong and where.
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from itertools import chain

from sqlalchemy import text
from sqlalchemy.engine import Connection

from lims.audit.anchors import Anchors
from lims.audit.models import GENESIS_HASH

#: Events read and checked together: enough that a statement's own cost does not count, few enough that the
#: database assembles each batch in memory it reuses (at 10,000 PostgreSQL spent more time faulting in fresh
#: pages for the batch than reading it).
VERIFY_BATCH = 2_000
#: Batches read ahead of the one being hashed, so that neither the database nor the hashing waits on the other.
_BATCHES_READ_AHEAD = 2

#: SQLite: one batch of a part of the chain, as a statement of its own (an in-process read costs no round trip):
#: how many events, the last one's sequence, the payloads a line each (JSON holds no raw line break) and the
#: hashes, each framed as a payload ends: ,"<hash>"] (see _batch_holds). The string aggregate keeps the order of
#: the sorted subquery; were it ever not to, the batch would fail the bulk check and be walked event by event,
#: which reports only real breaks.
_READ_BATCH_ON_SQLITE = text("""
SELECT count(*) AS events, max(sequence) AS last_sequence, group_concat(payload, char(10)) AS payloads,
       group_concat(',"' || hash || '"]', '') AS framed_hashes
FROM (SELECT sequence, payload, hash FROM audit_event WHERE sequence > :after AND sequence <= :last
      ORDER BY sequence LIMIT :size) batch
""")
#: PostgreSQL: the same batches, one per range of sequences, streamed by one COPY: no round trip a batch, and the
#: server assembles each batch in memory it reuses, where a statement a batch faulted in fresh pages each time.
_COPY_BATCHES_ON_POSTGRESQL = """
COPY (SELECT batch.* FROM generate_series(0, (%(last)s - %(after)s - 1) / %(size)s) AS number, LATERAL (
        SELECT count(*), max(sequence), string_agg(payload, chr(10)), string_agg(',"' || hash || '"]', '')
        FROM (SELECT sequence, payload, hash FROM audit_event
              WHERE sequence > %(after)s + number * %(size)s
                AND sequence <= least(%(after)s + (number + 1) * %(size)s, %(last)s)
              ORDER BY sequence) events) batch)
TO STDOUT (FORMAT BINARY)
"""
_FRAME = len(',"' + GENESIS_HASH + '"]')


@dataclass(frozen=True)
class Part:
    """The events after ``after`` up to ``last``, checked as one."""

    after: int
    last: int


@dataclass(frozen=True)
class Batch:
    after: int
    events: int
    last_sequence: int
    #: UTF-8, one payload a line
    payloads: bytes
    framed_hashes: str

    def hash_at(self, sequence: int) -> str:
        start = (sequence - self.after - 1) * _FRAME + 2
        return self.framed_hashes[start : start + 64]

    @property
    def last_hash(self) -> str:
        return self.hash_at(self.last_sequence)


def check_in_bulk(
    connection: Connection,
    part: Part,
    previous_hash: str,
    anchors: Anchors,
    batch_size: int,
    progress: Callable[[int], None],
) -> tuple[int, str, tuple[Batch, str] | None]:
    """How far ``part`` holds, batch by batch: the last event and hash of the batches that held, then the first batch
    that did not and the hash before it, if any. Its reading has stopped when this returns."""
    verified_to, head_hash = part.after, previous_hash
    with closing(_checked_batches(connection, part, previous_hash, anchors, batch_size)) as batches:
        for batch, hash_before, holds in batches:
            if not holds:
                return verified_to, head_hash, (batch, hash_before)
            verified_to, head_hash = batch.last_sequence, batch.last_hash
            progress(batch.events)
    return verified_to, head_hash, None


def _read_batches(connection: Connection, part: Part, batch_size: int) -> Generator[Batch, None, None]:
    """The batches of ``part``; each batch's ``after`` is the last event read before it, so a gap fails its check."""
    read = _copy_rows if connection.dialect.name == "postgresql" else _select_rows
    after = part.after
    with closing(read(connection, part, batch_size)) as rows:
        for events, last_sequence, payloads, framed_hashes in rows:
            if events:
                yield Batch(after, events, last_sequence, payloads, framed_hashes.decode())
                after = last_sequence


def _select_rows(
    connection: Connection, part: Part, batch_size: int
) -> Generator[tuple[int, int, bytes, bytes], None, None]:
    after = part.after
    while after < part.last:
        row = connection.execute(_READ_BATCH_ON_SQLITE, {"after": after, "last": part.last, "size": batch_size}).one()
        if not row.events:
            return
        yield row.events, row.last_sequence, row.payloads.encode(), row.framed_hashes.encode()
        after = row.last_sequence


def _copy_rows(
    connection: Connection, part: Part, batch_size: int
) -> Generator[tuple[int, int, bytes, bytes], None, None]:
    if part.last <= part.after:
        return
    # The plan's estimated cost would have it compiled first, which takes longer than running it.
    jit = connection.exec_driver_sql("SHOW jit").scalar_one()
    connection.exec_driver_sql("SET LOCAL jit = off")
    driver_connection = connection.connection.driver_connection
    assert driver_connection is not None, "a checked-out connection has its driver's connection"
    cursor = driver_connection.cursor()
    with cursor.copy(_COPY_BATCHES_ON_POSTGRESQL, {"after": part.after, "last": part.last, "size": batch_size}) as copy:
        # Texts read as the UTF-8 bytes they are sent as, which is what is hashed.
        copy.set_types(["int8", "int8", "bytea", "bytea"])
        rows = copy.rows()
        try:
            yield from rows
        finally:
            # A COPY left early holds the connection (and cancelling it would abort the transaction): read it out.
            for _unread in rows:
                pass
    connection.exec_driver_sql("SELECT set_config('jit', %(jit)s, true)", {"jit": jit})


def _batch_holds(batch: Batch, previous_hash: str, anchors: Anchors) -> bool:
    """Whether every event of the batch is in its place, linked, unaltered and as the checkpoints recorded it.

    Checked in bulk, which keeps pace with bare hashing; a batch that fails is walked event by event to find
    what is wrong and where.
    """
    if batch.last_sequence - batch.after != batch.events or len(batch.framed_hashes) != batch.events * _FRAME:
        return False
    payloads = batch.payloads.split(b"\n")
    if len(payloads) != batch.events:
        return False
    # A payload ends with its prev_hash, the last item of its JSON array: ,"<the hash before it>"]
    framed_previous = f',"{previous_hash}"]' + batch.framed_hashes[:-_FRAME]
    if b"".join([payload[-_FRAME:] for payload in payloads]) != framed_previous.encode():
        return False
    sha256 = hashlib.sha256
    if ',"' + '"],"'.join([sha256(payload).hexdigest() for payload in payloads]) + '"]' != batch.framed_hashes:
        return False
    return not any(
        anchors.disagreeing(sequence, batch.hash_at(sequence))
        for sequence in anchors.between(batch.after, batch.last_sequence)
    )


def _checked_batches(
    connection: Connection, part: Part, previous_hash: str, anchors: Anchors, batch_size: int
) -> Generator[tuple[Batch, str, bool], None, None]:
    """Each batch of ``part``, the hash before it and whether it holds; hashed while the database reads the next."""
    in_flight: deque[tuple[Batch, str, Future[bool]]] = deque()
    with (
        ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-verify") as hasher,
        closing(_read_batches(connection, part, batch_size)) as batches,
    ):
        try:
            for batch in chain(batches, [None]):
                if batch is not None:
                    in_flight.append((batch, previous_hash, hasher.submit(_batch_holds, batch, previous_hash, anchors)))
                    previous_hash = batch.last_hash
                while in_flight and (batch is None or len(in_flight) > _BATCHES_READ_AHEAD):
                    checked, hash_before, holds = in_flight.popleft()
                    yield checked, hash_before, holds.result()
        finally:
            hasher.shutdown(cancel_futures=True)
