"""What QC testing contributes: the test definitions pages, the verification of results and the demo's QC tests."""

from __future__ import annotations

from lims.identity.models import RoleName
from lims.registry import Registry
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import SignableType
from lims.testing import demo, service, views
from lims.testing.models import TestResult


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.navigation("Test definitions", "testing.definitions", order=50)
    registry.signable(
        SignableType(
            TestResult,
            {SignatureMeaning.VERIFIED: frozenset({RoleName.TECHNICIAN, RoleName.QA, RoleName.MANAGER})},
            before_signing=service.check_verification,
        )
    )
    registry.demo_loader(demo.load_test_definitions)
