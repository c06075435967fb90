"""A realistic demo data set: the facility, two client start-ups, one user per role, equipment."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.equipment import service as equipment_service
from lims.equipment.models import Equipment, EquipmentType, MaintenanceKind, ReferenceStandard
from lims.identity import service as identity
from lims.identity.models import Organization, OrganizationKind, RoleName
from lims.units import parse_measurement


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
