"""Protocol pages through HTTP: registration, design, two-person approval, amendment diff, subjects, ODM."""

from __future__ import annotations

import xml.etree.ElementTree as ElementTree
from datetime import date

import pytest
from sqlalchemy import event, select

from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from protocols.models import Protocol, ProtocolPhase, ReferenceEvent, VersionStatus
from protocols.service import design as design_service
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service
from tests.helpers import PASSWORD, duplicate_ids, history_link, login, submit


def test_manager_registers_a_protocol_and_designs_its_draft(client, create_organization, db_session, signed_in):
    sponsor = create_organization(code="HELIX", name="Helix Cell Therapeutics")
    db_session.commit()
    signed_in(RoleName.MANAGER)
    created = submit(
        client,
        "/protocols/new",
        {
            "number": "HLX-301",
            "title": "Phase 3 study of HLX-19",
            "sponsor_id": str(sponsor.id),
            "phase": "phase 3",
            "therapeutic_area": "Haematology",
            "investigational_product": "HLX-19 CAR-T",
            "nct_id": "NCT09999999",
        },
    )
    assert created.status_code == 303
    version_url = created.headers["Location"]
    assert (
        submit(
            client,
            version_url,
            {"code": "A", "name": "HLX-19", "arm_type": "experimental"},
            action=version_url + "/arms",
        ).status_code
        == 303
    )
    assert (
        submit(
            client,
            version_url,
            {
                "code": "D7",
                "name": "Day 7",
                "reference_event": "infusion",
                "day_offset": "7",
                "window_before_days": "1",
                "window_after_days": "1",
            },
            action=version_url + "/visits",
        ).status_code
        == 303
    )
    protocol = db_session.scalars(select(Protocol)).one()
    visit_id = protocol.versions[0].visits[0].id
    bad = submit(
        client,
        version_url,
        {
            "visit_id": str(visit_id),
            "sample_type": "blood",
            "volume": "6 g",
            "container": "tube",
            "handling": "15-25 °C",
            "max_hours_to_processing": "24",
        },
        action=version_url + "/requirements",
    )
    assert bad.status_code == 422 and "must be a volume" in bad.text
    good = submit(
        client,
        version_url,
        {
            "visit_id": str(visit_id),
            "sample_type": "peripheral blood",
            "volume": "6 mL",
            "container": "K2EDTA tube",
            "handling": "15-25 °C",
            "max_hours_to_processing": "24",
        },
        action=version_url + "/requirements",
    )
    assert good.status_code == 303
    page = client.get(version_url).text
    assert "peripheral blood: 6 mL in K2EDTA tube" in page and duplicate_ids(page) == []


def test_an_earlier_phase_is_refused_in_the_form(client, create_organization, db_session, signed_in):
    sponsor = create_organization()
    db_session.commit()
    signed_in(RoleName.MANAGER)
    response = submit(
        client,
        "/protocols/new",
        {
            "number": "EARLY-1",
            "title": "First in human",
            "sponsor_id": str(sponsor.id),
            "phase": "Phase 1",
            "therapeutic_area": "Oncology",
            "investigational_product": "X",
        },
    )
    assert response.status_code == 422 and "after phase II" in response.text
    assert db_session.scalars(select(Protocol)).all() == []


def test_technicians_cannot_register_or_design_protocols(client, car_t_protocol, db_session, signed_in):
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    assert client.get("/protocols/new").status_code == 403
    version_id = car_t_protocol.versions[0].id
    assert client.post(f"/protocols/versions/{version_id}/arms", data={"code": "X", "name": "x"}).status_code == 403


def test_qa_approves_by_signature_and_the_version_becomes_effective(
    app, client, car_t_protocol, author_and_approver, db_session
):
    author, approver = author_and_approver
    db_session.commit()
    version_id = car_t_protocol.versions[0].id
    login(client, author)
    assert submit(client, f"/sign/protocol_version/{version_id}/authored", {"password": PASSWORD}).status_code == 303
    own = submit(client, f"/protocols/versions/{version_id}", {}, action=f"/protocols/versions/{version_id}/effective")
    assert own.status_code == 409 and "Only an approved version" in own.text
    qa_client = app.test_client()
    login(qa_client, approver)
    assert submit(qa_client, f"/sign/protocol_version/{version_id}/approved", {"password": PASSWORD}).status_code == 303
    made = submit(
        qa_client, f"/protocols/versions/{version_id}", {}, action=f"/protocols/versions/{version_id}/effective"
    )
    assert made.status_code == 303
    page = qa_client.get(f"/protocols/versions/{version_id}").text
    assert "Effective" in page and "Quinn Okafor" in page and "Maja Larsen" in page


