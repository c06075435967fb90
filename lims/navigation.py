"""The main navigation and the header's links: each is shown to whoever its route admits."""

from __future__ import annotations

from dataclasses import dataclass

from flask_login import current_user

from lims import registry
from lims.access import may_use
from lims.db import get_session


def navigation_for() -> list[tuple[str, str]]:
    """Return the (label, endpoint) entries the signed-in user may open and whose menu shows them, in order."""
    return [
        (entry.label, entry.endpoint)
        for entry in registry.current().navigation_entries
        if may_use(entry.endpoint) and (entry.shown_to is None or current_user.has_any_role(entry.shown_to))
    ]


@dataclass(frozen=True)
class ShownHeaderLink:
    label: str
    endpoint: str
    count: int
    #: the count as the header shows it ("99+" beyond the limit)
    count_text: str


def header_links_for() -> list[ShownHeaderLink]:
    """The header's links the signed-in user may open, each with its count for them."""
    shown = []
    for link in registry.current().header_links:
        if not may_use(link.endpoint):
            continue
        count = link.count(get_session(), current_user)
        text = f"{link.count_limit - 1}+" if count >= link.count_limit else str(count)
        shown.append(ShownHeaderLink(link.label, link.endpoint, count, text))
    return shown
