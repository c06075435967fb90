"""The public verification pages, a client's certificates in the portal and by API, and `lims certificate verify`."""

from __future__ import annotations

import io
import re

import pytest

from batch_records.service import batches
from lims.certificates.models import DocumentStatus
from lims.certificates.service import documents
from lims.cli import cli
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from tests.helpers import PASSWORD, csrf_token_from, duplicate_ids, login


def upload(client, address, data, *, page=None):
    form = client.get(page or address)
    return client.post(
        address,
        data={"csrf_token": csrf_token_from(form.text), "file": (io.BytesIO(data), "certificate.pdf")},
        content_type="multipart/form-data",
    )


def test_the_verification_page_shows_only_status_product_batch_issue_date_and_hash(
    client, db_session, line, certificate
):
    db_session.commit()
    page = client.get(f"/verify/{certificate.number}")
    assert page.status_code == 200
    shown = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page.text.split('<main id="main"')[1].split("</main>")[0]))
    for expected in ("Valid", certificate.product, certificate.reference, certificate.file_sha256, "Issue date"):
        assert expected in shown
    terms = re.findall(r"<dt>([^<]+)</dt>", page.text)
    assert terms == ["Status", "Product", "Batch number", "Issue date", "Hash"]
    for private in (
        line.subject.code,
        "W1234 26 123456 7",
        line.qa.full_name,
        line.subject.protocol.sponsor.name,
        "91.5",
        "Viability",
    ):
        assert private not in page.text, private


def test_an_unknown_number_is_no_page(client, db_session, certificate):
    db_session.commit()
    assert client.get("/verify/COA-NO-SUCH").status_code == 404
    assert client.get(f"/verify/{certificate.number}?version=7").status_code == 404
    assert client.get(f"/verify/{certificate.number}?version=x").status_code == 422


def test_the_verification_pages_refuse_beyond_their_rate_limit(app, client, db_session, certificate):
    db_session.commit()
    app.config["VERIFY_LIMIT_PER_MINUTE"] = 3
    for _ in range(3):
        assert client.get(f"/verify/{certificate.number}").status_code == 200
    refused = client.get(f"/verify/{certificate.number}")
    assert refused.status_code == 429
    assert "Too many verification requests from your address: at most 3 a minute" in refused.text
    # Another address is counted on its own.
    elsewhere = client.get(f"/verify/{certificate.number}", environ_overrides={"REMOTE_ADDR": "203.0.113.9"})
    assert elsewhere.status_code == 200


def test_an_uploaded_copy_is_valid_and_a_changed_byte_makes_it_altered(client, db_session, certificate):
    db_session.commit()
    address = f"/verify/{certificate.number}"
    valid = upload(client, address, certificate.pdf)
    assert valid.status_code == 200 and "Valid: this file is the current version, exactly as issued." in valid.text
    assert "digital signature is intact" in valid.text

    altered = bytearray(certificate.pdf)
    altered[certificate.pdf.index(b"GMP LIMS")] = ord("X")
    checked = upload(client, address, bytes(altered))
    assert "Altered: this file is not any version of the document as issued." in checked.text
    assert "The digital signature is broken" in checked.text

    unknown = upload(client, "/verify", b"%PDF-1.4\n%%EOF\n")
    assert "Unknown: this file is not a document issued by this facility." in unknown.text
    not_a_pdf = upload(client, "/verify", b"hello")
    assert not_a_pdf.status_code == 422 and "PDF file" in not_a_pdf.text


def test_lims_certificate_verify_says_what_a_file_is(app, db_session, line, certificate, tmp_path):
    db_session.commit()
    issued = tmp_path / "issued.pdf"
    issued.write_bytes(certificate.pdf)
    result = app.test_cli_runner().invoke(cli, ["certificate", "verify", str(issued)])
    assert result.exit_code == 0, result.output
    assert "valid" in result.output and certificate.file_sha256 in result.output

    documents.revoke(db_session, certificate, reason="Recalled", user=line.qa, password=PASSWORD)
    db_session.commit()
    revoked = app.test_cli_runner().invoke(cli, ["certificate", "verify", str(issued)])
    assert revoked.exit_code == 1 and "revoked" in revoked.output

    altered = tmp_path / "altered.pdf"
    altered.write_bytes(certificate.pdf.replace(b"GMP LIMS", b"GMP LIMZ", 1))
    result = app.test_cli_runner().invoke(cli, ["certificate", "verify", str(altered)])
    assert result.exit_code == 1 and "altered" in result.output


