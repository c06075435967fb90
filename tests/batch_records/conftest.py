"""A small CAR-T line: an effective master record, trained operators, calibrated equipment, released lots."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest

from batch_records import cart_line
from batch_records.models import Batch, MbrVersion
from batch_records.service import batches
from lims import clock
from lims.equipment.models import Equipment, EquipmentType
from lims.identity.models import Organization, RoleName, User
from lims.materials.models import Material, MaterialLot
from protocols.models import Subject
from tests.helpers import PASSWORD

TODAY = date(2030, 4, 10)


@dataclass
class Line:
    version: MbrVersion
    operator: User
    second_operator: User
    untrained: User
    qa: User
    author: User
    cabinet: Equipment
    centrifuge: Equipment
    medium: Material
    medium_lot: MaterialLot
    subject: Subject
    subjects: list[Subject]


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC))


def build_line(
    session,
    *,
    author: User,
    qa: User,
    operator: User,
    second_operator: User,
    untrained: User,
    sponsor: Organization,
    design: cart_line.MasterDesign = cart_line.COMPACT,
) -> Line:
    """Build the compact CAR-T line (or ``design``'s) around the given people, dated from the clock's today (frozen
    or not)."""
    built = cart_line.build_line(
        session,
        cart_line.Crew(author=author, qa=qa, operators=(operator, second_operator), password=PASSWORD),
        sponsor=sponsor,
        design=design,
    )
    return Line(
        version=built.version,
        operator=operator,
        second_operator=second_operator,
        untrained=untrained,
        qa=qa,
        author=author,
        cabinet=built.equipment[EquipmentType.BIOSAFETY_CABINET],
        centrifuge=built.equipment[EquipmentType.CENTRIFUGE],
        medium=built.medium,
        medium_lot=built.medium_lot,
        subject=built.subjects[0],
        subjects=list(built.subjects),
    )


@pytest.fixture
def make_line(db_session, create_user, create_organization) -> Callable[..., Line]:
    """Builds the line of ``design`` (the compact one unless told) for Helix, with its people."""

    def make(design: cart_line.MasterDesign = cart_line.COMPACT) -> Line:
        return build_line(
            db_session,
            author=create_user(RoleName.MANAGER, full_name="Maja Larsen"),
            qa=create_user(RoleName.QA, full_name="Quinn Okafor"),
            operator=create_user(RoleName.TECHNICIAN, full_name="Tran Nguyen"),
            second_operator=create_user(RoleName.TECHNICIAN, full_name="Sara Lind"),
            untrained=create_user(RoleName.TECHNICIAN, full_name="Noah Berg"),
            sponsor=create_organization(code="HELIX", name="Helix Cell Therapeutics"),
            design=design,
        )

    return make


@pytest.fixture
def line(make_line) -> Line:
    return make_line()


@pytest.fixture
def batch(db_session, line) -> Batch:
    return batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=line.operator,
    )
