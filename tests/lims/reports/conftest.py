"""The compact CAR-T line of the batch records' tests to report on, dated from their frozen today, and how a
report's rows are read in a test."""

from __future__ import annotations

from collections.abc import Sequence
from zoneinfo import ZoneInfo

from lims.documents.times import Times
from lims.reports.schemas import FORMS
from lims.reports.service.generation import ReportType, Setting
from tests.batch_records.conftest import TODAY, _today, batch, line, make_line  # noqa: F401  (fixtures)
from tests.lims.documents.conftest import localtime_in

SETTING = Setting(
    times=Times(localtime_in("UTC")),
    zone=ZoneInfo("UTC"),
    today=TODAY,
    due_soon_days=14,
)


def rows_of(session, report: ReportType, **parameters) -> list[Sequence[str]]:
    """The rows ``report`` shows for ``parameters`` (the rest at their form's defaults)."""
    [form] = [form for form in FORMS if form.report is report]
    loaded = form.schema().load({key: value for key, value in parameters.items() if value is not None})
    loaded.pop("format")
    return list(report.prepare(session, loaded, SETTING).rows(session))
