"""Submissions (a client's manifest of samples), the samples on them, their accession numbers, the clients' change
feed and the webhooks it is delivered to."""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal  # noqa: F401  (resolves Measurement's field types for the composites)
from typing import Any

from sqlalchemy import ColumnElement, ForeignKey, Index, String, Text, UniqueConstraint, and_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from lims.audit.models import Controlled
from lims.db import Base, string_enum
from lims.identity.models import Organization, User
from lims.testing.models import TestDefinition, TestResult
from lims.units.columns import measurement_column
from lims.units.measurement import Measurement
from protocols.models import Protocol, Subject, Visit

#: the length of a public id: 16 URL-safe characters drawn at random (96 bits), never a sequence to guess from
PUBLIC_ID_LENGTH = 16


class SubmissionStatus(enum.StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    PARTLY_RECEIVED = "partly received"
    RECEIVED = "received"
    IN_TESTING = "in testing"
    RESULTS_RELEASED = "results released"
    CANCELLED = "cancelled"


class SampleStatus(enum.StrEnum):
    #: on a manifest (its status says whether it was sent), not yet arrived
    EXPECTED = "expected"
    #: arrived and accepted
    RECEIVED = "received"
    #: arrived and refused at receipt, with the reason
    REJECTED = "rejected"
    IN_TESTING = "in testing"
    RESULTS_RELEASED = "results released"
    #: its manifest was cancelled before it arrived
    CANCELLED = "cancelled"


#: the statuses of a sample that has physically arrived at the lab
ARRIVED = frozenset(
    {SampleStatus.RECEIVED, SampleStatus.REJECTED, SampleStatus.IN_TESTING, SampleStatus.RESULTS_RELEASED}
)

#: the statuses of a sample accepted at receipt whose testing has not started: it awaits processing unless it was
#: split into aliquots or is an aliquot (``Sample.processed_at``), and only then does its stability window matter
AWAITING_PROCESSING = frozenset({SampleStatus.RECEIVED})


class Submission(Controlled, Base):
    """A client's manifest: the samples it sends (or will send) to the lab in one shipment."""

    __tablename__ = "submission"
    __table_args__ = (Index("ix_submission_organization_created", "organization_id", "created_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    #: what addresses and the API call it: random, so that no client learns another's by counting
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    #: the client's own name for the shipment ("Week 49 PBMC")
    reference: Mapped[str] = mapped_column(String(120))
    status: Mapped[SubmissionStatus] = mapped_column(string_enum(SubmissionStatus, "submission_status"), index=True)
    created_at: Mapped[datetime]
    #: the client user who drafted it; None when a client system drafted it with the organization's API token
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    submitted_at: Mapped[datetime | None]
    #: when the first sample arrived
    received_at: Mapped[datetime | None]
    cancelled_at: Mapped[datetime | None]
    cancellation_reason: Mapped[str | None] = mapped_column(Text)

    organization: Mapped[Organization] = relationship()
    created_by: Mapped[User | None] = relationship()
    samples: Mapped[list[Sample]] = relationship(back_populates="submission", order_by="Sample.line")

    def __str__(self) -> str:
        return f"{self.reference} ({self.public_id})"


class Sample(Controlled, Base):
    """A sample on a manifest, and once it arrives, its receipt (accession number, condition on arrival)."""

    __tablename__ = "sample"
    __table_args__ = (
        UniqueConstraint("submission_id", "line", name="uq_sample_submission_line"),
        Index("ix_sample_organization_status", "organization_id", "status", "id"),
        Index("ix_sample_organization_client_id", "organization_id", "client_sample_id"),
        Index("ix_sample_subject_visit", "subject_id", "visit_id"),
        # The work list's filters, each with the list's order (newest first, by id) so a page is an index range.
        Index("ix_sample_organization_id", "organization_id", "id"),
        Index("ix_sample_status_id", "status", "id"),
        Index("ix_sample_type_id", "sample_type", "id"),
        Index("ix_sample_received_at", "received_at", "id"),
        Index("ix_sample_status_stability_deadline", "status", "stability_deadline"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    #: the submission's organization, kept on the sample so every query scopes a client's samples in one condition
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    #: its place on the manifest, from 1 (unexpected samples follow the manifest's own)
    line: Mapped[int]
    client_sample_id: Mapped[str] = mapped_column(String(64))
    sample_type: Mapped[str] = mapped_column(String(120))
    protocol_id: Mapped[int | None] = mapped_column(ForeignKey("protocol.id"))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"))
    visit_id: Mapped[int | None] = mapped_column(ForeignKey("visit.id"))
    collected_at: Mapped[datetime | None]
    #: the quantity the client states it sends (volume, mass or count)
    quantity: Mapped[Measurement | None] = measurement_column("quantity", nullable=True)
    container: Mapped[str] = mapped_column(String(120))
    #: how it must be stored, as the client wrote it ("-80 °C", "2–8 °C"); the bounds below are read from it
    storage_requirement: Mapped[str] = mapped_column(String(120))
    storage_minimum: Mapped[Measurement | None] = measurement_column("storage_minimum", nullable=True)
    storage_maximum: Mapped[Measurement | None] = measurement_column("storage_maximum", nullable=True)
    #: codes of the test definitions the client asks for, separated by ", " ("VIAB, STER")
    requested_tests: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[SampleStatus] = mapped_column(string_enum(SampleStatus, "sample_status"))
    #: False for a sample that arrived without being on the manifest
    on_manifest: Mapped[bool] = mapped_column(default=True)
    #: year-prefixed, gap-free per year ("S2026-000042"), given when the sample is received (accepted or rejected)
    accession_number: Mapped[str | None] = mapped_column(String(16), unique=True)
    received_at: Mapped[datetime | None]
    received_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    arrival_temperature: Mapped[Measurement | None] = measurement_column("arrival_temperature", nullable=True)
    container_intact: Mapped[bool | None]
    received_volume: Mapped[Measurement | None] = measurement_column("received_volume", nullable=True)
    rejection_reason: Mapped[str | None] = mapped_column(Text)
    receipt_note: Mapped[str | None] = mapped_column(Text)
    #: when it must be processed by: collection time plus the stricter of its type's and its visit's limits, set at
    #: receipt (None when no limit applies or the collection time is unknown)
    stability_deadline: Mapped[datetime | None]
    #: when processing began: its split into aliquots (for an aliquot: the split that made it) or its testing,
    #: whichever came first; kept so a sample processed after its deadline still shows it once it no longer waits
    processed_at: Mapped[datetime | None]

    submission: Mapped[Submission] = relationship(back_populates="samples")
    received_by: Mapped[User | None] = relationship()
    protocol: Mapped[Protocol | None] = relationship()
    subject: Mapped[Subject | None] = relationship()
    visit: Mapped[Visit | None] = relationship()

    # The one definition of "awaiting processing past its deadline", in Python for a loaded sample (its page, a
    # list row) and beside it in SQL for the work list's filter and the compliance check; tests pin one boundary.
    def past_stability_window(self, moment: datetime) -> bool:
        """Whether it waits for processing after its deadline (at the deadline itself it is still within it)."""
        deadline = self.stability_deadline
        return (
            self.status in AWAITING_PROCESSING
            and self.processed_at is None
            and deadline is not None
            and moment > deadline
        )

    @classmethod
    def past_stability_window_sql(cls, moment: datetime) -> ColumnElement[bool]:
        return and_(cls.status.in_(AWAITING_PROCESSING), cls.processed_at.is_(None), cls.stability_deadline < moment)

    @property
    def processed_late(self) -> bool:
        """Whether its processing began after its stability deadline: history, shown once it no longer waits."""
        deadline = self.stability_deadline
        return self.processed_at is not None and deadline is not None and self.processed_at > deadline

    @property
    def requested_test_codes(self) -> list[str]:
        return [code for code in self.requested_tests.split(", ") if code]


class SampleTypeStability(Controlled, Base):
    """The lab's longest time from collection to processing for a sample type (matched without regard to case)."""

    __tablename__ = "sample_type_stability"

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_type: Mapped[str] = mapped_column(String(120))
    #: the sample type in lower case: what a sample's type is matched on, once per type
    type_key: Mapped[str] = mapped_column(String(120), unique=True)
    max_hours: Mapped[int]
    updated_at: Mapped[datetime]
    updated_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    updated_by: Mapped[User] = relationship()


class AccessionCounter(Base):
    """The last accession number given in a year: the row each receipt locks, so numbers follow without gaps.

    Not a controlled record: every number it gives is recorded on its sample, whose creation is audited.
    """

    __tablename__ = "accession_counter"

    year: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int]


class ClientEvent(Base):
    """Something a client organization may learn happened to its submissions and samples: the change feed that
    its pages poll, its systems read (``GET /api/v1/events``) and its webhooks receive.

    Written in the transaction of the change it reports, so it exists exactly when the change does. Not a
    controlled record: the audit trail holds the change itself; this is its announcement to the client.
    """

    __tablename__ = "client_event"
    __table_args__ = (Index("ix_client_event_organization_id", "organization_id", "id"),)

    #: the feed's cursor: events of an organization in the order they were written
    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    #: "submission.submitted", "sample.received", …
    kind: Mapped[str] = mapped_column(String(64))
    occurred_at: Mapped[datetime]
    submission_public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH))
    sample_public_id: Mapped[str | None] = mapped_column(String(PUBLIC_ID_LENGTH))
    #: the status the submission or sample has after the change
    status: Mapped[str] = mapped_column(String(32))
    #: what else the client reads about the change, as canonical JSON
    data: Mapped[str] = mapped_column(Text)


class Webhook(Controlled, Base):
    """A client system's address that receives each of its organization's events, signed with its secret."""

    __tablename__ = "webhook"
    audit_redacted_fields = frozenset({"secret"})

    id: Mapped[int] = mapped_column(primary_key=True)
    public_id: Mapped[str] = mapped_column(String(PUBLIC_ID_LENGTH), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    url: Mapped[str] = mapped_column(String(500))
    #: the key of the HMAC-SHA256 signature; kept to sign with, shown only in the audit trail as redacted
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    disabled_at: Mapped[datetime | None]

    organization: Mapped[Organization] = relationship()


class DeliveryStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    #: every attempt failed; no more are made
    FAILED = "failed"


class WebhookDelivery(Base):
    """One event on its way to one webhook: its attempts so far and when the next is due (the delivery log)."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        UniqueConstraint("webhook_id", "event_id", name="uq_webhook_delivery_webhook_event"),
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    webhook_id: Mapped[int] = mapped_column(ForeignKey("webhook.id"))
    event_id: Mapped[int] = mapped_column(ForeignKey("client_event.id"))
    status: Mapped[DeliveryStatus] = mapped_column(string_enum(DeliveryStatus, "delivery_status"))
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime | None]
    last_attempt_at: Mapped[datetime | None]
    #: the receiver's HTTP status at the last attempt; None when it could not be reached
    last_status_code: Mapped[int | None]
    last_error: Mapped[str | None] = mapped_column(String(500))
    delivered_at: Mapped[datetime | None]

    webhook: Mapped[Webhook] = relationship()
    event: Mapped[ClientEvent] = relationship()


class SampleTest(Controlled, Base):
    """A test the lab runs on a sample, from the shared test definitions: asked for on the manifest or assigned by
    a technician. Its results are testing's results (``tested_type`` "sample_test", ``tested_id`` its id); the one
    in force is named here, so that lists of results are one join whatever their history."""

    __tablename__ = "sample_test"
    __table_args__ = (
        UniqueConstraint("sample_id", "definition_id", name="uq_sample_test_sample_definition"),
        Index("ix_sample_test_submission", "submission_id", "id"),
        Index("ix_sample_test_organization", "organization_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("sample.id"))
    #: the sample's submission and organization, kept here so that a client's results are scoped in one condition
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"))
    definition_id: Mapped[int] = mapped_column(ForeignKey("test_definition.id"))
    #: the definition's specification when the test was assigned: what its results are judged against
    specification: Mapped[str] = mapped_column(String(200))
    #: True when the client asked for it on the manifest, False when the lab added it
    requested: Mapped[bool]
    assigned_at: Mapped[datetime]
    assigned_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the result in force (the latest correction), None until one is recorded
    result_id: Mapped[int | None] = mapped_column(ForeignKey("test_result.id"), unique=True)
    #: whether the result in force is out of specification (kept with it so QA's queue is one indexed count)
    out_of_specification: Mapped[bool] = mapped_column(default=False, index=True)

    sample: Mapped[Sample] = relationship()
    definition: Mapped[TestDefinition] = relationship()
    assigned_by: Mapped[User] = relationship(foreign_keys=[assigned_by_id])
    result: Mapped[TestResult | None] = relationship()


class ResultRelease(Controlled, Base):
    """QA's release of a submission's results to the client, signed ("released"): from then on the client reads
    them, and the signed results report is issued. What it released is kept with it, as the signature covers it."""

    __tablename__ = "result_release"

    id: Mapped[int] = mapped_column(primary_key=True)
    submission_id: Mapped[int] = mapped_column(ForeignKey("submission.id"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organization.id"), index=True)
    released_at: Mapped[datetime]
    released_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    #: the results released, as canonical JSON (sample, test, specification, result, conformance, result id)
    results: Mapped[str] = mapped_column(Text)

    submission: Mapped[Submission] = relationship()
    released_by: Mapped[User] = relationship()

    def signed_content(self) -> dict[str, Any]:
        return {"submission": self.submission.public_id, "results": self.results}
