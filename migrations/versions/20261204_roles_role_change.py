"""Role changes: each role granted or revoked, by whom, when and why, for the access-change report.

Grants made before this revision are in the audit trail only (the user's create and update events).

Revision ID: roles_role_change
Revises: ctgov_registry
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "roles_role_change"
down_revision = "ctgov_registry"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_change",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column(
            "role",
            sa.Enum(
                "technician",
                "qa",
                "manager",
                "admin",
                "client",
                name="role_name",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column(
            "kind",
            sa.Enum(
                "granted", "revoked", name="role_change_kind", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by_id", sa.Integer(), nullable=True),
        sa.Column("changed_by_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_role_change_user_id_user_account")),
        sa.ForeignKeyConstraint(
            ["changed_by_id"], ["user_account.id"], name=op.f("fk_role_change_changed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_change")),
    )
    with op.batch_alter_table("role_change", schema=None) as batch_op:
        batch_op.create_index("ix_role_change_changed_at", ["changed_at", "id"], unique=False)
        batch_op.create_index("ix_role_change_user_changed_at", ["user_id", "changed_at", "id"], unique=False)
        batch_op.create_index(
            "ix_role_change_changed_by_changed_at", ["changed_by_id", "changed_at", "id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("role_change")
