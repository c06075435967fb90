"""What executing and reviewing a GMP batch record costs.

- ``batch-execution``: executes every step of a batch made to an effective
  master record of ``size`` steps through the service layer, auditing on:
  parameter entries, equipment uses, lot consumption, the performer's and the
  verifier's signatures, one transaction per step. It compares the cost of a
  step with the cost of one plain audited update (a Controlled record changed
  with a reason, in a transaction of its own), measured in the same run,
  interleaved with the steps.
- ``batch-review``: renders QA's review page of a batch of ``size`` steps with
  1,000 entries (at 60 steps) through the Flask test client, signed in as QA,
  counting the SQL statements the request sends, and does the same for a
  batch of 6 steps and 100 entries: the statement count must not grow with
  the batch (the page loads the record in a bounded number of queries).

Signing re-authenticates with argon2. At its production cost the password
check would be most of every signature, so the benchmarks hash with cheap
argon2id parameters (time_cost=1, memory_cost=1024 KiB, parallelism=1), as
the test suite does, and say so in their output.

Each builds a throwaway SQLite database, or uses the database named by
``LIMS_BENCH_DATABASE_URL`` (PostgreSQL, whose public schema is dropped and
recreated first). The clock is pinned for the run.
"""
from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from batch_records.models import TYPICAL_STAGES, Batch, BatchEntry, StepStatus
from batch_records.service import batches, execution, masters, release
from bench.audit import Target, _event_count, _migrated_database, _print_ratio
from lims import clock
from lims.app import create_app
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service.inventory import create_equipment
from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service import organizations, passwords, users
from lims.materials import service as materials
from lims.materials.models import Material, MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.testing.models import ResultKind
from lims.training import service as training
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols import service as protocols

PASSWORD = "bench-signing-secret-2291"
CHEAP_ARGON2 = "argon2id time_cost=1, memory_cost=1024 KiB, parallelism=1 (as tests/conftest.py)"
DUE_SOON_DAYS = 14
REASON_FOR_CHANGE = "Supplier renamed the product (change request CR-2291)"

#: every step has this many parameters in batch-execution; the first has a limit
EXECUTION_PARAMETERS = 3
#: plain audited updates timed after each step
UPDATES_PER_STEP = 3
#: steps with equipment (every third) and material (every fourth) repeat every 12 steps
DESIGN_PERIOD = 12
#: untimed steps of another batch first, one of each design
WARM_UP_STEPS = DESIGN_PERIOD
WARM_UP_UPDATES = 5

#: batch-review: parameters per step, and entries per 60 steps (values first, then corrections)
REVIEW_PARAMETERS = 10
REVIEW_ENTRIES_PER_60_STEPS = 1_000
SMALL_BATCH_STEPS = 6
WARM_UP_REQUESTS = 2
TIMED_REQUESTS = 15
#: the review reads the record in a bounded number of statements: within 10% of the small batch's count
STATEMENTS_TARGET = Target("≤", 1.1)

CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')

# What each parameter asks for, cycled: name, unit, limit (only the first of each three), value, corrected value.
_PARAMETER_KINDS = (
    ("Volume", "mL", "50–300 mL", "180", "185"),
    ("Temperature", "°C", None, "4.5 °C", "4.7 °C"),
    ("Viable cell concentration", "cells/mL", None, "2.4 ×10^6 cells/mL", "2.5 ×10^6 cells/mL"),
)
_EQUIPMENT_TYPES = (EquipmentType.BIOSAFETY_CABINET, EquipmentType.CENTRIFUGE)
_STAGES = TYPICAL_STAGES


@contextmanager
def _cheap_password_hashing() -> Iterator[None]:
    """Hash and check passwords with cheap argon2id parameters, as tests/conftest.py does."""
    original = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    try:
        yield
    finally:
        passwords._hasher = original


@contextmanager
def _bench_database() -> Iterator[Engine]:
    """A migrated database, cheap password hashing and a pinned clock for the whole run."""
    with _cheap_password_hashing(), clock.frozen(clock.now()), _migrated_database() as engine:
        yield engine


