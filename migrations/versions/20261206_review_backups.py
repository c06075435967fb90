"""Backups and the restores that proved them.

Revision ID: 20261206_review_backups
Revises: 20261206_review_periodic_reviews
Create Date: 2026-12-06 00:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_review_backups"
down_revision = "20261206_review_periodic_reviews"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "backup",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("folder", sa.Text(), nullable=False),
        sa.Column("engine", sa.String(length=16), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("head_sequence", sa.BigInteger(), nullable=False),
        sa.Column("head_hash", sa.String(length=64), nullable=False),
        sa.Column("records", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_backup")),
        sa.UniqueConstraint("sha256", name=op.f("uq_backup_sha256")),
    )
    with op.batch_alter_table("backup", schema=None) as batch_op:
        batch_op.create_index("ix_backup_taken", ["taken_at", "id"], unique=False)

    op.create_table(
        "restore_verification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("backup_id", sa.Integer(), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("verified_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("run_by", sa.String(length=200), nullable=False),
        sa.Column("run_by_id", sa.Integer(), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("passed", "failed", name="restore_outcome", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("head_sequence", sa.BigInteger(), nullable=True),
        sa.Column("records", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["backup_id"], ["backup.id"], name=op.f("fk_restore_verification_backup_id_backup")),
        sa.ForeignKeyConstraint(
            ["run_by_id"], ["user_account.id"], name=op.f("fk_restore_verification_run_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_restore_verification")),
    )
    with op.batch_alter_table("restore_verification", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_restore_verification_backup_id"), ["backup_id"], unique=False)
        batch_op.create_index("ix_restore_verification_verified", ["verified_at", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("restore_verification", schema=None) as batch_op:
        batch_op.drop_index("ix_restore_verification_verified")
        batch_op.drop_index(batch_op.f("ix_restore_verification_backup_id"))

    op.drop_table("restore_verification")
    with op.batch_alter_table("backup", schema=None) as batch_op:
        batch_op.drop_index("ix_backup_taken")

    op.drop_table("backup")
