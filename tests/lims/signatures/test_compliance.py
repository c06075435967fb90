"""The signatures' compliance check: a signature that a later change of its record, or of one of the parts it is
made of (at any depth), invalidated, and that nobody signed again, is found and says what changed; signing again,
a change before signing, a change of another record's part or a change outside the signed content is not found."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import delete

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.signatures import service
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD, counted_statements
from tests.lims.compliance.checking import found
from tests.lims.signatures.conftest import NoteLine, NoteMark

SIGNED = datetime(2030, 4, 10, 8, tzinfo=UTC)
CHECK = "signatures.invalidated-not-resigned"


def _signed_note(db_session, create_note, create_user, lines: tuple[str, ...] = ()):
    clock.freeze(SIGNED)
    technician = create_user(RoleName.TECHNICIAN)
    note = create_note(performed_by_id=technician.id, lines=lines)
    signature = service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    return note, signature, technician


def _signed_note_with_lines(db_session, create_note, create_user):
    note, signature, technician = _signed_note(
        db_session, create_note, create_user, lines=("Volume 50 mL", "Viable cells 2.1e9")
    )
    note.lines[0].marks.append(NoteMark(text="checked"))
    db_session.flush()
    # Signed again over the mark, so the signature under test covers every part.
    clock.advance(timedelta(minutes=1))
    signature = service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    return note, signature, technician


def _change_line(db_session, line: NoteLine, text: str = "Viable cells 2.4e9") -> None:
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Count corrected"):
        line.text = text
    db_session.flush()


def _signed_by(signature) -> str:
    return (
        f"after {signature.printed_name} signed it as performed on {signature.signed_at.date().isoformat()}; it has "
        "not been signed again"
    )


def test_a_signature_invalidated_by_a_later_change_is_found(db_session, create_note, create_user):
    note, signature, _technician = _signed_note(db_session, create_note, create_user)
    assert not found(db_session, CHECK, at=clock.now())
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Count corrected"):
        note.text = "Harvest: 2.4e9 viable cells"
    db_session.flush()
    condition = found(db_session, CHECK, at=clock.now())[str(signature.id)]
    assert condition.record_type == "electronic_signature"
    assert condition.record_label == f"performed signature of test batch note {note.id}"
    assert condition.detail == f"test batch note {note.id} changed {_signed_by(signature)}"


def test_a_signature_signed_again_after_the_change_is_not_found(db_session, create_note, create_user):
    note, _signature, technician = _signed_note(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Count corrected"):
        note.text = "Harvest: 2.4e9 viable cells"
    clock.advance(timedelta(minutes=5))
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    assert not found(db_session, CHECK, at=clock.now())


def test_a_part_changed_after_signing_is_found_and_named(db_session, create_note, create_user):
    note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    assert not found(db_session, CHECK, at=clock.now())
    _change_line(db_session, note.lines[1])
    condition = found(db_session, CHECK, at=clock.now())[str(signature.id)]
    assert condition.record_label == f"performed signature of test batch note {note.id}"
    assert condition.detail == f"line 2 of test batch note {note.id} changed {_signed_by(signature)}"


def test_a_part_of_a_part_added_after_signing_is_found(db_session, create_note, create_user):
    note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    mark = NoteMark(text="rechecked")
    note.lines[1].marks.append(mark)
    db_session.flush()
    condition = found(db_session, CHECK, at=clock.now())[str(signature.id)]
    assert condition.detail == (
        f"test note mark {mark.id} of line 2 of test batch note {note.id} added {_signed_by(signature)}"
    )


def test_every_changed_part_is_named_in_the_records_order(db_session, create_note, create_user):
    note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Transcription corrected"):
        note.lines[1].text = "Viable cells 2.4e9"
        note.lines[0].marks[0].text = "checked twice"
        note.text = "Harvest"
    db_session.flush()
    mark = note.lines[0].marks[0]
    assert found(db_session, CHECK, at=clock.now())[str(signature.id)].detail == (
        f"test batch note {note.id} changed; test note mark {mark.id} of line 1 of test batch note {note.id} "
        f"changed; line 2 of test batch note {note.id} changed {_signed_by(signature)}"
    )


def test_a_part_changed_before_signing_is_not_found(db_session, create_note, create_user):
    note, _signature, technician = _signed_note_with_lines(db_session, create_note, create_user)
    _change_line(db_session, note.lines[1])
    clock.advance(timedelta(minutes=5))
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    clock.advance(timedelta(hours=1))
    assert not found(db_session, CHECK, at=clock.now())


def test_signing_again_after_a_part_changed_clears_it(db_session, create_note, create_user):
    note, signature, technician = _signed_note_with_lines(db_session, create_note, create_user)
    _change_line(db_session, note.lines[0])
    assert str(signature.id) in found(db_session, CHECK, at=clock.now())
    clock.advance(timedelta(minutes=5))
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    assert not found(db_session, CHECK, at=clock.now())


def test_a_changed_part_of_another_record_does_not_invalidate_a_signature(db_session, create_note, create_user):
    _note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    other, other_signature, _other_technician = _signed_note_with_lines(db_session, create_note, create_user)
    _change_line(db_session, other.lines[1])
    assert set(found(db_session, CHECK, at=clock.now())) == {str(other_signature.id)}
    assert str(signature.id) != str(other_signature.id)


def test_a_part_changed_back_to_what_was_signed_is_not_found(db_session, create_note, create_user):
    note, _signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    signed_text = note.lines[1].text
    _change_line(db_session, note.lines[1])
    _change_line(db_session, note.lines[1], signed_text)
    assert not found(db_session, CHECK, at=clock.now())


def _delete_as_old_trails_recorded(db_session, part, owner_field: str, owner_id: int) -> None:
    """Delete ``part``'s row and record its deletion as the trail did before controlled records could no longer be
    deleted: every column's old value, its owner among them."""
    model = type(part)
    columns = {column.key: [getattr(part, column.key), None] for column in model.__table__.columns}
    assert columns[owner_field] == [owner_id, None]
    db_session.execute(delete(model).where(model.id == part.id))
    audit_chain.append(db_session, "delete", entity_type=model.__tablename__, entity_id=part.id, changes=columns)
    db_session.expire_all()


