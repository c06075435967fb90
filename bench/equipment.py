"""Equipment list latency by status at ``size`` items against 1,000, and what each call loads.

``list_equipment`` derives every item's status in SQL (``status_expression``)
and filters by it there, so page 1 of a status should cost about the same
whatever the size of the registry. The benchmark fills a database with 1,000
items and another with ``size`` items in the same mix of statuses, and times
page 1 of every status filter, and of the unfiltered list, in both. It also
counts the SELECT statements each call sends and the ``Equipment`` objects the
ORM builds: one statement and at most a page plus one object (the extra row
tells whether a next page exists) mean no row is filtered or fetched in Python.

Each database is a throwaway SQLite file, or the database named by
``LIMS_BENCH_DATABASE_URL``, whose public schema is dropped and recreated first.
"""

from __future__ import annotations

import random
import secrets
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, event, insert, text
from sqlalchemy.orm import Session

from bench.audit import Target, _migrated_database, _print_ratio
from lims import clock
from lims.equipment.models import (
    Equipment,
    EquipmentStatus,
    EquipmentType,
    MaintenanceKind,
    MaintenanceRecord,
)
from lims.equipment.service.inventory import (
    EquipmentFilter,
    count_with_status,
    list_equipment,
)
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service.organizations import create_organization
from lims.identity.service.users import create_user

BASELINE_ITEMS = 1_000
PER_PAGE = 25
DUE_SOON_DAYS = 14
WARM_UP_QUERIES = 5
TIMED_QUERIES = 30
ITEMS_PER_INSERT = 10_000
#: Fixed, so every run generates the same registry.
REGISTRY_SEED = 1425
LATENCY_TARGET = Target("≤", 2.0)

#: The share of the registry in each status; whatever the rounding leaves over is in service.
STATUS_MIX = {
    EquipmentStatus.DUE_SOON: 0.08,
    EquipmentStatus.OVERDUE: 0.05,
    EquipmentStatus.OUT_OF_TOLERANCE: 0.03,
    EquipmentStatus.UNDER_MAINTENANCE: 0.02,
    EquipmentStatus.RETIRED: 0.02,
}
#: None is the unfiltered list.
FILTERS: tuple[EquipmentStatus | None, ...] = (None, *EquipmentStatus)

_EQUIPMENT = Equipment.__table__
_MAINTENANCE = MaintenanceRecord.__table__


@dataclass(frozen=True)
class Make:
    equipment_type: EquipmentType
    manufacturer: str
    model: str
    calibration_interval_days: int


_MAKES = (
    Make(EquipmentType.PIPETTE, "Eppendorf", "Research plus 100 µL", 180),
    Make(EquipmentType.PIPETTE, "Gilson", "Pipetman P1000", 180),
    Make(EquipmentType.BALANCE, "Mettler Toledo", "XPR205", 365),
    Make(EquipmentType.CENTRIFUGE, "Thermo Fisher", "Sorvall ST 16R", 365),
    Make(EquipmentType.INCUBATOR, "Binder", "CB 170", 365),
    Make(EquipmentType.BIOSAFETY_CABINET, "Esco", "Airstream Class II", 365),
    Make(EquipmentType.FREEZER, "Thermo Fisher", "TSX -80 °C", 365),
    Make(EquipmentType.REFRIGERATOR, "Liebherr", "LKUv 1613", 365),
    Make(EquipmentType.FLOW_CYTOMETER, "BD", "FACSLyric", 180),
    Make(EquipmentType.CELL_COUNTER, "Beckman Coulter", "Vi-CELL BLU", 365),
    Make(EquipmentType.THERMOMETER, "Testo", "735-2", 365),
    Make(EquipmentType.WATER_BATH, "Grant", "SUB Aqua Pro", 365),
    Make(EquipmentType.OTHER, "Sartorius", "Biostat B", 730),
)
_LOCATIONS = [
    f"{area} {floor}.{room:02d}"
    for area in ("QC Lab", "Cell Processing", "Cleanroom", "Microbiology", "Stability Store", "Receiving")
    for floor in (1, 2)
    for room in range(1, 11)
]


@dataclass(frozen=True)
class RegistryMeasurement:
    items: int
    #: median latency of page 1 in milliseconds, by filter
    milliseconds: dict[EquipmentStatus | None, float]
    matches: dict[EquipmentStatus | None, int]
    most_selects_per_call: int
    most_equipment_loaded_per_call: int


@dataclass
class CallCounts:
    selects: int = 0
    equipment_loaded: int = 0


