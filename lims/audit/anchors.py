"""Checkpoints: the chain's head written to a file outside the database, which a rewritten chain cannot match.

The compliance scheduler writes one every few minutes; a commit that signs or exports writes one at once.
"""

from __future__ import annotations

import json
import logging
import os
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

from sqlalchemy import Engine, select
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from lims import clock
from lims.audit.chain import ANCHOR_AT_COMMIT, canonical_json, event_hash, stable_value
from lims.audit.errors import AnchorRefused, CheckpointUnreadable
from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.errors import LimsError

logger = logging.getLogger("lims.audit")

#: Session.info: the checkpoint file a session's anchoring commits write to (``lims.db.Database`` sets it)
CHECKPOINT_PATH = "lims.audit.checkpoint_path"


@dataclass(frozen=True)
class Checkpoint:
    sequence: int
    hash: str
    written_at: datetime


class Anchors:
    """The hashes the checkpoints recorded, by sequence: every one must still hold, not only the latest.

    Each checkpoint anchors the head as it then was; were only the latest compared, a chain rewritten
    before it was written would pass as anchored.
    """

    def __init__(self, checkpoints: Sequence[Checkpoint]) -> None:
        self._recorded: dict[int, list[Checkpoint]] = {}
        # A checkpoint of an empty chain (sequence 0) anchors no event.
        for checkpoint in checkpoints:
            if checkpoint.sequence > 0:
                self._recorded.setdefault(checkpoint.sequence, []).append(checkpoint)
        #: the anchored events' sequences, ascending
        self.sequences = sorted(self._recorded)

    def disagreeing(self, sequence: int, hash_value: str) -> Checkpoint | None:
        """The first checkpoint that recorded another hash for event ``sequence``, if any."""
        return next(
            (checkpoint for checkpoint in self._recorded.get(sequence, ()) if checkpoint.hash != hash_value), None
        )

    def between(self, after: int, last: int) -> list[int]:
        """The anchored sequences in ``after`` < sequence <= ``last``."""
        return self.sequences[bisect_right(self.sequences, after) : bisect_right(self.sequences, last)]

    def beyond(self, head_sequence: int) -> Checkpoint | None:
        """The checkpoint of the furthest event past ``head_sequence``, if one recorded such an event."""
        if not self.sequences or self.sequences[-1] <= head_sequence:
            return None
        return self._recorded[self.sequences[-1]][0]


#: Anchored sequences looked up in one statement when a new checkpoint is written.
_ANCHOR_LOOKUP = 1000
#: Bytes read at a time from the end of the checkpoint file for its latest checkpoint.
_TAIL_READ = 4096
#: Events read at a time when the events since the latest checkpoint are checked.
_TAIL_BATCH = 2000


