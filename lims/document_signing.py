"""The facility's document-signing identity, and PAdES signatures made and checked with it (pyHanko).

Every document the LIMS issues as a kept, verifiable record (a batch certificate; later a results report) is
signed with one key, so any PDF reader shows whether the file was changed after issue. The key and its
certificate come from a PKCS#12 file or a PEM key with a PEM certificate (``LIMS_SIGNING_KEY``,
``LIMS_SIGNING_CERTIFICATE``, ``LIMS_SIGNING_KEY_PASSPHRASE``); where none is configured and none exists yet, a
self-signed one is created in the instance folder (``lims init`` does so at once). Services read the settings
from their session's ``info`` (the app factory puts them there), so no service needs Flask.
"""

from __future__ import annotations

import enum
import hashlib
import io
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

from asn1crypto import keys as asn1_keys
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext
from pyhanko_certvalidator.registry import SimpleCertificateStore
from sqlalchemy.orm import Session

from lims.errors import SigningKeyUnavailable

#: where a session's ``info`` holds the :class:`SigningSettings`
SESSION_INFO_KEY = "lims.document_signing"
#: the name of the signature field every issued PDF carries
SIGNATURE_FIELD = "FacilitySignature"
#: a self-signed certificate's life; a CA-issued one has its own
SELF_SIGNED_YEARS = 10


@dataclass(frozen=True)
class SigningSettings:
    """Where the facility's key is and how it opens, and the address readers reach the LIMS at."""

    key_path: Path
    #: a PEM certificate (then its chain) for a PEM key; None for a PKCS#12 file, which holds its certificate
    certificate_path: Path | None = None
    passphrase: str | None = None
    #: an operator named the key: it is never created in its place
    configured: bool = False
    public_url: str = "http://127.0.0.1:5000"

    @classmethod
    def from_config(cls, config: Any) -> SigningSettings:
        return cls(
            key_path=Path(config["SIGNING_KEY_PATH"]),
            certificate_path=config.get("SIGNING_CERTIFICATE_PATH"),
            passphrase=config.get("SIGNING_KEY_PASSPHRASE"),
            configured=bool(config.get("SIGNING_KEY_CONFIGURED")),
            public_url=config.get("PUBLIC_URL", cls.public_url),
        )


def settings_of(session: Session) -> SigningSettings:
    """The signing settings the session was made with (the app factory's)."""
    settings = session.info.get(SESSION_INFO_KEY)
    if settings is None:
        raise SigningKeyUnavailable("This session was opened without document-signing settings.")
    return settings


@dataclass(frozen=True)
class FacilitySigner:
    """The facility's key and certificate, ready to sign."""

    signer: signers.SimpleSigner
    certificate: asn1_x509.Certificate

    @property
    def subject(self) -> str:
        return str(self.certificate.subject.human_friendly)

    @property
    def fingerprint(self) -> str:
        """SHA-256 of the certificate, as a reader's PDF viewer shows it."""
        return hashlib.sha256(self.certificate.dump()).hexdigest()


def create_self_signed(settings: SigningSettings, *, facility_name: str, facility_code: str) -> bool:
    """Create a self-signed key and certificate for the facility at ``settings.key_path`` (PKCS#12, owner-only),
    unless a file is there already; True if one was created."""
    path = settings.key_path
    if path.exists():
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, f"{facility_code} document signing"[:64]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, facility_name[:64]),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=365 * SELF_SIGNED_YEARS))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=True,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(settings.passphrase.encode())
        if settings.passphrase
        else serialization.NoEncryption()
    )
    data = pkcs12.serialize_key_and_certificates(
        f"{facility_code} document signing".encode(), key, certificate, None, encryption
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created exclusively with owner-only rights: two workers starting together never write two keys.
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)
    return True


def load_signer(settings: SigningSettings) -> FacilitySigner:
    """The facility's signer from its key file (read again only when the file changes)."""
    path = settings.key_path
    try:
        stamp = path.stat().st_mtime_ns
        certificate_stamp = settings.certificate_path.stat().st_mtime_ns if settings.certificate_path else None
    except OSError as exc:
        raise SigningKeyUnavailable(
            f"The facility's document-signing key {exc.filename} cannot be read ({exc.strerror}): run `lims init` "
            "to create one, or set LIMS_SIGNING_KEY to the facility's own."
        ) from exc
    return _load_signer(settings, stamp, certificate_stamp)


