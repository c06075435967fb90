"""Fill a database with a lab's worth of records: ``python -m bench generate --database-url URL [--scale 1.0]``.

At scale 1: 10,000 batches of the demo's CAR-T process (500 of them open: in progress at every step, and awaiting
QA's review, with their deviations), 100,000 pieces of equipment in the equipment-list benchmark's mix of statuses,
100,000 material lots, 200 protocols, 1,000,000 client samples on 50,000 submissions of 20 clients
(``bench.lab.samples``) and 1,000,000 audit events in one valid chain. ``--scale`` multiplies every
count (0.001 makes an almost empty lab of the same shape).

The schema is built by the migrations, then the demo data set is loaded through the services. Every batch, lot and
protocol is a copy of one the demo made (``bench.lab.clone``), moved back in time, with its signatures applied
anew to what the copy says, and their events in the audit trail; the equipment is generated as the
equipment-list benchmark generates its registry. Rows go in by COPY on PostgreSQL and by executemany on SQLite.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from datetime import time as day_time
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, inspect, select, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Session

from bench.batch import _cheap_password_hashing
from bench.equipment import STATUS_MIX, _maintenance_history, _realistic_equipment
from bench.lab.clone import Copy, Ids, SignedContent, Template, collect, copy
from bench.lab.samples import SampleMaker
from bench.lab.tables import Row, defer_foreign_keys, read_rows, reset_id_sequences, table, write_rows
from bench.lab.trail import Trail
from lims import clock, document_signing, registry, schema
from lims.areas import install
from lims.db import Base, create_engine_for
from lims.equipment.models import EquipmentStatus
from lims.identifiers import format_din
from lims.identity.demo_accounts import ACCOUNTS
from lims.identity.models import RoleName
from lims.identity.service import passwords
from lims.materials.models import LotStatus
from lims.signatures.models import SignatureMeaning

#: Fixed, so every run generates the same lab.
SEED = 2026
#: rows gathered before they are written
ROWS_PER_WRITE = 20_000
#: how far back the lab's history goes
HISTORY_DAYS = 5 * 365
#: of the closed batches, the share QA rejected; of the open ones, the share awaiting review (the rest in progress)
REJECTED_SHARE = 0.05
AWAITING_REVIEW_SHARE = 0.25
#: of the lots, the shares in quarantine and rejected (the rest released)
QUARANTINED_LOT_SHARE = 0.003
REJECTED_LOT_SHARE = 0.03


@dataclass(frozen=True)
class LabSize:
    batches: int
    open_batches: int
    equipment: int
    lots: int
    protocols: int
    audit_events: int
    samples: int
    clients: int

    @classmethod
    def at(cls, scale: float) -> LabSize:
        counts = {
            field.name: max(getattr(LEAST, field.name), round(getattr(FULL_SCALE, field.name) * scale))
            for field in fields(cls)
        }
        counts["open_batches"] = min(counts["open_batches"], counts["batches"])
        return cls(**counts)


FULL_SCALE = LabSize(
    batches=10_000,
    open_batches=500,
    equipment=100_000,
    lots=100_000,
    protocols=200,
    audit_events=1_000_000,
    samples=1_000_000,
    clients=20,
)
#: However small the scale: more than a page of each list (50 rows), open batches at every step and awaiting
#: review, so that the page benchmark compares pages showing as many rows in an almost empty lab as in a full one.
LEAST = LabSize(
    batches=120, open_batches=100, equipment=60, lots=60, protocols=60, audit_events=1, samples=60, clients=2
)


@dataclass(frozen=True)
class Generated:
    size: LabSize
    audit_events: int
    seconds: float


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench generate", description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="SQLAlchemy URL of an empty database")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every count (default 1.0)")
    parser.add_argument(
        "--reset", action="store_true", help="drop what the database holds first (PostgreSQL: its public schema)"
    )
    options = parser.parse_args(argv)
    if not options.scale > 0:
        parser.error("--scale must be a positive number")
    install()
    try:
        generated = generate(options.database_url, LabSize.at(options.scale), reset=options.reset)
    except DatabaseNotEmpty as error:
        print(f"python -m bench generate: {error}", file=sys.stderr)
        return 2
    print(
        f"lab: {generated.size.batches:,} batches ({generated.size.open_batches:,} open), "
        f"{generated.size.equipment:,} equipment items, {generated.size.lots:,} lots, "
        f"{generated.size.protocols:,} protocols, {generated.size.samples:,} samples of "
        f"{generated.size.clients:,} clients, {generated.audit_events:,} audit events "
        f"in {generated.seconds:.0f} s"
    )
    return 0


class DatabaseNotEmpty(Exception):
    pass


def generate(url: str, size: LabSize, *, reset: bool = False) -> Generated:
    started = time.perf_counter()
    engine = create_engine_for(url)
    try:
        with clock.frozen(clock.now()):
            _prepare(engine, reset=reset)
            _progress("migrating the schema and loading the demo data")
            with engine.begin() as connection:
                schema.upgrade(connection)
            # The demo signs some hundred times; each re-enters a password, at argon2's full cost. Its accounts
            # get hashes at full cost afterwards, so signing in to the lab costs what it costs in production.
            with (
                _cheap_password_hashing(),
                tempfile.TemporaryDirectory() as signing_key_folder,
                Session(engine) as session,
                session.begin(),
            ):
                # The demo's release issues a signed certificate; its key is made for the generation and dropped.
                session.info[document_signing.SESSION_INFO_KEY] = document_signing.SigningSettings(
                    key_path=Path(signing_key_folder) / "signing-key.p12"
                )
                for load in registry.current().demo_loaders:
                    load(session)
            with engine.begin() as connection:
                _hash_demo_passwords_in_full(connection)
            with engine.begin() as connection, Session(bind=connection) as session:
                defer_foreign_keys(connection)
                lab = _Lab(connection, session, size)
                lab.make()
                events = lab.trail.write(connection)
                reset_id_sequences(connection, lab.ids.tables())
                if connection.dialect.name == "postgresql":
                    connection.execute(text("ANALYZE"))
    finally:
        engine.dispose()
    return Generated(size, events, time.perf_counter() - started)


def _hash_demo_passwords_in_full(connection: Connection) -> None:
    users = table("user_account")
    for account in ACCOUNTS:
        connection.execute(
            users.update()
            .where(users.c.username == account.username)
            .values(password_hash=passwords.hash_password(account.password))
        )


def _prepare(engine: Engine, *, reset: bool) -> None:
    with engine.begin() as connection:
        tables = inspect(connection).get_table_names()
        if not tables:
            return
        if not reset:
            raise DatabaseNotEmpty(
                f"{make_url(str(engine.url)).render_as_string(hide_password=True)} holds {len(tables)} tables; "
                "give an empty database, or --reset to drop what it holds"
            )
        if connection.dialect.name == "postgresql":
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        else:
            for name in tables:
                connection.execute(text(f'DROP TABLE "{name}"'))


def _progress(what: str) -> None:
    print(f"lab: {what}", file=sys.stderr)


@contextmanager
def _counting(what: str, total: int) -> Iterator[Any]:
    shown = [0.0]

    def tick(done: int) -> None:
        now = time.monotonic()
        if done == total or now - shown[0] > 1:
            shown[0] = now
            print(f"\rlab: {what} {done:,}/{total:,}", end="", file=sys.stderr)

    yield tick
    print(file=sys.stderr)


class _Lab:
    def __init__(self, connection: Connection, session: Session, size: LabSize) -> None:
        self.connection, self.session, self.size = connection, session, size
        self.random = random.Random(SEED)
        self.ids = Ids(connection)
        self.signed = SignedContent(session)
        self.today = clock.today()
        users = connection.execute(table("user_account").select()).mappings().all()
        self.trail = Trail({user["id"]: user["full_name"] for user in users}, SEED)
        self.user_by_role = {
            role: user_id
            for user_id, role in connection.execute(
                select(table("user_role").c.user_id, table("role").c.name).join(table("role"))
            )
        }
        self._pending: dict[str, list[Row]] = {}
        self._pending_rows = 0
        self._numbers: dict[str, int] = {}
        self._taken: dict[tuple[str, str], set[str]] = {}
        self.equipment_by_type: dict[Any, list[int]] = {}
        self.lots_by_material: dict[int, list[int]] = {}
        self._kinds: dict[int, Any] = {}
        self._materials: dict[int, int] = {}

    def make(self) -> None:
        self.equipment()
        self.lots()
        self.protocols()
        self.batches()
        self.samples()
        self._write()
        made = len(self.trail.events)
        existing = self.connection.execute(select(func.count()).select_from(table("audit_event"))).scalar_one()
        background = max(0, self.size.audit_events - made - existing)
        start = datetime.combine(self.today - timedelta(days=HISTORY_DAYS), day_time(7), tzinfo=UTC)
        self.trail.background(background, start=start, end=clock.now())

    # Writing

    def _add(self, rows: dict[str, list[Row]]) -> None:
        for name, table_rows in rows.items():
            self._pending.setdefault(name, []).extend(table_rows)
            self._pending_rows += len(table_rows)
        if self._pending_rows >= ROWS_PER_WRITE:
            self._write()

    def _write(self) -> None:
        # Parents before the rows that name them.
        for of in Base.metadata.sorted_tables:
            write_rows(self.connection, of, self._pending.pop(of.name, []))
        self._pending_rows = 0

    def _next_number(self, prefix: str, of: str, column: str, digits: int) -> str:
        """The next of the numbers the LIMS gives ``of`` after ``prefix`` (it counts those there are), past any
        the demo took out of turn."""
        if (of, column) not in self._taken:
            self._taken[of, column] = set(self.connection.execute(select(table(of).c[column])).scalars())
        taken = self._taken[of, column]
        if prefix not in self._numbers:
            self._numbers[prefix] = sum(number.startswith(prefix) for number in taken)
        while True:
            self._numbers[prefix] += 1
            number = f"{prefix}{self._numbers[prefix]:0{digits}d}"
            if number not in taken:
                return number

    def _copy(self, template: Template, days: int) -> Copy:
        return copy(template, self.ids, days=days)

    def _sign_and_trace(self, made: Copy) -> None:
        self.signed.apply(made)
        for signature in made.rows.get("electronic_signature", []):
            self.trail.signed(signature)

    # Equipment

    def _beyond_the_demo(self, name: str, wanted: int) -> int:
        """How many of ``name`` to make for the lab to hold ``wanted`` with the demo's."""
        return max(0, wanted - self.connection.execute(select(func.count()).select_from(table(name))).scalar_one())

    def equipment(self) -> None:
        count = self._beyond_the_demo("equipment", self.size.equipment)
        shape = read_rows(self.connection, table("equipment"))[0]
        maintenance_shape = read_rows(self.connection, table("maintenance_record"))[0]
        technician = self.user_by_role[RoleName.TECHNICIAN]
        manager = self.user_by_role[RoleName.MANAGER]
        statuses = [status for status, share in STATUS_MIX.items() for _ in range(round(share * count))]
        statuses = statuses[:count] + [EquipmentStatus.IN_SERVICE] * max(0, count - len(statuses))
        self.random.shuffle(statuses)
        first_id = self.ids.take("equipment", count)
        with _counting("generating the equipment", count) as tick:
            for offset, status in enumerate(statuses):
                row = {**shape, **_realistic_equipment(offset + 1, status, self.random), "id": first_id + offset}
                history = [
                    {**maintenance_shape, **record, "id": self.ids.take("maintenance_record", 1)}
                    for record in _maintenance_history(row["id"], status, technician, self.random)
                ]
                if status == EquipmentStatus.IN_SERVICE:
                    self.equipment_by_type.setdefault(row["equipment_type"], []).append(row["id"])
                self.trail.created("equipment", row, at=row["created_at"], user_id=manager)
                self._add({"equipment": [row], "maintenance_record": history})
                tick(offset + 1)

    def _equipment_like(self, equipment_id: int, number: int) -> int:
        """An item in service of the same type as ``equipment_id``, taking turns."""
        if equipment_id not in self._kinds:
            self._kinds[equipment_id] = self.connection.execute(
                select(table("equipment").c.equipment_type).where(table("equipment").c.id == equipment_id)
            ).scalar_one()
        items = self.equipment_by_type.get(self._kinds[equipment_id])
        return items[number % len(items)] if items else equipment_id

    # Material lots

    def lots(self) -> None:
        lots = table("material_lot")
        released = read_rows(self.connection, lots, lots.c.status == LotStatus.RELEASED)
        templates = [
            collect(self.connection, {"material_lot": [row["id"]]}, leave_out={"lot_consumption"}) for row in released
        ]
        count = self._beyond_the_demo("material_lot", self.size.lots)
        with _counting("copying material lots", count) as tick:
            for number in range(count):
                template = templates[number % len(templates)]
                lot = template.only("material_lot")
                received = self.today - timedelta(days=1 + (count - number) * HISTORY_DAYS // count)
                made = self._copy(template, (received - lot["received_on"]).days)
                row = made.rows["material_lot"][0]
                part = lot["lot_number"].rsplit("-", 2)[0]
                prefix = f"{part}-{received:%y%m%d}-"
                row["lot_number"] = self._next_number(prefix, "material_lot", "lot_number", 3)
                row["supplier_lot"] = f"{lot['supplier_lot'][:3]}{number:07d}"
                share = self.random.random()
                if share < QUARANTINED_LOT_SHARE:
                    row["status"] = LotStatus.QUARANTINE
                    made.rows.pop("electronic_signature", None)
                elif share < QUARANTINED_LOT_SHARE + REJECTED_LOT_SHARE:
                    row["status"] = LotStatus.REJECTED
                    row["rejection_reason"] = "Certificate of analysis does not match the supplier's specification"
                    for signature in made.rows.get("electronic_signature", []):
                        signature["meaning"] = SignatureMeaning.REJECTED
                else:
                    self.lots_by_material.setdefault(row["material_id"], []).append(row["id"])
                self._sign_and_trace(made)
                received_at = datetime.combine(received, day_time(9, 30), tzinfo=UTC)
                self.trail.created("material_lot", row, at=received_at, user_id=row["received_by_id"])
                self._add(made.rows)
                tick(number + 1)

    def _lot_like(self, lot_id: int, number: int) -> int:
        """A released lot of the same material as ``lot_id``, taking turns."""
        if lot_id not in self._materials:
            self._materials[lot_id] = self.connection.execute(
                select(table("material_lot").c.material_id).where(table("material_lot").c.id == lot_id)
            ).scalar_one()
        lots = self.lots_by_material.get(self._materials[lot_id])
        return lots[number % len(lots)] if lots else lot_id

    # Protocols

    def protocols(self) -> None:
        protocol = read_rows(self.connection, table("protocol"))[0]
        template = collect(self.connection, {"protocol": [protocol["id"]]}, leave_out={"subject"})
        sponsors = [
            row.id
            for row in self.connection.execute(
                select(table("organization").c.id).where(table("organization").c.kind == "client")
            )
        ]
        count = self._beyond_the_demo("protocol", self.size.protocols)
        with _counting("copying protocols", count) as tick:
            for number in range(count):
                made = self._copy(template, -(count - number) * HISTORY_DAYS // count)
                row = made.rows["protocol"][0]
                row["number"] = f"{protocol['number']}-{number + 1:03d}"
                row["nct_id"] = None
                row["sponsor_id"] = sponsors[number % len(sponsors)]
                self._sign_and_trace(made)
                self.trail.created("protocol", row, at=row["created_at"], user_id=self.user_by_role[RoleName.MANAGER])
                self._add(made.rows)
                tick(number + 1)

    # Batches

    def batches(self) -> None:
        plans = _BatchPlans(self.connection)
        schedule = plans.schedule(self.size, self.random)
        with _counting("copying batches", len(schedule)) as tick:
            for number, (template, days_ago) in enumerate(schedule):
                batch = template.only("batch")
                made_on = self.today - timedelta(days=days_ago)
                made = self._copy(template, (made_on - batch["created_at"].date()).days)
                row = made.rows["batch"][0]
                made_at = row["created_at"]
                prefix = f"{batch['batch_number'].rsplit('-', 1)[0]}-{made_at:%y}"
                row["batch_number"] = self._next_number(prefix, "batch", "batch_number", 4)
                row["starting_material_identity"] = format_din(f"W0386{made_at:%y}{500_000 + number:06d}")
                subject = made.rows["subject"][0]
                subject["code"] = f"{subject['code'].rsplit('-', 1)[0]}-{number + 100:05d}"
                for deviation in made.rows.get("deviation", []):
                    prefix = f"DEV-{deviation['raised_at']:%Y}-"
                    deviation["number"] = self._next_number(prefix, "deviation", "number", 4)
                for use in made.rows.get("equipment_use", []):
                    if use["record_type"] == "batch_step":
                        use["equipment_id"] = self._equipment_like(use["equipment_id"], number)
                for consumption in made.rows.get("lot_consumption", []):
                    consumption["lot_id"] = self._lot_like(consumption["lot_id"], number)
                self._sign_and_trace(made)
                self.trail.created("batch", row, at=made_at, user_id=row["created_by_id"])
                self._add(made.rows)
                tick(number + 1)

    # Client samples

    def samples(self) -> None:
        count = self._beyond_the_demo("sample", self.size.samples)
        maker = SampleMaker(
            self.connection,
            self.ids,
            self.random,
            self.trail,
            self._add,
            manager_id=self.user_by_role[RoleName.MANAGER],
            technician_id=self.user_by_role[RoleName.TECHNICIAN],
        )
        with _counting("generating samples", count) as tick:
            maker.make(count, self.size.clients, tick)


class _BatchPlans:
    """The demo's batches as templates: released (and, re-signed, rejected), awaiting review, and in progress at
    each step (the released one, cut back to the steps done before that one)."""

    def __init__(self, connection: Connection) -> None:
        batches = table("batch")
        demo = read_rows(connection, batches)
        by_status = {row["status"].value: row for row in demo}
        self.demo_closed = sum(row["status"].value in ("released", "rejected") for row in demo)
        self.demo_open = len(demo) - self.demo_closed
        released, awaiting, in_progress = (
            by_status["released"],
            by_status["awaiting review"],
            by_status["in progress"],
        )
        self.released = collect(connection, {"subject": [released["subject_id"]], "batch": [released["id"]]})
        self.awaiting = collect(connection, {"subject": [awaiting["subject_id"]], "batch": [awaiting["id"]]})
        self.rejected = _rejected(self.released)
        prototype_steps = read_rows(
            connection, table("batch_step"), table("batch_step").c.batch_id == in_progress["id"]
        )
        pending = next(step for step in prototype_steps if step["status"].value == "pending")
        self.steps = sorted(step["position"] for step in self.released.rows["batch_step"])
        self.in_progress = {
            position: _cut_back(self.released, position, pending, in_progress) for position in self.steps
        }
        started = {step["position"]: step["started_at"] for step in self.released.rows["batch_step"]}
        made = released["created_at"]
        #: how many days after the batch was made each step starts
        self.days_to_step: dict[int, int] = {}
        for position in self.steps:
            # A skipped step never started: the batch reached it when it reached the one before.
            begun = started[position]
            self.days_to_step[position] = (
                max(0, (begun - made).days) if begun is not None else self.days_to_step.get(position - 1, 0)
            )
        self.awaiting_days = (clock.now() - awaiting["created_at"]).days

    def schedule(self, size: LabSize, generator: random.Random) -> list[tuple[Template, int]]:
        """(template, days ago the batch was made) for every batch but the demo's, oldest first."""
        closed = max(0, size.batches - size.open_batches - self.demo_closed)
        open_batches = max(0, size.open_batches - self.demo_open)
        awaiting = round(open_batches * AWAITING_REVIEW_SHARE)
        plan: list[tuple[Template, int]] = []
        for number in range(closed):
            template = self.rejected if generator.random() < REJECTED_SHARE else self.released
            plan.append((template, 60 + (closed - number) * (HISTORY_DAYS - 60) // max(closed, 1)))
        for number in range(open_batches):
            if number < awaiting:
                plan.append((self.awaiting, self.awaiting_days + generator.randint(0, 20)))
            else:
                position = self.steps[number % len(self.steps)]
                plan.append((self.in_progress[position], self.days_to_step[position] + generator.randint(0, 2)))
        plan.sort(key=lambda entry: -entry[1])
        return plan


def _rejected(released: Template) -> Template:
    rejected = Template({name: [dict(row) for row in rows] for name, rows in released.rows.items()})
    batch = rejected.only("batch")
    batch["status"] = type(batch["status"])("rejected")
    batch["disposition_reason"] = "Sterility test positive on the final product (investigation DEV raised)"
    for signature in rejected.rows["electronic_signature"]:
        if signature["entity_type"] == "batch":
            signature["meaning"] = SignatureMeaning.REJECTED
    return rejected


#: a batch's columns that say what it is, not where it stands
_BATCH_IDENTITY = frozenset(
    {
        "id",
        "batch_number",
        "mbr_version_id",
        "mbr_label",
        "product",
        "training_subject",
        "subject_id",
        "starting_material_identity",
        "created_by_id",
        "created_at",
    }
)


def _cut_back(released: Template, position: int, pending_step: Row, in_progress_batch: Row) -> Template:
    """The released batch as it stood when it reached step ``position``: the steps before done, the rest pending."""
    design = set(table("mbr_step").c.keys()) - {"id", "version_id"}
    not_done = {step["id"] for step in released.rows["batch_step"] if step["position"] >= position}
    not_entered = {row["id"] for row in released.rows["batch_parameter"] if row["step_id"] in not_done}

    def done_by_then(name: str, row: Row) -> bool:
        if name == "batch_entry":
            return row["parameter_id"] not in not_entered
        if name in ("equipment_use", "lot_consumption") and row["record_type"] == "batch_step":
            return int(row["record_id"]) not in not_done
        if name == "electronic_signature":
            return row["entity_type"] != "batch" and not (
                row["entity_type"] == "batch_step" and int(row["entity_id"]) in not_done
            )
        return name != "test_result"

    cut = released.pruned(done_by_then)
    cut = Template({name: [dict(row) for row in rows] for name, rows in cut.rows.items()})
    for step in cut.rows["batch_step"]:
        if step["id"] in not_done:
            step.update(
                {
                    key: value
                    for key, value in pending_step.items()
                    if key not in design | {"id", "batch_id", "position"}
                }
            )
    batch = cut.only("batch")
    batch.update({key: value for key, value in in_progress_batch.items() if key not in _BATCH_IDENTITY})
    return cut


if __name__ == "__main__":
    sys.exit(main())
