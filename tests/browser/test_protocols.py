"""QA approves a protocol version with an e-signature in a real browser and sees it become effective."""

from __future__ import annotations

import pytest

from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization, facility
from lims.identity.service.users import create_user
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from protocols.models import ProtocolPhase, ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from tests.browser.conftest import seed, sign_in
from tests.helpers import PASSWORD

pytestmark = pytest.mark.browser


def test_qa_approves_a_version_and_makes_it_effective(live_app, page):
    from playwright.sync_api import expect

    app, _base_url = live_app

    def authored_version(session):
        sponsor = create_organization(
            session, code="HELIX", name="Helix Cell Therapeutics", kind=OrganizationKind.CLIENT
        )
        author = create_user(
            session,
            username="m.larsen",
            full_name="Maja Larsen",
            email="m@nbct.example",
            organization=facility(session),
            roles={RoleName.MANAGER},
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="Test user",
        )
        protocol = protocol_service.create_protocol(
            session,
            number="HLX-301",
            title="Phase 3 study of HLX-19",
            sponsor=sponsor,
            phase=ProtocolPhase.PHASE_3,
            therapeutic_area="Haematology",
            investigational_product="HLX-19 CAR-T",
        )
        version = protocol.versions[0]
        design_service.add_arm(session, version, code="A", name="HLX-19")
        design_service.add_visit(
            session,
            version,
            code="D7",
            name="Day 7",
            reference_event=ReferenceEvent.INFUSION,
            day_offset=7,
            window_before_days=1,
            window_after_days=1,
        )
        signatures.sign(session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
        return version.id

    version_id = seed(app, authored_version)
    sign_in(page, "q.okafor")
    page.goto(f"/protocols/versions/{version_id}")
    expect(page.get_by_text("In review", exact=True)).to_be_visible()

    page.get_by_role("link", name="Approve (QA)").click()
    page.get_by_label("Your password").fill(PASSWORD)
    page.get_by_role("button", name="Sign as approved").click()
    expect(page.locator(".signature-valid").filter(has_text="Quinn Okafor")).to_contain_text("Approved")
    expect(page.get_by_text("Approved", exact=True).first).to_be_visible()

    page.get_by_role("button", name="Make effective").click()
    expect(page.get_by_role("status")).to_contain_text("Version 1.0 is effective.")
    expect(page.locator(".title-row .badge")).to_have_text("Effective")
