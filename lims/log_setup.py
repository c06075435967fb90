"""Where a served app's log records go."""

from __future__ import annotations

import logging


def log_to_stderr() -> None:
    """Write the LIMS's records (audit events among them) to standard error."""
    logger = logging.getLogger("lims")
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
