"""Stability: the lab's longest time from collection to processing per sample type, each sample's deadline set at
receipt, and the indexes of the samples work list's filters.

Revision ID: 20261207_stability_deadline
Revises: 20261206_results_sample_tests
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_stability_deadline"
down_revision = "20261206_results_sample_tests"
branch_labels = None
depends_on = None

_INDEXES = (
    ("ix_sample_organization_id", ["organization_id", "id"]),
    ("ix_sample_status_id", ["status", "id"]),
    ("ix_sample_type_id", ["sample_type", "id"]),
    ("ix_sample_received_at", ["received_at", "id"]),
    ("ix_sample_status_stability_deadline", ["status", "stability_deadline"]),
)


def upgrade() -> None:
    op.create_table(
        "sample_type_stability",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_type", sa.String(length=120), nullable=False),
        sa.Column("type_key", sa.String(length=120), nullable=False),
        sa.Column("max_hours", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["updated_by_id"], ["user_account.id"], name=op.f("fk_sample_type_stability_updated_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_type_stability")),
        sa.UniqueConstraint("type_key", name=op.f("uq_sample_type_stability_type_key")),
    )
    with op.batch_alter_table("sample", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stability_deadline", sa.DateTime(timezone=True), nullable=True))
        for name, columns in _INDEXES:
            batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    with op.batch_alter_table("sample", schema=None) as batch_op:
        for name, _columns in reversed(_INDEXES):
            batch_op.drop_index(name)
        batch_op.drop_column("stability_deadline")
    op.drop_table("sample_type_stability")
