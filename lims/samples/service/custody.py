"""Chain of custody: every move of a received sample is an event (who, when, from where to where, at what
temperature), in order; and where each sample is now, one place at a time.

A sample's place is one ``SampleLocation`` row (unique per sample): the lab, a box position, out for testing,
shipped or disposed. Every change of place takes that row's lock, checks the move is possible from where the
sample is, and records the event in the same transaction; the client's feed announces it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, joinedload, selectinload

from lims import clock
from lims.audit import context as audit_context
from lims.errors import DateInFuture, DetailMissing
from lims.identity.models import User
from lims.pagination import KeysetPage, page_after
from lims.samples.errors import CustodyOutOfOrder, CustodyRefused, ReceiptRefused
from lims.samples.models import ARRIVED, Sample, SampleStatus
from lims.samples.service import events
from lims.samples.storage_models import (
    CustodyAction,
    CustodyEvent,
    CustodyState,
    SampleLocation,
    StorageBox,
    StorageRack,
)
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement

#: where a sample is when it has just been received
RECEIVING = "Receiving"
#: the actions a technician records by hand on a sample's custody page (storing and moving are done at a box)
MANUAL_ACTIONS = (
    CustodyAction.SENT_FOR_TESTING,
    CustodyAction.RETURNED,
    CustodyAction.SHIPPED,
    CustodyAction.DISPOSED,
)
#: from which places each action may be taken, and the place it leaves the sample in
_MOVES: dict[CustodyAction, tuple[frozenset[CustodyState], CustodyState]] = {
    CustodyAction.STORED: (frozenset({CustodyState.AT_LAB}), CustodyState.STORED),
    CustodyAction.MOVED: (frozenset({CustodyState.STORED}), CustodyState.STORED),
    CustodyAction.SENT_FOR_TESTING: (frozenset({CustodyState.AT_LAB, CustodyState.STORED}), CustodyState.IN_TESTING),
    CustodyAction.RETURNED: (frozenset({CustodyState.IN_TESTING}), CustodyState.AT_LAB),
    CustodyAction.SHIPPED: (frozenset({CustodyState.AT_LAB, CustodyState.STORED}), CustodyState.SHIPPED),
    CustodyAction.DISPOSED: (
        frozenset({CustodyState.AT_LAB, CustodyState.STORED, CustodyState.IN_TESTING}),
        CustodyState.DISPOSED,
    ),
}
#: actions whose note says why or where to, and cannot be left out
_NOTE_REQUIRED = {
    CustodyAction.SHIPPED: "Say where the sample is shipped to.",
    CustodyAction.DISPOSED: "Give the reason for disposing of the sample.",
}


def name_of(sample: Sample) -> str:
    return sample.accession_number or sample.client_sample_id


def check_temperature(temperature: Measurement | None, field: str = "temperature") -> None:
    if temperature is None:
        return
    try:
        temperature.to("degC")
    except IncompatibleUnits:
        raise ReceiptRefused(f"{temperature} is not a temperature; enter e.g. -78 °C.", field=field) from None


def location_of(session: Session, sample: Sample, *, lock: bool = False) -> SampleLocation:
    """Where a received sample is now (at the lab until it is first stored); ``lock`` holds its row to the end of
    the transaction, so that no one else moves it meanwhile."""
    if sample.status not in ARRIVED:
        raise CustodyRefused(f"{name_of(sample)} has not arrived at the lab; it is {sample.status.value}.")
    query = select(SampleLocation).where(SampleLocation.sample_id == sample.id)
    if lock:
        query = query.with_for_update().execution_options(populate_existing=True)
    location = session.scalar(query)
    if location is None:
        location = SampleLocation(
            sample_id=sample.id,
            organization_id=sample.organization_id,
            state=CustodyState.AT_LAB,
            since=sample.received_at or clock.now(),
        )
        session.add(location)
        session.flush()
    return location


def place_text(location: SampleLocation) -> str:
    """Where a sample is, in the words of its custody events."""
    if location.state == CustodyState.STORED and location.box is not None:
        assert location.position_row is not None and location.position_column is not None
        return f"{location.box.path} / {position_label(location.position_row, location.position_column)}"
    return location.state.value


def position_label(row: int, column: int) -> str:
    return f"{chr(ord('A') + row - 1)}{column}"


def occurred(session: Session, sample: Sample, at: datetime | None) -> datetime:
    """When an event happened: now unless given; never in the future, never before the sample's last event."""
    moment = at or clock.now()
    if moment > clock.now():
        raise DateInFuture("A custody event cannot be dated in the future.", field="occurred_at")
    last = session.scalar(select(func.max(CustodyEvent.occurred_at)).where(CustodyEvent.sample_id == sample.id))
    if last is not None and moment < last:
        raise CustodyOutOfOrder(
            f"{name_of(sample)}'s last custody event is at {last.astimezone(clock.facility_zone()):%Y-%m-%d %H:%M}; "
            "a later one cannot be dated before it.",
            field="occurred_at",
        )
    return moment


def require_move(location: SampleLocation, sample: Sample, action: CustodyAction) -> CustodyState:
    """The place ``action`` leaves the sample in; CustodyRefused, in the lab's words, if it cannot be taken."""
    allowed_from, to = _MOVES[action]
    if location.state in allowed_from:
        return to
    name = name_of(sample)
    if location.state == CustodyState.STORED:
        where = place_text(location)
        if action == CustodyAction.STORED:
            raise CustodyRefused(f"{name} is already stored in {where}; move it instead of storing it again.")
        raise CustodyRefused(f"{name} is stored in {where}; it cannot be {action.value} from there.")
    if location.state in (CustodyState.SHIPPED, CustodyState.DISPOSED):
        raise CustodyRefused(
            f"{name} has been {location.state.value}; it is no longer at the lab to be {action.value}."
        )
    if location.state == CustodyState.IN_TESTING:
        raise CustodyRefused(f"{name} is out for testing; record its return before it is {action.value}.")
    raise CustodyRefused(f"{name} is not in storage; store it before it is {action.value}.")


