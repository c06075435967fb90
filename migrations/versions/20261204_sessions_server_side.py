"""Signed-in sessions are kept on the server: the cookie names a ``user_session`` row, which ends for a cause.

The per-user session nonce is dropped: ending the rows ends the sessions. Cookies issued before this
revision name no row, so everyone signs in again.

Revision ID: sessions_server_side
Revises: batchgmp_gmp
Create Date: 2026-12-04 21:30:00
"""

from __future__ import annotations

import secrets

import sqlalchemy as sa
from alembic import op

revision = "sessions_server_side"
down_revision = "batchgmp_gmp"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "user_session",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.String(length=300), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end_cause",
            sa.Enum(
                "signed_out",
                "idle",
                "deactivated",
                "locked",
                "password_changed",
                "password_reset",
                "ended_by_administrator",
                name="session_end_cause",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_user_session_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_session")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_user_session_token_hash")),
    )
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.create_index("ix_user_session_user_open", ["user_id", "ended_at"], unique=False)
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("session_nonce")


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("session_nonce", sa.String(length=32), nullable=True))
    user_account = sa.table("user_account", sa.column("id", sa.Integer()), sa.column("session_nonce", sa.String()))
    connection = op.get_bind()
    for (user_id,) in connection.execute(sa.select(user_account.c.id)):
        connection.execute(
            user_account.update().where(user_account.c.id == user_id).values(session_nonce=secrets.token_hex(16))
        )
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.alter_column("session_nonce", existing_type=sa.String(length=32), nullable=False)
    with op.batch_alter_table("user_session", schema=None) as batch_op:
        batch_op.drop_index("ix_user_session_user_open")
    op.drop_table("user_session")
