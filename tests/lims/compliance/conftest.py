"""Checks made up for the tests: their conditions are whatever the test says at the moment."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from lims import registry
from lims.areas import install
from lims.registry import ComplianceCheck, Condition, Registry


def condition(record_id: str, detail: str = "calibration 1 day overdue", severity: str | None = None) -> Condition:
    return Condition("equipment", record_id, f"centrifuge CF-{record_id}", detail, f"/equipment/{record_id}", severity)


@pytest.fixture
def made_up_check() -> Callable[..., tuple[ComplianceCheck, list[Condition]]]:
    """A check whose conditions are the list returned beside it, as the test changes it."""

    def make(check_id: str = "test.made-up", severity: str = "major") -> tuple[ComplianceCheck, list[Condition]]:
        current: list[Condition] = []
        check = ComplianceCheck(
            check_id, "A made-up check", "equipment", severity, "every 1h", lambda _s, _now, _p: list(current)
        )
        return check, current

    return make


@pytest.fixture
def only_checks() -> Iterator[Callable[..., Registry]]:
    """Make the installed areas' registry declare only the given checks, for as long as the test runs."""
    installed = install()

    def declare(*checks: ComplianceCheck) -> Registry:
        replaced = Registry()
        for check in checks:
            replaced.compliance_check(check)
        registry.make_current(replaced)
        return replaced

    yield declare
    registry.make_current(installed)
