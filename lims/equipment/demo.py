"""Equipment's part of the demo data set: reference standards, and equipment in every status a lab meets (in
service, due soon, overdue, out of tolerance, under maintenance), with their calibration history."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user
from lims.equipment.models import Equipment, EquipmentType, MaintenanceKind, ReferenceStandard
from lims.equipment.service.calibrations import (
    ReadingInput,
    add_calibration_point,
    create_reference_standard,
    list_reference_standards,
    record_calibration,
)
from lims.equipment.service.inventory import create_equipment
from lims.equipment.service.maintenance import start_maintenance
from lims.units.parsing import parse_measurement

#: (identifier, description, certificate number, valid for days from today, the units of what it measures)
REFERENCE_STANDARDS = (
    ("REF-THERM-01", "Reference thermometer, PT100, -100 to 150 °C", "DAkkS-K-15012-2026", 300, "°C"),
    ("REF-WEIGHT-01", "E2 reference weight set, 1 mg to 200 g", "DAkkS-D-K-19455-2026", 240, "g"),
    ("REF-GRAV-01", "Gravimetric pipette calibration station (ISO 8655-6)", "DAkkS-D-K-19455-2027", 240, "µL"),
    ("REF-ANEMO-01", "Thermal anemometer for cabinet airflow", "UKAS-0342-7781", 150, "m/s"),
    ("REF-TACHO-01", "Optical tachometer with PT100 contact probe", "UKAS-0342-7790", 200, "rpm, °C"),
    ("REF-INCU-01", "Incubator validation kit: PT100 probe and NDIR CO2 analyser", "UKAS-0342-7802", 200, "°C, %"),
    ("REF-BEADS-01", "Counting beads, 1.0 ×10^6 /mL, lot 4471", "COA-4471", 90, "cells/mL"),
    ("REF-POWER-01", "Laser power meter, 405–640 nm", "UKAS-0342-7815", 250, "mW"),
)

#: (asset tag, name, type, location, make, model, interval days, [(point, nominal, tolerance)],
#:  [(days ago, as found per point, as left per point or None)], open maintenance or None)
EQUIPMENT = (
    (
        "INC-001",
        "CO2 incubator",
        EquipmentType.INCUBATOR,
        "Cleanroom B, bench 1",
        "Thermo Fisher",
        "Heracell VIOS 160i",
        180,
        [("Temperature 37 °C", "37 °C", "0.5 °C"), ("CO2 5 %", "5 %", "0.3 %")],
        [(240, ["37.2 °C", "5.1 %"], None), (60, ["36.9 °C", "4.9 %"], None)],
        None,
    ),
    (
        "BSC-002",
        "Class II biosafety cabinet",
        EquipmentType.BIOSAFETY_CABINET,
        "Cleanroom B, bench 2",
        "Esco",
        "Airstream AC2",
        365,
        [("Downflow velocity", "0.35 m/s", "0.05 m/s"), ("Inflow velocity", "0.45 m/s", "0.05 m/s")],
        [(355, ["0.36 m/s", "0.47 m/s"], None)],
        None,
    ),
    (
        "CEN-003",
        "Refrigerated centrifuge",
        EquipmentType.CENTRIFUGE,
        "Processing lab",
        "Eppendorf",
        "5810 R",
        365,
        [("Speed 1500 rpm", "1500 rpm", "30 rpm"), ("Temperature 4 °C", "4 °C", "1 °C")],
        [(400, ["1492 rpm", "4.3 °C"], None)],
        None,
    ),
    (
        "PIP-004",
        "Single-channel pipette P200",
        EquipmentType.PIPETTE,
        "Processing lab",
        "Gilson",
        "Pipetman P200",
        90,
        [("100 µL", "100 µL", "0.8 µL"), ("200 µL", "200 µL", "1.6 µL")],
        [(95, ["100.3 µL", "199.2 µL"], None), (2, ["102.1 µL", "201.9 µL"], None)],
        None,
    ),
    (
        "FRZ-005",
        "Ultra-low freezer",
        EquipmentType.FREEZER,
        "Storage room",
        "Thermo Fisher",
        "TSX60086V",
        365,
        [("Setpoint -80 °C", "-80 °C", "5 °C")],
        [(120, ["-79.1 °C"], None)],
        None,
    ),
    (
        "CNT-006",
        "Automated cell counter",
        EquipmentType.CELL_COUNTER,
        "QC lab",
        "ChemoMetec",
        "NucleoCounter NC-202",
        180,
        [("Bead standard", "1.0e6 cells/mL", "0.05e6 cells/mL")],
        [(30, ["0.98e6 cells/mL"], None)],
        "Fluidics error E-17 during daily check; service engineer booked.",
    ),
    (
        "BAL-007",
        "Analytical balance",
        EquipmentType.BALANCE,
        "QC lab",
        "Mettler Toledo",
        "XPR205",
        180,
        [("100 g", "100 g", "0.0005 g")],
        [(45, ["100.0002 g"], None)],
        None,
    ),
    (
        "FCM-008",
        "Flow cytometer",
        EquipmentType.FLOW_CYTOMETER,
        "QC lab",
        "Beckman Coulter",
        "CytoFLEX LX",
        180,
        [("Laser power 488 nm", "50 mW", "5 mW")],
        [(70, ["49.1 mW"], None)],
        None,
    ),
    (
        "DPCR-009",
        "Droplet digital PCR system",
        EquipmentType.DIGITAL_PCR,
        "QC lab",
        "Bio-Rad",
        "QX600",
        365,
        [("Block temperature 95 °C", "95 °C", "0.5 °C")],
        [(70, ["95.2 °C"], None)],
        None,
    ),
)


def load_equipment(session: Session) -> None:
    """The manager, who owns the equipment, registers it and the reference standards; the technician calibrates it."""
    today = clock.today()
    manager, technician = demo_user(session, "m.larsen"), demo_user(session, "t.nguyen")
    standards = {standard.identifier: standard for standard in list_reference_standards(session)}
    with acting_as(session, manager):
        for identifier, description, certificate, valid_days, measures in REFERENCE_STANDARDS:
            if identifier not in standards:
                standards[identifier] = create_reference_standard(
                    session,
                    identifier=identifier,
                    description=description,
                    certificate_number=certificate,
                    valid_until=today + timedelta(days=valid_days),
                    measures=measures,
                )
    known = set(session.scalars(select(Equipment.asset_tag)))
    for tag, name, kind, location, make, model, interval, points, calibrations, maintenance in EQUIPMENT:
        if tag in known:
            continue
        with acting_as(session, manager):
            item = create_equipment(
                session,
                asset_tag=tag,
                name=name,
                equipment_type=kind,
                location=location,
                manufacturer=make,
                model=model,
                serial_number=f"SN-{tag}",
                calibration_interval_days=interval,
                owner=manager,
            )
            for point_name, nominal, tolerance in points:
                add_calibration_point(
                    session,
                    item,
                    name=point_name,
                    nominal=parse_measurement(nominal),
                    tolerance=parse_measurement(tolerance),
                )
        with acting_as(session, technician):
            for days_ago, as_found, as_left in calibrations:
                record_calibration(
                    session,
                    item,
                    performed_on=today - timedelta(days=days_ago),
                    recorded_by=technician,
                    reference_standard_id=_standard_for(standards, kind).id,
                    readings=[
                        ReadingInput(
                            point.id, parse_measurement(found), parse_measurement(as_left[i]) if as_left else None
                        )
                        for i, (point, found) in enumerate(zip(item.points, as_found, strict=True))
                    ],
                )
            if maintenance:
                start_maintenance(
                    session, item, kind=MaintenanceKind.UNPLANNED, description=maintenance, user=technician
                )


def _standard_for(standards: dict[str, ReferenceStandard], kind: EquipmentType) -> ReferenceStandard:
    return standards[
        {
            EquipmentType.BIOSAFETY_CABINET: "REF-ANEMO-01",
            EquipmentType.CENTRIFUGE: "REF-TACHO-01",
            EquipmentType.INCUBATOR: "REF-INCU-01",
            EquipmentType.PIPETTE: "REF-GRAV-01",
            EquipmentType.BALANCE: "REF-WEIGHT-01",
            EquipmentType.CELL_COUNTER: "REF-BEADS-01",
            EquipmentType.FLOW_CYTOMETER: "REF-POWER-01",
        }.get(kind, "REF-THERM-01")
    ]
