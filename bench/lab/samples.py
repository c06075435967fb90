"""The lab's client samples: submissions of client organizations over the lab's history, their samples in a
realistic mix of statuses, types and clients, and the lab's stability limits, written in bulk as the other tables.

Old manifests have their results released (a few samples rejected at receipt, a few manifests cancelled); those
of the last month are in testing; those of the last days are submitted, partly received or received, and some
samples received days ago still wait for processing past their stability deadline. A few clients send most of the
samples. Samples and submissions get no creation events in the audit trail (a million of them would be most of
its size); the stability limits, the lab's own settings, do.
"""

from __future__ import annotations

import base64
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection

from bench.lab.clone import Ids
from bench.lab.tables import Row, read_rows, table
from bench.lab.trail import Trail
from lims import clock
from lims.samples.models import ARRIVED, SampleStatus, SubmissionStatus

#: (sample type, quantity, unit, container, storage as written, its bounds in °C, the lab's limit in hours)
SAMPLE_TYPES = (
    ("peripheral blood", "10", "mL", "K2EDTA tube", "15–25 °C", ("15", "25"), 24),
    ("plasma", "1.5", "mL", "cryovial", "-80 °C", ("-80", "-80"), 4),
    ("serum", "2", "mL", "SST tube", "-20 °C", ("-20", "-20"), 8),
    ("PBMC", "5000000", "cells", "cryovial", "≤ -150 °C", (None, "-150"), 48),
    ("leukapheresis", "150", "mL", "apheresis bag", "2–8 °C", ("2", "8"), 36),
    ("bone marrow aspirate", "5", "mL", "heparin tube", "15–25 °C", ("15", "25"), 24),
)
#: how often each type is sent, in the order above
TYPE_WEIGHTS = (40, 25, 15, 12, 3, 5)
#: the client organizations at scale 1 (the demo's among them); a few send most samples
CLIENTS = 20
#: samples on a manifest, on average
SAMPLES_PER_SUBMISSION = 20
#: of manifests older than a month: cancelled before they arrived; of arrived samples: rejected at receipt
CANCELLED_SHARE = 0.01
REJECTED_SHARE = 0.03
#: of the manifests of the last week but two days, those whose samples still wait for processing (past their window)
WAITING_SHARE = 0.1
HISTORY_DAYS = 5 * 365
#: the days of the newest manifests (at least 20, or one in a hundred)
RECENT_DAYS = 7


def _public_id(generator: random.Random) -> str:
    return base64.urlsafe_b64encode(generator.randbytes(12)).decode()


