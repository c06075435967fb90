"""The signatures' compliance check: a signature that a later change of its record invalidated, and that nobody
signed again, is found; signing again or a change outside the signed content is not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.signatures import service
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD
from tests.lims.compliance.checking import found

SIGNED = datetime(2030, 4, 10, 8, tzinfo=UTC)


def _signed_note(db_session, create_note, create_user):
    clock.freeze(SIGNED)
    technician = create_user(RoleName.TECHNICIAN)
    note = create_note(performed_by_id=technician.id)
    signature = service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    return note, signature, technician


def test_a_signature_invalidated_by_a_later_change_is_found(db_session, create_note, create_user):
    note, signature, _technician = _signed_note(db_session, create_note, create_user)
    assert not found(db_session, "signatures.invalidated-not-resigned", at=clock.now())
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Count corrected"):
        note.text = "Harvest: 2.4e9 viable cells"
    db_session.flush()
    condition = found(db_session, "signatures.invalidated-not-resigned", at=clock.now())[str(signature.id)]
    assert condition.record_type == "electronic_signature"
    assert condition.record_label.startswith("performed signature of")
    assert "changed since and has not been signed again" in condition.detail


def test_a_signature_signed_again_after_the_change_is_not_found(db_session, create_note, create_user):
    note, _signature, technician = _signed_note(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Count corrected"):
        note.text = "Harvest: 2.4e9 viable cells"
    clock.advance(timedelta(minutes=5))
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    assert not found(db_session, "signatures.invalidated-not-resigned", at=clock.now())
