"""Corrections supersede a version with a reason and QA's signature; revocation needs both too; all audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.certificates.errors import AlreadyRevoked, NotCurrent
from lims.certificates.models import DocumentRevocation, DocumentStatus, IssuedDocument
from lims.certificates.service import batch_certificate, documents, verification
from lims.identity.errors import LoginFailed
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD
from tests.lims.certificates.conftest import pdf_text


def correct(db_session, document, user, reason="Product name misspelt on version 1", password=PASSWORD):
    return documents.correct_document(db_session, document, reason=reason, user=user, password=password)


def test_a_correction_supersedes_the_old_version_with_its_reason_and_qas_signature(db_session, line, certificate):
    corrected = correct(db_session, certificate, line.qa)

    assert (corrected.number, corrected.version, corrected.supersedes_id) == (certificate.number, 2, certificate.id)
    assert documents.status_of(db_session, certificate) == DocumentStatus.SUPERSEDED
    assert documents.status_of(db_session, corrected) == DocumentStatus.VALID
    [(approval, status)] = signatures.signatures_of(db_session, corrected)
    assert (approval.meaning, approval.printed_name, status) == (
        SignatureMeaning.APPROVED,
        line.qa.full_name,
        signatures.SignatureStatus.VALID,
    )
    printed = pdf_text(corrected.pdf)
    assert "Supersedes version 1. Reason: Product name misspelt on version 1" in printed
    assert corrected.content_sha256 != certificate.content_sha256
    # The old file is kept exactly as issued, and checks as superseded.
    assert verification.verify_file(db_session, certificate.pdf).outcome == verification.Outcome.SUPERSEDED
    assert verification.verify_file(db_session, corrected.pdf).outcome == verification.Outcome.VALID
    created = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "issued_document", AuditEvent.entity_id == str(corrected.id))
    ).all()
    assert {event.action for event in created} >= {"create", "signature.applied"}


@pytest.mark.parametrize("reason", ["", "   ", None])
def test_a_correction_without_a_reason_is_refused_and_issues_nothing(db_session, line, certificate, reason):
    with pytest.raises(ReasonRequired):
        correct(db_session, certificate, line.qa, reason=reason)
    assert len(batch_certificate.certificates_of(db_session, certificate_batch(db_session, certificate))) == 1


def test_a_wrong_password_signs_nothing(db_session, line, certificate):
    with pytest.raises(LoginFailed):
        correct(db_session, certificate, line.qa, password="not-the-password-1")
    with pytest.raises(LoginFailed):
        documents.revoke(db_session, certificate, reason="Issued in error", user=line.qa, password="wrong-one-22")
    assert db_session.scalar(select(DocumentRevocation.id)) is None
    assert db_session.scalar(select(IssuedDocument.id).where(IssuedDocument.version == 2)) is None


def test_only_qa_signs_a_correction(db_session, line, certificate):
    with pytest.raises(SignatureRefused):
        correct(db_session, certificate, line.operator)


def test_revocation_needs_a_reason_and_qas_signature_and_is_final(db_session, line, certificate):
    with pytest.raises(ReasonRequired):
        documents.revoke(db_session, certificate, reason=" ", user=line.qa, password=PASSWORD)
    revocation = documents.revoke(
        db_session, certificate, reason="Batch recalled: sterility retest failed", user=line.qa, password=PASSWORD
    )
    assert documents.status_of(db_session, certificate) == DocumentStatus.REVOKED
    [(signature, status)] = signatures.signatures_of(db_session, revocation)
    assert signature.meaning == SignatureMeaning.APPROVED and status == signatures.SignatureStatus.VALID
    assert verification.verify_file(db_session, certificate.pdf).outcome == verification.Outcome.REVOKED
    with pytest.raises(AlreadyRevoked):
        documents.revoke(db_session, certificate, reason="Again", user=line.qa, password=PASSWORD)
    with pytest.raises(AlreadyRevoked):
        correct(db_session, certificate, line.qa)


def test_a_superseded_version_is_neither_corrected_nor_revoked(db_session, line, certificate):
    correct(db_session, certificate, line.qa)
    with pytest.raises(NotCurrent):
        correct(db_session, certificate, line.qa)
    with pytest.raises(NotCurrent):
        documents.revoke(db_session, certificate, reason="Wrong one", user=line.qa, password=PASSWORD)


def test_a_first_version_cannot_be_signed_as_approved_through_the_signing_page(db_session, line, certificate):
    with pytest.raises(SignatureRefused):
        signatures.sign(db_session, certificate, meaning=SignatureMeaning.APPROVED, user=line.qa, password=PASSWORD)


def certificate_batch(db_session, certificate):
    from batch_records.service import batches

    return batches.get_batch(db_session, int(certificate.subject_id))
