"""E-mail delivery against a real SMTP server the test starts (aiosmtpd): sent once, retried after a refusal or
an unreachable server with a growing pause, every attempt recorded, never sent twice."""

from __future__ import annotations

import smtplib
import socket
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email import message_from_bytes

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from lims import clock
from lims.identity.models import RoleName
from lims.notifications import delivery
from lims.notifications.delivery import SmtpSettings
from lims.notifications.models import AttemptOutcome, EmailAttempt, EmailStatus, OutgoingEmail
from tests.helpers import counted_statements
from tests.lims.notifications.conftest import QA

PUBLIC_URL = "https://lims.example.org"
START = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


@dataclass
class Mailbox:
    """What the server took, and the answers it gives instead of taking the next messages."""

    received: list[bytes] = field(default_factory=list)
    refusals: list[str] = field(default_factory=list)
    recipient_refusals: list[str] = field(default_factory=list)

    async def handle_RCPT(self, server, session, envelope, address, options):  # noqa: N802 - aiosmtpd's hook name
        if self.recipient_refusals:
            return self.recipient_refusals.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        if self.refusals:
            return self.refusals.pop(0)
        self.received.append(envelope.original_content)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox()
    box.port = free_port()
    server = Controller(box, hostname="127.0.0.1", port=box.port)
    server.start()
    try:
        yield box
    finally:
        server.stop()


@pytest.fixture
def settings(mailbox) -> SmtpSettings:
    return SmtpSettings(host="127.0.0.1", port=mailbox.port, sender="lims@example.org", starttls=False)


@pytest.fixture
def queued(emailing, send, create_user):
    """One e-mail waiting for a QA officer, at a pinned time."""
    clock.freeze(START)
    create_user(QA, full_name="Quinn Okafor")
    send(roles=[QA], subject="Calibration overdue: centrifuge CF-004")
    emailing.commit()
    return emailing.scalars(select(OutgoingEmail)).one()


def attempts(session, email) -> list[tuple[AttemptOutcome, str]]:
    session.expire_all()
    return [
        (a.outcome, a.detail) for a in session.scalars(select(EmailAttempt).where(EmailAttempt.email_id == email.id))
    ]


def deliver(session, settings, **options) -> str:
    return delivery.deliver_due(session, settings, public_url=PUBLIC_URL, **options)


def test_a_notification_is_emailed_once_with_the_records_address(emailing, queued, settings, mailbox):
    assert deliver(emailing, settings) == "1 of 1 e-mails sent"
    assert deliver(emailing, settings) == "no e-mail due"

    [raw] = mailbox.received
    message = message_from_bytes(raw)
    assert message["To"] == queued.address and message["From"] == "lims@example.org"
    assert message["Subject"] == "Calibration overdue: centrifuge CF-004"
    assert message["Message-ID"] == f"<notification-{queued.notification_id}@lims.example.org>"
    text = message.get_payload(decode=True).decode()
    assert "Calibration 4 days overdue" in text and "https://lims.example.org/equipment/17" in text
    emailing.refresh(queued)
    assert (queued.status, queued.attempts, queued.sent_at) == (EmailStatus.SENT, 1, START)
    assert [outcome for outcome, _ in attempts(emailing, queued)] == [AttemptOutcome.SENT]


def test_a_refusal_is_retried_after_a_pause_and_each_attempt_recorded(emailing, queued, settings, mailbox):
    mailbox.refusals.append("451 4.3.0 Mailbox busy, try again later")
    assert deliver(emailing, settings) == "0 of 1 e-mails sent"
    emailing.refresh(queued)
    assert (queued.status, queued.next_attempt_at) == (EmailStatus.PENDING, START + timedelta(minutes=1))

    clock.advance(timedelta(seconds=59))
    assert deliver(emailing, settings) == "no e-mail due"
    clock.advance(timedelta(seconds=1))
    assert deliver(emailing, settings) == "1 of 1 e-mails sent"

    assert len(mailbox.received) == 1
    assert attempts(emailing, queued) == [
        (AttemptOutcome.RETRY, "The server refused it: 451 4.3.0 Mailbox busy, try again later"),
        (AttemptOutcome.SENT, "250 Message accepted for delivery"),
    ]


def test_an_unreachable_server_is_tried_again_with_a_growing_pause(emailing, queued, mailbox):
    nowhere = SmtpSettings(host="127.0.0.1", port=free_port(), sender="lims@example.org", starttls=False)
    pauses = []
    for _ in range(3):
        assert deliver(emailing, nowhere) == "0 of 1 e-mails sent"
        emailing.refresh(queued)
        pauses.append(queued.next_attempt_at - clock.now())
        clock.freeze(queued.next_attempt_at)
    assert pauses == [timedelta(minutes=1), timedelta(minutes=2), timedelta(minutes=4)]
    assert all("could not be reached" in detail for _, detail in attempts(emailing, queued))


def test_a_permanent_refusal_is_not_retried(emailing, queued, settings, mailbox):
    mailbox.recipient_refusals.append("550 5.1.1 No such mailbox")
    deliver(emailing, settings)
    clock.advance(timedelta(days=1))
    assert deliver(emailing, settings) == "no e-mail due"
    emailing.refresh(queued)
    assert queued.status == EmailStatus.FAILED and mailbox.received == []
    assert attempts(emailing, queued) == [(AttemptOutcome.FAILED, "The server refused it: 550 5.1.1 No such mailbox")]


