"""The facility's signing key: created self-signed, or the facility's own CA-issued one (PKCS#12 or PEM); PAdES
signatures made with it and checked against it."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from reportlab.pdfgen.canvas import Canvas

from lims.document_signing import (
    PdfSignatureState,
    SigningSettings,
    check_pdf_signature,
    create_self_signed,
    load_signer,
    sign_pdf,
)
from lims.errors import SigningKeyUnavailable


def a_pdf() -> bytes:
    buffer = io.BytesIO()
    canvas = Canvas(buffer)
    canvas.drawString(72, 720, "Certificate of analysis")
    canvas.showPage()
    canvas.save()
    return buffer.getvalue()


def certificate(subject: str, key, issuer_name: x509.Name, issuer_key, *, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=not ca,
                content_commitment=not ca,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=ca,
                crl_sign=ca,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(issuer_key, hashes.SHA256())
    )


@pytest.fixture
def ca_issued(tmp_path):
    """A facility key and certificate issued by a CA, as PEM files (the key encrypted), and the CA's certificate."""
    ca_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Qualified CA")])
    ca_certificate = certificate("Example Qualified CA", ca_key, ca_name, ca_key, ca=True)
    facility_key = ec.generate_private_key(ec.SECP256R1())
    facility_certificate = certificate("NBCT document signing", facility_key, ca_name, ca_key, ca=False)
    key_path, certificate_path = tmp_path / "facility-key.pem", tmp_path / "facility-chain.pem"
    key_path.write_bytes(
        facility_key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"key-passphrase-2026"),
        )
    )
    certificate_path.write_bytes(
        facility_certificate.public_bytes(serialization.Encoding.PEM)
        + ca_certificate.public_bytes(serialization.Encoding.PEM)
    )
    settings = SigningSettings(
        key_path=key_path, certificate_path=certificate_path, passphrase="key-passphrase-2026", configured=True
    )
    return settings, ca_certificate, (facility_key, facility_certificate)


def test_a_self_signed_key_is_created_once_owner_only_and_signs(tmp_path):
    settings = SigningSettings(key_path=tmp_path / "signing" / "facility.p12", passphrase="p12-passphrase")
    assert create_self_signed(settings, facility_name="Northbridge Cell Therapy Facility", facility_code="NBCT")
    assert not create_self_signed(settings, facility_name="Another", facility_code="X")
    assert settings.key_path.stat().st_mode & 0o777 == 0o600
    signer = load_signer(settings)
    assert "Northbridge Cell Therapy Facility" in signer.subject
    signed = sign_pdf(a_pdf(), signer, reason="test", location="NBCT")
    assert check_pdf_signature(signed, signer.certificate) == PdfSignatureState.INTACT
    assert check_pdf_signature(a_pdf(), signer.certificate) == PdfSignatureState.UNSIGNED
    assert check_pdf_signature(b"%PDF-1.4 broken", signer.certificate) == PdfSignatureState.UNREADABLE


def test_a_ca_issued_pem_key_signs_and_the_signature_is_trusted_through_the_ca(ca_issued):
    settings, ca_certificate, _ = ca_issued
    signer = load_signer(settings)
    assert "NBCT document signing" in signer.subject
    signed = sign_pdf(a_pdf(), signer, reason="test", location="NBCT")
    root = asn1_x509.Certificate.load(ca_certificate.public_bytes(serialization.Encoding.DER))
    assert check_pdf_signature(signed, root) == PdfSignatureState.INTACT


def test_a_pkcs12_file_of_the_facilitys_own_key_signs(ca_issued, tmp_path):
    _, ca_certificate, (key, leaf) = ca_issued
    bundle = tmp_path / "facility.p12"
    bundle.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"facility", key, leaf, [ca_certificate], serialization.BestAvailableEncryption(b"bundle-pass-77")
        )
    )
    signer = load_signer(SigningSettings(key_path=bundle, passphrase="bundle-pass-77", configured=True))
    signed = sign_pdf(a_pdf(), signer, reason="test", location="NBCT")
    assert check_pdf_signature(signed, signer.certificate) == PdfSignatureState.INTACT


def test_a_key_that_is_missing_or_does_not_open_is_refused_with_what_to_do(ca_issued, tmp_path):
    settings, _, _ = ca_issued
    with pytest.raises(SigningKeyUnavailable, match="lims init"):
        load_signer(SigningSettings(key_path=tmp_path / "absent.p12", configured=True))
    wrong = SigningSettings(
        key_path=settings.key_path, certificate_path=settings.certificate_path, passphrase="wrong", configured=True
    )
    with pytest.raises(SigningKeyUnavailable, match="LIMS_SIGNING_KEY_PASSPHRASE"):
        load_signer(wrong)


def test_a_signature_by_another_certificate_is_not_the_facilitys(ca_issued, tmp_path):
    settings, _, _ = ca_issued
    other = SigningSettings(key_path=tmp_path / "other.p12")
    create_self_signed(other, facility_name="Other Lab", facility_code="OTH")
    signed = sign_pdf(a_pdf(), load_signer(other), reason="test", location="OTH")
    assert check_pdf_signature(signed, load_signer(settings).certificate) == PdfSignatureState.UNTRUSTED
