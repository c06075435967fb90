"""Storage: the lab's freezers, fridges and LN2 tanks, their racks and boxes, and putting samples in them.

A sample goes only where the unit's temperatures meet its storage requirement. A box position holds one sample:
a store or move first locks the box's row (``SELECT … FOR UPDATE``), then reads the position, so two technicians
storing into one position at once are served one after the other and the second is told it is taken; the unique
position of ``sample_location`` stands behind it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims import clock
from lims.db import STORABLE_IDS, get_record, lock_for_update
from lims.errors import AlreadyExists, RecordNotFound
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.samples.errors import CustodyRefused, PositionOccupied, StorageRefused, UnsuitableStorage
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import custody
from lims.samples.storage_models import (
    MAX_BOX_SIDE,
    CustodyAction,
    CustodyEvent,
    SampleLocation,
    StorageBox,
    StorageKind,
    StorageRack,
    StorageUnit,
)
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement

_POSITION = re.compile(r"^\s*([A-Za-z])\s*-?\s*(\d{1,2})\s*$")


# The hierarchy


def create_unit(
    session: Session,
    *,
    name: str,
    kind: StorageKind,
    location: str,
    minimum_temperature: Measurement,
    maximum_temperature: Measurement,
    user: User,
) -> StorageUnit:
    """Register a freezer, fridge or LN2 tank with the temperatures it holds."""
    for field, bound in (("minimum_temperature", minimum_temperature), ("maximum_temperature", maximum_temperature)):
        try:
            bound.to("degC")
        except IncompatibleUnits:
            raise StorageRefused(f"{bound} is not a temperature; enter e.g. -86 °C.", field=field) from None
    if minimum_temperature.compare(maximum_temperature) > 0:
        raise StorageRefused(
            f"The lowest temperature ({minimum_temperature}) is above the highest ({maximum_temperature}).",
            field="maximum_temperature",
        )
    name = name.strip()
    if session.scalar(select(StorageUnit.id).where(StorageUnit.name == name)) is not None:
        raise AlreadyExists(f"A storage unit is already named {name}.", field="name")
    unit = StorageUnit(
        name=name,
        kind=kind,
        location=location.strip(),
        minimum_temperature=minimum_temperature,
        maximum_temperature=maximum_temperature,
        created_at=clock.now(),
        created_by_id=user.id,
    )
    session.add(unit)
    session.flush()
    return unit


def add_rack(session: Session, unit: StorageUnit, *, name: str) -> StorageRack:
    """Add a rack (or canister) to a storage unit."""
    name = name.strip()
    taken = select(StorageRack.id).where(StorageRack.unit_id == unit.id, StorageRack.name == name)
    if session.scalar(taken) is not None:
        raise AlreadyExists(f"{unit.name} already has a rack named {name}.", field="name")
    rack = StorageRack(unit_id=unit.id, name=name, created_at=clock.now())
    session.add(rack)
    session.flush()
    return rack


def add_box(session: Session, rack: StorageRack, *, name: str, rows: int, columns: int) -> StorageBox:
    """Add a box of ``rows`` × ``columns`` positions to a rack."""
    for field, count in (("rows", rows), ("columns", columns)):
        if not 1 <= count <= MAX_BOX_SIDE:
            raise StorageRefused(f"A box has 1 to {MAX_BOX_SIDE} {field}.", field=field)
    name = name.strip()
    if session.scalar(select(StorageBox.id).where(StorageBox.rack_id == rack.id, StorageBox.name == name)):
        raise AlreadyExists(f"{rack.name} already holds a box named {name}.", field="name")
    box = StorageBox(rack_id=rack.id, name=name, rows=rows, columns=columns, created_at=clock.now())
    session.add(box)
    session.flush()
    return box


def get_unit(session: Session, unit_id: int) -> StorageUnit:
    return get_record(session, StorageUnit, unit_id, "storage unit")


def get_rack(session: Session, rack_id: int) -> StorageRack:
    return get_record(session, StorageRack, rack_id, "rack")


def get_box(session: Session, box_id: int) -> StorageBox:
    """A box with its rack and unit (whose names make its path)."""
    box = None
    if box_id in STORABLE_IDS:
        box = session.scalar(
            select(StorageBox)
            .options(selectinload(StorageBox.rack).selectinload(StorageRack.unit))
            .where(StorageBox.id == box_id)
        )
    if box is None:
        raise RecordNotFound(f"There is no box with id {box_id}.", field="box_id")
    return box


@dataclass(frozen=True)
class UnitOccupancy:
    unit: StorageUnit
    capacity: int
    stored: int


def units_after(session: Session, *, after: tuple[int] | None, limit: int) -> KeysetPage[UnitOccupancy]:
    """Storage units in the order they were registered, each with its capacity and the samples stored in it, a
    page at a time: three queries whatever the number of units, racks, boxes or samples."""
    page = page_after(session, select(StorageUnit), (StorageUnit.id,), after=after, limit=limit)
    unit_ids = [unit.id for unit in page.items]
    capacity = dict(
        session.execute(
            select(StorageRack.unit_id, func.sum(StorageBox.rows * StorageBox.columns))
            .join(StorageBox, StorageBox.rack_id == StorageRack.id)
            .where(StorageRack.unit_id.in_(unit_ids))
            .group_by(StorageRack.unit_id)
        ).all()
    )
    stored = dict(
        session.execute(
            select(StorageRack.unit_id, func.count(SampleLocation.id))
            .join(StorageBox, StorageBox.rack_id == StorageRack.id)
            .join(SampleLocation, SampleLocation.box_id == StorageBox.id)
            .where(StorageRack.unit_id.in_(unit_ids))
            .group_by(StorageRack.unit_id)
        ).all()
    )
    items = [UnitOccupancy(unit, int(capacity.get(unit.id) or 0), int(stored.get(unit.id) or 0)) for unit in page.items]
    return KeysetPage(items, page.next_key)


def boxes_of(session: Session, unit: StorageUnit) -> list[tuple[StorageRack, list[tuple[StorageBox, int]]]]:
    """A unit's racks, each with its boxes and how many samples each box holds, in two queries."""
    racks = list(
        session.scalars(
            select(StorageRack)
            .options(selectinload(StorageRack.boxes))
            .where(StorageRack.unit_id == unit.id)
            .order_by(StorageRack.id)
        )
    )
    counts = dict(
        session.execute(
            select(SampleLocation.box_id, func.count())
            .join(StorageBox, StorageBox.id == SampleLocation.box_id)
            .join(StorageRack, StorageRack.id == StorageBox.rack_id)
            .where(StorageRack.unit_id == unit.id)
            .group_by(SampleLocation.box_id)
        ).all()
    )
    return [(rack, [(box, counts.get(box.id, 0)) for box in rack.boxes]) for rack in racks]


