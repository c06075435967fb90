"""The CAR-T line: the builder of a line to make HLX-19 on, from a design of ``batch_records.cart_designs``.

``draft_master`` turns a design into a draft master record; ``build_line`` makes, through the services, everything a
batch needs around an effective one: calibrated equipment, a released lot of medium, the release tests, and subjects
of an effective protocol.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy.orm import Session

from batch_records.cart_designs import MasterDesign
from batch_records.models import MbrVersion
from batch_records.service import masters
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service.inventory import create_equipment
from lims.identity.models import Organization, User
from lims.materials.models import Material, MaterialLot
from lims.materials.service import create_material, receive_lot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind, TestDefinition
from lims.training import service as training
from lims.units.kinds import ValueKind
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols.models import ReferenceEvent, Subject
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service


def draft_master(
    session: Session,
    design: MasterDesign,
    *,
    materials: Mapping[str, Material],
    definitions: Mapping[str, TestDefinition],
) -> MbrVersion:
    """A draft master record of ``design``, taking ``materials`` by part number and ``definitions`` by code."""
    version = masters.create_master(
        session,
        code=design.code,
        product=design.product,
        change_summary=design.change_summary,
        donor_type=design.donor_type,
    )
    for step_design in design.steps:
        step = masters.add_step(session, version, step_design.step)
        for parameter in step_design.parameters:
            masters.add_parameter(
                session,
                step,
                name=parameter.name,
                unit=parameter.unit,
                limit=parameter.limit,
                target=parse_measurement(parameter.target) if parameter.target else None,
                required=parameter.required,
                value_kind=parameter.kind,
            )
        for part_number, quantity in step_design.materials:
            masters.add_material_requirement(
                session, step, material=materials[part_number], quantity=parse_measurement(quantity)
            )
    for code in design.release_tests:
        masters.add_release_test(session, version, definitions[code])
    return version


# The line the tests and the benchmarks make their batches on


@dataclass(frozen=True)
class Crew:
    """Who builds the line, all signing with one password."""

    #: a manager: writes the master record and the protocol, records the training
    author: User
    #: approves them and releases the lot
    qa: User
    #: trained on the master record; the first receives the lot
    operators: tuple[User, ...]
    password: str


@dataclass(frozen=True)
class Line:
    version: MbrVersion
    equipment: Mapping[EquipmentType, Equipment]
    medium: Material
    medium_lot: MaterialLot
    definitions: Mapping[str, TestDefinition]
    subjects: tuple[Subject, ...]


#: (asset tag, name, type) of the line's equipment, a month after calibration
LINE_EQUIPMENT = (
    ("BSC-01", "Class II biosafety cabinet", EquipmentType.BIOSAFETY_CABINET),
    ("CEN-01", "Sorvall centrifuge", EquipmentType.CENTRIFUGE),
)
#: the release tests the designs may name: (code, name, method, result kind, unit, specification, value kind)
LINE_TESTS = (
    ("VIAB", "Viability", "7-AAD flow cytometry", ResultKind.QUANTITATIVE, "%", "≥ 70 %", ValueKind.FRACTION),
    ("STER", "Sterility", "Ph. Eur. 2.6.27", ResultKind.QUALITATIVE, "", "No growth", None),
)
#: the two patients whose material the line is ready to take
SUBJECT_CODES = ("HLX301-DE01-0001", "HLX301-DE01-0002")


def calibrated(session: Session, equipment: Equipment, *, due_on: date) -> Equipment:
    """Set an item's calibration state directly, calibrated a month ago: calibrating is the equipment area's
    business, not the line's."""
    with audit_context.reason_for_change(session, "Arranged for the line: calibrated a month ago"):
        equipment.last_calibrated_on = clock.today() - timedelta(days=30)
        equipment.calibration_due_on = due_on
    return equipment


