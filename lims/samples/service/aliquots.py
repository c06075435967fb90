"""Aliquots: a received sample split into child samples, each with its own accession number and volume.

The children take no more than what remains of the parent: its volume received (or, failing that, the quantity
its manifest states) less every aliquot taken before, all compared as exact decimals in the parent's unit through
``lims.units``, whatever units the volumes are typed in. The parent's row is locked while it is split, so two
splits at once cannot both take the last millilitre.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session, selectinload

from lims.audit import context as audit_context
from lims.db import lock_for_update
from lims.identity.models import User
from lims.samples.errors import AliquotRefused, CustodyRefused
from lims.samples.models import Sample, SampleStatus
from lims.samples.service import custody, events
from lims.samples.service.accessioning import next_accession_number
from lims.samples.storage_models import Aliquot, CustodyAction, CustodyState
from lims.units.errors import IncompatibleUnits
from lims.units.measurement import Measurement, format_value, is_amount

#: the most aliquots one split makes
MAX_ALIQUOTS = 48
_CLIENT_SAMPLE_ID_LENGTH = 64
_SPLITTABLE = frozenset({SampleStatus.RECEIVED, SampleStatus.IN_TESTING})


def volume_of(sample: Sample) -> Measurement | None:
    """What the sample held when it arrived: the volume received, else the quantity its manifest states."""
    return sample.received_volume or sample.quantity


def _in_unit(volume: Measurement, unit: str, parent: Sample) -> Decimal:
    try:
        return volume.to(unit).value
    except IncompatibleUnits:
        raise AliquotRefused(
            f"{volume} cannot be taken from {custody.name_of(parent)}, which is measured in {unit}; give each "
            f"aliquot's volume in a unit of the same kind (e.g. µL or mL).",
            field="volumes",
        ) from None


def remaining(session: Session, parent: Sample) -> Measurement | None:
    """What is left of the sample after the aliquots taken from it, in its own unit (None: no volume recorded)."""
    whole = volume_of(parent)
    if whole is None:
        return None
    taken = sum((_in_unit(aliquot.volume, whole.unit, parent) for aliquot in children_of(session, parent)), Decimal(0))
    return Measurement(whole.value - taken, whole.unit)


def split(
    session: Session,
    parent: Sample,
    volumes: Sequence[Measurement],
    *,
    user: User,
    at: datetime | None = None,
    note: str | None = None,
) -> list[Sample]:
    """Split an accepted sample into children of the given volumes: each an accessioned sample of the same
    submission, type and storage requirement, linked to its parent, and an "aliquoted" link in both chains."""
    name = custody.name_of(parent)
    if parent.status not in _SPLITTABLE:
        raise AliquotRefused(f"{name} is {parent.status.value}; aliquots are split from an accepted sample.")
    if not 1 <= len(volumes) <= MAX_ALIQUOTS:
        raise AliquotRefused(f"Give the volumes of 1 to {MAX_ALIQUOTS} aliquots.", field="volumes")
    lock_for_update(session, parent)
    location = custody.location_of(session, parent, lock=True)
    if location.state not in (CustodyState.AT_LAB, CustodyState.STORED):
        raise CustodyRefused(f"{name} is {location.state.value}; it is split while it is at the lab.")
    left = remaining(session, parent)
    if left is None:
        raise AliquotRefused(
            f"{name} has no volume recorded (neither received nor on its manifest), so what it can give is unknown.",
            field="volumes",
        )
    for volume in volumes:
        if not is_amount(volume) or volume.value <= 0:
            raise AliquotRefused(
                f"{volume} is not a volume to take; give each aliquot's, e.g. 500 µL.", field="volumes"
            )
    total = sum((_in_unit(volume, left.unit, parent) for volume in volumes), Decimal(0))
    if total > left.value:
        whole = volume_of(parent)
        raise AliquotRefused(
            f"The aliquots come to {format_value(total)} {left.unit}, but only {left} of {name} remains "
            f"({whole} at receipt, less the aliquots already taken); reduce them by "
            f"{format_value(total - left.value)} {left.unit}.",
            field="volumes",
        )
    moment = custody.occurred(session, parent, at)
    place = custody.place_text(location)
    if parent.processed_at is None or parent.processed_at > moment:
        # Splitting is processing: the parent no longer waits, and whether it was split in time stays on record.
        with audit_context.reason_for_change(session, "Split into aliquots"):
            parent.processed_at = moment
    children = _children(session, parent, volumes, user=user, at=moment)
    listed = ", ".join(f"{child.accession_number} ({child.received_volume})" for child in children)
    custody.record(
        session,
        parent,
        CustodyAction.ALIQUOTED,
        user=user,
        at=moment,
        from_location=place,
        to_location=place,
        note=f"Split into {listed}" + (f". {note.strip()}" if note and note.strip() else ""),
    )
    for child in children:
        custody.location_of(session, child)
        custody.record(
            session,
            child,
            CustodyAction.ALIQUOTED,
            user=user,
            at=moment,
            from_location=place,
            to_location=CustodyState.AT_LAB.value,
            note=f"Aliquot of {name}",
        )
    return children


def _children(
    session: Session, parent: Sample, volumes: Sequence[Measurement], *, user: User, at: datetime
) -> list[Sample]:
    last_line = session.scalar(select(func.max(Sample.line)).where(Sample.submission_id == parent.submission_id)) or 0
    before = session.scalar(select(func.count()).where(Aliquot.parent_id == parent.id)) or 0
    children = []
    for offset, volume in enumerate(volumes, start=1):
        suffix = f"-A{before + offset}"
        child = Sample(
            public_id=events.new_public_id(),
            submission_id=parent.submission_id,
            organization_id=parent.organization_id,
            line=last_line + offset,
            client_sample_id=parent.client_sample_id[: _CLIENT_SAMPLE_ID_LENGTH - len(suffix)] + suffix,
            sample_type=parent.sample_type,
            protocol_id=parent.protocol_id,
            subject_id=parent.subject_id,
            visit_id=parent.visit_id,
            collected_at=parent.collected_at,
            quantity=volume,
            container=parent.container,
            storage_requirement=parent.storage_requirement,
            storage_minimum=parent.storage_minimum,
            storage_maximum=parent.storage_maximum,
            requested_tests="",
            status=SampleStatus.RECEIVED,
            on_manifest=parent.on_manifest,
            accession_number=next_accession_number(session),
            received_at=at,
            received_by_id=user.id,
            container_intact=True,
            received_volume=volume,
            receipt_note=f"Aliquot of {custody.name_of(parent)}",
            stability_deadline=parent.stability_deadline,
            processed_at=at,
        )
        session.add(child)
        session.flush()
        session.add(
            Aliquot(parent_id=parent.id, child_id=child.id, volume=volume, created_at=at, created_by_id=user.id)
        )
        children.append(child)
    session.flush()
    return children


def children_of(session: Session, parent: Sample) -> list[Aliquot]:
    """The aliquots taken from a sample, oldest first, each with its child sample."""
    return list(
        session.scalars(
            select(Aliquot)
            .options(selectinload(Aliquot.child))
            .where(Aliquot.parent_id == parent.id)
            .order_by(Aliquot.id)
        )
    )


@dataclass(frozen=True)
class Lineage:
    #: the aliquot this sample is, with its parent; None for a sample that arrived as it is
    parent: Aliquot | None
    children: list[Aliquot]
    remaining: Measurement | None


def lineage(session: Session, sample: Sample) -> Lineage:
    """Where a sample comes from and what was split from it: a fixed number of queries."""
    parent = session.scalar(select(Aliquot).options(selectinload(Aliquot.parent)).where(Aliquot.child_id == sample.id))
    children = children_of(session, sample)
    whole = volume_of(sample)
    left = None
    if whole is not None:
        taken = sum((_in_unit(aliquot.volume, whole.unit, sample) for aliquot in children), Decimal(0))
        left = Measurement(whole.value - taken, whole.unit)
    return Lineage(parent, children, left)
