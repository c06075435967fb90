"""Issued documents (batch certificates) and their revocations, append-only; the verification pages' request
counts for their rate limit.

Revision ID: 20261205_certs_documents
Revises: passwords_history
Create Date: 2026-12-05 00:25:40
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from migrations.append_only import make_append_only

revision = "20261205_certs_documents"
down_revision = "passwords_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "verification_request",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("client_address", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verification_request")),
    )
    with op.batch_alter_table("verification_request", schema=None) as batch_op:
        batch_op.create_index("ix_verification_request_address", ["client_address", "requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_verification_request_requested_at"), ["requested_at"], unique=False)

    op.create_table(
        "issued_document",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("batch certificate", name="document_kind", native_enum=False, create_constraint=True, length=32),
            nullable=False,
        ),
        sa.Column("number", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject_type", sa.String(length=64), nullable=False),
        sa.Column("subject_id", sa.String(length=64), nullable=False),
        sa.Column("organization_id", sa.Integer(), nullable=False),
        sa.Column("product", sa.String(length=200), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("issued_by_id", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("content_sha256", sa.String(length=64), nullable=False),
        sa.Column("pdf", sa.LargeBinary(), nullable=False),
        sa.Column("file_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_size", sa.Integer(), nullable=False),
        sa.Column("supersedes_id", sa.Integer(), nullable=True),
        sa.Column("correction_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issued_by_id"], ["user_account.id"], name=op.f("fk_issued_document_issued_by_id_user_account")
        ),
        sa.ForeignKeyConstraint(
            ["organization_id"], ["organization.id"], name=op.f("fk_issued_document_organization_id_organization")
        ),
        sa.ForeignKeyConstraint(
            ["supersedes_id"], ["issued_document.id"], name=op.f("fk_issued_document_supersedes_id_issued_document")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issued_document")),
        sa.UniqueConstraint("file_sha256", name=op.f("uq_issued_document_file_sha256")),
        sa.UniqueConstraint("number", "version", name="uq_issued_document_number_version"),
        sa.UniqueConstraint("supersedes_id", name=op.f("uq_issued_document_supersedes_id")),
    )
    with op.batch_alter_table("issued_document", schema=None) as batch_op:
        batch_op.create_index("ix_issued_document_issued", ["issued_at", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_issued_document_number"), ["number"], unique=False)
        batch_op.create_index("ix_issued_document_organization", ["organization_id", "issued_at", "id"], unique=False)
        batch_op.create_index("ix_issued_document_subject", ["subject_type", "subject_id"], unique=False)

    op.create_table(
        "document_revocation",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("revoked_by_id", sa.Integer(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["document_id"], ["issued_document.id"], name=op.f("fk_document_revocation_document_id_issued_document")
        ),
        sa.ForeignKeyConstraint(
            ["revoked_by_id"], ["user_account.id"], name=op.f("fk_document_revocation_revoked_by_id_user_account")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_revocation")),
        sa.UniqueConstraint("document_id", name=op.f("uq_document_revocation_document_id")),
    )
    make_append_only("issued_document")
    make_append_only("document_revocation")


def downgrade() -> None:
    op.drop_table("document_revocation")
    with op.batch_alter_table("issued_document", schema=None) as batch_op:
        batch_op.drop_index("ix_issued_document_subject")
        batch_op.drop_index("ix_issued_document_organization")
        batch_op.drop_index(batch_op.f("ix_issued_document_number"))
        batch_op.drop_index("ix_issued_document_issued")

    op.drop_table("issued_document")
    with op.batch_alter_table("verification_request", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_verification_request_requested_at"))
        batch_op.drop_index("ix_verification_request_address")

    op.drop_table("verification_request")
