"""Checkpoints: the chain's head written to a file outside the database, which a rewritten chain cannot match."""

from __future__ import annotations

import json
import os
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.engine import Connection

from lims import clock
from lims.audit.chain import canonical_json, stable_value
from lims.audit.errors import AnchorRefused, CheckpointUnreadable
from lims.audit.models import GENESIS_HASH, AuditEvent


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


def write_checkpoint(connection: Connection, path: Path) -> Checkpoint:
    """Append the chain's current head to the checkpoint file outside the database.

    Refused while any earlier checkpoint disagrees with the chain: the new one would anchor the rewrite.
    """
    _refuse_if_rewritten(connection, read_checkpoints(path))
    head = connection.execute(
        select(AuditEvent.sequence, AuditEvent.hash).order_by(AuditEvent.sequence.desc()).limit(1)
    ).first()
    checkpoint = Checkpoint(head.sequence if head else 0, head.hash if head else GENESIS_HASH, clock.now())
    path.parent.mkdir(parents=True, exist_ok=True)
    line = canonical_json(
        {"sequence": checkpoint.sequence, "hash": checkpoint.hash, "written_at": stable_value(checkpoint.written_at)}
    )
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return checkpoint


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
                raise AnchorRefused(
                    f"No checkpoint written: event {sequence}, anchored by the checkpoint written "
                    f"{checkpoint.written_at.isoformat(timespec='seconds')}, {now}. "
                    "Run `lims audit verify` and investigate before anchoring the chain again."
                )


def read_checkpoints(path: Path) -> list[Checkpoint]:
    """Every checkpoint written to ``path``, oldest first; none if the file does not exist yet."""
    if not path.exists():
        return []
    checkpoints = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
            checkpoints.append(
                Checkpoint(int(data["sequence"]), str(data["hash"]), datetime.fromisoformat(data["written_at"]))
            )
        except (ValueError, KeyError, TypeError) as error:
            raise CheckpointUnreadable(
                f"Line {number} of the checkpoint file {path} is not a checkpoint: {error}"
            ) from error
    return checkpoints
