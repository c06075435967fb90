"""What training contributes: training records, their pages and the demo's SOP training."""

from __future__ import annotations

from lims.registry import Registry
from lims.training import demo, views
from lims.training import models as _models  # noqa: F401  (the metadata must describe the training table)


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.demo_loader(demo.load_training)
