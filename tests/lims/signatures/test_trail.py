"""Signatures the audit trail vouches for: a row inserted or rewritten with database rights, whatever hashes it was
given, is not valid on the record and is named by `lims audit verify`."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, text

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.cli import cli
from lims.identity.models import RoleName
from lims.materials import service as materials
from lims.signatures import service
from lims.signatures.models import ElectronicSignature, SignatureMeaning
from lims.signatures.service import SignatureStatus
from lims.units.parsing import parse_measurement
from tests.helpers import PASSWORD, login
from tests.lims.audit.tampering import drop_append_only_triggers

MOMENT = datetime(2030, 2, 3, 4, 5, 6, tzinfo=UTC)


def binding_hash(fields: dict) -> str:
    """The binding hash as anyone who reads the LIMS's source can compute it."""
    ordered = [
        fields[name]
        for name in ("entity_type", "entity_id", "meaning", "signer_id", "printed_name", "signed_at", "content_hash")
    ]
    return hashlib.sha256(audit_chain.canonical_json(audit_chain.stable_value(ordered)).encode()).hexdigest()


def insert_forged_signature(connection, record, signer, meaning: SignatureMeaning) -> int:
    """A signature row written straight into the table, bound to the record's content as it is now."""
    fields = {
        "entity_type": record.__tablename__,
        "entity_id": str(record.id),
        "meaning": meaning.value,
        "signer_id": signer.id,
        "printed_name": signer.full_name,
        "signed_at": MOMENT,
        "content_hash": service.content_hash(record),
    }
    table = ElectronicSignature.__table__
    return connection.execute(
        insert(table).values(**fields, binding_hash=binding_hash(fields)).returning(table.c.id)
    ).scalar_one()


def rewrite_to_the_current_content(connection, signature: ElectronicSignature, record) -> None:
    """Make a signature that the record's change invalidated cover the changed content, hashes recomputed."""
    drop_append_only_triggers(connection, "electronic_signature")
    content = service.content_hash(record)
    fields = {
        "entity_type": signature.entity_type,
        "entity_id": signature.entity_id,
        "meaning": signature.meaning.value,
        "signer_id": signature.signer_id,
        "printed_name": signature.printed_name,
        "signed_at": signature.signed_at,
        "content_hash": content,
    }
    connection.execute(
        text("UPDATE electronic_signature SET content_hash = :content, binding_hash = :binding WHERE id = :id"),
        {"content": content, "binding": binding_hash(fields), "id": signature.id},
    )


def test_a_signature_is_applied_with_an_event_recording_what_it_says(db_session, create_user, create_note):
    qa = create_user(RoleName.QA, full_name="Quinn Okafor")
    note = create_note()
    clock.freeze(MOMENT)
    signature = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    applied = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "signature.applied")).one()
    assert (applied.entity_type, applied.entity_id) == ("test_batch_note", str(note.id))
    assert json.loads(applied.changes) == {
        "signature_id": signature.id,
        "meaning": "approved",
        "signer_id": qa.id,
        "signer": "Quinn Okafor",
        "signed_at": "2030-02-03T04:05:06.000000+00:00",
        "content_hash": signature.content_hash,
    }
    assert service.signatures_of(db_session, note) == [(signature, SignatureStatus.VALID)]


def test_a_signature_row_inserted_with_database_rights_is_not_valid(db_session, connection, create_user, create_note):
    qa = create_user(RoleName.QA)
    note = create_note()
    forged_id = insert_forged_signature(connection, note, qa, SignatureMeaning.APPROVED)
    [(forged, status)] = service.signatures_of(db_session, note)
    assert forged.id == forged_id and status == SignatureStatus.UNRECORDED
    assert service.signers_with_meaning(db_session, note, SignatureMeaning.APPROVED) == []


def test_a_signature_rewritten_to_cover_changed_content_is_not_valid(db_session, connection, create_user, create_note):
    qa = create_user(RoleName.QA)
    note = create_note(text="Viability 92 %")
    signature = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    with audit_context.reason_for_change(db_session, "Transcription error"):
        note.text = "Viability 29 %"
    assert service.signatures_of(db_session, note) == [(signature, SignatureStatus.INVALIDATED)]
    rewrite_to_the_current_content(connection, signature, note)
    db_session.expire(signature)
    assert service.signatures_of(db_session, note) == [(signature, SignatureStatus.UNRECORDED)]


