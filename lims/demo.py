"""A realistic demo data set: the facility, two client start-ups, one user per role, equipment, a protocol."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.equipment import service as equipment_service
from lims.equipment.models import Equipment, EquipmentType, MaintenanceKind, ReferenceStandard
from lims.identity import service as identity
from lims.identity.models import Organization, OrganizationKind, RoleName, User
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units import parse_measurement, parse_range
from batch_records import service as materials
from batch_records.models import Material
from protocols import service as protocols
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent


@dataclass(frozen=True)
class DemoAccount:
    username: str
    password: str
    full_name: str
    role: RoleName
    organization_code: str


FACILITY = ("NBCT", "Northbridge Cell Therapy Facility")
CLIENTS = (
    ("HELIX", "Helix Cell Therapeutics, Inc."),
    ("NORDCAR", "Nordic CAR Bio AB"),
)
#: The README lists these; change both together.
ACCOUNTS = (
    DemoAccount("a.rossi", "demo-admin-2026", "Alessandro Rossi", RoleName.ADMIN, "NBCT"),
    DemoAccount("m.larsen", "demo-manager-2026", "Maja Larsen", RoleName.MANAGER, "NBCT"),
    DemoAccount("q.okafor", "demo-qa-officer-2026", "Quinn Okafor", RoleName.QA, "NBCT"),
    DemoAccount("t.nguyen", "demo-technician-2026", "Thi Nguyen", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("c.patel", "demo-client-helix-2026", "Chandra Patel", RoleName.CLIENT, "HELIX"),
    DemoAccount("d.weber", "demo-client-nordcar-2026", "Dana Weber", RoleName.CLIENT, "NORDCAR"),
)


def load_demo(session: Session) -> list[DemoAccount]:
    """Add whatever part of the demo data set is missing; return the demo accounts."""
    organizations = {o.code: o for o in session.scalars(select(Organization))}
    existing_facility = identity.facility(session)
    if existing_facility is None:
        code, name = FACILITY
        organizations[code] = identity.create_organization(session, code=code, name=name, kind=OrganizationKind.FACILITY)
    elif existing_facility.code != FACILITY[0]:
        # A real deployment: demo users join its facility.
        organizations[FACILITY[0]] = existing_facility
    for code, name in CLIENTS:
        if code not in organizations:
            organizations[code] = identity.create_organization(session, code=code, name=name, kind=OrganizationKind.CLIENT)
    for account in ACCOUNTS:
        try:
            identity.user_by_username(session, account.username)
        except identity.RecordNotFound:
            identity.create_user(
                session,
                username=account.username,
                full_name=account.full_name,
                email=f"{account.username}@{account.organization_code.lower()}.example",
                organization=organizations[account.organization_code],
                roles={account.role},
                password=account.password,
                must_change_password=False,
                actor=None,
            )
    _load_equipment(session)
    _load_protocol(session, organizations["HELIX"])
    _load_materials(session)
    return list(ACCOUNTS)


#: (identifier, description, certificate number, valid for days from today)
REFERENCE_STANDARDS = (
    ("REF-THERM-01", "Reference thermometer, PT100, -100 to 150 °C", "DAkkS-K-15012-2026", 300),
    ("REF-WEIGHT-01", "E2 reference weight set, 1 mg to 200 g", "DAkkS-D-K-19455-2026", 240),
    ("REF-ANEMO-01", "Thermal anemometer for cabinet airflow", "UKAS-0342-7781", 150),
    ("REF-TACHO-01", "Optical tachometer", "UKAS-0342-7790", 200),
    ("REF-BEADS-01", "Counting beads, 1.0 ×10^6 /mL, lot 4471", "COA-4471", 90),
)

#: (asset tag, name, type, location, make, model, interval days, [(point, nominal, tolerance)],
#:  [(days ago, as found per point, as left per point or None)], open maintenance or None)
EQUIPMENT = (
    ("INC-001", "CO2 incubator", EquipmentType.INCUBATOR, "Cleanroom B, bench 1", "Thermo Fisher", "Heracell VIOS 160i",
     180, [("Temperature 37 °C", "37 °C", "0.5 °C"), ("CO2 5 %", "5 %", "0.3 %")],
     [(240, ["37.2 °C", "5.1 %"], None), (60, ["36.9 °C", "4.9 %"], None)], None),
    ("BSC-002", "Class II biosafety cabinet", EquipmentType.BIOSAFETY_CABINET, "Cleanroom B, bench 2", "Esco",
     "Airstream AC2", 365, [("Downflow velocity", "0.35 m/s", "0.05 m/s"), ("Inflow velocity", "0.45 m/s", "0.05 m/s")],
     [(355, ["0.36 m/s", "0.47 m/s"], None)], None),
    ("CEN-003", "Refrigerated centrifuge", EquipmentType.CENTRIFUGE, "Processing lab", "Eppendorf", "5810 R",
     365, [("Speed 1500 rpm", "1500 rpm", "30 rpm"), ("Temperature 4 °C", "4 °C", "1 °C")],
     [(400, ["1492 rpm", "4.3 °C"], None)], None),
    ("PIP-004", "Single-channel pipette P200", EquipmentType.PIPETTE, "Processing lab", "Gilson", "Pipetman P200",
     90, [("100 µL", "100 µL", "0.8 µL"), ("200 µL", "200 µL", "1.6 µL")],
     [(95, ["100.3 µL", "199.2 µL"], None), (2, ["102.1 µL", "201.9 µL"], None)], None),
    ("FRZ-005", "Ultra-low freezer", EquipmentType.FREEZER, "Storage room", "Thermo Fisher", "TSX60086V",
     365, [("Setpoint -80 °C", "-80 °C", "5 °C")], [(120, ["-79.1 °C"], None)], None),
    ("CNT-006", "Automated cell counter", EquipmentType.CELL_COUNTER, "QC lab", "ChemoMetec", "NucleoCounter NC-202",
     180, [("Bead standard", "1.0e6 cells/mL", "0.05e6 cells/mL")], [(30, ["0.98e6 cells/mL"], None)],
     "Fluidics error E-17 during daily check; service engineer booked."),
    ("BAL-007", "Analytical balance", EquipmentType.BALANCE, "QC lab", "Mettler Toledo", "XPR205",
     180, [("100 g", "100 g", "0.0005 g")], [(45, ["100.0002 g"], None)], None),
)


def _load_equipment(session: Session) -> None:
    today = clock.now().date()
    standards = {standard.identifier: standard for standard in equipment_service.list_reference_standards(session)}
    for identifier, description, certificate, valid_days in REFERENCE_STANDARDS:
        if identifier not in standards:
            standards[identifier] = equipment_service.create_reference_standard(
                session, identifier=identifier, description=description, certificate_number=certificate,
                valid_until=today + timedelta(days=valid_days))
    technician = identity.user_by_username(session, "t.nguyen")
    known = set(session.scalars(select(Equipment.asset_tag)))
    for tag, name, kind, location, make, model, interval, points, calibrations, maintenance in EQUIPMENT:
        if tag in known:
            continue
        item = equipment_service.create_equipment(
            session, asset_tag=tag, name=name, equipment_type=kind, location=location, manufacturer=make,
            model=model, serial_number=f"SN-{tag}", calibration_interval_days=interval,
            owner=identity.user_by_username(session, "m.larsen"),
        )
        for point_name, nominal, tolerance in points:
            equipment_service.add_calibration_point(session, item, name=point_name, nominal=parse_measurement(nominal),
                                                    tolerance=parse_measurement(tolerance))
        for days_ago, as_found, as_left in calibrations:
            equipment_service.record_calibration(
                session, item, performed_on=today - timedelta(days=days_ago), recorded_by=technician,
                reference_standard=_standard_for(standards, kind), readings=[
                    equipment_service.ReadingInput(point.id, parse_measurement(found),
                                                   parse_measurement(as_left[i]) if as_left else None)
                    for i, (point, found) in enumerate(zip(item.points, as_found))],
            )
        if maintenance:
            equipment_service.start_maintenance(session, item, kind=MaintenanceKind.UNPLANNED,
                                                description=maintenance, user=technician)


def _standard_for(standards: dict[str, ReferenceStandard], kind: EquipmentType) -> ReferenceStandard:
    return standards[{
        EquipmentType.BIOSAFETY_CABINET: "REF-ANEMO-01", EquipmentType.CENTRIFUGE: "REF-TACHO-01",
        EquipmentType.PIPETTE: "REF-WEIGHT-01", EquipmentType.BALANCE: "REF-WEIGHT-01",
        EquipmentType.CELL_COUNTER: "REF-BEADS-01",
    }.get(kind, "REF-THERM-01")]


#: The schedule of version 1.0: (code, name, reference event, day, window before, window after,
#: [(sample type, volume, container, handling range, hours to processing)])
HLX_301_VISITS = (
    ("SCR", "Screening", ReferenceEvent.ENROLMENT, -28, 0, 7,
     [("peripheral blood", "10 mL", "K2EDTA tube", "15–25 °C", 24), ("serum", "5 mL", "SST tube", "2–8 °C", 48)]),
    ("APH", "Apheresis", ReferenceEvent.APHERESIS, 0, 0, 0,
     [("leukapheresis product", "200 mL", "apheresis collection bag", "2–8 °C", 48)]),
    ("D0", "Infusion", ReferenceEvent.INFUSION, 0, 0, 0,
     [("retention sample of the drug product", "1 mL", "cryovial", "-196–-150 °C", 2)]),
    ("D7", "Day 7", ReferenceEvent.INFUSION, 7, 1, 1,
     [("peripheral blood for CAR-T expansion (qPCR)", "6 mL", "K2EDTA tube", "15–25 °C", 24)]),
    ("D28", "Day 28", ReferenceEvent.INFUSION, 28, 3, 3,
     [("peripheral blood for CAR-T persistence (qPCR)", "6 mL", "K2EDTA tube", "15–25 °C", 24),
      ("serum for cytokines", "5 mL", "SST tube", "2–8 °C", 4)]),
)


def _load_protocol(session: Session, sponsor: Organization) -> None:
    if session.scalar(select(Protocol.id).where(Protocol.number == "HLX-301")) is not None:
        return
    protocol = protocols.create_protocol(
        session, number="HLX-301",
        title="A randomised phase 3 study of HLX-19, autologous anti-CD19 CAR-T cells, versus standard of care "
              "in second-line relapsed or refractory large B-cell lymphoma",
        sponsor=sponsor, phase=ProtocolPhase.PHASE_3, therapeutic_area="Haematology / oncology",
        investigational_product="HLX-19 (autologous anti-CD19 CAR-T cells)",
        conditions="Large B-cell lymphoma", target_enrolment=360,
    )
    first = protocol.versions[0]
    protocols.add_arm(session, first, code="A", name="HLX-19", arm_type="experimental",
                      description="Single infusion of 2 ×10^6 CAR-T cells/kg after lymphodepletion")
    protocols.add_arm(session, first, code="B", name="Standard of care", arm_type="active comparator",
                      description="Salvage chemo-immunotherapy then high-dose chemotherapy and ASCT")
    for code, name, event, day, before, after, samples in HLX_301_VISITS:
        visit = protocols.add_visit(session, first, code=code, name=name, reference_event=event, day_offset=day,
                                    window_before_days=before, window_after_days=after)
        for sample_type, volume, container, handling, hours in samples:
            protocols.add_sample_requirement(session, visit, sample_type=sample_type,
                                             volume=parse_measurement(volume), container=container,
                                             handling=parse_range(handling), max_hours_to_processing=hours)
    author, approver = _demo_user(session, "m.larsen"), _demo_user(session, "q.okafor")
    _sign(session, first, SignatureMeaning.AUTHORED, author)
    _sign(session, first, SignatureMeaning.APPROVED, approver)
    protocols.make_effective(session, first)
    today = clock.now().date()
    for number, (enrolled_days_ago, arm, apheresis_days_ago, infused_days_ago) in enumerate(
            ((60, "A", 50, 30), (45, "A", 35, 12), (20, "B", None, None)), start=1):
        protocols.enrol_subject(
            session, protocol, code=f"HLX301-014-{number:04d}", site="014",
            arm=next(candidate for candidate in first.arms if candidate.code == arm),
            enrolled_on=today - timedelta(days=enrolled_days_ago), consent_version="1.0",
            apheresis_on=today - timedelta(days=apheresis_days_ago) if apheresis_days_ago else None,
            infused_on=today - timedelta(days=infused_days_ago) if infused_days_ago else None,
        )
    second = protocols.new_version(session, protocol, number="2.0",
                                   amendment_summary="Amendment 1: adds a month-3 persistence sample")
    month3 = protocols.add_visit(session, second, code="M3", name="Month 3", reference_event=ReferenceEvent.INFUSION,
                                 day_offset=90, window_before_days=7, window_after_days=7)
    protocols.add_sample_requirement(session, month3, sample_type="peripheral blood for CAR-T persistence (qPCR)",
                                     volume=parse_measurement("6 mL"), container="K2EDTA tube",
                                     handling=parse_range("15–25 °C"), max_hours_to_processing=24)
    _sign(session, second, SignatureMeaning.AUTHORED, author)


def _demo_user(session: Session, username: str) -> User:
    return identity.user_by_username(session, username)


def _sign(session: Session, record: Any, meaning: SignatureMeaning, user: User) -> None:
    password = next(account.password for account in ACCOUNTS if account.username == user.username)
    signatures.sign(session, record, meaning=meaning, user=user, password=password)


#: (part number, name, specification, storage, [(supplier, supplier lot, received days ago, expires in days,
#:  quantity, disposition: "released" | "quarantine")])
MATERIALS = (
    ("MED-001", "TexMACS GMP cell culture medium", "Sterile; endotoxin < 0.5 EU/mL; CoA per lot", "2–8 °C, dark",
     [("Miltenyi Biotec", "7231104", 40, 140, "1 L", "released"), ("Miltenyi Biotec", "7235518", 2, 200, "1 L", "quarantine")]),
    ("IL2-001", "IL-2 (proleukin), GMP grade", "≥ 1.8 ×10^7 IU/mg; sterile", "2–8 °C",
     [("Clinigen", "P22-0871", 200, -3, "22e6 IU", "released")]),
    ("CS10-001", "CryoStor CS10 freezing medium", "10 % DMSO; sterile; endotoxin < 0.5 EU/mL", "2–8 °C",
     [("BioLife Solutions", "BLS-44810", 15, 365, "500 mL", "released")]),
)


def _load_materials(session: Session) -> None:
    if session.scalar(select(Material.id).limit(1)) is not None:
        return
    today = clock.now().date()
    technician, qa = _demo_user(session, "t.nguyen"), _demo_user(session, "q.okafor")
    for part_number, name, specification, storage, lots in MATERIALS:
        material = materials.create_material(session, part_number=part_number, name=name,
                                             specification=specification, storage_condition=storage)
        for supplier, supplier_lot, received_days_ago, expires_in, quantity, disposition in lots:
            received_on = today - timedelta(days=received_days_ago)
            lot = materials.receive_lot(session, material, supplier=supplier, supplier_lot=supplier_lot,
                                        received_on=received_on, expires_on=today + timedelta(days=expires_in),
                                        quantity=parse_measurement(quantity), user=technician)
            if disposition == "released":
                # QA released it the day after receipt, when even the lot now expired was still valid.
                with clock.frozen(clock.now() - timedelta(days=received_days_ago - 1)):
                    _sign(session, lot, SignatureMeaning.RELEASED, qa)
    materials.record_training(session, user=technician, subject="SOP-QC-014 v3", trained_on=today - timedelta(days=90),
                              expires_on=today + timedelta(days=275), recorded_by=_demo_user(session, "m.larsen"))