def test_it_gives_up_after_the_last_attempt(emailing, queued, settings, mailbox):
    mailbox.refusals.extend(["451 4.3.0 Busy"] * delivery.MAX_ATTEMPTS)
    for _ in range(delivery.MAX_ATTEMPTS):
        deliver(emailing, settings)
        clock.advance(delivery.LONGEST_PAUSE)
    emailing.refresh(queued)
    assert (queued.status, queued.attempts, queued.next_attempt_at) == (EmailStatus.FAILED, delivery.MAX_ATTEMPTS, None)
    assert attempts(emailing, queued)[-1][0] == AttemptOutcome.FAILED


class BreaksOffWhileSending(smtplib.SMTP):
    """A server connection that fails once the message is on its way: the server may have it or not."""

    def __init__(self) -> None:
        super().__init__()

    def mail(self, sender, options=()):
        return 250, b"OK"

    def rcpt(self, recipient, options=()):
        return 250, b"OK"

    def data(self, message):
        raise smtplib.SMTPServerDisconnected("Connection unexpectedly closed")

    def quit(self):
        raise smtplib.SMTPServerDisconnected("gone")


def test_an_attempt_that_broke_off_mid_message_is_never_repeated(emailing, queued, settings, mailbox):
    deliver(emailing, settings, open_server=lambda _settings: BreaksOffWhileSending())
    clock.advance(timedelta(days=1))
    assert deliver(emailing, settings) == "no e-mail due"
    emailing.refresh(queued)
    assert queued.status == EmailStatus.UNCERTAIN and mailbox.received == []
    [(outcome, detail)] = attempts(emailing, queued)
    assert outcome == AttemptOutcome.UNCERTAIN and "broke off while sending" in detail


def test_an_attempt_cut_off_by_a_crash_is_not_sent_again(emailing, queued, settings, mailbox):
    def crash(_settings):
        raise KeyboardInterrupt  # the process stops after the claim was committed

    with pytest.raises(KeyboardInterrupt):
        deliver(emailing, settings, open_server=crash)
    emailing.rollback()
    clock.advance(timedelta(minutes=30))
    assert deliver(emailing, settings) == "no e-mail due"
    clock.advance(delivery.ABANDONED_AFTER)
    assert deliver(emailing, settings) == "no e-mail due; 1 cut off mid-attempt left unsent"
    emailing.refresh(queued)
    assert queued.status == EmailStatus.UNCERTAIN and mailbox.received == []


def test_the_scheduled_job_sends_nothing_where_no_server_is_configured(emailing, queued):
    assert delivery.deliver_from_config(emailing, {"SMTP_HOST": None}) == "e-mail is not configured (LIMS_SMTP_HOST)"


def test_the_scheduled_job_sends_with_the_sites_settings(emailing, queued, mailbox):
    config = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": mailbox.port,
        "SMTP_FROM": "lims@example.org",
        "SMTP_USER": None,
        "SMTP_PASSWORD": None,
        "SMTP_STARTTLS": False,
        "PUBLIC_URL": PUBLIC_URL,
    }
    assert delivery.deliver_from_config(emailing, config) == "1 of 1 e-mails sent"
    assert len(mailbox.received) == 1


def test_administrators_read_every_attempt_in_the_email_log(emailing, queued, settings, mailbox, client, signed_in):
    mailbox.refusals.append("451 4.3.0 Mailbox busy, try again later")
    deliver(emailing, settings)
    clock.freeze(START + timedelta(minutes=1))
    deliver(emailing, settings)
    emailing.commit()
    clock.unfreeze()
    signed_in(RoleName.ADMIN)

    page = client.get("/admin/emails").text
    assert "Calibration overdue: centrifuge CF-004" in page and "Quinn Okafor" in page
    assert "retry — The server refused it: 451 4.3.0 Mailbox busy" in page
    assert "sent — 250 Message accepted for delivery" in page
    assert "Calibration overdue" not in client.get("/admin/emails?status=failed").text
    assert client.get("/admin/emails?status=lost").status_code == 422


def test_only_administrators_read_the_email_log(client, signed_in):
    signed_in(QA)
    assert client.get("/admin/emails").status_code == 403
    assert "E-mail log" not in client.get("/inbox").text


def test_the_email_log_reads_as_many_statements_for_many_emails_as_for_one(
    emailing, send, create_user, client, signed_in, connection
):
    signed_in(RoleName.ADMIN)
    create_user(QA)
    send("finding:0:opened", roles=[QA])
    emailing.commit()
    client.get("/admin/emails")
    with counted_statements(connection) as one:
        client.get("/admin/emails")
    for number in range(1, 12):
        create_user(QA)
        send(f"finding:{number}:opened", roles=[QA])
    emailing.commit()
    with counted_statements(connection) as many:
        page = client.get("/admin/emails").text
    assert page.count("Calibration overdue") >= 12
    assert len(many.statements) == len(one.statements)


def test_administrators_find_the_log_from_their_inbox(client, signed_in):
    signed_in(RoleName.ADMIN)
    assert '<a href="/admin/emails">E-mail log</a>' in client.get("/inbox").text
