"""A material and a way to receive lots of it, on a frozen day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims import clock
from lims.identity.models import RoleName
from lims.materials import service
from lims.units.parsing import parse_measurement

TODAY = date(2030, 4, 10)


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC))


@pytest.fixture
def medium(db_session):
    return service.create_material(
        db_session,
        part_number="med-001",
        name="TexMACS GMP medium",
        specification="Sterile, endotoxin < 0.5 EU/mL",
        storage_condition="2–8 °C, dark",
        unit="mL",
    )


@pytest.fixture
def receive(db_session, medium, create_user):
    technician = create_user(RoleName.TECHNICIAN)

    def make(quantity: str = "1 L", expires_in_days: int = 180):
        return service.receive_lot(
            db_session,
            medium,
            supplier="Miltenyi Biotec",
            supplier_lot="7231104",
            received_on=TODAY - timedelta(days=1),
            expires_on=TODAY + timedelta(days=expires_in_days),
            quantity=parse_measurement(quantity),
            user=technician,
        )

    make.technician = technician
    return make
