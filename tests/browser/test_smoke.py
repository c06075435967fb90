"""A real browser signs in, sees the dashboard and signs out."""

from __future__ import annotations

import pytest

from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_sign_in_see_dashboard_sign_out(page):
    from playwright.sync_api import expect

    page.goto("/")
    expect(page).to_have_url("/login?next=/")
    page.get_by_label("Username").fill("t.nguyen")
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("Unknown username or wrong password.")

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Good to see you, Thi Nguyen")
    expect(page.get_by_text("Nothing is waiting for you.")).to_be_visible()

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_have_text("You are signed out.")
    page.goto("/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
