"""Importing a client's manifest through the samples service vs a raw SQLAlchemy Core insert of the same rows.

The import is what an upload or ``POST /api/v1/submissions`` does: every row's cells checked (the schema's
fields, quantities and storage temperatures read through ``lims.units``, the requested tests looked up, client
sample ids checked unique for the organization), then each sample inserted with its audit event (auditing on,
one event a sample). The baseline inserts the very rows the import stored (every column, under a second
submission) with one ``insert(sample).values`` executemany on the same database, in the same run.
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.orm import Session

from bench.audit import Target, _migrated_database, _print_ratio
from lims import clock
from lims.audit.models import AuditEvent
from lims.identity.models import Organization, OrganizationKind
from lims.identity.service.organizations import create_organization
from lims.samples.models import Sample
from lims.samples.service import events
from lims.samples.service import submissions as service
from lims.testing import service as testing
from lims.testing.models import ResultKind

IMPORT_TARGET = Target("≤", 3.0)
RATE_TARGET = 1_000
_TYPES = (
    ("peripheral blood", "10 mL", "K2EDTA tube", "15–25 °C"),
    ("plasma", "1.5 mL", "cryovial", "-80 °C"),
    ("serum", "2 mL", "SST tube", "-20 °C"),
    ("PBMC", "5e6 cells", "cryovial", "≤ -150 °C"),
)


def manifest_rows(count: int, prefix: str = "BENCH", *, own_times: bool = False) -> list[dict[str, str]]:
    """A client's manifest of ``count`` rows as an upload's cells: text, as typed; with ``own_times``, each sample
    collected a minute before the one above it, so that no row repeats another but for its id."""
    yesterday = clock.now() - timedelta(days=1)
    rows = []
    for number in range(count):
        sample_type, quantity, container, storage = _TYPES[number % len(_TYPES)]
        collected = yesterday - timedelta(minutes=number if own_times else 0)
        rows.append(
            {
                "client_sample_id": f"{prefix}-{number:06d}",
                "sample_type": sample_type,
                "collected_at": collected.strftime("%Y-%m-%d %H:%M"),
                "quantity": quantity,
                "container": container,
                "storage_requirement": storage,
                "requested_tests": "VIAB, STER" if number % 2 else "VIAB",
            }
        )
    return rows


def run_import(count: int) -> None:
    with _migrated_database() as engine:
        organization_id = _client_with_tests(engine)
        _import(engine, organization_id, manifest_rows(min(count, 50), "WARM"), "warm-up")
        rows = manifest_rows(count)
        import_seconds, submission_id, events_written = _import(engine, organization_id, rows, "bench")
        raw_seconds = _raw_insert(engine, submission_id)
        own_times = manifest_rows(count, "OWN", own_times=True)
        own_import_seconds, own_submission_id, own_events_written = _import(
            engine, organization_id, own_times, "own times"
        )
        own_raw_seconds = _raw_insert(engine, own_submission_id)
    _print_import("runs of samples repeating every cell but the id", count, import_seconds, raw_seconds, events_written)
    _print_import(
        "every sample its own collection time", count, own_import_seconds, own_raw_seconds, own_events_written
    )


def _print_import(manifest: str, count: int, import_seconds: float, raw_seconds: float, events_written: int) -> None:
    print(f"manifest-import: a manifest of {manifest}")
    rate = count / import_seconds
    print(
        f"manifest-import: service {rate:10,.0f} rows/s ({count:,} rows checked and inserted in one transaction, "
        f"{events_written:,} audit events written) {'PASS' if rate >= RATE_TARGET else 'MISS'} "
        f"(target ≥ {RATE_TARGET:,} rows/s)"
    )
    print(f"manifest-import: raw Core {count / raw_seconds:10,.0f} rows/s (the same rows, one executemany, no checks)")
    _print_ratio("manifest-import", "service/raw insert time", import_seconds / raw_seconds, IMPORT_TARGET)


def _client_with_tests(engine: Engine) -> int:
    with Session(engine) as session, session.begin():
        client = create_organization(session, code="BENCH", name="Bench Bio", kind=OrganizationKind.CLIENT)
        for code in ("VIAB", "STER"):
            testing.create_definition(
                session,
                code=code,
                name=code.title(),
                method="method",
                result_kind=ResultKind.QUALITATIVE,
                unit="",
                specification="conforms",
            )
        return client.id


def _import(engine: Engine, organization_id: int, rows: list[dict[str, Any]], label: str) -> tuple[float, int, int]:
    with Session(engine) as session:
        events_before = _audit_events(session)
        session.rollback()
        started = time.perf_counter()
        with session.begin():
            organization = session.get_one(Organization, organization_id)
            submission = service.create_draft(session, organization, reference=f"Manifest {label}", user=None)
            service.add_rows(session, submission, rows)
            submission_id = submission.id
        seconds = time.perf_counter() - started
        written = _audit_events(session) - events_before
        session.rollback()
    if written < len(rows):
        raise RuntimeError(f"{len(rows)} imported samples wrote {written} audit events")
    return seconds, submission_id, written


def _audit_events(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def _raw_insert(engine: Engine, submission_id: int) -> float:
    table = Sample.__table__
    with engine.connect() as connection:
        stored = [
            dict(row._mapping)
            for row in connection.execute(select(table).where(table.c.submission_id == submission_id))
        ]
        connection.rollback()
    with Session(engine) as session, session.begin():
        organization = session.get_one(Organization, stored[0]["organization_id"])
        copy_id = service.create_draft(session, organization, reference="Raw copy", user=None).id
    for row in stored:
        del row["id"]
        row["submission_id"] = copy_id
        row["public_id"] = events.new_public_id()
        row["client_sample_id"] = "R" + row["client_sample_id"]
    with engine.connect() as connection:
        started = time.perf_counter()
        with connection.begin():
            connection.execute(insert(table), stored)
        return time.perf_counter() - started
