"""Equipment pages through HTTP: registry, calibration form with upload, maintenance, impact, review."""

from __future__ import annotations

import hashlib
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit.models import AuditEvent
from lims.equipment.models import (
    CalibrationRecord,
    Equipment,
    ImpactAssessment,
    MaintenanceRecord,
)
from lims.equipment.service import calibrations
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from tests.helpers import (
    PASSWORD,
    csrf_token_from,
    duplicate_ids,
    history_link,
    login,
    submit,
)

TODAY = date(2030, 6, 15)


def freeze_today() -> None:
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 9, tzinfo=UTC))


def test_manager_registers_equipment_and_adds_a_point(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    response = submit(
        client,
        "/equipment/new",
        {
            "asset_tag": "inc-007",
            "name": "CO2 incubator",
            "equipment_type": "incubator",
            "location": "Cleanroom B",
            "manufacturer": "Thermo",
            "model": "Heracell",
            "serial_number": "42",
            "calibration_interval_days": "180",
        },
    )
    assert response.status_code == 303
    page_url = response.headers["Location"]
    added = submit(
        client,
        page_url,
        {"name": "37 °C setpoint", "nominal": "37 °C", "tolerance": "0.5 °C"},
        action=page_url + "/points",
    )
    assert added.status_code == 303
    page = client.get(page_url).text
    assert "INC-007" in page and "37 °C setpoint" in page and "Calibration overdue" in page


def test_registration_errors_sit_next_to_their_fields(client, signed_in):
    signed_in(RoleName.MANAGER)
    response = submit(client, "/equipment/new", {"asset_tag": "x", "calibration_interval_days": "soon"})
    assert response.status_code == 422
    for field in ("asset_tag", "name", "equipment_type", "calibration_interval_days"):
        assert f'id="{field}-error"' in response.text


def test_a_bad_unit_in_a_point_is_refused_with_the_reason(client, create_equipment, db_session, signed_in):
    equipment = create_equipment(points=())
    db_session.commit()
    signed_in(RoleName.MANAGER)
    response = submit(
        client,
        f"/equipment/{equipment.id}",
        {"name": "p", "nominal": "37 °C", "tolerance": "5 mL"},
        action=f"/equipment/{equipment.id}/points",
    )
    assert response.status_code == 422 and "cannot apply to a value in °C" in response.text


def test_technicians_cannot_register_equipment(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    assert client.get("/equipment/new").status_code == 403


def test_list_filters_by_derived_status(client, create_equipment, calibrate, db_session, signed_in):
    freeze_today()
    overdue = create_equipment(asset_tag="OLD-1")
    fine = create_equipment(asset_tag="NEW-1")
    calibrate(fine, "37 °C")
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    listed = client.get("/equipment?status=calibration+overdue").text
    assert overdue.asset_tag in listed and fine.asset_tag not in listed
    assert 'data-status="in service"' in client.get("/equipment?status=in+service").text
    assert client.get("/equipment?status=broken").status_code == 422


def record_form(client, equipment, readings: dict[str, str], **fields):
    page = client.get(f"/equipment/{equipment.id}/calibrations/new")
    assert page.status_code == 200
    data = {
        "csrf_token": csrf_token_from(page.text),
        "performed_on": TODAY.isoformat(),
        "performed_by": "internal",
        **readings,
        **fields,
    }
    return client.post(f"/equipment/{equipment.id}/calibrations/new", data=data, content_type="multipart/form-data")


def test_technician_records_a_calibration_with_a_certificate(
    client, create_equipment, reference_standard, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    point = equipment.points[0]
    response = record_form(
        client,
        equipment,
        {f"as_found_{point.id}": "99.1 °F"},
        reference_standard_id=str(reference_standard.id),
        certificate=(io.BytesIO(b"%PDF-1.7 cert"), "cert.pdf"),
    )
    assert response.status_code == 303
    record_page = client.get(response.headers["Location"]).text
    assert "Pass" in record_page and "Sign as performed" in record_page and "cert.pdf" in record_page
    download = client.get(response.headers["Location"] + "/certificate")
    assert download.data == b"%PDF-1.7 cert" and download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].endswith(f'-{equipment.asset_tag}-certificate.pdf"')
    db_session.expire_all()
    exported = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "export.certificate")).one()
    record = db_session.scalars(select(CalibrationRecord)).one()
    assert (exported.entity_type, exported.entity_id) == ("calibration_record", str(record.id))
    assert json.loads(exported.changes) == {"sha256": hashlib.sha256(b"%PDF-1.7 cert").hexdigest()}
    assert "Calibration due soon" not in client.get(f"/equipment/{equipment.id}").text
    assert "In service" in client.get(f"/equipment/{equipment.id}").text


