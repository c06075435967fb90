"""When a periodic review falls due: the days since the last signed one, counted in the facility's local dates."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from lims import clock


@dataclass(frozen=True)
class DueState:
    """Where a periodic review stands: when it was last signed and when the next is due."""

    #: the facility's local date of the last signed review; None if none was ever signed
    last_reviewed_on: date | None
    #: None when no review was ever signed: it is due from the start
    due_on: date | None

    def days_overdue(self, today: date) -> int | None:
        """Days past the due date (0 on the due date itself); None before it is due."""
        if self.due_on is None:
            return 0
        return (today - self.due_on).days if today >= self.due_on else None

    def is_due(self) -> bool:
        """Whether a review is due on the facility's date today."""
        return self.days_overdue(clock.today()) is not None

    def describe(self, today: date, what: str) -> str:
        """The lab's words for the state: "access review due on 2027-03-05", "… 4 days overdue (due …)"."""
        overdue = self.days_overdue(today)
        if self.due_on is None:
            return f"no {what} signed yet"
        if overdue is None:
            return f"{what} due on {self.due_on.isoformat()}"
        if overdue == 0:
            return f"{what} due today ({self.due_on.isoformat()})"
        return f"{what} {overdue} day{'s' if overdue != 1 else ''} overdue (due {self.due_on.isoformat()})"


def local_date(moment: datetime) -> date:
    return moment.astimezone(clock.facility_zone()).date()


def next_due_on(signed_at: datetime, interval_days: int) -> date:
    """The date the next review is due: ``interval_days`` after the facility's date of the one signed now."""
    return local_date(signed_at) + timedelta(days=interval_days)


def due_state(last_signed_at: datetime | None, due_on: date | None) -> DueState:
    """Where a review stands, given the last one signed and the due date it set."""
    if last_signed_at is None:
        return DueState(None, None)
    return DueState(local_date(last_signed_at), due_on)
