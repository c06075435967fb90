"""The pages of batch records: one blueprint, its routes in the modules of master records and of batches."""
from __future__ import annotations

from flask import Blueprint

blueprint = Blueprint("batch_records", __name__, template_folder="templates")

# The batch and master record pages join this blueprint.
from batch_records import batch_views, master_views  # noqa: E402,F401