def test_a_client_lists_and_downloads_its_own_certificates_only(client, db_session, line, certificate, create_user):
    own = create_user(RoleName.CLIENT, organization=line.subject.protocol.sponsor)
    stranger = create_user(RoleName.CLIENT)
    db_session.commit()
    login(client, own)
    listed = client.get("/certificates")
    assert listed.status_code == 200 and certificate.number in listed.text
    download = client.get(f"/certificates/{certificate.id}/file.pdf")
    assert download.status_code == 200 and download.data == certificate.pdf
    assert download.mimetype == "application/pdf"
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/certificates").text)})

    login(client, stranger)
    assert certificate.number not in client.get("/certificates").text
    assert client.get(f"/certificates/{certificate.id}").status_code == 404
    assert client.get(f"/certificates/{certificate.id}/file.pdf").status_code == 404


def test_the_api_serves_a_client_its_own_certificates_only(
    client, db_session, line, certificate, create_user, create_organization
):
    admin = create_user(RoleName.ADMIN)
    _, own = api_tokens.issue_api_token(db_session, organization=line.subject.protocol.sponsor, name="own", actor=admin)
    _, other = api_tokens.issue_api_token(db_session, organization=create_organization(), name="other", actor=admin)
    db_session.commit()
    own_header, other_header = ({"Authorization": f"Bearer {token}"} for token in (own, other))

    listed = client.get("/api/v1/certificates", headers=own_header).json
    assert [(item["number"], item["status"]) for item in listed["items"]] == [(certificate.number, "valid")]
    assert listed["items"][0]["file_sha256"] == certificate.file_sha256
    file = client.get(f"/api/v1/certificates/{certificate.id}/file", headers=own_header)
    assert file.status_code == 200 and file.data == certificate.pdf

    assert client.get("/api/v1/certificates", headers=other_header).json["items"] == []
    for address in (f"/api/v1/certificates/{certificate.id}", f"/api/v1/certificates/{certificate.id}/file"):
        refused = client.get(address, headers=other_header)
        assert refused.status_code == 404 and refused.json["code"] == 404


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.MANAGER])
def test_only_qa_corrects_or_revokes_from_the_page(client, db_session, certificate, signed_in, role):
    signed_in(role)
    page = client.get(f"/certificates/{certificate.id}")
    assert page.status_code == 200 and "Sign and revoke" not in page.text
    assert ("Print the bag label" in page.text) == (role == RoleName.MANAGER)
    refused = client.post(
        f"/certificates/{certificate.id}/revoke",
        data={"csrf_token": csrf_token_from(page.text), "reason": "x", "password": PASSWORD},
    )
    assert refused.status_code == 403
    assert documents.revocation_of(db_session, certificate) is None


def test_qa_revokes_from_the_page_with_a_reason_and_signature(client, db_session, certificate, line):
    db_session.commit()
    login(client, line.qa)
    page = client.get(f"/certificates/{certificate.id}")
    assert f'href="/batches/{certificate.subject_id}/label"' in page.text  # QA prints the bag label from here
    token = csrf_token_from(page.text)
    missing = client.post(f"/certificates/{certificate.id}/revoke", data={"csrf_token": token, "password": PASSWORD})
    assert missing.status_code == 422 and "Say why" in missing.text
    done = client.post(
        f"/certificates/{certificate.id}/revoke",
        data={"csrf_token": token, "reason": "Recalled <script>", "password": PASSWORD},
    )
    assert done.status_code == 303
    shown = client.get(f"/certificates/{certificate.id}").text
    assert "Revoked" in shown and "Recalled &lt;script&gt;" in shown
    assert "Revoked" in client.get(f"/verify/{certificate.number}").text


