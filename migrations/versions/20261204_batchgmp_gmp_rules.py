"""The step where QC samples are taken, the "skipped" signature, and QA's verdict per record in an impact assessment.

Existing steps take no QC samples: a master record approved before this revision names its QC sampling step
in a new version.

Revision ID: batchgmp_gmp
Revises: roles_role_change
Create Date: 2026-12-04 21:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "batchgmp_gmp"
down_revision = "roles_role_change"
branch_labels = None
depends_on = None

_MEANINGS = ("authored", "performed", "verified", "reviewed", "approved", "released", "rejected", "quarantined")


def _allow_signature_meanings(meanings: tuple[str, ...]) -> None:
    """Change the meanings a signature may have (a check constraint)."""
    meaning = sa.Enum(*meanings, name="signature_meaning", native_enum=False, create_constraint=True, length=32)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_electronic_signature_signature_meaning"), "electronic_signature", type_="check")
        op.create_check_constraint("signature_meaning", "electronic_signature", sa.column("meaning").in_(meanings))
        return
    # SQLite cannot alter a constraint: the table is rebuilt, which drops its append-only triggers.
    with op.batch_alter_table(
        "electronic_signature",
        recreate="always",
        reflect_args=(sa.Column("meaning", meaning, nullable=False),),
        naming_convention={"ck": "ck_%(table_name)s_%(constraint_name)s"},
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_electronic_signature_signature_meaning"), type_="check")
    make_append_only("electronic_signature")


def upgrade() -> None:
    _allow_signature_meanings((*_MEANINGS, "skipped"))
    for table in ("mbr_step", "batch_step"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.add_column(sa.Column("qc_sampling", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "impact_verdict",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("record_kind", sa.String(length=64), nullable=False),
        sa.Column("record_key", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=False),
        sa.Column(
            "verdict",
            sa.Enum("no impact", "impact", name="impact_verdict", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["assessment_id"],
            ["impact_assessment.id"],
            name=op.f("fk_impact_verdict_assessment_id_impact_assessment"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_impact_verdict")),
    )
    with op.batch_alter_table("impact_verdict") as batch_op:
        batch_op.create_index(batch_op.f("ix_impact_verdict_assessment_id"), ["assessment_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("impact_verdict") as batch_op:
        batch_op.drop_index(batch_op.f("ix_impact_verdict_assessment_id"))
    op.drop_table("impact_verdict")
    for table in ("batch_step", "mbr_step"):
        with op.batch_alter_table(table) as batch_op:
            batch_op.drop_column("qc_sampling")
    _allow_signature_meanings(_MEANINGS)
