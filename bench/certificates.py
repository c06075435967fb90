"""Batch certificates per second and the peak memory of drawing one, against a minimal reportlab document of the
same number of pages drawn in the same run; the facility's PAdES signature is timed on its own."""

from __future__ import annotations

import re
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from xml.sax.saxutils import escape

from pypdf import PdfReader
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate

from lims.certificates.pdf import certificate_pdf
from lims.certificates.service.batch_certificate import CertificateFacts, DeviationLine, ReleaseTestLine
from lims.certificates.service.documents import Issuance
from lims.document_signing import SigningSettings, create_self_signed, load_signer, sign_pdf
from lims.documents.styles import CELL_FONT_SIZE, FONT
from lims.identity.models import Organization, OrganizationKind
from lims.signatures.models import ElectronicSignature, SignatureMeaning

TARGET = 4.0
#: documents whose allocations are traced for the peak (tracing slows drawing: the timed runs are untraced)
TRACED = 20
CHUNK = 50
_PAGE = re.compile(rb"/Type /Page[^s]")

RELEASED_AT = datetime(2030, 4, 10, 8, tzinfo=UTC)
TESTS = [
    ("Viability", "VIAB", "Flow cytometry, 7-AAD exclusion", "≥ 70 %", "91.5", "%"),
    ("Total viable cells", "TVC", "Automated cell count", "1–5 ×10^8 cells", "2.4 ×10^8", "cells"),
    ("CD3+ cells", "CD3", "Flow cytometry", "≥ 80 %", "96.2", "%"),
    ("Transduction efficiency", "TE", "Flow cytometry, CAR detection reagent", "≥ 15 %", "38.0", "%"),
    ("Vector copy number", "VCN", "Digital droplet PCR", "≤ 5 copies/cell", "1.8", "copies/cell"),
    ("Sterility", "STER", "Ph. Eur. 2.6.27, automated blood culture", "No growth", "No growth", ""),
    ("Endotoxin", "ENDO", "Kinetic chromogenic LAL", "< 0.5 EU/mL", "0.12", "EU/mL"),
    ("Mycoplasma", "MYCO", "Nucleic acid amplification", "Not detected", "Not detected", ""),
    ("Identity", "IDEN", "Flow cytometry, CAR+ CD3+", "CAR+ T cells present", "Conforms", ""),
    ("Potency", "POT", "IFN-gamma release on CD19+ targets", "≥ 500 pg/mL", "1830", "pg/mL"),
]


def _facts(index: int) -> CertificateFacts:
    return CertificateFacts(
        facility_code="NBCT",
        facility_name="Northbridge Cell Therapy Facility",
        issued_to="Helix Cell Therapeutics",
        product="HLX-19 autologous anti-CD19 CAR-T",
        batch_number=f"CART-HLX19-30{index:04d}",
        subject_code=f"HLX301-{index:04d}",
        protocol_number="HLX-301",
        starting_material_identity="W1234 26 123456 7",
        autologous=True,
        master_batch_record="CART-HLX19 v1",
        manufacturing_started=RELEASED_AT - timedelta(days=12),
        manufacturing_completed=RELEASED_AT - timedelta(days=2),
        release_tests=tuple(
            ReleaseTestLine(name, code, method, specification, f"{result} {unit}".strip(), unit, True)
            for name, code, method, specification, result, unit in TESTS
        ),
        deviations=(
            DeviationLine(
                f"DEV-30-{index:04d}",
                "minor",
                "closed",
                "Label smudged on receipt; identity confirmed against the chain of identity record.",
                "No impact on identity or quality.",
            ),
        ),
        released_by="Quinn Okafor",
        released_at=RELEASED_AT,
        release_meaning="released",
    )


def _signature() -> ElectronicSignature:
    return ElectronicSignature(
        printed_name="Quinn Okafor", meaning=SignatureMeaning.RELEASED, signed_at=RELEASED_AT, signer_id=1
    )


