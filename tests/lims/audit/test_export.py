"""The CSV export: every field of each event as the chain holds it, and no cell a spreadsheet would run."""

from __future__ import annotations

import csv
import io

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import export as audit_export
from lims.audit import trail as audit_trail
from lims.csv_export import spreadsheet_safe
from tests.lims.audit.helpers import MOMENT, events


def test_each_event_is_a_line_with_its_time_in_utc_and_its_hashes(db_session):
    with clock.frozen(MOMENT):
        recorded = audit_chain.record(db_session, "test.exported", details={"rows": 3}, reason="Inspection")
    db_session.flush()
    exported = "".join(audit_export.csv_lines(events(db_session, action="test.exported"), db_session))
    rows = list(csv.DictReader(io.StringIO(exported)))
    assert rows == [
        {
            "sequence": str(recorded["sequence"]),
            "recorded_at_utc": "2030-05-06T07:08:09.123456+00:00",
            "user_id": "",
            "user_name": "system",
            "action": "test.exported",
            "entity_type": "",
            "entity_id": "",
            "record": "",
            "changes": '{"rows":3}',
            "changes_named": "rows: 3",
            "reason": "Inspection",
            "request_id": "",
            "client_address": "",
            "prev_hash": recorded["prev_hash"],
            "hash": recorded["hash"],
        }
    ]


def test_spreadsheet_safe_prefixes_every_formula_trigger():
    for dangerous in ("=1+1", "+1", "-1", "@x", "\tx", "\rx"):
        assert spreadsheet_safe(dangerous) == "'" + dangerous
    assert spreadsheet_safe("plain") == "plain" and spreadsheet_safe(None) == ""


def test_an_export_is_audited_once_before_its_lines_are_read(db_session):
    audit_chain.record(db_session, "test.exported", details={"rows": 1})
    reads = []

    def reading_session():
        reads.append(True)
        return db_session

    lines = audit_export.export_events(
        db_session,
        audit_trail.EventFilter(actions=("test.exported",)),
        filters={"action": "test.exported"},
        reading_session=reading_session,
    )
    [exported] = events(db_session, action="audit.exported")
    assert exported.changes == '{"action":"test.exported"}' and reads == []
    rows = list(csv.DictReader(io.StringIO("".join(lines))))
    assert [row["action"] for row in rows] == ["test.exported"] and reads == [True]
    assert len(events(db_session, action="audit.exported")) == 1
