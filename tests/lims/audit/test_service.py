"""The audit chain: reasons, exact values, atomicity, tamper evidence, concurrency."""
from __future__ import annotations

import json
import threading
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from lims import clock, schema
from lims.audit import service as audit
from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.audit.service import BreakKind, ReasonRequired
from lims.db import create_engine_for
from lims.identity import service as identity
from lims.identity.models import Organization, OrganizationKind

MOMENT = datetime(2030, 5, 6, 7, 8, 9, 123456, tzinfo=timezone.utc)


def events(session: Session, **criteria) -> list[AuditEvent]:
    query = select(AuditEvent).order_by(AuditEvent.sequence)
    for name, value in criteria.items():
        query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query))


def test_update_of_a_controlled_record_without_reason_is_refused(db_session, create_organization):
    organization = create_organization(name="Helix")
    organization.name = "Helix Bio"
    with pytest.raises(ReasonRequired, match="reason for changing this organization"):
        db_session.flush()


def test_delete_of_a_controlled_record_without_reason_is_refused(db_session, create_organization):
    organization = create_organization()
    db_session.delete(organization)
    with pytest.raises(ReasonRequired, match="reason for deleting"):
        db_session.flush()


def test_update_event_has_exact_old_and_new_values_user_time_and_reason(db_session, create_organization):
    organization = create_organization(code="HELIX", name="Helix")
    audit.act_as(db_session, audit.Actor(42, "Quinn Okafor", request_id="req-1", client_address="10.0.0.7"))
    clock.freeze(MOMENT)
    with audit.reason_for_change(db_session, "  Legal name changed after merger  "):
        organization.name = "Helix Bio"
        organization.active = False
    event = events(db_session, action="update", entity_id=str(organization.id))[0]
    assert (event.entity_type, event.user_id, event.user_name) == ("organization", 42, "Quinn Okafor")
    assert event.recorded_at == MOMENT and event.recorded_at.tzinfo == timezone.utc
    assert event.reason == "Legal name changed after merger"
    assert (event.request_id, event.client_address) == ("req-1", "10.0.0.7")
    assert json.loads(event.changes) == {"name": ["Helix", "Helix Bio"], "active": [True, False]}


def test_create_event_lists_every_field(db_session, create_organization):
    organization = create_organization(code="NORD", name="Nordic CAR Bio")
    event = events(db_session, action="create", entity_id=str(organization.id))[0]
    changes = json.loads(event.changes)
    assert changes["code"] == [None, "NORD"] and changes["name"] == [None, "Nordic CAR Bio"]
    assert changes["kind"] == [None, "client"] and changes["id"] == [None, organization.id]


def test_secrets_are_recorded_as_changed_without_their_value(db_session, create_user):
    create_user()
    created = json.loads(events(db_session, action="create", entity_type="user_account")[0].changes)
    assert created["password_hash"] == [None, audit.REDACTED]
    assert "session_nonce" not in created and "last_login_at" not in created


def test_a_rolled_back_change_leaves_no_event(db_session, create_organization):
    organization = create_organization()
    before = len(events(db_session))
    savepoint = db_session.begin_nested()
    with audit.reason_for_change(db_session, "Typo"):
        organization.name = "Renamed"
    assert len(events(db_session)) == before + 1
    savepoint.rollback()
    assert len(events(db_session)) == before
    with audit.reason_for_change(db_session, "Typo, again"):
        organization.name = "Renamed"
    assert [e.sequence for e in events(db_session)] == list(range(1, before + 2)), "no gap after the rollback"


def test_a_failing_event_fails_the_change_with_it(db_session, connection, create_organization):
    organization = create_organization(name="Before")
    db_session.commit()
    savepoint = connection.begin_nested()
    connection.execute(text("DROP TABLE audit_event"))
    with audit.reason_for_change(db_session, "Rename"):
        organization.name = "After"
    # The event waits to be written with the transaction's others, so its failure surfaces at the commit.
    with pytest.raises(DatabaseError):
        db_session.commit()
    db_session.rollback()
    savepoint.rollback()
    db_session.expire_all()
    assert db_session.get(Organization, organization.id).name == "Before"


