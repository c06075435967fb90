"""The signing page: the signer is the signed-in user, whatever the form says."""
from __future__ import annotations

import json

from sqlalchemy import select

from lims.audit.models import AuditEvent

from lims.identity.models import LoginAttempt, LoginOutcome, RoleName
from lims.signatures.models import ElectronicSignature
from tests.helpers import PASSWORD, submit


def test_signing_page_shows_the_content_and_signs_as_the_signed_in_user(client, create_user, create_note, db_session, signed_in):
    someone_else = create_user(RoleName.QA, full_name="Someone Else")
    note = create_note(text="Endotoxin < 0.5 EU/mL")
    db_session.commit()
    qa = signed_in(RoleName.QA, full_name="Quinn Okafor")
    url = f"/sign/test_batch_note/{note.id}/approved"
    page = client.get(url)
    assert page.status_code == 200 and "Endotoxin &lt; 0.5 EU/mL" in page.text
    response = submit(client, url, {"password": PASSWORD, "signer_id": str(someone_else.id),
                                    "printed_name": "Someone Else", "username": someone_else.username})
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
    assert db_session.scalars(select(LoginAttempt).where(
        LoginAttempt.user_id == qa.id, LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD)).one()


def test_unknown_record_or_meaning_is_404(client, create_note, signed_in):
    signed_in(RoleName.QA)
    assert client.get("/sign/test_batch_note/999/approved").status_code == 404
    assert client.get("/sign/user_account/1/approved").status_code == 404
    assert client.get("/sign/test_batch_note/1/blessed").status_code == 404


def test_clients_cannot_reach_the_signing_page(client, create_note, signed_in):
    signed_in(RoleName.CLIENT)
    assert client.get("/sign/test_batch_note/1/approved").status_code == 403


def test_a_signature_refused_by_a_rule_is_audited_and_changes_nothing(client, create_note, db_session, signed_in):
    note = create_note()
    db_session.commit()
    technician = signed_in(RoleName.TECHNICIAN)
    url = f"/sign/test_batch_note/{note.id}/approved"
    response = submit(client, url, {"password": PASSWORD})
    assert response.status_code == 403 and "may not sign a test batch note as approved" in response.text
    db_session.expire_all()
    assert db_session.scalars(select(ElectronicSignature)).all() == []
    refused = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert refused.user_id == technician.id and refused.request_id
    assert json.loads(refused.changes) == {
        "method": "POST", "path": url, "refusal": "Your role may not sign a test batch note as approved."}
