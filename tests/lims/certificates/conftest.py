"""A released batch of the compact CAR-T line, with its certificate issued on release."""

from __future__ import annotations

import io
import re
from dataclasses import replace

import pytest
from pypdf import PdfReader

from batch_records import cart_designs
from batch_records.models import DonorType
from batch_records.service import batches
from lims.certificates.service import batch_certificate
from tests.batch_records.conftest import Line, _today, batch, line, make_line  # noqa: F401  (fixtures)
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch


def released_batch(db_session, line: Line, batch):  # noqa: F811
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)
    return batch


@pytest.fixture
def released(db_session, line, batch):  # noqa: F811
    return released_batch(db_session, line, batch)


@pytest.fixture
def allogeneic_line(make_line) -> Line:  # noqa: F811
    """The compact line making an allogeneic product: a donor's cells, for other people."""
    return make_line(
        replace(cart_designs.COMPACT, product="HLX-40 allogeneic anti-CD19 CAR-NK", donor_type=DonorType.ALLOGENEIC)
    )


@pytest.fixture
def released_allogeneic(db_session, allogeneic_line):
    batch = batches.start_batch(  # noqa: F811
        db_session,
        allogeneic_line.version,
        subject=allogeneic_line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=allogeneic_line.operator,
    )
    return released_batch(db_session, allogeneic_line, batch)


@pytest.fixture
def certificate(db_session, released):
    [issued] = batch_certificate.certificates_of(db_session, released)
    return issued


def pdf_text(data: bytes) -> str:
    """Every page's text, white space runs made single spaces, pages joined."""
    pages = PdfReader(io.BytesIO(data)).pages
    return " ".join(re.sub(r"\s+", " ", page.extract_text()) for page in pages)


def page_texts(data: bytes) -> list[str]:
    return [re.sub(r"\s+", " ", page.extract_text()) for page in PdfReader(io.BytesIO(data)).pages]
