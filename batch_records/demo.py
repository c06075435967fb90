"""Batch records' part of the demo data set: the CAR-T master record and three batches made to it, one released, one
awaiting QA's review and one in progress, executed through the batch record rules on the days their history says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from flask import current_app, has_app_context
from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_records.cart_designs import CART_HLX19, StepDesign
from batch_records.cart_line import draft_master
from batch_records.models import Batch, BatchStep, DeviationCategory, MasterBatchRecord, MbrVersion
from batch_records.service import batches, deviations, execution, release, step_signatures
from lims import clock
from lims.demo_support import When, acting_as, demo_user, on, sign
from lims.equipment.models import Equipment, EquipmentType
from lims.equipment.service.inventory import status_of
from lims.equipment.service.use import BLOCKING_STATUSES
from lims.identifiers import format_din
from lims.identity.demo_accounts import demo_password
from lims.identity.models import User
from lims.materials import service as materials
from lims.materials.demo import MATERIALS
from lims.materials.models import Material, MaterialLot
from lims.signatures.models import SignatureMeaning
from lims.testing import service as testing
from lims.training import service as training
from lims.units.parsing import parse_measurement
from lims.versioning import service as versioning
from protocols.demo import PROTOCOL_NUMBER
from protocols.models import Protocol, Subject
from protocols.service import protocols as protocol_service
from protocols.service import subjects as subjects_service

#: The batches in the order they were made; the per-batch values below are indexed by these.
RELEASED, AWAITING_REVIEW, IN_PROGRESS = 0, 1, 2


@dataclass(frozen=True)
class StepHistory:
    """What the three batches did at one step of CART_HLX19."""

    #: when each batch started the step; None where the batch has not reached it
    started: tuple[When | None, When | None, When | None]
    #: by parameter: what the released, the awaiting-review and the in-progress batch recorded (None: not recorded)
    values: Mapping[str, tuple[str | None, str | None, str | None]]
    #: the actual yield of the released and of the awaiting-review batch
    yields: tuple[str | None, str | None] = (None, None)
    #: what the in-progress batch has used so far, when this is its current, unfinished step
    partial_equipment: tuple[EquipmentType, ...] = ()
    partial_materials: tuple[str, ...] = ()


_BSC, _INCUBATOR = EquipmentType.BIOSAFETY_CABINET, EquipmentType.INCUBATOR
#: the demo items a step's equipment types and a release test's instrument are met with: all usable (CEN-003,
#: PIP-004 and CNT-006 are not)
BATCH_EQUIPMENT = {
    _BSC: "BSC-002",
    _INCUBATOR: "INC-001",
    EquipmentType.BALANCE: "BAL-007",
    EquipmentType.FREEZER: "FRZ-005",
    EquipmentType.FLOW_CYTOMETER: "FCM-008",
    EquipmentType.DIGITAL_PCR: "DPCR-009",
}

#: step by step, as CART_HLX19 lists them
HISTORY = (
    StepHistory(
        ((34, "09:40"), (18, "09:10"), (2, "10:30")),
        {
            "Time since end of collection": ("22", "51", "26"),
            "Shipper temperature on receipt": ("4.6", "5.1", "3.9"),
            "Bag net weight": ("191.4", "224.0", "176.2"),
        },
    ),
    StepHistory(
        ((34, "11:00"), (18, "10:30"), (2, "11:45")),
        {
            "Total nucleated cells": ("9.8 ×10^9", "1.12 ×10^10", "8.1 ×10^9"),
            "Viability": ("96.1", "91.4", "94.7"),
            "CD3+ of leukocytes": ("41.2", "33.8", "46.5"),
        },
    ),
    StepHistory(
        ((34, "12:30"), (18, "12:00"), (2, "13:15")),
        {
            "CD3+ purity of the positive fraction": ("95.3", "92.8", "96.0"),
            "Viable cells recovered": ("1.9 ×10^9", "2.3 ×10^9", "1.6 ×10^9"),
        },
    ),
    StepHistory(
        ((33, "09:30"), (17, "09:30"), (1, "09:30")),
        {
            "Viable cells seeded": ("1.02 ×10^8", "0.98 ×10^8", "1.01 ×10^8"),
            "Seeding density": ("1.0 ×10^6", "0.97 ×10^6", "1.01 ×10^6"),
            "Culture volume": ("100", "101", None),
        },
        # The in-progress batch waits here for IL-2: the only lot expired three days ago.
        partial_equipment=(_BSC,),
        partial_materials=("MED-001",),
    ),
    StepHistory(
        ((32, "09:15"), (16, "09:15"), None),
        {
            "Hours after activation": ("23.5", "24", None),
            "Multiplicity of infection": ("5.0", "5.1", None),
            "Vector volume added": ("4.2", "4.1", None),
        },
    ),
    StepHistory(
        ((29, "08:30"), (13, "08:30"), None),
        {
            "Incubator temperature, day 5": ("37.0", "37.1", None),
            "Incubator CO2, day 5": ("5.0", "5.1", None),
            "Viable cell density, day 5": ("2.4 ×10^6", "2.9 ×10^6", None),
        },
    ),
    StepHistory(
        ((29, "10:00"), (13, "10:00"), None),
        {"Medium added": ("150", "152", None), "Culture volume after the feed": ("250", "253", None)},
    ),
    StepHistory(
        ((28, "09:00"), (12, "09:00"), None),
        {"Viable cell density before the top-up": (None, "3.4 ×10^6", None), "Medium added": (None, "50", None)},
    ),
    StepHistory(
        ((26, "09:00"), (10, "09:00"), None),
        {"Viable cell concentration": ("2.1 ×10^7", "1.6 ×10^7", None), "Viability at harvest": ("93.2", "88.6", None)},
        yields=("1.9 ×10^9 cells", "1.4 ×10^9 cells"),
    ),
    StepHistory(
        ((26, "11:00"), (10, "11:00"), None),
        {
            "Dose, CAR+ viable T cells": ("1.52 ×10^8", "1.61 ×10^8", None),
            "Bags filled": ("2", "2", None),
            "Fill volume per bag": ("30", "30", None),
        },
    ),
    StepHistory(
        ((26, "12:30"), (10, "12:30"), None),
        {
            "Minutes from CS10 addition to programme start": ("18", "22", None),
            "Chamber temperature at programme end": ("-92", "-91", None),
        },
    ),
    StepHistory(((25, "09:00"), (9, "09:00"), None), {"Freezer display temperature": ("-79", "-80", None)}),
)
STEPS = tuple(zip(CART_HLX19.steps, HISTORY, strict=True))

#: (subject, arm, enrolled, apheresis (days ago), performer, verifier) of the released, awaiting-review and
#: in-progress batch; the first subject is the demo protocol's, infused twelve days ago with the released batch.
BATCH_SUBJECTS = (
    ("HLX301-014-0002", "A", 45, 35, "t.nguyen", "s.lind"),
    ("HLX301-014-0004", "A", 32, 20, "s.lind", "t.nguyen"),
    ("HLX301-014-0005", "A", 16, 3, "t.nguyen", "s.lind"),
)
SKIP_REASON = "Viable density 2.6 ×10^6 cells/mL on day 6, below the 3 ×10^6 cells/mL trigger: no top-up needed."
#: the awaiting-review batch: a transcription error corrected before the step was signed
CORRECTION = ("Bag net weight", "242.0", "Transposed digits: the balance printout reads 224.0 g.")
#: the awaiting-review batch: a deviation raised by hand on the expansion step and closed by QA
CLOSED_DEVIATION: dict[str, Any] = {
    "description": "INC-001 alarm log: door-open alarm for 6 minutes on day 3; the chamber fell to 35.8 °C and "
    "was back at 37.0 °C within 12 minutes.",
    "category": DeviationCategory.MINOR,
    "investigation": "Alarm log, chamber temperature and CO2 trends and the door switch reviewed with the operators.",
    "root_cause": "The door was not latched after another operator checked a development culture; the alarm worked.",
    "other_batches_assessed": "No other GMP batch was in INC-001 that day.",
    "conclusion": "Excursion well within the validated 30 minutes below 36 °C: no impact on the batch.",
    "capa": "Door-latch check added to the incubator checklist; operators briefed.",
}
#: code: (days after harvest the result is reported, released batch, batch awaiting review)
RELEASE_RESULTS = {
    "QC-VIAB": (0, "91.8", "87.9"),
    "QC-TVC": (0, "4.1 ×10^8", "4.4 ×10^8"),
    "QC-CD3": (0, "97.4", "96.1"),
    "QC-ENDO": (0, "0.08", "0.11"),
    "QC-TDX": (3, "37.1", "36.6"),
    "QC-VCN": (3, "2.4", "3.1"),
    "QC-MYCO": (3, "Not detected", "Not detected"),
    "QC-ID": (3, "Conforms", "Conforms"),
    "QC-POT": (3, "58", "49"),
    "QC-STER": (7, "No growth", "No growth"),
}
RELEASED_ON: When = (14, "15:00")


def _due_soon_days() -> int:
    """The app's setting where there is an app (the CLI), else its default."""
    return current_app.config["CALIBRATION_DUE_SOON_DAYS"] if has_app_context() else 14


