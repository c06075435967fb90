"""What electronic signatures contribute: the signing page and the action it records."""

from __future__ import annotations

from lims.registry import Registry
from lims.signatures import models, views  # noqa: F401  (models: the metadata needs the signatures table)


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.audit_actions("signature.applied")
