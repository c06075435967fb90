"""A client uploads a manifest with a bad row, sees the row's error, fixes it and submits; a technician receives a
sample and stores it in a freezer box; the client's page shows it received without a reload."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service.organizations import create_organization
from lims.identity.service.users import create_user
from lims.samples.service import storage
from lims.samples.storage_models import StorageKind
from lims.units.parsing import parse_measurement
from tests.browser.conftest import seed, sign_in
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser

HEADER = "client_sample_id,sample_type,collected_at,quantity,container,storage_requirement\n"
GOOD = "HLX-1,serum,2026-01-05 08:00,2 mL,SST tube,-20 °C\n"


def _csv(second_row_quantity: str) -> bytes:
    return (HEADER + GOOD + f"HLX-2,serum,2026-01-05 08:00,{second_row_quantity},SST tube,-20 °C\n").encode()


def test_a_client_fixes_a_refused_row_submits_and_sees_the_receipt_live(live_app, page):
    from playwright.sync_api import expect

    app, base_url = live_app

    def client_user(session):
        helix = create_organization(session, code="HELIX", name="Helix Cell Therapeutics", kind=OrganizationKind.CLIENT)
        create_user(
            session,
            username="c.patel",
            full_name="Chandra Patel",
            email="c.patel@helix.example",
            organization=helix,
            roles={RoleName.CLIENT},
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="Test user",
        )

    def freezer_box(session) -> int:
        technician = session.scalar(select(User).where(User.username == "t.nguyen"))
        freezer = storage.create_unit(
            session,
            name="Freezer F-20",
            kind=StorageKind.FREEZER,
            location="Room 2.14",
            minimum_temperature=parse_measurement("-25 °C"),
            maximum_temperature=parse_measurement("-15 °C"),
            user=technician,
        )
        rack = storage.add_rack(session, freezer, name="Rack A")
        return storage.add_box(session, rack, name="Box 1", rows=2, columns=3).id

    seed(app, client_user)
    box_id = seed(app, freezer_box)
    sign_in(page, "c.patel")
    page.goto("/submissions/new")
    page.get_by_label("Name of the shipment").fill("Week 49 serum")
    page.get_by_role("button", name="Start the manifest").click()

    page.get_by_label("Manifest file").set_input_files(
        files=[{"name": "manifest.csv", "mimeType": "text/csv", "buffer": _csv("ten")}]
    )
    page.get_by_role("button", name="Upload").click()
    errors = page.locator("#row-errors")
    expect(errors).to_contain_text("correct these 1 cells")
    expect(errors.locator("tbody tr")).to_have_text(
        "2quantity" + "Start with a number, then the unit: 'ten' has no number first."
    )
    expect(page.get_by_text("No samples on this manifest yet.")).to_be_visible()

    page.get_by_label("Manifest file").set_input_files(
        files=[{"name": "manifest.csv", "mimeType": "text/csv", "buffer": _csv("2 mL")}]
    )
    page.get_by_role("button", name="Upload").click()
    expect(page.get_by_role("status")).to_contain_text("2 samples added from manifest.csv.")
    page.get_by_role("button", name="Submit the manifest").click()
    expect(page.locator(".facts [data-status-of]")).to_have_text("submitted")

    submission_page = page.url.split("#")[0]
    public_id = submission_page.rstrip("/").rsplit("/", 1)[-1]
    # The client also keeps the portal open, where each sample's latest custody event shows.
    portal = page.context.new_page()
    portal.goto("/portal")
    technician_context = page.context.browser.new_context(viewport={"width": 1024, "height": 768}, base_url=base_url)
    try:
        technician = technician_context.new_page()
        sign_in(technician, "t.nguyen")
        technician.goto(f"/receiving/{public_id}")
        first = technician.locator("form.receipt-form").first
        first.get_by_label("Temperature on arrival").fill("-19 °C")
        first.get_by_role("button", name="Receive HLX-1").click()
        expect(technician.get_by_role("status")).to_contain_text("accepted")
        accession = re.search(r"S\d{4}-\d{6}", technician.get_by_role("status").inner_text()).group(0)

        # The technician stores it: a free position of the box's grid, the accession number as scanned.
        technician.goto(f"/storage/boxes/{box_id}")
        technician.get_by_label("B2").check()
        technician.get_by_label("Accession number").fill(accession)
        technician.get_by_role("button", name="Store here").click()
        expect(technician.get_by_role("status")).to_contain_text(
            f"{accession} is stored in Freezer F-20 / Rack A / Box 1 / B2."
        )
        expect(technician.locator('td[data-position="B2"]')).to_have_text(accession)
        expect(technician.locator("td.free")).to_have_count(5)
    finally:
        technician_context.close()

    # The client's page, never reloaded, follows the change feed.
    expect(page.locator("tbody [data-status-of]").first).to_have_text("received", timeout=15_000)
    expect(page.locator(".facts [data-status-of]")).to_have_text("partly received")
    expect(page.locator("[data-accession-of]").first).to_contain_text("S20")
    expect(portal.locator("tr", has_text="HLX-1").locator("[data-custody-of]")).to_have_text(
        "stored: Freezer F-20 / Rack A / Box 1 / B2", timeout=15_000
    )
