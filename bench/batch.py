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
from typing import Any

from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from batch_records import cart_designs, cart_line
from batch_records.models import Batch, BatchEntry, StepStatus
from batch_records.service import batches, execution, masters, release, step_uses
from bench.audit import Target, _event_count, _migrated_database, _print_ratio
from lims import clock
from lims.app import create_app
from lims.audit import context as audit_context
from lims.equipment.models import Equipment, EquipmentType
from lims.identity.models import OrganizationKind, RoleName, User
from lims.identity.service import organizations, passwords, users
from lims.materials.models import Material, MaterialLot
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from protocols.service import subjects as subjects_service

PASSWORD = "bench-signing-secret-2291"
CHEAP_ARGON2 = "argon2id time_cost=1, memory_cost=1024 KiB, parallelism=1 (as tests/conftest.py)"
DUE_SOON_DAYS = 14
REASON_FOR_CHANGE = "Supplier renamed the product (change request CR-2291)"

#: every step has this many parameters in batch-execution; the first has a limit
EXECUTION_PARAMETERS = 3
#: plain audited updates timed after each step
UPDATES_PER_STEP = 3
#: steps with equipment (every third) and material (every fourth) repeat every 12 steps in a uniform design
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

#: what the operator enters for a uniform design's parameters, by unit: the value, and the corrected value
_ENTRIES = {
    "mL": ("180", "185"),
    "°C": ("4.5 °C", "4.7 °C"),
    "cells/mL": ("2.4 ×10^6 cells/mL", "2.5 ×10^6 cells/mL"),
}


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


# The CAR-T line: a facility and its people, equipment, a released lot, subjects of an effective protocol


@dataclass(frozen=True)
class Line:
    author_id: int
    qa_id: int
    operator_id: int
    verifier_id: int
    equipment_ids: dict[EquipmentType, int]
    material_id: int
    lot_id: int
    subject_id: int
    #: the effective master record version of each design, by code
    version_ids: dict[str, int]


def _build_line(engine: Engine, *designs: cart_designs.MasterDesign) -> Line:
    """The CAR-T line with an effective master record of each design, made through the services with auditing on."""
    with Session(engine) as session, session.begin():
        facility = organizations.create_organization(
            session, code="NBCT", name="Northbridge Cell Therapy Facility", kind=OrganizationKind.FACILITY
        )

        def user(username: str, full_name: str, role: RoleName) -> User:
            return users.create_user(
                session,
                username=username,
                full_name=full_name,
                email=f"{username}@example.org",
                organization=facility,
                roles={role},
                password=PASSWORD,
                must_change_password=False,
                actor=None,
                reason="Benchmark user",
            )

        crew = cart_line.Crew(
            author=user("mlarsen", "Maja Larsen", RoleName.MANAGER),
            qa=user("qokafor", "Quinn Okafor", RoleName.QA),
            operators=(
                user("tnguyen", "Tran Nguyen", RoleName.TECHNICIAN),
                user("slind", "Sara Lind", RoleName.TECHNICIAN),
            ),
            password=PASSWORD,
        )
        sponsor = organizations.create_organization(
            session, code="HELIX", name="Helix Cell Therapeutics", kind=OrganizationKind.CLIENT
        )
        first, *others = designs
        line = cart_line.build_line(session, crew, sponsor=sponsor, design=first, medium_quantity="100 L")
        versions = [
            line.version,
            *(
                cart_line.build_master(
                    session,
                    crew,
                    design,
                    materials={line.medium.part_number: line.medium},
                    definitions=line.definitions,
                )
                for design in others
            ),
        ]
        operator, verifier = crew.operators
        return Line(
            author_id=crew.author.id,
            qa_id=crew.qa.id,
            operator_id=operator.id,
            verifier_id=verifier.id,
            equipment_ids={kind: item.id for kind, item in line.equipment.items()},
            material_id=line.medium.id,
            lot_id=line.medium_lot.id,
            subject_id=line.subjects[0].id,
            version_ids={version.master.code: version.id for version in versions},
        )


