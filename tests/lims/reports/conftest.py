"""A small CAR-T line to report on, dated from a frozen today, and how a report's rows are read in a test."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from batch_records.models import Batch
from batch_records.service import batches
from lims import clock
from lims.documents.times import Times
from lims.identity.models import RoleName
from lims.reports.service.generation import ReportType, Setting
from lims.reports.views import FORMS
from tests.batch_records.conftest import TODAY, Line, build_line
from tests.lims.documents.conftest import localtime_in

SETTING = Setting(
    times=Times(localtime_in("UTC")),
    zone=ZoneInfo("UTC"),
    today=TODAY,
    due_soon_days=14,
)


@pytest.fixture(autouse=True)
def _today():
    clock.freeze(datetime(TODAY.year, TODAY.month, TODAY.day, 8, tzinfo=UTC))


@pytest.fixture
def line(db_session, create_user, create_organization) -> Line:
    return build_line(
        db_session,
        author=create_user(RoleName.MANAGER, full_name="Maja Larsen"),
        qa=create_user(RoleName.QA, full_name="Quinn Okafor"),
        operator=create_user(RoleName.TECHNICIAN, full_name="Tran Nguyen"),
        second_operator=create_user(RoleName.TECHNICIAN, full_name="Sara Lind"),
        untrained=create_user(RoleName.TECHNICIAN, full_name="Noah Berg"),
        sponsor=create_organization(code="HELIX", name="Helix Cell Therapeutics"),
    )


@pytest.fixture
def batch(db_session, line) -> Batch:
    return batches.start_batch(
        db_session,
        line.version,
        subject=line.subject,
        starting_material_identity="W1234 26 123456 7",
        user=line.operator,
    )


def rows_of(session, report: ReportType, **parameters) -> list[Sequence[str]]:
    """The rows ``report`` shows for ``parameters`` (the rest at their form's defaults)."""
    [form] = [form for form in FORMS if form.report is report]
    loaded = form.schema().load({key: value for key, value in parameters.items() if value is not None})
    loaded.pop("format")
    return list(report.prepare(session, loaded, SETTING).rows(session))
