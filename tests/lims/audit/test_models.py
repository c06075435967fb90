"""The audit_event table: append-only, its fields derived from the payload the hash covers."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.audit.models import AuditEvent
from tests.lims.audit.helpers import MOMENT, TRICKY_TEXTS, events
from tests.lims.audit.tampering import drop_append_only_triggers


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE audit_event SET payload = replace(payload, 'create', 'delete')",
        "UPDATE audit_event SET hash = upper(hash)",
        "DELETE FROM audit_event",
    ],
)
def test_direct_sql_update_or_delete_of_audit_rows_fails(db_session, connection, create_organization, statement):
    create_organization()
    db_session.flush()
    savepoint = connection.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
    savepoint.rollback()
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) > 0


@pytest.mark.parametrize(
    ("column", "value"), [("action", "delete"), ("entity_id", "999"), ("user_id", 99), ("recorded_at", MOMENT)]
)
def test_the_fields_of_an_event_cannot_be_set_apart_from_its_payload(
    db_session, connection, create_organization, column, value
):
    create_organization()
    db_session.flush()
    drop_append_only_triggers(connection)
    savepoint = connection.begin_nested()
    # The database derives the fields the trail is searched by from the payload the hash covers, and refuses
    # any other value; the others have no column of their own.
    with pytest.raises(DatabaseError, match=r"generated column|can only be updated to DEFAULT"):
        connection.execute(update(AuditEvent).where(AuditEvent.sequence == 1).values({column: value}))
    savepoint.rollback()


def test_an_event_cannot_be_moved_to_another_place_in_the_chain(db_session, connection, create_organization):
    create_organization()
    db_session.flush()
    last = audit_verification.count_events(connection)
    drop_append_only_triggers(connection)
    savepoint = connection.begin_nested()
    # Its payload, which the hash covers, names its sequence, and the database holds the two together.
    with pytest.raises(DatabaseError, match=r"ck_audit_event_payload_sequence|CHECK constraint failed"):
        connection.execute(update(AuditEvent).where(AuditEvent.sequence == last).values(sequence=last + 5))
    savepoint.rollback()


def test_the_database_reads_each_field_back_exactly_as_recorded(db_session):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit_chain.record(db_session, "test.tricky", details={"text": tricky, "number": number}, reason=tricky or None)
    with clock.frozen(datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)):  # a time on the whole second
        whole_second = audit_chain.record(db_session, "test.whole-second")
    db_session.flush()
    tricky_events = events(db_session, action="test.tricky")
    assert [event.reason for event in tricky_events] == [text or None for text in TRICKY_TEXTS]
    assert [json.loads(event.changes)["text"] for event in tricky_events] == TRICKY_TEXTS
    stored = db_session.get(AuditEvent, whole_second["sequence"])
    assert stored.recorded_at == datetime(2030, 5, 6, 7, 8, 9, tzinfo=UTC)
    assert (stored.user_id, stored.user_name, stored.entity_type) == (None, "system", None)