def _start_batch(engine: Engine, line: Line, version_id: int, starting_material: str) -> int:
    with Session(engine) as session, session.begin():
        version = masters.get_mbr_version(session, version_id)
        subject = subjects_service.get_subject(session, line.subject_id)
        return batches.start_batch(
            session,
            version,
            subject=subject,
            starting_material_identity=starting_material,
            user=session.get_one(User, line.operator_id),
        ).id


def _execute_step(engine: Engine, line: Line, batch_id: int, position: int, corrections: int = 0) -> None:
    """Do one step in one transaction: equipment, material, entries (and corrections), performer and verifier."""
    with Session(engine) as session, session.begin():
        operator = session.get_one(User, line.operator_id)
        verifier = session.get_one(User, line.verifier_id)
        audit_context.act_as(session, audit_context.Actor(operator.id, operator.full_name))
        batch = session.get_one(Batch, batch_id)
        step = batch.steps[position - 1]
        for equipment_type in step.equipment_types:
            execution.record_equipment_use(
                session,
                step,
                session.get_one(Equipment, line.equipment_ids[equipment_type]),
                user=operator,
                due_soon_days=DUE_SOON_DAYS,
            )
        for requirement in step.materials:
            execution.record_material_use(
                session,
                step,
                requirement,
                session.get_one(MaterialLot, line.lot_id),
                requirement.quantity,
                user=operator,
            )
        entries: list[BatchEntry] = []
        for parameter in step.parameters:
            value, _corrected = _ENTRIES[parameter.unit]
            entries.append(execution.record_entry(session, parameter, value, user=operator))
        for number in range(corrections):
            index = number % len(entries)
            _value, corrected = _ENTRIES[step.parameters[index].unit]
            entries[index] = execution.correct_entry(
                session,
                entries[index],
                corrected,
                user=operator,
                reason="Transcription error: value re-read from the display",
            )
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
        line = _build_line(
            engine, cart_designs.uniform_design("CART-001", steps=steps, parameters=EXECUTION_PARAMETERS)
        )
        version_id = line.version_ids["CART-001"]

        warm_up = _start_batch(engine, line, version_id, "W1234 26 000000 P")
        for position in range(1, min(WARM_UP_STEPS, steps) + 1):
            _execute_step(engine, line, warm_up, position)
        for number in range(WARM_UP_UPDATES):
            _audited_update(engine, line.material_id, f"warm-up {number}")

        batch_id = _start_batch(engine, line, version_id, "W1234 26 123456 7")
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
            uses = step_uses.uses_of_steps(session, batch.steps).values()
            equipment_uses = sum(len(used.equipment) for used in uses)
            consumptions = sum(len(used.consumptions) for used in uses)
    if status != "awaiting review":
        raise RuntimeError(f"the executed batch is {status}, not awaiting review")

    total = sum(step_seconds)
    per_step = total / steps
    per_update = sum(update_seconds) / len(update_seconds)
    window = _comparable_window(steps)
    first, last = (sum(part) / len(part) * 1000 for part in (step_seconds[:window], step_seconds[-window:]))
    first_statements, last_statements = (
        sum(part) / len(part) for part in (step_statements[:window], step_statements[-window:])
    )
    print(f"batch-execution: password hashing for the run: {CHEAP_ARGON2}")
    print(
        f"batch-execution: {steps} steps, {entries} entries, {equipment_uses} equipment uses, {consumptions} lot "
        f"consumptions, {2 * steps} signatures (performer and verifier), one transaction a step"
    )
    print(
        f"batch-execution: total {total:8.2f} s, per step {per_step * 1000:7.1f} ms "
        f"({sum(step_statements) / steps:.1f} SQL statements, {step_events / steps:.1f} audit events a step)"
    )
    print(
        f"batch-execution: per step, first {window} steps {first:7.1f} ms {first_statements:5.1f} statements, "
        f"last {window} steps {last:7.1f} ms {last_statements:5.1f} statements "
        "(for information: a later step should cost no more)"
    )
    print(
        f"batch-execution: audited update {per_update * 1000:7.2f} ms (a material renamed with a reason, one "
        f"transaction each; {len(update_seconds):,} updates interleaved with the steps)"
    )
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


def _review_design(code: str, steps: int) -> cart_designs.MasterDesign:
    return cart_designs.uniform_design(code, steps=steps, parameters=REVIEW_PARAMETERS)


