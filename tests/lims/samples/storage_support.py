"""A cold room for the storage tests: a −80 °C freezer, a 2–8 °C fridge and an LN2 tank, each with a rack and a
box, and Helix samples received at the lab that need storing."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from lims.identity.models import RoleName, User
from lims.samples.models import Sample
from lims.samples.service import accessioning, storage
from lims.samples.storage_models import StorageBox, StorageKind, StorageUnit
from lims.units.parsing import parse_measurement
from tests.lims.samples.conftest import Clients, accept, row, submitted


@dataclass
class ColdRoom:
    clients: Clients
    manager: User
    freezer: StorageUnit
    fridge: StorageUnit
    tank: StorageUnit
    #: 3 × 4 in the freezer
    box: StorageBox
    #: 2 × 2 in the fridge
    fridge_box: StorageBox
    #: 9 × 9 in the freezer
    big_box: StorageBox


def unit(db_session: Session, user: User, name: str, kind: StorageKind, low: str, high: str) -> StorageUnit:
    return storage.create_unit(
        db_session,
        name=name,
        kind=kind,
        location="Room 2.14",
        minimum_temperature=parse_measurement(low),
        maximum_temperature=parse_measurement(high),
        user=user,
    )


@pytest.fixture
def cold_room(db_session: Session, clients: Clients, create_user) -> ColdRoom:
    manager = create_user(RoleName.MANAGER, full_name="Mara Lindqvist")
    freezer = unit(db_session, manager, "Freezer F-01", StorageKind.FREEZER, "-86 °C", "-70 °C")
    fridge = unit(db_session, manager, "Fridge R-02", StorageKind.FRIDGE, "2 °C", "8 °C")
    tank = unit(db_session, manager, "LN2 tank N-01", StorageKind.LN2_TANK, "-196 °C", "-150 °C")
    rack = storage.add_rack(db_session, freezer, name="Rack A")
    box = storage.add_box(db_session, rack, name="Box 1", rows=3, columns=4)
    big_box = storage.add_box(db_session, rack, name="Box 2", rows=9, columns=9)
    fridge_box = storage.add_box(
        db_session, storage.add_rack(db_session, fridge, name="Shelf 1"), name="Box R", rows=2, columns=2
    )
    storage.add_box(
        db_session, storage.add_rack(db_session, tank, name="Canister 1"), name="Box N", rows=10, columns=10
    )
    db_session.commit()
    return ColdRoom(clients, manager, freezer, fridge, tank, box, fridge_box, big_box)


def received(db_session: Session, clients: Clients, *ids: str, **overrides: Any) -> list[Sample]:
    """Helix samples (``ids``) on a submitted manifest, each received and accepted; −80 °C serum by default."""
    values = {
        "protocol": "",
        "subject": "",
        "visit": "",
        "sample_type": "serum",
        "quantity": "2 mL",
        "storage_requirement": "-80 °C",
        "requested_tests": "",
    } | overrides
    submission = submitted(db_session, clients, *(row(sample_id, **values) for sample_id in ids or ("HLX-1",)))
    samples = list(submission.samples)
    for sample in samples:
        accessioning.receive_sample(
            db_session,
            sample,
            accept(arrival_temperature=parse_measurement("-78 °C"), received_volume=parse_measurement("2 mL")),
            user=clients.technician,
        )
    db_session.commit()
    return samples
