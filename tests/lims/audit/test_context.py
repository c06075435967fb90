"""Who changes are attributed to, and the reason stated for a block of changes (and for none made before it)."""

from __future__ import annotations

import pytest

from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from tests.lims.audit.helpers import events


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_blank_reason_is_refused_and_nothing_is_changed(db_session, create_organization, reason):
    organization = create_organization(name="Helix")
    db_session.flush()
    with pytest.raises(ReasonRequired, match="Give the reason for this change") as refused:
        with audit_context.reason_for_change(db_session, reason):
            organization.name = "Helix Bio"
    assert refused.value.field == "reason" and organization.name == "Helix"


def test_a_reason_is_not_given_to_changes_made_before_it_was_stated(db_session, create_organization):
    first, second = create_organization(name="First"), create_organization(name="Second")
    db_session.flush()
    first.name = "First, renamed without a reason"
    with pytest.raises(ReasonRequired, match="reason for changing this organization"):
        with audit_context.reason_for_change(db_session, "Reason meant for the second only"):
            second.name = "Second, renamed"
    assert second.name == "Second", "the block did not run"
    with db_session.no_autoflush:
        assert not events(db_session, action="update")


def test_a_reason_stated_within_another_applies_inside_it_only(db_session, create_organization):
    organization = create_organization(name="Helix")
    with audit_context.reason_for_change(db_session, "Merger"):
        organization.name = "Helix Bio"
        with audit_context.reason_for_change(db_session, "Typo in the merged name"):
            organization.name = "Helix Biologics"
        organization.active = False
    updates = events(db_session, action="update", entity_id=str(organization.id))
    assert [event.reason for event in updates] == ["Merger", "Typo in the merged name", "Merger"]


def test_a_user_who_proves_who_they_are_keeps_the_request_s_details(db_session):
    audit_context.act_as(
        db_session, audit_context.Actor(None, "anonymous", request_id="req-7", client_address="10.0.0.9")
    )
    audit_context.attribute_to(db_session, 42, "Quinn Okafor")
    recorded = audit_chain.record(db_session, "login.success")
    assert (recorded["user_id"], recorded["user_name"]) == (42, "Quinn Okafor")
    assert (recorded["request_id"], recorded["client_address"]) == ("req-7", "10.0.0.9")