def test_an_approved_version_refuses_design_changes_through_the_page(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version)
    db_session.commit()
    signed_in(RoleName.MANAGER)
    url = f"/protocols/versions/{version.id}"
    response = submit(client, url, {"code": "C", "name": "Late arm"}, action=url + "/arms")
    assert response.status_code == 409 and "create a new version" in response.text


def test_amendment_diff_page_lists_the_changes(client, car_t_protocol, approve_version, db_session, signed_in):
    first = car_t_protocol.versions[0]
    approve_version(first, effective=True)
    db_session.commit()
    signed_in(RoleName.MANAGER)
    drafted = submit(
        client,
        f"/protocols/{car_t_protocol.id}",
        {"number": "2.0", "amendment_summary": "Adds arm C"},
        action=f"/protocols/{car_t_protocol.id}/versions",
    )
    assert drafted.status_code == 303
    second_url = drafted.headers["Location"]
    submit(client, second_url, {"code": "C", "name": "Dose expansion"}, action=second_url + "/arms")
    db_session.expire_all()
    second = db_session.get(Protocol, car_t_protocol.id).versions[-1]
    page = client.get(f"/protocols/{car_t_protocol.id}/diff?old={first.id}&new={second.id}").text
    assert "arm C" in page and "<ins>Dose expansion" in page
    assert client.get(f"/protocols/{car_t_protocol.id}/diff?old=abc").status_code == 422


