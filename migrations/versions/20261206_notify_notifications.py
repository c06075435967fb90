"""Notifications: messages to users (one per key and user), their e-mails with each attempt, e-mail choices.

Revision ID: 20261206_notify_notifications
Revises: 20261206_certs_donor_type
Create Date: 2026-12-05 22:13:33.888228
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_notify_notifications"
down_revision = "20261206_certs_donor_type"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("read_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["user_account.id"], name=op.f("fk_notification_user_id_user_account")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification")),
        sa.UniqueConstraint("key", "user_id", name="uq_notification_key_user"),
    )
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.create_index("ix_notification_user_inbox", ["user_id", "id"], unique=False)
        batch_op.create_index("ix_notification_user_unread", ["user_id", "read_at"], unique=False)

    op.create_table(
        "notification_preference",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("email_enabled", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["user_account.id"], name=op.f("fk_notification_preference_user_id_user_account")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_notification_preference")),
    )
    op.create_table(
        "outgoing_email",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("notification_id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=254), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "sending",
                "sent",
                "failed",
                "uncertain",
                name="email_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["notification_id"], ["notification.id"], name=op.f("fk_outgoing_email_notification_id_notification")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outgoing_email")),
        sa.UniqueConstraint("notification_id", name=op.f("uq_outgoing_email_notification_id")),
    )
    with op.batch_alter_table("outgoing_email", schema=None) as batch_op:
        batch_op.create_index("ix_outgoing_email_due", ["status", "next_attempt_at"], unique=False)

    op.create_table(
        "email_attempt",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("email_id", sa.Integer(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "sent",
                "retry",
                "failed",
                "uncertain",
                name="email_attempt_outcome",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=True,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["email_id"], ["outgoing_email.id"], name=op.f("fk_email_attempt_email_id_outgoing_email")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_email_attempt")),
    )
    with op.batch_alter_table("email_attempt", schema=None) as batch_op:
        batch_op.create_index("ix_email_attempt_email", ["email_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("email_attempt", schema=None) as batch_op:
        batch_op.drop_index("ix_email_attempt_email")

    op.drop_table("email_attempt")
    with op.batch_alter_table("outgoing_email", schema=None) as batch_op:
        batch_op.drop_index("ix_outgoing_email_due")

    op.drop_table("outgoing_email")
    op.drop_table("notification_preference")
    with op.batch_alter_table("notification", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_user_unread")
        batch_op.drop_index("ix_notification_user_inbox")

    op.drop_table("notification")