class SampleMaker:
    """Makes ``count`` samples on submissions, oldest first, handing rows to ``add`` as it goes."""

    def __init__(
        self,
        connection: Connection,
        ids: Ids,
        generator: random.Random,
        trail: Trail,
        add: Callable[[dict[str, list[Row]]], None],
        *,
        manager_id: int,
        technician_id: int,
    ) -> None:
        self.connection, self.ids, self.random, self.trail, self.add = connection, ids, generator, trail, add
        self.manager_id, self.technician_id = manager_id, technician_id
        self.now = clock.now()
        self._accessions: dict[int, int] = {
            row.year: row.last_number for row in connection.execute(select(table("accession_counter")))
        }

    def make(self, count: int, clients: int, tick: Callable[[int], None]) -> None:
        if count <= 0:
            return
        self._limits()
        organizations = self._clients(clients)
        # A client's share of the samples falls with its rank (1, 1/2, 1/3 …): a few big sponsors, many small ones.
        weights = [1 / rank for rank in range(1, len(organizations) + 1)]
        sample_shape = read_rows(self.connection, table("sample"))[0]
        submission_shape = read_rows(self.connection, table("submission"))[0]
        submissions = max(1, count // SAMPLES_PER_SUBMISSION)
        sizes = [count // submissions + (1 if n < count % submissions else 0) for n in range(submissions)]
        first_submission = self.ids.take("submission", submissions)
        first_sample = self.ids.take("sample", count)
        made = 0
        numbers: dict[int, int] = {}
        # The newest manifests fall in the last week at any scale, so that an almost empty lab has open work too.
        recent = min(submissions, max(20, submissions // 100))
        older = submissions - recent
        for number, size in enumerate(sizes):
            if number >= older:
                minutes_ago = (submissions - number) * RECENT_DAYS * 24 * 60 // recent
            else:
                minutes_ago = round((RECENT_DAYS + (older - number) * (HISTORY_DAYS - RECENT_DAYS) / older) * 24 * 60)
            submitted_at = self.now - timedelta(minutes=minutes_ago + self.random.randint(0, 59))
            organization_id, code = self.random.choices(organizations, weights)[0]
            submission, samples = self._submission(
                {**submission_shape, "id": first_submission + number},
                sample_shape,
                first_sample + made,
                size,
                submitted_at,
                organization_id,
                code,
                numbers,
            )
            self.add({"submission": [submission], "sample": samples})
            made += size
            tick(made)
        self._count_accessions()

    def _submission(
        self,
        shape: Row,
        sample_shape: Row,
        first_id: int,
        size: int,
        submitted_at: datetime,
        organization_id: int,
        code: str,
        numbers: dict[int, int],
    ) -> tuple[Row, list[Row]]:
        age = self.now - submitted_at
        status, sample_statuses = self._statuses(age, size)
        cancelled = status == SubmissionStatus.CANCELLED
        arrives = submitted_at + timedelta(hours=self.random.randint(4, 30))
        submission = {
            **shape,
            "public_id": _public_id(self.random),
            "organization_id": organization_id,
            "reference": f"Shipment {submitted_at:%Y-%m-%d} {code}",
            "status": status,
            "created_at": submitted_at - timedelta(hours=2),
            "created_by_id": None,
            "submitted_at": submitted_at,
            "received_at": arrives if any(s in ARRIVED for s in sample_statuses) else None,
            "cancelled_at": submitted_at + timedelta(hours=1) if cancelled else None,
            "cancellation_reason": "Shipment not sent: courier strike" if cancelled else None,
        }
        collected_at = submitted_at - timedelta(hours=self.random.randint(1, 6))
        samples = []
        for line, sample_status in enumerate(sample_statuses, start=1):
            kind = self.random.choices(SAMPLE_TYPES, TYPE_WEIGHTS)[0]
            sample_type, quantity, unit, container, storage, (low, high), hours = kind
            sample_id = first_id + line - 1
            arrived = sample_status in ARRIVED
            received_at = arrives + timedelta(minutes=3 * line) if arrived else None
            row = {
                **sample_shape,
                "id": sample_id,
                "public_id": _public_id(self.random),
                "submission_id": shape["id"],
                "organization_id": organization_id,
                "line": line,
                "client_sample_id": f"{code}-{sample_id:08d}",
                "sample_type": sample_type,
                "protocol_id": None,
                "subject_id": None,
                "visit_id": None,
                "collected_at": collected_at,
                "quantity_value": Decimal(quantity),
                "quantity_unit": unit,
                "container": container,
                "storage_requirement": storage,
                "storage_minimum_value": None if low is None else Decimal(low),
                "storage_minimum_unit": None if low is None else "degC",
                "storage_maximum_value": Decimal(high),
                "storage_maximum_unit": "degC",
                "requested_tests": sample_shape["requested_tests"],
                "status": sample_status,
                "on_manifest": True,
                "accession_number": self._accession(received_at, numbers) if received_at else None,
                "received_at": received_at,
                "received_by_id": self.technician_id if arrived else None,
                "arrival_temperature_value": Decimal(high if low is None else low) if arrived else None,
                "arrival_temperature_unit": "degC" if arrived else None,
                "container_intact": (sample_status != SampleStatus.REJECTED) if arrived else None,
                "received_volume_value": None,
                "received_volume_unit": None,
                "rejection_reason": "Container cracked on arrival" if sample_status == SampleStatus.REJECTED else None,
                "receipt_note": None,
                "stability_deadline": collected_at + timedelta(hours=hours) if arrived else None,
            }
            samples.append(row)
        return submission, samples

    def _statuses(self, age: timedelta, size: int) -> tuple[SubmissionStatus, list[SampleStatus]]:
        """A manifest's status and its samples' by its age."""
        draw = self.random.random()

        def arrived(then: SampleStatus) -> list[SampleStatus]:
            return [SampleStatus.REJECTED if self.random.random() < REJECTED_SHARE else then for _ in range(size)]

        if age > timedelta(days=30):
            if draw < CANCELLED_SHARE:
                return SubmissionStatus.CANCELLED, [SampleStatus.CANCELLED] * size
            return SubmissionStatus.RESULTS_RELEASED, arrived(SampleStatus.RESULTS_RELEASED)
        if age > timedelta(days=2):
            if age < timedelta(days=7) and draw < WAITING_SHARE:
                return SubmissionStatus.RECEIVED, arrived(SampleStatus.RECEIVED)
            return SubmissionStatus.IN_TESTING, arrived(SampleStatus.IN_TESTING)
        if draw < 0.3:
            return SubmissionStatus.SUBMITTED, [SampleStatus.EXPECTED] * size
        if draw < 0.5:
            half = size // 2
            received = arrived(SampleStatus.RECEIVED)[:half]
            return SubmissionStatus.PARTLY_RECEIVED, received + [SampleStatus.EXPECTED] * (size - half)
        return SubmissionStatus.RECEIVED, arrived(SampleStatus.RECEIVED)

    def _accession(self, received_at: datetime, numbers: dict[int, int]) -> str:
        year = clock.facility_date(received_at).year
        numbers[year] = numbers.get(year, self._accessions.get(year, 0)) + 1
        self._accessions[year] = numbers[year]
        return f"S{year}-{numbers[year]:06d}"

    def _count_accessions(self) -> None:
        """The counters go on after the numbers given here, so the next receipt draws a free one."""
        counters = table("accession_counter")
        existing = {row.year for row in self.connection.execute(select(counters.c.year))}
        for year, last in self._accessions.items():
            if year in existing:
                self.connection.execute(counters.update().where(counters.c.year == year).values(last_number=last))
            else:
                self.connection.execute(counters.insert().values(year=year, last_number=last))

    def _clients(self, wanted: int) -> list[tuple[int, str]]:
        organizations = table("organization")
        existing = [
            (row.id, row.code)
            for row in self.connection.execute(
                select(organizations.c.id, organizations.c.code)
                .where(organizations.c.kind == "client")
                .order_by(organizations.c.id)
            )
        ]
        shape = read_rows(self.connection, organizations, organizations.c.kind == "client")[0]
        made: list[Row] = []
        first = self.ids.take("organization", max(0, wanted - len(existing)))
        for number in range(max(0, wanted - len(existing))):
            row = {
                **shape,
                "id": first + number,
                "code": f"CLI{number + 1:03d}",
                "name": f"Client start-up {number + 1:03d}",
            }
            made.append(row)
            self.trail.created("organization", row, at=self.now - timedelta(days=HISTORY_DAYS), user_id=None)
        if made:
            self.add({"organization": made})
        return existing + [(row["id"], row["code"]) for row in made]

    def _limits(self) -> None:
        limits = table("sample_type_stability")
        taken = set(self.connection.execute(select(limits.c.type_key)).scalars())
        rows: list[Row] = []
        wanted = [kind for kind in SAMPLE_TYPES if kind[0].lower() not in taken]
        first = self.ids.take("sample_type_stability", len(wanted))
        for number, (sample_type, *_rest, hours) in enumerate(wanted):
            row: dict[str, Any] = {
                "id": first + number,
                "sample_type": sample_type,
                "type_key": sample_type.lower(),
                "max_hours": hours,
                "updated_at": datetime.combine(
                    clock.today() - timedelta(days=HISTORY_DAYS), datetime.min.time(), tzinfo=UTC
                ),
                "updated_by_id": self.manager_id,
            }
            rows.append(row)
            self.trail.created("sample_type_stability", row, at=row["updated_at"], user_id=self.manager_id)
        if rows:
            self.add({"sample_type_stability": rows})
