"""A realistic demo data set: the facility, two client start-ups, a user per role (two technicians), equipment,
a protocol, materials, QC tests, a CAR-T master batch record and three batches made to it."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_records.models import (
    Batch,
    BatchStep,
    DeviationCategory,
    MasterBatchRecord,
    MbrVersion,
)
from batch_records.service import batches, deviations, execution, masters, release
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import (
    Equipment,
    EquipmentType,
    MaintenanceKind,
    ReferenceStandard,
)
from lims.equipment.service.calibrations import (
    ReadingInput,
    add_calibration_point,
    create_reference_standard,
    list_reference_standards,
    record_calibration,
)
from lims.equipment.service.inventory import create_equipment, status_of
from lims.equipment.service.maintenance import start_maintenance
from lims.equipment.service.use import BLOCKING_STATUSES
from lims.errors import RecordNotFound
from lims.identity.models import Organization, OrganizationKind, RoleName, User
from lims.identity.service.organizations import create_organization, facility
from lims.identity.service.users import create_user, user_by_username
from lims.materials import service as materials
from lims.materials.models import Material, MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind, TestDefinition
from lims.training import service as training
from lims.units.parsing import parse_measurement, parse_range
from protocols import service as protocols
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent, Subject


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
    DemoAccount("s.lind", "demo-technician-lind-2026", "Sara Lind", RoleName.TECHNICIAN, "NBCT"),
    DemoAccount("c.patel", "demo-client-helix-2026", "Chandra Patel", RoleName.CLIENT, "HELIX"),
    DemoAccount("d.weber", "demo-client-nordcar-2026", "Dana Weber", RoleName.CLIENT, "NORDCAR"),
)


def load_demo(session: Session) -> None:
    """Add whatever part of the demo data set is missing.

    The facility, the organizations and the accounts stay attributed to whoever loaded the demo (the command line):
    no demo user exists before them, and an admin account shown creating itself would mislead an inspector. Everything
    after them is attributed to the demo user who does it, as if they had signed in.
    """
    organizations = {o.code: o for o in session.scalars(select(Organization))}
    existing_facility = facility(session)
    if existing_facility is None:
        code, name = FACILITY
        organizations[code] = create_organization(session, code=code, name=name, kind=OrganizationKind.FACILITY)
    elif existing_facility.code != FACILITY[0]:
        # A real deployment: demo users join its facility.
        organizations[FACILITY[0]] = existing_facility
    for code, name in CLIENTS:
        if code not in organizations:
            organizations[code] = create_organization(session, code=code, name=name, kind=OrganizationKind.CLIENT)
    for account in ACCOUNTS:
        try:
            user_by_username(session, account.username)
        except RecordNotFound:
            create_user(
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
    _load_batch_records(session)


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
    """The manager, who owns the equipment, registers it and the reference standards; the technician calibrates it."""
    today = clock.now().date()
    manager, technician = _demo_user(session, "m.larsen"), _demo_user(session, "t.nguyen")
    standards = {standard.identifier: standard for standard in list_reference_standards(session)}
    with _acting_as(session, manager):
        for identifier, description, certificate, valid_days in REFERENCE_STANDARDS:
            if identifier not in standards:
                standards[identifier] = create_reference_standard(
                    session, identifier=identifier, description=description, certificate_number=certificate,
                    valid_until=today + timedelta(days=valid_days))
    known = set(session.scalars(select(Equipment.asset_tag)))
    for tag, name, kind, location, make, model, interval, points, calibrations, maintenance in EQUIPMENT:
        if tag in known:
            continue
        with _acting_as(session, manager):
            item = create_equipment(
                session, asset_tag=tag, name=name, equipment_type=kind, location=location, manufacturer=make,
                model=model, serial_number=f"SN-{tag}", calibration_interval_days=interval, owner=manager,
            )
            for point_name, nominal, tolerance in points:
                add_calibration_point(session, item, name=point_name,
                                      nominal=parse_measurement(nominal),
                                      tolerance=parse_measurement(tolerance))
        with _acting_as(session, technician):
            for days_ago, as_found, as_left in calibrations:
                record_calibration(
                    session, item, performed_on=today - timedelta(days=days_ago), recorded_by=technician,
                    reference_standard=_standard_for(standards, kind), readings=[
                        ReadingInput(point.id, parse_measurement(found),
                                     parse_measurement(as_left[i]) if as_left else None)
                        for i, (point, found) in enumerate(zip(item.points, as_found, strict=True))],
                )
            if maintenance:
                start_maintenance(session, item, kind=MaintenanceKind.UNPLANNED,
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
    """Authored by the manager, approved and made effective by QA; the manager enrols its subjects."""
    if session.scalar(select(Protocol.id).where(Protocol.number == "HLX-301")) is not None:
        return
    author, approver = _demo_user(session, "m.larsen"), _demo_user(session, "q.okafor")
    with _acting_as(session, author):
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
    _sign(session, first, SignatureMeaning.AUTHORED, author)
    _sign(session, first, SignatureMeaning.APPROVED, approver)
    with _acting_as(session, approver):
        protocols.make_effective(session, first)
    today = clock.now().date()
    with _acting_as(session, author):
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
        month3 = protocols.add_visit(session, second, code="M3", name="Month 3",
                                     reference_event=ReferenceEvent.INFUSION, day_offset=90, window_before_days=7,
                                     window_after_days=7)
        protocols.add_sample_requirement(session, month3, sample_type="peripheral blood for CAR-T persistence (qPCR)",
                                         volume=parse_measurement("6 mL"), container="K2EDTA tube",
                                         handling=parse_range("15–25 °C"), max_hours_to_processing=24)
    _sign(session, second, SignatureMeaning.AUTHORED, author)


def _demo_user(session: Session, username: str) -> User:
    return user_by_username(session, username)


@contextmanager
def _acting_as(session: Session, user: User) -> Iterator[None]:
    """Attribute what the block records to ``user``, as if they had signed in, then to whoever it was before.

    The trail attributes a change when the session flushes it, so the block flushes on entry (what came before is
    not ``user``'s) and on exit (what it did is).
    """
    before = audit_context.current_actor(session)
    session.flush()
    audit_context.attribute_to(session, user.id, user.full_name)
    try:
        yield
        session.flush()
    finally:
        audit_context.act_as(session, before)


def _sign(session: Session, record: Any, meaning: SignatureMeaning, user: User) -> None:
    with _acting_as(session, user):
        signatures.sign(session, record, meaning=meaning, user=user, password=_password(user))


#: (part number, name, specification, storage, [(supplier, supplier lot, received days ago, expires in days,
#:  quantity, disposition: "released" | "quarantine")])
MATERIALS = (
    ("MED-001", "TexMACS GMP cell culture medium", "Sterile; endotoxin < 0.5 EU/mL; CoA per lot", "2–8 °C, dark",
     [("Miltenyi Biotec", "7231104", 40, 140, "1 L", "released"), ("Miltenyi Biotec", "7235518", 2, 200, "1 L", "quarantine")]),
    ("IL2-001", "IL-2 (proleukin), GMP grade", "≥ 1.8 ×10^7 IU/mg; sterile", "2–8 °C",
     [("Clinigen", "P22-0871", 200, -3, "22e6 IU", "released")]),
    ("CS10-001", "CryoStor CS10 freezing medium", "10 % DMSO; sterile; endotoxin < 0.5 EU/mL", "2–8 °C",
     [("BioLife Solutions", "BLS-44810", 45, 320, "500 mL", "released")]),
)


def _load_materials(session: Session) -> None:
    """The manager specifies the materials and records the technician's training; the technician receives the lots."""
    if session.scalar(select(Material.id).limit(1)) is not None:
        return
    today = clock.now().date()
    manager, technician, qa = (_demo_user(session, username) for username in ("m.larsen", "t.nguyen", "q.okafor"))
    for part_number, name, specification, storage, lots in MATERIALS:
        with _acting_as(session, manager):
            material = materials.create_material(session, part_number=part_number, name=name,
                                                 specification=specification, storage_condition=storage)
        for supplier, supplier_lot, received_days_ago, expires_in, quantity, disposition in lots:
            received_on = today - timedelta(days=received_days_ago)
            with _acting_as(session, technician):
                lot = materials.receive_lot(session, material, supplier=supplier, supplier_lot=supplier_lot,
                                            received_on=received_on, expires_on=today + timedelta(days=expires_in),
                                            quantity=parse_measurement(quantity), user=technician)
            if disposition == "released":
                # QA released it the day after receipt, when even the lot now expired was still valid.
                with clock.frozen(clock.now() - timedelta(days=received_days_ago - 1)):
                    _sign(session, lot, SignatureMeaning.RELEASED, qa)
    with _acting_as(session, manager):
        training.record_training(session, user=technician, subject="SOP-QC-014 v3",
                                 trained_on=today - timedelta(days=90), expires_on=today + timedelta(days=275),
                                 recorded_by=manager)


# QC tests, the CAR-T master batch record and three batches made to it

#: (code, name, method, result kind, unit, specification)
TEST_DEFINITIONS = (
    ("QC-VIAB", "Viability", "7-AAD exclusion by flow cytometry", ResultKind.QUANTITATIVE, "%", "≥ 70 %"),
    ("QC-TVC", "Total viable cells", "Automated count (AO/DAPI) × final volume", ResultKind.QUANTITATIVE,
     "cells", "≥ 2 ×10^8 cells"),
    ("QC-CD3", "CD3+ T cells", "Flow cytometry, CD45/CD3/7-AAD", ResultKind.QUANTITATIVE, "%", "≥ 80 %"),
    ("QC-TDX", "Transduction efficiency", "Flow cytometry, anti-CD19 CAR detection reagent on CD3+ cells",
     ResultKind.QUANTITATIVE, "%", "≥ 15 %"),
    ("QC-VCN", "Vector copy number", "ddPCR, WPRE against RPP30", ResultKind.QUANTITATIVE, "copies/cell",
     "≤ 5 copies/cell"),
    ("QC-STER", "Sterility", "Ph. Eur. 2.6.27, BacT/ALERT aerobic and anaerobic, 7 days", ResultKind.QUALITATIVE,
     "", "No growth"),
    ("QC-ENDO", "Endotoxin", "Ph. Eur. 2.6.14, kinetic chromogenic LAL", ResultKind.QUANTITATIVE, "EU/mL",
     "< 0.5 EU/mL"),
    ("QC-MYCO", "Mycoplasma", "Ph. Eur. 2.6.7, validated NAT", ResultKind.QUALITATIVE, "", "Not detected"),
    ("QC-ID", "Identity", "Anti-CD19 CAR on CD3+ cells by flow cytometry; HLA type matched to the subject",
     ResultKind.QUALITATIVE, "", "Conforms"),
    ("QC-POT", "Potency", "Specific lysis of CD19+ NALM-6 target cells at E:T 10:1", ResultKind.QUANTITATIVE, "%",
     "≥ 20 %"),
)

MBR_CODE = "CART-HLX19"
MBR_PRODUCT = "HLX-19 autologous anti-CD19 CAR-T"

#: The batches in the order they were made; the per-batch values below are indexed by these.
RELEASED, AWAITING_REVIEW, IN_PROGRESS = 0, 1, 2

#: When something happened: (days before today, "HH:MM" UTC). Always a day or more ago, so never in the future.
When = tuple[int, str]


@dataclass(frozen=True)
class DemoParameter:
    name: str
    unit: str
    limit: str | None
    #: what the released, the awaiting-review and the in-progress batch recorded (None: not recorded)
    values: tuple[str | None, str | None, str | None]
    target: str | None = None


@dataclass(frozen=True)
class DemoStep:
    design: masters.StepDesignInput
    parameters: tuple[DemoParameter, ...]
    #: when each batch started the step; None where the batch has not reached it
    started: tuple[When | None, When | None, When | None]
    #: (part number, quantity) the step takes from a released lot
    materials: tuple[tuple[str, str], ...] = ()
    #: the actual yield of the released and of the awaiting-review batch
    yields: tuple[str | None, str | None] = (None, None)
    #: what the in-progress batch has used so far, when this is its current, unfinished step
    partial_equipment: tuple[EquipmentType, ...] = ()
    partial_materials: tuple[str, ...] = ()


_BSC, _INCUBATOR = EquipmentType.BIOSAFETY_CABINET, EquipmentType.INCUBATOR
_BALANCE, _FREEZER = EquipmentType.BALANCE, EquipmentType.FREEZER
#: the demo items a step's equipment types are met with: all usable (CEN-003, PIP-004 and CNT-006 are not)
BATCH_EQUIPMENT = {_BSC: "BSC-002", _INCUBATOR: "INC-001", _BALANCE: "BAL-007", _FREEZER: "FRZ-005"}

CART_STEPS = (
    DemoStep(masters.StepDesignInput(
        stage="Starting-material receipt", title="Receive the leukapheresis bag and check its chain of identity",
        instruction="Before opening the shipper, check the bag label (subject code, ISBT 128 donation number, "
                    "collection date and time) against the shipping manifest and the subject record. Record the data "
                    "logger's temperature, the time since the end of collection and the bag's net weight. Quarantine "
                    "the bag if any identifier does not match.",
        second_person_verification=True, equipment_types=(_BALANCE,)),
        (DemoParameter("Time since end of collection", "h", "≤ 48 h", ("22", "51", "26")),
         DemoParameter("Shipper temperature on receipt", "°C", "2–8 °C", ("4.6", "5.1", "3.9")),
         DemoParameter("Bag net weight", "g", "100–320 g", ("191.4", "224.0", "176.2"))),
        started=((34, "09:40"), (18, "09:10"), (2, "10:30"))),
    DemoStep(masters.StepDesignInput(
        stage="Starting-material receipt", title="Sample for pre-processing count, viability and CD3+ content",
        instruction="In the cabinet, take 1 mL through the sampling port and send it to QC for the nucleated cell "
                    "count, viability (AO/DAPI) and CD3+ content by flow cytometry.",
        equipment_types=(_BSC,)),
        (DemoParameter("Total nucleated cells", "cells", "≥ 5 ×10^9 cells", ("9.8 ×10^9", "1.12 ×10^10", "8.1 ×10^9")),
         DemoParameter("Viability", "%", "≥ 80 %", ("96.1", "91.4", "94.7")),
         DemoParameter("CD3+ of leukocytes", "%", "≥ 15 %", ("41.2", "33.8", "46.5"))),
        started=((34, "11:00"), (18, "10:30"), (2, "11:45"))),
    DemoStep(masters.StepDesignInput(
        stage="T-cell selection", title="CD4/CD8 immunomagnetic selection",
        instruction="Wash the product, label it with CD4 and CD8 GMP microbeads and run the enrichment programme "
                    "on the closed processing system. Resuspend the positive fraction in TexMACS medium. Hold point: "
                    "QA reviews purity and recovery before activation.",
        hold_point=True, equipment_types=(_BSC,)),
        (DemoParameter("CD3+ purity of the positive fraction", "%", "≥ 80 %", ("95.3", "92.8", "96.0")),
         DemoParameter("Viable cells recovered", "cells", "≥ 5 ×10^8 cells", ("1.9 ×10^9", "2.3 ×10^9", "1.6 ×10^9"))),
        started=((34, "12:30"), (18, "12:00"), (2, "13:15")),
        materials=(("MED-001", "50 mL"),)),
    DemoStep(masters.StepDesignInput(
        stage="Activation", title="Activate with anti-CD3/CD28 nanomatrix and seed the culture bag",
        instruction="Seed 1 ×10^8 viable selected cells at 1 ×10^6 cells/mL in TexMACS medium with IL-2 at "
                    "100 IU/mL and TransAct at 1:100, then place the bag in the incubator.",
        equipment_types=(_BSC, _INCUBATOR)),
        (DemoParameter("Viable cells seeded", "cells", "0.8–1.2 ×10^8 cells",
                       ("1.02 ×10^8", "0.98 ×10^8", "1.01 ×10^8"), target="1 ×10^8 cells"),
         DemoParameter("Seeding density", "cells/mL", "0.8–1.2 ×10^6 cells/mL",
                       ("1.0 ×10^6", "0.97 ×10^6", "1.01 ×10^6")),
         DemoParameter("Culture volume", "mL", "90–110 mL", ("100", "101", None))),
        started=((33, "09:30"), (17, "09:30"), (1, "09:30")),
        materials=(("MED-001", "100 mL"), ("IL2-001", "10000 IU")),
        # The in-progress batch waits here for IL-2: the only lot expired three days ago.
        partial_equipment=(_BSC,), partial_materials=("MED-001",)),
    DemoStep(masters.StepDesignInput(
        stage="Transduction", title="Transduce with the anti-CD19 CAR lentiviral vector (day 1)",
        instruction="Check the vector lot and its label against this record, thaw it at room temperature and add "
                    "it at MOI 5 in the cabinet. Return the bag to the incubator.",
        second_person_verification=True, equipment_types=(_BSC, _INCUBATOR)),
        (DemoParameter("Hours after activation", "h", "20–28 h", ("23.5", "24", None)),
         DemoParameter("Multiplicity of infection", "", "4–6", ("5.0", "5.1", None), target="5"),
         DemoParameter("Vector volume added", "mL", "≤ 10 mL", ("4.2", "4.1", None))),
        started=((32, "09:15"), (16, "09:15"), None)),
    DemoStep(masters.StepDesignInput(
        stage="Expansion", title="Expansion culture, days 2 to 5",
        instruction="Keep the bag in the incubator. Read the incubator display each morning and check its alarm "
                    "log; raise a deviation for any alarm. Record the day-5 readings and count.",
        equipment_types=(_INCUBATOR,)),
        (DemoParameter("Incubator temperature, day 5", "°C", "36.5–37.5 °C", ("37.0", "37.1", None)),
         DemoParameter("Incubator CO2, day 5", "%", "4.5–5.5 %", ("5.0", "5.1", None)),
         DemoParameter("Viable cell density, day 5", "cells/mL", "≥ 1 ×10^6 cells/mL",
                       ("2.4 ×10^6", "2.9 ×10^6", None))),
        started=((29, "08:30"), (13, "08:30"), None)),
    DemoStep(masters.StepDesignInput(
        stage="Expansion", title="Medium exchange and IL-2 feed (day 5)",
        instruction="In the cabinet, add 150 mL TexMACS medium with IL-2 to 100 IU/mL final.",
        equipment_types=(_BSC,)),
        (DemoParameter("Medium added", "mL", "140–160 mL", ("150", "152", None)),
         DemoParameter("Culture volume after the feed", "mL", "240–260 mL", ("250", "253", None))),
        started=((29, "10:00"), (13, "10:00"), None),
        materials=(("MED-001", "150 mL"), ("IL2-001", "20000 IU"))),
    DemoStep(masters.StepDesignInput(
        stage="Expansion", title="Medium top-up (day 6), only above 3 ×10^6 cells/mL",
        instruction="Count the culture. Only when the viable density exceeds 3 ×10^6 cells/mL add 50 mL TexMACS "
                    "medium; otherwise skip this step and state the density.",
        skippable=True, equipment_types=(_BSC,)),
        (DemoParameter("Viable cell density before the top-up", "cells/mL", "> 3 ×10^6 cells/mL",
                       (None, "3.4 ×10^6", None)),
         DemoParameter("Medium added", "mL", "45–55 mL", (None, "50", None))),
        started=((28, "09:00"), (12, "09:00"), None),
        materials=(("MED-001", "50 mL"),)),
    DemoStep(masters.StepDesignInput(
        stage="Harvest", title="Harvest, wash and count (day 9)",
        instruction="Harvest the culture on the closed system, wash twice and resuspend. Count the viable cells; a "
                    "second person checks the count and the yield.",
        second_person_verification=True, equipment_types=(_BSC,),
        theoretical_yield=parse_measurement("2 ×10^9 cells"), yield_minimum_percent=Decimal(50),
        yield_maximum_percent=Decimal(150)),
        (DemoParameter("Viable cell concentration", "cells/mL", "≥ 5 ×10^6 cells/mL", ("2.1 ×10^7", "1.6 ×10^7", None)),
         DemoParameter("Viability at harvest", "%", "≥ 80 %", ("93.2", "88.6", None))),
        started=((26, "09:00"), (10, "09:00"), None),
        yields=("1.9 ×10^9 cells", "1.4 ×10^9 cells")),
    DemoStep(masters.StepDesignInput(
        stage="Formulation", title="Formulate the dose in CryoStor CS10",
        instruction="Calculate the dose from the subject's weight (2 ×10^6 CAR+ viable T cells/kg) and the "
                    "transduction efficiency, resuspend in CryoStor CS10 and fill the infusion bags; weigh each bag. "
                    "A second person checks the calculation and the bag labels.",
        second_person_verification=True, equipment_types=(_BSC, _BALANCE)),
        (DemoParameter("Dose, CAR+ viable T cells", "cells", "1–2.5 ×10^8 cells", ("1.52 ×10^8", "1.61 ×10^8", None)),
         DemoParameter("Bags filled", "", "1–4", ("2", "2", None)),
         DemoParameter("Fill volume per bag", "mL", "20–70 mL", ("30", "30", None))),
        started=((26, "11:00"), (10, "11:00"), None),
        materials=(("CS10-001", "60 mL"),)),
    DemoStep(masters.StepDesignInput(
        stage="Cryopreservation", title="Controlled-rate freezing",
        instruction="Load the bags into the controlled-rate freezer within 30 minutes of adding CS10 and run "
                    "programme CAR-01 to -90 °C."),
        (DemoParameter("Minutes from CS10 addition to programme start", "min", "≤ 30 min", ("18", "22", None)),
         DemoParameter("Chamber temperature at programme end", "°C", "≤ -90 °C", ("-92", "-91", None))),
        started=((26, "12:30"), (10, "12:30"), None)),
    DemoStep(masters.StepDesignInput(
        stage="Cryopreservation", title="Transfer to interim storage",
        instruction="Move the bags in their cassettes to the ultra-low freezer for interim storage (72 h at most) "
                    "before the vapour-phase LN2 store; record the freezer display and the rack position.",
        equipment_types=(_FREEZER,)),
        (DemoParameter("Freezer display temperature", "°C", "≤ -70 °C", ("-79", "-80", None)),),
        started=((25, "09:00"), (9, "09:00"), None)),
)

#: (subject, arm, enrolled, apheresis (days ago), performer, verifier) of the released, awaiting-review and
#: in-progress batch; the first subject is the demo protocol's, infused twelve days ago with the released batch.
BATCH_SUBJECTS = (
    ("HLX301-014-0002", "A", 45, 35, "t.nguyen", "s.lind"),
    ("HLX301-014-0004", "A", 32, 20, "s.lind", "t.nguyen"),
    ("HLX301-014-0005", "A", 16, 3, "t.nguyen", "s.lind"),
)
SKIP_REASON = "Viable density 2.6 ×10^6 cells/mL on day 6, below the 3 ×10^6 cells/mL trigger: no top-up needed."
#: the awaiting-review batch: a transcription error corrected before the step was signed
CORRECTION = ("Bag net weight", "242.0", "Transposed digits: the balance printout reads 224.0 g.")
#: the awaiting-review batch: a deviation raised by hand on the expansion step and closed by QA
CLOSED_DEVIATION: dict[str, Any] = {
    "description": "INC-001 alarm log: door-open alarm for 6 minutes on day 3; the chamber fell to 35.8 °C and "
                   "was back at 37.0 °C within 12 minutes.",
    "category": DeviationCategory.MINOR,
    "investigation": "Alarm log, chamber temperature and CO2 trends and the door switch reviewed with the operators.",
    "root_cause": "The door was not latched after another operator checked a development culture; the alarm worked.",
    "other_batches_assessed": "No other GMP batch was in INC-001 that day.",
    "conclusion": "Excursion well within the validated 30 minutes below 36 °C: no impact on the batch.",
    "capa": "Door-latch check added to the incubator checklist; operators briefed.",
}
#: code: (days after harvest the result is reported, released batch, batch awaiting review)
RELEASE_RESULTS = {
    "QC-VIAB": (0, "91.8", "87.9"), "QC-TVC": (0, "4.1 ×10^8", "4.4 ×10^8"), "QC-CD3": (0, "97.4", "96.1"),
    "QC-ENDO": (0, "0.08", "0.11"), "QC-TDX": (3, "37.1", "36.6"), "QC-VCN": (3, "2.4", "3.1"),
    "QC-MYCO": (3, "Not detected", "Not detected"), "QC-ID": (3, "Conforms", "Conforms"),
    "QC-POT": (3, "58", "49"), "QC-STER": (7, "No growth", "No growth"),
}
RELEASED_ON: When = (14, "15:00")


@contextmanager
def _on(today: date, when: When, later: timedelta = timedelta()) -> Iterator[None]:
    """Run the block with the clock at ``when`` (plus ``later``): the demo's history happened on those days."""
    days_ago, hour_minute = when
    hour, minute = (int(part) for part in hour_minute.split(":"))
    moment = datetime.combine(today - timedelta(days=days_ago), time(hour, minute), tzinfo=UTC)
    with clock.frozen(moment + later):
        yield


def _due_soon_days() -> int:
    """The app's setting where there is an app (the CLI), else its default."""
    return current_app.config["CALIBRATION_DUE_SOON_DAYS"] if has_app_context() else 14


def _load_batch_records(session: Session) -> None:
    """QC tests, the CAR-T master record and its three batches; a second run finds the master record and stops."""
    definitions = _load_test_definitions(session)
    if session.scalar(select(MasterBatchRecord.id).where(MasterBatchRecord.code == MBR_CODE)) is not None:
        return
    lots = _demo_lots(session)
    if lots is None:
        return  # the database's own materials kept the demo's out: nothing to build a master record on
    today = clock.now().date()
    version = _load_master_record(session, definitions, lots, today)
    found = {kind: session.scalar(select(Equipment).where(Equipment.asset_tag == tag))
             for kind, tag in BATCH_EQUIPMENT.items()}
    equipment = {kind: item for kind, item in found.items() if item is not None}
    subjects = _batch_subjects(session, today)
    if subjects is None or len(equipment) < len(found):
        return  # the database's own protocol or equipment kept the demo's out
    maker = _BatchMaker(session, today, lots, equipment, _due_soon_days())
    if maker.history_fits():
        for index, subject in enumerate(subjects):
            maker.make(version, index, subject)


def _load_test_definitions(session: Session) -> dict[str, TestDefinition]:
    """The QC tests, defined by the manager."""
    existing = {definition.code: definition for definition in testing.list_definitions(session)}
    with _on(clock.now().date(), (60, "10:00")), _acting_as(session, _demo_user(session, "m.larsen")):
        for code, name, method, kind, unit, specification in TEST_DEFINITIONS:
            if code not in existing:
                existing[code] = testing.create_definition(session, code=code, name=name, method=method,
                                                           result_kind=kind, unit=unit, specification=specification)
    return existing


def _demo_lots(session: Session) -> dict[str, MaterialLot] | None:
    """The released lot of each demo material, by part number; None if the demo's materials are not there."""
    lots = {}
    for part_number, *_, lot_rows in MATERIALS:
        supplier_lot = next(row[1] for row in lot_rows if row[-1] == "released")
        lot = session.scalar(select(MaterialLot).join(MaterialLot.material).where(
            Material.part_number == part_number, MaterialLot.supplier_lot == supplier_lot))
        if lot is None:
            return None
        lots[part_number] = lot
    return lots


def _load_master_record(session: Session, definitions: dict[str, TestDefinition], lots: dict[str, MaterialLot],
                        today: date) -> MbrVersion:
    """CART-HLX19 v1, authored by the manager, approved by QA, effective, with both technicians trained on it."""
    author, approver = _demo_user(session, "m.larsen"), _demo_user(session, "q.okafor")
    with _on(today, (45, "09:00")), _acting_as(session, author):
        version = masters.create_master(session, code=MBR_CODE, product=MBR_PRODUCT,
                                        change_summary="First issue, for the HLX-301 phase 3 study.")
        for demo in CART_STEPS:
            step = masters.add_step(session, version, demo.design)
            for parameter in demo.parameters:
                masters.add_parameter(session, step, name=parameter.name, unit=parameter.unit, limit=parameter.limit,
                                      target=parse_measurement(parameter.target) if parameter.target else None)
            for part_number, quantity in demo.materials:
                masters.add_material_requirement(session, step, material=lots[part_number].material,
                                                 quantity=parse_measurement(quantity))
        for code, *_ in TEST_DEFINITIONS:
            masters.add_release_test(session, version, definitions[code])
    with _on(today, (45, "16:00")):
        _sign(session, version, SignatureMeaning.AUTHORED, author)
    with _on(today, (43, "11:00")), _acting_as(session, approver):
        _sign(session, version, SignatureMeaning.APPROVED, approver)
        masters.make_mbr_effective(session, version)
    with _on(today, (42, "14:00")), _acting_as(session, author):
        for username in ("t.nguyen", "s.lind"):
            training.record_training(session, user=_demo_user(session, username), subject=version.training_subject,
                                     trained_on=today - timedelta(days=42), expires_on=today + timedelta(days=323),
                                     recorded_by=author)
    return version


def _batch_subjects(session: Session, today: date) -> list[Subject] | None:
    """The HLX-301 subjects the batches are made for, the manager enrolling those the protocol's demo data lacks."""
    protocol = session.scalar(select(Protocol).where(Protocol.number == "HLX-301"))
    version = protocols.effective_version(protocol) if protocol is not None else None
    if protocol is None or version is None:
        return None
    enrolled = {subject.code: subject for subject in protocols.subjects_of(session, protocol)}
    subjects = []
    with _acting_as(session, _demo_user(session, "m.larsen")):
        for code, arm, enrolled_days_ago, apheresis_days_ago, *_ in BATCH_SUBJECTS:
            if code not in enrolled:
                enrolled[code] = protocols.enrol_subject(
                    session, protocol, code=code, site="014", arm=next(a for a in version.arms if a.code == arm),
                    enrolled_on=today - timedelta(days=enrolled_days_ago), consent_version="1.0",
                    apheresis_on=today - timedelta(days=apheresis_days_ago))
            subjects.append(enrolled[code])
    return subjects


@dataclass
class _BatchMaker:
    """Executes the demo batches through the batch record rules, on the days the history says."""

    session: Session
    today: date
    lots: dict[str, MaterialLot]
    equipment: dict[EquipmentType, Equipment]
    due_soon_days: int
    qa: User = field(init=False)

    def __post_init__(self) -> None:
        self.qa = _demo_user(self.session, "q.okafor")

    def _work(self, index: int) -> list[tuple[DemoStep, When, bool, bool]]:
        """(step, when, skipped, complete) for each step the batch reached."""
        work = []
        for position, demo in enumerate(CART_STEPS):
            when = demo.started[index]
            if when is None:
                break
            reached_next = position + 1 < len(CART_STEPS) and CART_STEPS[position + 1].started[index] is not None
            complete = index != IN_PROGRESS or reached_next
            work.append((demo, when, demo.design.skippable and index == RELEASED, complete))
        return work

    def _uses(self, demo: DemoStep, complete: bool) -> tuple[tuple[EquipmentType, ...], list[tuple[str, str]]]:
        if complete:
            return tuple(demo.design.equipment_types), list(demo.materials)
        return demo.partial_equipment, [(part, quantity) for part, quantity in demo.materials
                                        if part in demo.partial_materials]

    def history_fits(self) -> bool:
        """Whether the lots and equipment allow the history on its days (an older demo database may not)."""
        needed: dict[str, Decimal] = {}
        for index in (RELEASED, AWAITING_REVIEW, IN_PROGRESS):
            for demo, when, skipped, complete in self._work(index):
                if skipped:
                    continue
                day = self.today - timedelta(days=when[0])
                kinds, taken = self._uses(demo, complete)
                for part_number, quantity in taken:
                    lot = self.lots[part_number]
                    if not materials.usability(lot, day).usable:
                        return False
                    amount = parse_measurement(quantity).to(lot.quantity_remaining.unit).value
                    needed[part_number] = needed.get(part_number, Decimal(0)) + amount
                with _on(self.today, when):
                    if any(status_of(self.session, self.equipment[kind],
                                     due_soon_days=self.due_soon_days)
                           in BLOCKING_STATUSES for kind in kinds):
                        return False
        return all(amount <= self.lots[part].quantity_remaining.value for part, amount in needed.items())

    def make(self, version: MbrVersion, index: int, subject: Subject) -> Batch:
        _code, _arm, _enrolled, apheresis_days_ago, performer_name, verifier_name = BATCH_SUBJECTS[index]
        performer, verifier = _demo_user(self.session, performer_name), _demo_user(self.session, verifier_name)
        work = self._work(index)
        with _on(self.today, work[0][1], timedelta(minutes=-20)), _acting_as(self.session, performer):
            apheresis = self.today - timedelta(days=apheresis_days_ago)
            batch = batches.start_batch(
                self.session, version, subject=subject, user=performer,
                starting_material_identity=f"W0386 {apheresis:%y} {118204 + 4417 * index:06d}")
        for (demo, when, skipped, complete), step in zip(work, batch.steps, strict=False):
            if skipped:
                with _on(self.today, when), _acting_as(self.session, performer):
                    execution.skip_step(self.session, step, reason=SKIP_REASON, user=performer)
                continue
            with _on(self.today, when), _acting_as(self.session, performer):
                self._perform(demo, step, index, performer, complete)
            if index == AWAITING_REVIEW and step.position == 6:
                self._closed_deviation(batch, step, when, performer)
            if complete:
                self._sign_step(step, when, performer, verifier)
        if index != IN_PROGRESS:
            self._release_tests(batch, index, performer, verifier)
        if index == RELEASED:
            with _on(self.today, RELEASED_ON), _acting_as(self.session, self.qa):
                release.dispose(self.session, batch, SignatureMeaning.RELEASED, user=self.qa,
                                password=_password(self.qa))
        return batch

    def _perform(self, demo: DemoStep, step: BatchStep, index: int, user: User, complete: bool) -> None:
        kinds, taken = self._uses(demo, complete)
        for kind in kinds:
            execution.record_equipment_use(self.session, step, self.equipment[kind], user=user,
                                           due_soon_days=self.due_soon_days)
        for part_number, quantity in taken:
            requirement = next(r for r in step.materials if r.material_id == self.lots[part_number].material_id)
            execution.record_material_use(self.session, step, requirement, self.lots[part_number],
                                          parse_measurement(quantity), user=user)
        values = {parameter.name: parameter.values[index] for parameter in demo.parameters}
        for parameter in step.parameters:
            value = values[parameter.name]
            if value is None:
                continue
            if index == AWAITING_REVIEW and step.position == 1 and parameter.name == CORRECTION[0]:
                first = execution.record_entry(self.session, parameter, CORRECTION[1], user=user)
                execution.correct_entry(self.session, first, value, reason=CORRECTION[2], user=user)
            else:
                execution.record_entry(self.session, parameter, value, user=user)
        actual_yield = demo.yields[index] if index != IN_PROGRESS else None
        if actual_yield is not None:
            execution.record_yield(self.session, step, parse_measurement(actual_yield), user=user)

    def _sign_step(self, step: BatchStep, when: When, performer: User, verifier: User) -> None:
        with _on(self.today, when, timedelta(minutes=40)):
            _sign(self.session, step, SignatureMeaning.PERFORMED, performer)
        if step.second_person_verification:
            with _on(self.today, when, timedelta(minutes=50)):
                _sign(self.session, step, SignatureMeaning.VERIFIED, verifier)
        if step.hold_point:
            with _on(self.today, when, timedelta(hours=2)):
                _sign(self.session, step, SignatureMeaning.REVIEWED, self.qa)

    def _closed_deviation(self, batch: Batch, step: BatchStep, when: When, user: User) -> None:
        text = dict(CLOSED_DEVIATION)
        with _on(self.today, when, timedelta(minutes=15)), _acting_as(self.session, user):
            deviation = deviations.raise_deviation(self.session, batch, description=text.pop("description"),
                                                   category=text["category"], step=step, user=user)
        with _on(self.today, (6, "10:00")), _acting_as(self.session, self.qa):
            deviations.record_investigation(self.session, deviation, deviations.InvestigationInput(**text),
                                            reason="Investigation completed")
        with _on(self.today, (6, "11:30")):
            _sign(self.session, deviation, SignatureMeaning.APPROVED, self.qa)

    def _release_tests(self, batch: Batch, index: int, analyst: User, checker: User) -> None:
        harvested = next(demo.started[index] for demo in CART_STEPS if demo.design.theoretical_yield is not None)
        assert harvested is not None
        for release_test in batch.release_tests:
            ready_after, *reported = RELEASE_RESULTS[release_test.definition.code]
            when = (harvested[0] - ready_after, "15:00")
            with _on(self.today, when), _acting_as(self.session, analyst):
                result = release.record_release_result(self.session, release_test, reported[index], user=analyst)
            with _on(self.today, when, timedelta(minutes=90)):
                _sign(self.session, result, SignatureMeaning.VERIFIED, checker)


def _password(user: User) -> str:
    return next(account.password for account in ACCOUNTS if account.username == user.username)
