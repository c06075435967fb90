"""The flush hooks: controlled records are audited on every create and update, need reasons, are never deleted."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import textwrap
from datetime import UTC
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit import context as audit_context
from lims.audit import hooks as audit_hooks
from lims.audit.errors import DeletionRefused, ReasonRequired
from lims.audit.models import AuditEvent
from lims.identity.models import Organization, RoleName
from lims.materials import service as materials
from lims.samples.models import Sample, SampleStatus
from lims.units.measurement import Measurement
from lims.units.parsing import parse_measurement
from tests.lims.audit.helpers import MOMENT, events


def test_update_of_a_controlled_record_without_reason_is_refused(db_session, create_organization):
    organization = create_organization(name="Helix")
    organization.name = "Helix Bio"
    with pytest.raises(ReasonRequired, match="reason for changing this organization"):
        db_session.flush()


@pytest.mark.parametrize("reason", [None, "Duplicate entry"])
def test_a_controlled_record_is_never_hard_deleted_even_with_a_reason(db_session, create_organization, reason):
    organization = create_organization()
    db_session.commit()
    sequence_before = db_session.scalar(select(func.max(AuditEvent.sequence)))
    with pytest.raises(DeletionRefused, match="regulated record and is never deleted"):
        with audit_context.reason_for_change(db_session, reason) if reason else contextlib.nullcontext():
            db_session.delete(organization)
            db_session.flush()
    db_session.rollback()
    assert db_session.get(Organization, organization.id) is not None
    assert db_session.scalar(select(func.max(AuditEvent.sequence))) == sequence_before


def test_update_event_has_exact_old_and_new_values_user_time_and_reason(db_session, create_organization):
    organization = create_organization(code="HELIX", name="Helix")
    audit_context.act_as(
        db_session, audit_context.Actor(42, "Quinn Okafor", request_id="req-1", client_address="10.0.0.7")
    )
    clock.freeze(MOMENT)
    with audit_context.reason_for_change(db_session, "  Legal name changed after merger  "):
        organization.name = "Helix Bio"
        organization.active = False
    event = events(db_session, action="update", entity_id=str(organization.id))[0]
    assert (event.entity_type, event.user_id, event.user_name) == ("organization", 42, "Quinn Okafor")
    assert event.recorded_at == MOMENT and event.recorded_at.tzinfo == UTC
    assert event.reason == "Legal name changed after merger"
    assert (event.request_id, event.client_address) == ("req-1", "10.0.0.7")
    assert json.loads(event.changes) == {"name": ["Helix", "Helix Bio"], "active": [True, False]}


def test_create_event_lists_every_field(db_session, create_organization):
    organization = create_organization(code="NORD", name="Nordic CAR Bio")
    event = events(db_session, action="create", entity_id=str(organization.id))[0]
    changes = json.loads(event.changes)
    assert changes["code"] == [None, "NORD"] and changes["name"] == [None, "Nordic CAR Bio"]
    assert changes["kind"] == [None, "client"] and changes["id"] == [None, organization.id]


def test_secrets_are_recorded_as_changed_without_their_value(db_session, create_user):
    create_user()
    created = json.loads(events(db_session, action="create", entity_type="user_account")[0].changes)
    assert created["password_hash"] == [None, audit_hooks.REDACTED]
    assert "last_login_at" not in created


def test_the_old_value_of_an_expired_attribute_is_recorded_exactly(db_session, create_organization):
    organization = create_organization(name="Helix")
    db_session.commit()
    db_session.expire(organization)
    with audit_context.reason_for_change(db_session, "Renamed"):
        organization.name = "Helix Bio"
    [renamed] = events(db_session, action="update", entity_id=str(organization.id))
    assert json.loads(renamed.changes) == {"name": ["Helix", "Helix Bio"]}


def test_the_old_value_of_an_expired_quantity_is_recorded_exactly(db_session, create_user):
    material = materials.create_material(
        db_session,
        part_number="MED-001",
        name="Culture medium",
        specification="Sterile, endotoxin < 0.5 EU/mL",
        storage_condition="2–8 °C",
        unit="mL",
    )
    lot = materials.receive_lot(
        db_session,
        material,
        supplier="Acme",
        supplier_lot="A1",
        received_on=clock.now().date(),
        expires_on=clock.now().date().replace(year=2099),
        quantity=parse_measurement("1 L"),
        user=create_user(RoleName.TECHNICIAN),
    )
    db_session.commit()
    db_session.expire(lot)
    with audit_context.reason_for_change(db_session, "Spill"):
        lot.quantity_remaining = parse_measurement("0.5 L")
    [changed] = events(db_session, action="update", entity_type="material_lot")
    assert json.loads(changed.changes) == {"quantity_remaining": ["1 L", "0.5 L"]}


#: Prints which audit events a fresh Session and a plain Engine would fire listeners for.
_LISTENERS_HUNG = """
from sqlalchemy import create_engine
from sqlalchemy.orm import Session
from lims.audit import hooks

