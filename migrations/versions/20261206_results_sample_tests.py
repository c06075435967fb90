"""Sample results: the tests assigned to samples, QA's signed release of a submission's results, and the results
report as a new kind of issued document.

Revision ID: 20261206_results_sample_tests
Revises: 20261206_review_backups
Create Date: 2026-12-06 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "20261206_results_sample_tests"
down_revision = "20261206_review_backups"
branch_labels = None
depends_on = None

_KINDS = ("batch certificate",)


def _allow_document_kinds(kinds: tuple[str, ...]) -> None:
    """Change the kinds an issued document may be (a check constraint)."""
    kind = sa.Enum(*kinds, name="document_kind", native_enum=False, create_constraint=True, length=32)
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint(op.f("ck_issued_document_document_kind"), "issued_document", type_="check")
        op.create_check_constraint("document_kind", "issued_document", sa.column("kind").in_(kinds))
        return
    # SQLite cannot alter a constraint: the table is rebuilt, which drops its append-only triggers.
    with op.batch_alter_table(
        "issued_document",
        recreate="always",
        reflect_args=(sa.Column("kind", kind, nullable=False),),
        naming_convention={"ck": "ck_%(table_name)s_%(constraint_name)s"},
    ) as batch_op:
        batch_op.drop_constraint(op.f("ck_issued_document_document_kind"), type_="check")
    make_append_only("issued_document")


def upgrade() -> None:
    _allow_document_kinds((*_KINDS, "results report"))
    op.create_table(
        "sample_test",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sample_id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("specification", sa.String(length=200), nullable=False),
        sa.Column("requested", sa.Boolean(), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("assigned_by_id", sa.Integer(), nullable=False),
        sa.Column("result_id", sa.Integer(), nullable=True),
        sa.Column("out_of_specification", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["assigned_by_id"], ["user_account.id"], name=op.f("fk_sample_test_assigned_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"], ["test_definition.id"], name=op.f("fk_sample_test_definition_id_test_definition")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_sample_test_organization_id_organization")
        ),
        sa.ForeignKeyConstraint(["result_id"], ["test_result.id"], name=op.f("fk_sample_test_result_id_test_result")),
        sa.ForeignKeyConstraint(["sample_id"], ["sample.id"], name=op.f("fk_sample_test_sample_id_sample")),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_sample_test_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sample_test")),
        sa.UniqueConstraint("result_id", name=op.f("uq_sample_test_result_id")),
        sa.UniqueConstraint("sample_id", "definition_id", name="uq_sample_test_sample_definition"),
    )
    with op.batch_alter_table("sample_test", schema=None) as batch_op:
        batch_op.create_index("ix_sample_test_organization", ["organization_id", "id"], unique=False)
        batch_op.create_index("ix_sample_test_submission", ["submission_id", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sample_test_out_of_specification"), ["out_of_specification"])
    op.create_table(
        "result_release",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("submission_id", sa.Integer(), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("released_by_id", sa.Integer(), nullable=False),
        sa.Column("results", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_result_release_organization_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["released_by_id"], ["user_account.id"], name=op.f("fk_result_release_released_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["submission_id"], ["submission.id"], name=op.f("fk_result_release_submission_id_submission")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_result_release")),
        sa.UniqueConstraint("submission_id", name=op.f("uq_result_release_submission_id")),
    )
    with op.batch_alter_table("result_release", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_result_release_organization_id"), ["organization_id"], unique=False)


def downgrade() -> None:
    op.drop_table("result_release")
    op.drop_table("sample_test")
    _allow_document_kinds(_KINDS)
