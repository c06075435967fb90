"""Samples received before the chain of custody was kept (revision 20261207_storage_custody) get the link it
starts with, "received", and their place: at the lab since their receipt.

Every sample that was received (its receipt records when and by whom; not an aliquot, whose chain starts with its
split) and has no "received" custody event gets one as the receiving service writes it: by the technician who
received it, at the time of its receipt, to "Receiving", at its arrival temperature, a rejected sample's note giving
the reason it was rejected. A sample with no place yet gets the one the lab gives a received sample until it is
first stored: at the lab, since its receipt. A sample received before the chain but moved since (stored, split)
has a place already, kept as it is, and its chain now starts with its receipt, dated before its first move. A
sample whose receipt names no one who received it gets nothing: there is no one to attribute the link to. Two
set-based statements, whatever the number of samples; running them again adds nothing.

The audit trail. Custody events and places are controlled records, which the LIMS's hooks audit as they are made
through a user's session; these rows are written in SQL by the upgrade, and, as the backfills before it
(20261207_perf_step_signed's signature states, 20261207_aliquotrules_processed's processing times), it writes no
audit events for them. A "create" event names who made the record and when: the receiving technician did not make
these links, and stamping them with the upgrade's time and no one would append a chain of unattributed events
(hashed one after another, never set-based) that adds no fact. The facts are in the trail already: each sample's
receipt is audited as the sample's update (time, technician, arrival temperature, "Received at the lab" or the
rejection's reason), and these rows restate it. Each link says where it comes from in its note, so the custody
timeline shows it was recorded from the receipt at the upgrade, not at the bench; the client's feed announces
nothing, as a receipt's custody link is never announced on its own.

Downgrade leaves the rows: they are true at the revision before as well (same tables), controlled records are
never deleted, and upgrading again adds nothing.

Revision ID: 20261208_custody_receipts
Revises: 20261208_batch_step_open
Create Date: 2026-12-08 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "20261208_custody_receipts"
down_revision = "20261208_batch_step_open"
branch_labels = None
depends_on = None

#: what a backfilled link's note says of where it comes from
FROM_RECEIPT = "Recorded from the receipt at the upgrade: received before the chain of custody was kept."

# An aliquot records its split as its receipt, and its chain starts with "aliquoted" (aliquots came with the chain).
_RECEIVED_UNTRACKED = """
    s.received_at IS NOT NULL AND s.received_by_id IS NOT NULL
    AND NOT EXISTS (SELECT 1 FROM custody_event e WHERE e.sample_id = s.id AND e.action = 'received')
    AND NOT EXISTS (SELECT 1 FROM aliquot a WHERE a.child_id = s.id)
"""

# Places first, while the condition still finds the samples the receipts below are for.
_PLACES = f"""
INSERT INTO sample_location (sample_id, organization_id, state, box_id, position_row, position_column, since)
SELECT s.id, s.organization_id, 'at the lab', NULL, NULL, NULL, s.received_at
FROM sample s
WHERE {_RECEIVED_UNTRACKED}
  AND NOT EXISTS (SELECT 1 FROM sample_location l WHERE l.sample_id = s.id)
ORDER BY s.id
"""

_RECEIPTS = f"""
INSERT INTO custody_event (sample_id, organization_id, action, occurred_at, by_id, from_location, to_location,
                           temperature_value, temperature_unit, note)
SELECT s.id, s.organization_id, 'received', s.received_at, s.received_by_id, NULL, 'Receiving',
       s.arrival_temperature_value, s.arrival_temperature_unit,
       CASE WHEN s.status = 'rejected' THEN 'Rejected: ' || COALESCE(s.rejection_reason, '') || '. ' || :from_receipt
            ELSE :from_receipt END
FROM sample s
WHERE {_RECEIVED_UNTRACKED}
ORDER BY s.id
"""


def backfill(connection: sa.Connection) -> None:
    """Give each received sample without a "received" link that link, and a place if it has none."""
    connection.execute(sa.text(_PLACES))
    connection.execute(sa.text(_RECEIPTS), {"from_receipt": FROM_RECEIPT})


def upgrade() -> None:
    backfill(op.get_bind())


def downgrade() -> None:
    """The backfilled links and places stay (see above)."""