def test_malformed_upload_and_bad_readings_change_nothing(
    client, create_equipment, reference_standard, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    point = equipment.points[0]
    bad_file = record_form(
        client,
        equipment,
        {f"as_found_{point.id}": "37 °C"},
        reference_standard_id=str(reference_standard.id),
        certificate=(io.BytesIO(b"MZ executable"), "cert.pdf"),
    )
    assert bad_file.status_code == 422 and "PDF, PNG or JPEG" in bad_file.text
    bad_unit = record_form(
        client, equipment, {f"as_found_{point.id}": "37 furlongs"}, reference_standard_id=str(reference_standard.id)
    )
    assert bad_unit.status_code == 422 and f'id="as_found_{point.id}-error"' in bad_unit.text
    missing = record_form(client, equipment, {}, reference_standard_id=str(reference_standard.id))
    assert missing.status_code == 422 and "Enter the as-found reading" in missing.text
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CalibrationRecord)) == 0


def test_an_unregistered_reference_standard_is_refused_at_its_field(
    client, create_equipment, reference_standard, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    point = equipment.points[0]
    unknown_id = reference_standard.id + 1000
    for performed_by in ("internal", "vendor"):
        refused = record_form(
            client,
            equipment,
            {f"as_found_{point.id}": "37 °C"},
            performed_by=performed_by,
            vendor_name="CalibrateCo",
            vendor_certificate_number="C-77",
            reference_standard_id=str(unknown_id),
        )
        assert refused.status_code == 422 and 'id="reference_standard_id-error"' in refused.text
        assert f"The reference standard chosen (id {unknown_id}) is not a registered one" in refused.text
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CalibrationRecord)) == 0


def test_a_correction_names_a_calibration_of_the_same_equipment(
    client, create_equipment, calibrate, db_session, signed_in
):
    freeze_today()
    equipment, other = create_equipment(), create_equipment()
    foreign = calibrate(other, "37 °C")
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    url = f"/equipment/{equipment.id}/calibrations/new"
    token = csrf_token_from(client.get(url).text)
    for response in (
        client.get(f"{url}?corrects_id={foreign.id}"),
        client.post(
            url,
            data={
                "csrf_token": token,
                "corrects_id": str(foreign.id),
                f"as_found_{equipment.points[0].id}": "37 °C",
                "correction_reason": "Wrong item",
            },
        ),
    ):
        assert response.status_code == 404
        assert f"{equipment.asset_tag} has no calibration with id {foreign.id}." in response.text
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CalibrationRecord)) == 1


def test_performer_signs_then_qa_reviews_from_the_queue(
    app, client, create_equipment, calibrate, create_user, db_session, signed_in
):
    freeze_today()
    technician = signed_in(RoleName.TECHNICIAN)
    equipment = create_equipment()
    record = calibrate(equipment, "37 °C", recorded_by=technician)
    db_session.commit()
    sign_url = f"/sign/calibration_record/{record.id}/performed"
    assert submit(client, sign_url, {"password": PASSWORD}).status_code == 303
    qa_client = app.test_client()
    reviewer = create_user(RoleName.QA)
    db_session.commit()
    assert login(qa_client, reviewer).status_code == 302
    queue = qa_client.get("/equipment/review").text
    assert f"/equipment/calibrations/{record.id}" in queue
    assert (
        submit(qa_client, f"/sign/calibration_record/{record.id}/reviewed", {"password": PASSWORD}).status_code == 303
    )
    assert f"/equipment/calibrations/{record.id}" not in qa_client.get("/equipment/review").text


