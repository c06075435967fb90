"""What the reports area contributes: the reports page, under QA's menu, and the reports' API."""

from __future__ import annotations

from lims.registry import Registry
from lims.reports import api, views


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.navigation("Reports", "reports.index", order=72)
    registry.audit_actions("report.generated")