def test_a_savepoint_rollback_keeps_the_events_written_before_it(db_session, create_organization):
    kept = create_organization(name="Kept")
    db_session.flush()
    savepoint = db_session.begin_nested()
    create_organization(name="Undone")
    db_session.flush()
    savepoint.rollback()
    create_organization(name="After the rollback")
    db_session.flush()
    created = [json.loads(event.changes)["name"][1] for event in events(db_session, action="create",
                                                                         entity_type="organization")]
    assert created[-2:] == ["Kept", "After the rollback"] and kept.name == "Kept"
    assert audit.verify_chain(db_session.connection(), checkpoint=None).intact


def test_chain_starts_at_genesis_and_links_every_event(db_session, create_user):
    create_user()
    chain = events(db_session)
    assert chain[0].sequence == 1 and chain[0].prev_hash == GENESIS_HASH
    for earlier, later in zip(chain, chain[1:]):
        assert later.sequence == earlier.sequence + 1 and later.prev_hash == earlier.hash
    assert audit.verify_chain(db_session.connection(), checkpoint=None).intact


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET reason = 'edited'", "DELETE FROM audit_event"])
def test_direct_sql_update_or_delete_of_audit_rows_fails(db_session, connection, create_organization, statement):
    create_organization()
    db_session.flush()
    savepoint = connection.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
    savepoint.rollback()
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) > 0


def _drop_append_only_triggers(connection) -> None:
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        connection.execute(text("DROP TRIGGER audit_event_no_update"))


