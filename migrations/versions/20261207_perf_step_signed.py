"""A batch step keeps, beside its content hash, whether a performer's, a verifier's and QA's review signature cover
its content as it stands, so the work queues count the steps waiting for a signature from the step's own columns
(two partial indexes hold those steps alone) instead of matching signatures to content hashes.

Existing steps get the state their signatures give now: a signature of the meaning whose content hash equals the
step's (the comparison the work queues made until this revision).

Revision ID: 20261207_perf_step_signed
Revises: 20261207_stability_deadline
Create Date: 2026-12-07 01:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_perf_step_signed"
down_revision = "20261207_stability_deadline"
branch_labels = None
depends_on = None

_COLUMNS = {"performed": "performed_signed", "verified": "verified_signed", "reviewed": "reviewed_signed"}
_AWAITING_VERIFICATION = {
    "postgresql": "second_person_verification AND performed_signed AND NOT verified_signed",
    "sqlite": "second_person_verification = 1 AND performed_signed = 1 AND verified_signed = 0",
}
_AWAITING_REVIEW = {
    "postgresql": "hold_point AND NOT reviewed_signed",
    "sqlite": "hold_point = 1 AND reviewed_signed = 0",
}


def _held(meaning: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM electronic_signature s WHERE s.entity_type = 'batch_step' "
        f"AND s.entity_id = CAST(batch_step.id AS VARCHAR(64)) AND s.meaning = '{meaning}' "
        "AND s.content_hash = batch_step.content_hash)"
    )


def backfill(connection: sa.Connection) -> None:
    """Set every step's signature state from the signatures that cover its content hash, in one statement."""
    assignments = ", ".join(f"{column} = {_held(meaning)}" for meaning, column in _COLUMNS.items())
    connection.execute(sa.text(f"UPDATE batch_step SET {assignments}"))


def upgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        for column in _COLUMNS.values():
            batch_op.add_column(sa.Column(column, sa.Boolean(), nullable=False, server_default=sa.false()))
    backfill(op.get_bind())
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.create_index(
            "ix_batch_step_awaiting_verification",
            ["completed_at", "id"],
            unique=False,
            postgresql_where=sa.text(_AWAITING_VERIFICATION["postgresql"]),
            sqlite_where=sa.text(_AWAITING_VERIFICATION["sqlite"]),
        )
        batch_op.create_index(
            "ix_batch_step_awaiting_review",
            ["batch_id", "position"],
            unique=False,
            postgresql_where=sa.text(_AWAITING_REVIEW["postgresql"]),
            sqlite_where=sa.text(_AWAITING_REVIEW["sqlite"]),
        )


def downgrade() -> None:
    with op.batch_alter_table("batch_step") as batch_op:
        batch_op.drop_index("ix_batch_step_awaiting_review")
        batch_op.drop_index("ix_batch_step_awaiting_verification")
        for column in reversed(_COLUMNS.values()):
            batch_op.drop_column(column)
