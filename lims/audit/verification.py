"""Verifying the chain: every hash and link recomputed in order, compared with every checkpoint; the first break."""

from __future__ import annotations

import dataclasses
import enum
import itertools
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from lims import registry
from lims.audit.anchors import Anchors, Checkpoint, read_checkpoints
from lims.audit.bulk_check import VERIFY_BATCH, Batch, Part, check_in_bulk
from lims.audit.chain import event_hash, record
from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.audit.workers import Workers

#: A long chain is checked in parts, one a core, each by a process of its own (hashing in Python holds the
#: interpreter, so threads would take turns); a part shorter than this is checked sooner than a process starts.
EVENTS_PER_PROCESS = 100_000


class BreakKind(enum.StrEnum):
    HASH_MISMATCH = "hash mismatch"
    BROKEN_LINK = "broken link"
    GAP = "gap"
    CHECKPOINT_MISMATCH = "head disagrees with checkpoint"


@dataclass(frozen=True)
class ChainBreak:
    sequence: int
    kind: BreakKind
    detail: str


@dataclass(frozen=True)
class Verification:
    #: the events verified, from the first: the chain holds up to this sequence
    events_checked: int
    head_hash: str
    #: every checkpoint the chain was compared with, in the order they were written
    checkpoints: tuple[Checkpoint, ...]
    first_break: ChainBreak | None
    #: records the chain vouches for (signatures) that disagree with it, a sentence each (``verify_trail``)
    disagreements: tuple[str, ...] = ()

    @property
    def intact(self) -> bool:
        return self.first_break is None and not self.disagreements

    @property
    def head_sequence(self) -> int:
        """The last event verified; the chain is gap-free from 1, so its sequence is the count."""
        return self.events_checked

    @property
    def unanchored(self) -> int:
        """The events after the furthest one a checkpoint recorded: those a rewrite or a deletion could still
        change unseen."""
        return max(0, self.head_sequence - max((checkpoint.sequence for checkpoint in self.checkpoints), default=0))

    def summary(self) -> str:
        return self._chain_summary() + self._disagreements_summary()

    def _chain_summary(self) -> str:
        if self.first_break is not None:
            return (
                f"Audit trail broken at event {self.first_break.sequence}: "
                f"{self.first_break.kind.value} ({self.first_break.detail})."
            )
        if not self.checkpoints:
            anchored = "; not anchored: no checkpoint written yet, so a rewrite of the whole chain would not show"
        else:
            latest = self.checkpoints[-1]
            compared = "the checkpoint" if len(self.checkpoints) == 1 else f"all {len(self.checkpoints)} checkpoints"
            since = (
                "every event is anchored"
                if not self.unanchored
                else f"{self.unanchored} event{'s' if self.unanchored != 1 else ''} since not yet anchored"
            )
            anchored = (
                f"; matches {compared}, the latest of event {latest.sequence} "
                f"written {latest.written_at.isoformat(timespec='seconds')}; {since}"
            )
        head = f"head {self.head_sequence} {self.head_hash[:16]}…"
        state = "holds" if self.disagreements else "intact"
        return f"Audit trail {state}: {self.events_checked} events, {head}{anchored}."

    def _disagreements_summary(self) -> str:
        if not self.disagreements:
            return ""
        count = len(self.disagreements)
        listed = " ".join(self.disagreements[:_DISAGREEMENTS_LISTED])
        more = f" And {count - _DISAGREEMENTS_LISTED} more." if count > _DISAGREEMENTS_LISTED else ""
        return f" But {count} record{'s disagree' if count != 1 else ' disagrees'} with it: {listed}{more}"


#: Disagreements a summary lists (it is stored in the audit event of the verification); the rest are counted.
_DISAGREEMENTS_LISTED = 20


@dataclass(frozen=True)
class _Outcome:
    """How far a part of the chain holds: up to which event, its hash, and what is wrong after it, if anything."""

    verified_to: int
    head_hash: str
    first_break: ChainBreak | None = None


def count_events(connection: Connection) -> int:
    return connection.execute(select(func.count()).select_from(AuditEvent.__table__)).scalar_one()


