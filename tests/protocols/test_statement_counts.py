"""A protocol version's page sends as many statements for a design of ten arms and ten visits, each visit with its
samples, as for one of two, signed by its author either way."""

from __future__ import annotations

from lims.identity.models import OrganizationKind, RoleName
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement, parse_range
from protocols.models import ProtocolPhase, ProtocolVersion, ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from tests.helpers import PASSWORD, counted_statements, login


def _designed(db_session, sponsor, author, number: str, size: int) -> ProtocolVersion:
    protocol = protocol_service.create_protocol(
        db_session,
        number=number,
        title=f"Study {number}",
        sponsor=sponsor,
        phase=ProtocolPhase.PHASE_3,
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    version = protocol.versions[0]
    for index in range(size):
        design_service.add_arm(db_session, version, code=f"A{index}", name=f"Arm {index}")
        visit = design_service.add_visit(
            db_session,
            version,
            code=f"V{index}",
            name=f"Visit {index}",
            reference_event=ReferenceEvent.INFUSION,
            day_offset=index * 7,
        )
        design_service.add_sample_requirement(
            db_session,
            visit,
            sample_type="peripheral blood",
            volume=parse_measurement("10 mL"),
            container="K2EDTA tube",
            handling=parse_range("15–25 °C"),
            max_hours_to_processing=24,
        )
    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    return version


def test_a_protocol_versions_page_sends_as_many_statements_for_a_large_design_as_for_a_small_one(
    app, db_session, create_user, create_organization
):
    sponsor = create_organization(kind=OrganizationKind.CLIENT)
    author, qa = create_user(RoleName.MANAGER), create_user(RoleName.QA)
    small = _designed(db_session, sponsor, author, "SMALL-1", 2)
    large = _designed(db_session, sponsor, author, "LARGE-1", 10)
    db_session.commit()
    client = app.test_client()
    assert login(client, qa).status_code == 302

    def statements(version: ProtocolVersion) -> int:
        url = f"/protocols/versions/{version.id}"
        assert client.get(url).status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get(url)
        assert page.status_code == 200 and "Approve (QA)" in page.text
        return len(traffic.statements)

    assert statements(large) == statements(small)
