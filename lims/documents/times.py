"""How documents show a moment: in the facility's display time zone, as the pages do, and in UTC beside it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

#: the templates' ``localtime`` filter: ``localtime(moment, with_seconds)`` → text in the display time zone
LocalTime = Callable[[datetime | None, bool], str]


class Times:
    """Formats moments with the app's ``localtime`` filter (``current_app.jinja_env.filters["localtime"]``), so a
    document and the pages agree on the display time zone."""

    def __init__(self, localtime: LocalTime) -> None:
        self._localtime = localtime

    def local(self, moment: datetime | None) -> str:
        """``moment`` in the display time zone, to the second ("—" for none)."""
        return self._localtime(moment, True)

    @staticmethod
    def utc(moment: datetime) -> str:
        """``moment`` in UTC as ISO 8601, e.g. ``2030-04-10T08:00:00Z``."""
        return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def local_and_utc(self, moment: datetime) -> list[str]:
        """The display time, then UTC unless the display time zone is UTC itself (no need to say it twice)."""
        local = self.local(moment)
        if local == moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"):
            return [local]
        return [local, self.utc(moment)]