def verify_chain(
    connection: Connection,
    *,
    checkpoints: Sequence[Checkpoint] = (),
    progress: Callable[[int], None] | None = None,
    batch_size: int = VERIFY_BATCH,
    processes: int | None = None,
) -> Verification:
    """Recompute every hash and link in order, compare the chain with every checkpoint; report the first break.

    A chain of EVENTS_PER_PROCESS events a core or more is checked in as many parts at once, all but the last
    by worker processes with connections of their own (``processes`` sets how many parts). A worker only
    says whether its part holds; every part it cannot vouch for, because it is broken or because the
    worker cannot see it (events not yet committed, a database only this connection reaches), is checked
    again through ``connection``, which alone decides what is reported.
    """
    checkpoints = tuple(checkpoints)
    anchors = Anchors(checkpoints)
    report = progress or (lambda _events: None)
    head = connection.execute(select(func.max(AuditEvent.sequence))).scalar() or 0
    parts = _parts(connection, head, processes)
    hashes_before = _hashes_before(connection, parts)
    with Workers(connection.engine, parts[:-1], hashes_before, anchors, batch_size) as workers:

        def report_with_workers(events: int) -> None:
            report(events)
            workers.forward_progress(report)

        last_part = _verify_part(connection, parts[-1], hashes_before[-1], anchors, batch_size, report_with_workers)
        for index, part in enumerate(parts[:-1]):
            if workers.part_holds(index, report):
                continue
            outcome = _verify_part(
                connection,
                part,
                hashes_before[index],
                anchors,
                batch_size,
                _unreported(report, workers.reported[index]),
            )
            if outcome.first_break is not None:
                return Verification(outcome.verified_to, outcome.head_hash, checkpoints, outcome.first_break)
            if outcome.verified_to < part.last:
                return Verification(
                    outcome.verified_to, outcome.head_hash, checkpoints, _missing_after(connection, outcome.verified_to)
                )
    first_break = last_part.first_break or _checkpoint_beyond_head(anchors, last_part.verified_to)
    return Verification(last_part.verified_to, last_part.head_hash, checkpoints, first_break)


def verify_trail(
    session: Session, *, checkpoints: Sequence[Checkpoint] = (), progress: Callable[[int], None] | None = None
) -> Verification:
    """Verify the chain (``verify_chain``), then every record the areas declared the chain vouches for
    (``Registry.trail_check``) against it."""
    verification = verify_chain(session.connection(), checkpoints=checkpoints, progress=progress)
    disagreements = tuple(finding for check in registry.current().trail_checks for finding in check(session))
    return dataclasses.replace(verification, disagreements=disagreements)


def verify_and_record(session: Session, checkpoint_path: Path) -> Verification:
    """Verify the whole trail against every checkpoint in ``checkpoint_path`` (``verify_trail``) and audit the
    outcome as an ``audit.verified`` event."""
    verification = verify_trail(session, checkpoints=read_checkpoints(checkpoint_path))
    record(session, "audit.verified", details={"result": verification.summary()})
    return verification


