"""The main navigation: each entry is shown to whoever its route admits."""
from __future__ import annotations

from lims.access import may_use

#: (label, endpoint), in display order. Areas add theirs here as they land.
MAIN_NAVIGATION: tuple[tuple[str, str], ...] = (
    ("Dashboard", "dashboard.index"),
    ("Protocols", "protocols.index"),
    ("Equipment", "equipment.index"),
    ("Batches", "batch_records.batches"),
    ("Deviations", "batch_records.deviations"),
    ("Materials", "materials.index"),
    ("Master records", "batch_records.masters"),
    ("Test definitions", "testing.definitions"),
    ("Users", "identity.users"),
    ("Roles", "identity.roles"),
    ("Organizations", "identity.organizations"),
    ("API tokens", "identity.api_tokens"),
    ("API tokens", "identity.portal_tokens"),
    ("Audit trail", "audit.events"),
    ("Chain integrity", "audit.integrity"),
)


def navigation_for() -> list[tuple[str, str]]:
    """Return the entries the signed-in user may open."""
    return [(label, endpoint) for label, endpoint in MAIN_NAVIGATION if may_use(endpoint)]
