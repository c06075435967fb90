"""The areas register explicitly and once: importing a module registers nothing; the app shows what they declare."""

from __future__ import annotations

import dataclasses
import re
import subprocess
import sys
from importlib import import_module
from pathlib import Path

import pytest

from lims import registry
from lims.areas import AREAS, install
from lims.cli import cli
from lims.identity.models import RoleName

ROOT = Path(__file__).resolve().parents[2]

NAVIGATION = [
    ("Dashboard", "dashboard.index"),
    ("Portal", "samples.portal_home"),
    ("Protocols", "protocols.index"),
    ("Receiving", "samples.receiving"),
    ("Samples", "samples.sample_index"),
    ("Storage", "samples.storage_units"),
    ("Equipment", "equipment.index"),
    ("Batches", "batch_records.batches"),
    ("Deviations", "batch_records.deviations"),
    ("Materials", "materials.index"),
    ("Master records", "batch_records.masters"),
    ("Certificates", "certificates.index"),
    ("Test definitions", "testing.definitions"),
    ("Users", "identity.users"),
    ("Roles", "identity.roles"),
    ("Organizations", "identity.organizations"),
    ("API tokens", "identity.api_tokens"),
    ("API tokens", "identity.portal_tokens"),
    ("Access changes", "identity.access_changes"),
    ("Audit trail", "audit.events"),
    ("Reports", "reports.index"),
]
WORK_QUEUES = [
    "Locked accounts",
    "Calibrations overdue",
    "Calibrations due soon",
    "Calibrations to review",
    "Out-of-tolerance impact assessments",
    "Protocol versions to approve",
    "Lots in quarantine",
    "Master batch records in review",
    "Batches awaiting QA disposition",
    "Open deviations",
    "Steps to verify",
    "Hold points to review",
    "Batches in progress",
    "Submissions to receive",
    "Samples past their stability window",
    "Sample results out of specification",
    "Access review due",
    "Audit-trail review due",
]
SIGNABLES = {
    "calibration_record",
    "impact_assessment",
    "test_result",
    "protocol_version",
    "material_lot",
    "mbr_version",
    "batch_step",
    "deviation",
    "batch",
    "issued_document",
    "document_revocation",
    "result_release",
    "restore_verification",
    "access_review",
    "audit_trail_review",
}
AUDIT_ACTIONS = {
    "create",
    "update",
    "login.success",
    "login.wrong_password",
    "login.unknown_user",
    "login.locked",
    "login.deactivated",
    "login.lockout",
    "logout",
    "session.ended",
    "user.unlocked",
    "access.refused",
    "api.token_refused",
    "command_line.authenticated",
    "access_changes.exported",
    "signature.applied",
    "report.generated",
    "export.certificate",
    "export.odm",
    "audit.exported",
    "audit.verified",
    "audit.anchor_refused",
    "document.downloaded",
    "label.printed",
    "samples.exported",
    "compliance.finding_acknowledged",
    "compliance.finding_closed",
}

IMPORT_EVERY_MODULE = """
import importlib, pkgutil
import batch_records, lims, protocols
from lims import registry

for package in (lims, protocols, batch_records):
    importlib.import_module(package.__name__)
    for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
        importlib.import_module(module.name)
try:
    registry.current()
except registry.NoAreasInstalled as refusal:
    print(refusal)
else:
    print("a registry is current")
"""


