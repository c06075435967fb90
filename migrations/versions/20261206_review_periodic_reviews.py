"""Periodic reviews: the access review with a line per user, and QA's audit-trail reviews of periods and records.

Revision ID: 20261206_review_periodic_reviews
Revises: 20261206_floor_step_binds_uses
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_review_periodic_reviews"
down_revision = "20261206_floor_step_binds_uses"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "access_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=False),
        sa.Column("change_reason", sa.Text(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("next_due_on", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["user_account.id"], name=op.f("fk_access_review_reviewed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_review")),
    )
    with op.batch_alter_table("access_review", schema=None) as batch_op:
        batch_op.create_index("ix_access_review_reviewed", ["reviewed_at", "id"], unique=False)

    op.create_table(
        "audit_trail_review",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "scope",
            sa.Enum("period", "record", name="trail_scope", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("period_start", sa.Date(), nullable=True),
        sa.Column("period_end", sa.Date(), nullable=True),
        sa.Column("entity_type", sa.String(length=64), nullable=True),
        sa.Column("entity_id", sa.String(length=64), nullable=True),
        sa.Column("record_label", sa.String(length=200), nullable=True),
        sa.Column("through_sequence", sa.BigInteger(), nullable=False),
        sa.Column("events_reviewed", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("reviewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("reviewed_by_id", sa.Integer(), nullable=False),
        sa.Column("next_due_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(
            ["reviewed_by_id"], ["user_account.id"], name=op.f("fk_audit_trail_review_reviewed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_trail_review")),
    )
    with op.batch_alter_table("audit_trail_review", schema=None) as batch_op:
        batch_op.create_index("ix_audit_trail_review_record", ["entity_type", "entity_id", "id"], unique=False)
        batch_op.create_index("ix_audit_trail_review_reviewed", ["reviewed_at", "id"], unique=False)

    op.create_table(
        "access_review_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("review_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("roles_before", sa.String(length=200), nullable=False),
        sa.Column("roles_after", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["review_id"], ["access_review.id"], name=op.f("fk_access_review_entry_review_id_access_review")
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_access_review_entry_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_review_entry")),
        sa.UniqueConstraint("review_id", "user_id", name="uq_access_review_entry_user"),
    )
    with op.batch_alter_table("access_review_entry", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_review_entry_user_id"), ["user_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("access_review_entry", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_review_entry_user_id"))

    op.drop_table("access_review_entry")
    with op.batch_alter_table("audit_trail_review", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_trail_review_reviewed")
        batch_op.drop_index("ix_audit_trail_review_record")

    op.drop_table("audit_trail_review")
    with op.batch_alter_table("access_review", schema=None) as batch_op:
        batch_op.drop_index("ix_access_review_reviewed")

    op.drop_table("access_review")