def build_line(
    session: Session, crew: Crew, *, sponsor: Organization, design: MasterDesign, medium_quantity: str = "1 L"
) -> Line:
    """A released lot of medium, calibrated equipment, the design's release tests (the operators and QA trained on
    their methods), its master record made effective with the operators trained on it, and two subjects of an
    effective protocol of ``sponsor``; dated from the clock's today. The design takes no material but the medium
    (``COMPACT`` and uniform designs)."""
    today = clock.today()
    operator = crew.operators[0]
    medium = create_material(
        session,
        part_number="MED-001",
        name="TexMACS GMP medium",
        specification="Sterile",
        storage_condition="2–8 °C",
        unit="mL",
    )
    medium_lot = receive_lot(
        session,
        medium,
        supplier="Miltenyi Biotec",
        supplier_lot="7231104",
        received_on=today - timedelta(days=2),
        expires_on=today + timedelta(days=90),
        quantity=parse_measurement(medium_quantity),
        user=operator,
    )
    signatures.sign(session, medium_lot, meaning=SignatureMeaning.RELEASED, user=crew.qa, password=crew.password)

    equipment: dict[EquipmentType, Equipment] = {}
    for tag, name, kind in LINE_EQUIPMENT:
        item = create_equipment(
            session,
            asset_tag=tag,
            name=name,
            equipment_type=kind,
            location="Suite B",
            manufacturer="Acme",
            model="X",
            serial_number=tag,
            calibration_interval_days=365,
            owner=None,
        )
        equipment[kind] = calibrated(session, item, due_on=today + timedelta(days=200))

    definitions = {
        code: testing.create_definition(
            session,
            code=code,
            name=name,
            method=method,
            result_kind=kind,
            unit=unit,
            specification=specification,
            value_kind=value_kind,
        )
        for code, name, method, kind, unit, specification, value_kind in LINE_TESTS
        if code in design.release_tests
    }
    for definition in definitions.values():
        for analyst in (*crew.operators, crew.qa):
            training.record_training(
                session,
                user=analyst,
                subject=definition.training_subject,
                trained_on=today - timedelta(days=10),
                expires_on=None,
                recorded_by=crew.author,
            )
    version = build_master(session, crew, design, materials={medium.part_number: medium}, definitions=definitions)
    return Line(
        version=version,
        equipment=equipment,
        medium=medium,
        medium_lot=medium_lot,
        definitions=definitions,
        subjects=_trial_subjects(session, crew, sponsor),
    )


def build_master(
    session: Session,
    crew: Crew,
    design: MasterDesign,
    *,
    materials: Mapping[str, Material],
    definitions: Mapping[str, TestDefinition],
) -> MbrVersion:
    """The master record of ``design``, authored, approved and effective, with the crew's operators trained on it."""
    today = clock.today()
    version = draft_master(session, design, materials=materials, definitions=definitions)
    signatures.sign(session, version, meaning=SignatureMeaning.AUTHORED, user=crew.author, password=crew.password)
    signatures.sign(session, version, meaning=SignatureMeaning.APPROVED, user=crew.qa, password=crew.password)
    versioning.make_effective(session, version)
    for trained in crew.operators:
        training.record_training(
            session,
            user=trained,
            subject=version.training_subject,
            trained_on=today - timedelta(days=10),
            expires_on=None,
            recorded_by=crew.author,
        )
    return version


def _trial_subjects(session: Session, crew: Crew, sponsor: Organization) -> tuple[Subject, ...]:
    """The subjects of an effective protocol with one arm and an apheresis visit, enrolled 20 days ago."""
    today = clock.today()
    protocol = protocol_service.create_protocol(
        session,
        number="HLX-301",
        title="HLX-19 in r/r DLBCL",
        sponsor=sponsor,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    design = protocol.versions[0]
    arm = design_service.add_arm(session, design, code="A", name="HLX-19")
    design_service.add_visit(
        session, design, code="APH", name="Apheresis", reference_event=ReferenceEvent.APHERESIS, day_offset=0
    )
    signatures.sign(session, design, meaning=SignatureMeaning.AUTHORED, user=crew.author, password=crew.password)
    signatures.sign(session, design, meaning=SignatureMeaning.APPROVED, user=crew.qa, password=crew.password)
    versioning.make_effective(session, design)
    return tuple(
        subjects_service.enrol_subject(
            session,
            protocol,
            code=code,
            site="DE-01",
            arm=arm,
            enrolled_on=today - timedelta(days=20),
            consent_version="2.0",
        )
        for code in SUBJECT_CODES
    )
