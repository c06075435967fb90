"""Two facilities whose calendar day differs from UTC's, pinned where the difference shows.

At a site at UTC+8 the local day starts at 16:00 UTC the day before; at a site at UTC−5 it ends at 05:00 UTC the
day after. ``EXPIRY`` is the day that has just ended at the eastern site and has not yet ended at the western one,
while the UTC date says the opposite in both.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime
from zoneinfo import ZoneInfo

from lims import clock

EAST = ZoneInfo("Asia/Singapore")  # UTC+8, no daylight saving
WEST = ZoneInfo("America/Bogota")  # UTC−5, no daylight saving

EXPIRY = date(2030, 4, 15)
#: five minutes into 16 April at the eastern site, while UTC still reads 15 April
JUST_AFTER_MIDNIGHT_EAST = datetime(2030, 4, 16, 0, 5, tzinfo=EAST)
#: five minutes before the end of 15 April at the western site, while UTC already reads 16 April
JUST_BEFORE_MIDNIGHT_WEST = datetime(2030, 4, 15, 23, 55, tzinfo=WEST)


@contextmanager
def at_facility(moment: datetime) -> Iterator[None]:
    """Run the block at ``moment`` at a facility in ``moment``'s time zone."""
    assert moment.tzinfo is not None
    previous = clock.facility_zone()
    clock.set_facility_zone(moment.tzinfo)
    try:
        with clock.frozen(moment):
            yield
    finally:
        clock.set_facility_zone(previous)