def test_a_signature_moved_onto_an_event_of_another_signature_is_not_valid(
    db_session, connection, create_user, create_note
):
    """Each event vouches for its own signature only: a row given another signature's id and fields still fails."""
    qa = create_user(RoleName.QA)
    note = create_note()
    genuine = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    forged_id = insert_forged_signature(connection, note, qa, SignatureMeaning.APPROVED)
    statuses = {signature.id: status for signature, status in service.signatures_of(db_session, note)}
    assert statuses == {genuine.id: SignatureStatus.VALID, forged_id: SignatureStatus.UNRECORDED}


def test_verify_names_an_inserted_signature_and_exits_non_zero(app, db_session, connection, create_user, create_note):
    qa = create_user(RoleName.QA, full_name="Quinn Okafor")
    note = create_note()
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=create_user(), password=PASSWORD)
    db_session.commit()
    runner = app.test_cli_runner()
    assert runner.invoke(cli, ["audit", "verify"]).exit_code == 0
    forged_id = insert_forged_signature(connection, note, qa, SignatureMeaning.APPROVED)
    result = runner.invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1
    assert "But 1 record disagrees with it" in result.output
    assert (
        f"Signature {forged_id} (test batch note {note.id}, approved by Quinn Okafor at "
        "2030-02-03T04:05:06.000000+00:00) has no signature.applied event: it was not applied through the LIMS."
        in result.output
    )


def test_verify_names_a_rewritten_signature_and_a_deleted_one(app, db_session, connection, create_user, create_note):
    qa = create_user(RoleName.QA, full_name="Quinn Okafor")
    note, other = create_note(text="Viability 92 %"), create_note()
    rewritten = service.sign(db_session, note, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    deleted = service.sign(db_session, other, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
    with audit_context.reason_for_change(db_session, "Transcription error"):
        note.text = "Viability 29 %"
    db_session.commit()
    rewrite_to_the_current_content(connection, rewritten, note)
    connection.execute(text("DELETE FROM electronic_signature WHERE id = :id"), {"id": deleted.id})
    applied = {
        json.loads(event.changes)["signature_id"]: event.sequence
        for event in db_session.scalars(select(AuditEvent).where(AuditEvent.action == "signature.applied"))
    }
    result = app.test_cli_runner().invoke(cli, ["audit", "verify"])
    assert result.exit_code == 1 and "But 2 records disagree with it" in result.output
    assert f"Signature {rewritten.id} (test batch note {note.id}, approved by Quinn Okafor" in result.output
    assert (
        f"differs from its signature.applied event {applied[rewritten.id]} in content_hash: "
        "it was altered after it was applied." in result.output
    )
    assert (
        f"Signature {deleted.id}, applied in event {applied[deleted.id]}, is missing from the signatures."
        in result.output
    )


def test_the_lot_page_shows_a_forged_release_as_not_valid(app, client, db_session, connection, create_user):
    clock.freeze(MOMENT)
    medium = materials.create_material(
        db_session,
        part_number="med-001",
        name="Medium",
        specification="Sterile",
        storage_condition="2–8 °C",
        unit="mL",
    )
    lot = materials.receive_lot(
        db_session,
        medium,
        supplier="Miltenyi Biotec",
        supplier_lot="7231104",
        received_on=date(2030, 2, 1),
        expires_on=date(2030, 2, 1) + timedelta(days=180),
        quantity=parse_measurement("1 L"),
        user=create_user(),
    )
    qa = create_user(RoleName.QA, full_name="Quinn Okafor")
    db_session.commit()
    insert_forged_signature(connection, lot, qa, SignatureMeaning.RELEASED)
    login(client, qa)
    page = client.get(f"/materials/lots/{lot.id}").text
    assert "Quinn Okafor" in page and "signature-unrecorded" in page and "signature-valid" not in page
    assert "Not valid: the audit trail has no record of this signature as it stands." in page