def test_enrolment_refuses_identifying_codes_and_shows_the_calendar(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/protocols/{car_t_protocol.id}/subjects"
    fields = {"site": "014", "arm_id": str(version.arms[0].id), "enrolled_on": "2026-01-05", "consent_version": "1.0"}
    refused = submit(client, url, {"code": "JOHN-SMITH-1", **fields})
    assert refused.status_code == 422 and "looks like a name" in refused.text
    enrolled = submit(client, url, {"code": "HLX301-014-0001", "infused_on": "2026-02-01", **fields})
    assert enrolled.status_code == 303
    calendar = client.get(enrolled.headers["Location"]).text
    assert "2026-02-08" in calendar and "2026-02-07 to 2026-02-09" in calendar, "day 7 after infusion, window ±1"
    assert "2025-12-08" in calendar, "screening 28 days before enrolment"


def test_a_visit_arm_or_version_of_another_protocol_is_answered_as_unknown(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    other = protocol_service.create_protocol(
        db_session,
        number="HLX-302",
        title="Another study",
        sponsor=car_t_protocol.sponsor,
        phase=car_t_protocol.phase,
        therapeutic_area="Haematology",
        investigational_product="HLX-19",
    )
    other_version = other.versions[0]
    foreign_arm = design_service.add_arm(db_session, other_version, code="A", name="HLX-19")
    foreign_visit = design_service.add_visit(
        db_session,
        other_version,
        code="SCR",
        name="Screening",
        reference_event=ReferenceEvent.ENROLMENT,
        day_offset=-28,
    )
    db_session.commit()
    signed_in(RoleName.MANAGER)
    sample = submit(
        client,
        f"/protocols/versions/{other_version.id}",
        {
            "visit_id": str(version.visits[0].id),
            "sample_type": "blood",
            "volume": "6 mL",
            "container": "tube",
            "handling": "15-25 °C",
            "max_hours_to_processing": "24",
        },
        action=f"/protocols/versions/{other_version.id}/requirements",
    )
    assert sample.status_code == 404
    assert f"Version 1.0 has no visit with id {version.visits[0].id}." in sample.text
    url = f"/protocols/{car_t_protocol.id}/subjects"
    enrolled = submit(
        client,
        url,
        {
            "code": "HLX301-014-0001",
            "site": "014",
            "arm_id": str(foreign_arm.id),
            "enrolled_on": "2026-01-05",
            "consent_version": "1.0",
        },
    )
    assert enrolled.status_code == 404
    assert f"The effective version 1.0 has no arm with id {foreign_arm.id}." in enrolled.text
    undesigned = submit(
        client,
        f"/protocols/{other.id}/subjects",
        {
            "code": "HLX302-014-0001",
            "site": "014",
            "arm_id": str(foreign_arm.id),
            "enrolled_on": "2026-01-05",
            "consent_version": "1.0",
        },
    )
    assert undesigned.status_code == 422 and "No version of HLX-302 is effective yet" in undesigned.text
    compared = client.get(f"/protocols/{car_t_protocol.id}/diff?old={version.id}&new={other_version.id}")
    assert compared.status_code == 404 and f"HLX-301 has no version with id {other_version.id}." in compared.text
    db_session.expire_all()
    assert foreign_visit.requirements == [] and subjects_service.subjects_of(db_session, car_t_protocol) == []
    assert subjects_service.subjects_of(db_session, other) == []


def test_odm_export_downloads_and_is_audited(client, car_t_protocol, db_session, signed_in):
    db_session.commit()
    signed_in(RoleName.QA)
    response = client.get(f"/protocols/versions/{car_t_protocol.versions[0].id}/odm.xml")
    assert response.status_code == 200 and response.mimetype == "application/xml"
    root = ElementTree.fromstring(response.data)
    assert root.tag.endswith("ODM")
    db_session.expire_all()
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export.odm")).one()


def test_protocol_list_and_page(client, car_t_protocol, db_session, signed_in):
    db_session.commit()
    signed_in(RoleName.QA)
    assert "HLX-301" in client.get("/protocols").text
    page = client.get(f"/protocols/{car_t_protocol.id}").text
    assert "HLX-19 (autologous anti-CD19 CAR-T)" in page and "Draft" in page
    assert car_t_protocol.versions[0].status == VersionStatus.DRAFT


def test_api_shows_a_client_only_its_own_protocols(
    client, car_t_protocol, create_organization, create_user, db_session
):
    admin = create_user(RoleName.ADMIN)
    _, own_token = api_tokens.issue_api_token(db_session, organization=car_t_protocol.sponsor, name="own", actor=admin)
    _, other_token = api_tokens.issue_api_token(
        db_session, organization=create_organization(), name="other", actor=admin
    )
    db_session.commit()
    own = client.get("/api/v1/protocols", headers={"Authorization": f"Bearer {own_token}"}).json
    assert [item["number"] for item in own["items"]] == ["HLX-301"]
    detail = client.get(f"/api/v1/protocols/{car_t_protocol.id}", headers={"Authorization": f"Bearer {own_token}"}).json
    assert [visit["code"] for visit in detail["versions"][0]["visits"]] == ["SCR", "APH", "D7", "D28"]
    assert detail["versions"][0]["visits"][0]["samples"][0]["volume"] == "10 mL"
    other = {"Authorization": f"Bearer {other_token}"}
    assert client.get("/api/v1/protocols", headers=other).json["items"] == []
    assert client.get(f"/api/v1/protocols/{car_t_protocol.id}", headers=other).status_code == 404


def test_protocol_details_change_only_with_a_reason(client, car_t_protocol, db_session, signed_in):
    db_session.commit()
    signed_in(RoleName.MANAGER)
    url = f"/protocols/{car_t_protocol.id}"
    fields = {
        "title": car_t_protocol.title,
        "therapeutic_area": "Haematology",
        "status": "enrolling",
        "investigational_product": car_t_protocol.investigational_product,
    }
    refused = submit(client, url, {**fields, "reason": ""}, action=url + "/edit")
    assert refused.status_code == 422 and 'id="edit-reason-error"' in refused.text
    changed = submit(client, url, {**fields, "reason": "First site opened"}, action=url + "/edit")
    assert changed.status_code == 303
    db_session.expire_all()
    assert db_session.get(Protocol, car_t_protocol.id).status.value == "enrolling"
    assert duplicate_ids(client.get(url).text) == []


def test_a_draft_visit_can_be_edited_with_a_reason_but_not_once_approved(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    visit = car_t_protocol.versions[0].visits[-1]
    db_session.commit()
    signed_in(RoleName.MANAGER)
    url = f"/protocols/visits/{visit.id}"
    fields = {
        "name": "Day 28",
        "reference_event": "infusion",
        "day_offset": "28",
        "window_before_days": "5",
        "window_after_days": "5",
    }
    assert submit(client, url, {**fields, "reason": "Sites asked for a wider window"}).status_code == 303
    db_session.expire_all()
    version = db_session.get(Protocol, car_t_protocol.id).versions[0]
    assert version.visits[-1].window_before_days == 5
    approve_version(version)
    db_session.commit()
    locked = submit(client, url, {**fields, "reason": "One more change"})
    assert locked.status_code == 409 and "create a new version" in locked.text


def test_recording_apheresis_and_infusion_moves_the_calendar(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    subject = subjects_service.enrol_subject(
        db_session,
        car_t_protocol,
        code="HLX301-014-0009",
        site="014",
        arm=version.arms[0],
        enrolled_on=date(2026, 1, 5),
        consent_version="1.0",
    )
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/protocols/subjects/{subject.id}"
    fields = {"site": "014", "consent_version": "1.0", "apheresis_on": "2026-01-20", "reason": "Apheresis done"}
    backwards = submit(client, url, {**fields, "infused_on": "2026-01-10"})
    assert backwards.status_code == 422 and "cannot come before the apheresis" in backwards.text
    future = submit(client, url, {**fields, "infused_on": "2099-01-01"})
    assert future.status_code == 422 and "not happened yet" in future.text
    recorded = submit(client, url, {**fields, "infused_on": "2026-02-10"})
    assert recorded.status_code == 303
    assert "2026-02-17" in client.get(url).text, "day 7 after the recorded infusion"


def test_draft_arms_and_samples_are_edited_with_a_reason(client, car_t_protocol, db_session, signed_in):
    version = car_t_protocol.versions[0]
    arm, requirement = version.arms[0], version.visits[0].requirements[0]
    db_session.commit()
    signed_in(RoleName.MANAGER)
    assert (
        submit(
            client,
            f"/protocols/arms/{arm.id}",
            {"name": "HLX-19 2 ×10^6/kg", "arm_type": "experimental", "reason": "Dose in the name"},
        ).status_code
        == 303
    )
    bad = submit(
        client,
        f"/protocols/samples/{requirement.id}",
        {
            "sample_type": "peripheral blood",
            "volume": "10 kg",
            "container": "K2EDTA tube",
            "handling": "15–25 °C",
            "max_hours_to_processing": "24",
            "reason": "Typo",
        },
    )
    assert bad.status_code == 422 and "must be a volume" in bad.text
    good = submit(
        client,
        f"/protocols/samples/{requirement.id}",
        {
            "sample_type": "peripheral blood",
            "volume": "12 mL",
            "container": "K2EDTA tube",
            "handling": "15–25 °C",
            "max_hours_to_processing": "24",
            "reason": "Lab needs 2 mL more",
        },
    )
    assert good.status_code == 303
    page = client.get(f"/protocols/versions/{version.id}").text
    assert "HLX-19 2 ×10^6/kg" in page and "peripheral blood: 12 mL" in page


def test_the_version_page_offers_only_the_signatures_the_user_may_apply(
    app, client, car_t_protocol, author_and_approver, db_session, signed_in
):
    author, approver = author_and_approver
    version = car_t_protocol.versions[0]
    url = f"/protocols/versions/{version.id}"
    signed_in(RoleName.TECHNICIAN)
    assert "Sign as author" not in client.get(url).text
    author_client = app.test_client()
    login(author_client, author)
    assert "Sign as author and send for review" in author_client.get(url).text

    signatures.sign(db_session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
    db_session.commit()
    page = client.get(url).text
    assert "Approve (QA)" not in page and "Reject back to draft (QA)" not in page
    assert "Waiting for QA's approval, by someone other than the author." in page
    for meaning in ("approved", "rejected"):
        refused = client.get(f"/sign/protocol_version/{version.id}/{meaning}")
        assert refused.status_code == 403 and 'name="password"' not in refused.text
        assert f"Your role may not sign a protocol version as {meaning}." in refused.text
    qa_client = app.test_client()
    login(qa_client, approver)
    page = qa_client.get(url).text
    assert "Approve (QA)" in page and "Reject back to draft (QA)" in page and "Waiting for QA" not in page


def test_qa_sees_versions_waiting_for_approval(client, car_t_protocol, author_and_approver, db_session, signed_in):
    author, _approver = author_and_approver
    signatures.sign(
        db_session, car_t_protocol.versions[0], meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD
    )
    db_session.commit()
    signed_in(RoleName.QA)
    dashboard = client.get("/").text
    assert "Protocol versions to approve" in dashboard and 'class="count">1</span>' in dashboard
    assert "HLX-301 version 1.0" in client.get("/protocols").text


@pytest.mark.parametrize(("role", "sees_history"), [(RoleName.QA, True), (RoleName.TECHNICIAN, False)])
def test_protocol_version_and_subject_pages_link_to_their_history_for_those_who_read_the_trail(
    role, sees_history, client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    subject = subjects_service.enrol_subject(
        db_session,
        car_t_protocol,
        code="HLX301-014-0009",
        site="014",
        arm=version.arms[0],
        enrolled_on=date(2026, 1, 5),
        consent_version="1.0",
    )
    db_session.commit()
    signed_in(role)
    for url, link, text in (
        (
            f"/protocols/{car_t_protocol.id}",
            history_link("protocol", car_t_protocol.id, with_parts=True),
            "History of this protocol",
        ),
        (
            f"/protocols/versions/{version.id}",
            history_link("protocol_version", version.id, with_parts=True),
            "History of this version",
        ),
        (f"/protocols/subjects/{subject.id}", history_link("subject", subject.id), "History of this subject"),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert (link in page.text) is sees_history and (text in page.text) is sees_history, url


def test_a_subject_enrols_in_any_arm_of_the_effective_version(
    client, car_t_protocol, approve_version, db_session, signed_in
):
    version = car_t_protocol.versions[0]
    approve_version(version, effective=True)
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/protocols/{car_t_protocol.id}/subjects"
    for number, arm in enumerate(version.arms, start=1):
        fields = {"site": "014", "enrolled_on": "2026-01-05", "consent_version": "1.0"}
        enrolled = submit(client, url, {"code": f"HLX301-014-000{number}", "arm_id": str(arm.id), **fields})
        assert enrolled.status_code == 303, enrolled.text
        assert f"{arm.code} {arm.name}" in client.get(enrolled.headers["Location"]).text
    listed = client.get(url).text
    assert "HLX301-014-0001" in listed and "HLX301-014-0002" in listed


def _statements_of(db_session, client, url: str) -> tuple[int, str]:
    statements: list[str] = []

    def count(_connection, _cursor, statement, *_args) -> None:
        statements.append(statement)

    engine = db_session.get_bind()
    event.listen(engine, "before_cursor_execute", count)
    try:
        page = client.get(url)
    finally:
        event.remove(engine, "before_cursor_execute", count)
    assert page.status_code == 200
    return len(statements), page.text


def test_the_protocol_list_shows_a_page_at_a_time_in_as_many_statements_for_many_protocols_as_for_one(
    client, car_t_protocol, db_session, signed_in
):
    signed_in(RoleName.QA)
    db_session.commit()
    client.get("/protocols")
    one, _page = _statements_of(db_session, client, "/protocols")
    for number in range(protocol_service.PROTOCOLS_PER_PAGE):
        protocol_service.create_protocol(
            db_session,
            number=f"NBX-{number:03d}",
            title=f"Follow-up study {number}",
            sponsor=car_t_protocol.sponsor,
            phase=ProtocolPhase.PHASE_4,
            therapeutic_area="Haematology",
            investigational_product="HLX-19",
        )
    db_session.commit()
    many, first_page = _statements_of(db_session, client, "/protocols")
    assert many == one
    assert "NBX-000" in first_page and "NBX-048" in first_page and "NBX-049" not in first_page
    assert f"Page 1 of 2 ({protocol_service.PROTOCOLS_PER_PAGE + 1} in all)" in first_page
    second_page = client.get("/protocols?page=2").text
    assert "NBX-049" in second_page and "NBX-000" not in second_page


def test_the_versions_waiting_for_approval_are_counted_and_listed_oldest_first_ten_at_a_time(
    client, car_t_protocol, db_session, signed_in
):
    signed_in(RoleName.QA)

    def in_review(number: int) -> None:
        protocol = protocol_service.create_protocol(
            db_session,
            number=f"REV-{number:03d}",
            title=f"Follow-up study {number}",
            sponsor=car_t_protocol.sponsor,
            phase=ProtocolPhase.PHASE_4,
            therapeutic_area="Haematology",
            investigational_product="HLX-19",
        )
        with audit_context.reason_for_change(db_session, "Arranged: sent for review"):
            protocol.versions[0].status = VersionStatus.IN_REVIEW
        db_session.commit()

    in_review(0)
    client.get("/protocols")
    one, page = _statements_of(db_session, client, "/protocols")
    assert "Waiting for approval (1)" in page and "REV-000 version 1.0" in page
    for number in range(1, protocol_service.VERSIONS_IN_REVIEW_PER_PAGE + 2):
        in_review(number)
    many, page = _statements_of(db_session, client, "/protocols")
    assert many == one
    assert f"Waiting for approval ({protocol_service.VERSIONS_IN_REVIEW_PER_PAGE + 2})" in page
    listed = page.split("Waiting for approval")[1].split("</ul>")[0]
    assert "REV-009 version 1.0" in listed and "REV-010 version" not in listed
    later = (
        client.get("/protocols?cursor=" + page.split('rel="next" href="/protocols?cursor=')[1].split('"')[0])
        .text.split("Waiting for approval")[1]
        .split("</ul>")[0]
    )
    assert "REV-010 version 1.0" in later and "REV-011 version 1.0" in later and "REV-000" not in later
    assert client.get("/protocols?cursor=garbage").status_code == 422
