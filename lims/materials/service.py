"""The rules of materials and lots: registration, receipt into quarantine, QA's disposition, expiry and
units-aware consumption for the records of other areas."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Numeric, and_, cast, exists, func, or_, select
from sqlalchemy.orm import Session, selectinload

from lims import clock, registry
from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.db import get_record, lock_for_update, serialise_numbering
from lims.errors import AlreadyExists, DateInFuture, DatesOutOfOrder, OutOfRange
from lims.identity.models import User
from lims.materials.errors import (
    LotExhausted,
    LotExpired,
    LotNotInQuarantine,
    LotNotReleased,
    LotUnusable,
    NotAnAmount,
    NotInMaterialUnit,
)
from lims.materials.models import LotConsumption, LotStatus, Material, MaterialLot
from lims.pagination import PICKER_SIZE, REFUSED_SHOWN, KeysetPage, Page, page_after, paginate
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning
from lims.units.errors import IncompatibleUnits, UnitError
from lims.units.measurement import Measurement, is_amount
from lims.units.parsing import unit_text
from lims.units.registry import describe_dimension, parse_unit

#: lots in quarantine listed a page at a time
LOTS_PER_PAGE = 50

# Materials


def list_materials(session: Session) -> list[Material]:
    return list(session.scalars(select(Material).order_by(Material.part_number)))


def get_material(session: Session, material_id: int) -> Material:
    return get_record(session, Material, material_id, "material")


def create_material(
    session: Session, *, part_number: str, name: str, specification: str, storage_condition: str, unit: str
) -> Material:
    """Register a material the lab buys and uses in batches, counted in ``unit`` (a volume, a mass or a count;
    "" for items)."""
    part_number = part_number.strip().upper()
    if session.scalar(select(Material.id).where(Material.part_number == part_number)) is not None:
        raise AlreadyExists(f"The part number {part_number} is already registered.", field="part_number")
    try:
        unit = unit_text(unit)
    except UnitError as error:
        raise UnitError(error.message, field="unit") from error
    if not is_amount(Measurement(Decimal(1), unit)):
        raise NotAnAmount(
            f"{unit} does not count material: give a unit of volume, mass or count, e.g. mL, g, IU or cells; "
            "leave it empty for items.",
            field="unit",
        )
    material = Material(
        part_number=part_number,
        name=name,
        specification=specification,
        storage_condition=storage_condition,
        unit=unit,
        created_at=clock.now(),
    )
    session.add(material)
    session.flush()
    return material


# Lots


def get_lot(session: Session, lot_id: int) -> MaterialLot:
    return get_record(session, MaterialLot, lot_id, "lot")


def receive_lot(
    session: Session,
    material: Material,
    *,
    supplier: str,
    supplier_lot: str,
    received_on: date,
    expires_on: date,
    quantity: Measurement,
    user: User,
) -> MaterialLot:
    """Receive a lot into quarantine under a new internal lot number."""
    if received_on > clock.today():
        raise DateInFuture("A lot cannot be received on a future date.", field="received_on")
    if expires_on <= received_on:
        raise DatesOutOfOrder("The lot expires before or on the day it was received.", field="expires_on")
    if not is_amount(quantity):
        raise NotAnAmount(
            f"{quantity} is not an amount of material: give a volume, a mass or a count, e.g. 500 mL, 25 g or 20.",
            field="quantity",
        )
    if quantity.value <= 0:
        raise OutOfRange("The quantity received must be more than zero.", field="quantity")
    require_in_material_unit(material, quantity)
    serialise_numbering(session, "lot number")
    sequence = (
        session.scalar(select(func.count(MaterialLot.id)).where(MaterialLot.material_id == material.id)) or 0
    ) + 1
    lot = MaterialLot(
        material=material,
        lot_number=f"{material.part_number}-{received_on:%y%m%d}-{sequence:03d}",
        supplier=supplier,
        supplier_lot=supplier_lot,
        received_on=received_on,
        expires_on=expires_on,
        quantity_received=quantity,
        quantity_remaining=quantity,
        status=LotStatus.QUARANTINE,
        received_by_id=user.id,
    )
    session.add(lot)
    session.flush()
    return lot


def require_in_material_unit(material: Material, quantity: Measurement) -> None:
    """Refuse a quantity of another dimension than the material's unit (mL of a material counted in IU)."""
    try:
        quantity.to(material.unit)
    except IncompatibleUnits as error:
        counted_in = material.unit or "items"
        raise NotInMaterialUnit(
            f"{material.part_number} is counted in {counted_in}: {quantity} is "
            f"{describe_dimension(quantity.quantity.units)}, not {describe_dimension(parse_unit(material.unit))}.",
            field="quantity",
        ) from error


