"""The upgrade that starts the chain of custody of samples received before it was kept: each gets its "received"
link as the receiving service writes it, and its place at the lab; a sample tracked already gets no second one."""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa
from alembic import command
from sqlalchemy.orm import Session

from lims import clock, schema
from lims.audit.models import AuditEvent
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service import organizations, users
from lims.samples.models import Sample
from lims.samples.service import accessioning, aliquots, custody
from lims.samples.service import submissions as submissions_service
from lims.samples.storage_models import CustodyAction, CustodyEvent, CustodyState, SampleLocation
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD
from tests.lims.samples.conftest import accept, row

BEFORE = "20261208_batch_step_open"
REVISION = "20261208_custody_receipts"
FROM_RECEIPT = "Recorded from the receipt at the upgrade: received before the chain of custody was kept."
RECEIVED_AT = clock.now().replace(microsecond=0) - timedelta(hours=2)


def _user(session: Session, organization, role: RoleName, name: str):
    return users.create_user(
        session,
        username=name.lower().replace(" ", "."),
        full_name=name,
        email=f"{name.split()[0].lower()}@example.org",
        organization=organization,
        roles={role},
        password=PASSWORD,
        must_change_password=False,
        actor=None,
        reason="Test user",
    )


def _lab_before_the_chain(session: Session) -> dict[str, Sample]:
    """Samples as they stood received before the chain of custody was kept (their "received" links removed), one
    of them split since, one rejected, one received with its chain, one still expected."""
    facility = organizations.create_organization(session, code="NBCT", name="Lab", kind=OrganizationKind.FACILITY)
    helix = organizations.create_organization(session, code="HELIX", name="Helix", kind=OrganizationKind.CLIENT)
    client = _user(session, helix, RoleName.CLIENT, "Cleo Patel")
    technician = _user(session, facility, RoleName.TECHNICIAN, "Thi Nguyen")
    submission = submissions_service.create_draft(session, helix, reference="Week 49", user=client)
    ids = ("LEGACY", "LEGACY-SPLIT", "LEGACY-REJECTED", "TRACKED", "EXPECTED")
    submissions_service.add_rows(
        session, submission, [row(i, protocol="", subject="", visit="", requested_tests="") for i in ids]
    )
    submissions_service.submit(session, submission)
    samples = {sample.client_sample_id: sample for sample in submission.samples}
    for name in ids[:-1]:
        receipt = (
            accept(accepted=False, rejection_reason="Haemolysed", received_at=RECEIVED_AT)
            if name == "LEGACY-REJECTED"
            else accept(received_at=RECEIVED_AT)
        )
        accessioning.receive_sample(session, samples[name], receipt, user=technician)
    aliquots.split(session, samples["LEGACY-SPLIT"], [parse_measurement("1 mL")], user=technician)
    session.flush()
    legacy = [samples[name].id for name in ("LEGACY", "LEGACY-SPLIT", "LEGACY-REJECTED")]
    session.execute(
        sa.delete(CustodyEvent).where(CustodyEvent.sample_id.in_(legacy), CustodyEvent.action == CustodyAction.RECEIVED)
    )
    session.commit()
    return samples


def _received_links(session: Session) -> dict[int, int]:
    """How many "received" links each sample has, by sample id."""
    rows = session.execute(
        sa.select(CustodyEvent.sample_id, sa.func.count())
        .where(CustodyEvent.action == CustodyAction.RECEIVED)
        .group_by(CustodyEvent.sample_id)
    )
    return {sample_id: count for sample_id, count in rows}


def test_the_upgrade_starts_the_chain_of_samples_received_before_it_was_kept(fresh_database_url):
    engine = create_engine_for(fresh_database_url)
    try:
        with engine.begin() as connection:
            schema.upgrade(connection, BEFORE)
        with Session(engine) as session:
            samples = _lab_before_the_chain(session)
            ids = {name: sample.id for name, sample in samples.items()}
            (child_id,) = session.scalars(sa.select(Sample.id).where(Sample.client_sample_id == "LEGACY-SPLIT-A1"))
            tracked_link = session.scalar(sa.select(CustodyEvent.id).where(CustodyEvent.sample_id == ids["TRACKED"]))
            split_place = session.scalar(
                sa.select(SampleLocation).where(SampleLocation.sample_id == ids["LEGACY-SPLIT"])
            )
            assert split_place is not None
            split_place_before = (split_place.id, split_place.state, split_place.since)
            audit_events_before = session.scalar(sa.select(sa.func.count()).select_from(AuditEvent))
            assert _received_links(session) == {ids["TRACKED"]: 1}

        with engine.begin() as connection:
            schema.upgrade(connection)
        with Session(engine) as session:
            legacy = session.get(Sample, ids["LEGACY"])
            (receipt,) = custody.timeline(session, legacy)
            assert (
                receipt.action,
                receipt.occurred_at,
                receipt.by.full_name,
                receipt.from_location,
                receipt.to_location,
                str(receipt.temperature),
                receipt.note,
            ) == (CustodyAction.RECEIVED, RECEIVED_AT, "Thi Nguyen", None, "Receiving", "20 °C", FROM_RECEIPT)
            place = custody.location_state(session, legacy)
            assert place is not None and (place.state, place.since, place.box_id) == (
                CustodyState.AT_LAB,
                RECEIVED_AT,
                None,
            )

            (rejection,) = custody.timeline(session, session.get(Sample, ids["LEGACY-REJECTED"]))
            assert rejection.note == f"Rejected: Haemolysed. {FROM_RECEIPT}"

            # split since: its chain now starts with its receipt, and it stays where it was
            split = session.get(Sample, ids["LEGACY-SPLIT"])
            assert [event.action for event in custody.timeline(session, split)] == [
                CustodyAction.RECEIVED,
                CustodyAction.ALIQUOTED,
            ]
            place = custody.location_state(session, split)
            assert place is not None and (place.id, place.state, place.since) == split_place_before
            # an aliquot's chain starts with its split, and a sample still expected has none
            child = session.get(Sample, child_id)
            assert [event.action for event in custody.timeline(session, child)] == [CustodyAction.ALIQUOTED]
            expected = session.get(Sample, ids["EXPECTED"])
            assert custody.timeline(session, expected) == [] and custody.location_state(session, expected) is None

            (tracked,) = custody.timeline(session, session.get(Sample, ids["TRACKED"]))
            assert (tracked.id, tracked.note) == (tracked_link, None)
            links = {ids[name]: 1 for name in ("LEGACY", "LEGACY-SPLIT", "LEGACY-REJECTED", "TRACKED")}
            assert _received_links(session) == links
            # the receipts are in the audit trail already (see the revision): the upgrade adds no event to it
            assert session.scalar(sa.select(sa.func.count()).select_from(AuditEvent)) == audit_events_before

        with engine.begin() as connection:
            command.downgrade(schema.alembic_config(connection), BEFORE)
            assert schema.current_revision(connection) == BEFORE
        with engine.begin() as connection:
            schema.upgrade(connection)
            assert schema.current_revision(connection) == REVISION
        with Session(engine) as session:
            # the links stay through the downgrade, and upgrading again adds none
            assert _received_links(session) == links
            assert session.scalar(sa.select(sa.func.count()).select_from(SampleLocation)) == 4
    finally:
        engine.dispose()
