"""On a tablet-sized browser, a picker finds as the technician types, without submitting its search."""

from __future__ import annotations

from datetime import timedelta

import pytest

from batch_records.service import batches
from lims import clock
from tests.batch_records.test_execution import do_receipt
from tests.batch_records.views.test_pickers import add_centrifuges
from tests.browser.conftest import line_of, seed, sign_in

pytestmark = pytest.mark.browser


def test_typing_in_a_pickers_search_narrows_its_list_in_place(live_app, page, started_batch):
    from playwright.sync_api import expect

    app, _base_url = live_app

    def arrange(session):
        batch = batches.get_batch(session, started_batch.batch_id)
        do_receipt(session, batch, line_of(session, batch))
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
