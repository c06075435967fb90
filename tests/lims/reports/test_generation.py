"""What every report shares: its generation audited with the chain head it states, and its PDF of any length
written a page at a time."""

from __future__ import annotations

import io
import re

from pypdf import PdfReader

from lims.audit import chain as audit_chain
from lims.identity.models import RoleName
from lims.reports.service.generation import Column, Content, Format, ReportType, generate, write_pdf
from tests.lims.reports.conftest import SETTING

#: a row as tall as a page can hold besides another: one row a page
TALL_CELL = "\n".join(f"line {number}" for number in range(60))


def tall_rows() -> ReportType:
    def prepare(_session, parameters, _setting) -> Content:
        return Content(
            [("Rows", str(parameters["rows"]))],
            lambda _reading: ((str(number), TALL_CELL) for number in range(1, parameters["rows"] + 1)),
        )

    return ReportType(
        key="tall",
        title="Tall rows",
        purpose="A page a row.",
        columns=(Column("Row", 1), Column("Text", 5)),
        roles=frozenset({RoleName.QA}),
        prepare=prepare,
    )


def test_a_report_of_1500_pages_paginates(db_session, create_user, tmp_path):
    reader = create_user(RoleName.QA, full_name="Quinn Okafor")
    report = tall_rows()
    generated = generate(db_session, report, {"rows": 1500}, report_format=Format.PDF, user=reader, setting=SETTING)
    path = tmp_path / "tall.pdf"
    with path.open("wb") as out:
        pages = write_pdf(generated, db_session, out)
    pdf = PdfReader(path)
    assert pages == len(pdf.pages) == 1500
    last = re.sub(r"\s+", " ", pdf.pages[-1].extract_text())
    assert "Page 1500 of 1500" in last and "1500 line 0" in last and "End of the report: 1,500 rows." in last
    assert f"Audit chain head: event {generated.head_sequence}" in re.sub(r"\s+", " ", pdf.pages[749].extract_text())


def test_the_chain_head_a_report_states_is_its_own_generation_event(db_session, create_user):
    reader = create_user(RoleName.QA, full_name="Quinn Okafor")
    generated = generate(db_session, tall_rows(), {"rows": 1}, report_format=Format.CSV, user=reader, setting=SETTING)
    head = audit_chain.record(db_session, "test.after")
    assert head["prev_hash"] == generated.head_hash and head["sequence"] == generated.head_sequence + 1
    out = io.BytesIO()
    write_pdf(generated, db_session, out)
    assert out.getvalue().startswith(b"%PDF-")
