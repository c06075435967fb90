"""The signing page: the signer is the signed-in user, whatever the form says."""

from __future__ import annotations

import json

from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.identity.models import LoginAttempt, LoginOutcome, RoleName
from lims.signatures.models import ElectronicSignature
from tests.helpers import PASSWORD, csrf_token_from, login, submit
from tests.lims.signatures.conftest import BatchNote


def test_signing_page_shows_the_content_and_signs_as_the_signed_in_user(
    client, create_user, create_note, db_session, signed_in
):
    someone_else = create_user(RoleName.QA, full_name="Someone Else")
    note = create_note(text="Endotoxin < 0.5 EU/mL")
    db_session.commit()
    qa = signed_in(RoleName.QA, full_name="Quinn Okafor")
    url = f"/sign/test_batch_note/{note.id}/approved"
    page = client.get(url)
    assert page.status_code == 200 and "Endotoxin &lt; 0.5 EU/mL" in page.text
    response = submit(
        client,
        url,
        {
            "password": PASSWORD,
            "signer_id": str(someone_else.id),
            "printed_name": "Someone Else",
            "username": someone_else.username,
        },
    )
    assert response.status_code == 303
    signature = db_session.scalars(select(ElectronicSignature)).one()
    assert (signature.signer_id, signature.printed_name) == (qa.id, "Quinn Okafor")
    manifestation = client.get(url).text
    assert "Quinn Okafor" in manifestation and "Approved" in manifestation and "signature-valid" in manifestation


def test_wrong_password_on_the_page_is_refused_and_counted(client, create_note, db_session, signed_in):
    note = create_note()
    db_session.commit()
    qa = signed_in(RoleName.QA)
    response = submit(client, f"/sign/test_batch_note/{note.id}/approved", {"password": "wrong-password-x"})
    assert response.status_code == 401 and "nothing was signed" in response.text
    db_session.expire_all()
    assert db_session.scalars(select(ElectronicSignature)).all() == []
    assert db_session.scalars(
        select(LoginAttempt).where(LoginAttempt.user_id == qa.id, LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD)
    ).one()
    refused = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.wrong_password")).one()
    assert json.loads(refused.changes) == {
        "username": qa.username,
        "while": f"signing test batch note {note.id} as approved",
    }


def test_wrong_passwords_on_the_signing_page_lock_the_account(client, create_note, db_session, signed_in):
    note = create_note()
    db_session.commit()
    signer = signed_in(RoleName.QA)
    url = f"/sign/test_batch_note/{note.id}/approved"
    for _attempt in range(4):
        wrong = submit(client, url, {"password": "wrong-password-x"})
        assert wrong.status_code == 401 and 'id="password-error"' in wrong.text
    locked = submit(client, url, {"password": "wrong-password-x"})
    assert locked.status_code == 423 and "locked after 5 failed sign-in attempts" in locked.text
    after = client.get(url)
    assert after.status_code == 302 and after.headers["Location"].startswith("/login"), "locking ended the session"
    assert login(client, signer).status_code == 423
    db_session.expire_all()
    assert db_session.scalars(select(ElectronicSignature)).all() == []


def test_unknown_record_or_meaning_is_404(client, create_note, signed_in):
    signed_in(RoleName.QA)
    assert client.get("/sign/test_batch_note/999/approved").status_code == 404
    assert client.get("/sign/user_account/1/approved").status_code == 404
    assert client.get("/sign/test_batch_note/1/blessed").status_code == 404


def test_clients_cannot_reach_the_signing_page(client, create_note, signed_in):
    signed_in(RoleName.CLIENT)
    assert client.get("/sign/test_batch_note/1/approved").status_code == 403


def test_a_role_that_may_not_sign_is_refused_before_the_password_is_asked_and_audited(
    client, create_note, db_session, signed_in
):
    note = create_note()
    db_session.commit()
    technician = signed_in(RoleName.TECHNICIAN)
    url = f"/sign/test_batch_note/{note.id}/approved"
    page = client.get(url)
    assert page.status_code == 403 and "Your role may not sign a test batch note as approved." in page.text
    assert 'name="password"' not in page.text and "Please correct" not in page.text
    refused = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert refused.user_id == technician.id and refused.request_id
    assert json.loads(refused.changes) == {
        "method": "GET",
        "path": url,
        "refusal": "Your role may not sign a test batch note as approved.",
    }


def test_a_posted_signature_the_user_may_not_apply_is_refused_without_checking_the_password(
    client, create_note, db_session, signed_in
):
    note = create_note()
    db_session.commit()
    technician = signed_in(RoleName.TECHNICIAN)
    url = f"/sign/test_batch_note/{note.id}/approved"
    token = csrf_token_from(client.get(url).text)  # the refusal page still has the sign-out form
    response = client.post(url, data={"csrf_token": token, "password": "wrong-password-x"})
    assert response.status_code == 403 and "may not sign a test batch note as approved" in response.text
    db_session.expire_all()
    assert db_session.scalars(select(ElectronicSignature)).all() == []
    assert (
        db_session.scalars(
            select(LoginAttempt).where(
                LoginAttempt.user_id == technician.id, LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD
            )
        ).all()
        == []
    )
    assert [
        json.loads(event.changes)["method"]
        for event in db_session.scalars(
            select(AuditEvent).where(AuditEvent.action == "access.refused").order_by(AuditEvent.sequence)
        )
    ] == ["GET", "POST"]


def test_an_area_rule_refuses_up_front_with_its_reason(client, create_note, db_session, signed_in):
    performer = signed_in(RoleName.TECHNICIAN)
    note = create_note(performed_by_id=performer.id)
    db_session.commit()
    page = client.get(f"/sign/test_batch_note/{note.id}/verified")
    assert page.status_code == 403 and "A different person than the one who performed" in page.text
    assert 'name="password"' not in page.text


def test_the_signed_content_reads_as_text_not_as_python(client, create_note, db_session, signed_in, monkeypatch):
    note = create_note()
    db_session.commit()
    monkeypatch.setattr(
        BatchNote,
        "signed_content",
        lambda _note: {
            "readings": ["Temperature 37 °C: nominal 37 °C ± 0.5 °C", "CO2 5 %: nominal 5 % ± 0.2 %"],
            "passed": True,
            "hold_point": False,
            "notes": None,
            "materials": [],
            "steps": [{"position": 1, "skippable": False}],
        },
    )
    signed_in(RoleName.QA)
    page = client.get(f"/sign/test_batch_note/{note.id}/approved").text
    assert (
        "<dt>Readings</dt><dd><ul><li>Temperature 37 °C: nominal 37 °C ± 0.5 °C</li>"
        "<li>CO2 5 %: nominal 5 % ± 0.2 %</li></ul></dd>"
    ) in page
    assert "<dt>Passed</dt><dd>Yes</dd>" in page and "<dt>Hold point</dt><dd>No</dd>" in page
    assert "<dt>Notes</dt><dd>—</dd>" in page and "<dt>Materials</dt><dd>—</dd>" in page
    assert "<dt>Position</dt><dd>1</dd><dt>Skippable</dt><dd>No</dd>" in page
    for python_repr in ("[", "True", "False", "None", "{"):
        assert python_repr not in page.split('<dl class="facts">', 1)[1].split("</section>")[0]