@cache
def _load_signer(settings: SigningSettings, _stamp: int, _certificate_stamp: int | None) -> FacilitySigner:
    passphrase = settings.passphrase.encode() if settings.passphrase else None
    data = settings.key_path.read_bytes()
    try:
        if settings.certificate_path is None:
            key, certificate, chain = pkcs12.load_key_and_certificates(data, passphrase)
        else:
            key = serialization.load_pem_private_key(data, passphrase)
            certificate, *chain = x509.load_pem_x509_certificates(settings.certificate_path.read_bytes())
    except (ValueError, TypeError) as exc:
        raise SigningKeyUnavailable(
            f"The facility's document-signing key {settings.key_path} does not open: {exc}. Check the file, "
            "LIMS_SIGNING_CERTIFICATE and LIMS_SIGNING_KEY_PASSPHRASE."
        ) from exc
    if key is None or certificate is None:
        raise SigningKeyUnavailable(f"{settings.key_path} holds no key with its certificate.")
    der_key = key.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    signing_certificate = asn1_x509.Certificate.load(certificate.public_bytes(serialization.Encoding.DER))
    registry = SimpleCertificateStore.from_certs(
        [asn1_x509.Certificate.load(other.public_bytes(serialization.Encoding.DER)) for other in chain or []]
    )
    signer = signers.SimpleSigner(
        signing_cert=signing_certificate,
        signing_key=asn1_keys.PrivateKeyInfo.load(der_key),
        cert_registry=registry,
    )
    return FacilitySigner(signer, signing_certificate)


def sign_pdf(pdf: bytes, signer: FacilitySigner, *, reason: str, location: str) -> bytes:
    """``pdf`` with a PAdES signature over the whole file."""
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    metadata = signers.PdfSignatureMetadata(
        field_name=SIGNATURE_FIELD,
        subfilter=fields.SigSeedSubFilter.PADES,
        reason=reason,
        location=location,
        md_algorithm="sha256",
    )
    output = signers.sign_pdf(writer, metadata, signer=signer.signer)
    return output.getvalue()


class PdfSignatureState(enum.StrEnum):
    #: intact, made by a trusted certificate, and covering the whole file
    INTACT = "intact"
    #: the file was changed after it was signed, or the signature does not match it
    BROKEN = "broken"
    #: sound, but by a certificate other than the facility's
    UNTRUSTED = "untrusted"
    #: the file carries no signature
    UNSIGNED = "unsigned"
    #: not a PDF that can be read
    UNREADABLE = "unreadable"


STATE_TEXT = {
    PdfSignatureState.INTACT: "The facility's digital signature is intact: the file is as it was signed.",
    PdfSignatureState.BROKEN: "The digital signature is broken: the file was changed after it was signed.",
    PdfSignatureState.UNTRUSTED: "The file is signed, but not by this facility's signing certificate.",
    PdfSignatureState.UNSIGNED: "The file carries no digital signature.",
    PdfSignatureState.UNREADABLE: "The file cannot be read as a PDF.",
}


def check_pdf_signature(data: bytes, trusted: asn1_x509.Certificate) -> PdfSignatureState:
    """Whether ``data`` carries an intact PAdES signature by ``trusted`` covering the whole file."""
    try:
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        embedded = reader.embedded_signatures
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError, OSError):
        return PdfSignatureState.UNREADABLE
    if not embedded:
        return PdfSignatureState.UNSIGNED
    try:
        status = validate_pdf_signature(embedded[-1], ValidationContext(trust_roots=[trusted]))
    except (PdfError, ValueError, KeyError, TypeError, IndexError, AttributeError):
        return PdfSignatureState.BROKEN
    if not (status.intact and status.valid) or status.coverage != SignatureCoverageLevel.ENTIRE_FILE:
        return PdfSignatureState.BROKEN
    return PdfSignatureState.INTACT if status.trusted else PdfSignatureState.UNTRUSTED
