"""The protocol link: a subject's calendar shows each visit's samples expected and received and flags those
collected outside the visit's window, for staff and for the sponsor's portal, at a cost that does not grow with
the subject's visits and samples."""

from __future__ import annotations

from datetime import timedelta

from lims import clock
from lims.identity.models import RoleName
from lims.samples.service import accessioning
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement, parse_range
from lims.versioning import service as versioning
from protocols.models import ReferenceEvent
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD, counted_statements, login
from tests.lims.samples.conftest import accept, row, submitted


def _collected(days_ago: int) -> str:
    moment = clock.now() - timedelta(days=days_ago)
    return moment.astimezone(clock.facility_zone()).strftime("%Y-%m-%d %H:%M")


def test_the_subject_calendar_shows_received_samples_and_flags_one_outside_the_window(
    app, client, db_session, clients, signed_in
):
    # The screening visit's window is the enrolment day, ten days ago; one sample was collected then, one later.
    on_time = row("ON-TIME", collected_at=_collected(10))
    late = row("LATE", collected_at=_collected(1))
    submission = submitted(db_session, clients, on_time, late)
    accessioning.receive_sample(db_session, submission.samples[1], accept(), user=clients.technician)
    db_session.commit()
    [visit] = subjects_service.sample_calendar(db_session, clients.subject)
    placements = {sample.label: placement for sample, placement in visit.samples}
    assert placements == {"ON-TIME": "in window", submission.samples[1].accession_number: "late"}
    assert (visit.expected, visit.received, visit.outside_window) == (1, 1, 1)
    signed_in(RoleName.TECHNICIAN)
    page = client.get(f"/protocols/subjects/{clients.subject.id}").text
    assert "1 of 1" in page and "collected late, outside the window" in page and "ON-TIME" in page


def test_the_sponsor_sees_its_subjects_calendar_in_the_portal_and_no_other(app, client, db_session, clients):
    submitted(db_session, clients, row("LATE", collected_at=_collected(1)))
    login(client, clients.helix_user)
    portal = client.get("/portal").text
    assert f"/portal/subjects/{clients.subject.id}" in portal
    page = client.get(f"/portal/subjects/{clients.subject.id}").text
    assert "HLX301-014-0007" in page and "0 of 1" in page and "collected late, outside the window" in page
    other = app.test_client()
    login(other, clients.nordic_user)
    assert other.get(f"/portal/subjects/{clients.subject.id}").status_code == 404


def _protocol_with_visits(db_session, clients, number: str, visits: int):
    """A draft Helix protocol with ``visits`` weekly visits (a day either side), each calling for blood."""
    protocol = protocol_service.create_protocol(
        db_session,
        number=number,
        title="Calendar cost",
        sponsor=clients.helix,
        phase=protocol_service.parse_phase("Phase 3"),
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    design = protocol.versions[0]
    arm = design_service.add_arm(db_session, design, code="A", name="HLX-19")
    for week in range(visits):
        visit = design_service.add_visit(
            db_session,
            design,
            code=f"W{week}",
            name=f"Week {week}",
            reference_event=ReferenceEvent.ENROLMENT,
            day_offset=7 * week,
            window_before_days=1,
            window_after_days=1,
        )
        design_service.add_sample_requirement(
            db_session,
            visit,
            sample_type="peripheral blood",
            volume=parse_measurement("10 mL"),
            container="K2EDTA tube",
            handling=parse_range("15–25 °C"),
            max_hours_to_processing=24,
        )
    return protocol, design, arm


def test_the_calendar_costs_as_many_statements_for_six_visits_and_samples_as_for_one(
    app, client, db_session, clients, create_user, signed_in
):
    manager, qa = create_user(RoleName.MANAGER), create_user(RoleName.QA)
    subject_ids = []
    for number, visits in (("CAL-1", 1), ("CAL-6", 6)):
        protocol, design, arm = _protocol_with_visits(db_session, clients, number, visits)
        signatures.sign(db_session, design, meaning=SignatureMeaning.AUTHORED, user=manager, password=PASSWORD)
        signatures.sign(db_session, design, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
        versioning.make_effective(db_session, design)
        subject = subjects_service.enrol_subject(
            db_session,
            protocol,
            code=f"{number}-0001",
            site="DE-01",
            arm=arm,
            enrolled_on=clock.today() - timedelta(days=7 * visits),
            consent_version="2.0",
        )
        rows = [
            row(
                f"{number}-W{week}",
                protocol=number,
                subject=subject.code,
                visit=f"W{week}",
                collected_at=_collected(7 * visits - 7 * week),
            )
            for week in range(visits)
        ]
        submission = submitted(db_session, clients, *rows, reference=number)
        for sample in submission.samples:
            accessioning.receive_sample(db_session, sample, accept(), user=clients.technician)
        db_session.commit()
        subject_ids.append((subject.id, visits))
    signed_in(RoleName.TECHNICIAN)
    counted = []
    for subject_id, visits in subject_ids:
        client.get(f"/protocols/subjects/{subject_id}")
        with counted_statements(db_session.get_bind()) as traffic:
            page = client.get(f"/protocols/subjects/{subject_id}")
        assert page.status_code == 200 and "outside the window" not in page.text
        assert page.text.count("1 of 1") == visits
        counted.append(len(traffic.statements))
    assert counted[0] == counted[1], counted
