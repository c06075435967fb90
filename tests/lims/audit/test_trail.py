"""Searching the trail for the viewer."""

from __future__ import annotations

import pytest

from lims.audit import context as audit_context
from lims.audit import trail as audit_trail


@pytest.mark.parametrize("searched", ['said "stop"', "back\\slash", "CR-2291", "Quinn Okafor", "µl", "100%_sure"])
def test_the_text_filter_finds_text_in_the_reason_the_changes_or_the_name(db_session, create_organization, searched):
    organization = create_organization(name="Helix")
    audit_context.act_as(db_session, audit_context.Actor(42, "Quinn Okafor"))
    with audit_context.reason_for_change(db_session, "Client request CR-2291 (5 µL samples, 100%_sure)"):
        organization.name = 'Helix, who said "stop" and back\\slash'
    db_session.flush()
    found = audit_trail.search_events(db_session, audit_trail.EventFilter(text=searched), limit=10).events
    assert [(event.action, event.entity_id) for event in found] == [("update", str(organization.id))]
    for not_there in ("nothing like this", "100%sure", "100__sure"):  # % and _ match only themselves
        assert audit_trail.search_events(db_session, audit_trail.EventFilter(text=not_there), limit=10).events == []
