"""The results report of a submission: issued on QA's release with the certificates kit, PAdES-signed, verifiable
at /verify like a batch certificate, corrected as a new version with a reason."""

from __future__ import annotations

import hashlib
import io

from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko_certvalidator import ValidationContext

from lims.certificates.models import DocumentKind, DocumentStatus
from lims.certificates.service import documents, results_report, verification
from lims.document_signing import PdfSignatureState, check_pdf_signature
from tests.helpers import PASSWORD, login
from tests.lims.certificates.conftest import pdf_text
from tests.lims.certificates.test_pages import corrected_from_the_page
from tests.lims.samples.conftest import clients  # noqa: F401  (fixture)
from tests.lims.samples.results_support import lab, released  # noqa: F401  (fixture)


def test_the_release_issues_a_signed_report_with_every_result(db_session, lab):  # noqa: F811
    submission = released(db_session, lab, {"VIAB": "conforms", "STER": "growth"})
    [report] = results_report.reports_of(db_session, submission)
    assert report.kind == DocumentKind.RESULTS_REPORT and report.organization_id == lab.clients.helix.id
    assert (report.number, report.version) == (f"RR-{submission.public_id}", 1)
    assert report.file_sha256 == hashlib.sha256(report.pdf).hexdigest()
    whole = pdf_text(report.pdf)
    sample = submission.samples[0]
    for expected in (
        "Results report",
        "Northbridge Cell Therapy Facility",
        "Helix Cell Therapeutics",
        submission.reference,
        sample.accession_number,
        sample.client_sample_id,
        "HLX-301 HLX301-014-0007",
        "Viability",
        "Sterility method",
        "growth",
        "Does not conform",
        "Conforms",
        "1 out of specification",
        lab.qa.full_name,
        "Released",
        report.content_sha256,
        f"/verify/{report.number}?version=1",
        "Page 1 of",
    ):
        assert expected in whole, expected


def test_the_report_verifies_and_one_changed_byte_breaks_it(client, db_session, lab):  # noqa: F811
    submission = released(db_session, lab)
    report = results_report.current_report(db_session, submission)
    signer = documents.facility_signer(db_session)
    assert check_pdf_signature(report.pdf, signer.certificate) == PdfSignatureState.INTACT
    assert verification.verify_file(db_session, report.pdf).outcome == verification.Outcome.VALID
    altered = bytearray(report.pdf)
    altered[report.pdf.index(b"GMP LIMS")] = ord("X")
    checked = verification.verify_file(db_session, bytes(altered))
    assert checked.outcome == verification.Outcome.ALTERED and checked.number == report.number
    broken = validate_pdf_signature(
        PdfFileReader(io.BytesIO(bytes(altered))).embedded_signatures[0],
        ValidationContext(trust_roots=[signer.certificate]),
    )
    assert not broken.intact
    db_session.commit()
    page = client.get(f"/verify/{report.number}")
    assert page.status_code == 200 and "Submission" in page.text and submission.public_id in page.text
    assert "Valid" in page.text


def test_a_corrected_report_supersedes_the_first_with_its_reason(db_session, lab):  # noqa: F811
    submission = released(db_session, lab)
    first = results_report.current_report(db_session, submission)
    corrected = documents.correct_document(
        db_session, first, reason="Client name misspelt", user=lab.qa, password=PASSWORD
    )
    assert corrected.version == 2 and documents.status_of(db_session, first) == DocumentStatus.SUPERSEDED
    assert "Client name misspelt" in pdf_text(corrected.pdf)
    assert results_report.current_report(db_session, submission).id == corrected.id


def test_qa_corrects_a_report_from_its_page_as_a_batch_certificate(client, db_session, lab):  # noqa: F811
    submission = released(db_session, lab)
    first = results_report.current_report(db_session, submission)
    login(client, lab.qa)
    offered = client.get(f"/certificates/{first.id}").text
    assert "drawn from the released results as they stand" in offered and "batch record" not in offered
    assert "a revocation withdraws the results report" in offered
    shown = client.get(corrected_from_the_page(client, first, "Sample ID misspelt")).text
    assert f"{first.number}" in shown and "Version 1: Sample ID misspelt" in shown
    db_session.expire_all()
    current = results_report.current_report(db_session, submission)
    assert (current.version, current.kind, current.supersedes_id) == (2, DocumentKind.RESULTS_REPORT, first.id)
    assert "Sample ID misspelt" in pdf_text(current.pdf)