def listeners_hung():
    session, engine = Session(), create_engine("sqlite://")
    hooked = [*hooks.FLUSH_HOOKS, *hooks.CONNECTION_HOOKS]
    return sorted({f"{target.__name__}.{name}" for target, name, _listener in hooked
                   if getattr(session.dispatch, name, None) or getattr(engine.dispatch, name, None)})
"""


def _run_in_a_fresh_interpreter(script: str) -> str:
    finished = subprocess.run(
        [sys.executable, "-c", _LISTENERS_HUNG + textwrap.dedent(script)],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parents[3],
        timeout=120,
    )
    assert finished.returncode == 0, finished.stderr
    return finished.stdout


def _every_hook() -> str:
    return str(
        sorted(
            {
                f"{target.__name__}.{name}"
                for target, name, _listener in (*audit_hooks.FLUSH_HOOKS, *audit_hooks.CONNECTION_HOOKS)
            }
        )
    )


def test_importing_the_audit_modules_hangs_no_listener_until_install_runs():
    printed = _run_in_a_fresh_interpreter("""
        import importlib, pkgutil
        import lims.audit
        for module in pkgutil.iter_modules(lims.audit.__path__):
            importlib.import_module(f"lims.audit.{module.name}")
        print(listeners_hung())
        hooks.install()
        print(listeners_hung())
    """)
    assert printed.splitlines() == ["[]", _every_hook()]


def test_every_engine_the_lims_creates_has_the_hooks_in_place():
    printed = _run_in_a_fresh_interpreter("""
        from lims.db import create_engine_for
        print(listeners_hung())
        create_engine_for("sqlite://")
        print(listeners_hung())
    """)
    assert printed.splitlines() == ["[]", _every_hook()]


def test_installing_the_hooks_again_audits_each_change_once(db_session, create_organization):
    organization = create_organization(name="Helix")
    audit_hooks.install()
    audit_hooks.install()
    with audit_context.reason_for_change(db_session, "Renamed"):
        organization.name = "Helix Bio"
    assert len(events(db_session, entity_type="organization", entity_id=str(organization.id))) == 2


def test_creations_made_together_record_each_value_as_one_made_alone():
    shared = Measurement(Decimal("1.5"), "mL")
    rows = [
        {"id": 1, "line": 1, "quantity": shared, "status": SampleStatus.EXPECTED, "client_sample_id": "A"},
        {"id": 2, "line": 2, "quantity": shared, "status": SampleStatus.EXPECTED, "client_sample_id": "B"},
        # Equal to the one above, written otherwise: recorded as written, never taken for it.
        {"id": 3, "line": 3, "quantity": Measurement(Decimal("1.50"), "mL"), "client_sample_id": "C"},
    ]
    together = list(audit_hooks.creation_changes_many(Sample, rows))
    assert together == [audit_hooks.creation_changes(Sample, row) for row in rows]
    assert [changes["quantity"][1] for changes in together] == ["1.5 mL", "1.5 mL", "1.50 mL"]
    assert together[0]["status"] == [None, "expected"] and together[2]["status"] == [None, None]