def write_checkpoint(connection: Connection, path: Path, *, every_anchor: bool = True) -> Checkpoint:
    """Append the chain's head to the checkpoint file outside the database, unless the latest checkpoint anchors it.

    Refused while the chain is broken as far as anchoring it could tell: the events since the latest checkpoint
    must each be in place, linked and unaltered, and the earlier checkpoints (``every_anchor``; else only the
    latest, as after every commit that anchors) must still agree with the chain. A break further back is the
    full verification's to find.
    """
    latest = latest_checkpoint(path)
    head = connection.execute(
        select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
    ).first()
    head_sequence, head_hash = (head.sequence, head.hash) if head else (0, GENESIS_HASH)
    if latest is not None and (latest.sequence, latest.hash) == (head_sequence, head_hash):
        return latest
    _refuse_if_rewritten(connection, read_checkpoints(path) if every_anchor else [latest] if latest else [])
    _refuse_if_broken_since(connection, latest)
    checkpoint = Checkpoint(head_sequence, head_hash, clock.now())
    path.parent.mkdir(parents=True, exist_ok=True)
    line = canonical_json(
        {"sequence": checkpoint.sequence, "hash": checkpoint.hash, "written_at": stable_value(checkpoint.written_at)}
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return checkpoint


def anchor_after_commit(session: Session) -> None:
    """After a commit that signed or exported (``chain.anchors_the_head``): anchor the head it left.

    The commit stands whatever happens here, so a refusal or a failure is logged as an error, not raised; the
    next scheduled checkpoint audits a refusal.
    """
    path = session.info.get(CHECKPOINT_PATH)
    if not session.info.pop(ANCHOR_AT_COMMIT, False) or path is None:
        return
    bind = session.get_bind()
    try:
        if isinstance(bind, Engine):
            with bind.connect() as connection:
                write_checkpoint(connection, path, every_anchor=False)
        else:
            # A session joined to a connection's transaction (the tests') reads the head through it.
            write_checkpoint(bind, path, every_anchor=False)
    except (LimsError, OSError, SQLAlchemyError) as failure:
        logger.error("The audit chain was not anchored after a signature or an export: %s", failure)


def tail_break(connection: Connection, path: Path) -> str | None:
    """What is wrong with the events after the latest checkpoint (missing, unlinked, altered) or with that
    checkpoint's own event, as anchoring would refuse it; None while they hold."""
    latest = latest_checkpoint(path)
    try:
        _refuse_if_rewritten(connection, [latest] if latest else [])
        _refuse_if_broken_since(connection, latest)
    except AnchorRefused as refusal:
        return refusal.message
    return None


def _refuse_if_rewritten(connection: Connection, checkpoints: Sequence[Checkpoint]) -> None:
    anchors = Anchors(checkpoints)
    for start in range(0, len(anchors.sequences), _ANCHOR_LOOKUP):
        wanted = anchors.sequences[start : start + _ANCHOR_LOOKUP]
        held = dict(
            connection.execute(
                select(AuditEvent.sequence, AuditEvent.hash).where(AuditEvent.sequence.in_(wanted))
            ).all()
        )
        for sequence in wanted:
            # A missing event disagrees with every hash recorded for it.
            checkpoint = anchors.disagreeing(sequence, held.get(sequence, ""))
            if checkpoint is not None:
                now = "no longer has the hash it recorded" if sequence in held else "is missing"
                _refuse(
                    f"event {sequence}, anchored by the checkpoint written "
                    f"{checkpoint.written_at.isoformat(timespec='seconds')}, {now}"
                )


def _refuse_if_broken_since(connection: Connection, latest: Checkpoint | None) -> None:
    """Refuse unless every event after the latest checkpoint's is in its place, linked to the one before it and
    unaltered (that checkpoint's own event is compared with it by ``_refuse_if_rewritten``)."""
    position, previous_hash = (latest.sequence + 1, latest.hash) if latest else (1, GENESIS_HASH)
    rows = connection.execute(
        select(AuditEvent.sequence, AuditEvent.payload, AuditEvent.hash)
        .where(AuditEvent.sequence >= position)
        .order_by(AuditEvent.sequence)
        .execution_options(yield_per=_TAIL_BATCH)
    )
    # Closed on a refusal too: on PostgreSQL the rows come through a server-side cursor.
    with rows:
        for sequence, payload, hash_value in rows:
            if sequence != position:
                _refuse(f"events {position} to {sequence - 1} are missing")
            # An event's payload ends with its prev_hash, the last item of its JSON array.
            if not payload.endswith(f',"{previous_hash}"]'):
                _refuse(f"event {sequence} does not link to the event before it")
            if event_hash(payload) != hash_value:
                _refuse(f"event {sequence} does not match its hash: it was altered after it was written")
            position, previous_hash = position + 1, hash_value


def _refuse(what_is_wrong: str) -> NoReturn:
    raise AnchorRefused(
        f"No checkpoint written: {what_is_wrong}. "
        "Run `lims audit verify` and investigate before anchoring the chain again."
    )


def latest_checkpoint(path: Path) -> Checkpoint | None:
    """The last checkpoint written to ``path``, read from the file's end; None if there is none yet."""
    if not path.exists():
        return None
    with path.open("rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        tail = b""
        while end > 0 and len(tail.strip().split(b"\n")) < 2:
            start = max(0, end - _TAIL_READ)
            handle.seek(start)
            tail = handle.read(end - start) + tail
            end = start
    lines = tail.strip().split(b"\n")
    return _parsed(lines[-1].decode("utf-8"), path, "The last line") if lines[-1].strip() else None


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint written to ``path``, oldest first; none if the file does not exist yet."""
    if not path.exists():
        return []
    return [
        _parsed(line, path, f"Line {number}")
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if line.strip()
    ]


def _parsed(line: str, path: Path, which: str) -> Checkpoint:
    try:
        data = json.loads(line)
        return Checkpoint(int(data["sequence"]), str(data["hash"]), datetime.fromisoformat(data["written_at"]))
    except (ValueError, KeyError, TypeError) as error:
        raise CheckpointUnreadable(f"{which} of the checkpoint file {path} is not a checkpoint: {error}") from error
