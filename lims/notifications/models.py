"""A message to one user, its e-mail on the way out and each attempt to send it, and a user's e-mail choice."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import User

KEY_LENGTH = 200
SUBJECT_LENGTH = 200
LINK_LENGTH = 500


class Notification(Base):
    """One message to one user: what happened, and a link to the record it is about.

    The same key never reaches the same user twice (the unique constraint, which concurrent senders meet in the
    database). Not a controlled record: it tells people about controlled records, whose own trail records them.
    """

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("key", "user_id", name="uq_notification_key_user"),
        # The inbox pages newest first by id; the badge counts the unread among them.
        Index("ix_notification_user_inbox", "user_id", "id"),
        Index("ix_notification_user_unread", "user_id", "read_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what the message announces, as its sender names it ("finding:17:opened")
    key: Mapped[str] = mapped_column(String(KEY_LENGTH))
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    subject: Mapped[str] = mapped_column(String(SUBJECT_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    #: the record's page on this site ("/equipment/17"), if the message is about one
    link: Mapped[str | None] = mapped_column(String(LINK_LENGTH))
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]

    user: Mapped[User] = relationship()


class EmailStatus(enum.StrEnum):
    PENDING = "pending"
    #: an attempt is under way: claimed (and committed) before the server is called, so no one sends it again
    SENDING = "sending"
    SENT = "sent"
    #: every attempt failed, or the server refused it for good; the message stays in the inbox
    FAILED = "failed"
    #: an attempt broke off after the server may have taken the message: not sent again, so never twice
    UNCERTAIN = "uncertain"


class AttemptOutcome(enum.StrEnum):
    SENT = "sent"
    #: refused or unreachable before the server took the message: tried again later
    RETRY = "retry"
    #: refused for good (a 5xx answer), or the last attempt failed
    FAILED = "failed"
    UNCERTAIN = "uncertain"


class OutgoingEmail(Base):
    """A message's e-mail to its recipient: where it goes, its status and when the next attempt is due."""

    __tablename__ = "outgoing_email"
    __table_args__ = (Index("ix_outgoing_email_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    notification_id: Mapped[int] = mapped_column(ForeignKey("notification.id"), unique=True)
    #: the recipient's address when the message was sent
    address: Mapped[str] = mapped_column(String(254))
    status: Mapped[EmailStatus] = mapped_column(string_enum(EmailStatus, "email_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]

    notification: Mapped[Notification] = relationship()
    attempt_log: Mapped[list[EmailAttempt]] = relationship(
        back_populates="email", order_by="EmailAttempt.id", cascade="all, delete-orphan"
    )


class EmailAttempt(Base):
    """One attempt to hand an e-mail to the SMTP server, and what came of it."""

    __tablename__ = "email_attempt"
    __table_args__ = (Index("ix_email_attempt_email", "email_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email_id: Mapped[int] = mapped_column(ForeignKey("outgoing_email.id"))
    started_at: Mapped[datetime]
    #: None while the attempt is under way
    outcome: Mapped[AttemptOutcome | None] = mapped_column(string_enum(AttemptOutcome, "email_attempt_outcome"))
    finished_at: Mapped[datetime | None]
    #: the server's answer or the error, in its words
    detail: Mapped[str | None] = mapped_column(String(500))

    email: Mapped[OutgoingEmail] = relationship(back_populates="attempt_log")


class NotificationPreference(Controlled, Base):
    """What a user chose for their notifications: whether they also come by e-mail (without a row: they do)."""

    __tablename__ = "notification_preference"

    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), primary_key=True)
    email_enabled: Mapped[bool] = mapped_column(default=True)
    changed_at: Mapped[datetime]

    user: Mapped[User] = relationship()
