"""The clients' change feed: an event for each change a client may follow, its webhooks, and their delivery.

An event is written in the transaction of the change it announces. Each active webhook of the organization gets
a delivery of it, which the scheduler sends (``deliver_due``): the body signed with HMAC-SHA256 over
``<timestamp>.<body>``, retried with a growing pause after a failure, and logged for the client to read.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.audit import context as audit_context
from lims.audit.chain import canonical_json
from lims.errors import RecordNotFound
from lims.pagination import KeysetPage, page_after
from lims.samples.errors import BadCursor, WebhookRefused
from lims.samples.models import (
    PUBLIC_ID_LENGTH,
    ClientEvent,
    DeliveryStatus,
    Sample,
    Submission,
    Webhook,
    WebhookDelivery,
)

#: attempts before a delivery is given up (the last about a day after the first)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(seconds=30)
LONGEST_PAUSE = timedelta(hours=6)
#: how long the scheduler waits for a receiver to answer
SEND_TIMEOUT_SECONDS = 5
SIGNATURE_HEADER = "X-LIMS-Signature"
TIMESTAMP_HEADER = "X-LIMS-Timestamp"
_LOCAL_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def new_public_id() -> str:
    """A random public id: 96 bits, URL-safe, never derived from a sequence."""
    return secrets.token_urlsafe(12)[:PUBLIC_ID_LENGTH]


def new_public_ids(count: int) -> list[str]:
    """``count`` random public ids as ``new_public_id`` makes them, from one read of the system's randomness (a
    read each costs more than the rest of a manifest row's insert)."""
    randomness = secrets.token_bytes(12 * count)
    return [base64.urlsafe_b64encode(randomness[start : start + 12]).decode() for start in range(0, 12 * count, 12)]


def record_event(
    session: Session,
    kind: str,
    *,
    submission: Submission,
    sample: Sample | None = None,
    status: str,
    data: dict[str, Any] | None = None,
) -> ClientEvent:
    """Announce a change of ``submission`` (or of one of its samples) to its organization, and queue its delivery
    to each of the organization's active webhooks."""
    now = clock.now()
    event = ClientEvent(
        public_id=new_public_id(),
        organization_id=submission.organization_id,
        kind=kind,
        occurred_at=now,
        submission_public_id=submission.public_id,
        sample_public_id=None if sample is None else sample.public_id,
        status=status,
        data=canonical_json(data or {}),
    )
    session.add(event)
    session.flush()
    webhook_ids = session.scalars(
        select(Webhook.id).where(Webhook.organization_id == submission.organization_id, Webhook.active.is_(True))
    ).all()
    session.add_all(
        WebhookDelivery(
            webhook_id=webhook_id, event_id=event.id, status=DeliveryStatus.PENDING, attempts=0, next_attempt_at=now
        )
        for webhook_id in webhook_ids
    )
    return event


def cursor_of(event: ClientEvent) -> str:
    return str(event.id)


def read_cursor(after: str | None) -> int:
    """The position a cursor names (none: the feed's start); one the feed never gave out is refused."""
    if after is None or after == "":
        return 0
    if not after.isdigit() or len(after) > 18:
        raise BadCursor(
            "This cursor is not one the feed gave out; send the next_cursor of the previous read.", field="after"
        )
    return int(after)


@dataclass(frozen=True)
class FeedPage:
    items: list[ClientEvent]
    #: where the next read goes on from (the last event's cursor, or the one given when nothing is new)
    next_cursor: str


def events_after(session: Session, organization_id: int, after: str | None, *, limit: int) -> FeedPage:
    """The organization's events after the cursor, oldest first: one indexed query whatever the feed's length."""
    position = read_cursor(after)
    events = list(
        session.scalars(
            select(ClientEvent)
            .where(ClientEvent.organization_id == organization_id, ClientEvent.id > position)
            .order_by(ClientEvent.id)
            .limit(limit)
        )
    )
    return FeedPage(events, cursor_of(events[-1]) if events else str(position))


def latest_cursor(session: Session, organization_id: int) -> str:
    """Where a page that shows the records as they are now starts following the feed."""
    latest = session.scalar(
        select(ClientEvent.id)
        .where(ClientEvent.organization_id == organization_id)
        .order_by(ClientEvent.id.desc())
        .limit(1)
    )
    return str(latest or 0)


def event_body(event: ClientEvent) -> dict[str, Any]:
    """An event as the API and the webhooks show it."""
    return {
        "id": event.public_id,
        "cursor": cursor_of(event),
        "kind": event.kind,
        "occurred_at": event.occurred_at.isoformat(),
        "submission_id": event.submission_public_id,
        "sample_id": event.sample_public_id,
        "status": event.status,
        "data": json.loads(event.data),
    }


# Webhooks


def check_webhook_url(url: str) -> str:
    """An https address, or http to this machine (for a receiver under test); nothing else is called."""
    parts = urlsplit(url.strip())
    local = parts.hostname in _LOCAL_HOSTS
    if parts.scheme not in ("https", "http") or not parts.hostname or (parts.scheme == "http" and not local):
        raise WebhookRefused("Give an https:// address (http:// only to this machine, for testing).", field="url")
    if parts.username or parts.password:
        raise WebhookRefused("Leave user names and passwords out of the address; the signature proves the sender.")
    return url.strip()