def test_importing_every_module_registers_nothing():
    result = subprocess.run(
        [sys.executable, "-c", IMPORT_EVERY_MODULE], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert result.stdout.startswith("No areas are installed: call lims.areas.install()"), result.stdout


def test_installing_twice_gives_the_same_registry_with_each_thing_once():
    first = install()
    assert install() is first and registry.current() is first
    assert [queue.title for queue in first.work_queues] == WORK_QUEUES
    assert len(first.blueprints) == len({blueprint.name for blueprint in first.blueprints})
    assert len(first.known_audit_actions) == len(AUDIT_ACTIONS)


@pytest.mark.parametrize("area", AREAS)
def test_an_area_registered_twice_is_refused(area):
    fresh = registry.Registry()
    setup = import_module(f"{area}.setup")
    setup.register(fresh)
    with pytest.raises(registry.DeclaredTwice, match="declared twice"):
        setup.register(fresh)


def test_the_navigation_is_the_areas_entries_in_their_order():
    assert [(entry.label, entry.endpoint) for entry in install().navigation_entries] == NAVIGATION


def test_each_area_loads_its_part_of_the_demo_after_the_areas_it_builds_on():
    # Each loader acts as the demo users the first creates, and builds on what the loaders before it made.
    assert [loader.__module__ for loader in install().demo_loaders] == [
        "lims.identity.demo",
        "lims.equipment.demo",
        "protocols.demo",
        "lims.materials.demo",
        "lims.training.demo",
        "lims.testing.demo",
        "batch_records.demo",
        "lims.certificates.demo",
        "lims.samples.demo",
        "lims.review.demo",
    ]


def test_a_user_with_every_staff_role_sees_every_queue_in_order(client, signed_in):
    signed_in(RoleName.ADMIN, RoleName.QA, RoleName.MANAGER, RoleName.TECHNICIAN)
    page = client.get("/").text
    shown = re.findall(r'<span class="queue-title">([^<]+)</span>', page)
    assert [title.replace("&#39;", "'") for title in shown] == WORK_QUEUES


def test_an_admin_sees_the_navigation_of_every_area_they_may_open(client, signed_in):
    signed_in(RoleName.ADMIN, RoleName.QA, RoleName.MANAGER)
    nav = client.get("/").text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    labels = re.findall(r">([^<]+)</a></li>", nav)
    # Clients alone manage their own organization's API tokens and have a portal.
    assert labels == [
        label for label, endpoint in NAVIGATION if endpoint not in {"identity.portal_tokens", "samples.portal_home"}
    ]


def _menu(client) -> list[str]:
    nav = client.get("/").text.split('<nav aria-label="Main">')[1].split("</nav>")[0]
    return re.findall(r">([^<]+)</a></li>", nav)


@pytest.mark.parametrize(
    ("role", "in_menu"), [(RoleName.TECHNICIAN, True), (RoleName.MANAGER, True), (RoleName.QA, False)]
)
def test_storage_is_in_the_menus_of_those_who_work_in_it_and_open_to_qa(client, signed_in, role, in_menu):
    signed_in(role)
    assert ("Storage" in _menu(client)) is in_menu
    assert "Samples" in _menu(client)
    assert client.get("/storage").status_code == 200


def test_every_signable_record_type_is_declared():
    assert set(install().signables) == SIGNABLES


def test_the_audit_viewer_offers_every_action_the_areas_record(client, signed_in):
    signed_in(RoleName.QA)
    page = client.get("/audit").text
    datalist = page.split('<datalist id="known-actions">')[1].split("</datalist>")[0]
    assert set(re.findall(r'<option value="([^"]+)">', datalist)) == AUDIT_ACTIONS


def test_the_command_line_offers_the_areas_command_groups(app):
    result = app.test_cli_runner().invoke(cli, ["--help"])
    assert result.exit_code == 0, result.output
    for group in ("user", "audit", "protocol", "db", "demo", "scheduler"):
        assert re.search(rf"^\s+{group}\s", result.output, re.MULTILINE), result.output


def test_batch_records_declares_the_batches_an_impact_assessment_judges():
    (declaration,) = install().impacted_record_declarations
    assert (declaration.kind, sorted(declaration.finders)) == ("batch", ["batch_step", "test_result"])
    fresh = registry.Registry()
    fresh.impacted_records(declaration)
    with pytest.raises(registry.DeclaredTwice, match="impacted records of kind 'batch' is declared twice"):
        fresh.impacted_records(declaration)
    lots = dataclasses.replace(declaration, kind="lot", finders={"test_result": declaration.finders["test_result"]})
    with pytest.raises(registry.DeclaredTwice, match="equipment uses of type 'test_result' is declared twice"):
        fresh.impacted_records(lots)
