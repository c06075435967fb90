"""A small CAR-T line: an effective master record, trained operators, calibrated equipment, released lots."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest

from batch_records import cart_designs, cart_line
from batch_records.models import Batch, BatchReleaseTest, MbrVersion
from batch_records.service import batches, release
from lims import clock
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service import inventory
from lims.identity.models import Organization, RoleName, User
from lims.materials.models import Material, MaterialLot
from lims.testing import service as testing
from lims.testing.models import ResultKind, TestResult
from lims.training import service as training
from lims.units.kinds import ValueKind
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
    design: cart_designs.MasterDesign = cart_designs.COMPACT,
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

    def make(design: cart_designs.MasterDesign = cart_designs.COMPACT) -> Line:
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


def cd3_result_on_a_flow_cytometer(
    session, line: Line, batch: Batch, *, cytometer_name: str = "Flow cytometer", analysts: Sequence[User] = ()
) -> TestResult:
    """A CD3+ release result of ``batch`` measured on the flow cytometer FCM-008, as in the demo: the test is added to
    the batch's release tests, and the operator (and ``analysts``) trained on its method."""
    cytometer = cart_line.calibrated(
        session,
        inventory.create_equipment(
            session,
            asset_tag="FCM-008",
            name=cytometer_name,
            equipment_type=EquipmentType.FLOW_CYTOMETER,
            location="QC lab",
            manufacturer="Beckman Coulter",
            model="CytoFLEX LX",
            serial_number="FCM-008",
            calibration_interval_days=180,
            owner=None,
        ),
        due_on=TODAY + timedelta(days=100),
    )
    cd3 = testing.create_definition(
        session,
        code="QC-CD3",
        name="CD3+ T cells",
        method="Flow cytometry",
        result_kind=ResultKind.QUANTITATIVE,
        unit="%",
        specification="≥ 80 %",
        value_kind=ValueKind.FRACTION,
        instrument_type=EquipmentType.FLOW_CYTOMETER,
    )
    for analyst in (line.operator, *analysts):
        training.record_training(
            session,
            user=analyst,
            subject=cd3.training_subject,
            trained_on=TODAY,
            expires_on=None,
            recorded_by=line.author,
        )
    with audit_context.reason_for_change(session, "Arranged: the batch is also released on its CD3+ content"):
        batch.release_tests.append(BatchReleaseTest(definition=cd3, specification=cd3.specification))
    return release.record_release_result(
        session, batch.release_tests[-1], "93.4", user=line.operator, instrument_id=cytometer.id
    )
