"""The batch certificate issued on QA's release: every field, the stored hash, the PAdES signature, kept unchanged."""

from __future__ import annotations

import hashlib
import io
import json
from zoneinfo import ZoneInfo

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from lims import clock
from lims.certificates.errors import AlreadyIssued, NotReleased
from lims.certificates.models import DocumentStatus
from lims.certificates.service import batch_certificate, documents, verification
from lims.document_signing import PdfSignatureState, check_pdf_signature
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch
from tests.lims.certificates.conftest import page_texts


def test_releasing_a_batch_issues_its_certificate_with_every_field(db_session, line, batch):
    clock.set_facility_zone(ZoneInfo("Europe/Berlin"))
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)

    [certificate] = batch_certificate.certificates_of(db_session, batch)
    assert (certificate.number, certificate.version) == (f"COA-{batch.batch_number}", 1)
    assert documents.status_of(db_session, certificate) == DocumentStatus.VALID
    pages = page_texts(certificate.pdf)
    whole = " ".join(pages)
    for number, page in enumerate(pages, start=1):
        assert f"Page {number} of {len(pages)}" in page
        assert batch.batch_number in page and batch.subject.code in page
        assert "For autologous use only" in page
    for expected in (
        "Certificate of analysis and release",
        "Northbridge Cell Therapy Facility",
        batch.product,
        batch.batch_number,
        batch.subject.code,
        batch.subject.protocol.number,
        batch.starting_material_identity,
        batch.mbr_label,
        "Manufacturing started",
        "Manufacturing completed",
        certificate.number,
        "Version 1",
        "No deviation was raised on this batch.",
        line.qa.full_name,
        "Released",
        certificate.content_sha256,
        f"/verify/{certificate.number}?version=1",
    ):
        assert expected in whole, expected
    for state in batch.release_tests:
        definition = state.definition
        assert definition.name in whole and definition.method in whole and state.specification in whole
    assert "91.5 %" in whole and "No growth" in whole and "Conforms" in whole
    assert "Does not conform" not in whole
    # The release signature in the facility's local time and in UTC.
    assert "2030-04-10 10:00:00 CEST" in whole and "2030-04-10T08:00:00Z" in whole
    # Personal data never: the subject is named by code only.
    assert "Quinn" not in whole.replace(line.qa.full_name, "")


def test_the_stored_hash_is_the_files_and_the_content_hash_is_the_kept_contents(db_session, certificate):
    assert certificate.file_sha256 == hashlib.sha256(certificate.pdf).hexdigest()
    assert certificate.file_size == len(certificate.pdf)
    assert certificate.content_sha256 == hashlib.sha256(certificate.content.encode()).hexdigest()
    assert certificate.number in certificate.content


def test_the_certificate_carries_an_intact_pades_signature_and_one_changed_byte_breaks_it(db_session, certificate):
    signer = documents.facility_signer(db_session)
    assert check_pdf_signature(certificate.pdf, signer.certificate) == PdfSignatureState.INTACT
    status = validate_pdf_signature(
        PdfFileReader(io.BytesIO(certificate.pdf)).embedded_signatures[0],
        ValidationContext(trust_roots=[signer.certificate]),
    )
    assert status.intact and status.valid and status.trusted

    altered = bytearray(certificate.pdf)
    position = certificate.pdf.index(b"GMP LIMS")  # the producer's name, inside the signed range
    altered[position] = ord("X")
    altered_file = bytes(altered)

    checked = verification.verify_file(db_session, altered_file)
    assert checked.outcome == verification.Outcome.ALTERED
    assert checked.signature == PdfSignatureState.BROKEN
    broken = validate_pdf_signature(
        PdfFileReader(io.BytesIO(altered_file)).embedded_signatures[0],
        ValidationContext(trust_roots=[signer.certificate]),
    )
    assert not broken.intact and not broken.bottom_line


def test_an_issued_certificate_cannot_be_changed_or_deleted_in_the_database(db_session, certificate):
    db_session.commit()
    for statement in (
        "UPDATE issued_document SET product = 'other' WHERE id = :id",
        "DELETE FROM issued_document WHERE id = :id",
    ):
        with pytest.raises(DatabaseError, match="append-only"):
            with db_session.begin_nested():
                db_session.execute(text(statement), {"id": certificate.id})


def test_a_batch_not_released_gets_no_certificate_and_a_released_one_only_one(db_session, line, batch, certificate):
    with pytest.raises(AlreadyIssued):
        batch_certificate.issue_certificate(db_session, certificate_batch(db_session, certificate), line.qa)
    other = line.subjects[1]
    from batch_records.service import batches

    unreleased = batches.start_batch(
        db_session, line.version, subject=other, starting_material_identity="W1234 26 123457 5", user=line.operator
    )
    with pytest.raises(NotReleased):
        batch_certificate.issue_certificate(db_session, unreleased, line.qa)


def certificate_batch(db_session, certificate):
    from batch_records.service import batches

    return batches.get_batch(db_session, int(certificate.subject_id))


def test_an_allogeneic_products_certificate_keeps_the_chain_of_identity_but_is_not_for_autologous_use(
    db_session, released_allogeneic
):
    [certificate] = batch_certificate.certificates_of(db_session, released_allogeneic)
    pages = page_texts(certificate.pdf)
    whole = " ".join(pages)
    assert "autologous" not in whole.lower()
    for page in pages:
        assert "HLX-40 allogeneic anti-CD19 CAR-NK · Allogeneic product" in page
        assert released_allogeneic.starting_material_identity in page and released_allogeneic.subject.code in page
    assert json.loads(certificate.content)["autologous"] is False
