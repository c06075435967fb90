"""What the audit trail contributes: its viewer and integrity page, the actions it records, `lims audit`."""

from __future__ import annotations

from lims.audit import compliance, models, views  # noqa: F401  (models: the metadata needs the trail's tables)
from lims.audit.cli import audit_group
from lims.registry import Registry


def register(registry: Registry) -> None:
    for check in compliance.CHECKS:
        registry.compliance_check(check)
    registry.blueprint(views.blueprint)
    registry.navigation("Audit trail", "audit.events", order=70)
    # "create" and "update" are recorded for every controlled record, whichever area it belongs to.
    registry.audit_actions("create", "update", "audit.exported", "audit.verified", "audit.anchor_refused")
    registry.cli_group(audit_group)