def run(items: int) -> None:
    # Pinned for the run, so one crossing midnight keeps every generated item in its status.
    with clock.frozen(clock.now()):
        baseline = _measure_registry(min(BASELINE_ITEMS, items))
        measured = _measure_registry(items)

    print(
        f"equipment-list: page 1 ({PER_PAGE} a page), median of {TIMED_QUERIES} queries, "
        f"{baseline.items:,} items against {measured.items:,}"
    )
    ratios: dict[EquipmentStatus | None, float] = {}
    for status in FILTERS:
        ratios[status] = measured.milliseconds[status] / baseline.milliseconds[status]
        print(
            f"equipment-list: {_label(status):<22} {baseline.milliseconds[status]:7.2f} ms "
            f"{measured.milliseconds[status]:7.2f} ms  {ratios[status]:5.2f}×  "
            f"({baseline.matches[status]:,} and {measured.matches[status]:,} match)"
        )

    most_loaded = max(baseline.most_equipment_loaded_per_call, measured.most_equipment_loaded_per_call)
    most_selects = max(baseline.most_selects_per_call, measured.most_selects_per_call)
    verdict = "PASS" if most_loaded <= PER_PAGE + 1 and most_selects == 1 else "MISS"
    print(
        f"equipment-list: per call at most {most_selects} SELECT and {most_loaded} Equipment objects loaded "
        f"(target 1 and ≤ {PER_PAGE + 1}) {verdict}"
    )
    worst = max(ratios, key=ratios.__getitem__)
    _print_ratio(
        "equipment-list",
        f"{measured.items:,}/{baseline.items:,} items latency, worst ({_label(worst)})",
        ratios[worst],
        LATENCY_TARGET,
    )


def _label(status: EquipmentStatus | None) -> str:
    return "all" if status is None else status.value


def _measure_registry(items: int) -> RegistryMeasurement:
    with _migrated_database() as engine:
        _fill_registry(engine, items)
        milliseconds: dict[EquipmentStatus | None, float] = {}
        matches: dict[EquipmentStatus | None, int] = {}
        most_selects = most_loaded = 0
        for status in FILTERS:
            criteria = EquipmentFilter(status=status)
            counts = _count_one_call(engine, criteria)
            most_selects, most_loaded = max(most_selects, counts.selects), max(most_loaded, counts.equipment_loaded)
            milliseconds[status] = _median_milliseconds(engine, criteria)
            with Session(engine) as session:
                matches[status] = count_with_status(
                    session,
                    frozenset(EquipmentStatus) if status is None else frozenset({status}),
                    due_soon_days=DUE_SOON_DAYS,
                )
    return RegistryMeasurement(items, milliseconds, matches, most_selects, most_loaded)


def _median_milliseconds(engine: Engine, criteria: EquipmentFilter) -> float:
    """Median latency of page 1, each query in a fresh session as each request has."""
    latencies = []
    for _ in range(WARM_UP_QUERIES + TIMED_QUERIES):
        with Session(engine) as session:
            started = time.perf_counter()
            list_equipment(session, criteria, due_soon_days=DUE_SOON_DAYS, per_page=PER_PAGE)
            latencies.append(time.perf_counter() - started)
    return statistics.median(latencies[WARM_UP_QUERIES:]) * 1000


def _count_one_call(engine: Engine, criteria: EquipmentFilter) -> CallCounts:
    """The SELECT statements one page sends and the Equipment objects it loads; stop if a row is in the wrong status."""
    with _counted_selects_and_loads(engine) as counts, Session(engine) as session:
        page = list_equipment(session, criteria, due_soon_days=DUE_SOON_DAYS, per_page=PER_PAGE)
    strays = [
        equipment.asset_tag
        for equipment, status in page.rows
        if criteria.status is not None and status != criteria.status
    ]
    if strays:
        raise RuntimeError(f"the {_label(criteria.status)} filter listed {', '.join(strays)} in another status")
    return counts


