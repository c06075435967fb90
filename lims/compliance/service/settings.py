"""Which checks run, with which parameters: the declared defaults, as an administrator changed them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims import registry
from lims.audit import context as audit_context
from lims.compliance.models import CheckSetting
from lims.errors import OutOfRange, RecordNotFound
from lims.registry import ComplianceCheck

#: the range of every parameter (days, hours): a check looking further than ten years ahead finds everything
PARAMETER_RANGE = range(1, 3651)


@dataclass(frozen=True)
class CheckInForce:
    """A declared check as it runs now: enabled or not, with its parameters."""

    check: ComplianceCheck
    enabled: bool
    parameters: Mapping[str, int]


def declared_check(check_id: str) -> ComplianceCheck:
    """The check declared as ``check_id``; refused by name when no area declares it."""
    check = registry.current().compliance_checks.get(check_id)
    if check is None:
        known = ", ".join(registry.current().compliance_checks) or "none"
        raise RecordNotFound(f"No compliance check is called {check_id!r}; the checks are: {known}.")
    return check


def checks_in_force(session: Session) -> list[CheckInForce]:
    """Every declared check with its settings (one query), in the order the areas declared them."""
    stored = {setting.check_id: setting for setting in session.scalars(select(CheckSetting))}
    return [_in_force(check, stored.get(check.check_id)) for check in registry.current().compliance_checks.values()]


def check_in_force(session: Session, check: ComplianceCheck) -> CheckInForce:
    return _in_force(check, session.scalar(select(CheckSetting).where(CheckSetting.check_id == check.check_id)))


def _in_force(check: ComplianceCheck, setting: CheckSetting | None) -> CheckInForce:
    if setting is None:
        return CheckInForce(check, True, dict(check.parameters))
    # A parameter declared after the setting was stored runs with its default.
    stored = setting.parameter_values
    parameters = {name: stored.get(name, default) for name, default in check.parameters.items()}
    return CheckInForce(check, setting.enabled, parameters)


def change_setting(
    session: Session,
    check_id: str,
    *,
    enabled: bool,
    parameters: Mapping[str, int],
    reason: str,
    now: datetime,
) -> CheckSetting:
    """Turn a check on or off and set its parameters, for the reason given (audited)."""
    check = declared_check(check_id)
    unknown = sorted(set(parameters) - set(check.parameters))
    if unknown:
        raise OutOfRange(f"The check {check.title!r} has no parameter {', '.join(unknown)}.")
    values = {name: parameters.get(name, default) for name, default in check.parameters.items()}
    for name, value in values.items():
        if value not in PARAMETER_RANGE:
            raise OutOfRange(
                f"{name.replace('_', ' ').capitalize()} must be a whole number from {PARAMETER_RANGE.start} to "
                f"{PARAMETER_RANGE.stop - 1}.",
                field=name,
            )
    setting = session.scalar(select(CheckSetting).where(CheckSetting.check_id == check_id))
    with audit_context.reason_for_change(session, reason):
        if setting is None:
            setting = CheckSetting(check_id=check_id)
            session.add(setting)
        setting.enabled = enabled
        setting.parameters = CheckSetting.encoded(values)
        setting.updated_at = now
    return setting