def _build_reviewed_batch(
    engine: Engine, line: Line, *, code: str, steps: int, starting_material: str
) -> ReviewedBatch:
    """A batch of ``steps`` steps to the master record ``code``, with 1,000 entries per 60 steps, done, tested and
    awaiting QA's review."""
    entries = round(steps * REVIEW_ENTRIES_PER_60_STEPS / 60)
    corrections = max(0, entries - steps * REVIEW_PARAMETERS)
    batch_id = _start_batch(engine, line, line.version_ids[code], starting_material)
    # The corrections spread evenly over the steps, the first steps taking the remainder.
    for position in range(1, steps + 1):
        share = corrections // steps + (1 if position <= corrections % steps else 0)
        _execute_step(engine, line, batch_id, position, corrections=share)
        print(f"\rbatch-review: executing {code}, step {position}/{steps}", end="", file=sys.stderr)
    print(file=sys.stderr)
    with Session(engine) as session, session.begin():
        batch = session.get_one(Batch, batch_id)
        result = release.record_release_result(
            session, batch.release_tests[0], "91.5", user=session.get_one(User, line.operator_id)
        )
        signatures.sign(
            session,
            result,
            meaning=SignatureMeaning.VERIFIED,
            user=session.get_one(User, line.verifier_id),
            password=PASSWORD,
        )
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
    first, second = (
        Rendering(statistics.median(times) * 1000, statements, size)
        for times, (statements, size) in zip(latencies, counted, strict=True)
    )
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
        line = _build_line(engine, _review_design("CART-L", steps), _review_design("CART-S", small_steps))
        large = _build_reviewed_batch(engine, line, code="CART-L", steps=steps, starting_material="W1234 26 000001 N")
        small = _build_reviewed_batch(
            engine, line, code="CART-S", steps=small_steps, starting_material="W1234 26 000002 L"
        )
        with Session(engine) as session:
            qa_username = session.get_one(User, line.qa_id).username

        service_large, service_small = _measure_pair(
            engine, _service_review(engine, large.batch_id), _service_review(engine, small.batch_id)
        )

        app = create_app(
            {
                "DATABASE_URL": engine.url.render_as_string(hide_password=False),
                "INSTANCE_PATH": f"{tmp}/instance",
                "SECRET_KEY": "bench",
            }
        )
        try:
            client = app.test_client()
            _sign_in(client, qa_username)
            app_engine = app.extensions["lims.db"].engine
            page_large, page_small = _measure_pair(
                app_engine, _page(client, large.batch_id), _page(client, small.batch_id)
            )
        finally:
            # Release the SQLite file before the temporary directory goes.
            app.extensions["lims.db"].engine.dispose()

    print(f"batch-review: password hashing for the run: {CHEAP_ARGON2}")
    for label, batch in (("large", large), ("small", small)):
        print(
            f"batch-review: {label} batch {batch.steps} steps, {batch.entries:,} entries "
            f"({batch.entries - batch.corrections:,} values, {batch.corrections:,} corrections), "
            "every step performed and verified, its release test verified"
        )
    for label, rendering in (("large", page_large), ("small", page_small)):
        print(
            f"batch-review: page /batches/<id>/review {label} {rendering.milliseconds:8.1f} ms "
            f"{rendering.statements:4d} SQL statements ({rendering.size:,} bytes; signed in as QA, median of "
            f"{TIMED_REQUESTS})"
        )
    for label, rendering in (("large", service_large), ("small", service_small)):
        print(
            f"batch-review: release.review() {label} {rendering.milliseconds:8.1f} ms "
            f"{rendering.statements:4d} SQL statements ({rendering.size:,} entries loaded, median of "
            f"{TIMED_REQUESTS})"
        )
    _print_ratio(
        "batch-review",
        f"page SQL statements large/small ({page_large.statements} and {page_small.statements})",
        page_large.statements / page_small.statements,
        STATEMENTS_TARGET,
    )
    print(
        f"batch-review: ratio page render time large/small "
        f"{page_large.milliseconds / page_small.milliseconds:.2f}× for "
        f"{large.entries / small.entries:.1f}× the entries (for information: the page shows every entry)"
    )
