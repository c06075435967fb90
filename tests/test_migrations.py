"""Migrations build the schema the models describe, on every engine."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.orm import Session

from lims import schema
from lims.areas import install
from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.audit.models import GENESIS_HASH, AuditEvent
from lims.db import Base, create_engine_for


def test_migrations_apply_to_an_empty_database_and_match_the_models(fresh_database_url):
    install()
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.connect() as connection:
            assert schema.current_revision(connection) == schema.head_revision()
            drift = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert drift == [], f"models and migrations differ: {drift}"
    finally:
        engine.dispose()


def test_migrations_downgrade_to_nothing_and_upgrade_again(fresh_database_url):
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.begin() as connection:
            command.downgrade(schema.alembic_config(connection), "base")
        with engine.connect() as connection:
            assert set(inspect(connection).get_table_names()) <= {"alembic_version"}
        with engine.begin() as connection:
            schema.upgrade(connection)
        with engine.connect() as connection:
            assert schema.current_revision(connection) == schema.head_revision()
            assert {"organization", "user_account", "role", "api_token"} <= set(inspect(connection).get_table_names())
    finally:
        engine.dispose()


def test_the_first_migration_seeds_the_five_roles(fresh_database_url):
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
            roles = connection.execute(text("SELECT name FROM role ORDER BY id")).scalars().all()
        assert roles == ["technician", "qa", "manager", "admin", "client"]
    finally:
        engine.dispose()


def test_audit_events_written_before_revision_0008_keep_their_chain_and_fields(fresh_database_url):
    texts = ['quote " backslash \\', "line\nbreak\ttab", "µL ≥ 37 °C 漢字 🧬", "separator \u2028", None]
    events, previous = [], GENESIS_HASH
    for sequence, reason in enumerate(texts, start=1):
        fields = {
            "sequence": sequence,
            "recorded_at": datetime(2030, 1, 2, 3, 4, sequence, 5006, tzinfo=UTC),
            "user_id": sequence if sequence % 2 else None,
            "user_name": f"User {sequence}",
            "action": "update",
            "entity_type": "organization",
            "entity_id": str(sequence),
            "changes": '{"name":["A","B"]}',
            "reason": reason,
            "request_id": None,
            "client_address": "10.0.0.1",
            "prev_hash": previous,
        }
        fields["hash"] = previous = audit_chain.event_hash(audit_chain.canonical_payload(fields))
        events.append(fields)
    columns = [sa.column(name) for name in events[0] if name != "recorded_at"]
    table_0007 = sa.table("audit_event", sa.column("recorded_at", sa.DateTime(timezone=True)), *columns)

    def stored_events(connection) -> list[dict]:
        rows = connection.execute(sa.select(table_0007).order_by(table_0007.c.sequence)).mappings()
        return [{**row, "recorded_at": row["recorded_at"].replace(tzinfo=None)} for row in rows]

    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection, "0007")
            connection.execute(sa.insert(table_0007), events)
            before = stored_events(connection)
        with engine.begin() as connection:
            schema.upgrade(connection)
            verification = audit_verification.verify_chain(connection)
            assert verification.intact and verification.events_checked == len(texts)
            with Session(bind=connection) as session:
                migrated = session.scalars(sa.select(AuditEvent).order_by(AuditEvent.sequence)).all()
                assert [event.payload for event in migrated] == [
                    audit_chain.canonical_payload(fields) for fields in events
                ]
                assert [
                    (
                        event.recorded_at,
                        event.user_id,
                        event.action,
                        event.entity_type,
                        event.entity_id,
                        event.user_name,
                        event.reason,
                        event.prev_hash,
                        event.hash,
                    )
                    for event in migrated
                ] == [
                    (
                        fields["recorded_at"],
                        fields["user_id"],
                        fields["action"],
                        fields["entity_type"],
                        fields["entity_id"],
                        fields["user_name"],
                        fields["reason"],
                        fields["prev_hash"],
                        fields["hash"],
                    )
                    for fields in events
                ], "every field reads back as it was"
        with engine.begin() as connection:
            command.downgrade(schema.alembic_config(connection), "0007")
            assert stored_events(connection) == before
    finally:
        engine.dispose()