@dataclass(frozen=True)
class Usability:
    reason: str
    #: how a use of the lot is refused, None when it may be used
    refusal: type[LotUnusable] | None = None

    @property
    def usable(self) -> bool:
        return self.refusal is None


def usability(lot: MaterialLot, on: date) -> Usability:
    """Whether a lot may be used on ``on``, and why not: expiry overrules whatever the status says."""
    if lot.expires_on < on:
        return Usability(f"expired on {lot.expires_on.isoformat()}", LotExpired)
    if lot.status == LotStatus.QUARANTINE:
        return Usability("in quarantine: not released by QA", LotNotReleased)
    if lot.status == LotStatus.REJECTED:
        return Usability("rejected by QA", LotNotReleased)
    if lot.quantity_remaining.value <= 0:
        return Usability("used up", LotExhausted)
    return Usability("released")


def lots_page(session: Session, material: Material, *, page: int, per_page: int = LOTS_PER_PAGE) -> Page[MaterialLot]:
    """A page of the material's lots, those expiring last first: the lots in use come before years of used ones."""
    query = (
        select(MaterialLot)
        .where(MaterialLot.material_id == material.id)
        .order_by(MaterialLot.expires_on.desc(), MaterialLot.id.desc())
    )
    return paginate(session, query, page=page, per_page=per_page)


def _usable_on(today: date) -> list[ColumnElement[bool]]:
    """The SQL of ``usability``'s usable lot: released, not expired on ``today``, something left."""
    return [
        MaterialLot.status == LotStatus.RELEASED,
        MaterialLot.expires_on >= today,
        cast(MaterialLot.__table__.c.quantity_remaining_value, Numeric) > 0,
    ]


def _matching(text: str) -> list[ColumnElement[bool]]:
    if not text:
        return []
    return [
        or_(
            MaterialLot.lot_number.icontains(text, autoescape=True),
            MaterialLot.supplier_lot.icontains(text, autoescape=True),
        )
    ]


def usable_lots(
    session: Session,
    material: Material,
    *,
    text: str = "",
    after: tuple[Any, ...] | None = None,
    limit: int = PICKER_SIZE,
) -> KeysetPage[MaterialLot]:
    """The material's lots usable today matching ``text`` (lot or supplier lot number), first to expire first, from
    just after the (expiry, id) ``after``: a picker's page, filtered and limited in SQL."""
    query = select(MaterialLot).where(
        MaterialLot.material_id == material.id, *_usable_on(clock.today()), *_matching(text)
    )
    return page_after(session, query, (MaterialLot.expires_on, MaterialLot.id), after=after, limit=limit)


def unusable_lots(
    session: Session, material: Material, *, text: str = "", limit: int = REFUSED_SHOWN
) -> list[tuple[MaterialLot, Usability]]:
    """The material's lots matching ``text`` that may not be used today, latest expiry first, each with why (what a
    picker names but does not offer)."""
    today = clock.today()
    lots = session.scalars(
        select(MaterialLot)
        .where(MaterialLot.material_id == material.id, ~and_(*_usable_on(today)), *_matching(text))
        .order_by(MaterialLot.expires_on.desc(), MaterialLot.id.desc())
        .limit(limit)
    )
    return [(lot, usability(lot, today)) for lot in lots]


