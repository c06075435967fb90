"""Two client organizations with a token each, and records of theirs for the API to serve."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from batch_records.models import Batch
from batch_records.service import batches
from lims.certificates.models import IssuedDocument
from lims.certificates.service import batch_certificate
from lims.identity.models import Organization, RoleName
from lims.identity.service import api_tokens
from protocols.models import Protocol
from protocols.service import protocols as protocol_service
from tests.batch_records.conftest import Line, build_line
from tests.batch_records.test_execution import do_receipt, execute_all_steps, pass_release_tests, release_batch


@dataclass
class Clients:
    helix: Organization
    nordic: Organization
    #: the "Authorization" header of each one's API token
    helix_token: dict[str, str]
    nordic_token: dict[str, str]


@dataclass
class Records:
    """Helix's batch line with a batch under way; a protocol of Nordic's."""

    line: Line
    batch: Batch
    other_protocol: Protocol


def add_protocol(db_session, sponsor: Organization, number: str) -> Protocol:
    return protocol_service.create_protocol(
        db_session,
        number=number,
        title=f"Trial {number}",
        sponsor=sponsor,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="X",
    )


@pytest.fixture
def clients(db_session, create_user, create_organization) -> Clients:
    helix = create_organization(code="HELIX", name="Helix Cell Therapeutics")
    nordic = create_organization(code="NORD", name="Nordic CAR Bio")
    admin = create_user(RoleName.ADMIN)
    _, helix_token = api_tokens.issue_api_token(db_session, organization=helix, name="helix", actor=admin)
    _, nordic_token = api_tokens.issue_api_token(db_session, organization=nordic, name="nordic", actor=admin)
    db_session.commit()
    return Clients(
        helix, nordic, {"Authorization": f"Bearer {helix_token}"}, {"Authorization": f"Bearer {nordic_token}"}
    )


@pytest.fixture
def records(db_session, clients, create_user) -> Records:
    line = build_line(
        db_session,
        author=create_user(RoleName.MANAGER),
        qa=create_user(RoleName.QA),
        operator=create_user(RoleName.TECHNICIAN, full_name="Tran Nguyen"),
        second_operator=create_user(RoleName.TECHNICIAN),
        untrained=create_user(RoleName.TECHNICIAN),
        sponsor=clients.helix,
    )
    batch = batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=line.operator,
    )
    do_receipt(db_session, batch, line)
    other_protocol = add_protocol(db_session, clients.nordic, "NCB-201")
    db_session.commit()
    return Records(line=line, batch=batch, other_protocol=other_protocol)


@pytest.fixture
def certified(db_session, records) -> IssuedDocument:
    """The certificate of a second batch of Helix's line, released."""
    line = records.line
    batch = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 123457 5",
        user=line.operator,
    )
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)
    db_session.commit()
    [certificate] = batch_certificate.certificates_of(db_session, batch)
    return certificate
