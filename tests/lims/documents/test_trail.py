"""A record's audit trail in a document: its events up to the chain head the document names, by the names people use."""

from __future__ import annotations

from sqlalchemy import select

from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.documents.trail import audit_trail_section, chain_head
from lims.identity.models import RoleName
from tests.lims.documents.conftest import BERLIN, pages_of


def test_the_section_shows_a_records_events_up_to_the_head_named_and_nothing_after(db_session, create_user, render):
    user = create_user(RoleName.TECHNICIAN, full_name="Tran <Nguyen> & Co")
    with audit_context.reason_for_change(db_session, "Married: new name <b>"):
        user.full_name = "Tran Lind"
    db_session.flush()
    head = chain_head(db_session)
    newest = db_session.scalars(select(AuditEvent).order_by(AuditEvent.sequence.desc()).limit(1)).one()
    assert (head.sequence, head.hash) == (newest.sequence, newest.hash)
    audit_chain.record(db_session, "report.generated", entity=user, details={"report": "after the head"})

    trail = " ".join(pages_of(render(audit_trail_section(db_session, user, BERLIN, through=head.sequence))))
    assert "Event When, by whom Record Changes Reason" in trail
    assert f"user {user.username}" in trail, "named as the audit viewer names a user"
    assert "full_name: Tran <Nguyen> & Co → Tran Lind Married: new name <b>" in trail
    assert "after the head" not in trail and "report.generated" not in trail
    created = trail[trail.index("create") : trail.index("full_name: Tran <Nguyen> & Co →")]
    assert f"username: {user.username}" in created and ": —" not in created, "an empty field at creation is left out"


def test_a_record_without_events_up_to_the_head_says_so(db_session, create_user, render):
    user = create_user(RoleName.TECHNICIAN)
    trail = " ".join(pages_of(render(audit_trail_section(db_session, user, BERLIN, through=0))))
    assert "No event recorded." in trail
