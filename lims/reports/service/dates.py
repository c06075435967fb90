"""Days the user names, in the display time zone, as moments in UTC; and a day range stated as people read it."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def start_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    """The first moment of ``day`` in ``zone``, in UTC; None for no day, or a day at the calendar's edge."""
    if day is None:
        return None
    try:
        return datetime.combine(day, time.min, tzinfo=zone).astimezone(UTC)
    except OverflowError:
        return None


def end_of(day: date | None, zone: ZoneInfo) -> datetime | None:
    """The first moment after ``day`` in ``zone``, in UTC (an exclusive bound); None for no day."""
    if day is None or day >= date.max:
        return None
    return start_of(day + timedelta(days=1), zone)


def day_range(date_from: date | None, date_to: date | None) -> str:
    """The range as stated in a report: "2030-04-01 to 2030-04-30", "from 2030-04-01", "any date"."""
    if date_from and date_to:
        return f"{date_from.isoformat()} to {date_to.isoformat()}"
    if date_from:
        return f"from {date_from.isoformat()}"
    if date_to:
        return f"up to {date_to.isoformat()}"
    return "any date"
