"""The pages of batch records: one blueprint, its routes in a module for each part of the area."""

from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("batch_records", __name__, template_folder="../templates")

# The routes join the blueprint when their modules are imported.
from batch_records.views import batches, deviations, execution, masters, release  # noqa: E402,F401
