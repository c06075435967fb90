"""Training records."""

from __future__ import annotations

from datetime import date

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base
from lims.identity.models import User


class TrainingRecord(Controlled, Base):
    """That a user is trained on a master batch record version or an SOP, until when."""

    __tablename__ = "training_record"
    __table_args__ = (Index("ix_training_record_user_subject", "user_id", "subject"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: what the training covers, e.g. "SOP-QC-014 v3" or "MBR CAR-T-001 v2"
    subject: Mapped[str] = mapped_column(String(120))
    trained_on: Mapped[date]
    expires_on: Mapped[date | None]
    recorded_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])
