"""The one clock of the LIMS.

Every timestamp the system records comes from :func:`now`, so tests can pin
time and no code path trusts a client-supplied time. "Today" (expiry, due
dates, training in force) is the facility's local date from :func:`today`: at
a site east of Greenwich the UTC date lags the lab's calendar for hours.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, tzinfo

_frozen_at: datetime | None = None
_facility_zone: tzinfo = UTC


def now() -> datetime:
    """Return the current time as an aware UTC datetime."""
    if _frozen_at is not None:
        return _frozen_at
    return datetime.now(UTC)


def today() -> date:
    """Return the facility's local date now: the day expiry and due dates are counted in."""
    return now().astimezone(_facility_zone).date()


def facility_date(moment: datetime) -> date:
    """The facility's local date at ``moment`` (a check's "today" at the time it runs)."""
    return moment.astimezone(_facility_zone).date()


def facility_zone() -> tzinfo:
    """The facility's time zone, which :func:`today` counts days in."""
    return _facility_zone


def set_facility_zone(zone: tzinfo) -> None:
    """Count days in ``zone`` from now on (the app factory sets it from LIMS_FACILITY_TIMEZONE)."""
    global _facility_zone
    _facility_zone = zone


def freeze(moment: datetime) -> None:
    """Pin the clock to ``moment`` (aware) until :func:`unfreeze`."""
    if moment.tzinfo is None:
        raise ValueError("the clock only holds aware datetimes")
    global _frozen_at
    _frozen_at = moment.astimezone(UTC)


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward by ``delta`` and return the new time."""
    if _frozen_at is None:
        raise RuntimeError("only a frozen clock can be advanced")
    freeze(_frozen_at + delta)
    return now()


def unfreeze() -> None:
    """Let the clock follow real time again."""
    global _frozen_at
    _frozen_at = None


@contextmanager
def frozen(moment: datetime) -> Iterator[None]:
    """Pin the clock for the duration of a ``with`` block, then put it back as it was."""
    global _frozen_at
    previous = _frozen_at
    freeze(moment)
    try:
        yield
    finally:
        _frozen_at = previous
