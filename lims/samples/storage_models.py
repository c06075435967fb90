"""Where samples are kept and how they got there: storage units (freezers, fridges, LN2 tanks), their racks and
boxes; each received sample's current place; its chain of custody; and the aliquots split from it."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composites)

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User
from lims.samples.models import Sample
from lims.units.columns import measurement_column
from lims.units.measurement import Measurement

#: a box holds at most this many rows (lettered A to Z) and columns
MAX_BOX_SIDE = 26


class StorageKind(enum.StrEnum):
    FREEZER = "freezer"
    FRIDGE = "fridge"
    LN2_TANK = "LN2 tank"


class StorageUnit(Controlled, Base):
    """A freezer, fridge or liquid-nitrogen tank, and the temperatures it holds samples at."""

    __tablename__ = "storage_unit"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    kind: Mapped[StorageKind] = mapped_column(string_enum(StorageKind, "storage_kind"))
    #: the room or area it stands in ("Room 2.14")
    location: Mapped[str] = mapped_column(String(120))
    minimum_temperature: Mapped[Measurement] = measurement_column("minimum_temperature")
    maximum_temperature: Mapped[Measurement] = measurement_column("maximum_temperature")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    racks: Mapped[list[StorageRack]] = relationship(back_populates="unit", order_by="StorageRack.id")

    @property
    def temperature_range(self) -> str:
        low, high = self.minimum_temperature, self.maximum_temperature
        return str(low) if low == high else f"{low} to {high}"


class StorageRack(Controlled, Base):
    """A rack (or canister) in a storage unit, holding boxes."""

    __tablename__ = "storage_rack"
    __table_args__ = (UniqueConstraint("unit_id", "name", name="uq_storage_rack_unit_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("storage_unit.id"))
    name: Mapped[str] = mapped_column(String(60))
    created_at: Mapped[datetime]

    unit: Mapped[StorageUnit] = relationship(back_populates="racks")
    boxes: Mapped[list[StorageBox]] = relationship(back_populates="rack", order_by="StorageBox.id")


class StorageBox(Controlled, Base):
    """A box of rows × columns positions in a rack; each position holds one sample at most.

    Storing into a box locks its row, so that concurrent stores into the same position wait for each other.
    """

    __tablename__ = "storage_box"
    __table_args__ = (
        UniqueConstraint("rack_id", "name", name="uq_storage_box_rack_name"),
        CheckConstraint(f"rows BETWEEN 1 AND {MAX_BOX_SIDE}", name="rows"),
        CheckConstraint(f"columns BETWEEN 1 AND {MAX_BOX_SIDE}", name="columns"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    rack_id: Mapped[int] = mapped_column(ForeignKey("storage_rack.id"), index=True)
    name: Mapped[str] = mapped_column(String(60))
    rows: Mapped[int]
    columns: Mapped[int]
    created_at: Mapped[datetime]

    rack: Mapped[StorageRack] = relationship(back_populates="boxes")

    @property
    def capacity(self) -> int:
        return self.rows * self.columns

    @property
    def path(self) -> str:
        """Where the box is, as the lab says it: unit, rack, box."""
        return f"{self.rack.unit.name} / {self.rack.name} / {self.name}"


class CustodyState(enum.StrEnum):
    #: received and in the lab, not in a storage position (on the bench, back from testing)
    AT_LAB = "at the lab"
    STORED = "stored"
    IN_TESTING = "sent for testing"
    SHIPPED = "shipped"
    DISPOSED = "disposed"


class SampleLocation(Controlled, Base):
    """Where a received sample is now: one row per sample, so it is never in two places; a stored sample names its
    box and position, which no other sample may hold."""

    __tablename__ = "sample_location"
    __table_args__ = (
        UniqueConstraint("box_id", "position_row", "position_column", name="uq_sample_location_position"),
        CheckConstraint("(box_id IS NULL) = (state != 'stored')", name="stored_in_a_box"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    state: Mapped[CustodyState] = mapped_column(string_enum(CustodyState, "custody_state"))
    box_id: Mapped[int | None] = mapped_column(ForeignKey("storage_box.id"))
    #: the position in the box, from 1 (row 1 is A)
    position_row: Mapped[int | None]
    position_column: Mapped[int | None]
    since: Mapped[datetime]

    sample: Mapped[Sample] = relationship()
    box: Mapped[StorageBox | None] = relationship()


class CustodyAction(enum.StrEnum):
    RECEIVED = "received"
    STORED = "stored"
    MOVED = "moved"
    ALIQUOTED = "aliquoted"
    SENT_FOR_TESTING = "sent for testing"
    RETURNED = "returned"
    SHIPPED = "shipped"
    DISPOSED = "disposed"


class CustodyEvent(Controlled, Base):
    """One link of a sample's chain of custody: what happened to it, who did it, when, from where to where, and the
    temperature it was at."""

    __tablename__ = "custody_event"
    __table_args__ = (
        Index("ix_custody_event_sample_occurred", "sample_id", "occurred_at", "id"),
        Index("ix_custody_event_organization", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    action: Mapped[CustodyAction] = mapped_column(string_enum(CustodyAction, "custody_action"))
    occurred_at: Mapped[datetime]
    by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the places as the lab named them at the time ("Freezer F-01 / Rack A / Box 3 / B4"), kept as text so that
    #: the chain reads the same after a box is renamed
    from_location: Mapped[str | None] = mapped_column(String(300))
    to_location: Mapped[str | None] = mapped_column(String(300))
    temperature: Mapped[Measurement | None] = measurement_column("temperature", nullable=True)
    note: Mapped[str | None] = mapped_column(Text)

    sample: Mapped[Sample] = relationship()
    by: Mapped[User] = relationship()


class Aliquot(Controlled, Base):
    """A child sample split from a parent, and the volume taken for it: the lineage both ways."""

    __tablename__ = "aliquot"

    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), index=True)
    child_id: Mapped[int] = mapped_column(ForeignKey("sample.id"), unique=True)
    volume: Mapped[Measurement] = measurement_column("volume")
    created_at: Mapped[datetime]
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    parent: Mapped[Sample] = relationship(foreign_keys=[parent_id])
    child: Mapped[Sample] = relationship(foreign_keys=[child_id])
