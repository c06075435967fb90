"""Electronic signatures: append-only rows bound to the signed record and its content.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 23:41:44.998410
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "electronic_signature",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity_type", sa.String(length=64), nullable=False),
        sa.Column("entity_id", sa.String(length=64), nullable=False),
        sa.Column(
            "meaning",
            sa.Enum(
                "authored",
                "performed",
                "verified",
                "reviewed",
                "approved",
                "released",
                "rejected",
                name="signature_meaning",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("signer_id", sa.Integer(), nullable=False),
        sa.Column("printed_name", sa.String(length=200), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("binding_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["signer_id"], ["user_account.id"], name=op.f("fk_electronic_signature_signer_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_electronic_signature")),
    )
    with op.batch_alter_table("electronic_signature", schema=None) as batch_op:
        batch_op.create_index("ix_electronic_signature_entity", ["entity_type", "entity_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_electronic_signature_signer_id"), ["signer_id"], unique=False)

    make_append_only("electronic_signature")


def downgrade() -> None:
    with op.batch_alter_table("electronic_signature", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_electronic_signature_signer_id"))
        batch_op.drop_index("ix_electronic_signature_entity")

    op.drop_table("electronic_signature")
