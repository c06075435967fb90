"""Samples: when processing began (a split into aliquots, or testing), so aliquoted parents and their aliquots no
longer count as waiting past their stability window, and a late start stays on record.

Revision ID: 20261207_aliquotrules_processed
Revises: 20261207_storage_custody
Create Date: 2026-12-07 00:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261207_aliquotrules_processed"
down_revision = "20261207_storage_custody"
branch_labels = None
depends_on = None

# Samples already processed: an aliquot from the split that made it, a parent from its first split, either one
# from its first test if that came earlier. Correlated subqueries, so one statement each on SQLite and PostgreSQL.
_FROM_SPLITS = """
UPDATE sample SET processed_at = (
    SELECT MIN(aliquot.created_at) FROM aliquot WHERE aliquot.parent_id = sample.id OR aliquot.child_id = sample.id
)
WHERE EXISTS (SELECT 1 FROM aliquot WHERE aliquot.parent_id = sample.id OR aliquot.child_id = sample.id)
"""
_FROM_TESTS = """
UPDATE sample SET processed_at = (SELECT MIN(assigned_at) FROM sample_test WHERE sample_test.sample_id = sample.id)
WHERE EXISTS (SELECT 1 FROM sample_test WHERE sample_test.sample_id = sample.id)
  AND (processed_at IS NULL
       OR processed_at > (SELECT MIN(assigned_at) FROM sample_test WHERE sample_test.sample_id = sample.id))
"""


def upgrade() -> None:
    with op.batch_alter_table("sample", schema=None) as batch_op:
        batch_op.add_column(sa.Column("processed_at", sa.DateTime(timezone=True), nullable=True))
    op.execute(_FROM_SPLITS)
    op.execute(_FROM_TESTS)


def downgrade() -> None:
    with op.batch_alter_table("sample", schema=None) as batch_op:
        batch_op.drop_column("processed_at")
