"""Parameters and test definitions say which kind of value they take (non-negative, a fraction of a whole, signed).

Parameters and quantitative tests defined before become signed quantities: what was accepted before stays
acceptable, and designs signed before read and hash as they did.

Revision ID: limits_value_kinds
Revises: 0008
Create Date: 2026-12-04 21:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "limits_value_kinds"
down_revision = "0008"
branch_labels = None
depends_on = None

_KINDS = ("non-negative quantity", "fraction of a whole", "signed quantity")
_NAMING = {"ck": "ck_%(table_name)s_%(constraint_name)s"}


def _add_value_kind(table: str, *, nullable: bool) -> None:
    with op.batch_alter_table(table, naming_convention=_NAMING) as batch_op:
        batch_op.add_column(
            sa.Column(
                "value_kind",
                sa.String(length=32),
                nullable=nullable,
                server_default=None if nullable else "signed quantity",
            )
        )
        batch_op.create_check_constraint("value_kind", sa.column("value_kind").in_(_KINDS))
    if not nullable:
        with op.batch_alter_table(table) as batch_op:
            batch_op.alter_column("value_kind", server_default=None)


def upgrade() -> None:
    _add_value_kind("mbr_parameter", nullable=False)
    _add_value_kind("batch_parameter", nullable=False)
    _add_value_kind("test_definition", nullable=True)
    op.execute("UPDATE test_definition SET value_kind = 'signed quantity' WHERE result_kind = 'quantitative'")


def downgrade() -> None:
    for table in ("test_definition", "batch_parameter", "mbr_parameter"):
        with op.batch_alter_table(table, naming_convention=_NAMING) as batch_op:
            batch_op.drop_constraint(op.f(f"ck_{table}_value_kind"), type_="check")
            batch_op.drop_column("value_kind")
