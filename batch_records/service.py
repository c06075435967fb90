"""The rules of materials and training: lot disposition and expiry, units-aware consumption, who is trained."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from batch_records.models import LotConsumption, LotStatus, Material, MaterialLot, TrainingRecord
from lims import clock
from lims.audit import service as audit
from lims.dashboard.service import WorkQueue, register_work_queue
from lims.db import get_record
from lims.errors import Conflict, InvalidInput, LimsError
from lims.identity import service as identity
from lims.identity.models import RoleName, User
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units import IncompatibleUnits, Measurement, is_amount


class LotUnusable(LimsError):
    status_code = 409


class NotTrained(LimsError):
    status_code = 403


# Materials


def list_materials(session: Session) -> list[Material]:
    return list(session.scalars(select(Material).order_by(Material.part_number)))


def get_material(session: Session, material_id: int) -> Material:
    return get_record(session, Material, material_id, "material")


def create_material(session: Session, *, part_number: str, name: str, specification: str,
                    storage_condition: str) -> Material:
    """Register a material the lab buys and uses in batches."""
    part_number = part_number.strip().upper()
    if session.scalar(select(Material.id).where(Material.part_number == part_number)) is not None:
        raise Conflict(f"The part number {part_number} is already registered.", field="part_number")
    material = Material(part_number=part_number, name=name, specification=specification,
                        storage_condition=storage_condition, created_at=clock.now())
    session.add(material)
    session.flush()
    return material


# Lots


def get_lot(session: Session, lot_id: int) -> MaterialLot:
    return get_record(session, MaterialLot, lot_id, "lot")


def receive_lot(session: Session, material: Material, *, supplier: str, supplier_lot: str, received_on: date,
                expires_on: date, quantity: Measurement, user: User) -> MaterialLot:
    """Receive a lot into quarantine under a new internal lot number."""
    if received_on > clock.now().date():
        raise InvalidInput("A lot cannot be received on a future date.", field="received_on")
    if expires_on <= received_on:
        raise InvalidInput("The lot expires before or on the day it was received.", field="expires_on")
    if not is_amount(quantity):
        raise InvalidInput(f"{quantity} is not an amount of material: give a volume, a mass or a count, "
                           "e.g. 500 mL, 25 g or 20.", field="quantity")
    if quantity.value <= 0:
        raise InvalidInput("The quantity received must be more than zero.", field="quantity")
    sequence = (session.scalar(select(func.count(MaterialLot.id)).where(MaterialLot.material_id == material.id))
                or 0) + 1
    lot = MaterialLot(material=material, lot_number=f"{material.part_number}-{received_on:%y%m%d}-{sequence:03d}",
                      supplier=supplier, supplier_lot=supplier_lot, received_on=received_on, expires_on=expires_on,
                      quantity_received=quantity, quantity_remaining=quantity, status=LotStatus.QUARANTINE,
                      received_by_id=user.id)
    session.add(lot)
    session.flush()
    return lot


@dataclass(frozen=True)
class Usability:
    usable: bool
    reason: str


def usability(lot: MaterialLot, on: date) -> Usability:
    """Whether a lot may be used on ``on``, and why not: expiry overrules whatever the status says."""
    if lot.expires_on < on:
        return Usability(False, f"expired on {lot.expires_on.isoformat()}")
    if lot.status == LotStatus.QUARANTINE:
        return Usability(False, "in quarantine: not released by QA")
    if lot.status == LotStatus.REJECTED:
        return Usability(False, "rejected by QA")
    if lot.quantity_remaining.value <= 0:
        return Usability(False, "used up")
    return Usability(True, "released")


def usable_lots(session: Session, material: Material) -> list[MaterialLot]:
    """Released, unexpired lots with something left, the first to expire first (for pickers)."""
    today = clock.now().date()
    return [lot for lot in session.scalars(select(MaterialLot).where(
        MaterialLot.material_id == material.id, MaterialLot.status == LotStatus.RELEASED,
        MaterialLot.expires_on >= today).order_by(MaterialLot.expires_on)) if usability(lot, today).usable]


def consume(session: Session, lot: MaterialLot, quantity: Measurement, *, user: User, record_type: str,
            record_id: object) -> LotConsumption:
    """Take ``quantity`` from a usable lot, in any compatible unit, for the record it serves."""
    state = usability(lot, clock.now().date())
    if not state.usable:
        raise LotUnusable(f"Lot {lot.lot_number} of {lot.material.name} cannot be used: {state.reason}.")
    try:
        taken = quantity.to(lot.quantity_remaining.unit)
    except IncompatibleUnits as error:
        raise InvalidInput(f"{quantity} cannot be taken from a lot counted in {lot.quantity_remaining.unit}.",
                           field="quantity") from error
    if taken.value <= 0:
        raise InvalidInput("The quantity used must be more than zero.", field="quantity")
    if taken.value > lot.quantity_remaining.value:
        raise LotUnusable(f"Lot {lot.lot_number} has only {lot.quantity_remaining} left; {quantity} was asked for.")
    consumption = LotConsumption(lot_id=lot.id, quantity=quantity, used_at=clock.now(), user_id=user.id,
                                 record_type=record_type, record_id=str(record_id))
    session.add(consumption)
    with audit.reason_for_change(session, f"{quantity} used for {record_type} {record_id}"):
        lot.quantity_remaining = Measurement(lot.quantity_remaining.value - taken.value, lot.quantity_remaining.unit)
    return consumption


def consumptions(session: Session, lot: MaterialLot) -> list[LotConsumption]:
    return list(session.scalars(select(LotConsumption).where(LotConsumption.lot_id == lot.id)
                                .order_by(LotConsumption.used_at)))


def reject_lot(session: Session, lot: MaterialLot, *, reason: str, user: User, password: str,
               client_address: str | None = None) -> MaterialLot:
    """QA rejects a lot in quarantine, stating why, with a signature."""
    if not reason.strip():
        raise InvalidInput("Give the reason for rejecting the lot.", field="reason")
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}, not in quarantine.")
    # The password is proven before the reason is written: a refused signature
    # must leave the lot as it was, even though its failed attempt is kept.
    identity.reauthenticate(session, user, password=password, client_address=client_address)
    with audit.reason_for_change(session, "Rejection reason stated"):
        lot.rejection_reason = reason.strip()
    signatures.sign(session, lot, meaning=SignatureMeaning.REJECTED, user=user, password=password,
                    client_address=client_address)
    return lot


def _check_disposition(_session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    if lot.status != LotStatus.QUARANTINE:
        raise Conflict(f"Lot {lot.lot_number} is {lot.status.value}; only a lot in quarantine gets a disposition.")
    if meaning == SignatureMeaning.RELEASED and lot.expires_on < clock.now().date():
        raise LotUnusable(f"Lot {lot.lot_number} expired on {lot.expires_on.isoformat()} and cannot be released.")
    if meaning == SignatureMeaning.REJECTED and not lot.rejection_reason:
        raise InvalidInput("State the reason for rejecting the lot on its page.", field="reason")


def _apply_disposition(session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    with audit.reason_for_change(session, f"Lot {meaning.value} by QA"):
        lot.status = LotStatus.RELEASED if meaning == SignatureMeaning.RELEASED else LotStatus.REJECTED


signatures.register_signable(
    MaterialLot,
    {SignatureMeaning.RELEASED: frozenset({RoleName.QA}), SignatureMeaning.REJECTED: frozenset({RoleName.QA})},
    before_signing=_check_disposition,
    after_signing=_apply_disposition,
)


def lots_awaiting_release(session: Session) -> list[MaterialLot]:
    return list(session.scalars(select(MaterialLot).where(MaterialLot.status == LotStatus.QUARANTINE)
                                .order_by(MaterialLot.received_on)))


register_work_queue(WorkQueue(
    title="Lots in quarantine",
    description="Received material lots waiting for QA's release or rejection.",
    roles=frozenset({RoleName.QA}),
    count=lambda session, _user, _settings: len(lots_awaiting_release(session)),
    endpoint="batch_records.materials",
))


# Training


def record_training(session: Session, *, user: User, subject: str, trained_on: date, expires_on: date | None,
                    recorded_by: User) -> TrainingRecord:
    """Record that ``user`` is trained on ``subject`` (a master batch record version or an SOP)."""
    if trained_on > clock.now().date():
        raise InvalidInput("Training cannot be recorded for a future date.", field="trained_on")
    if expires_on is not None and expires_on <= trained_on:
        raise InvalidInput("The training expires before or on the day it was given.", field="expires_on")
    record = TrainingRecord(user_id=user.id, subject=subject.strip(), trained_on=trained_on, expires_on=expires_on,
                            recorded_by_id=recorded_by.id)
    session.add(record)
    session.flush()
    return record


def require_training(session: Session, user: User, subject: str, *, on: date | None = None) -> None:
    """Refuse ``user`` unless a training record on ``subject`` is in force on ``on`` (today by default)."""
    on = on or clock.now().date()
    in_force = session.scalar(select(TrainingRecord.id).where(
        TrainingRecord.user_id == user.id, TrainingRecord.subject == subject, TrainingRecord.trained_on <= on,
        or_(TrainingRecord.expires_on.is_(None), TrainingRecord.expires_on >= on)).limit(1))
    if in_force is None:
        raise NotTrained(f"{user.full_name} has no training on {subject} in force on {on.isoformat()}.")


def training_records(session: Session, *, user: User | None = None) -> list[TrainingRecord]:
    query = select(TrainingRecord).order_by(TrainingRecord.subject, TrainingRecord.trained_on.desc())
    if user is not None:
        query = query.where(TrainingRecord.user_id == user.id)
    return list(session.scalars(query))