def register_webhook(session: Session, *, organization_id: int, url: str, secret: str, user_id: int | None) -> Webhook:
    if len(secret) < 16:
        raise WebhookRefused("Use a secret of 16 characters or more.", field="secret")
    webhook = Webhook(
        public_id=new_public_id(),
        organization_id=organization_id,
        url=check_webhook_url(url),
        secret=secret,
        active=True,
        created_at=clock.now(),
        created_by_id=user_id,
    )
    session.add(webhook)
    session.flush()
    return webhook


def disable_webhook(session: Session, webhook: Webhook) -> Webhook:
    """Stop sending to a webhook; its deliveries still waiting are given up."""
    if not webhook.active:
        return webhook
    with audit_context.reason_for_change(session, "Webhook disabled by its organization"):
        webhook.active = False
        webhook.disabled_at = clock.now()
    for delivery in session.scalars(
        select(WebhookDelivery).where(
            WebhookDelivery.webhook_id == webhook.id, WebhookDelivery.status == DeliveryStatus.PENDING
        )
    ):
        delivery.status = DeliveryStatus.FAILED
        delivery.last_error = "The webhook was disabled."
        delivery.next_attempt_at = None
    return webhook


def webhooks_of(session: Session, organization_id: int) -> list[Webhook]:
    return list(
        session.scalars(
            select(Webhook)
            .where(Webhook.organization_id == organization_id)
            .order_by(Webhook.active.desc(), Webhook.created_at.desc(), Webhook.id.desc())
        )
    )


def get_webhook(session: Session, public_id: str, *, organization_id: int) -> Webhook:
    webhook = session.scalar(
        select(Webhook).where(Webhook.public_id == public_id, Webhook.organization_id == organization_id)
    )
    if webhook is None:
        raise RecordNotFound("There is no such webhook.")
    return webhook


def webhooks_after(
    session: Session, organization_id: int, *, after: tuple[Any, ...] | None, limit: int
) -> KeysetPage[Webhook]:
    query = select(Webhook).where(Webhook.organization_id == organization_id)
    return page_after(session, query, (Webhook.id,), after=after, limit=limit)


def deliveries_after(
    session: Session, webhook: Webhook, *, after: tuple[Any, ...] | None, limit: int
) -> KeysetPage[WebhookDelivery]:
    """The webhook's delivery log, newest first, a page at a time."""
    query = (
        select(WebhookDelivery)
        .options(joinedload(WebhookDelivery.event))
        .where(WebhookDelivery.webhook_id == webhook.id)
    )
    return page_after(session, query, (WebhookDelivery.id,), after=after, limit=limit, descending=True)


def deliveries_of(session: Session, webhook: Webhook, *, limit: int = 100) -> list[WebhookDelivery]:
    """The webhook's delivery log, newest first."""
    return list(
        session.scalars(
            select(WebhookDelivery)
            .options(joinedload(WebhookDelivery.event))
            .where(WebhookDelivery.webhook_id == webhook.id)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        )
    )


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature a receiver checks: HMAC-SHA256 with the webhook's secret over ``<timestamp>.<body>``."""
    digest = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


@dataclass(frozen=True)
class Answer:
    #: the receiver's HTTP status, or None when it could not be reached
    status: int | None
    error: str | None = None


#: sends a body to an address with headers and returns the answer (a real HTTP POST, or a stand-in in tests)
Sender = Callable[[str, bytes, dict[str, str]], Answer]


def post(url: str, body: bytes, headers: dict[str, str]) -> Answer:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=SEND_TIMEOUT_SECONDS) as response:
            return Answer(response.status)
    except urllib.error.HTTPError as error:
        return Answer(error.code, f"The receiver answered {error.code}.")
    except (urllib.error.URLError, OSError, ValueError) as error:
        return Answer(None, f"The receiver could not be reached: {error}"[:500])


def pause_after(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: 30 s, doubling each time, at most 6 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_PAUSE)


def deliver_due(session: Session, *, send: Sender = post, limit: int = 200) -> str:
    """Send the deliveries that are due, then record each outcome.

    The receivers are called before anything is written, so no database lock is held while one is slow.
    """
    now = clock.now()
    due = list(
        session.scalars(
            select(WebhookDelivery)
            .options(joinedload(WebhookDelivery.webhook), joinedload(WebhookDelivery.event))
            .where(WebhookDelivery.status == DeliveryStatus.PENDING, WebhookDelivery.next_attempt_at <= now)
            .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
            .limit(limit)
        )
    )
    answers = [_send(delivery, send, now) for delivery in due]
    delivered = 0
    for delivery, answer in zip(due, answers, strict=True):
        delivered += _note(delivery, answer, now)
    session.flush()
    return f"{delivered} of {len(due)} webhook deliveries made"


def _send(delivery: WebhookDelivery, send: Sender, now: datetime) -> Answer:
    body = json.dumps(event_body(delivery.event), separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(now.timestamp())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GMP-LIMS-webhooks",
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: sign(delivery.webhook.secret, timestamp, body),
        "X-LIMS-Event": delivery.event.kind,
        "X-LIMS-Delivery": f"{delivery.event.public_id}.{delivery.webhook.public_id}",
    }
    return send(delivery.webhook.url, body, headers)


def _note(delivery: WebhookDelivery, answer: Answer, now: datetime) -> int:
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.last_status_code = answer.status
    if answer.status is not None and 200 <= answer.status < 300:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        delivery.last_error = None
        return 1
    delivery.last_error = (answer.error or f"The receiver answered {answer.status}.")[:500]
    if delivery.attempts >= MAX_ATTEMPTS:
        delivery.status = DeliveryStatus.FAILED
        delivery.next_attempt_at = None
    else:
        delivery.next_attempt_at = now + pause_after(delivery.attempts)
    return 0