def load_batches(session: Session) -> None:
    """The CAR-T master record and its three batches; a second run finds the master record and stops."""
    if session.scalar(select(MasterBatchRecord.id).where(MasterBatchRecord.code == CART_HLX19.code)) is not None:
        return
    lots = _demo_lots(session)
    if lots is None:
        return  # the database's own materials kept the demo's out: nothing to build a master record on
    today = clock.today()
    version = _load_master_record(session, lots, today)
    found = {
        kind: session.scalar(select(Equipment).where(Equipment.asset_tag == tag))
        for kind, tag in BATCH_EQUIPMENT.items()
    }
    equipment = {kind: item for kind, item in found.items() if item is not None}
    subjects = _batch_subjects(session, today)
    if subjects is None or len(equipment) < len(found):
        return  # the database's own protocol or equipment kept the demo's out
    maker = _BatchMaker(session, today, lots, equipment, _due_soon_days())
    if maker.history_fits():
        for index, subject in enumerate(subjects):
            maker.make(version, index, subject)


def _demo_lots(session: Session) -> dict[str, MaterialLot] | None:
    """The released lot of each demo material, by part number; None if the demo's materials are not there."""
    lots = {}
    for part_number, *_, lot_rows in MATERIALS:
        supplier_lot = next(row[1] for row in lot_rows if row[-1] == "released")
        lot = session.scalar(
            select(MaterialLot)
            .join(MaterialLot.material)
            .where(Material.part_number == part_number, MaterialLot.supplier_lot == supplier_lot)
        )
        if lot is None:
            return None
        lots[part_number] = lot
    return lots


