"""Open deviations with their age and category, the oldest first."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from batch_records.models import Batch, BatchStep, Deviation, DeviationStatus
from lims.identity.models import RoleName, User
from lims.reports.service.dates import start_of
from lims.reports.service.generation import Column, Content, ReportType, Setting

CHUNK = 1000
#: the category a form chooses for deviations QA has not classified yet
UNCLASSIFIED = "unclassified"


def prepare(_session: Session, parameters: dict[str, Any], setting: Setting) -> Content:
    category, older_than = parameters["category"], parameters["older_than_days"]
    raised_by = aliased(User)
    query = (
        select(
            Deviation.number,
            Batch.batch_number,
            Deviation.category,
            Deviation.raised_at,
            raised_by.full_name,
            BatchStep.position,
            BatchStep.title,
            Deviation.description,
        )
        .join(Batch, Deviation.batch_id == Batch.id)
        .join(raised_by, Deviation.raised_by_id == raised_by.id)
        .outerjoin(BatchStep, Deviation.step_id == BatchStep.id)
        .where(Deviation.status == DeviationStatus.OPEN)
    )
    if category == UNCLASSIFIED:
        query = query.where(Deviation.category.is_(None))
    elif category:
        query = query.where(Deviation.category == category)
    if older_than is not None:
        # Raised before the start of the day ``older_than`` days ago: at least that many whole days open.
        cutoff = start_of(setting.today - timedelta(days=older_than - 1), setting.zone)
        if cutoff is not None:
            query = query.where(Deviation.raised_at < cutoff)
    query = query.order_by(Deviation.raised_at, Deviation.id).execution_options(yield_per=CHUNK)

    def rows(reading: Session) -> Iterator[Sequence[str]]:
        for number, batch, kind, raised_at, raiser, position, title, description in reading.execute(query):
            raised_on = raised_at.astimezone(setting.zone).date()
            yield (
                number,
                batch,
                kind.value if kind else "not classified yet",
                setting.times.local(raised_at),
                raiser,
                str((setting.today - raised_on).days),
                f"{position}. {title}" if position is not None else "",
                description,
            )

    stated = [
        ("Category", category or "any"),
        ("Open for at least", f"{older_than} days" if older_than is not None else "any time"),
        ("Age on", setting.today.isoformat()),
    ]
    return Content(stated, rows)


REPORT = ReportType(
    key="open-deviations",
    title="Open deviations",
    purpose="Every deviation still open, with its category and how many days it has been open, the oldest first.",
    columns=(
        Column("Deviation", 78),
        Column("Batch", 97),
        Column("Category", 58),
        Column("Raised", 60),
        Column("Raised by", 50),
        Column("Age (days)", 43),
        Column("Step", 50),
        Column("Description", 74),
    ),
    roles=frozenset({RoleName.QA, RoleName.MANAGER}),
    prepare=prepare,
)
