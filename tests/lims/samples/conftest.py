"""Two client start-ups, Helix with an effective protocol (a subject and a screening visit that calls for blood)
and Nordic with none, the lab's test definitions, and manifest rows to send."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lims import clock
from lims.identity.models import Organization, RoleName, User
from lims.identity.service import api_tokens
from lims.samples.models import Submission
from lims.samples.service import accessioning
from lims.samples.service import submissions as service
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.units.parsing import parse_measurement, parse_range
from lims.versioning import service as versioning
from protocols.models import ReferenceEvent, Subject
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD


@dataclass
class Clients:
    helix: Organization
    nordic: Organization
    helix_user: User
    nordic_user: User
    technician: User
    subject: Subject
    #: "Authorization" headers of each one's API token
    helix_token: dict[str, str]
    nordic_token: dict[str, str]


def row(client_sample_id: str = "HLX-0001-PB", **overrides: Any) -> dict[str, Any]:
    """A manifest row Helix may send: blood for subject HLX301-014-0007's screening visit."""
    collected = (clock.now() - timedelta(days=1)).astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")
    return {
        "client_sample_id": client_sample_id,
        "sample_type": "peripheral blood",
        "protocol": "HLX-301",
        "subject": "HLX301-014-0007",
        "visit": "SCR",
        "collected_at": collected,
        "quantity": "10 mL",
        "container": "K2EDTA tube",
        "storage_requirement": "15–25 °C",
        "requested_tests": "VIAB, STER",
    } | overrides


@pytest.fixture
def clients(db_session: Session, create_user, create_organization) -> Clients:
    helix = create_organization(code="HELIX", name="Helix Cell Therapeutics")
    nordic = create_organization(code="NORD", name="Nordic CAR Bio")
    manager = create_user(RoleName.MANAGER)
    qa = create_user(RoleName.QA)
    protocol = protocol_service.create_protocol(
        db_session,
        number="HLX-301",
        title="HLX-19 in r/r DLBCL",
        sponsor=helix,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    design = protocol.versions[0]
    arm = design_service.add_arm(db_session, design, code="A", name="HLX-19")
    screening = design_service.add_visit(
        db_session, design, code="SCR", name="Screening", reference_event=ReferenceEvent.ENROLMENT, day_offset=0
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
    signatures.sign(db_session, design, meaning=SignatureMeaning.AUTHORED, user=manager, password=PASSWORD)
    signatures.sign(db_session, design, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    versioning.make_effective(db_session, design)
    subject = subjects_service.enrol_subject(
        db_session,
        protocol,
        code="HLX301-014-0007",
        site="DE-01",
        arm=arm,
        enrolled_on=clock.today() - timedelta(days=10),
        consent_version="2.0",
    )
    for code, name in (("VIAB", "Viability"), ("STER", "Sterility")):
        testing.create_definition(
            db_session,
            code=code,
            name=name,
            method=f"{name} method",
            result_kind=ResultKind.QUALITATIVE,
            unit="",
            specification="conforms",
        )
    admin = create_user(RoleName.ADMIN)
    _, helix_token = api_tokens.issue_api_token(db_session, organization=helix, name="helix", actor=admin)
    _, nordic_token = api_tokens.issue_api_token(db_session, organization=nordic, name="nordic", actor=admin)
    clients = Clients(
        helix=helix,
        nordic=nordic,
        helix_user=create_user(RoleName.CLIENT, organization=helix),
        nordic_user=create_user(RoleName.CLIENT, organization=nordic),
        technician=create_user(RoleName.TECHNICIAN, full_name="Thi Nguyen"),
        subject=subject,
        helix_token={"Authorization": f"Bearer {helix_token}"},
        nordic_token={"Authorization": f"Bearer {nordic_token}"},
    )
    db_session.commit()
    return clients


def submitted(db_session: Session, clients: Clients, *rows: dict[str, Any], reference: str = "Week 49") -> Submission:
    """A Helix manifest with ``rows`` (one blood sample by default), submitted."""
    submission = service.create_draft(db_session, clients.helix, reference=reference, user=clients.helix_user)
    service.add_rows(db_session, submission, list(rows) or [row()])
    service.submit(db_session, submission)
    db_session.commit()
    return submission


def accept(**overrides: Any) -> accessioning.Receipt:
    values: dict[str, Any] = {
        "arrival_temperature": parse_measurement("20 °C"),
        "container_intact": True,
        "accepted": True,
    }
    return accessioning.Receipt(**(values | overrides))


# The storage tests' fixture, which builds on the ones above.
from tests.lims.samples.storage_support import cold_room  # noqa: E402,F401