def _load_master_record(session: Session, lots: dict[str, MaterialLot], today: date) -> MbrVersion:
    """CART-HLX19 v1, authored by the manager, approved by QA, effective, with both technicians trained on it."""
    author, approver = demo_user(session, "m.larsen"), demo_user(session, "q.okafor")
    definitions = {definition.code: definition for definition in testing.list_definitions(session)}
    with on(today, (45, "09:00")), acting_as(session, author):
        version = draft_master(
            session, CART_HLX19, materials={part: lot.material for part, lot in lots.items()}, definitions=definitions
        )
    with on(today, (45, "16:00")):
        sign(session, version, SignatureMeaning.AUTHORED, author)
    with on(today, (43, "11:00")), acting_as(session, approver):
        sign(session, version, SignatureMeaning.APPROVED, approver)
        versioning.make_effective(session, version)
    with on(today, (42, "14:00")), acting_as(session, author):
        for username in ("t.nguyen", "s.lind"):
            training.record_training(
                session,
                user=demo_user(session, username),
                subject=version.training_subject,
                trained_on=today - timedelta(days=42),
                expires_on=today + timedelta(days=323),
                recorded_by=author,
            )
    return version


def _batch_subjects(session: Session, today: date) -> list[Subject] | None:
    """The HLX-301 subjects the batches are made for, the manager enrolling those the protocol's demo data lacks."""
    protocol = session.scalar(select(Protocol).where(Protocol.number == PROTOCOL_NUMBER))
    version = protocol_service.effective_version(protocol) if protocol is not None else None
    if protocol is None or version is None:
        return None
    enrolled = {subject.code: subject for subject in subjects_service.subjects_of(session, protocol)}
    subjects = []
    with acting_as(session, demo_user(session, "m.larsen")):
        for code, arm, enrolled_days_ago, apheresis_days_ago, *_ in BATCH_SUBJECTS:
            if code not in enrolled:
                enrolled[code] = subjects_service.enrol_subject(
                    session,
                    protocol,
                    code=code,
                    site="014",
                    arm=next(a for a in version.arms if a.code == arm),
                    enrolled_on=today - timedelta(days=enrolled_days_ago),
                    consent_version="1.0",
                    apheresis_on=today - timedelta(days=apheresis_days_ago),
                )
            subjects.append(enrolled[code])
    return subjects


