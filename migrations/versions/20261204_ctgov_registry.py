"""Protocols keep what a ClinicalTrials.gov import maps: the registry's brief title, acronym, lead sponsor,
collaborators, overall status, enrolment type and interventions; product and therapeutic area hold any length.

Revision ID: ctgov_registry
Revises: limits_test_instruments
Create Date: 2026-12-04 22:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "ctgov_registry"
down_revision = "limits_test_instruments"
branch_labels = None
depends_on = None

_REGISTRY_COLUMNS = (
    "registry_brief_title",
    "registry_acronym",
    "registry_lead_sponsor",
    "registry_collaborators",
    "registry_overall_status",
    "registry_enrolment_type",
)


def upgrade() -> None:
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        batch_op.alter_column("therapeutic_area", existing_type=sa.String(length=200), type_=sa.Text())
        batch_op.alter_column("investigational_product", existing_type=sa.String(length=200), type_=sa.Text())
        for column in _REGISTRY_COLUMNS:
            batch_op.add_column(sa.Column(column, sa.Text(), nullable=True))
    op.create_table(
        "protocol_intervention",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("protocol_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["protocol_id"], ["protocol.id"], name=op.f("fk_protocol_intervention_protocol_id_protocol")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_intervention")),
    )
    with op.batch_alter_table("protocol_intervention", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_protocol_intervention_protocol_id"), ["protocol_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("protocol_intervention", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_protocol_intervention_protocol_id"))
    op.drop_table("protocol_intervention")
    with op.batch_alter_table("protocol", schema=None) as batch_op:
        for column in reversed(_REGISTRY_COLUMNS):
            batch_op.drop_column(column)
        batch_op.alter_column("investigational_product", existing_type=sa.Text(), type_=sa.String(length=200))
        batch_op.alter_column("therapeutic_area", existing_type=sa.Text(), type_=sa.String(length=200))
