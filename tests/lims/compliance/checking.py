"""Running one declared check's function directly, as the runner would, to see what it finds."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from lims.areas import install
from lims.registry import Condition


def found(session: Session, check_id: str, *, at: datetime, **parameters: int) -> dict[str, Condition]:
    """The conditions the check ``check_id`` finds at ``at`` (its default parameters, or those given), by record id."""
    check = install().compliance_checks[check_id]
    return {condition.record_id: condition for condition in check.run(session, at, {**check.parameters, **parameters})}
