"""Structured security records (logins, lockouts, role changes, token use).

Each record is a JSON object on the ``lims.security`` logger with the event
name, UTC time and the people and addresses involved, so it can be shipped to
a SIEM as it is and later written into the audit trail unchanged.
"""
from __future__ import annotations

import json
import logging
from typing import Any

from lims import clock

logger = logging.getLogger("lims.security")


def log_to_stderr() -> None:
    """Write security records to standard error, where a served app's logs are collected."""
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def record(event: str, **fields: Any) -> dict[str, Any]:
    """Log one security event and return the record that was logged."""
    entry = {"event": event, "at": clock.now().isoformat(), **fields}
    logger.info(json.dumps(entry, sort_keys=True, default=str), extra={"security_event": entry})
    return entry
