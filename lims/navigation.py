"""The main navigation: each entry is shown to whoever its route admits."""

from __future__ import annotations

from lims import registry
from lims.access import may_use


def navigation_for() -> list[tuple[str, str]]:
    """Return the (label, endpoint) entries the signed-in user may open, in display order."""
    return [(entry.label, entry.endpoint) for entry in registry.current().navigation_entries if may_use(entry.endpoint)]
