"""A batch step keeps the hash of its signed content as it stands, so the work queues find in SQL which steps
still wait for a signature (a signature holds while its content hash equals the step's).

Existing steps get the hash of their content now, computed as the step's signed content was defined at this
revision (the same text its signatures were hashed from).

Revision ID: 20261205_speed_step_hash
Revises: 20261205_certs_documents
Create Date: 2026-12-05 00:40:00
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from alembic import op

from lims.audit.chain import canonical_json, stable_value_map
from lims.units.measurement import Measurement

revision = "20261205_speed_step_hash"
down_revision = "20261205_certs_documents"
branch_labels = None
depends_on = None

#: steps hashed per round trip, so a large database is backfilled without holding all of it in memory
_CHUNK = 2000


def _measurement(value: Any, unit: str | None) -> str | None:
    return None if value is None else str(Measurement(Decimal(str(value)), unit or ""))


def _hashes_of(connection: sa.Connection, steps: list[sa.Row[Any]]) -> dict[int, str]:
    step_ids = [step.id for step in steps]
    entries: dict[int, list[str]] = defaultdict(list)
    for row in connection.execute(
        sa.text(
            "SELECT p.step_id, p.name, e.value_value, e.value_unit FROM batch_parameter p "
            "JOIN batch_entry e ON e.parameter_id = p.id "
            "WHERE p.step_id IN :ids AND e.replaced_by_id IS NULL ORDER BY p.step_id, p.position, e.id"
        ).bindparams(sa.bindparam("ids", expanding=True)),
        {"ids": step_ids},
    ):
        entries[row.step_id].append(f"{row.name}: {_measurement(row.value_value, row.value_unit)}")
    hashes = {}
    for step in steps:
        content = {
            "batch": step.batch_number,
            "position": step.position,
            "title": step.title,
            "skip_reason": step.skip_reason,
            "actual_yield": _measurement(step.actual_yield_value, step.actual_yield_unit),
            "entries": entries[step.id],
        }
        hashes[step.id] = hashlib.sha256(canonical_json(stable_value_map(content)).encode()).hexdigest()
    return hashes


def _backfill(connection: sa.Connection) -> None:
    last_id = 0
    while True:
        steps = list(
            connection.execute(
                sa.text(
                    "SELECT s.id, b.batch_number, s.position, s.title, s.skip_reason, s.actual_yield_value, "
                    "s.actual_yield_unit FROM batch_step s JOIN batch b ON b.id = s.batch_id "
                    "WHERE s.id > :last_id ORDER BY s.id LIMIT :chunk"
                ),
                {"last_id": last_id, "chunk": _CHUNK},
            )
        )
        if not steps:
            return
        connection.execute(
            sa.text("UPDATE batch_step SET content_hash = :hash WHERE id = :id"),
            [{"hash": content_hash, "id": step_id} for step_id, content_hash in _hashes_of(connection, steps).items()],
        )
        last_id = steps[-1].id


def upgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.add_column(sa.Column("content_hash", sa.String(length=64), nullable=True))
    _backfill(op.get_bind())
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.alter_column("content_hash", existing_type=sa.String(length=64), nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.drop_column("content_hash")
