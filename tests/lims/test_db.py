"""Database helpers: a record is found by an id it can have, a child only through its own parent; writers take
the write lock before any other, so they never deadlock."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from lims import schema
from lims.audit.models import AuditEvent
from lims.db import create_engine_for, get_child, get_record, writes_or_locks
from lims.errors import RecordNotFound
from lims.identity.models import Organization, OrganizationKind
from lims.identity.service import organizations
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent, Visit
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from tests.lims import lock_waits


def _protocol_with_a_visit(session, sponsor, number: str) -> tuple[Protocol, Visit]:
    protocol = protocol_service.create_protocol(
        session,
        number=number,
        title="A study",
        sponsor=sponsor,
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    visit = design_service.add_visit(
        session,
        protocol.versions[0],
        code="SCR",
        name="Screening",
        reference_event=ReferenceEvent.ENROLMENT,
        day_offset=-28,
    )
    return protocol, visit


def test_a_child_is_found_through_its_own_parent(db_session, create_organization):
    protocol, visit = _protocol_with_a_visit(db_session, create_organization(), "HLX-301")
    version = protocol.versions[0]
    assert get_child(db_session, Visit, visit.id, parent=version, label="visit", parent_label="Version 1.0") is visit


def test_a_child_of_another_parent_is_answered_as_an_unknown_id_naming_the_field(db_session, create_organization):
    sponsor = create_organization()
    mine, _own_visit = _protocol_with_a_visit(db_session, sponsor, "HLX-301")
    _theirs, their_visit = _protocol_with_a_visit(db_session, sponsor, "HLX-302")
    for visit_id in (their_visit.id, their_visit.id + 1000):
        with pytest.raises(RecordNotFound) as refused:
            get_child(
                db_session,
                Visit,
                visit_id,
                parent=mine.versions[0],
                label="visit",
                parent_label="Version 1.0 of HLX-301",
                field="visit_id",
            )
        assert refused.value.message == f"Version 1.0 of HLX-301 has no visit with id {visit_id}."
        assert refused.value.field == "visit_id" and refused.value.status_code == 404


def test_a_model_without_a_link_to_the_parent_is_a_programming_error(db_session, create_organization):
    protocol, visit = _protocol_with_a_visit(db_session, create_organization(), "HLX-301")
    with pytest.raises(TypeError, match="Visit has no single link to a Protocol"):
        get_child(db_session, Visit, visit.id, parent=protocol, label="visit", parent_label=protocol.number)


@pytest.mark.parametrize("record_id", [0, -1, 2**63, 99999999999999999999])
def test_an_id_no_record_can_have_is_unknown_too(db_session, create_organization, record_id):
    protocol, _visit = _protocol_with_a_visit(db_session, create_organization(), "HLX-301")
    with pytest.raises(RecordNotFound, match=f"Version 1.0 has no visit with id {record_id}."):
        get_child(db_session, Visit, record_id, parent=protocol.versions[0], label="visit", parent_label="Version 1.0")
    with pytest.raises(RecordNotFound, match=f"There is no visit with id {record_id}."):
        get_record(db_session, Visit, record_id, "visit")


@pytest.fixture
def committed_engine(fresh_database_url):
    """An engine on a migrated database of its own, where transactions really commit and really wait."""
    lock_waits.postgresql_only(fresh_database_url)
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    yield engine
    engine.dispose()


def test_a_writer_of_two_records_and_a_writer_of_the_second_do_not_deadlock(committed_engine):
    """The first renames A, then B; the second renames only B in between. Were row locks taken before the
    audit chain's lock, the second would hold B while waiting for the chain, which the first holds while
    waiting for B."""
    with Session(committed_engine) as session:
        first_id, second_id = (
            organizations.create_organization(session, code=code, name=code, kind=OrganizationKind.CLIENT).id
            for code in ("A", "B")
        )
        session.commit()
    first_wrote = threading.Event()

    def rename_the_second_only() -> str:
        with Session(committed_engine) as session:
            racer.note_server_process(session)
            first_wrote.wait()
            organization = session.get(Organization, second_id)
            organizations.update_organization(session, organization, name="B by the second", active=True, reason="R")
            session.commit()
            return organization.name

    racer = lock_waits.Racer(rename_the_second_only)
    with Session(committed_engine) as session:
        first, second = session.get(Organization, first_id), session.get(Organization, second_id)
        organizations.update_organization(session, first, name="A by the first", active=True, reason="R")
        session.flush()
        racer.start()
        first_wrote.set()
        racer.wait_until_waiting_on_a_lock(committed_engine)
        organizations.update_organization(session, second, name="B by the first", active=True, reason="R")
        session.commit()
    assert racer.result() == "B by the second"
    with Session(committed_engine) as session:
        assert session.get(Organization, first_id).name == "A by the first"
        assert session.get(Organization, second_id).name == "B by the second"
        renames = session.scalars(
            select(AuditEvent.entity_id).where(AuditEvent.action == "update").order_by(AuditEvent.sequence)
        ).all()
        assert renames == [str(first_id), str(second_id), str(second_id)]


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO organization (code) VALUES (%(code)s)",
        "\n  update organization SET name = 'x'",
        "DELETE FROM user_session WHERE id = 1",
        "MERGE INTO sample USING src ON true WHEN MATCHED THEN DO NOTHING",
        "SELECT batch.id FROM batch WHERE batch.id = %(id)s FOR UPDATE",
        "SELECT batch.id FROM batch WHERE batch.id = %(id)s\nFOR NO KEY UPDATE OF batch NOWAIT",
        "SELECT id FROM storage_box FOR SHARE",
        "select id from storage_box for key share",
        "SELECT pg_advisory_xact_lock(%(key)s)",
    ],
)
def test_a_statement_that_writes_or_locks_rows_takes_the_write_lock(statement):
    assert writes_or_locks(statement)


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT batch_step.performed_signed, batch_step.id FROM batch_step WHERE batch_step.status = %(status)s",
        "WITH waiting_for_reviewed AS MATERIALIZED (SELECT id FROM batch_step) SELECT count(*) FROM batch_step",
        "SELECT deleted_at, updated_by_id FROM sample_test",
    ],
)
def test_a_statement_that_only_reads_does_not(statement):
    assert not writes_or_locks(statement)


def test_postgresql_plans_each_statement_for_its_own_values(fresh_database_url):
    """A generic plan of a prepared statement, which PostgreSQL uses after a statement's fifth run on a
    connection, cannot weigh how common a status is nor use a partial index; each statement is planned afresh."""
    if not fresh_database_url.startswith("postgresql"):
        pytest.skip("SQLite plans every statement as it runs: it keeps no plans to reuse")
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.connect() as connection:
            assert connection.scalar(text("SHOW plan_cache_mode")) == "force_custom_plan"
    finally:
        engine.dispose()
