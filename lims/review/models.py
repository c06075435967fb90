"""Periodic reviews: the access review (every user's roles confirmed or changed by a manager) and the audit-trail
review (QA's reading of a period's trail or of one record's), each signed and never changed once signed."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User
from lims.signatures.service import ImmutableOnceSigned


class AccessReview(Controlled, ImmutableOnceSigned, Base):
    """One access review: the roles of every active user as the manager found and left them, signed."""

    __tablename__ = "access_review"
    __table_args__ = (Index("ix_access_review_reviewed", "reviewed_at", "id"),)
    audit_parts: ClassVar[tuple[str, ...]] = ("entries",)

    id: Mapped[int] = mapped_column(primary_key=True)
    reviewed_at: Mapped[datetime]
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: why roles were changed, when any were (kept with each role change too)
    change_reason: Mapped[str | None] = mapped_column(Text)
    comment: Mapped[str | None] = mapped_column(Text)
    #: the facility's date the next review is due: the interval in force when this one was signed, from its day
    next_due_on: Mapped[date]

    reviewed_by: Mapped[User] = relationship()
    entries: Mapped[list[AccessReviewEntry]] = relationship(
        back_populates="review", order_by="AccessReviewEntry.id", cascade="all"
    )

    @property
    def changed_entries(self) -> list[AccessReviewEntry]:
        return [entry for entry in self.entries if entry.changed]

    def signed_content(self) -> dict[str, Any]:
        return {
            "reviewed_at": self.reviewed_at,
            "change_reason": self.change_reason,
            "comment": self.comment,
            "next_due_on": self.next_due_on,
            "entries": [[entry.user_id, entry.roles_before, entry.roles_after] for entry in self.entries],
        }


class AccessReviewEntry(Controlled, Base):
    """One user's roles before and after the review (the same when the manager confirmed them)."""

    __tablename__ = "access_review_entry"
    __table_args__ = (UniqueConstraint("review_id", "user_id", name="uq_access_review_entry_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    review_id: Mapped[int] = mapped_column(ForeignKey("access_review.id"))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    #: the role names, sorted and comma-separated ("manager,qa"); empty for none
    roles_before: Mapped[str] = mapped_column(String(200))
    roles_after: Mapped[str] = mapped_column(String(200))

    review: Mapped[AccessReview] = relationship(back_populates="entries")
    user: Mapped[User] = relationship()

    def part_label(self) -> str:
        return f"the roles of {self.user.username}"

    @property
    def changed(self) -> bool:
        return self.roles_before != self.roles_after


class TrailScope(enum.StrEnum):
    #: every event recorded in a range of the facility's local dates
    PERIOD = "period"
    #: the events of one record and its parts (a batch's, before its release)
    RECORD = "record"


class TrailReview(Controlled, ImmutableOnceSigned, Base):
    """QA's signed statement that it reviewed the audit trail of a period or of one record, up to an event."""

    __tablename__ = "audit_trail_review"
    __table_args__ = (
        Index("ix_audit_trail_review_record", "entity_type", "entity_id", "id"),
        Index("ix_audit_trail_review_reviewed", "reviewed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[TrailScope] = mapped_column(string_enum(TrailScope, "trail_scope"))
    #: the facility's local dates of a period review, both included
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    #: the record of a record review ("batch", its id) and what people call it
    entity_type: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    record_label: Mapped[str | None] = mapped_column(String(200))
    #: the newest event of the chain when QA reviewed: the review covers the trail up to it
    through_sequence: Mapped[int] = mapped_column(BigInteger)
    #: how many events the review covered
    events_reviewed: Mapped[int]
    comment: Mapped[str] = mapped_column(Text)
    reviewed_at: Mapped[datetime]
    reviewed_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: of a period review: the facility's date the next one is due (the interval in force when it was signed)
    next_due_on: Mapped[date | None]

    reviewed_by: Mapped[User] = relationship()

    @property
    def label(self) -> str:
        if self.scope == TrailScope.PERIOD:
            return f"audit trail of {self.period_start} to {self.period_end}"
        return f"audit trail of {self.record_label}"

    def signed_content(self) -> dict[str, Any]:
        return {
            "scope": self.scope,
            "period_start": self.period_start,
            "period_end": self.period_end,
            "record": [self.entity_type, self.entity_id],
            "through_sequence": self.through_sequence,
            "events_reviewed": self.events_reviewed,
            "comment": self.comment,
            "next_due_on": self.next_due_on,
        }
