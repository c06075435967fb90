"""What the compliance dashboard shows, each in one query whatever the number of findings: counts by severity and
area, the open findings a page at a time, the trend of open findings over the days, and each check's latest run."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Date, cast, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from lims.compliance.models import UNSETTLED, CheckRun, Finding, FindingStatus, RunOutcome, Severity
from lims.pagination import KeysetPage, page_after

#: the order the open findings are listed in: gravest first, then newest
FINDING_ORDER = (Finding.severity_rank, Finding.opened_at, Finding.id)


@dataclass(frozen=True)
class FindingFilter:
    severity: Severity | None = None
    area: str | None = None
    #: the statuses listed (the unsettled ones unless asked otherwise)
    statuses: frozenset[FindingStatus] = UNSETTLED


@dataclass(frozen=True)
class AreaCounts:
    area: str
    by_severity: list[tuple[Severity, int]]

    @property
    def total(self) -> int:
        return sum(count for _severity, count in self.by_severity)


@dataclass(frozen=True)
class FindingCounts:
    """The findings that still need someone, by area and severity, gravest severity first."""

    rows: list[AreaCounts]

    @property
    def areas(self) -> list[str]:
        return [row.area for row in self.rows]

    @property
    def by_severity(self) -> list[tuple[Severity, int]]:
        return [(severity, sum(dict(row.by_severity)[severity] for row in self.rows)) for severity in SEVERITY_ORDER]

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)


#: gravest first
SEVERITY_ORDER = sorted(Severity, key=lambda severity: -severity.rank)


def counts_by_severity_and_area(session: Session) -> FindingCounts:
    """How many findings still need someone, by severity and area (one query)."""
    found: dict[str, dict[Severity, int]] = {}
    for severity, area, count in session.execute(
        select(Finding.severity, Finding.area, func.count())
        .where(Finding.status.in_(UNSETTLED))
        .group_by(Finding.severity, Finding.area)
    ):
        found.setdefault(area, {})[Severity(severity)] = count
    return FindingCounts(
        [
            AreaCounts(area, [(severity, counts.get(severity, 0)) for severity in SEVERITY_ORDER])
            for area, counts in sorted(found.items())
        ]
    )


def findings_after(
    session: Session, criteria: FindingFilter, *, after: tuple[Any, ...] | None, limit: int
) -> KeysetPage[Finding]:
    """A page of findings, gravest and newest first, from just after the key ``after``."""
    query = select(Finding).where(Finding.status.in_(criteria.statuses))
    if criteria.severity is not None:
        query = query.where(Finding.severity == criteria.severity)
    if criteria.area:
        query = query.where(Finding.area == criteria.area)
    return page_after(session, query, FINDING_ORDER, after=after, limit=limit, descending=True)


@dataclass(frozen=True)
class TrendDay:
    day: date
    #: the findings still open as the day's runs of every check left them
    open: int


def _day_of(session: Session, moment: InstrumentedAttribute[datetime]) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        return cast(func.timezone("UTC", moment), Date)
    return func.date(moment)


def open_findings_trend(session: Session, *, now: datetime, days: int) -> list[TrendDay]:
    """For each of the last ``days`` days (UTC) on which checks ran: the open findings their last counts added up
    to (each check's highest count of the day)."""
    day = _day_of(session, CheckRun.started_at)
    per_check = (
        select(CheckRun.check_id, day.label("day"), func.max(CheckRun.findings_open).label("open"))
        .where(CheckRun.started_at >= now - timedelta(days=days), CheckRun.outcome == RunOutcome.SUCCEEDED)
        .group_by(CheckRun.check_id, day)
        .subquery()
    )
    rows = session.execute(
        select(per_check.c.day, func.sum(per_check.c.open)).group_by(per_check.c.day).order_by(per_check.c.day)
    )
    return [
        TrendDay(value if isinstance(value, date) else date.fromisoformat(str(value)), int(total))
        for value, total in rows
    ]


def latest_runs(session: Session) -> dict[str, CheckRun]:
    """Each check's latest run, by check id."""
    latest = select(func.max(CheckRun.id)).group_by(CheckRun.check_id).scalar_subquery()
    return {run.check_id: run for run in session.scalars(select(CheckRun).where(CheckRun.id.in_(latest)))}
