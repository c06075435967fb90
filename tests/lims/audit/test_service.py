"""The audit chain: reasons, exact values, atomicity, tamper evidence, concurrency."""
from __future__ import annotations

import contextlib
import json
import logging
import threading
from datetime import date, datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from batch_records import service as materials
from lims import clock, schema
from lims.audit import service as audit
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent
from lims.audit.service import BreakKind, ReasonRequired
from lims.db import create_engine_for
from lims.identity.models import Organization, OrganizationKind, RoleName
from lims.identity.service import organizations
from lims.units.parsing import parse_measurement
from tests.lims.audit.tampering import alter_action, alter_payload, drop_append_only_triggers

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


@pytest.mark.parametrize("reason", [None, "Duplicate entry"])
def test_a_controlled_record_is_never_hard_deleted_even_with_a_reason(db_session, create_organization, reason):
    organization = create_organization()
    db_session.commit()
    sequence_before = db_session.scalar(select(func.max(AuditEvent.sequence)))
    with pytest.raises(audit.DeletionRefused, match="regulated record and is never deleted"):
        with audit.reason_for_change(db_session, reason) if reason else contextlib.nullcontext():
            db_session.delete(organization)
            db_session.flush()
    db_session.rollback()
    assert db_session.get(Organization, organization.id) is not None
    assert db_session.scalar(select(func.max(AuditEvent.sequence))) == sequence_before


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
    assert audit.verify_chain(db_session.connection()).intact


def test_chain_starts_at_genesis_and_links_every_event(db_session, create_user):
    create_user()
    chain = events(db_session)
    assert chain[0].sequence == 1 and chain[0].prev_hash == GENESIS_HASH
    for earlier, later in zip(chain, chain[1:]):
        assert later.sequence == earlier.sequence + 1 and later.prev_hash == earlier.hash
    assert audit.verify_chain(db_session.connection()).intact


@pytest.mark.parametrize("statement", ["UPDATE audit_event SET payload = replace(payload, 'create', 'delete')",
                                       "UPDATE audit_event SET hash = upper(hash)", "DELETE FROM audit_event"])
def test_direct_sql_update_or_delete_of_audit_rows_fails(db_session, connection, create_organization, statement):
    create_organization()
    db_session.flush()
    savepoint = connection.begin_nested()
    with pytest.raises(DatabaseError, match="append-only"):
        connection.execute(text(statement))
    savepoint.rollback()
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)) > 0


@pytest.mark.parametrize(("column", "value"), [("action", "delete"), ("entity_id", "999"), ("user_id", 99),
                                               ("recorded_at", MOMENT)])
def test_the_fields_of_an_event_cannot_be_set_apart_from_its_payload(db_session, connection, create_organization,
                                                                    column, value):
    create_organization()
    db_session.flush()
    drop_append_only_triggers(connection)
    savepoint = connection.begin_nested()
    # The database derives the fields the trail is searched by from the payload the hash covers, and refuses
    # any other value; the others have no column of their own.
    with pytest.raises(DatabaseError, match="generated column|can only be updated to DEFAULT"):
        connection.execute(update(AuditEvent).where(AuditEvent.sequence == 1).values({column: value}))
    savepoint.rollback()


