"""Samples put on a manifest in bulk are audited exactly as the flush hook audits a sample created one by one."""

from __future__ import annotations

import json

from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import events
from lims.samples.service import submissions as service
from tests.lims.samples.conftest import row


def test_a_bulk_inserted_sample_has_the_event_the_flush_hook_would_write(db_session, clients):
    submission = service.create_draft(db_session, clients.helix, reference="Week 49", user=clients.helix_user)
    (bulk,) = service.add_rows(db_session, submission, [row("BULK-1")])
    one_by_one = Sample(
        **{
            column: getattr(bulk, column)
            for column in (
                "submission_id",
                "organization_id",
                "client_sample_id",
                "sample_type",
                "protocol_id",
                "subject_id",
                "visit_id",
                "collected_at",
                "quantity",
                "container",
                "storage_requirement",
                "storage_minimum",
                "storage_maximum",
                "requested_tests",
            )
        },
        public_id=events.new_public_id(),
        line=2,
        status=SampleStatus.EXPECTED,
        on_manifest=True,
    )
    db_session.add(one_by_one)
    db_session.flush()

    def recorded(sample: Sample) -> dict:
        event = db_session.scalars(
            select(AuditEvent).where(AuditEvent.entity_type == "sample", AuditEvent.entity_id == str(sample.id))
        ).one()
        assert event.action == "create"
        changes = json.loads(event.changes)
        return {key: value for key, value in changes.items() if key not in {"id", "public_id", "line"}}

    assert recorded(bulk) == recorded(one_by_one)
    assert recorded(bulk)["quantity"] == [None, "10 mL"] and recorded(bulk)["received_at"] == [None, None]
