"""Test definitions (method, unit, specification) and the results recorded against them."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composites)
from typing import Any

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.equipment.models import Equipment, EquipmentType
from lims.identity.models import User
from lims.units.columns import measurement_column
from lims.units.kinds import ValueKind
from lims.units.measurement import Measurement


class ResultKind(enum.StrEnum):
    #: a measured value with units, judged against a limit such as "≥ 70 %"
    QUANTITATIVE = "quantitative"
    #: an observation judged against the one acceptable answer, such as "not detected"
    QUALITATIVE = "qualitative"


class TestDefinition(Controlled, Base):
    """A test the lab performs: e.g. viability by flow cytometry, ≥ 70 %."""

    __tablename__ = "test_definition"
    __test__ = False  # not a pytest class, whatever its name says

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[str] = mapped_column(String(200))
    result_kind: Mapped[ResultKind] = mapped_column(string_enum(ResultKind, "result_kind"))
    #: the unit results are reported in ("" for a qualitative test)
    unit: Mapped[str] = mapped_column(String(32))
    #: a limit for quantitative tests ("≥ 70 %"), the acceptable answer for qualitative ones
    specification: Mapped[str] = mapped_column(String(200))
    #: which results are physically possible (quantitative tests only)
    value_kind: Mapped[ValueKind | None] = mapped_column(string_enum(ValueKind, "value_kind"))
    #: the kind of equipment a result must name as its instrument (a flow cytometer), checked as any equipment use
    instrument_type: Mapped[EquipmentType | None] = mapped_column(string_enum(EquipmentType, "instrument_type"))
    created_at: Mapped[datetime]

    def __str__(self) -> str:
        return f"{self.name} ({self.method}): {self.specification}"

    @property
    def training_subject(self) -> str:
        """What an analyst must be trained on to record or verify its results (a new method is a new code)."""
        return f"Test method {self.code}"


class TestResult(Controlled, Base):
    """A result of one test on one tested item (a batch, later a sample), with the specification it was judged by.

    A result is never edited: a correction is a new result that replaces it, with a reason.
    """

    __tablename__ = "test_result"
    __test__ = False
    __table_args__ = (Index("ix_test_result_tested", "tested_type", "tested_id", "definition_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    definition_id: Mapped[int] = mapped_column(ForeignKey("test_definition.id"))
    tested_type: Mapped[str] = mapped_column(String(64))
    tested_id: Mapped[str] = mapped_column(String(64))
    #: the specification in force when the result was recorded
    specification: Mapped[str] = mapped_column(String(200))
    measured: Mapped[Measurement | None] = measurement_column("measured", nullable=True)
    observation: Mapped[str | None] = mapped_column(String(200))
    conforms: Mapped[bool]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    recorded_at: Mapped[datetime]
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("test_result.id"))
    correction_reason: Mapped[str | None] = mapped_column(Text)
    #: set when a correction replaces this result
    replaced: Mapped[bool] = mapped_column(default=False)
    #: the equipment the test ran on (its use is recorded through the equipment area's one rule)
    instrument_id: Mapped[int | None] = mapped_column(ForeignKey("equipment.id"))

    definition: Mapped[TestDefinition] = relationship()
    recorded_by: Mapped[User] = relationship()
    # Loaded with the result: every page and API answer that shows a result names its instrument.
    instrument: Mapped[Equipment | None] = relationship(lazy="joined")

    @property
    def reported(self) -> str:
        return str(self.measured) if self.measured is not None else (self.observation or "")

    def signed_content(self) -> dict[str, Any]:
        """What a verifier's signature covers: the result as recorded and the judgement against the spec."""
        return {
            "test": self.definition.code,
            "tested": f"{self.tested_type} {self.tested_id}",
            "specification": self.specification,
            "result": self.reported,
            "conforms": self.conforms,
            "recorded_by": self.recorded_by_id,
            "recorded_at": self.recorded_at,
            "replaces": self.replaces_id,
            "correction_reason": self.correction_reason,
            # Only when named, so results verified before instruments were recorded keep their content hash.
            **({"instrument": self.instrument.asset_tag} if self.instrument is not None else {}),
        }
