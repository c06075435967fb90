"""Domain errors: each refusal is a named class in its area's errors module, says in its docstring which rule
refuses, and answers with a 4xx status."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator

import pytest

from lims.errors import LimsError

PACKAGES = ("lims", "batch_records", "protocols")


def _import_every_module() -> None:
    # A subclass exists for __subclasses__ only once its module is imported.
    for name in PACKAGES:
        package = importlib.import_module(name)
        for module in pkgutil.walk_packages(package.__path__, f"{name}."):
            importlib.import_module(module.name)


def _descendants(cls: type[LimsError]) -> Iterator[type[LimsError]]:
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _descendants(subclass)


def _domain_errors() -> list[type[LimsError]]:
    _import_every_module()
    found = {cls for cls in _descendants(LimsError) if cls.__module__.split(".")[0] in PACKAGES}
    return sorted(found, key=lambda cls: f"{cls.__module__}.{cls.__qualname__}")


DOMAIN_ERRORS = _domain_errors()


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_domain_error_is_a_client_error(error):
    assert 400 <= error.status_code < 500


@pytest.mark.parametrize("error", [LimsError, *DOMAIN_ERRORS], ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_domain_error_names_its_rule_in_its_own_docstring(error):
    assert (vars(error).get("__doc__") or "").strip(), "an inherited docstring describes another rule"


@pytest.mark.parametrize("error", DOMAIN_ERRORS, ids=lambda cls: f"{cls.__module__}.{cls.__qualname__}")
def test_a_domain_error_lives_in_an_errors_module(error):
    assert error.__module__.rsplit(".", 1)[-1] == "errors"


def test_each_area_with_rules_has_its_errors_module():
    assert {cls.__module__ for cls in DOMAIN_ERRORS} == {
        "lims.errors",
        "lims.audit.errors",
        "lims.equipment.errors",
        "lims.identity.errors",
        "lims.materials.errors",
        "lims.notifications.errors",
        "lims.signatures.errors",
        "lims.testing.errors",
        "lims.training.errors",
        "lims.units.errors",
        "lims.versioning.errors",
        "batch_records.errors",
        "lims.certificates.errors",
        "lims.samples.errors",
        "lims.backups.errors",
        "lims.review.errors",
        "protocols.errors",
        "protocols.ctgov.errors",
    }