def record(
    session: Session,
    sample: Sample,
    action: CustodyAction,
    *,
    user: User,
    at: datetime,
    from_location: str | None,
    to_location: str | None,
    temperature: Measurement | None = None,
    note: str | None = None,
    announce: bool = True,
) -> CustodyEvent:
    """Append a custody event to the sample's chain and (``announce``) tell the client in its feed."""
    event = CustodyEvent(
        sample_id=sample.id,
        organization_id=sample.organization_id,
        action=action,
        occurred_at=at,
        by_id=user.id,
        from_location=from_location,
        to_location=to_location,
        temperature=temperature,
        note=(note or "").strip() or None,
    )
    session.add(event)
    session.flush()
    if not announce:
        return event
    events.record_event(
        session,
        "sample.custody",
        submission=sample.submission,
        sample=sample,
        status=sample.status.value,
        data={
            "accession_number": sample.accession_number,
            "action": action.value,
            "location": to_location,
            "occurred_at": at.isoformat(),
        },
    )
    return event


def record_receipt(session: Session, sample: Sample, *, user: User) -> CustodyEvent:
    """The first link of the chain: the sample received at the lab, at its arrival temperature (the client's feed
    announces the receipt itself)."""
    assert sample.received_at is not None
    return record(
        session,
        sample,
        CustodyAction.RECEIVED,
        user=user,
        at=sample.received_at,
        from_location=None,
        to_location=RECEIVING,
        temperature=sample.arrival_temperature,
        note=None if sample.status == SampleStatus.RECEIVED else f"Rejected: {sample.rejection_reason}",
        announce=False,
    )


def move(
    session: Session,
    sample: Sample,
    location: SampleLocation,
    action: CustodyAction,
    *,
    user: User,
    at: datetime | None,
    to_box_id: int | None = None,
    to_position: tuple[int, int] | None = None,
    to_location: str | None = None,
    temperature: Measurement | None = None,
    note: str | None = None,
) -> CustodyEvent:
    """Take ``action`` on a sample whose location row is locked: check it, change its place, record the event."""
    to_state = require_move(location, sample, action)
    check_temperature(temperature)
    if action in _NOTE_REQUIRED and not (note or "").strip():
        raise DetailMissing(_NOTE_REQUIRED[action], field="note")
    moment = occurred(session, sample, at)
    from_location = place_text(location)
    with audit_context.reason_for_change(session, f"{name_of(sample)} {action.value}"):
        location.state = to_state
        location.box_id = to_box_id
        location.position_row, location.position_column = to_position or (None, None)
        location.since = moment
    session.flush()
    session.refresh(location, ["box"])
    return record(
        session,
        sample,
        action,
        user=user,
        at=moment,
        from_location=from_location,
        to_location=to_location or place_text(location),
        temperature=temperature,
        note=note,
    )


def take_action(
    session: Session,
    sample: Sample,
    action: CustodyAction,
    *,
    user: User,
    at: datetime | None = None,
    temperature: Measurement | None = None,
    note: str | None = None,
) -> CustodyEvent:
    """Send a sample for testing, record its return, ship it or dispose of it (storing and moving go by a box)."""
    if action not in MANUAL_ACTIONS:
        raise CustodyRefused(f"A sample is {action.value} from a storage box's page, not here.")
    location = location_of(session, sample, lock=True)
    return move(session, sample, location, action, user=user, at=at, temperature=temperature, note=note)


def timeline(session: Session, sample: Sample) -> list[CustodyEvent]:
    """The sample's custody events in the order they happened, each with who recorded it."""
    return list(
        session.scalars(
            select(CustodyEvent)
            .options(selectinload(CustodyEvent.by))
            .where(CustodyEvent.sample_id == sample.id)
            .order_by(CustodyEvent.occurred_at, CustodyEvent.id)
        )
    )


def events_after(session: Session, sample: Sample, *, after: tuple[int] | None, limit: int) -> KeysetPage[CustodyEvent]:
    """The sample's custody events oldest first, a page at a time (keyset on the event's id)."""
    query = select(CustodyEvent).options(selectinload(CustodyEvent.by)).where(CustodyEvent.sample_id == sample.id)
    return page_after(session, query, (CustodyEvent.id,), after=after, limit=limit)


def latest_events(session: Session, samples: Sequence[Sample], *, organization_id: int) -> dict[int, CustodyEvent]:
    """Each of an organization's samples' latest custody event (its client's summary of where it is), in one
    query."""
    if not samples:
        return {}
    newest = (
        select(func.max(CustodyEvent.id))
        .where(
            CustodyEvent.organization_id == organization_id,
            CustodyEvent.sample_id.in_([sample.id for sample in samples]),
        )
        .group_by(CustodyEvent.sample_id)
    )
    found = session.scalars(select(CustodyEvent).where(CustodyEvent.id.in_(newest)))
    return {event.sample_id: event for event in found}


def location_state(session: Session, sample: Sample) -> SampleLocation | None:
    """Where the sample is now without creating anything: None before it is received (or first moved). One
    statement, its box's unit and rack joined in, so that a stored sample costs no more than one at the lab."""
    return session.scalar(
        select(SampleLocation)
        .options(joinedload(SampleLocation.box).joinedload(StorageBox.rack).joinedload(StorageRack.unit))
        .where(SampleLocation.sample_id == sample.id)
    )