def materials_without_usable_lot(session: Session) -> set[int]:
    """The materials no lot of which may be used today, in one query."""
    usable = select(MaterialLot.id).where(MaterialLot.material_id == Material.id, *_usable_on(clock.today()))
    return set(session.scalars(select(Material.id).where(~exists(usable))))


def materials_with_a_usable_lot(session: Session, material_ids: Iterable[int]) -> set[int]:
    """Which of the materials have a lot usable today, in one query."""
    wanted = set(material_ids)
    if not wanted:
        return set()
    return set(
        session.scalars(
            select(MaterialLot.material_id)
            .where(MaterialLot.material_id.in_(wanted), *_usable_on(clock.today()))
            .distinct()
        )
    )


def lots_to_explain(
    session: Session, material_ids: Iterable[int], *, per_material: int = 3
) -> dict[int, list[MaterialLot]]:
    """Per material, its newest lots (by expiry), in one query: what a material without a usable lot has instead."""
    wanted = set(material_ids)
    found: dict[int, list[MaterialLot]] = {material_id: [] for material_id in wanted}
    if not wanted:
        return found
    newest = (
        select(
            MaterialLot.id,
            func.row_number()
            .over(partition_by=MaterialLot.material_id, order_by=(MaterialLot.expires_on.desc(), MaterialLot.id.desc()))
            .label("rank"),
        )
        .where(MaterialLot.material_id.in_(wanted))
        .subquery()
    )
    lots = session.scalars(
        select(MaterialLot)
        .join(newest, newest.c.id == MaterialLot.id)
        .where(newest.c.rank <= per_material)
        .options(selectinload(MaterialLot.material))
        .order_by(MaterialLot.expires_on.desc(), MaterialLot.id.desc())
    )
    for lot in lots:
        found[lot.material_id].append(lot)
    return found


def consume(
    session: Session, lot: MaterialLot, quantity: Measurement, *, user: User, record_type: str, record_id: object
) -> LotConsumption:
    """Take ``quantity`` from a usable lot, in any compatible unit, for the record it serves."""
    lock_for_update(session, lot)  # two takings from one lot must not both see its old quantity
    state = usability(lot, clock.today())
    if state.refusal is not None:
        raise state.refusal(f"Lot {lot.lot_number} of {lot.material.name} cannot be used: {state.reason}.")
    try:
        taken = quantity.to(lot.quantity_remaining.unit)
    except IncompatibleUnits as error:
        raise IncompatibleUnits(
            f"{quantity} cannot be taken from a lot counted in {lot.quantity_remaining.unit}.", field="quantity"
        ) from error
    if taken.value <= 0:
        raise OutOfRange("The quantity used must be more than zero.", field="quantity")
    if taken.value > lot.quantity_remaining.value:
        raise LotExhausted(f"Lot {lot.lot_number} has only {lot.quantity_remaining} left; {quantity} was asked for.")
    consumption = LotConsumption(
        lot_id=lot.id,
        quantity=quantity,
        used_at=clock.now(),
        user_id=user.id,
        record_type=record_type,
        record_id=str(record_id),
    )
    with audit_context.reason_for_change(session, f"{quantity} used for {record_type} {record_id}"):
        session.add(consumption)
        lot.quantity_remaining = Measurement(lot.quantity_remaining.value - taken.value, lot.quantity_remaining.unit)
    return consumption


@dataclass(frozen=True)
class ConsumingRecord:
    """A record a lot's material went into (a batch step, a sample preparation), as the lot's page links to it."""

    kind: str
    label: str
    endpoint: str
    arguments: tuple[tuple[str, int], ...]


def consumptions(session: Session, lot: MaterialLot) -> list[tuple[LotConsumption, ConsumingRecord | None]]:
    """What was taken from a lot, with the record it went into (for tracing a lot to its batches)."""
    taken = list(
        session.scalars(
            select(LotConsumption)
            .where(LotConsumption.lot_id == lot.id)
            .order_by(LotConsumption.used_at)
            .options(selectinload(LotConsumption.user))
        )
    )
    ids_by_type: dict[str, list[str]] = defaultdict(list)
    for consumption in taken:
        ids_by_type[consumption.record_type].append(consumption.record_id)
    # The areas that take material from lots register how to find their records (lims.registry).
    finders = registry.current().consuming_record_finders
    found = {
        (record_type, record_id): record
        for record_type, record_ids in ids_by_type.items()
        if record_type in finders
        for record_id, record in finders[record_type](session, record_ids).items()
    }
    return [(consumption, found.get((consumption.record_type, consumption.record_id))) for consumption in taken]


