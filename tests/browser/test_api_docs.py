"""The API's docs page runs under the site's Content-Security-Policy and calls the API with a staff session."""

from __future__ import annotations

import pytest

from tests.browser.conftest import sign_in

pytestmark = pytest.mark.browser


def test_signed_in_staff_browse_the_api_and_try_an_operation(page):
    from playwright.sync_api import expect

    problems: list[str] = []
    page.on(
        "console", lambda message: problems.append(message.text) if "Content Security Policy" in message.text else None
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    sign_in(page, "q.okafor")

    page.goto("/api/v1/docs")
    expect(page.get_by_role("heading", name="GMP LIMS")).to_be_visible()
    operation = page.locator(".opblock", has=page.get_by_text("/api/v1/equipment", exact=True))
    operation.locator(".opblock-summary").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.get_by_role("button", name="Execute").click()
    answer = operation.locator(".live-responses-table tbody .response").first
    expect(answer.locator(".response-col_status")).to_have_text("200")
    expect(answer).to_contain_text('"next_cursor": null')
    assert problems == []