def processes_for(events: int) -> int:
    """How many processes verify a chain of ``events`` at once: one a core, each with EVENTS_PER_PROCESS or more."""
    return max(1, min(os.cpu_count() or 1, events // EVENTS_PER_PROCESS))


def _parts(connection: Connection, head: int, processes: int | None) -> list[Part]:
    if processes is None:
        processes = processes_for(head) if _shared_database(connection) else 1
    processes = max(1, min(processes, head))
    bounds = [head * number // processes for number in range(processes + 1)]
    return [Part(after, last) for after, last in itertools.pairwise(bounds)]


def _shared_database(connection: Connection) -> bool:
    """Whether another process can open the database ``connection`` is on (an in-memory SQLite one it cannot)."""
    url = connection.engine.url
    if url.get_backend_name() != "sqlite":
        return True
    return (url.database or ":memory:") != ":memory:" and url.query.get("mode") != "memory"


def _hashes_before(connection: Connection, parts: list[Part]) -> list[str]:
    """The stored hash of the event before each part: the link its first event must hold."""
    stored = dict(
        connection.execute(
            select(AuditEvent.sequence, AuditEvent.hash).where(
                AuditEvent.sequence.in_([part.after for part in parts[1:]])
            )
        ).all()
    )
    # A missing event links nothing; the part before it reports the gap.
    return [GENESIS_HASH] + [stored.get(part.after, "") for part in parts[1:]]


def _unreported(progress: Callable[[int], None], already: int) -> Callable[[int], None]:
    """``progress``, passed only the events beyond the first ``already``, which a worker reported."""
    remaining = already

    def report(events: int) -> None:
        nonlocal remaining
        skipped = min(events, remaining)
        remaining -= skipped
        if events > skipped:
            progress(events - skipped)

    return report


def _verify_part(
    connection: Connection,
    part: Part,
    previous_hash: str,
    anchors: Anchors,
    batch_size: int,
    progress: Callable[[int], None],
) -> _Outcome:
    verified_to, head_hash = part.after, previous_hash
    while True:
        verified_to, head_hash, failed = check_in_bulk(
            connection, Part(verified_to, part.last), head_hash, anchors, batch_size, progress
        )
        if failed is None:
            return _Outcome(verified_to, head_hash)
        # Walked once the reading has stopped: the connection reads one thing at a time.
        broken = _first_break(connection, *failed, anchors)
        if broken is not None:
            return broken
        verified_to, head_hash = failed[0].last_sequence, failed[0].last_hash
        progress(failed[0].events)


def _missing_after(connection: Connection, verified_to: int) -> ChainBreak:
    following = connection.execute(
        select(func.min(AuditEvent.sequence)).where(AuditEvent.sequence > verified_to)
    ).scalar()
    return _break_at(following, verified_to + 1, link_holds=False, hash_holds=False)


def _checkpoint_beyond_head(anchors: Anchors, head_sequence: int) -> ChainBreak | None:
    checkpoint = anchors.beyond(head_sequence)
    if checkpoint is None:
        return None
    return ChainBreak(
        head_sequence + 1,
        BreakKind.CHECKPOINT_MISMATCH,
        f"the chain ends at event {head_sequence} but the checkpoint written "
        f"{checkpoint.written_at.isoformat(timespec='seconds')} recorded event {checkpoint.sequence}",
    )


def _break_at(sequence: int | None, position: int, *, link_holds: bool, hash_holds: bool) -> ChainBreak:
    """The first thing wrong with the event at ``position`` in the chain, checked in the order the chain is built.

    ``sequence`` is that of the event found there; None if none follows.
    """
    if sequence is None:
        return ChainBreak(position, BreakKind.GAP, f"events from {position} on are missing")
    if sequence != position:
        return ChainBreak(position, BreakKind.GAP, f"events {position} to {sequence - 1} are missing")
    if not link_holds:
        return ChainBreak(sequence, BreakKind.BROKEN_LINK, "its prev_hash is not the hash of the event before it")
    if not hash_holds:
        return ChainBreak(
            sequence,
            BreakKind.HASH_MISMATCH,
            "its content does not match its hash: it was altered after it was written",
        )
    return ChainBreak(
        sequence, BreakKind.CHECKPOINT_MISMATCH, "the chain was rewritten since a checkpoint recorded this event"
    )


def _first_break(connection: Connection, batch: Batch, previous_hash: str, anchors: Anchors) -> _Outcome | None:
    """Walk a batch that failed the bulk check event by event; how far the chain holds up to its first break."""
    position, head_hash = batch.after + 1, previous_hash
    rows = connection.execute(
        select(AuditEvent.sequence, AuditEvent.payload, AuditEvent.hash)
        .where(AuditEvent.sequence > batch.after)
        .order_by(AuditEvent.sequence)
        .limit(batch.events)
    )
    for row in rows:
        # Exactly "its last item is head_hash", as the database holds payloads to valid JSON.
        link_holds = row.payload.endswith(f',"{head_hash}"]')
        hash_holds = event_hash(row.payload) == row.hash
        if row.sequence != position or not link_holds or not hash_holds or anchors.disagreeing(row.sequence, row.hash):
            return _Outcome(
                position - 1, head_hash, _break_at(row.sequence, position, link_holds=link_holds, hash_holds=hash_holds)
            )
        position, head_hash = position + 1, row.hash
    return None
