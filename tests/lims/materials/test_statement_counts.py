"""A lot's page sends as many statements for a lot taken from ten times, by several people for several batch steps,
as for one taken from once."""

from __future__ import annotations

from datetime import timedelta

from batch_records.service import batches, step_uses
from lims import clock
from lims.identity.models import RoleName
from lims.materials import service
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import build_line
from tests.helpers import PASSWORD, counted_statements, login


def test_a_lots_page_sends_as_many_statements_for_many_takings_as_for_one(
    app, db_session, create_user, create_organization
):
    line = build_line(
        db_session,
        author=create_user(RoleName.MANAGER),
        qa=create_user(RoleName.QA),
        operator=create_user(RoleName.TECHNICIAN),
        second_operator=create_user(RoleName.TECHNICIAN),
        untrained=create_user(RoleName.TECHNICIAN),
        sponsor=create_organization(),
    )
    batch = batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=line.operator,
    )
    lots = []
    for supplier_lot in ("A-1", "B-10"):
        lot = service.receive_lot(
            db_session,
            line.medium,
            supplier="Miltenyi Biotec",
            supplier_lot=supplier_lot,
            received_on=clock.today() - timedelta(days=1),
            expires_on=clock.today() + timedelta(days=90),
            quantity=parse_measurement("1 L"),
            user=line.operator,
        )
        signatures.sign(db_session, lot, meaning=SignatureMeaning.RELEASED, user=line.qa, password=PASSWORD)
        lots.append(lot)
    once, ten_times = lots
    takers = (line.operator, line.second_operator, line.author)
    service.consume(
        db_session,
        once,
        parse_measurement("10 mL"),
        user=line.operator,
        record_type=step_uses.BATCH_STEP,
        record_id=batch.steps[0].id,
    )
    for taking in range(10):
        service.consume(
            db_session,
            ten_times,
            parse_measurement("10 mL"),
            user=takers[taking % len(takers)],
            record_type=step_uses.BATCH_STEP,
            record_id=batch.steps[taking % len(batch.steps)].id,
        )
    db_session.commit()
    client = app.test_client()
    assert login(client, line.qa).status_code == 302

    def statements(url: str) -> int:
        assert client.get(url).status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get(url)
        assert page.status_code == 200
        return len(traffic.statements)

    assert statements(f"/materials/lots/{ten_times.id}") == statements(f"/materials/lots/{once.id}")
