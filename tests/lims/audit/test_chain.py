"""Appending to the chain: linked from genesis, atomic with the change, stable values, concurrent writers."""

from __future__ import annotations

import itertools
import json
import logging
import threading
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session

from lims import schema
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit import verification as audit_verification
from lims.audit.models import GENESIS_HASH, HASHED_FIELDS, AuditEvent
from lims.db import create_engine_for
from lims.identity.models import Organization, OrganizationKind
from lims.identity.service import organizations as identity_organizations
from tests.lims.audit.helpers import events


def test_a_rolled_back_change_leaves_no_event(db_session, create_organization):
    organization = create_organization()
    before = len(events(db_session))
    savepoint = db_session.begin_nested()
    with audit_context.reason_for_change(db_session, "Typo"):
        organization.name = "Renamed"
    assert len(events(db_session)) == before + 1
    savepoint.rollback()
    assert len(events(db_session)) == before
    with audit_context.reason_for_change(db_session, "Typo, again"):
        organization.name = "Renamed"
    assert [e.sequence for e in events(db_session)] == list(range(1, before + 2)), "no gap after the rollback"


def test_a_failing_event_fails_the_change_with_it(db_session, connection, create_organization):
    organization = create_organization(name="Before")
    db_session.commit()
    savepoint = connection.begin_nested()
    connection.execute(text("DROP TABLE audit_event"))
    with audit_context.reason_for_change(db_session, "Rename"):
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
    created = [
        json.loads(event.changes)["name"][1]
        for event in events(db_session, action="create", entity_type="organization")
    ]
    assert created[-2:] == ["Kept", "After the rollback"] and kept.name == "Kept"
    assert audit_verification.verify_chain(db_session.connection()).intact


def test_chain_starts_at_genesis_and_links_every_event(db_session, create_user):
    create_user()
    chain = events(db_session)
    assert chain[0].sequence == 1 and chain[0].prev_hash == GENESIS_HASH
    for earlier, later in itertools.pairwise(chain):
        assert later.sequence == earlier.sequence + 1 and later.prev_hash == earlier.hash
    assert audit_verification.verify_chain(db_session.connection()).intact


def test_creations_appended_together_are_the_events_appended_one_by_one_in_one_chain(db_session):
    created = [(17, {"name": [None, "Helix"]}), (18, {"name": [None, "Nordic"]})]
    with audit_context.reason_for_change(db_session, "Manifest imported"):
        audit_chain.record(db_session, "export.csv", details={"rows": 1})
        assert audit_chain.append_creations(db_session, "organization", iter(created)) == 2
        one_by_one = [
            audit_chain.append(db_session, "create", entity_type="organization", entity_id=entity_id, changes=changes)
            for entity_id, changes in created
        ]
    chain = events(db_session)
    together, alone = chain[-4:-2], chain[-2:]
    for bulk, single in zip(together, alone, strict=True):
        assert (bulk.action, bulk.entity_type, bulk.entity_id, bulk.changes, bulk.reason) == (
            single.action,
            single.entity_type,
            single.entity_id,
            single.changes,
            single.reason,
        )
    assert [event.hash for event in alone] == [row["hash"] for row in one_by_one]
    for earlier, later in itertools.pairwise(chain):
        assert later.sequence == earlier.sequence + 1 and later.prev_hash == earlier.hash
    assert audit_verification.verify_chain(db_session.connection()).intact


def test_many_events_written_at_once_keep_the_chain_intact(db_session):
    # Past a few hundred waiting events PostgreSQL takes them by COPY rather than a statement each.
    before = len(events(db_session))
    with audit_context.reason_for_change(db_session, "Manifest imported"):
        audit_chain.append_creations(db_session, "sample", ((n, {"line": [None, n]}) for n in range(1, 451)))
    db_session.commit()
    chain = events(db_session)
    assert len(chain) == before + 450 and chain[-1].entity_id == "450" and chain[-1].reason == "Manifest imported"
    assert audit_verification.verify_chain(db_session.connection()).intact


@pytest.mark.parametrize(
    ("value", "text_form"),
    [
        (Decimal("2.50"), "2.50"),
        (Decimal("1E+3"), "1000"),
        (date(2030, 1, 2), "2030-01-02"),
        (datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC), "2030-01-02T03:04:05.000000+00:00"),
        (OrganizationKind.CLIENT, "client"),
        (frozenset({"qa", "admin"}), ["admin", "qa"]),
    ],
)
def test_values_are_recorded_as_stable_text(value, text_form):
    assert audit_chain.stable_value(value) == text_form


def test_each_event_is_also_logged_as_one_line_of_its_fields(db_session, caplog):
    with caplog.at_level(logging.INFO, logger="lims.audit"):
        stored = audit_chain.record(db_session, "export.csv", details={"rows": 3}, reason="Inspection request")
    (line,) = [entry for entry in caplog.records if entry.name == "lims.audit"]
    logged = json.loads(line.getMessage())
    assert logged == {
        **{field: audit_chain.stable_value(stored[field]) for field in HASHED_FIELDS},
        "hash": stored["hash"],
    }
    assert line.audit_event["hash"] == stored["hash"] and "payload" not in logged


def test_concurrent_writers_never_fork_the_chain(fresh_database_url):
    writers, updates_each = 8, 200
    engine = create_engine_for(fresh_database_url, pool_size=writers, max_overflow=0)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        ids = [
            identity_organizations.create_organization(
                session, code=f"W{n}", name=f"Writer {n}", kind=OrganizationKind.CLIENT
            ).id
            for n in range(writers)
        ]
        session.commit()
    failures: list[BaseException] = []
    start = threading.Barrier(writers)

    def write(organization_id: int) -> None:
        try:
            start.wait()
            for number in range(updates_each):
                with Session(engine) as session:
                    organization = session.get(Organization, organization_id)
                    with audit_context.reason_for_change(session, f"Update {number}"):
                        organization.name = f"Writer {organization_id} v{number}"
                    session.commit()
        except BaseException as error:  # noqa: BLE001 - reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=write, args=(organization_id,)) for organization_id in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    with engine.connect() as connection:
        sequences = connection.execute(select(AuditEvent.sequence).order_by(AuditEvent.sequence)).scalars().all()
        verification = audit_verification.verify_chain(connection)
    engine.dispose()
    expected = writers + writers * updates_each
    assert sequences == list(range(1, expected + 1)), "no duplicate and no missing sequence number"
    assert verification.intact and verification.events_checked == expected
