"""A phase 3 autologous CAR-T protocol with a designed draft version."""

from __future__ import annotations

import pytest

from lims.identity.models import RoleName
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement, parse_range
from lims.versioning import service as versioning
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from tests.helpers import PASSWORD


@pytest.fixture
def car_t_protocol(db_session, create_organization) -> Protocol:
    sponsor = create_organization(code="HELIX", name="Helix Cell Therapeutics")
    protocol = protocol_service.create_protocol(
        db_session,
        number="HLX-301",
        title="A Phase 3 study of HLX-19 autologous anti-CD19 CAR-T cells in r/r DLBCL",
        sponsor=sponsor,
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology",
        investigational_product="HLX-19 (autologous anti-CD19 CAR-T)",
        nct_id="NCT09999999",
    )
    version = protocol.versions[0]
    design_service.add_arm(db_session, version, code="A", name="HLX-19", arm_type="experimental")
    design_service.add_arm(db_session, version, code="B", name="Standard of care", arm_type="active comparator")
    screening = design_service.add_visit(
        db_session,
        version,
        code="SCR",
        name="Screening",
        reference_event=ReferenceEvent.ENROLMENT,
        day_offset=-28,
        window_after_days=7,
    )
    design_service.add_sample_requirement(
        db_session,
        screening,
        sample_type="peripheral blood",
        volume=parse_measurement("10 mL"),
        container="K2EDTA tube",
        handling=parse_range("15–25 °C"),
        max_hours_to_processing=24,
    )
    apheresis = design_service.add_visit(
        db_session, version, code="APH", name="Apheresis", reference_event=ReferenceEvent.APHERESIS, day_offset=0
    )
    design_service.add_sample_requirement(
        db_session,
        apheresis,
        sample_type="leukapheresis product",
        volume=parse_measurement("200 mL"),
        container="apheresis bag",
        handling=parse_range("2–8 °C"),
        max_hours_to_processing=48,
    )
    design_service.add_visit(
        db_session,
        version,
        code="D7",
        name="Day 7",
        reference_event=ReferenceEvent.INFUSION,
        day_offset=7,
        window_before_days=1,
        window_after_days=1,
    )
    design_service.add_visit(
        db_session,
        version,
        code="D28",
        name="Day 28",
        reference_event=ReferenceEvent.INFUSION,
        day_offset=28,
        window_before_days=3,
        window_after_days=3,
    )
    return protocol


@pytest.fixture
def author_and_approver(create_user):
    return create_user(RoleName.MANAGER, full_name="Maja Larsen"), create_user(RoleName.QA, full_name="Quinn Okafor")


@pytest.fixture
def approve_version(db_session, author_and_approver):
    """Take a draft version through its two signatures, and into effect if asked."""
    author, approver = author_and_approver

    def approve(version, *, effective: bool = False) -> None:
        signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
        signatures.sign(db_session, version, meaning=SignatureMeaning.APPROVED, user=approver, password=PASSWORD)
        if effective:
            versioning.make_effective(db_session, version)

    return approve
