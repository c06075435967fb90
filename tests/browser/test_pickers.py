"""On a tablet-sized browser, a picker finds as the technician types, without submitting its search."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batch_records.service import batches
from lims import clock
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization
from tests.batch_records.conftest import build_line
from tests.batch_records.test_execution import do_receipt
from tests.batch_records.views.test_pickers import add_centrifuges
from tests.browser.conftest import seed, sign_in
from tests.browser.test_batch_records import _person, _staff

pytestmark = pytest.mark.browser


def test_typing_in_a_pickers_search_narrows_its_list_in_place(live_app, page):
    from playwright.sync_api import expect

    app, _base_url = live_app

    def arrange(session):
        users = _staff(session)
        line = build_line(
            session,
            author=_person(session, "m.larsen", "Maja Larsen", RoleName.MANAGER),
            qa=users["q.okafor"],
            operator=users["t.nguyen"],
            second_operator=_person(session, "s.lind", "Sara Lind", RoleName.TECHNICIAN),
            untrained=_person(session, "n.berg", "Noah Berg", RoleName.TECHNICIAN),
            sponsor=create_organization(
                session, code="HELIX", name="Helix Cell Therapeutics", kind=OrganizationKind.CLIENT
            ),
        )
        batch = batches.start_batch(
            session,
            line.version,
            subject=line.subject,
            starting_material_identity="W1234 26 654321 C",
            user=line.operator,
        )
        do_receipt(session, batch, line)
        add_centrifuges(session, 40, due_on=clock.today() + timedelta(days=200))
        return batch.steps[1].id

    step_id = seed(app, arrange)
    sign_in(page, "t.nguyen")
    page.goto(f"/batch-steps/{step_id}")
    centrifuges = page.locator("#equipment_id-equipment-centrifuge option")
    expect(centrifuges).to_have_count(20)
    page.locator("#find-equipment-centrifuge").press_sequentially("CEN-139", delay=30)
    expect(centrifuges).to_have_count(1)
    expect(centrifuges.first).to_have_text("CEN-139 — Sorvall centrifuge")
    expect(page).to_have_url(f"{_base_url}/batch-steps/{step_id}")  # found in place: the page was not reloaded
