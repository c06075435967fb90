"""Eight technicians receiving at once on PostgreSQL: the year's accession numbers stay unique and gap-free."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import clock, schema
from lims.audit import context as audit_context
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service import organizations, users
from lims.samples.models import AccessionCounter, Sample
from lims.samples.service import accessioning
from lims.samples.service import submissions as service
from tests.helpers import PASSWORD
from tests.lims import lock_waits
from tests.lims.samples.conftest import accept, row

RECEIPTS = 8


def test_eight_concurrent_receipts_draw_numbers_one_to_eight(fresh_database_url):
    lock_waits.postgresql_only(fresh_database_url)
    engine = create_engine_for(fresh_database_url, pool_size=RECEIPTS + 1, max_overflow=0)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection)
        with Session(engine) as session:
            facility = organizations.create_organization(
                session, code="NBCT", name="NB", kind=OrganizationKind.FACILITY
            )
            client = organizations.create_organization(
                session, code="HELIX", name="Helix", kind=OrganizationKind.CLIENT
            )
            technician = users.create_user(
                session,
                username="tech",
                full_name="Tech",
                email="t@x.org",
                organization=facility,
                roles={RoleName.TECHNICIAN},
                password=PASSWORD,
                must_change_password=False,
                actor=None,
                reason="Test user",
            )
            submission = service.create_draft(session, client, reference="Rush", user=None)
            service.add_rows(
                session,
                submission,
                [row(f"S-{n}", protocol="", subject="", visit="", requested_tests="") for n in range(RECEIPTS)],
            )
            service.submit(session, submission)
            sample_ids = [sample.id for sample in submission.samples]
            technician_id = technician.id
            session.commit()

        start = threading.Barrier(RECEIPTS)
        outcomes: list[BaseException | str | None] = [None] * RECEIPTS

        def receive(index: int) -> None:
            try:
                with Session(engine) as session:
                    audit_context.act_as(session, audit_context.Actor(technician_id, "Tech"))
                    sample = session.get(Sample, sample_ids[index])
                    user = session.get(User, technician_id)
                    assert sample is not None and user is not None
                    start.wait(10)
                    outcomes[index] = accessioning.receive_sample(session, sample, accept(), user=user).accession_number
                    session.commit()
            except BaseException as error:  # noqa: BLE001 - reported below
                outcomes[index] = error

        threads = [threading.Thread(target=receive, args=(index,)) for index in range(RECEIPTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        errors = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        assert not errors, errors
        year = clock.today().year
        assert sorted(outcomes) == [f"S{year}-{n:06d}" for n in range(1, RECEIPTS + 1)]  # type: ignore[type-var]
        with Session(engine) as session:
            stored = session.scalars(select(Sample.accession_number).order_by(Sample.accession_number)).all()
            assert stored == sorted(outcomes)  # type: ignore[type-var]
            assert session.get(AccessionCounter, year).last_number == RECEIPTS  # type: ignore[union-attr]
    finally:
        engine.dispose()
