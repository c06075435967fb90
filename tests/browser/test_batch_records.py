"""On a tablet-sized browser: a technician executes a step, a second person verifies it, QA releases the batch."""

from __future__ import annotations

import pytest

from batch_records.service import batches, step_signatures
from tests.batch_records.test_execution import (
    do_harvest,
    do_selection,
    pass_release_tests,
)
from tests.browser.conftest import line_of, seed, sign_in
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_a_step_is_executed_verified_and_the_batch_released(live_app, page, started_batch):
    from playwright.sync_api import expect

    app, _base_url = live_app
    batch_id, first_step_id = started_batch.batch_id, started_batch.step_ids[0]

    sign_in(page, "t.nguyen")
    page.goto(f"/batches/{batch_id}")
    expect(page.get_by_label("Chain of identity")).to_contain_text("W1234 26 654321 C")
    page.get_by_role("link", name="Go to the current step: 1. Receive apheresis bag").click()
    page.get_by_label("Volume").fill("180")
    page.get_by_label("Temperature on receipt").fill("4.5")
    page.get_by_role("button", name="Record values").click()
    expect(page.get_by_role("status")).to_contain_text("2 values recorded.")
    page.get_by_role("link", name="Sign step as performed").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign as performed").click()
    expect(page.locator(".signature-valid").filter(has_text="Thi Nguyen")).to_contain_text("Performed")
    page.get_by_role("button", name="Sign out").click()

    sign_in(page, "s.lind")
    page.goto(f"/batch-steps/{first_step_id}")
    page.get_by_role("link", name="Verify (second person)").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign as verified").click()
    expect(page.locator(".signature-valid").filter(has_text="Sara Lind")).to_contain_text("Verified")
    page.get_by_role("button", name="Sign out").click()

    def finish_batch(session):
        batch = batches.get_batch(session, batch_id)
        line = line_of(session, batch)
        do_selection(session, batch, line)
        step_signatures.skip_step(
            session, batch.steps[2], reason="Count on target", user=line.operator, password=PASSWORD
        )
        do_harvest(session, batch, line)
        pass_release_tests(session, batch, line)

    seed(app, finish_batch)

    sign_in(page, "q.okafor")
    page.goto(f"/batches/{batch_id}/review")
    expect(page.get_by_role("heading", name="Needs your judgement (1)")).to_be_visible()
    expect(page.get_by_label("Released")).to_be_disabled()
    page.get_by_label("What you found in the trail").fill("Every change carries its reason.")
    page.locator("#trail-password").fill(PASSWORD)
    page.get_by_role("button", name="Sign the review of the audit trail").click()
    expect(page.get_by_role("status")).to_contain_text("Review of the audit trail of batch")
    page.get_by_label("Released").check()
    page.get_by_label("Your password (electronic signature)").fill(PASSWORD)
    page.get_by_role("button", name="Sign disposition").click()
    expect(page.get_by_role("status")).to_contain_text("is released")
    expect(page.get_by_label("Chain of identity")).to_contain_text("Released")