def _issuance(index: int) -> Issuance:
    number = f"COA-CART-HLX19-30{index:04d}"
    return Issuance(
        number=number,
        version=1,
        issued_at=RELEASED_AT,
        content_sha256="0" * 64,
        verification_url=f"https://lims.example.org/verify/{number}?version=1",
        facility=Organization(code="NBCT", name="Northbridge Cell Therapy Facility", kind=OrganizationKind.FACILITY),
    )


def _pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() or "" for page in PdfReader(BytesIO(pdf)).pages]


def _minimal(pages: list[str]) -> bytes:
    """The baseline: a minimal reportlab document with the certificate's pages, each page's text (read back from
    a rendered certificate) as one plain paragraph in the kit's font and size, a page each: the same characters
    on the same number of pages, without tables, page furniture, signature block or QR code."""
    buffer = BytesIO()
    style = ParagraphStyle("baseline", fontName=FONT, fontSize=CELL_FONT_SIZE, leading=CELL_FONT_SIZE * 1.2)
    content: list[Flowable] = []
    for text in pages:
        content += [Paragraph(escape(" ".join(text.split())), style), PageBreak()]
    SimpleDocTemplate(buffer, pagesize=A4).build(content[:-1])
    return buffer.getvalue()


def _timed(make: Callable[[int], bytes], count: int, start: int) -> float:
    began = time.perf_counter()
    for index in range(start, start + count):
        make(index)
    return time.perf_counter() - began


def _peak(make: Callable[[int], bytes]) -> int:
    tracemalloc.start()
    try:
        for index in range(TRACED):
            make(index)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def run(size: int) -> None:
    signature = _signature()

    def certificate(index: int) -> bytes:
        return certificate_pdf(_facts(index), _issuance(index), signature)

    first = certificate(0)
    pages = len(_PAGE.findall(first))

    texts = _pages_text(first)

    def minimal(_index: int) -> bytes:
        return _minimal(texts)

    if len(_PAGE.findall(minimal(0))) != pages:
        raise SystemExit("certificates: the baseline's page count differs from the certificate's")
    # Interleaved in chunks, so that whatever slows the machine meanwhile weighs on both sides alike.
    drawn = baseline = 0.0
    done = 0
    while done < size:
        chunk = min(CHUNK, size - done)
        drawn += _timed(certificate, chunk, done)
        baseline += _timed(minimal, chunk, done)
        done += chunk
    peak_certificate, peak_minimal = _peak(certificate), _peak(minimal)

    with tempfile.TemporaryDirectory() as folder:
        settings = SigningSettings(key_path=Path(folder) / "bench-signing.p12")
        create_self_signed(settings, facility_name="Northbridge Cell Therapy Facility", facility_code="NBCT")
        signer = load_signer(settings)
        began = time.perf_counter()
        for _ in range(size):
            sign_pdf(first, signer, reason="Batch certificate issued", location="NBCT")
        signing = time.perf_counter() - began

    ratio = drawn / baseline
    print(f"certificates: {size:,} certificates of {pages} page(s), each {len(first):,} bytes unsigned")
    print(f"certificates: certificate    {size / drawn:8.1f} certificates/s, peak {peak_certificate / 1e6:6.2f} MB")
    print(
        f"certificates: minimal doc    {size / baseline:8.1f} documents/s,    peak {peak_minimal / 1e6:6.2f} MB "
        f"(the same pages' text as plain paragraphs)"
    )
    print(
        f"certificates: PAdES signing  {size / signing:8.1f} signatures/s (ECDSA P-256, whole file; not in the ratio)"
    )
    print(f"certificates: peak memory ratio {peak_certificate / peak_minimal:.2f}× (for information)")
    verdict = "PASS" if ratio <= TARGET else "MISS"
    print(f"certificates: ratio certificate/minimal time {ratio:.2f}× (target ≤ {TARGET:g}×) {verdict}")