@contextmanager
def _counted_selects_and_loads(engine: Engine) -> Iterator[CallCounts]:
    counts = CallCounts()

    def count_statement(_connection: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # SQLite's engine sends its own BEGIN IMMEDIATE, which is no query of the list's.
        if statement.lstrip().upper().startswith("SELECT"):
            counts.selects += 1

    def count_load(*_: Any) -> None:
        counts.equipment_loaded += 1

    listeners = [(engine, "before_cursor_execute", count_statement), (Equipment, "load", count_load)]
    for target, name, listener in listeners:
        event.listen(target, name, listener)
    try:
        yield counts
    finally:
        for target, name, listener in listeners:
            event.remove(target, name, listener)


# The registry


def _fill_registry(engine: Engine, items: int) -> None:
    """Insert ``items`` pieces of equipment in the status mix, with open maintenance for those under it.

    Core inserts bypass the ORM's flush hooks, so no audit events are written:
    a fraction of the time the audited ORM path would take, and the list reads
    only the equipment and maintenance tables.
    """
    generator = random.Random(REGISTRY_SEED)
    technician_id = _create_technician(engine)
    statuses = [status for status, share in STATUS_MIX.items() for _ in range(round(share * items))]
    statuses += [EquipmentStatus.IN_SERVICE] * (items - len(statuses))
    # Shuffled, so no status gathers at either end of the asset-tag order the list is sorted by.
    generator.shuffle(statuses)
    for first in range(0, items, ITEMS_PER_INSERT):
        chunk = statuses[first : first + ITEMS_PER_INSERT]
        rows = [_realistic_equipment(first + offset + 1, status, generator) for offset, status in enumerate(chunk)]
        with engine.begin() as connection:
            ids = (
                connection.execute(insert(_EQUIPMENT).returning(_EQUIPMENT.c.id, sort_by_parameter_order=True), rows)
                .scalars()
                .all()
            )
            maintenance = [
                record
                for equipment_id, status in zip(ids, chunk, strict=True)
                for record in _maintenance_history(equipment_id, status, technician_id, generator)
            ]
            if maintenance:
                connection.execute(insert(_MAINTENANCE), maintenance)
        print(f"\requipment-list: generating the registry {first + len(chunk):,}/{items:,}", end="", file=sys.stderr)
    print(file=sys.stderr)
    if engine.dialect.name == "postgresql":
        # A registry in use has the planner statistics autovacuum gathers; a freshly loaded one has none yet.
        with engine.begin() as connection:
            connection.execute(text("ANALYZE equipment, maintenance_record"))


def _create_technician(engine: Engine) -> int:
    """The one user maintenance records need for who started them."""
    with Session(engine) as session, session.begin():
        facility = create_organization(
            session, code="NBCT", name="Northbridge Cell Therapy Facility", kind=OrganizationKind.FACILITY
        )
        return create_user(
            session,
            username="bench.technician",
            full_name="Bench Technician",
            email="bench.technician@example.org",
            organization=facility,
            roles={RoleName.TECHNICIAN},
            password=secrets.token_urlsafe(16),
            must_change_password=False,
            actor=None,
            reason="Benchmark user",
        ).id


def _realistic_equipment(number: int, status: EquipmentStatus, generator: random.Random) -> dict[str, Any]:
    """One piece of equipment whose calibration facts give it ``status`` today."""
    now = clock.now()
    today = now.date()
    make = generator.choice(_MAKES)
    interval = make.calibration_interval_days
    due_on: date | None = today + timedelta(days=generator.randint(DUE_SOON_DAYS + 1, interval))
    retired_at: datetime | None = None
    registered_at = now - timedelta(days=generator.randint(interval + 120, 3650), seconds=generator.randrange(86_400))
    if status == EquipmentStatus.DUE_SOON:
        due_on = today + timedelta(days=generator.randint(0, DUE_SOON_DAYS))
    elif status == EquipmentStatus.OVERDUE:
        # Some were registered and never calibrated at all.
        due_on = None if generator.random() < 0.2 else today - timedelta(days=generator.randint(1, 120))
    elif status == EquipmentStatus.RETIRED:
        retired_at = now - timedelta(days=generator.randint(1, 1500))
        due_on = retired_at.date() + timedelta(days=generator.randint(0, interval))
    return {
        "asset_tag": f"EQ-{number:06d}",
        "name": f"{make.equipment_type.value.capitalize()} {number}",
        "equipment_type": make.equipment_type,
        "location": generator.choice(_LOCATIONS),
        "manufacturer": make.manufacturer,
        "model": make.model,
        "serial_number": f"{make.manufacturer[:3].upper()}-{generator.randrange(10**8):08d}",
        "calibration_interval_days": interval,
        "owner_id": None,
        "created_at": registered_at,
        "last_calibrated_on": due_on - timedelta(days=interval) if due_on is not None else None,
        "calibration_due_on": due_on,
        "out_of_tolerance": status == EquipmentStatus.OUT_OF_TOLERANCE,
        "under_maintenance": status == EquipmentStatus.UNDER_MAINTENANCE,
        "retired_at": retired_at,
        "retirement_reason": "Beyond economical repair" if retired_at is not None else None,
    }


def _maintenance_history(
    equipment_id: int, status: EquipmentStatus, technician_id: int, generator: random.Random
) -> list[dict[str, Any]]:
    """An open record for equipment under maintenance; a closed one for about one item in ten."""
    now = clock.now()
    history = []
    if generator.random() < 0.1:
        started_at = now - timedelta(days=generator.randint(30, 900))
        history.append(
            {
                "equipment_id": equipment_id,
                "kind": MaintenanceKind.PLANNED,
                "description": "Annual preventive maintenance",
                "started_at": started_at,
                "started_by_id": technician_id,
                "closed_at": started_at + timedelta(days=2),
                "closed_by_id": technician_id,
                "outcome": "Returned to service",
            }
        )
    if status == EquipmentStatus.UNDER_MAINTENANCE:
        history.append(
            {
                "equipment_id": equipment_id,
                "kind": MaintenanceKind.UNPLANNED,
                "description": "Fault reported by the user; awaiting the service engineer",
                "started_at": now - timedelta(days=generator.randint(0, 20)),
                "started_by_id": technician_id,
                "closed_at": None,
                "closed_by_id": None,
                "outcome": None,
            }
        )
    return history
