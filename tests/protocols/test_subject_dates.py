"""A subject's dates happen in order: enrolment, then apheresis, then infusion; a correction gives its reason."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.errors import DateInFuture, DatesOutOfOrder
from lims.identity.models import RoleName
from protocols.models import Subject
from protocols.service import subjects as subjects_service
from tests.helpers import submit

TODAY = date(2026, 3, 1)
ENROLLED = date(2026, 1, 5)


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC))


@pytest.fixture
def effective_version(car_t_protocol, approve_version):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    return version


@pytest.fixture
def enrol(db_session, car_t_protocol, effective_version):
    codes = iter(range(1, 100))

    def make(**dates):
        return subjects_service.enrol_subject(
            db_session,
            car_t_protocol,
            code=f"HLX301-014-{next(codes):04d}",
            site="014",
            arm=effective_version.arms[0],
            consent_version="1.0",
            **{"enrolled_on": ENROLLED, **dates},
        )

    return make


@pytest.mark.parametrize(
    ("dates", "field", "message"),
    [
        ({"apheresis_on": date(2026, 1, 4)}, "apheresis_on", "before the subject's enrolment on 2026-01-05"),
        ({"infused_on": date(2026, 1, 4)}, "infused_on", "before the subject's enrolment on 2026-01-05"),
        (
            {"apheresis_on": date(2026, 1, 20), "infused_on": date(2026, 1, 19)},
            "infused_on",
            "cannot come before the apheresis on 2026-01-20",
        ),
    ],
    ids=["apheresis before enrolment", "infusion before enrolment", "infusion before apheresis"],
)
def test_enrolment_refuses_dates_out_of_order(db_session, enrol, dates, field, message):
    with pytest.raises(DatesOutOfOrder, match=message) as refused:
        enrol(**dates)
    assert refused.value.field == field
    assert db_session.scalars(select(Subject)).all() == []


def test_enrolment_allows_each_event_on_the_day_of_the_one_before(enrol):
    subject = enrol(apheresis_on=ENROLLED, infused_on=ENROLLED)
    assert (subject.enrolled_on, subject.apheresis_on, subject.infused_on) == (ENROLLED, ENROLLED, ENROLLED)


def test_enrolment_refuses_an_apheresis_or_infusion_that_has_not_happened(enrol):
    with pytest.raises(DateInFuture):
        enrol(apheresis_on=date(2026, 3, 2))
    with pytest.raises(DateInFuture):
        enrol(apheresis_on=TODAY, infused_on=date(2026, 3, 2))
    assert enrol(apheresis_on=TODAY, infused_on=TODAY).infused_on == TODAY


def test_a_corrected_enrolment_date_keeps_the_order_and_its_reason_is_audited(db_session, enrol):
    subject = enrol(apheresis_on=date(2026, 1, 20))
    unchanged = {"site": "014", "consent_version": "1.0", "apheresis_on": date(2026, 1, 20), "infused_on": None}
    with pytest.raises(DatesOutOfOrder, match="before the subject's enrolment on 2026-01-21"):
        subjects_service.update_subject(
            db_session, subject, enrolled_on=date(2026, 1, 21), reason="Typo in the enrolment date", **unchanged
        )
    with pytest.raises(ReasonRequired):
        subjects_service.update_subject(db_session, subject, enrolled_on=date(2026, 1, 20), reason="", **unchanged)
    subjects_service.update_subject(
        db_session, subject, enrolled_on=date(2026, 1, 20), reason="Consent signed on the apheresis day", **unchanged
    )
    db_session.flush()
    assert subject.enrolled_on == date(2026, 1, 20)
    correction = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "subject", AuditEvent.entity_id == str(subject.id))
    ).all()[-1]
    assert correction.reason == "Consent signed on the apheresis day"
    assert json.loads(correction.changes)["enrolled_on"] == ["2026-01-05", "2026-01-20"]


def test_an_update_that_leaves_the_enrolment_date_out_keeps_it(db_session, enrol):
    subject = enrol()
    subjects_service.update_subject(
        db_session,
        subject,
        site="014",
        consent_version="1.0",
        apheresis_on=ENROLLED,
        infused_on=None,
        reason="Apheresis done",
    )
    assert (subject.enrolled_on, subject.apheresis_on) == (ENROLLED, ENROLLED)


def test_the_enrolment_form_refuses_dates_out_of_order_beside_the_field(
    client, db_session, car_t_protocol, effective_version, signed_in
):
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/protocols/{car_t_protocol.id}/subjects"
    fields = {
        "code": "HLX301-014-0001",
        "site": "014",
        "arm_id": str(effective_version.arms[0].id),
        "enrolled_on": "2026-01-05",
        "consent_version": "1.0",
    }
    refused = submit(client, url, {**fields, "apheresis_on": "2026-01-04"})
    assert refused.status_code == 422
    assert "This date is before the subject&#39;s enrolment on 2026-01-05." in refused.text
    assert 'id="apheresis_on-error"' in refused.text
    assert db_session.scalars(select(Subject)).all() == []
    assert submit(client, url, {**fields, "apheresis_on": "2026-01-05"}).status_code == 303


def test_the_subject_page_corrects_the_enrolment_date_only_in_order(client, db_session, enrol, signed_in):
    subject = enrol(apheresis_on=date(2026, 1, 20))
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/protocols/subjects/{subject.id}"
    assert 'value="2026-01-05"' in client.get(url).text
    fields = {"site": "014", "consent_version": "1.0", "apheresis_on": "2026-01-20", "reason": "Wrong enrolment date"}
    refused = submit(client, url, {**fields, "enrolled_on": "2026-01-21"})
    assert refused.status_code == 422 and "before the subject&#39;s enrolment on 2026-01-21" in refused.text
    db_session.expire_all()
    assert db_session.get(Subject, subject.id).enrolled_on == ENROLLED
    assert submit(client, url, {**fields, "enrolled_on": "2026-01-20"}).status_code == 303
    db_session.expire_all()
    assert db_session.get(Subject, subject.id).enrolled_on == date(2026, 1, 20)
