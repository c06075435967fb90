"""A master record version says whether its product is autologous or allogeneic.

Every version made before is autologous, as every certificate and label issued so far said; an autologous
design adds nothing to the content its signatures cover, so versions signed before still hash as they did.

On SQLite the column is added and dropped in place (ALTER TABLE), not by copying the table: batches, steps and
training refer to master record versions, and dropping a referenced table with rows fails its foreign keys.

Revision ID: 20261206_certs_donor_type
Revises: 20261205_samples_area
Create Date: 2026-12-06 22:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261206_certs_donor_type"
down_revision = "20261205_samples_area"
branch_labels = None
depends_on = None

_CHECK = "ck_mbr_version_donor_type"
_VALUES = "donor_type IN ('autologous', 'allogeneic')"


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "ALTER TABLE mbr_version ADD COLUMN donor_type VARCHAR(32) NOT NULL DEFAULT 'autologous' "
            f"CONSTRAINT {_CHECK} CHECK ({_VALUES})"
        )
        return
    op.add_column(
        "mbr_version", sa.Column("donor_type", sa.String(length=32), nullable=False, server_default="autologous")
    )
    op.create_check_constraint(_CHECK, "mbr_version", sa.text(_VALUES))
    op.alter_column("mbr_version", "donor_type", server_default=None)


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        op.drop_constraint(_CHECK, "mbr_version", type_="check")
    op.execute("ALTER TABLE mbr_version DROP COLUMN donor_type")