def reject_lot(
    session: Session, lot: MaterialLot, *, reason: str, user: User, password: str, client_address: str | None = None
) -> MaterialLot:
    """QA rejects a lot in quarantine, stating why, with a signature."""
    if not reason.strip():
        raise ReasonRequired("Give the reason for rejecting the lot.")
    if lot.status != LotStatus.QUARANTINE:
        raise LotNotInQuarantine(f"Lot {lot.lot_number} is {lot.status.value}, not in quarantine.")
    # The password is proven before the reason is written: a refused signature
    # must leave the lot as it was, even though its failed attempt is kept.
    signatures.reauthenticate_to_sign(
        session, lot, SignatureMeaning.REJECTED, user, password=password, client_address=client_address
    )
    with audit_context.reason_for_change(session, "Rejection reason stated"):
        lot.rejection_reason = reason.strip()
    signatures.sign(
        session, lot, meaning=SignatureMeaning.REJECTED, user=user, password=password, client_address=client_address
    )
    return lot


def check_lot_disposition(_session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    if lot.status != LotStatus.QUARANTINE:
        raise LotNotInQuarantine(
            f"Lot {lot.lot_number} is {lot.status.value}; only a lot in quarantine gets a disposition."
        )
    if meaning == SignatureMeaning.RELEASED and lot.expires_on < clock.today():
        raise LotExpired(f"Lot {lot.lot_number} expired on {lot.expires_on.isoformat()} and cannot be released.")
    if meaning == SignatureMeaning.REJECTED and not lot.rejection_reason:
        raise ReasonRequired("State the reason for rejecting the lot on its page.")


def apply_lot_disposition(session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User) -> None:
    with audit_context.reason_for_change(session, f"Lot {meaning.value} by QA"):
        lot.status = LotStatus.RELEASED if meaning == SignatureMeaning.RELEASED else LotStatus.REJECTED


def count_awaiting_release(session: Session) -> int:
    """How many lots wait in quarantine for QA's release or rejection, in one statement."""
    return session.scalar(select(func.count(MaterialLot.id)).where(MaterialLot.status == LotStatus.QUARANTINE)) or 0


def lots_awaiting_release(
    session: Session, *, after: tuple[date, int] | None = None, limit: int = LOTS_PER_PAGE
) -> KeysetPage[MaterialLot]:
    """Lots in quarantine, first received first, a page after ``after`` (received on, id)."""
    query = (
        select(MaterialLot)
        .where(MaterialLot.status == LotStatus.QUARANTINE)
        .options(selectinload(MaterialLot.material))
    )
    return page_after(session, query, (MaterialLot.received_on, MaterialLot.id), after=after, limit=limit)


def lot_counts(session: Session) -> dict[int, int]:
    """How many lots of each material were received, by material id, in one statement."""
    counted = session.execute(
        select(MaterialLot.material_id, func.count(MaterialLot.id)).group_by(MaterialLot.material_id)
    )
    return {material_id: count for material_id, count in counted}


def next_after_lot_disposition(
    _session: Session, lot: MaterialLot, meaning: SignatureMeaning, _user: User
) -> signatures.NextStep:
    """After QA's disposition of a lot: what it means for its use, and the next lot waiting in quarantine."""
    done = (
        f"Lot {lot.lot_number} can be taken for batches until it expires on {lot.expires_on.isoformat()}."
        if meaning == SignatureMeaning.RELEASED
        else f"Lot {lot.lot_number} is rejected: it is never offered for use."
    )
    return signatures.NextStep(done, "Lots in quarantine", "materials.index")
