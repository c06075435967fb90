"""What the dashboard contributes: the start page (its queues come from the other areas)."""

from __future__ import annotations

from lims.dashboard import views
from lims.registry import Registry


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.navigation("Dashboard", "dashboard.index", order=10)