def test_the_calibration_page_offers_each_signature_only_to_who_may_apply_it(
    app, client, create_equipment, calibrate, create_user, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    record = calibrate(equipment, "37.2 °C")
    colleague = signed_in(RoleName.TECHNICIAN)
    qa = create_user(RoleName.QA)
    db_session.commit()
    qa_client = app.test_client()
    login(qa_client, qa)
    url = f"/equipment/calibrations/{record.id}"
    assert "Sign as performed" not in client.get(url).text
    refused = client.get(f"/sign/calibration_record/{record.id}/performed")
    assert refused.status_code == 403 and 'name="password"' not in refused.text
    assert "Only the person who recorded this calibration signs it as performed." in refused.text
    refusal = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert refusal.user_id == colleague.id
    assert "Review and sign" not in qa_client.get(url).text  # the performer signs first

    signatures.sign(
        db_session, record, meaning=SignatureMeaning.PERFORMED, user=calibrate.technician, password=PASSWORD
    )
    db_session.commit()
    assert "Review and sign" not in client.get(url).text
    assert "Review and sign" in qa_client.get(url).text
    review = qa_client.get(f"/sign/calibration_record/{record.id}/reviewed").text
    assert "<dt>Readings</dt><dd><ul><li>37 °C setpoint: nominal 37 °C ± 0.5, as found 37.2 °C</li></ul></dd>" in review
    assert "<dt>Passed</dt><dd>Yes</dd>" in review and "<dt>Notes</dt><dd>—</dd>" in review


def test_maintenance_takes_equipment_out_of_service_until_closed(
    client, create_equipment, calibrate, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    page = f"/equipment/{equipment.id}"
    assert (
        submit(
            client, page, {"kind": "unplanned", "description": "Fan noise"}, action=f"{page}/maintenance"
        ).status_code
        == 303
    )
    assert "Under maintenance" in client.get(page).text
    refused = submit(
        client,
        page,
        {"outcome": ""},
        action=f"/equipment/maintenance/{_open_maintenance_id(db_session, equipment)}/close",
    )
    assert refused.status_code == 422 and "Describe the outcome" in refused.text
    closed = submit(
        client,
        page,
        {"outcome": "Fan replaced"},
        action=f"/equipment/maintenance/{_open_maintenance_id(db_session, equipment)}/close",
    )
    assert closed.status_code == 303 and "In service" in client.get(page).text


def _open_maintenance_id(db_session, equipment: Equipment) -> int:
    db_session.expire_all()
    return db_session.scalar(
        select(MaintenanceRecord.id).where(
            MaintenanceRecord.equipment_id == equipment.id, MaintenanceRecord.closed_at.is_(None)
        )
    )


def test_qa_closes_an_impact_assessment_on_its_page(client, create_equipment, calibrate, db_session, signed_in):
    freeze_today()
    equipment = create_equipment()
    calibrate(equipment, "39 °C")
    db_session.commit()
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    signed_in(RoleName.QA)
    url = f"/equipment/impact/{assessment.id}"
    wrong = submit(client, url, {"conclusion": "No impact", "password": "not-my-password"})
    assert wrong.status_code == 401
    db_session.expire_all()
    assert db_session.get(ImpactAssessment, assessment.id).closed_at is None
    closed = submit(client, url, {"conclusion": "No batches used it in the period.", "password": PASSWORD})
    assert closed.status_code == 303
    page = client.get(url).text
    assert "No batches used it in the period." in page and "Reviewed" in page


def test_drift_chart_is_drawn_inline(client, create_equipment, calibrate, db_session, signed_in):
    equipment = create_equipment()
    for days_ago, reading in ((90, "37.1 °C"), (1, "36.9 °C")):
        clock.freeze(datetime(2030, 6, 15, tzinfo=UTC) - timedelta(days=days_ago))
        calibrate(equipment, reading)
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    page = client.get(f"/equipment/{equipment.id}").text
    assert "<svg" in page and "<polyline" in page and page.count("<circle") == 2


def test_drift_chart_marks_an_out_of_tolerance_reading_with_a_cross_and_written_words(
    client, create_equipment, calibrate, db_session, signed_in
):
    equipment = create_equipment()
    for days_ago, reading in ((90, "37.1 °C"), (30, ("38.2 °C", "37.0 °C")), (1, "36.9 °C")):
        clock.freeze(datetime(2030, 6, 15, tzinfo=UTC) - timedelta(days=days_ago))
        calibrate(equipment, reading)
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    page = client.get(f"/equipment/{equipment.id}").text
    chart = page[page.index("<svg") : page.index("</figure>")]
    # Two readings within tolerance stay dots; the one out of it is a cross, not a dot of another colour.
    assert chart.count("<circle") == 2 and chart.count('class="fail"') == 1
    # Its words are drawn on the chart and listed below it, not only in a tooltip.
    outside_tooltips = re.sub(r"<title>.*?</title>", "", chart)
    assert "out of tolerance 2030-05-16: +1.2 °C" in outside_tooltips
    assert "Out of tolerance as found: 2030-05-16: +1.2 °C" in outside_tooltips
    assert "2030-03-17" not in re.sub(r"<text[^>]*>\d{4}-\d\d-\d\d</text>", "", outside_tooltips)


def test_api_lists_equipment_with_status_for_staff_sessions(client, create_equipment, calibrate, db_session, signed_in):
    freeze_today()
    fine = create_equipment(asset_tag="API-1")
    calibrate(fine, "37 °C")
    create_equipment(asset_tag="API-2")
    db_session.commit()
    signed_in(RoleName.QA)
    listed = client.get("/api/v1/equipment?status=calibration+overdue").json
    assert [item["asset_tag"] for item in listed["items"]] == ["API-2"]
    assert listed["items"][0]["status"] == "calibration overdue"
    detail = client.get(f"/api/v1/equipment/{fine.id}").json
    assert detail["status"] == "in service" and detail["points"][0]["nominal"] == "37 °C"
    assert client.get("/api/v1/equipment?status=broken").status_code == 422


def test_api_refuses_anonymous_callers_and_client_tokens(client, create_user, create_organization, db_session):
    admin = create_user(RoleName.ADMIN)
    _, token = api_tokens.issue_api_token(db_session, organization=create_organization(), name="x", actor=admin)
    db_session.commit()
    assert client.get("/api/v1/equipment").status_code == 401
    assert client.get("/api/v1/equipment", headers={"Authorization": f"Bearer {token}"}).status_code == 403


def test_manager_moves_equipment_with_a_reason_and_a_new_interval_moves_the_due_date(
    client, create_equipment, calibrate, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment(interval=180)
    calibrate(equipment, "37 °C")
    db_session.commit()
    signed_in(RoleName.MANAGER)
    page = f"/equipment/{equipment.id}"
    refused = submit(
        client,
        page,
        {"name": equipment.name, "location": "Cleanroom C", "calibration_interval_days": "90", "reason": ""},
        action=f"{page}/edit",
    )
    assert refused.status_code == 422 and "Give the reason" in refused.text
    moved = submit(
        client,
        page,
        {
            "name": equipment.name,
            "location": "Cleanroom C",
            "calibration_interval_days": "90",
            "reason": "Moved for the new suite",
        },
        action=f"{page}/edit",
    )
    assert moved.status_code == 303
    db_session.expire_all()
    stored = db_session.get(Equipment, equipment.id)
    assert (stored.location, stored.calibration_due_on) == ("Cleanroom C", TODAY + timedelta(days=90))


def test_the_equipment_page_with_all_its_forms_has_unique_element_ids(
    client, create_equipment, calibrate, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    calibrate(equipment, "37 °C")
    db_session.commit()
    signed_in(RoleName.MANAGER)
    assert duplicate_ids(client.get(f"/equipment/{equipment.id}").text) == []


@pytest.mark.parametrize(
    ("role", "sees_history"),
    [(RoleName.QA, True), (RoleName.ADMIN, True), (RoleName.TECHNICIAN, False), (RoleName.MANAGER, False)],
)
def test_equipment_calibration_and_impact_pages_link_to_their_history_for_those_who_read_the_trail(
    role, sees_history, client, create_equipment, calibrate, db_session, signed_in
):
    freeze_today()
    equipment = create_equipment()
    record = calibrate(equipment, "39 °C")
    db_session.commit()
    assessment = db_session.scalars(select(ImpactAssessment)).one()
    signed_in(role)
    for url, link, text in (
        (
            f"/equipment/{equipment.id}",
            history_link("equipment", equipment.id, with_parts=True),
            "History of this equipment",
        ),
        (
            f"/equipment/calibrations/{record.id}",
            history_link("calibration_record", record.id, with_parts=True),
            "History of this calibration",
        ),
        (
            f"/equipment/impact/{assessment.id}",
            history_link("impact_assessment", assessment.id),
            "History of this impact assessment",
        ),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert (link in page.text) is sees_history and (text in page.text) is sees_history, url


def test_a_standard_of_another_quantity_is_refused_at_its_field(
    client, create_equipment, reference_standard, db_session, signed_in
):
    freeze_today()
    balance = calibrations.create_reference_standard(
        db_session,
        identifier="REF-WEIGHT",
        description="E2 weights",
        certificate_number="W-1",
        valid_until=TODAY,
        measures="g",
    )
    equipment = create_equipment()
    db_session.commit()
    signed_in(RoleName.TECHNICIAN)
    point = equipment.points[0]
    page = client.get(f"/equipment/{equipment.id}/calibrations/new").text
    assert "REF-WEIGHT: E2 weights, measures g" in page
    refused = record_form(client, equipment, {f"as_found_{point.id}": "37 °C"}, reference_standard_id=str(balance.id))
    assert refused.status_code == 422 and 'id="reference_standard_id-error"' in refused.text
    assert "REF-WEIGHT measures mass; it cannot be the standard for 37 °C setpoint" in refused.text
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CalibrationRecord)) == 0
    accepted = record_form(
        client, equipment, {f"as_found_{point.id}": "37 °C"}, reference_standard_id=str(reference_standard.id)
    )
    assert accepted.status_code == 303


def test_a_manager_registers_a_standard_with_what_it_measures(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    standard = {
        "identifier": "REF-TACHO",
        "description": "Optical tachometer",
        "certificate_number": "T-1",
        "valid_until": "2031-01-01",
    }
    missing = submit(client, "/equipment/standards", standard)
    assert missing.status_code == 422 and 'id="measures-error"' in missing.text
    unknown = submit(client, "/equipment/standards", {**standard, "measures": "zorks"})
    assert unknown.status_code == 422 and 'id="measures-error"' in unknown.text and "Unknown unit" in unknown.text
    assert submit(client, "/equipment/standards", {**standard, "measures": "rpm, degC"}).status_code == 303
    assert "<td>rpm, °C</td>" in client.get("/equipment/standards").text


def test_a_centrifuge_states_its_rotor_radius_and_other_equipment_cannot(client, db_session, signed_in):
    signed_in(RoleName.MANAGER)
    form = {
        "asset_tag": "CEN-77",
        "name": "Refrigerated centrifuge",
        "equipment_type": "centrifuge",
        "location": "Processing lab",
        "manufacturer": "Eppendorf",
        "model": "5810 R",
        "serial_number": "5810-1",
        "calibration_interval_days": "365",
    }
    for radius, message in (
        ("5 g", "A rotor radius is a length, e.g. 15.3 cm; 5 g is not."),
        ("5 m", "A rotor radius lies between 1 and 100 cm; 5 m does not."),
    ):
        refused = submit(client, "/equipment/new", {**form, "rotor_radius": radius})
        assert refused.status_code == 422 and message in refused.text
    incubator = {**form, "asset_tag": "INC-77", "equipment_type": "incubator", "rotor_radius": "16 cm"}
    refused = submit(client, "/equipment/new", incubator)
    assert refused.status_code == 422
    assert "Only a centrifuge has a rotor radius; leave it empty for equipment of type incubator." in refused.text
    created = submit(client, "/equipment/new", {**form, "rotor_radius": "164 mm"})
    assert created.status_code == 303
    page = client.get(created.headers["Location"]).text
    assert "<dt>Rotor radius</dt><dd>164 mm (rpm and × g convert for it)</dd>" in page
    centrifuge = db_session.scalars(select(Equipment).where(Equipment.asset_tag == "CEN-77")).one()
    edited = submit(
        client,
        created.headers["Location"],
        {"name": "Refrigerated centrifuge", "location": "Processing lab", "calibration_interval_days": "365",
         "rotor_radius": "18 cm", "reason": "Swing-bucket rotor fitted"},
        action=f"/equipment/{centrifuge.id}/edit",
    )  # fmt: skip
    assert edited.status_code == 303
    db_session.expire_all()
    assert str(centrifuge.rotor_radius) == "18 cm"
    change = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "equipment", AuditEvent.action == "update")
    ).all()[-1]
    assert change.changes == '{"rotor_radius":["164 mm","18 cm"]}' and change.reason == "Swing-bucket rotor fitted"
    assert client.get(f"/api/v1/equipment/{centrifuge.id}").json["rotor_radius"] == "18 cm"
