"""What QC testing contributes: the test definitions pages, the verification of results, the test methods as
training subjects and the demo's QC tests with the analysts trained on them."""

from __future__ import annotations

from lims.identity.models import RoleName
from lims.registry import Registry
from lims.signatures.models import SignatureMeaning
from lims.signatures.service import NextStep, SignableType
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
            name=lambda result: f"the {result.definition.name} result {result.reported}",
            next_step=lambda _session, result, _meaning, _user: NextStep(
                f"The {result.definition.name} result is verified: a batch is released once every release result "
                "is verified."
            ),
        )
    )
    registry.training_subjects(service.definitions_as_training_subjects)
    registry.demo_loader(demo.load_test_definitions)