@contextmanager
def _statements_counted(engine: Engine) -> Iterator[list[int]]:
    """Count the SQL statements ``engine`` sends inside the block (in the one-element list yielded)."""
    count = [0]

    def count_statement(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", count_statement)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)


# The line: users, equipment, a released lot, a subject of an effective protocol


@dataclass(frozen=True)
class Line:
    author_id: int
    qa_id: int
    operator_id: int
    verifier_id: int
    equipment_ids: dict[EquipmentType, int]
    material_id: int
    lot_id: int
    definition_id: int
    subject_id: int


def _build_line(engine: Engine) -> Line:
    """Everything a batch needs around its master record, made through the services with auditing on."""
    today = clock.now().date()
    with Session(engine) as session, session.begin():
        facility = organizations.create_organization(session, code="NBCT", name="Northbridge Cell Therapy Facility",
                                                     kind=OrganizationKind.FACILITY)

        def user(username: str, full_name: str, role: RoleName) -> User:
            return users.create_user(session, username=username, full_name=full_name,
                                     email=f"{username}@example.org", organization=facility, roles={role},
                                     password=PASSWORD, must_change_password=False, actor=None)

        author = user("mlarsen", "Maja Larsen", RoleName.MANAGER)
        qa = user("qokafor", "Quinn Okafor", RoleName.QA)
        operator = user("tnguyen", "Tran Nguyen", RoleName.TECHNICIAN)
        verifier = user("slind", "Sara Lind", RoleName.TECHNICIAN)

        equipment_ids = {}
        for number, equipment_type in enumerate(_EQUIPMENT_TYPES, start=1):
            item = create_equipment(
                session, asset_tag=f"EQ-{number:02d}", name=f"Suite B {equipment_type.value}",
                equipment_type=equipment_type, location="Suite B", manufacturer="Acme", model="X",
                serial_number=f"SN-{number:04d}", calibration_interval_days=365, owner=None)
            # Arranged directly, as the tests do: calibration is benchmarked with the equipment area.
            with audit_context.reason_for_change(session, "Benchmark arrangement: calibrated last month"):
                item.last_calibrated_on = today - timedelta(days=30)
                item.calibration_due_on = today + timedelta(days=335)
            equipment_ids[equipment_type] = item.id

        medium = materials.create_material(session, part_number="MED-001", name="TexMACS GMP medium",
                                           specification="Sterile", storage_condition="2–8 °C")
        lot = materials.receive_lot(session, medium, supplier="Miltenyi Biotec", supplier_lot="7231104",
                                    received_on=today - timedelta(days=2), expires_on=today + timedelta(days=90),
                                    quantity=parse_measurement("100 L"), user=operator)
        signatures.sign(session, lot, meaning=SignatureMeaning.RELEASED, user=qa, password=PASSWORD)
        viability = testing.create_definition(session, code="VIAB", name="Viability", method="7-AAD flow cytometry",
                                              result_kind=ResultKind.QUANTITATIVE, unit="%", specification="≥ 70 %")

        sponsor = organizations.create_organization(session, code="HELIX", name="Helix Cell Therapeutics",
                                                    kind=OrganizationKind.CLIENT)
        protocol = protocols.create_protocol(
            session, number="HLX-301", title="HLX-19 in r/r DLBCL", sponsor=sponsor,
            phase=protocols.parse_phase("Phase 3"), therapeutic_area="Haematology", investigational_product="HLX-19")
        design = protocol.versions[0]
        arm = protocols.add_arm(session, design, code="A", name="HLX-19")
        protocols.add_visit(session, design, code="APH", name="Apheresis",
                            reference_event=protocols.ReferenceEvent.APHERESIS, day_offset=0)
        signatures.sign(session, design, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
        signatures.sign(session, design, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
        versioning.make_effective(session, design)
        subject = protocols.enrol_subject(session, protocol, code="HLX301-DE01-0001", site="DE-01", arm=arm,
                                          enrolled_on=today - timedelta(days=20), consent_version="2.0")
        return Line(author_id=author.id, qa_id=qa.id, operator_id=operator.id, verifier_id=verifier.id,
                    equipment_ids=equipment_ids, material_id=medium.id, lot_id=lot.id, definition_id=viability.id,
                    subject_id=subject.id)


def _build_master(engine: Engine, line: Line, *, code: str, steps: int, parameters: int) -> int:
    """An effective master record of ``steps`` steps, every one verified by a second person; its version's id.

    Each step has ``parameters`` parameters (every third one, from the first, with a limit); every third step
    needs a piece of equipment and every fourth a material.
    """
    today = clock.now().date()
    with Session(engine) as session, session.begin():
        author, qa = session.get_one(User, line.author_id), session.get_one(User, line.qa_id)
        medium = session.get_one(Material, line.material_id)
        version = masters.create_master(session, code=code, product="HLX-19 autologous anti-CD19 CAR-T",
                                        change_summary="First issue")
        for position in range(1, steps + 1):
            equipment = (_EQUIPMENT_TYPES[position // 3 % len(_EQUIPMENT_TYPES)],) if position % 3 == 0 else ()
            step = masters.add_step(session, version, masters.StepDesignInput(
                stage=_STAGES[(position - 1) * len(_STAGES) // steps], title=f"Operation {position}",
                instruction=f"Carry out operation {position} as the SOP describes; record what it asks for.",
                second_person_verification=True, equipment_types=equipment))
            for index in range(parameters):
                name, unit, limit, _value, _corrected = _PARAMETER_KINDS[index % len(_PARAMETER_KINDS)]
                masters.add_parameter(session, step, name=_parameter_name(name, index), unit=unit, limit=limit)
            if position % 4 == 0:
                masters.add_material_requirement(session, step, material=medium, quantity=parse_measurement("10 mL"))
        masters.add_release_test(session, version, testing.get_definition(session, line.definition_id))
        signatures.sign(session, version, meaning=SignatureMeaning.AUTHORED, user=author, password=PASSWORD)
        signatures.sign(session, version, meaning=SignatureMeaning.APPROVED, user=qa, password=PASSWORD)
        versioning.make_effective(session, version)
        for trained in (line.operator_id, line.verifier_id):
            training.record_training(session, user=session.get_one(User, trained), subject=version.training_subject,
                                     trained_on=today - timedelta(days=10), expires_on=None, recorded_by=author)
        return version.id


def _parameter_name(name: str, index: int) -> str:
    return name if index < len(_PARAMETER_KINDS) else f"{name} {index // len(_PARAMETER_KINDS) + 1}"


def _start_batch(engine: Engine, line: Line, version_id: int, starting_material: str) -> int:
    with Session(engine) as session, session.begin():
        version = masters.get_mbr_version(session, version_id)
        subject = protocols.get_subject(session, line.subject_id)
        return batches.start_batch(session, version, subject=subject, starting_material_identity=starting_material,
                                   user=session.get_one(User, line.operator_id)).id


def _execute_step(engine: Engine, line: Line, batch_id: int, position: int, corrections: int = 0) -> None:
    """Do one step in one transaction: equipment, material, entries (and corrections), performer and verifier."""
    with Session(engine) as session, session.begin():
        operator = session.get_one(User, line.operator_id)
        verifier = session.get_one(User, line.verifier_id)
        audit_context.act_as(session, audit_context.Actor(operator.id, operator.full_name))
        batch = session.get_one(Batch, batch_id)
        step = batch.steps[position - 1]
        for equipment_type in step.equipment_types:
            execution.record_equipment_use(session, step,
                                           session.get_one(Equipment, line.equipment_ids[equipment_type]),
                                           user=operator, due_soon_days=DUE_SOON_DAYS)
        for requirement in step.materials:
            execution.record_material_use(session, step, requirement, session.get_one(MaterialLot, line.lot_id),
                                          requirement.quantity, user=operator)
        entries: list[BatchEntry] = []
        for index, parameter in enumerate(step.parameters):
            value = _PARAMETER_KINDS[index % len(_PARAMETER_KINDS)][3]
            entries.append(execution.record_entry(session, parameter, value, user=operator))
        for number in range(corrections):
            index = number % len(entries)
            corrected = _PARAMETER_KINDS[index % len(_PARAMETER_KINDS)][4]
            entries[index] = execution.correct_entry(session, entries[index], corrected, user=operator,
                                                     reason="Transcription error: value re-read from the display")
        signatures.sign(session, step, meaning=SignatureMeaning.PERFORMED, user=operator, password=PASSWORD)
        audit_context.act_as(session, audit_context.Actor(verifier.id, verifier.full_name))
        signatures.sign(session, step, meaning=SignatureMeaning.VERIFIED, user=verifier, password=PASSWORD)
        if step.status != StepStatus.COMPLETED:
            raise RuntimeError(f"step {position} of batch {batch_id} is {step.status.value} after its signatures")


def _audited_update(engine: Engine, material_id: int, revision: str) -> float:
    """Rename a material with a reason in a transaction of its own; return the seconds it took."""
    started = time.perf_counter()
    with Session(engine) as session, session.begin():
        material = session.get_one(Material, material_id)
        with audit_context.reason_for_change(session, REASON_FOR_CHANGE):
            material.name = f"TexMACS GMP medium ({revision})"
    return time.perf_counter() - started


# batch-execution


def run_execution(steps: int) -> None:
    with _bench_database() as engine:
        line = _build_line(engine)
        version_id = _build_master(engine, line, code="CART-001", steps=steps, parameters=EXECUTION_PARAMETERS)

        warm_up = _start_batch(engine, line, version_id, "W1234 26 000000 W")
        for position in range(1, min(WARM_UP_STEPS, steps) + 1):
            _execute_step(engine, line, warm_up, position)
        for number in range(WARM_UP_UPDATES):
            _audited_update(engine, line.material_id, f"warm-up {number}")

        batch_id = _start_batch(engine, line, version_id, "W1234 26 123456 A")
        events_before = _event_count(engine)
        step_seconds: list[float] = []
        step_statements: list[int] = []
        update_seconds: list[float] = []
        with _statements_counted(engine) as statements:
            # Alternating the two keeps both equally exposed to the machine's load and the database's growth.
            for position in range(1, steps + 1):
                before = statements[0]
                started = time.perf_counter()
                _execute_step(engine, line, batch_id, position)
                step_seconds.append(time.perf_counter() - started)
                step_statements.append(statements[0] - before)
                for number in range(UPDATES_PER_STEP):
                    update_seconds.append(_audited_update(engine, line.material_id, f"{position}.{number}"))
        step_events = _event_count(engine) - events_before - len(update_seconds)

        with Session(engine) as session:
            batch = session.get_one(Batch, batch_id)
            status = batch.status.value
            entries = sum(len(parameter.entries) for step in batch.steps for parameter in step.parameters)
            uses = execution.uses_of_steps(session, batch.steps).values()
            equipment_uses = sum(len(used.equipment) for used in uses)
            consumptions = sum(len(used.consumptions) for used in uses)
    if status != "awaiting review":
        raise RuntimeError(f"the executed batch is {status}, not awaiting review")

    total = sum(step_seconds)
    per_step = total / steps
    per_update = sum(update_seconds) / len(update_seconds)
    window = _comparable_window(steps)
    first, last = (sum(part) / len(part) * 1000 for part in (step_seconds[:window], step_seconds[-window:]))
    first_statements, last_statements = (sum(part) / len(part)
                                         for part in (step_statements[:window], step_statements[-window:]))
    print(f"batch-execution: password hashing for the run: {CHEAP_ARGON2}")
    print(f"batch-execution: {steps} steps, {entries} entries, {equipment_uses} equipment uses, {consumptions} lot "
          f"consumptions, {2 * steps} signatures (performer and verifier), one transaction a step")
    print(f"batch-execution: total {total:8.2f} s, per step {per_step * 1000:7.1f} ms "
          f"({sum(step_statements) / steps:.1f} SQL statements, {step_events / steps:.1f} audit events a step)")
    print(f"batch-execution: per step, first {window} steps {first:7.1f} ms {first_statements:5.1f} statements, "
          f"last {window} steps {last:7.1f} ms {last_statements:5.1f} statements "
          "(for information: a later step should cost no more)")
    print(f"batch-execution: audited update {per_update * 1000:7.2f} ms (a material renamed with a reason, one "
          f"transaction each; {len(update_seconds):,} updates interleaved with the steps)")
    print(f"batch-execution: ratio per-step/audited-update time {per_step / per_update:.1f}× (no target set)")


def _comparable_window(steps: int) -> int:
    """How many steps to average at each end of the batch so both ends hold the same mix of step designs.

    Equipment comes every third step and material every fourth, so the design repeats every 12 steps.
    """
    if steps >= 24:
        return DESIGN_PERIOD * max(1, steps // (4 * DESIGN_PERIOD))
    return max(1, steps // 4)


# batch-review


@dataclass(frozen=True)
class ReviewedBatch:
    batch_id: int
    steps: int
    entries: int
    corrections: int


def _build_reviewed_batch(engine: Engine, line: Line, *, code: str, steps: int, starting_material: str) -> ReviewedBatch:
    """A batch of ``steps`` steps with 1,000 entries per 60 steps, done, tested and awaiting QA's review."""
    entries = round(steps * REVIEW_ENTRIES_PER_60_STEPS / 60)
    corrections = max(0, entries - steps * REVIEW_PARAMETERS)
    version_id = _build_master(engine, line, code=code, steps=steps, parameters=REVIEW_PARAMETERS)
    batch_id = _start_batch(engine, line, version_id, starting_material)
    # The corrections spread evenly over the steps, the first steps taking the remainder.
    for position in range(1, steps + 1):
        share = corrections // steps + (1 if position <= corrections % steps else 0)
        _execute_step(engine, line, batch_id, position, corrections=share)
        print(f"\rbatch-review: executing {code}, step {position}/{steps}", end="", file=sys.stderr)
    print(file=sys.stderr)
    with Session(engine) as session, session.begin():
        batch = session.get_one(Batch, batch_id)
        result = release.record_release_result(session, batch.release_tests[0], "91.5",
                                               user=session.get_one(User, line.operator_id))
        signatures.sign(session, result, meaning=SignatureMeaning.VERIFIED,
                        user=session.get_one(User, line.verifier_id), password=PASSWORD)
        recorded = sum(len(parameter.entries) for step in batch.steps for parameter in step.parameters)
        status = batch.status.value
    if recorded != entries or status != "awaiting review":
        raise RuntimeError(f"the {code} batch holds {recorded} entries, not {entries}, and is {status}")
    return ReviewedBatch(batch_id, steps, entries, corrections)


@dataclass(frozen=True)
class Rendering:
    milliseconds: float
    statements: int
    size: int


def _sign_in(client: FlaskClient, username: str) -> None:
    page = client.get("/login").get_data(as_text=True)
    match = CSRF_TOKEN.search(page)
    if match is None:
        raise RuntimeError("the login page carries no CSRF token")
    response = client.post("/login", data={"csrf_token": match.group(1), "username": username, "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {username} answered {response.status_code}, not 302")


def _measure_pair(engine: Engine, large: Callable[[], int], small: Callable[[], int]) -> tuple[Rendering, Rendering]:
    """Median times of two renderings, alternated after a warm-up, and the statements one call of each sends.

    Each rendering returns the size of what it produced.
    """
    renderings = (large, small)
    for _ in range(WARM_UP_REQUESTS):
        for render in renderings:
            render()
    counted = []
    for render in renderings:
        with _statements_counted(engine) as statements:
            size = render()
        counted.append((statements[0], size))
    latencies: tuple[list[float], list[float]] = ([], [])
    # Alternating the two keeps both equally exposed to the machine's load.
    for _ in range(TIMED_REQUESTS):
        for render, times in zip(renderings, latencies, strict=True):
            started = time.perf_counter()
            render()
            times.append(time.perf_counter() - started)
    first, second = (Rendering(statistics.median(times) * 1000, statements, size)
                     for times, (statements, size) in zip(latencies, counted, strict=True))
    return first, second


def _page(client: FlaskClient, batch_id: int) -> Callable[[], int]:
    def render() -> int:
        response = client.get(f"/batches/{batch_id}/review")
        if response.status_code != 200:
            raise RuntimeError(f"the review page of batch {batch_id} answered {response.status_code}, not 200")
        return len(response.get_data())

    return render


def _service_review(engine: Engine, batch_id: int) -> Callable[[], int]:
    def review() -> int:
        with Session(engine) as session:
            outcome = release.review(session, batch_id)
            return sum(len(parameter.entries) for record in outcome.steps for parameter in record.step.parameters)

    return review


def run_review(steps: int) -> None:
    small_steps = min(SMALL_BATCH_STEPS, steps)
    with _bench_database() as engine, tempfile.TemporaryDirectory() as tmp:
        line = _build_line(engine)
        large = _build_reviewed_batch(engine, line, code="CART-L", steps=steps, starting_material="W1234 26 000001 L")
        small = _build_reviewed_batch(engine, line, code="CART-S", steps=small_steps,
                                      starting_material="W1234 26 000002 S")
        with Session(engine) as session:
            qa_username = session.get_one(User, line.qa_id).username

        service_large, service_small = _measure_pair(engine, _service_review(engine, large.batch_id),
                                                     _service_review(engine, small.batch_id))

        app = create_app({"DATABASE_URL": engine.url.render_as_string(hide_password=False),
                          "INSTANCE_PATH": f"{tmp}/instance", "SECRET_KEY": "bench"})
        try:
            client = app.test_client()
            _sign_in(client, qa_username)
            app_engine = app.extensions["lims.db"].engine
            page_large, page_small = _measure_pair(app_engine, _page(client, large.batch_id),
                                                   _page(client, small.batch_id))
        finally:
            # Release the SQLite file before the temporary directory goes.
            app.extensions["lims.db"].engine.dispose()

    print(f"batch-review: password hashing for the run: {CHEAP_ARGON2}")
    for label, batch in (("large", large), ("small", small)):
        print(f"batch-review: {label} batch {batch.steps} steps, {batch.entries:,} entries "
              f"({batch.entries - batch.corrections:,} values, {batch.corrections:,} corrections), "
              "every step performed and verified, its release test verified")
    for label, rendering in (("large", page_large), ("small", page_small)):
        print(f"batch-review: page /batches/<id>/review {label} {rendering.milliseconds:8.1f} ms "
              f"{rendering.statements:4d} SQL statements ({rendering.size:,} bytes; signed in as QA, median of "
              f"{TIMED_REQUESTS})")
    for label, rendering in (("large", service_large), ("small", service_small)):
        print(f"batch-review: release.review() {label} {rendering.milliseconds:8.1f} ms "
              f"{rendering.statements:4d} SQL statements ({rendering.size:,} entries loaded, median of "
              f"{TIMED_REQUESTS})")
    _print_ratio("batch-review", f"page SQL statements large/small ({page_large.statements} and "
                 f"{page_small.statements})", page_large.statements / page_small.statements, STATEMENTS_TARGET)
    print(f"batch-review: ratio page render time large/small "
          f"{page_large.milliseconds / page_small.milliseconds:.2f}× for "
          f"{large.entries / small.entries:.1f}× the entries (for information: the page shows every entry)")