def corrected_from_the_page(client, document, reason: str) -> str:
    """QA posts a correction of ``document`` from its page: the page it is sent to."""
    token = csrf_token_from(client.get(f"/certificates/{document.id}").text)
    missing = client.post(f"/certificates/{document.id}/correct", data={"csrf_token": token, "password": PASSWORD})
    assert missing.status_code == 422 and "Say why" in missing.text
    done = client.post(
        f"/certificates/{document.id}/correct", data={"csrf_token": token, "reason": reason, "password": PASSWORD}
    )
    assert done.status_code == 303
    return done.headers["Location"]


def test_qa_corrects_a_certificate_from_its_page_with_a_reason_and_signature(client, db_session, certificate, line):
    db_session.commit()
    login(client, line.qa)
    offered = client.get(f"/certificates/{certificate.id}").text
    assert "drawn from the batch record as it stands" in offered
    assert "a revocation withdraws the batch certificate" in offered
    shown = client.get(corrected_from_the_page(client, certificate, "Product name <b>misspelt</b>")).text
    assert f"{certificate.number}" in shown and "Version 1: Product name &lt;b&gt;misspelt&lt;/b&gt;" in shown
    db_session.expire_all()
    [second] = documents.versions_of_number(db_session, certificate.number)[1:]
    assert (second.version, second.kind, second.supersedes_id) == (2, certificate.kind, certificate.id)
    assert documents.status_of(db_session, certificate) == DocumentStatus.SUPERSEDED


def test_staff_find_a_batchs_certificate_by_its_batch_number(client, db_session, certificate, signed_in):
    signed_in(RoleName.QA)
    found = client.get(f"/certificates?batch={certificate.reference.lower()}")
    assert found.status_code == 200 and f"/certificates/{certificate.id}" in found.text
    missing = client.get("/certificates?batch=CART-NONE-1")
    assert (
        f'/certificates/{certificate.id}"' not in missing.text
        and "No certificate for batch CART-NONE-1" in missing.text
    )


def test_the_batch_page_links_to_each_certificate_version_newest_first_the_superseded_marked(
    client, db_session, line, certificate, batch, signed_in
):
    corrected = documents.correct_document(
        db_session, certificate, reason="Product name misspelt", user=line.qa, password=PASSWORD
    )
    unreleased = batches.start_batch(
        db_session,
        line.version,
        subject=line.subjects[1],
        starting_material_identity="W1234 26 123457 5",
        user=line.operator,
    )
    db_session.commit()
    for role in (RoleName.QA, RoleName.TECHNICIAN):
        signed_in(role)
        page = client.get(f"/batches/{certificate.subject_id}").text
        listed = page.split('id="issued-documents"')[1].split("</ul>")[0]
        items = re.findall(
            r'<a href="/certificates/(\d+)">([^<]+)</a>\s*<span class="badge [^"]+">(\w+)</span>', listed
        )
        assert items == [
            (str(corrected.id), f"Certificate {certificate.number} version 2", "Valid"),
            (str(certificate.id), f"Certificate {certificate.number} version 1", "Superseded"),
        ], role
        assert duplicate_ids(page) == []
        assert "Issued documents" not in client.get(f"/batches/{unreleased.id}").text
        client.post("/logout", data={"csrf_token": csrf_token_from(page)})


def test_a_client_sees_its_own_certificates_in_its_portal(client, db_session, line, certificate, create_user):
    own = create_user(RoleName.CLIENT, organization=line.subject.protocol.sponsor)
    stranger = create_user(RoleName.CLIENT)
    documents.revoke(db_session, certificate, reason="Recalled", user=line.qa, password=PASSWORD)
    db_session.commit()
    login(client, own)
    portal = re.sub(r"\s+", " ", client.get("/portal").text)
    assert "Your certificates" in portal
    assert f"<td>{certificate.label} (batch number {certificate.reference})</td><td>revoked</td>" in portal
    assert 'href="/certificates"' in portal  # the Certificates page lists and downloads them
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/portal").text)})

    login(client, stranger)
    portal = client.get("/portal").text
    assert "Your certificates" in portal and certificate.number not in portal
