"""The areas that make up the LIMS, and their installation into one registry.

An area is a package with a ``setup`` module whose ``register(registry)`` declares what the area contributes
(and imports its models, so the metadata describes the whole schema). Areas are installed in the order below:
it is the order of the dashboard's queues, the audit viewer's actions and the demo data.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from lims.registry import Registry, make_current

AREAS: tuple[str, ...] = (
    "lims.identity",
    "lims.audit",
    "lims.signatures",
    "lims.dashboard",
    "lims.notifications",
    "lims.equipment",
    "protocols",
    "lims.materials",
    "lims.training",
    "lims.testing",
    "batch_records",
    "lims.certificates",
    "lims.reports",
    "lims.samples",
    "lims.backups",
    # After the areas whose demo history its audit-trail review covers.
    "lims.review",
    "lims.compliance",
)


@cache
def install() -> Registry:
    """Register every area, once per process, and make their registry the current one."""
    registry = Registry()
    for area in AREAS:
        import_module(f"{area}.setup").register(registry)
    make_current(registry)
    return registry
