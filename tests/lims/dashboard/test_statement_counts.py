"""The dashboard costs the same however much work is open: each queue is one counting statement, and no record is
loaded to count."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from batch_records.service import batches, deviations, execution
from lims import clock, registry
from lims.equipment.service.inventory import create_equipment
from lims.identifiers import IdentifierRule
from lims.identity.models import RoleName, User
from lims.materials.service import receive_lot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import Line, build_line
from tests.helpers import PASSWORD, counted_statements, login

ROLES = (RoleName.TECHNICIAN, RoleName.QA, RoleName.MANAGER, RoleName.ADMIN, RoleName.CLIENT)
#: the batches' starting materials are numbered by the test, not by ISBT 128
OWN_NUMBERING = IdentifierRule(r"SM\d+")


@dataclass
class Lab:
    line: Line
    viewers: dict[RoleName, User]
    made: int = 0


@pytest.fixture
def lab(db_session, create_user, create_organization) -> Lab:
    clock.freeze(clock.now())
    line = build_line(
        db_session,
        author=create_user(RoleName.MANAGER),
        qa=create_user(RoleName.QA),
        operator=create_user(RoleName.TECHNICIAN),
        second_operator=create_user(RoleName.TECHNICIAN),
        untrained=create_user(RoleName.TECHNICIAN),
        sponsor=create_organization(code="HELIX", name="Helix Cell Therapeutics"),
    )
    viewers = {
        RoleName.TECHNICIAN: line.second_operator,
        RoleName.QA: line.qa,
        RoleName.MANAGER: line.author,
        RoleName.ADMIN: create_user(RoleName.ADMIN),
        RoleName.CLIENT: create_user(RoleName.CLIENT),
    }
    return Lab(line, viewers)


def open_work(session, lab: Lab, create_user, units: int) -> None:
    """Add ``units`` of everything the queues count: a batch with a step to verify and a deviation, a lot in
    quarantine, equipment never calibrated, a locked account."""
    line = lab.line
    for _ in range(units):
        lab.made += 1
        batch = batches.start_batch(
            session,
            line.version,
            subject=line.subjects[lab.made % 2],
            starting_material_identity=f"SM{lab.made:06d}",
            user=line.operator,
            identity_rule=OWN_NUMBERING,
        )
        step = batch.steps[0]
        volume, temperature = step.parameters[:2]
        execution.record_entries(session, step, {volume.id: "180", temperature.id: "5"}, user=line.operator)
        signatures.sign(session, step, meaning=SignatureMeaning.PERFORMED, user=line.operator, password=PASSWORD)
        deviations.raise_deviation(session, batch, description="Label smudged on receipt", user=line.operator)
        receive_lot(
            session,
            line.medium,
            supplier="Miltenyi Biotec",
            supplier_lot=f"L{lab.made}",
            received_on=clock.today(),
            expires_on=clock.today() + timedelta(days=90),
            quantity=parse_measurement("1 L"),
            user=line.operator,
        )
        create_equipment(
            session,
            asset_tag=f"DASH-{lab.made}",
            name="Incubator",
            equipment_type=line.cabinet.equipment_type,
            location="Suite C",
            manufacturer="Acme",
            model="X",
            serial_number=f"S{lab.made}",
            calibration_interval_days=365,
            owner=None,
        )
        create_user(RoleName.TECHNICIAN).locked_until = clock.now() + timedelta(minutes=30)
    session.commit()


def dashboard_costs(app, db_session, clients: dict[RoleName, FlaskClient]) -> dict[RoleName, tuple[int, int]]:
    """Statements sent and records loaded for each role's dashboard."""
    costs = {}
    for role, client in clients.items():
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get("/")
        assert page.status_code == 200
        costs[role] = (len(traffic.statements), traffic.loaded)
    return costs


def test_each_roles_dashboard_sends_as_many_statements_and_loads_as_few_records_for_much_work_as_for_little(
    app, db_session, lab, create_user
):
    open_work(db_session, lab, create_user, 1)
    clients = {}
    for role, viewer in lab.viewers.items():
        clients[role] = app.test_client()
        assert login(clients[role], viewer).status_code == 302
        assert clients[role].get("/").status_code == 200
    little = dashboard_costs(app, db_session, clients)
    open_work(db_session, lab, create_user, 4)
    much = dashboard_costs(app, db_session, clients)
    assert much == little
    verifier_page = clients[RoleName.TECHNICIAN].get("/").text
    assert 'class="count">5</span>' in verifier_page  # the steps to verify, counted for the trained verifier


@pytest.mark.parametrize("role", ROLES)
def test_each_queue_is_counted_in_one_statement_loading_no_record(app, db_session, lab, create_user, role):
    open_work(db_session, lab, create_user, 2)
    viewer = lab.viewers[role]
    queues = [queue for queue in registry.current().work_queues if viewer.has_any_role(queue.roles)]
    assert queues or role == RoleName.CLIENT
    db_session.connection()  # the test's session opens its savepoint first, outside what is counted
    for queue in queues:
        with counted_statements(db_session.get_bind()) as traffic:
            queue.count(db_session, viewer, app.config)
        assert (queue.title, len(traffic.statements), traffic.loaded) == (queue.title, 1, 0)
