"""What compliance contributes: the findings dashboard and its API, the checks' settings, `lims compliance`, the
actions QA's handling of findings records."""

from __future__ import annotations

from lims.compliance import api, cli, models, views  # noqa: F401  (models: the metadata needs the compliance tables)
from lims.compliance.service import findings
from lims.registry import Registry


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.cli_group(cli.compliance_group)
    registry.audit_actions(findings.ACKNOWLEDGED, findings.CLOSED)
