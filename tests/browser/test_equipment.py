"""A technician records a passing calibration in a real browser and sees the status change."""

from __future__ import annotations

from datetime import date

import pytest

from lims.equipment.models import EquipmentType
from lims.equipment.service.calibrations import (
    add_calibration_point,
    create_reference_standard,
)
from lims.equipment.service.inventory import create_equipment
from lims.units.parsing import parse_measurement
from tests.browser.conftest import seed, sign_in
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_technician_records_a_passing_calibration_and_sees_the_status_change(live_app, page):
    from playwright.sync_api import expect

    app, _base_url = live_app

    def overdue_incubator(session):
        create_reference_standard(
            session,
            identifier="REF-THERM-01",
            description="Reference thermometer",
            certificate_number="DAkkS-1",
            valid_until=date(2040, 1, 1),
            measures="°C, %",
        )
        incubator = create_equipment(
            session,
            asset_tag="INC-001",
            name="CO2 incubator",
            equipment_type=EquipmentType.INCUBATOR,
            location="Cleanroom B",
            manufacturer="Thermo",
            model="Heracell",
            serial_number="S1",
            calibration_interval_days=180,
            owner=None,
        )
        add_calibration_point(
            session,
            incubator,
            name="Temperature 37 °C",
            nominal=parse_measurement("37 °C"),
            tolerance=parse_measurement("0.5 °C"),
        )
        return incubator.id

    equipment_id = seed(app, overdue_incubator)
    sign_in(page, "t.nguyen")
    page.get_by_role("link", name="Equipment").first.click()
    page.get_by_role("link", name="INC-001").click()
    expect(page.locator("[data-status]").first).to_have_text("Calibration overdue")

    page.get_by_role("link", name="Record calibration").click()
    page.get_by_label("Reference standard used").select_option(
        label="REF-THERM-01: Reference thermometer, measures °C, % (valid until 2040-01-01)"
    )
    page.get_by_label("As found").fill("37.2 °C")
    page.get_by_role("button", name="Record calibration").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Calibration")
    expect(page.get_by_text("Pass", exact=True)).to_be_visible()

    page.get_by_role("link", name="Sign as performed").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign as performed").click()
    expect(page.locator(".signature-valid")).to_contain_text("Thi Nguyen")

    page.goto(f"/equipment/{equipment_id}")
    expect(page.locator("[data-status]").first).to_have_text("In service")
