"""Check settings, findings and the record of every check run.

A finding is kept by the findings engine, not typed by anyone: it is not a controlled record (a run may touch
thousands), but what QA does to it (acknowledge, close) is an audit event of its own, and every run records how many
findings it opened and resolved. A check's settings are controlled: an administrator changes them with a reason.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from datetime import datetime

from sqlalchemy import Column, Float, ForeignKey, Index, LargeBinary, String, Table, Text, Unicode, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User


class Severity(enum.StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"

    @property
    def rank(self) -> int:
        """Higher is graver."""
        return {Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}[self]


class FindingStatus(enum.StrEnum):
    #: the condition holds and nobody has looked at it yet
    OPEN = "open"
    #: QA has seen it; it stays until the condition clears
    ACKNOWLEDGED = "acknowledged"
    #: QA says it is dealt with: if the condition still holds at the next run, the finding reopens
    CLOSED = "closed"
    #: the condition cleared by itself
    RESOLVED = "resolved"


#: the statuses of a finding that still needs someone
UNSETTLED = frozenset({FindingStatus.OPEN, FindingStatus.ACKNOWLEDGED})


class RunOutcome(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class CheckSetting(Controlled, Base):
    """An administrator's settings of one check: whether it runs, and its parameters (days, ...). A check without
    a row runs with its declared defaults."""

    __tablename__ = "compliance_check_setting"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[str] = mapped_column(String(100), unique=True)
    enabled: Mapped[bool] = mapped_column(default=True)
    #: the parameters as JSON, by name ({"days": 30})
    parameters: Mapped[str] = mapped_column(Text, default="{}")
    updated_at: Mapped[datetime]

    @property
    def parameter_values(self) -> dict[str, int]:
        return {str(name): int(value) for name, value in json.loads(self.parameters or "{}").items()}

    @staticmethod
    def encoded(values: Mapping[str, int]) -> str:
        return json.dumps(dict(sorted(values.items())))


class Finding(Base):
    """One non-compliant condition of one record, as a check found it: one row per (check, record) ever."""

    __tablename__ = "compliance_finding"
    __table_args__ = (
        UniqueConstraint("check_id", "record_type", "record_id", name="uq_compliance_finding_check_record"),
        # The dashboard's list and counts read the unsettled findings, gravest and oldest first.
        Index("ix_compliance_finding_listing", "status", "severity_rank", "opened_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[str] = mapped_column(String(100))
    area: Mapped[str] = mapped_column(String(64))
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))
    record_label: Mapped[str] = mapped_column(String(300))
    detail: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(String(300))
    severity: Mapped[Severity] = mapped_column(string_enum(Severity, "finding_severity"))
    #: the severity's rank, so that lists sort gravest first in SQL
    severity_rank: Mapped[int]
    status: Mapped[FindingStatus] = mapped_column(string_enum(FindingStatus, "finding_status"))
    #: when the condition was first found
    opened_at: Mapped[datetime]
    #: the latest run that still found it
    last_seen_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
    #: how often the condition came back after it had cleared or QA had closed the finding
    times_reopened: Mapped[int] = mapped_column(default=0)
    reopened_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    acknowledgement: Mapped[str | None] = mapped_column(Text)
    closed_at: Mapped[datetime | None]
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    closing_comment: Mapped[str | None] = mapped_column(Text)

    acknowledged_by: Mapped[User | None] = relationship(foreign_keys=[acknowledged_by_id])
    closed_by: Mapped[User | None] = relationship(foreign_keys=[closed_by_id])


class CheckRun(Base):
    """One run of one check: when, how it ended, what it changed, and the error of a check that raised."""

    __tablename__ = "compliance_check_run"
    __table_args__ = (
        Index("ix_compliance_check_run_check", "check_id", "started_at"),
        Index("ix_compliance_check_run_started", "started_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[str] = mapped_column(String(100))
    started_at: Mapped[datetime]
    finished_at: Mapped[datetime]
    outcome: Mapped[RunOutcome] = mapped_column(string_enum(RunOutcome, "check_run_outcome"))
    findings_opened: Mapped[int] = mapped_column(default=0)
    findings_resolved: Mapped[int] = mapped_column(default=0)
    #: the check's unsettled findings after the run (for the trend)
    findings_open: Mapped[int] = mapped_column(default=0)
    error: Mapped[str | None] = mapped_column(Text)


class SchedulerLease(Base):
    """Who runs the scheduled jobs of this database, until when: the holder renews it while it lives; another
    scheduler takes it over once it lapses. One row per lease name."""

    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    #: host, process and a random part: "lab-srv-1:4242:9f1c"
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


#: APScheduler's job store (apscheduler.jobstores.sqlalchemy), declared here so that the migrations create it and
#: the schema check knows it; the job store finds it in place.
scheduler_jobs = Table(
    "apscheduler_jobs",
    Base.metadata,
    Column("id", Unicode(191), primary_key=True),
    Column("next_run_time", Float(25), index=True),
    Column("job_state", LargeBinary, nullable=False),
)