#: (the step's design, its history, when the batch started it, skipped, complete)
Work = tuple[StepDesign, StepHistory, When, bool, bool]


@dataclass
class _BatchMaker:
    """Executes the demo batches through the batch record rules, on the days the history says."""

    session: Session
    today: date
    lots: dict[str, MaterialLot]
    equipment: dict[EquipmentType, Equipment]
    due_soon_days: int
    qa: User = field(init=False)

    def __post_init__(self) -> None:
        self.qa = demo_user(self.session, "q.okafor")

    def _work(self, index: int) -> list[Work]:
        """What the batch did at each step it reached."""
        work = []
        for position, (design, history) in enumerate(STEPS):
            when = history.started[index]
            if when is None:
                break
            reached_next = position + 1 < len(STEPS) and STEPS[position + 1][1].started[index] is not None
            complete = index != IN_PROGRESS or reached_next
            work.append((design, history, when, design.step.skippable and index == RELEASED, complete))
        return work

    def _uses(
        self, design: StepDesign, history: StepHistory, complete: bool
    ) -> tuple[tuple[EquipmentType, ...], list[tuple[str, str]]]:
        if complete:
            return tuple(design.step.equipment_types), list(design.materials)
        return history.partial_equipment, [
            (part, quantity) for part, quantity in design.materials if part in history.partial_materials
        ]

    def history_fits(self) -> bool:
        """Whether the lots and equipment allow the history on its days (an older demo database may not)."""
        needed: dict[str, Decimal] = {}
        for index in (RELEASED, AWAITING_REVIEW, IN_PROGRESS):
            for design, history, when, skipped, complete in self._work(index):
                if skipped:
                    continue
                day = self.today - timedelta(days=when[0])
                kinds, taken = self._uses(design, history, complete)
                for part_number, quantity in taken:
                    lot = self.lots[part_number]
                    if not materials.usability(lot, day).usable:
                        return False
                    amount = parse_measurement(quantity).to(lot.quantity_remaining.unit).value
                    needed[part_number] = needed.get(part_number, Decimal(0)) + amount
                with on(self.today, when):
                    if any(
                        status_of(self.session, self.equipment[kind], due_soon_days=self.due_soon_days)
                        in BLOCKING_STATUSES
                        for kind in kinds
                    ):
                        return False
        return all(amount <= self.lots[part].quantity_remaining.value for part, amount in needed.items())

    def make(self, version: MbrVersion, index: int, subject: Subject) -> Batch:
        _code, _arm, _enrolled, apheresis_days_ago, performer_name, verifier_name = BATCH_SUBJECTS[index]
        performer, verifier = demo_user(self.session, performer_name), demo_user(self.session, verifier_name)
        work = self._work(index)
        with on(self.today, work[0][2], timedelta(minutes=-20)), acting_as(self.session, performer):
            apheresis = self.today - timedelta(days=apheresis_days_ago)
            batch = batches.start_batch(
                self.session,
                version,
                subject=subject,
                user=performer,
                starting_material_identity=format_din(f"W0386{apheresis:%y}{118204 + 4417 * index:06d}"),
            )
        # A batch still in progress has done only its first steps: the work lists those.
        for (design, history, when, skipped, complete), step in zip(work, batch.steps, strict=False):
            if skipped:
                with on(self.today, when), acting_as(self.session, performer):
                    step_signatures.skip_step(
                        self.session,
                        step,
                        reason=SKIP_REASON,
                        user=performer,
                        password=demo_password(performer.username),
                    )
                continue
            with on(self.today, when), acting_as(self.session, performer):
                self._perform(design, history, step, index, performer, complete)
            if index == AWAITING_REVIEW and step.position == 6:
                self._closed_deviation(batch, step, when, performer)
            if complete:
                self._sign_step(step, when, performer, verifier)
        if index != IN_PROGRESS:
            self._release_tests(batch, index, performer, verifier)
        if index == RELEASED:
            with on(self.today, RELEASED_ON), acting_as(self.session, self.qa):
                release.review_trail(
                    self.session,
                    batch,
                    comment="Read with the batch record: every change carries its reason; nothing to report.",
                    user=self.qa,
                    password=demo_password(self.qa.username),
                )
                release.dispose(
                    self.session,
                    batch,
                    SignatureMeaning.RELEASED,
                    user=self.qa,
                    password=demo_password(self.qa.username),
                )
        return batch

    def _perform(
        self, design: StepDesign, history: StepHistory, step: BatchStep, index: int, user: User, complete: bool
    ) -> None:
        kinds, taken = self._uses(design, history, complete)
        for kind in kinds:
            execution.record_equipment_use(
                self.session, step, self.equipment[kind], user=user, due_soon_days=self.due_soon_days
            )
        for part_number, quantity in taken:
            requirement = next(r for r in step.materials if r.material_id == self.lots[part_number].material_id)
            execution.record_material_use(
                self.session, step, requirement, self.lots[part_number], parse_measurement(quantity), user=user
            )
        for parameter in step.parameters:
            value = history.values[parameter.name][index]
            if value is None:
                continue
            if index == AWAITING_REVIEW and step.position == 1 and parameter.name == CORRECTION[0]:
                first = execution.record_entry(self.session, parameter, CORRECTION[1], user=user)
                execution.correct_entry(self.session, first, value, reason=CORRECTION[2], user=user)
            else:
                execution.record_entry(self.session, parameter, value, user=user)
        actual_yield = history.yields[index] if index != IN_PROGRESS else None
        if actual_yield is not None:
            execution.record_yield(self.session, step, parse_measurement(actual_yield), user=user)

    def _sign_step(self, step: BatchStep, when: When, performer: User, verifier: User) -> None:
        with on(self.today, when, timedelta(minutes=40)):
            sign(self.session, step, SignatureMeaning.PERFORMED, performer)
        if step.second_person_verification:
            with on(self.today, when, timedelta(minutes=50)):
                sign(self.session, step, SignatureMeaning.VERIFIED, verifier)
        if step.hold_point:
            with on(self.today, when, timedelta(hours=2)):
                sign(self.session, step, SignatureMeaning.REVIEWED, self.qa)

    def _closed_deviation(self, batch: Batch, step: BatchStep, when: When, user: User) -> None:
        text = dict(CLOSED_DEVIATION)
        with on(self.today, when, timedelta(minutes=15)), acting_as(self.session, user):
            deviation = deviations.raise_deviation(
                self.session,
                batch,
                description=text.pop("description"),
                category=text["category"],
                step=step,
                user=user,
            )
        with on(self.today, (6, "10:00")), acting_as(self.session, self.qa):
            deviations.record_investigation(
                self.session, deviation, deviations.InvestigationInput(**text), reason="Investigation completed"
            )
        with on(self.today, (6, "11:30")):
            sign(self.session, deviation, SignatureMeaning.APPROVED, self.qa)

    def _release_tests(self, batch: Batch, index: int, analyst: User, checker: User) -> None:
        harvested = next(
            history.started[index] for design, history in STEPS if design.step.theoretical_yield is not None
        )
        assert harvested is not None
        for release_test in batch.release_tests:
            ready_after, *reported = RELEASE_RESULTS[release_test.definition.code]
            when = (harvested[0] - ready_after, "15:00")
            with on(self.today, when), acting_as(self.session, analyst):
                instrument_type = release_test.definition.instrument_type
                result = release.record_release_result(
                    self.session,
                    release_test,
                    reported[index],
                    user=analyst,
                    instrument_id=self.equipment[instrument_type].id if instrument_type else None,
                )
            with on(self.today, when, timedelta(minutes=90)):
                sign(self.session, result, SignatureMeaning.VERIFIED, checker)
