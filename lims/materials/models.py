"""Materials the lab buys, the lots received of them, and what is taken from a lot for which record."""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composites)
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User
from lims.units.columns import measurement_column
from lims.units.measurement import Measurement


class LotStatus(enum.StrEnum):
    QUARANTINE = "quarantine"
    RELEASED = "released"
    REJECTED = "rejected"


class Material(Controlled, Base):
    __tablename__ = "material"

    id: Mapped[int] = mapped_column(primary_key=True)
    part_number: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    specification: Mapped[str] = mapped_column(Text)
    storage_condition: Mapped[str] = mapped_column(String(120))
    #: the unit its lots are counted in (mL, g, IU, cells; "" for items): every lot's quantity has its dimension
    unit: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]

    lots: Mapped[list[MaterialLot]] = relationship(back_populates="material", order_by="MaterialLot.expires_on")


class MaterialLot(Controlled, Base):
    __tablename__ = "material_lot"
    # QA's queue counts the lots in quarantine.
    __table_args__ = (
        Index("ix_material_lot_material", "material_id", "expires_on"),
        Index("ix_material_lot_status", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    material_id: Mapped[int] = mapped_column(ForeignKey("material.id"))
    lot_number: Mapped[str] = mapped_column(String(64), unique=True)
    supplier: Mapped[str] = mapped_column(String(200))
    supplier_lot: Mapped[str] = mapped_column(String(120))
    received_on: Mapped[date]
    expires_on: Mapped[date]
    quantity_received: Mapped[Measurement] = measurement_column("quantity_received")
    quantity_remaining: Mapped[Measurement] = measurement_column("quantity_remaining")
    status: Mapped[LotStatus] = mapped_column(string_enum(LotStatus, "lot_status"))
    received_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    rejection_reason: Mapped[str | None] = mapped_column(Text)

    material: Mapped[Material] = relationship(back_populates="lots")
    received_by: Mapped[User] = relationship()

    def signed_content(self) -> dict[str, Any]:
        """What QA's disposition of the lot covers."""
        return {
            "material": self.material.part_number,
            "lot": self.lot_number,
            "supplier": self.supplier,
            "supplier_lot": self.supplier_lot,
            "expires_on": self.expires_on,
            "quantity_received": str(self.quantity_received),
            "rejection_reason": self.rejection_reason,
        }


class LotConsumption(Controlled, Base):
    """A quantity taken from a lot, and the record it served."""

    __tablename__ = "lot_consumption"
    __table_args__ = (Index("ix_lot_consumption_record", "record_type", "record_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    lot_id: Mapped[int] = mapped_column(ForeignKey("material_lot.id"), index=True)
    quantity: Mapped[Measurement] = measurement_column("quantity")
    used_at: Mapped[datetime]
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the kind of record the material went into (e.g. "batch_step") and its id: a generic key, so that the
    #: areas taking material refer to their records without this area knowing them
    record_type: Mapped[str] = mapped_column(String(64))
    record_id: Mapped[str] = mapped_column(String(64))

    lot: Mapped[MaterialLot] = relationship()
    user: Mapped[User] = relationship()
