"""Verifying the chain: the first altered, unlinked or missing event is reported where it is."""

from __future__ import annotations

from sqlalchemy import select, text, update

from lims.audit import chain as audit_chain
from lims.audit import verification as audit_verification
from lims.audit.models import AuditEvent
from lims.audit.verification import BreakKind
from tests.lims.audit.tampering import alter_action, drop_append_only_triggers


def test_an_altered_event_is_reported_at_its_sequence(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    alter_action(connection, 3, "delete")
    assert db_session.scalar(select(AuditEvent.action).where(AuditEvent.sequence == 3)) == "delete"
    verification = audit_verification.verify_chain(connection)
    assert verification.first_break.sequence == 3
    assert verification.first_break.kind == BreakKind.HASH_MISMATCH
    assert "broken at event 3: hash mismatch" in verification.summary()


def test_an_event_altered_and_rehashed_breaks_the_link_of_the_event_after_it(
    db_session, connection, create_organization
):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    alter_action(connection, 2, "tampered")
    altered = connection.execute(select(AuditEvent.payload).where(AuditEvent.sequence == 2)).scalar_one()
    connection.execute(update(AuditEvent).where(AuditEvent.sequence == 2).values(hash=audit_chain.event_hash(altered)))
    verification = audit_verification.verify_chain(connection)
    assert (verification.first_break.sequence, verification.first_break.kind) == (3, BreakKind.BROKEN_LINK)
    assert verification.events_checked == 2


def test_a_missing_event_is_reported_as_a_gap(db_session, connection, create_organization):
    for number in range(4):
        create_organization(name=f"Client {number}")
    db_session.flush()
    drop_append_only_triggers(connection)
    connection.execute(text("DELETE FROM audit_event WHERE sequence = 2"))
    verification = audit_verification.verify_chain(connection)
    assert (verification.first_break.sequence, verification.first_break.kind) == (2, BreakKind.GAP)


def test_a_chain_without_a_checkpoint_is_intact_but_says_it_is_not_anchored(
    db_session, connection, create_organization
):
    create_organization()
    db_session.flush()
    verification = audit_verification.verify_chain(connection)
    assert verification.intact
    assert verification.summary().endswith(
        "not anchored: no checkpoint written yet, so a rewrite of the whole chain would not show."
    )