@dataclass(frozen=True)
class Position:
    row: int
    column: int
    label: str
    sample: Sample | None


def grid(session: Session, box: StorageBox) -> list[list[Position]]:
    """The box's positions row by row, each with the sample it holds: one query whatever the box's size."""
    held = {
        (location.position_row, location.position_column): location.sample
        for location in session.scalars(
            select(SampleLocation).options(selectinload(SampleLocation.sample)).where(SampleLocation.box_id == box.id)
        )
    }
    return [
        [
            Position(row, column, custody.position_label(row, column), held.get((row, column)))
            for column in range(1, box.columns + 1)
        ]
        for row in range(1, box.rows + 1)
    ]


def parse_position(box: StorageBox, text: str) -> tuple[int, int]:
    """A position of ``box`` as typed: its row letter and column number (``B4``)."""
    found = _POSITION.match(text or "")
    last = custody.position_label(box.rows, box.columns)
    if found is None:
        raise StorageRefused(
            f"Write the position as its row letter and column number, from A1 to {last}.", field="position"
        )
    row, column = ord(found.group(1).upper()) - ord("A") + 1, int(found.group(2))
    if not (1 <= row <= box.rows and 1 <= column <= box.columns):
        raise StorageRefused(
            f"Box {box.name} has positions A1 to {last}; {found.group(1).upper()}{column} is not one of them.",
            field="position",
        )
    return row, column


# Putting samples in


def check_condition(sample: Sample, unit: StorageUnit) -> None:
    """Refuse a unit whose temperatures do not meet the sample's storage requirement.

    A requirement of one temperature (−80 °C) is met by a unit whose range includes it; a range (2–8 °C) or a
    bound (≤ −60 °C) by a unit whose whole range lies within it. A sample whose requirement names no temperature
    (one that arrived without a manifest row) may go anywhere.
    """
    low, high = sample.storage_minimum, sample.storage_maximum
    if low is None and high is None:
        return
    unit_low, unit_high = unit.minimum_temperature, unit.maximum_temperature
    if low is not None and high is not None and low.compare(high) == 0:
        meets = unit_low.compare(low) <= 0 <= unit_high.compare(low)
    else:
        meets = (low is None or unit_low.compare(low) >= 0) and (high is None or unit_high.compare(high) <= 0)
    if not meets:
        raise UnsuitableStorage(
            f"{custody.name_of(sample)} must be stored at {sample.storage_requirement}, but {unit.name} "
            f"({unit.kind.value}) holds {unit.temperature_range}. Choose a unit that keeps it at "
            f"{sample.storage_requirement}.",
            field="sample",
        )


def store(
    session: Session,
    sample: Sample,
    box: StorageBox,
    position: tuple[int, int],
    *,
    user: User,
    move: bool = False,
    at: datetime | None = None,
    temperature: Measurement | None = None,
    note: str | None = None,
) -> CustodyEvent:
    """Put a sample at the lab into a box position (``move``: a stored sample from its position to this one)."""
    if sample.status == SampleStatus.REJECTED:
        raise CustodyRefused(f"{custody.name_of(sample)} was rejected at receipt; it is not put into storage.")
    check_condition(sample, box.rack.unit)
    # The box first: every store into it waits here, then reads the position as the one before left it.
    lock_for_update(session, box)
    location = custody.location_of(session, sample, lock=True)
    row, column = position
    holder = session.scalar(
        select(SampleLocation)
        .options(selectinload(SampleLocation.sample))
        .where(
            SampleLocation.box_id == box.id,
            SampleLocation.position_row == row,
            SampleLocation.position_column == column,
        )
        .execution_options(populate_existing=True)
    )
    label = custody.position_label(row, column)
    if holder is not None and holder.sample_id == sample.id:
        raise CustodyRefused(f"{custody.name_of(sample)} is already in {box.path} / {label}.", field="position")
    if holder is not None:
        raise PositionOccupied(
            f"Position {label} of {box.path} holds {custody.name_of(holder.sample)}; choose a free position.",
            field="position",
        )
    return custody.move(
        session,
        sample,
        location,
        CustodyAction.MOVED if move else CustodyAction.STORED,
        user=user,
        at=at,
        to_box_id=box.id,
        to_position=position,
        temperature=temperature,
        note=note,
    )


def find_received_sample(session: Session, accession_number: str) -> Sample:
    """A received sample by its accession number (as a technician scans or types it)."""
    sample = session.scalar(select(Sample).where(Sample.accession_number == accession_number.strip().upper()))
    if sample is None:
        raise RecordNotFound(f"No received sample has accession number {accession_number.strip()}.", field="sample")
    return sample
