"""Protocols: versions with their lifecycle, arms, visits, sample requirements, subjects.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-25 00:22:35.176517
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "protocol",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("sponsor_id", sa.Integer(), nullable=False),
        sa.Column(
            "phase",
            sa.Enum(
                "phase 2/3",
                "phase 3",
                "phase 4",
                "post-marketing",
                name="protocol_phase",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("therapeutic_area", sa.String(length=200), nullable=False),
        sa.Column("investigational_product", sa.String(length=200), nullable=False),
        sa.Column("nct_id", sa.String(length=11), nullable=True),
        sa.Column("conditions", sa.Text(), nullable=True),
        sa.Column("target_enrolment", sa.Integer(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "planning",
                "enrolling",
                "active, not enrolling",
                "completed",
                "terminated",
                name="protocol_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sponsor_id"], ["organization.id"], name=op.f("fk_protocol_sponsor_id_organization")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol")),
        sa.UniqueConstraint("nct_id", name=op.f("uq_protocol_nct_id")),
        sa.UniqueConstraint("number", name=op.f("uq_protocol_number")),
    )
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocol_sponsor_id"), ["sponsor_id"], unique=False)

    op.create_table(
        "protocol_version",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.String(length=16), nullable=False),
        sa.Column("amendment_summary", sa.Text(), nullable=False),
        sa.Column("planned_effective_on", sa.Date(), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "draft",
                "in review",
                "approved",
                "effective",
                "superseded",
                name="version_status",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("effective_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["protocol_id"], ["protocol.id"], name=op.f("fk_protocol_version_protocol_id_protocol")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_version")),
        sa.UniqueConstraint("protocol_id", "number", name="uq_protocol_version_number"),
    )
    with op.batch_alter_table("protocol_version", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocol_version_protocol_id"), ["protocol_id"], unique=False)
        batch_op.create_index(
            "uq_protocol_version_effective",
            ["protocol_id"],
            unique=True,
            sqlite_where=sa.text("status = 'effective'"),
            postgresql_where=sa.text("status = 'effective'"),
        )

    op.create_table(
        "arm",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("arm_type", sa.String(length=64), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"], ["protocol_version.id"], name=op.f("fk_arm_version_id_protocol_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_arm")),
        sa.UniqueConstraint("version_id", "code", name="uq_arm_version_code"),
    )
    with op.batch_alter_table("arm", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_arm_version_id"), ["version_id"], unique=False)

    op.create_table(
        "visit",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column(
            "reference_event",
            sa.Enum(
                "enrolment",
                "apheresis",
                "infusion",
                name="reference_event",
                native_enum=False,
                create_constraint=True,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("day_offset", sa.Integer(), nullable=False),
        sa.Column("window_before_days", sa.Integer(), nullable=False),
        sa.Column("window_after_days", sa.Integer(), nullable=False),
        sa.Column("procedures", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["version_id"], ["protocol_version.id"], name=op.f("fk_visit_version_id_protocol_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_visit")),
        sa.UniqueConstraint("version_id", "code", name="uq_visit_version_code"),
    )
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_visit_version_id"), ["version_id"], unique=False)

    op.create_table(
        "sample_requirement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("sample_type", sa.String(length=120), nullable=False),
        sa.Column("volume_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("volume_unit", sa.String(length=32), nullable=False),
        sa.Column("container", sa.String(length=120), nullable=False),
        sa.Column("handling_minimum_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("handling_minimum_unit", sa.String(length=32), nullable=False),
        sa.Column("handling_maximum_value", sa.Numeric().with_variant(sa.String(length=64), "sqlite"), nullable=False),
        sa.Column("handling_maximum_unit", sa.String(length=32), nullable=False),
        sa.Column("max_hours_to_processing", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["visit_id"], ["visit.id"], name=op.f("fk_sample_requirement_visit_id_visit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_requirement")),
    )
    with op.batch_alter_table("sample_requirement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sample_requirement_visit_id"), ["visit_id"], unique=False)

    op.create_table(
        "subject",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("version_id", sa.Integer(), nullable=False),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("site", sa.String(length=64), nullable=False),
        sa.Column("arm_id", sa.Integer(), nullable=False),
        sa.Column("enrolled_on", sa.Date(), nullable=False),
        sa.Column("consent_version", sa.String(length=32), nullable=False),
        sa.Column("apheresis_on", sa.Date(), nullable=True),
        sa.Column("infused_on", sa.Date(), nullable=True),
        sa.ForeignKeyConstraint(["arm_id"], ["arm.id"], name=op.f("fk_subject_arm_id_arm")),
        sa.ForeignKeyConstraint(["protocol_id"], ["protocol.id"], name=op.f("fk_subject_protocol_id_protocol")),
        sa.ForeignKeyConstraint(
            ["version_id"], ["protocol_version.id"], name=op.f("fk_subject_version_id_protocol_version")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subject")),
        sa.UniqueConstraint("protocol_id", "code", name="uq_subject_protocol_code"),
    )
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_subject_protocol_id"), ["protocol_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("subject", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subject_protocol_id"))

    op.drop_table("subject")
    with op.batch_alter_table("sample_requirement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sample_requirement_visit_id"))

    op.drop_table("sample_requirement")
    with op.batch_alter_table("visit", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_visit_version_id"))

    op.drop_table("visit")
    with op.batch_alter_table("arm", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_arm_version_id"))

    op.drop_table("arm")
    with op.batch_alter_table("protocol_version", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_protocol_version_effective",
            sqlite_where=sa.text("status = 'effective'"),
            postgresql_where=sa.text("status = 'effective'"),
        )
        batch_op.drop_index(batch_op.f("ix_protocol_version_protocol_id"))

    op.drop_table("protocol_version")
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_sponsor_id"))

    op.drop_table("protocol")