def test_an_altered_event_is_reported_at_its_sequence(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    _drop_append_only_triggers(connection)
    connection.execute(update(AuditEvent).where(AuditEvent.sequence == 3).values(user_name="Somebody Else"))
    verification = audit.verify_chain(connection, checkpoint=None)
    assert verification.first_break.sequence == 3
    assert verification.first_break.kind == BreakKind.HASH_MISMATCH
    assert "broken at event 3: hash mismatch" in verification.summary()


def test_a_missing_event_is_reported_as_a_gap(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
    connection.execute(text("DELETE FROM audit_event WHERE sequence = 2"))
    verification = audit.verify_chain(connection, checkpoint=None)
    assert (verification.first_break.sequence, verification.first_break.kind) == (2, BreakKind.GAP)


def _relink_whole_chain(connection, *, from_sequence: int) -> None:
    """What someone with database rights would do: alter an event and recompute every later hash."""
    rows = connection.execute(select(AuditEvent.__table__).order_by(AuditEvent.sequence)).all()
    previous = GENESIS_HASH
    for row in rows:
        values = dict(row._mapping)
        if row.sequence >= from_sequence:
            if row.sequence == from_sequence:
                values["reason"] = "history rewritten"
            values["prev_hash"] = previous
            values["hash"] = audit.hashlib.sha256(audit.canonical_bytes(values)).hexdigest()
            connection.execute(update(AuditEvent).where(AuditEvent.sequence == row.sequence)
                               .values(prev_hash=values["prev_hash"], hash=values["hash"], reason=values["reason"]))
        previous = values["hash"]


def test_a_relinked_chain_is_caught_by_the_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(5):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    checkpoint = audit.write_checkpoint(connection, checkpoint_file)
    assert audit.latest_checkpoint(checkpoint_file) == checkpoint
    _drop_append_only_triggers(connection)
    _relink_whole_chain(connection, from_sequence=2)
    assert audit.verify_chain(connection, checkpoint=None).intact, "without an anchor the rewrite goes unseen"
    verification = audit.verify_chain(connection, checkpoint=audit.latest_checkpoint(checkpoint_file))
    assert verification.first_break.kind == BreakKind.CHECKPOINT_MISMATCH
    assert verification.first_break.sequence == checkpoint.sequence


def test_a_truncated_chain_disagrees_with_its_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint = audit.write_checkpoint(connection, tmp_path / "c.jsonl")
    if connection.dialect.name == "postgresql":
        connection.execute(text("DROP TRIGGER audit_event_append_only ON audit_event"))
    else:
        connection.execute(text("DROP TRIGGER audit_event_no_delete"))
    connection.execute(text("DELETE FROM audit_event WHERE sequence = :last"), {"last": checkpoint.sequence})
    verification = audit.verify_chain(connection, checkpoint=checkpoint)
    assert (verification.first_break.kind, verification.first_break.sequence) == (
        BreakKind.CHECKPOINT_MISMATCH, checkpoint.sequence)


def test_a_corrupt_checkpoint_file_is_reported(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text("not json\n")
    with pytest.raises(audit.InvalidInput, match="is not a checkpoint"):
        audit.latest_checkpoint(path)


@pytest.mark.parametrize(
    ("value", "text_form"),
    [
        (Decimal("2.50"), "2.50"),
        (Decimal("1E+3"), "1000"),
        (date(2030, 1, 2), "2030-01-02"),
        (datetime(2030, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "2030-01-02T03:04:05.000000+00:00"),
        (OrganizationKind.CLIENT, "client"),
        (frozenset({"qa", "admin"}), ["admin", "qa"]),
    ],
)
def test_values_are_recorded_as_stable_text(value, text_form):
    assert audit.stable_value(value) == text_form


def test_concurrent_writers_never_fork_the_chain(fresh_database_url):
    writers, updates_each = 8, 200
    engine = create_engine_for(fresh_database_url, pool_size=writers, max_overflow=0)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        ids = [identity.create_organization(session, code=f"W{n}", name=f"Writer {n}", kind=OrganizationKind.CLIENT).id
               for n in range(writers)]
        session.commit()
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(organization_id: int) -> None:
        try:
            start.wait()
            for number in range(updates_each):
                with Session(engine) as session:
                    organization = session.get(Organization, organization_id)
                    with audit.reason_for_change(session, f"Update {number}"):
                        organization.name = f"Writer {organization_id} v{number}"
                    session.commit()
        except BaseException as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(organization_id,)) for organization_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engine.connect() as connection:
        sequences = connection.execute(select(AuditEvent.sequence).order_by(AuditEvent.sequence)).scalars().all()
        verification = audit.verify_chain(connection, checkpoint=None)
    engine.dispose()
    expected = writers + writers * updates_each
    assert sequences == list(range(1, expected + 1)), "no duplicate and no missing sequence number"
    assert verification.intact and verification.events_checked == expected


TRICKY_TEXTS = ['quote " backslash \\ slash /', "line\nbreak\ttab\rreturn\b\f", "control \x01\x1f del \x7f",
                "µL ≥ 37 °C – naïve 漢字 🧬", "line separator \u2028 paragraph \u2029", "</script><b>&amp;</b>", ""]


def test_postgresql_builds_exactly_the_canonical_text_python_hashes(db_session, connection):
    if connection.dialect.name != "postgresql":
        pytest.skip("the database-side verification runs on PostgreSQL only; SQLite's events are checked in Python")
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit.record(db_session, "test.tricky", details={"text": tricky, "number": number},
                     reason=tricky or None)
    with clock.frozen(datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)):  # a time on the whole second
        audit.record(db_session, "test.whole-second")
    db_session.flush()
    rows = connection.execute(text(
        f"SELECT sequence, {audit._CANONICAL_TEXT_SQL} AS canonical FROM audit_event ORDER BY sequence")).all()
    stored = {row.sequence: row for row in connection.execute(select(AuditEvent.__table__))}
    assert rows
    for row in rows:
        assert row.canonical.encode() == audit.canonical_bytes(stored[row.sequence]), f"event {row.sequence}"


def test_both_ways_of_verifying_find_the_same_break(db_session, connection):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit.record(db_session, "test.tricky", details={"text": tricky}, reason=f"reason {number}")
    db_session.flush()
    checked_here = audit._verify_here(connection, checkpoint=None, progress=None, batch_size=3)
    assert checked_here.intact and checked_here.events_checked == len(TRICKY_TEXTS)
    _drop_append_only_triggers(connection)
    connection.execute(update(AuditEvent).where(AuditEvent.sequence == 4).values(reason="reason 3 (edited)"))
    here = audit._verify_here(connection, checkpoint=None, progress=None, batch_size=3)
    assert (here.first_break.sequence, here.first_break.kind) == (4, BreakKind.HASH_MISMATCH)
    if connection.dialect.name == "postgresql":
        for batch_size in (2, 3, 100):
            assert audit._verify_in_database(connection, checkpoint=None, progress=None,
                                             batch_size=batch_size) == here, f"batches of {batch_size}"
