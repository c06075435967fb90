"""Storage's part of the demo data set: a freezer, a fridge and an LN2 tank with their racks and boxes, the
received samples that need freezing stored in them an hour after receipt, and one of them split into aliquots."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock
from lims.demo_support import acting_as, demo_user
from lims.samples.errors import UnsuitableStorage
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import aliquots, storage
from lims.samples.storage_models import Aliquot, SampleLocation, StorageBox, StorageKind, StorageUnit
from lims.units.parsing import parse_measurement

TECHNICIAN = "t.nguyen"
MANAGER = "m.larsen"
#: name, kind, location, lowest and highest temperature, and its racks with their boxes (name, rows, columns)
UNITS = (
    (
        "Freezer F-01",
        StorageKind.FREEZER,
        "Room 2.14",
        "-86 °C",
        "-70 °C",
        (("Rack A", (("Box A1", 9, 9), ("Box A2", 9, 9))), ("Rack B", (("Box B1", 9, 9),))),
    ),
    ("Fridge R-01", StorageKind.FRIDGE, "Room 2.14", "2 °C", "8 °C", (("Shelf 1", (("Box R1", 9, 9),)),)),
    (
        "LN2 tank N-01",
        StorageKind.LN2_TANK,
        "Room 2.16",
        "-196 °C",
        "-150 °C",
        (("Canister 1", (("Box N1", 10, 10),)),),
    ),
)
_STORABLE = (SampleStatus.RECEIVED, SampleStatus.IN_TESTING, SampleStatus.RESULTS_RELEASED)


def load_storage(session: Session) -> None:
    """Add the units, racks and boxes missing, and store the received samples not yet stored where they fit."""
    manager = demo_user(session, MANAGER)
    with acting_as(session, manager):
        for name, kind, location, low, high, racks in UNITS:
            unit = session.scalar(select(StorageUnit).where(StorageUnit.name == name))
            if unit is None:
                unit = storage.create_unit(
                    session,
                    name=name,
                    kind=kind,
                    location=location,
                    minimum_temperature=parse_measurement(low),
                    maximum_temperature=parse_measurement(high),
                    user=manager,
                )
            existing = {rack.name: rack for rack in unit.racks}
            for rack_name, boxes in racks:
                rack = existing.get(rack_name) or storage.add_rack(session, unit, name=rack_name)
                named = {box.name for box in rack.boxes}
                for box_name, rows, columns in boxes:
                    if box_name not in named:
                        storage.add_box(session, rack, name=box_name, rows=rows, columns=columns)
    _store_received(session)


def _store_received(session: Session) -> None:
    technician = demo_user(session, TECHNICIAN)
    placed = select(SampleLocation.sample_id)
    waiting = list(
        session.scalars(
            select(Sample)
            .where(Sample.status.in_(_STORABLE), Sample.id.not_in(placed), Sample.received_at.is_not(None))
            .order_by(Sample.id)
        )
    )
    boxes = list(session.scalars(select(StorageBox).order_by(StorageBox.id)))
    for sample in waiting:
        assert sample.received_at is not None
        box = next((box for box in boxes if _fits(sample, box)), None)
        if box is None:
            continue  # kept at room temperature: the lab holds no storage unit for it
        position = _free_position(session, box)
        if position is None:
            continue
        with clock.frozen(sample.received_at + timedelta(minutes=45)), acting_as(session, technician):
            storage.store(session, sample, box, position, user=technician, temperature=parse_measurement("-79 °C"))
    _split_one(session)


def _fits(sample: Sample, box: StorageBox) -> bool:
    try:
        storage.check_condition(sample, box.rack.unit)
    except UnsuitableStorage:
        return False
    return sample.storage_minimum is not None or sample.storage_maximum is not None


def _free_position(session: Session, box: StorageBox) -> tuple[int, int] | None:
    for row in storage.grid(session, box):
        for cell in row:
            if cell.sample is None:
                return cell.row, cell.column
    return None


def _split_one(session: Session) -> None:
    """Split the first stored sample into two aliquots and store them beside it, once."""
    if session.scalar(select(Aliquot.id).limit(1)) is not None:
        return
    location = session.scalar(
        select(SampleLocation)
        .join(Sample, Sample.id == SampleLocation.sample_id)
        .where(SampleLocation.box_id.is_not(None), Sample.status == SampleStatus.RECEIVED)
        .order_by(SampleLocation.id)
        .limit(1)
    )
    if location is None or location.box is None:
        return
    parent = location.sample
    assert parent.received_at is not None
    user = demo_user(session, TECHNICIAN)
    with clock.frozen(parent.received_at + timedelta(hours=2)), acting_as(session, user):
        children = aliquots.split(
            session, parent, [parse_measurement("500 µL"), parse_measurement("0.5 mL")], user=user
        )
        for child in children:
            position = _free_position(session, location.box)
            if position is not None:
                storage.store(session, child, location.box, position, user=user)
