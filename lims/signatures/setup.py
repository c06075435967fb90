"""What electronic signatures contribute: the signing page, the action it records, and the check of every
signature against the audit trail."""

from __future__ import annotations

from lims.registry import Registry
from lims.signatures import compliance, models, trail, views  # noqa: F401  (models: the metadata needs the signatures table)


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.audit_actions(trail.APPLIED)
    registry.trail_check(trail.disagreements)
