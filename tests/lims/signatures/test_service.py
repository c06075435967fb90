"""Signing: re-authentication, binding to content and record, four-eyes rule."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from lims import clock, registry
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.errors import AccountLocked, LoginFailed
from lims.identity.models import LoginAttempt, LoginOutcome, RoleName
from lims.identity.service import passwords
from lims.signatures import service
from lims.signatures.errors import MeaningNotAllowed, SamePersonRefused, SignatureRefused
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.signatures.service import SignatureStatus
from tests.helpers import PASSWORD

MOMENT = datetime(2030, 2, 3, 4, 5, 6, tzinfo=UTC)


def test_signature_records_printed_name_time_meaning_and_content_hash(db_session, create_user, create_note):
    qa = create_user(RoleName.QA, full_name="Quinn Okafor")
    note = create_note()
    clock.freeze(MOMENT)
    signature = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    assert (signature.printed_name, signature.signed_at, signature.meaning) == (
        "Quinn Okafor",
        MOMENT,
        SignatureMeaning.APPROVED,
    )
    assert signature.content_hash == service.content_hash(note) and len(signature.content_hash) == 64
    assert service.signatures_of(db_session, note) == [(signature, SignatureStatus.VALID)]
    applied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "signature.applied")).one()
    assert applied.entity_id == str(note.id) and '"meaning":"approved"' in applied.changes


def test_wrong_password_is_refused_and_counts_toward_lockout(db_session, create_user, create_note):
    qa = create_user(RoleName.QA)
    note = create_note()
    clock.freeze(MOMENT)
    for _ in range(4):
        with pytest.raises(LoginFailed, match="nothing was signed"):
            service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password="not-my-password")
    failures = db_session.scalars(
        select(LoginAttempt).where(LoginAttempt.user_id == qa.id, LoginAttempt.outcome == LoginOutcome.WRONG_PASSWORD)
    ).all()
    assert len(failures) == 4
    with pytest.raises(AccountLocked):
        service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password="still-not-it")
    with pytest.raises(AccountLocked):
        service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    assert service.signatures_of(db_session, note) == []


def test_changing_the_content_invalidates_the_signature(db_session, create_user, create_note):
    qa = create_user(RoleName.QA)
    note = create_note(text="Viability 92 %")
    service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    with audit_context.reason_for_change(db_session, "Transcription error"):
        note.text = "Viability 29 %"
    [(_, status)] = service.signatures_of(db_session, note)
    assert status == SignatureStatus.INVALIDATED


def test_a_signature_copied_to_another_record_fails_verification(db_session, create_user, create_note):
    qa = create_user(RoleName.QA)
    signed, other = create_note(text="Same content"), create_note(text="Same content")
    original = service.sign(db_session, signed, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    forged = ElectronicSignature(
        entity_type=original.entity_type,
        entity_id=str(other.id),
        meaning=original.meaning,
        signer_id=original.signer_id,
        printed_name=original.printed_name,
        signed_at=original.signed_at,
        content_hash=original.content_hash,
        binding_hash=original.binding_hash,
    )
    db_session.add(forged)
    db_session.flush()
    assert service.signatures_of(db_session, other) == [(forged, SignatureStatus.BROKEN)]
    assert service.signature_status(original, other, []) == SignatureStatus.BROKEN


def test_a_signature_row_cannot_be_moved_or_deleted(db_session, connection, create_user, create_note):
    qa = create_user(RoleName.QA)
    note, other = create_note(), create_note()
    signature = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    for statement in (
        f"UPDATE electronic_signature SET entity_id = '{other.id}' WHERE id = {signature.id}",
        f"DELETE FROM electronic_signature WHERE id = {signature.id}",
    ):
        savepoint = connection.begin_nested()
        with pytest.raises(DatabaseError, match="append-only"):
            connection.execute(text(statement))
        savepoint.rollback()


def test_the_four_eyes_helper_refuses_the_performer(db_session, create_user, create_note):
    technician, colleague = create_user(RoleName.TECHNICIAN), create_user(RoleName.TECHNICIAN)
    note = create_note(performed_by_id=technician.id)
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    performers = service.signers_with_meaning(db_session, note, SignatureMeaning.PERFORMED)
    with pytest.raises(SamePersonRefused, match="different person than the one who performed"):
        service.require_different_person(technician, performers, earlier_role="performed")
    service.require_different_person(colleague, performers, earlier_role="performed")


def test_a_role_without_the_meaning_cannot_sign(db_session, create_user, create_note):
    technician = create_user(RoleName.TECHNICIAN)
    with pytest.raises(SignatureRefused, match="may not sign"):
        service.sign(db_session, create_note(), meaning=SignatureMeaning.APPROVED, user=technician, password=PASSWORD)


def test_a_meaning_the_record_type_does_not_take_is_refused(db_session, create_user, create_note):
    qa = create_user(RoleName.QA)
    with pytest.raises(MeaningNotAllowed):
        service.sign(db_session, create_note(), meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)


def test_a_reset_password_must_be_changed_before_signing(db_session, create_user, create_note):
    admin, qa = create_user(RoleName.ADMIN), create_user(RoleName.QA)
    temporary = passwords.reset_password(db_session, qa, actor=admin)
    with pytest.raises(SignatureRefused, match="Change your temporary password"):
        service.sign(db_session, create_note(), meaning=SignatureMeaning.APPROVED, user=qa, password=temporary)


def test_a_temporary_password_is_refused_before_any_password_is_asked(db_session, create_user, create_note):
    admin, qa = create_user(RoleName.ADMIN), create_user(RoleName.QA)
    note = create_note()
    assert service.may_sign(db_session, note, SignatureMeaning.APPROVED, qa)
    passwords.reset_password(db_session, qa, actor=admin)
    with pytest.raises(SignatureRefused, match="Change your temporary password"):
        service.check_may_sign(db_session, note, SignatureMeaning.APPROVED, qa)
    assert not service.may_sign(db_session, note, SignatureMeaning.APPROVED, qa)


def test_may_sign_answers_what_sign_would_refuse_without_the_password(db_session, create_user, create_note):
    technician, colleague = create_user(RoleName.TECHNICIAN), create_user(RoleName.TECHNICIAN)
    note = create_note(performed_by_id=technician.id)
    assert not service.may_sign(db_session, note, SignatureMeaning.APPROVED, technician)  # QA's meaning
    assert not service.may_sign(db_session, note, SignatureMeaning.RELEASED, technician)  # not a meaning it takes
    assert not service.may_sign(db_session, note, SignatureMeaning.VERIFIED, technician)  # the area's rule
    with pytest.raises(SamePersonRefused):
        service.sign(db_session, note, meaning=SignatureMeaning.VERIFIED, user=technician, password=PASSWORD)
    assert service.may_sign(db_session, note, SignatureMeaning.VERIFIED, colleague)
    service.sign(db_session, note, meaning=SignatureMeaning.VERIFIED, user=colleague, password=PASSWORD)


def test_may_sign_leaves_nothing_behind_of_what_the_rule_did_to_decide(
    db_session, create_user, create_note, monkeypatch
):
    """An area's rule may lock or write rows to decide; a page that only asks must not keep them."""
    qa = create_user(RoleName.QA)
    note = create_note(text="As recorded")
    signable = registry.current().signables[note.__tablename__]

    def rule_that_writes(session, record, _meaning, _user):
        with audit_context.reason_for_change(session, "Written while deciding"):
            record.text = "Written while deciding"

    monkeypatch.setitem(
        registry.current()._signables,
        note.__tablename__,
        dataclasses.replace(signable, before_signing=rule_that_writes),
    )
    assert service.may_sign(db_session, note, SignatureMeaning.APPROVED, qa)
    assert db_session.scalar(select(type(note).text).where(type(note).id == note.id)) == "As recorded"
    assert not db_session.scalars(select(AuditEvent).where(AuditEvent.reason == "Written while deciding")).all()
