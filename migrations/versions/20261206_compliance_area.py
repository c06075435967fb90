"""The compliance area: check settings, findings, the record of check runs, the scheduler's lease, and
APScheduler's job store.

Revision ID: 20261206_compliance_area
Revises: 20261206_notify_notifications
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_compliance_area"
down_revision = "20261206_notify_notifications"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "apscheduler_jobs",
        sa.Column("id", sa.Unicode(length=191), nullable=False),
        sa.Column("next_run_time", sa.Float(precision=25), nullable=True),
        sa.Column("job_state", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_apscheduler_jobs")),
    )
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_apscheduler_jobs_next_run_time"), ["next_run_time"], unique=False)

    op.create_table(
        "compliance_check_run",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "outcome",
            sa.Enum(
                "succeeded", "failed", name="check_run_outcome", native_enum=False, create_constraint=True, length=32
            ),
            nullable=False,
        ),
        sa.Column("findings_opened", sa.Integer(), nullable=False),
        sa.Column("findings_resolved", sa.Integer(), nullable=False),
        sa.Column("findings_open", sa.Integer(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_check_run")),
    )
    with op.batch_alter_table("compliance_check_run", schema=None) as batch_op:
        batch_op.create_index("ix_compliance_check_run_check", ["check_id", "started_at"], unique=False)
        batch_op.create_index("ix_compliance_check_run_started", ["started_at"], unique=False)

    op.create_table(
        "compliance_check_setting",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=100), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_check_setting")),
        sa.UniqueConstraint("check_id", name=op.f("uq_compliance_check_setting_check_id")),
    )
    op.create_table(
        "scheduler_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renewed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_scheduler_lease")),
    )
    op.create_table(
        "compliance_finding",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("check_id", sa.String(length=100), nullable=False),
        sa.Column("area", sa.String(length=64), nullable=False),
        sa.Column("record_type", sa.String(length=64), nullable=False),
        sa.Column("record_id", sa.String(length=64), nullable=False),
        sa.Column("record_label", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("link", sa.String(length=300), nullable=True),
        sa.Column(
            "severity",
            sa.Enum(
                "critical",
                "major",
                "minor",
                name="finding_severity",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("severity_rank", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "open",
                "acknowledged",
                "closed",
                "resolved",
                name="finding_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("times_reopened", sa.Integer(), nullable=False),
        sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by_id", sa.Integer(), nullable=True),
        sa.Column("acknowledgement", sa.Text(), nullable=True),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closed_by_id", sa.Integer(), nullable=True),
        sa.Column("closing_comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["acknowledged_by_id"],
            ["user_account.id"],
            name=op.f("fk_compliance_finding_acknowledged_by_id_user_account"),
        ),
        sa.ForeignKeyConstraint(
            ["closed_by_id"], ["user_account.id"], name=op.f("fk_compliance_finding_closed_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_compliance_finding")),
        sa.UniqueConstraint("check_id", "record_type", "record_id", name="uq_compliance_finding_check_record"),
    )
    with op.batch_alter_table("compliance_finding", schema=None) as batch_op:
        batch_op.create_index(
            "ix_compliance_finding_listing", ["status", "severity_rank", "opened_at", "id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("compliance_finding", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_finding_listing")

    op.drop_table("compliance_finding")
    op.drop_table("scheduler_lease")
    op.drop_table("compliance_check_setting")
    with op.batch_alter_table("compliance_check_run", schema=None) as batch_op:
        batch_op.drop_index("ix_compliance_check_run_started")
        batch_op.drop_index("ix_compliance_check_run_check")

    op.drop_table("compliance_check_run")
    with op.batch_alter_table("apscheduler_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_apscheduler_jobs_next_run_time"))

    op.drop_table("apscheduler_jobs")
