"""A small CAR-T line: an effective master record, trained operators, calibrated equipment, released lots."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from batch_records.models import Batch, MbrVersion
from batch_records.service import batches, masters
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service.inventory import create_equipment
from lims.identity.models import Organization, RoleName, User
from lims.materials import service as materials
from lims.materials.models import Material, MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.training import service as training
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols import service as protocols
from protocols.models import Subject
from tests.helpers import PASSWORD

TODAY = date(2030, 4, 10)
DUE_SOON_DAYS = 14


@dataclass
class Line:
    version: MbrVersion
    operator: User
    second_operator: User
    untrained: User
    qa: User
    author: User
    cabinet: Equipment
    centrifuge: Equipment
    medium: Material
    medium_lot: MaterialLot
    subject: Subject
    subjects: list[Subject]


def calibrated(session, equipment: Equipment, *, due_on: date) -> Equipment:
    """Arrange an item's calibration state directly (the calibration service is tested in its own area)."""
    with audit_context.reason_for_change(session, "Test arrangement"):
        equipment.last_calibrated_on = clock.now().date() - timedelta(days=30)
        equipment.calibration_due_on = due_on
    return equipment


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=timezone.utc))


def build_line(session, *, author: User, qa: User, operator: User, second_operator: User, untrained: User,
               sponsor: Organization) -> Line:
    """Build the line around the given people, dated from the clock's today (frozen or not)."""
    today = clock.now().date()

    medium = materials.create_material(session, part_number="MED-001", name="TexMACS GMP medium",
                                       specification="Sterile", storage_condition="2–8 °C")
    medium_lot = materials.receive_lot(session, medium, supplier="Miltenyi Biotec", supplier_lot="7231104",
                                       received_on=today - timedelta(days=2), expires_on=today + timedelta(days=90),
                                       quantity=parse_measurement("1 L"), user=operator)
    signatures.sign(session, medium_lot, meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)

    def equipment(tag: str, name: str, kind: EquipmentType) -> Equipment:
        item = create_equipment(
            session, asset_tag=tag, name=name, equipment_type=kind, location="Suite B", manufacturer="Acme",
            model="X", serial_number=tag, calibration_interval_days=365, owner=None)
        return calibrated(session, item, due_on=today + timedelta(days=200))

    cabinet = equipment("BSC-01", "Class II biosafety cabinet", EquipmentType.BIOSAFETY_CABINET)
    centrifuge = equipment("CEN-01", "Sorvall centrifuge", EquipmentType.CENTRIFUGE)

    viability = testing.create_definition(session, code="VIAB", name="Viability", method="7-AAD flow cytometry",
                                          result_kind=ResultKind.QUANTITATIVE, unit="%", specification="≥ 70 %")
    sterility = testing.create_definition(session, code="STER", name="Sterility", method="Ph. Eur. 2.6.27",
                                          result_kind=ResultKind.QUALITATIVE, unit="", specification="No growth")

    version = masters.create_master(session, code="CART-001", product="HLX-19 autologous anti-CD19 CAR-T",
                                    change_summary="First issue")
    receipt = masters.add_step(session, version, masters.StepDesignInput(
        stage="Starting-material receipt", title="Receive apheresis bag",
        instruction="Check the label against the chain-of-identity record; record volume and temperature.",
        second_person_verification=True))
    masters.add_parameter(session, receipt, name="Volume", unit="mL", limit="50–300 mL")
    masters.add_parameter(session, receipt, name="Temperature on receipt", unit="°C", limit="2–8 °C")
    masters.add_parameter(session, receipt, name="Remarks count", unit="", required=False)
    selection = masters.add_step(session, version, masters.StepDesignInput(
        stage="T-cell selection", title="CD4/CD8 selection", instruction="Wash and select in the cabinet.",
        hold_point=True, equipment_types=(EquipmentType.BIOSAFETY_CABINET, EquipmentType.CENTRIFUGE)))
    masters.add_parameter(session, selection, name="CD3+ purity", unit="%", limit="≥ 80 %")
    masters.add_material_requirement(session, selection, material=medium, quantity=parse_measurement("250 mL"))
    masters.add_step(session, version, masters.StepDesignInput(
        stage="Expansion", title="Optional medium top-up", instruction="Top up only if the count is low.",
        skippable=True))
    harvest = masters.add_step(session, version, masters.StepDesignInput(
        stage="Harvest", title="Harvest and count", instruction="Harvest the cells and count them.",
        second_person_verification=True, theoretical_yield=parse_measurement("2 ×10^9 cells"),
        yield_minimum_percent=Decimal(50), yield_maximum_percent=Decimal(150)))
    masters.add_parameter(session, harvest, name="Viable cell concentration", unit="cells/mL",
                          limit="≥ 1 ×10^6 cells/mL")
    masters.add_release_test(session, version, viability)
    masters.add_release_test(session, version, sterility)
    signatures.sign(session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    signatures.sign(session, version, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    versioning.make_effective(session, version)

    for trained in (operator, second_operator):
        training.record_training(session, user=trained, subject=version.training_subject,
                                 trained_on=today - timedelta(days=10), expires_on=None, recorded_by=author)

    protocol = protocols.create_protocol(
        session, number="HLX-301", title="HLX-19 in r/r DLBCL", sponsor=sponsor,
        phase=protocols.parse_phase("Phase 3"), therapeutic_area="Haematology",
        investigational_product="HLX-19")
    design = protocol.versions[0]
    arm = protocols.add_arm(session, design, code="A", name="HLX-19")
    protocols.add_visit(session, design, code="APH", name="Apheresis",
                        reference_event=protocols.ReferenceEvent.APHERESIS, day_offset=0)
    signatures.sign(session, design, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    signatures.sign(session, design, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    versioning.make_effective(session, design)
    subjects = [protocols.enrol_subject(session, protocol, code=code, site="DE-01", arm=arm,
                                        enrolled_on=today - timedelta(days=20), consent_version="2.0")
                for code in ("HLX301-DE01-0001", "HLX301-DE01-0002")]
    return Line(version=version, operator=operator, second_operator=second_operator, untrained=untrained, qa=qa,
                author=author, cabinet=cabinet, centrifuge=centrifuge, medium=medium, medium_lot=medium_lot,
                subject=subjects[0], subjects=subjects)


@pytest.fixture
def line(db_session, create_user, create_organization) -> Line:
    return build_line(
        db_session, author=create_user(RoleName.MANAGER, full_name="Maja Larsen"),
        qa=create_user(RoleName.QA, full_name="Quinn Okafor"),
        operator=create_user(RoleName.TECHNICIAN, full_name="Tran Nguyen"),
        second_operator=create_user(RoleName.TECHNICIAN, full_name="Sara Lind"),
        untrained=create_user(RoleName.TECHNICIAN, full_name="Noah Berg"),
        sponsor=create_organization(code="HELIX", name="Helix Cell Therapeutics"))


@pytest.fixture
def batch(db_session, line) -> Batch:
    return batches.start_batch(db_session, line.version, subject=line.subject,
                               starting_material_identity="W1234 26 123456 A", user=line.operator)
