"""A released batch of the compact CAR-T line, with its certificate issued on release."""

from __future__ import annotations

import io
import re

import pytest
from pypdf import PdfReader

from lims.certificates.service import batch_certificate
from tests.batch_records.conftest import _today, batch, line  # noqa: F401  (fixtures)
from tests.batch_records.test_execution import execute_all_steps, pass_release_tests, release_batch


@pytest.fixture
def released(db_session, line, batch):  # noqa: F811
    execute_all_steps(db_session, batch, line)
    pass_release_tests(db_session, batch, line)
    release_batch(db_session, batch, line)
    return batch


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
