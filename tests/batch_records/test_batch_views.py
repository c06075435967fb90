"""Executing a batch through its pages: what a technician, a second person and QA see and do."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from batch_records.cart_line import calibrated
from batch_records.models import BatchStatus, Deviation, DeviationStatus, StepStatus
from batch_records.service import batches, deviations, execution, release, step_uses
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures.models import SignatureMeaning
from lims.units.parsing import parse_measurement
from tests.batch_records.conftest import TODAY
from tests.batch_records.test_execution import (
    do_receipt,
    execute_all_steps,
    pass_release_tests,
    sign,
)
from tests.helpers import PASSWORD, duplicate_ids, history_link, login, submit


def queue_count(dashboard: str, title: str) -> int:
    found = re.search(
        rf'<span class="count">(\d+)</span>\s*<span class="queue-title">{re.escape(title)}</span>', dashboard
    )
    assert found, f"the dashboard has no queue {title!r}"
    return int(found.group(1))


def signed_in_as(app, db_session, user):
    db_session.commit()
    client = app.test_client()
    assert login(client, user).status_code == 302
    return client


def test_a_technician_starts_a_batch_for_a_subject(app, db_session, line):
    client = signed_in_as(app, db_session, line.operator)
    page = client.get("/batches/new")
    assert "CART-001 v1" in page.text and "HLX301-DE01-0001" in page.text and duplicate_ids(page.text) == []
    form = {
        "mbr_version_id": line.version.id,
        "subject_id": line.subject.id,
        "starting_material_identity": "w1234 26 123456 7",
    }
    started = submit(client, "/batches/new", form)
    assert started.status_code == 303
    batch_page = client.get(started.headers["Location"]).text
    assert "Chain of identity" in batch_page and "W1234 26 123456 7" in batch_page and "HLX301-DE01-0001" in batch_page
    again = submit(client, "/batches/new", {**form, "subject_id": line.subjects[1].id})
    assert again.status_code == 409 and "one starting material makes one batch" in again.text
    subject_page = client.get(f"/protocols/subjects/{line.subject.id}").text
    assert "CART-001-300001 from W1234 26 123456 7" in subject_page


def test_qa_and_clients_cannot_start_batches(app, db_session, line, create_user):
    client = signed_in_as(app, db_session, line.qa)
    assert client.get("/batches/new").status_code == 403
    assert client.post("/batches/new", data={}).status_code in {400, 403}


def test_the_step_page_offers_only_usable_equipment_and_lots_and_says_why_not(app, db_session, line, batch):
    do_receipt(db_session, batch, line)
    calibrated(db_session, line.centrifuge, due_on=TODAY - timedelta(days=3))
    quarantined = materials.receive_lot(
        db_session,
        line.medium,
        supplier="Miltenyi",
        supplier_lot="Q1",
        received_on=TODAY,
        expires_on=TODAY + timedelta(days=60),
        quantity=parse_measurement("500 mL"),
        user=line.operator,
    )
    client = signed_in_as(app, db_session, line.operator)
    page = client.get(f"/batch-steps/{batch.steps[1].id}").text
    assert duplicate_ids(page) == []
    assert "Wash and select in the cabinet." in page
    assert f'<option value="{line.cabinet.id}">BSC-01' in page
    assert f'<option value="{line.centrifuge.id}">' not in page
    assert "CEN-01 (Sorvall centrifuge) cannot be used: its calibration was due on 2030-04-07." in page
    assert f'<option value="{line.medium_lot.id}">{line.medium_lot.lot_number} — 1 L left' in page
    assert f"{quarantined.lot_number}: in quarantine: not released by QA" in page
    assert "limits ≥ 80 %" in page


def test_a_technician_records_a_step_and_a_second_person_verifies_it(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.operator)
    step = batch.steps[0]
    volume, temperature, _remarks = step.parameters
    step_url = f"/batch-steps/{step.id}"
    missing = submit(client, step_url, {}, action=f"{step_url}/entries")
    assert missing.status_code == 422 and "Enter at least one value." in missing.text
    bad = submit(
        client,
        step_url,
        {f"parameter-{volume.id}": "lots", f"parameter-{temperature.id}": "4"},
        action=f"{step_url}/entries",
    )
    assert bad.status_code == 422 and f'id="parameter-{volume.id}-error"' in bad.text and "Volume:" in bad.text
    db_session.expire_all()
    assert volume.entries == [] and temperature.entries == []
    recorded = submit(
        client,
        step_url,
        {f"parameter-{volume.id}": "0.18 L", f"parameter-{temperature.id}": "11"},
        action=f"{step_url}/entries",
    )
    assert recorded.status_code == 303
    page = client.get(step_url).text
    assert "0.18 L" in page and "11 °C — outside limits" in page and "Sign step as performed" in page
    db_session.expire_all()
    deviation = db_session.scalars(select(Deviation)).one()
    assert deviation.status == DeviationStatus.OPEN and deviation.step_id == step.id

    assert submit(client, f"/sign/batch_step/{step.id}/performed", {"password": PASSWORD}).status_code == 303
    assert "Verify (second person)" not in client.get(step_url).text
    own = client.get(f"/sign/batch_step/{step.id}/verified")
    assert own.status_code == 403 and "different person" in own.text and 'name="password"' not in own.text

    verifier = signed_in_as(app, db_session, line.second_operator)
    page = verifier.get(step_url).text
    assert "Verify (second person)" in page and "Sign again as performed" not in page
    assert submit(verifier, f"/sign/batch_step/{step.id}/verified", {"password": PASSWORD}).status_code == 303
    db_session.expire_all()
    assert step.status == StepStatus.COMPLETED


def test_one_refused_value_records_none_and_the_page_says_which(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.operator)
    step = batch.steps[0]
    volume, temperature, _remarks = step.parameters
    step_url = f"/batch-steps/{step.id}"
    refused = submit(
        client,
        step_url,
        {f"parameter-{volume.id}": "0.18 L", f"parameter-{temperature.id}": "lots"},
        action=f"{step_url}/entries",
    )
    assert refused.status_code == 422
    assert f'id="parameter-{temperature.id}-error"' in refused.text, "the message stands at the value it concerns"
    assert f'name="parameter-{volume.id}" type="text" value="0.18 L"' in refused.text, (
        "the accepted value is offered again, not shown as recorded"
    )
    assert 'name="entry-' not in refused.text
    db_session.expire_all()
    assert [parameter.entries for parameter in step.parameters] == [[], [], []]


def test_an_untrained_technician_is_refused_with_the_reason(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.untrained)
    step = batch.steps[0]
    refused = submit(
        client,
        f"/batch-steps/{step.id}",
        {f"parameter-{step.parameters[0].id}": "180"},
        action=f"/batch-steps/{step.id}/entries",
    )
    assert refused.status_code == 403 and "no training on MBR CART-001 v1" in refused.text
    db_session.expire_all()
    audited = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert "no training on MBR CART-001 v1" in json.loads(audited.changes)["refusal"]
    assert step.parameters[0].entries == []


def test_a_correction_through_the_page_needs_a_reason(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    entry = step.parameters[0].current_entry
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batch-steps/{step.id}"
    refused = submit(client, url, {f"entry-{entry.id}-value": "190"}, action=f"/batch-entries/{entry.id}/correct")
    assert refused.status_code == 422 and "Give the reason for the correction" in refused.text
    assert f'id="entry-{entry.id}-reason-error"' in refused.text, "the message stands at the field it concerns"
    assert f'href="#entry-{entry.id}-reason"' in refused.text and "<details open>" in refused.text
    corrected = submit(
        client,
        url,
        {f"entry-{entry.id}-value": "190", f"entry-{entry.id}-reason": "Misread"},
        action=f"/batch-entries/{entry.id}/correct",
    )
    assert corrected.status_code == 303
    page = client.get(url).text
    assert "<del>180 mL</del>" in page and "Correction: Misread" in page and "Sign again as performed" in page


def test_qa_reviews_exceptions_first_and_cannot_release_with_blockers(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    entry = batch.steps[0].parameters[0].current_entry
    execution.correct_entry(db_session, entry, "185", reason="Transcription error", user=line.operator)
    qa = signed_in_as(app, db_session, line.qa)
    page = qa.get(f"/batches/{batch.id}/review").text
    assert duplicate_ids(page) == []
    exceptions, full_record = page.split("The full record")
    assert "Corrections" in exceptions and "Transcription error" in exceptions
    assert "Step 1 (Receive apheresis bag): the performer&#39;s signature is missing or invalidated" in exceptions
    assert "Viability: no result" in exceptions
    assert "Harvest and count" in full_record
    refused = submit(
        qa,
        f"/batches/{batch.id}/review",
        {"meaning": "released", "password": PASSWORD},
        action=f"/batches/{batch.id}/disposition",
    )
    assert refused.status_code == 409 and "cannot be released" in refused.text
    db_session.expire_all()
    assert batch.status == BatchStatus.AWAITING_REVIEW


def test_qa_releases_a_complete_batch_which_then_is_read_only(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    technician = signed_in_as(app, db_session, line.operator)
    assert technician.get(f"/batches/{batch.id}/review").status_code == 403
    qa = signed_in_as(app, db_session, line.qa)
    wrong = submit(
        qa,
        f"/batches/{batch.id}/review",
        {"meaning": "released", "password": "not-my-password"},
        action=f"/batches/{batch.id}/disposition",
    )
    assert wrong.status_code in {401, 403} and batch.status == BatchStatus.AWAITING_REVIEW
    page = qa.get(f"/batches/{batch.id}/review").text
    assert f"QA has not reviewed the audit trail of batch {batch.batch_number}" in page
    assert 'value="released"  disabled' in page
    unsigned = submit(
        qa, f"/batches/{batch.id}/review", {"comment": "Read it all."}, action=f"/batches/{batch.id}/trail-review"
    )
    assert unsigned.status_code == 422 and "Enter your password to sign." in unsigned.text
    reviewed = submit(
        qa,
        f"/batches/{batch.id}/review",
        {"comment": "Every change has its reason.", "password": PASSWORD},
        action=f"/batches/{batch.id}/trail-review",
    )
    assert reviewed.status_code == 303
    page = qa.get(f"/batches/{batch.id}/review").text
    assert "Reviewed by Quinn Okafor" in page and "Every change has its reason." in page
    assert "cannot be released yet" not in page
    released = submit(
        qa,
        f"/batches/{batch.id}/review",
        {"meaning": "released", "password": PASSWORD},
        action=f"/batches/{batch.id}/disposition",
    )
    assert released.status_code == 303
    db_session.expire_all()
    assert batch.status == BatchStatus.RELEASED
    assert "Released" in qa.get(f"/batches/{batch.id}").text
    entry = batch.steps[0].parameters[0].current_entry
    late = technician.post(
        f"/batch-entries/{entry.id}/correct",
        data={
            "csrf_token": _token(technician, batch.steps[0].id),
            f"entry-{entry.id}-value": "1",
            f"entry-{entry.id}-reason": "x",
        },
    )
    assert late.status_code == 409 and "released and can no longer change" in late.text


def _token(client, step_id):
    from tests.helpers import csrf_token_from

    return csrf_token_from(client.get(f"/batch-steps/{step_id}").text)


def test_qa_quarantines_with_a_reason(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    qa = signed_in_as(app, db_session, line.qa)
    url = f"/batches/{batch.id}/review"
    no_reason = submit(
        qa, url, {"meaning": "quarantined", "password": PASSWORD}, action=f"/batches/{batch.id}/disposition"
    )
    assert no_reason.status_code == 422 and "Say why the batch is quarantined" in no_reason.text
    done = submit(
        qa,
        url,
        {"meaning": "quarantined", "password": PASSWORD, "reason": "Sterility retest pending"},
        action=f"/batches/{batch.id}/disposition",
    )
    assert done.status_code == 303
    db_session.expire_all()
    assert batch.status == BatchStatus.QUARANTINED and batch.disposition_reason == "Sterility retest pending"


def test_release_results_are_recorded_and_verified_on_the_batch_page(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    viability = batch.release_tests[0]
    client = signed_in_as(app, db_session, line.operator)
    url = f"/batches/{batch.id}"
    assert (
        submit(
            client, url, {f"test-{viability.id}-result": "61"}, action=f"/batch-release-tests/{viability.id}/results"
        ).status_code
        == 303
    )
    page = client.get(url).text
    assert "61 % — out of specification" in page and "DEV-2030-0001" in page
    blank = submit(client, url, {}, action=f"/batch-release-tests/{batch.release_tests[1].id}/results")
    assert blank.status_code == 422 and f'id="test-{batch.release_tests[1].id}-result-error"' in blank.text
    assert duplicate_ids(page) == []


def test_a_deviation_is_investigated_and_closed_by_qa(app, db_session, line, batch):
    deviation = deviations.raise_deviation(db_session, batch, description="Bag label <smudged>", user=line.operator)
    manager = signed_in_as(app, db_session, line.author)
    url = f"/deviations/{deviation.id}"
    assert "Bag label &lt;smudged&gt;" in manager.get(url).text
    no_reason = submit(manager, url, {"investigation": "Checked"}, action=f"{url}/investigation")
    assert no_reason.status_code == 422
    saved = submit(
        manager,
        url,
        {
            "category": "minor",
            "investigation": "Label checked against COI record",
            "root_cause": "Condensation",
            "other_batches_assessed": "None",
            "conclusion": "No impact",
            "capa": "Moisture-proof sleeves",
            "reason": "Investigation completed",
        },
        action=f"{url}/investigation",
    )
    assert saved.status_code == 303
    assert "Close with QA signature" not in manager.get(url).text
    assert manager.get(f"/sign/deviation/{deviation.id}/approved").status_code == 403
    qa = signed_in_as(app, db_session, line.qa)
    assert "Close with QA signature" in qa.get(url).text
    assert submit(qa, f"/sign/deviation/{deviation.id}/approved", {"password": PASSWORD}).status_code == 303
    db_session.expire_all()
    assert deviation.status == DeviationStatus.CLOSED
    assert "No open deviations" in qa.get("/deviations").text or deviation.number not in qa.get("/deviations").text


def test_the_batch_list_filters_by_status_and_refuses_an_unknown_one(app, db_session, line, batch):
    client = signed_in_as(app, db_session, line.operator)
    assert batch.batch_number in client.get("/batches?status=in+progress").text
    assert batch.batch_number not in client.get("/batches?status=released").text
    assert client.get("/batches?status=finished").status_code == 400


def test_a_step_or_requirement_of_another_batch_is_answered_as_unknown(app, db_session, line, batch):
    other = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 654321 C",
        user=line.operator,
    )
    do_receipt(db_session, batch, line)
    client = signed_in_as(app, db_session, line.operator)
    step, foreign_requirement = batch.steps[1], other.steps[1].materials[0]
    taken = submit(
        client,
        f"/batch-steps/{step.id}",
        {"requirement_id": str(foreign_requirement.id), "lot_id": str(line.medium_lot.id), "quantity": "250 mL"},
        action=f"/batch-steps/{step.id}/materials",
    )
    assert taken.status_code == 404
    assert f"Step 2 has no material requirement with id {foreign_requirement.id}." in taken.text
    foreign_step = other.steps[0]
    raised = submit(
        client,
        f"/batches/{batch.id}",
        {"description": "Bag label smudged", "step_id": str(foreign_step.id)},
        action=f"/batches/{batch.id}/deviations",
    )
    assert raised.status_code == 404
    assert f"Batch {batch.batch_number} has no step with id {foreign_step.id}." in raised.text
    db_session.expire_all()
    assert step_uses.uses_of_steps(db_session, [step])[step.id].consumptions == []
    assert db_session.scalars(select(Deviation)).all() == []


def test_the_batch_record_pdf_is_served_and_its_generation_audited(app, db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    qa = signed_in_as(app, db_session, line.qa)
    response = qa.get(f"/batches/{batch.id}/record.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")
    sha256 = hashlib.sha256(response.data)
    assert response.headers["X-Content-SHA256"] == sha256.hexdigest()
    assert response.headers["Repr-Digest"] == f"sha-256=:{base64.b64encode(sha256.digest()).decode()}:"
    db_session.expire_all()
    generated = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "report.generated", AuditEvent.entity_id == str(batch.id))
    ).one()
    assert json.loads(generated.changes)["sha256"] == sha256.hexdigest()
    assert signed_in_as(app, db_session, line.operator).get(f"/batches/{batch.id}/record.pdf").status_code == 403


def test_the_step_page_offers_only_the_signatures_the_user_may_give(app, db_session, line, batch):
    step = batch.steps[0]
    for parameter, value in zip(step.parameters[:2], ("180", "5"), strict=True):
        execution.record_entry(db_session, parameter, value, user=line.operator)
    operator = signed_in_as(app, db_session, line.operator)
    assert "Sign step as performed" in operator.get(f"/batch-steps/{step.id}").text
    qa = signed_in_as(app, db_session, line.qa)
    assert "Sign step as performed" not in qa.get(f"/batch-steps/{step.id}").text


def test_the_training_form_offers_the_effective_master_records(app, db_session, line):
    manager = signed_in_as(app, db_session, line.author)
    page = manager.get("/training").text
    assert '<option value="MBR CART-001 v1">' in page and duplicate_ids(page) == []


def test_the_batch_list_shows_each_batch_at_its_current_step(app, db_session, line, batch):
    do_receipt(db_session, batch, line)
    page = signed_in_as(app, db_session, line.operator).get("/batches").text
    assert f'href="/batch-steps/{batch.steps[1].id}">2. CD4/CD8 selection</a>' in page


def test_a_lot_page_traces_the_lot_to_the_batches_it_went_into(app, db_session, line, batch):
    do_receipt(db_session, batch, line)
    step = batch.steps[1]
    execution.record_material_use(
        db_session, step, step.materials[0], line.medium_lot, parse_measurement("250 mL"), user=line.operator
    )
    page = signed_in_as(app, db_session, line.qa).get(f"/materials/lots/{line.medium_lot.id}").text
    assert f'href="/batch-steps/{step.id}">{batch.batch_number}, step 2 (CD4/CD8 selection)</a>' in page


def test_the_second_person_finds_the_steps_to_verify_from_the_dashboard(app, db_session, line, batch):
    step = batch.steps[0]
    for parameter, value in zip(step.parameters[:2], ("180", "5"), strict=True):
        execution.record_entry(db_session, parameter, value, user=line.operator)
    from lims.signatures import service as signatures

    signatures.sign(db_session, step, meaning=SignatureMeaning.PERFORMED, user=line.operator, password=PASSWORD)
    verifier = signed_in_as(app, db_session, line.second_operator)
    assert queue_count(verifier.get("/").text, "Steps to verify") == 1
    page = verifier.get("/batch-steps/awaiting/verified").text
    assert f'href="/batch-steps/{step.id}">1. Receive apheresis bag</a>' in page and batch.batch_number in page
    performer = signed_in_as(app, db_session, line.operator)
    assert queue_count(performer.get("/").text, "Steps to verify") == 0
    assert "Nothing is waiting." in performer.get("/batch-steps/awaiting/verified").text
    assert performer.get("/batch-steps/awaiting/approved").status_code == 404


@pytest.mark.parametrize(("role", "sees_history"), [(RoleName.QA, True), (RoleName.TECHNICIAN, False)])
def test_batch_step_and_deviation_pages_link_to_their_history_for_those_who_read_the_trail(
    role, sees_history, app, db_session, line, batch, create_user
):
    deviation = deviations.raise_deviation(db_session, batch, description="Bag label smudged", user=line.operator)
    step = batch.steps[0]
    client = signed_in_as(app, db_session, create_user(role))
    for url, link, text in (
        (f"/batches/{batch.id}", history_link("batch", batch.id, with_parts=True), "History of this batch"),
        (f"/batch-steps/{step.id}", history_link("batch_step", step.id, with_parts=True), "History of this step"),
        (f"/deviations/{deviation.id}", history_link("deviation", deviation.id), "History of this deviation"),
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert (link in page.text) is sees_history and (text in page.text) is sees_history, url


def test_the_history_of_a_step_and_of_its_batch_includes_the_corrections_of_its_entries(app, db_session, line, batch):
    step = do_receipt(db_session, batch, line)
    entry = step.parameters[0].current_entry
    execution.correct_entry(db_session, entry, "190", reason="Misread the scale", user=line.operator)
    other_step_parameter = batch.steps[1].parameters[0]
    client = signed_in_as(app, db_session, line.qa)
    for page_url, heading in (
        (f"/batch-steps/{step.id}", f"History of step 1. {step.title} ({batch.batch_number})"),
        (f"/batches/{batch.id}", f"History of batch {batch.batch_number}"),
    ):
        history_url = re.search(r'href="(/audit\?[^"]*with_parts=1)"', client.get(page_url).text)[1]
        history = client.get(history_url.replace("&amp;", "&")).text
        assert f"<h1>{heading}</h1>" in history
        assert "Misread the scale" in history, "the correction of an entry of the step is in its history"
        assert f"batch entry {entry.id}" in history
    step_history = client.get(f"/audit?entity_type=batch_step&entity_id={step.id}&with_parts=1").text
    assert f"batch parameter {other_step_parameter.id}<" not in step_history, "another step's parts are not"
    exported = client.get(f"/audit/export.csv?entity_type=batch_step&entity_id={step.id}&with_parts=1").text
    assert "Misread the scale" in exported and f"batch_parameter,{other_step_parameter.id}," not in exported


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("with_parts=1", 422, "Choose a record type and id"),
        ("entity_type=batch_step&entity_id=999999&with_parts=1", 404, "There is no batch step 999999."),
        ("entity_type=batch_step&entity_id=first&with_parts=1", 422, "is not the id of a batch step"),
        ("entity_type=audit_event&entity_id=1&with_parts=1", 422, "is not a type of controlled record"),
        ("entity_type=batch_step&entity_id=99999999999999999999&with_parts=1", 422, "is not the id of a batch step"),
        ("entity_type=batch_step&entity_id=1-2&with_parts=1", 422, "is not the id of a batch step"),
    ],
)
def test_a_history_with_parts_needs_an_existing_controlled_record(app, db_session, line, query, status, message):
    response = signed_in_as(app, db_session, line.qa).get(f"/audit?{query}")
    assert response.status_code == status and message in response.text


def section(page: str, heading: str, next_heading: str) -> str:
    return page.split(f"<h2>{heading}</h2>", 1)[1].split(f"<h2>{next_heading}</h2>", 1)[0]


def verified_viability(db_session, line, batch):
    execute_all_steps(db_session, batch, line)
    result = release.record_release_result(db_session, batch.release_tests[0], "91.5", user=line.operator)
    sign(db_session, result, SignatureMeaning.VERIFIED, line.second_operator)
    return result


def release_test_sections(client, batch) -> tuple[str, str]:
    """The release tests on the batch page and the results on the QA review page."""
    return (
        section(client.get(f"/batches/{batch.id}").text, "Release tests", "Deviations"),
        section(client.get(f"/batches/{batch.id}/review").text, "Release test results", "Deviations"),
    )


def test_a_verified_result_shows_its_verifier_on_the_batch_and_review_pages(app, db_session, line, batch):
    verified_viability(db_session, line, batch)
    qa = signed_in_as(app, db_session, line.qa)
    for shown in release_test_sections(qa, batch):
        assert '<div class="signature signature-valid">' in shown
        assert '<span class="signature-name">Sara Lind</span>' in shown
        assert '<span class="signature-meaning">Verified</span>' in shown
        assert "Invalidated" not in shown


def test_a_corrected_result_awaits_its_own_verification_and_the_original_keeps_its_signature(
    app, db_session, line, batch
):
    original = verified_viability(db_session, line, batch)
    release.correct_release_result(db_session, original, "93", reason="Transcription error", user=line.operator)
    qa = signed_in_as(app, db_session, line.qa)
    tests, results = release_test_sections(qa, batch)
    assert "Sara Lind" not in tests and "Not signed yet." in tests and "Verify (second person)" in tests
    # A correction is a new result: the original is unchanged, so its verification still holds for what it says.
    _, original_item, correction_item = results.split("<li>Viability: ")
    assert "<del>91.5 %</del>" in original_item
    assert '<div class="signature signature-valid">' in original_item and "Sara Lind" in original_item
    assert "Transcription error" in correction_item
    assert "Not signed yet." in correction_item and "Sara Lind" not in correction_item


def test_a_result_changed_after_its_verification_shows_the_signature_invalidated(app, db_session, line, batch):
    result = verified_viability(db_session, line, batch)
    # No service edits a recorded result; this stands for a change made behind the rules' back.
    with audit_context.reason_for_change(db_session, "Changed outside the result rules"):
        result.specification = "≥ 80 %"
    qa = signed_in_as(app, db_session, line.qa)
    tests, results = release_test_sections(qa, batch)
    for shown in (tests, results):
        assert '<div class="signature signature-invalidated">' in shown
        assert '<span class="signature-name">Sara Lind</span>' in shown
        assert "Invalidated: the record changed after this signature." in shown
    assert "Verify (second person)" in tests