def test_a_part_deleted_after_signing_is_found(db_session, create_note, create_user):
    note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    line = note.lines[1]
    line_id = line.id
    _delete_as_old_trails_recorded(db_session, line, "note_id", note.id)
    assert found(db_session, CHECK, at=clock.now())[str(signature.id)].detail == (
        f"test note line {line_id} of test batch note {note.id} removed {_signed_by(signature)}"
    )


def test_a_part_of_a_part_deleted_after_signing_is_found(db_session, create_note, create_user):
    note, signature, _technician = _signed_note_with_lines(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    mark = note.lines[0].marks[0]
    mark_id = mark.id
    _delete_as_old_trails_recorded(db_session, mark, "line_id", note.lines[0].id)
    assert found(db_session, CHECK, at=clock.now())[str(signature.id)].detail == (
        f"test note mark {mark_id} of test batch note {note.id} removed {_signed_by(signature)}"
    )


def test_a_part_deleted_before_signing_is_not_found(db_session, create_note, create_user):
    note, _signature, technician = _signed_note_with_lines(db_session, create_note, create_user)
    clock.advance(timedelta(hours=1))
    _delete_as_old_trails_recorded(db_session, note.lines[1], "note_id", note.id)
    clock.advance(timedelta(minutes=5))
    service.sign(db_session, note, meaning=SignatureMeaning.PERFORMED, user=technician, password=PASSWORD)
    assert not found(db_session, CHECK, at=clock.now())


def test_the_check_sends_as_many_statements_for_many_invalidated_signatures_as_for_one(
    db_session, connection, create_note, create_user
):
    def statements_and_findings() -> tuple[int, int]:
        db_session.flush()
        db_session.expire_all()
        found(db_session, CHECK, at=clock.now())  # writes the session's pending events first
        db_session.expire_all()
        with counted_statements(connection) as traffic:
            findings = found(db_session, CHECK, at=clock.now())
        return len(traffic.statements), len(findings)

    notes = [_signed_note_with_lines(db_session, create_note, create_user)[0]]
    _change_line(db_session, notes[0].lines[1])
    one = statements_and_findings()
    for _ in range(4):
        notes.append(_signed_note_with_lines(db_session, create_note, create_user)[0])
    clock.advance(timedelta(hours=1))
    with audit_context.reason_for_change(db_session, "Transcription corrected"):
        for note in notes[1:]:
            note.lines[0].text = "Volume 55 mL"
            note.lines[1].marks.append(NoteMark(text="rechecked"))
            note.lines[0].marks[0].text = "checked twice"
    many = statements_and_findings()
    assert one[1] == 1
    assert many[1] == 5
    assert many[0] == one[0]