def test_an_altered_event_is_reported_at_its_sequence(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    alter_action(connection, 3, "delete")
    assert db_session.scalar(select(AuditEvent.action).where(AuditEvent.sequence == 3)) == "delete"
    verification = audit.verify_chain(connection)
    assert verification.first_break.sequence == 3
    assert verification.first_break.kind == BreakKind.HASH_MISMATCH
    assert "broken at event 3: hash mismatch" in verification.summary()


def test_an_event_altered_and_rehashed_breaks_the_link_of_the_event_after_it(db_session, connection,
                                                                            create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    alter_action(connection, 2, "tampered")
    altered = connection.execute(select(AuditEvent.payload).where(AuditEvent.sequence == 2)).scalar_one()
    connection.execute(update(AuditEvent).where(AuditEvent.sequence == 2).values(hash=audit.event_hash(altered)))
    verification = audit.verify_chain(connection)
    assert (verification.first_break.sequence, verification.first_break.kind) == (3, BreakKind.BROKEN_LINK)
    assert verification.events_checked == 2


def test_a_missing_event_is_reported_as_a_gap(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence = 2"))
    verification = audit.verify_chain(connection)
    assert (verification.first_break.sequence, verification.first_break.kind) == (2, BreakKind.GAP)


def _relink_whole_chain(db_session, connection, *, from_sequence: int) -> None:
    """What someone with database rights would do: alter an event and recompute every later hash."""
    previous = GENESIS_HASH
    for event in db_session.scalars(select(AuditEvent).order_by(AuditEvent.sequence)).all():
        if event.sequence >= from_sequence:
            fields = dict(zip(HASHED_FIELDS, event.fields, strict=True))
            if event.sequence == from_sequence:
                fields["reason"] = "history rewritten"
            fields["prev_hash"] = previous
            payload = audit.canonical_payload(fields)
            previous = audit.event_hash(payload)
            connection.execute(update(AuditEvent).where(AuditEvent.sequence == event.sequence)
                               .values(payload=payload, hash=previous))
        else:
            previous = event.hash


def test_a_relinked_chain_is_caught_by_the_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(5):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    checkpoint = audit.write_checkpoint(connection, checkpoint_file)
    assert audit.read_checkpoints(checkpoint_file) == [checkpoint]
    drop_append_only_triggers(connection)
    _relink_whole_chain(db_session, connection, from_sequence=2)
    assert audit.verify_chain(connection).intact, "without an anchor the rewrite goes unseen"
    verification = audit.verify_chain(connection, checkpoints=audit.read_checkpoints(checkpoint_file))
    assert verification.first_break.kind == BreakKind.CHECKPOINT_MISMATCH
    assert verification.first_break.sequence == checkpoint.sequence


def test_a_relinked_chain_is_not_anchored_again(db_session, connection, create_organization, tmp_path):
    for number in range(5):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    first = audit.write_checkpoint(connection, checkpoint_file)
    create_organization(name="Client 5")
    db_session.flush()
    drop_append_only_triggers(connection)
    _relink_whole_chain(db_session, connection, from_sequence=2)
    with pytest.raises(audit.AnchorRefused, match=f"event {first.sequence}, anchored by the checkpoint written"):
        audit.write_checkpoint(connection, checkpoint_file)
    assert audit.read_checkpoints(checkpoint_file) == [first], "a refused checkpoint writes nothing"


def test_every_checkpoint_is_compared_not_only_the_latest(db_session, connection, create_organization, tmp_path):
    """A later checkpoint that anchored a rewritten chain does not vouch for it: the earlier one still disagrees."""
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    first = audit.write_checkpoint(connection, checkpoint_file)
    drop_append_only_triggers(connection)
    _relink_whole_chain(db_session, connection, from_sequence=2)
    create_organization(name="Client 3")
    db_session.flush()
    head = db_session.scalar(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1))
    forged = {"sequence": head.sequence, "hash": head.hash, "written_at": datetime.now(timezone.utc).isoformat()}
    with checkpoint_file.open("a") as handle:
        handle.write(json.dumps(forged) + "\n")

    verification = audit.verify_chain(connection, checkpoints=audit.read_checkpoints(checkpoint_file))
    assert (verification.first_break.kind, verification.first_break.sequence) == (
        BreakKind.CHECKPOINT_MISMATCH, first.sequence)


def test_an_intact_chain_matches_all_its_checkpoints(db_session, connection, create_organization, tmp_path):
    checkpoint_file = tmp_path / "checkpoints.jsonl"
    audit.write_checkpoint(connection, checkpoint_file)
    for number in range(3):
        create_organization(name=f"Client {number}")
        db_session.flush()
        audit.write_checkpoint(connection, checkpoint_file)
    checkpoints = audit.read_checkpoints(checkpoint_file)
    verification = audit.verify_chain(connection, checkpoints=checkpoints, batch_size=2)
    assert verification.intact and verification.checkpoints == tuple(checkpoints)
    assert f"matches all 4 checkpoints, the latest of event {checkpoints[-1].sequence}" in verification.summary()


def test_a_truncated_chain_disagrees_with_its_checkpoint(db_session, connection, create_organization, tmp_path):
    for number in range(3):
        create_organization(name=f"Client {number}")
    db_session.flush()
    checkpoint = audit.write_checkpoint(connection, tmp_path / "c.jsonl")
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence = :last"), {"last": checkpoint.sequence})
    verification = audit.verify_chain(connection, checkpoints=[checkpoint])
    assert (verification.first_break.kind, verification.first_break.sequence) == (
        BreakKind.CHECKPOINT_MISMATCH, checkpoint.sequence)


def test_a_corrupt_checkpoint_file_is_reported(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text(json.dumps({"sequence": 1, "hash": GENESIS_HASH, "written_at": MOMENT.isoformat()})
                    + "\n\nnot json\n")
    with pytest.raises(audit.InvalidInput, match="Line 3 of the checkpoint file .* is not a checkpoint"):
        audit.read_checkpoints(path)


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
        ids = [organizations.create_organization(session, code=f"W{n}", name=f"Writer {n}",
                                                 kind=OrganizationKind.CLIENT).id
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
        verification = audit.verify_chain(connection)
    engine.dispose()
    expected = writers + writers * updates_each
    assert sequences == list(range(1, expected + 1)), "no duplicate and no missing sequence number"
    assert verification.intact and verification.events_checked == expected


TRICKY_TEXTS = ['quote " backslash \\ slash /', "line\nbreak\ttab\rreturn\b\f", "control \x01\x1f del \x7f",
                "µL ≥ 37 °C – naïve 漢字 🧬", "line separator \u2028 paragraph \u2029", "</script><b>&amp;</b>", ""]


def test_the_database_reads_each_field_back_exactly_as_recorded(db_session):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit.record(db_session, "test.tricky", details={"text": tricky, "number": number}, reason=tricky or None)
    with clock.frozen(datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)):  # a time on the whole second
        whole_second = audit.record(db_session, "test.whole-second")
    db_session.flush()
    tricky_events = events(db_session, action="test.tricky")
    assert [event.reason for event in tricky_events] == [text or None for text in TRICKY_TEXTS]
    assert [json.loads(event.changes)["text"] for event in tricky_events] == TRICKY_TEXTS
    stored = db_session.get(AuditEvent, whole_second["sequence"])
    assert stored.recorded_at == datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)
    assert (stored.user_id, stored.user_name, stored.entity_type) == (None, "system", None)


@pytest.mark.parametrize("batch_size", [1, 2, 3, 100])
def test_a_break_is_found_at_its_event_whatever_the_batches(db_session, connection, batch_size):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit.record(db_session, "test.tricky", details={"text": tricky}, reason=f"reason {number}")
    db_session.flush()
    intact = audit.verify_chain(connection, batch_size=batch_size)
    assert intact.intact and intact.events_checked == len(TRICKY_TEXTS)
    drop_append_only_triggers(connection)
    alter_payload(connection, 4, "reason 3", "reason 3 (edited)")
    verification = audit.verify_chain(connection, batch_size=batch_size)
    assert (verification.first_break.sequence, verification.first_break.kind) == (4, BreakKind.HASH_MISMATCH)
    assert (verification.events_checked, verification.head_hash) == (3, events(db_session)[2].hash)


def test_an_event_cannot_be_moved_to_another_place_in_the_chain(db_session, connection, create_organization):
    create_organization()
    db_session.flush()
    last = audit.count_events(connection)
    drop_append_only_triggers(connection)
    savepoint = connection.begin_nested()
    # Its payload, which the hash covers, names its sequence, and the database holds the two together.
    with pytest.raises(DatabaseError, match="ck_audit_event_payload_sequence|CHECK constraint failed"):
        connection.execute(update(AuditEvent).where(AuditEvent.sequence == last).values(sequence=last + 5))
    savepoint.rollback()


def test_an_intact_chain_is_verified_in_bulk_without_walking_it_event_by_event(db_session, connection, monkeypatch,
                                                                              tmp_path):
    for number, tricky in enumerate(TRICKY_TEXTS):
        audit.record(db_session, "test.tricky", details={"text": tricky}, reason=f"{tricky} {number}")
    db_session.flush()
    checkpoint = audit.write_checkpoint(connection, tmp_path / "checkpoints.jsonl")
    audit.record(db_session, "test.after-the-checkpoint")
    db_session.flush()

    def walk(*_args):
        raise AssertionError("an intact batch was walked event by event")

    monkeypatch.setattr(audit, "_first_break", walk)
    progress: list[int] = []
    verification = audit.verify_chain(connection, checkpoints=[checkpoint], batch_size=3,
                                      progress=progress.append)
    assert verification.intact and verification.events_checked == checkpoint.sequence + 1
    assert sum(progress) == verification.events_checked and max(progress) == 3


@pytest.mark.parametrize("searched", ['said "stop"', "back\\slash", "CR-2291", "Quinn Okafor", "µl", "100%_sure"])
def test_the_text_filter_finds_text_in_the_reason_the_changes_or_the_name(db_session, create_organization, searched):
    organization = create_organization(name="Helix")
    audit.act_as(db_session, audit.Actor(42, "Quinn Okafor"))
    with audit.reason_for_change(db_session, "Client request CR-2291 (5 µL samples, 100%_sure)"):
        organization.name = 'Helix, who said "stop" and back\\slash'
    db_session.flush()
    found = audit.search_events(db_session, audit.EventFilter(text=searched), limit=10).events
    assert [(event.action, event.entity_id) for event in found] == [("update", str(organization.id))]
    for not_there in ("nothing like this", "100%sure", "100__sure"):  # % and _ match only themselves
        assert audit.search_events(db_session, audit.EventFilter(text=not_there), limit=10).events == []


def test_each_event_is_also_logged_as_one_line_of_its_fields(db_session, caplog):
    with caplog.at_level(logging.INFO, logger="lims.audit"):
        stored = audit.record(db_session, "export.csv", details={"rows": 3}, reason="Inspection request")
    (line,) = [entry for entry in caplog.records if entry.name == "lims.audit"]
    logged = json.loads(line.getMessage())
    assert logged == {**{field: audit.stable_value(stored[field]) for field in HASHED_FIELDS}, "hash": stored["hash"]}
    assert line.audit_event["hash"] == stored["hash"] and "payload" not in logged


def test_the_old_value_of_an_expired_attribute_is_recorded_exactly(db_session, create_organization):
    organization = create_organization(name="Helix")
    db_session.commit()
    db_session.expire(organization)
    with audit.reason_for_change(db_session, "Renamed"):
        organization.name = "Helix Bio"
    [renamed] = events(db_session, action="update", entity_id=str(organization.id))
    assert json.loads(renamed.changes) == {"name": ["Helix", "Helix Bio"]}


def test_a_reason_is_not_given_to_changes_made_before_it_was_stated(db_session, create_organization):
    first, second = create_organization(name="First"), create_organization(name="Second")
    db_session.flush()
    first.name = "First, renamed without a reason"
    with pytest.raises(ReasonRequired, match="reason for changing this organization"):
        with audit.reason_for_change(db_session, "Reason meant for the second only"):
            second.name = "Second, renamed"
    assert second.name == "Second", "the block did not run"
    with db_session.no_autoflush:
        assert not events(db_session, action="update")


def test_a_chain_without_a_checkpoint_is_intact_but_says_it_is_not_anchored(db_session, connection,
                                                                           create_organization):
    create_organization()
    db_session.flush()
    verification = audit.verify_chain(connection)
    assert verification.intact
    assert verification.summary().endswith("not anchored: no checkpoint written yet, so a rewrite of the whole "
                                           "chain would not show.")


def test_the_old_value_of_an_expired_quantity_is_recorded_exactly(db_session, create_user):
    material = materials.create_material(db_session, part_number="MED-001", name="Culture medium",
                                         specification="Sterile, endotoxin < 0.5 EU/mL", storage_condition="2–8 °C")
    lot = materials.receive_lot(db_session, material, supplier="Acme", supplier_lot="A1",
                                received_on=clock.now().date(), expires_on=clock.now().date().replace(year=2099),
                                quantity=parse_measurement("1 L"), user=create_user(RoleName.TECHNICIAN))
    db_session.commit()
    db_session.expire(lot)
    with audit.reason_for_change(db_session, "Spill"):
        lot.quantity_remaining = parse_measurement("0.5 L")
    [changed] = events(db_session, action="update", entity_type="material_lot")
    assert json.loads(changed.changes) == {"quantity_remaining": ["1 L", "0.5 L"]}


COMMITTED_EVENTS = 60
PARTS = 3  # events 1-20 and 21-40 go to worker processes, 41-60 stay with the calling connection


@pytest.fixture
def committed_chain(fresh_database_url):
    """An engine on a database whose chain is committed, so that worker processes can read it too."""
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        for number in range(COMMITTED_EVENTS):
            audit.record(session, "test.committed", details={"number": number}, reason=f"reason {number}.")
        session.commit()
    yield engine
    engine.dispose()


def test_a_chain_checked_in_parts_by_worker_processes_is_verified_whole(committed_chain, monkeypatch):
    checked_here: list[tuple[int, int]] = []
    verify_part = audit._verify_part

    def verify_part_here(connection, part, *args):
        checked_here.append((part.after, part.last))
        return verify_part(connection, part, *args)

    monkeypatch.setattr(audit, "_verify_part", verify_part_here)
    progress: list[int] = []
    with committed_chain.connect() as connection:
        verification = audit.verify_chain(connection, processes=PARTS, batch_size=4, progress=progress.append)
        head_hash = connection.execute(select(AuditEvent.hash).where(AuditEvent.sequence == COMMITTED_EVENTS)).scalar()
    assert verification.intact and (verification.events_checked, verification.head_hash) == (COMMITTED_EVENTS,
                                                                                             head_hash)
    assert checked_here == [(40, 60)], "the workers vouched for the first two parts"
    assert sum(progress) == COMMITTED_EVENTS, "the workers' progress is passed on, each event once"


@pytest.mark.parametrize("altered", [7, 21, 50])
def test_an_altered_event_is_found_at_its_place_whichever_part_holds_it(committed_chain, altered):
    with committed_chain.begin() as connection:
        drop_append_only_triggers(connection)
        alter_payload(connection, altered, f"reason {altered - 1}.", f"reason {altered - 1} (edited).")
        if altered < 50:
            alter_payload(connection, 50, "reason 49.", "reason 49 (edited).")  # a later break is not the first
    with committed_chain.connect() as connection:
        verification = audit.verify_chain(connection, processes=PARTS, batch_size=4)
    assert (verification.first_break.sequence, verification.first_break.kind) == (altered, BreakKind.HASH_MISMATCH)
    assert verification.events_checked == altered - 1


def test_events_missing_where_a_worker_s_part_ends_are_a_gap(committed_chain):
    with committed_chain.begin() as connection:
        drop_append_only_triggers(connection)
        connection.execute(text("DELETE FROM audit_event WHERE sequence IN (20, 21)"))
    with committed_chain.connect() as connection:
        verification = audit.verify_chain(connection, processes=PARTS, batch_size=4)
    assert (verification.first_break.sequence, verification.first_break.kind) == (20, BreakKind.GAP)
    assert verification.first_break.detail == "events 20 to 21 are missing" and verification.events_checked == 19


def test_a_checkpoint_disagreeing_with_a_worker_s_part_is_reported(committed_chain):
    rewritten = audit.Checkpoint(10, "f" * 64, datetime(2030, 1, 1, tzinfo=timezone.utc))
    with committed_chain.connect() as connection:
        verification = audit.verify_chain(connection, checkpoints=[rewritten], processes=PARTS, batch_size=4)
    assert (verification.first_break.sequence, verification.first_break.kind) == (10,
                                                                                  BreakKind.CHECKPOINT_MISMATCH)


def test_parts_the_workers_cannot_see_are_checked_by_the_calling_connection(db_session, connection):
    for number in range(12):
        audit.record(db_session, "test.uncommitted", details={"number": number})
    db_session.flush()
    head = audit.count_events(connection)
    progress: list[int] = []
    # Not committed, so the workers find nothing in their parts, and the caller reads them itself.
    verification = audit.verify_chain(connection, processes=PARTS, batch_size=2, progress=progress.append)
    assert verification.intact and verification.events_checked == head
    assert sum(progress) == head
