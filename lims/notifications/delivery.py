"""E-mailing notifications: the scheduler hands each pending e-mail to the site's SMTP server, retrying with a
growing pause, and never sends one twice.

Every attempt is claimed and committed before the server is called (the e-mail is then *sending*), so neither a
second scheduler nor a restart after a crash sends it again; an attempt that broke off after the server may have
taken the message is left *uncertain* rather than repeated. No database lock is held while the server answers.
"""

from __future__ import annotations

import contextlib
import smtplib
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload, selectinload

from lims import clock
from lims.notifications.models import AttemptOutcome, EmailAttempt, EmailStatus, Notification, OutgoingEmail
from lims.pagination import KeysetPage, page_after

#: attempts before an e-mail is given up (the last about a day after the first)
MAX_ATTEMPTS = 8
FIRST_RETRY = timedelta(minutes=1)
LONGEST_PAUSE = timedelta(hours=6)
#: e-mails handed over in one run; the rest wait for the next minute's
BATCH = 50
#: how long to wait for the server's answer to one command
SMTP_TIMEOUT_SECONDS = 10
#: an attempt still under way after this long was cut off (the scheduler stopped mid-way)
ABANDONED_AFTER = timedelta(hours=1)
_DETAIL_LENGTH = 500


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    port: int
    sender: str
    user: str | None = None
    password: str | None = None
    starttls: bool = True

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> SmtpSettings | None:
        """The site's SMTP settings, or None when it sends no e-mail."""
        if not config.get("SMTP_HOST"):
            return None
        return cls(
            host=config["SMTP_HOST"],
            port=config["SMTP_PORT"],
            sender=config["SMTP_FROM"],
            user=config.get("SMTP_USER"),
            password=config.get("SMTP_PASSWORD"),
            starttls=config.get("SMTP_STARTTLS", True),
        )


#: opens a connection to the server, ready to send (logged in when the settings name a user)
Connect = Callable[[SmtpSettings], smtplib.SMTP]


def connect(settings: SmtpSettings) -> smtplib.SMTP:
    server = smtplib.SMTP(settings.host, settings.port, timeout=SMTP_TIMEOUT_SECONDS)
    try:
        if settings.starttls:
            server.starttls(context=ssl.create_default_context())
        if settings.user:
            server.login(settings.user, settings.password or "")
        # The messages are handed over command by command (see _send_one), which greets no server by itself.
        server.ehlo_or_helo_if_needed()
    except BaseException:
        server.close()
        raise
    return server


@dataclass(frozen=True)
class Outcome:
    outcome: AttemptOutcome
    detail: str


def deliver_from_config(session: Session, config: Mapping[str, Any]) -> str:
    """The scheduler's job: send what is due with the site's settings (nothing when it sends no e-mail)."""
    settings = SmtpSettings.from_config(config)
    if settings is None:
        return "e-mail is not configured (LIMS_SMTP_HOST)"
    return deliver_due(session, settings, public_url=config["PUBLIC_URL"])


def deliver_due(session: Session, settings: SmtpSettings, *, public_url: str, open_server: Connect = connect) -> str:
    """Hand the e-mails that are due to the SMTP server and record each attempt; commits the claim first."""
    now = clock.now()
    abandoned = _give_up_abandoned(session, now)
    emails = _claim_due(session, now)
    if not emails:
        return f"no e-mail due{_abandoned_note(abandoned)}"
    # Committed before the server is called: from here on no run sends these again, whatever happens to this one.
    session.commit()
    outcomes = _send_all(emails, settings, public_url, open_server)
    finished = clock.now()
    for email, outcome in zip(emails, outcomes, strict=True):
        _note(email, outcome, finished)
    session.flush()
    sent = sum(outcome.outcome == AttemptOutcome.SENT for outcome in outcomes)
    return f"{sent} of {len(emails)} e-mails sent{_abandoned_note(abandoned)}"


def _abandoned_note(abandoned: int) -> str:
    return f"; {abandoned} cut off mid-attempt left unsent" if abandoned else ""


def _give_up_abandoned(session: Session, now: datetime) -> int:
    """Mark the attempts cut off long ago uncertain: the server may have the message, so it is not sent again."""
    cut_off = list(
        session.scalars(
            select(EmailAttempt)
            .join(OutgoingEmail)
            .where(
                OutgoingEmail.status == EmailStatus.SENDING,
                EmailAttempt.outcome.is_(None),
                EmailAttempt.started_at < now - ABANDONED_AFTER,
            )
            .options(joinedload(EmailAttempt.email))
        )
    )
    for attempt in cut_off:
        _note(
            attempt.email,
            Outcome(AttemptOutcome.UNCERTAIN, "The attempt was cut off; the server may have the message."),
            now,
            attempt,
        )
    return len(cut_off)


def _claim_due(session: Session, now: datetime) -> list[OutgoingEmail]:
    """Take the due e-mails for this run: only those still pending when the claim lands (another run's are not)."""
    due_ids = list(
        session.scalars(
            select(OutgoingEmail.id)
            .where(OutgoingEmail.status == EmailStatus.PENDING, OutgoingEmail.next_attempt_at <= now)
            .order_by(OutgoingEmail.next_attempt_at, OutgoingEmail.id)
            .limit(BATCH)
        )
    )
    if not due_ids:
        return []
    claimed = list(
        session.scalars(
            update(OutgoingEmail)
            .where(OutgoingEmail.id.in_(due_ids), OutgoingEmail.status == EmailStatus.PENDING)
            .values(status=EmailStatus.SENDING, attempts=OutgoingEmail.attempts + 1, next_attempt_at=None)
            .returning(OutgoingEmail.id)
            .execution_options(synchronize_session=False)
        )
    )
    if not claimed:
        return []
    session.add_all(EmailAttempt(email_id=email_id, started_at=now) for email_id in claimed)
    session.flush()
    session.expire_all()
    return list(
        session.scalars(
            select(OutgoingEmail)
            .where(OutgoingEmail.id.in_(claimed))
            .options(joinedload(OutgoingEmail.notification), joinedload(OutgoingEmail.attempt_log))
            .order_by(OutgoingEmail.id)
        ).unique()
    )


def _send_all(
    emails: list[OutgoingEmail], settings: SmtpSettings, public_url: str, open_server: Connect
) -> list[Outcome]:
    try:
        server = open_server(settings)
    except (OSError, smtplib.SMTPException) as error:
        # Nothing was handed over: every e-mail waits for the next attempt.
        unreachable = Outcome(AttemptOutcome.RETRY, _detail(f"The SMTP server could not be reached: {error}"))
        return [unreachable] * len(emails)
    outcomes: list[Outcome] = []
    try:
        for email in emails:
            if outcomes and outcomes[-1].outcome == AttemptOutcome.UNCERTAIN:
                # The connection broke off mid-message: the rest were not handed over at all.
                outcomes.append(Outcome(AttemptOutcome.RETRY, "Not tried: the connection to the server broke off."))
                continue
            try:
                message = message_of(email, settings, public_url)
            except ValueError as error:
                outcomes.append(Outcome(AttemptOutcome.FAILED, _detail(f"It cannot be written as an e-mail: {error}")))
                continue
            outcomes.append(_send_one(server, message, settings.sender, email.address))
    finally:
        try:
            server.quit()
        except (OSError, smtplib.SMTPException):
            server.close()
    return outcomes


def _send_one(server: smtplib.SMTP, message: EmailMessage, sender: str, address: str) -> Outcome:
    """Hand one message over by the protocol's steps, so a refusal before the message went is told apart from a
    break while it went (the server may then have it)."""
    try:
        code, answer = server.mail(sender)
        if code != 250:
            return _refused(server, code, answer)
        code, answer = server.rcpt(address)
        if code not in (250, 251):
            return _refused(server, code, answer)
    except (OSError, smtplib.SMTPException) as error:
        return Outcome(AttemptOutcome.RETRY, _detail(f"The server could not be asked to take it: {error}"))
    try:
        code, answer = server.data(message.as_bytes())
    except smtplib.SMTPDataError as refusal:
        return _refused(server, refusal.smtp_code, refusal.smtp_error)
    except (OSError, smtplib.SMTPException) as error:
        return Outcome(AttemptOutcome.UNCERTAIN, _detail(f"The connection broke off while sending: {error}"))
    if code != 250:
        return _refused(server, code, answer)
    return Outcome(AttemptOutcome.SENT, _detail(f"{code} {answer.decode(errors='replace')}"))


def _refused(server: smtplib.SMTP, code: int, answer: bytes | str) -> Outcome:
    text = answer.decode(errors="replace") if isinstance(answer, bytes) else answer
    # Should the reset fail, the next message's own commands find out.
    with contextlib.suppress(OSError, smtplib.SMTPException):
        server.rset()
    outcome = AttemptOutcome.FAILED if code >= 500 else AttemptOutcome.RETRY
    return Outcome(outcome, _detail(f"The server refused it: {code} {text}"))


def _detail(text: str) -> str:
    return text if len(text) <= _DETAIL_LENGTH else text[: _DETAIL_LENGTH - 1] + "…"


def message_of(email: OutgoingEmail, settings: SmtpSettings, public_url: str) -> EmailMessage:
    """The e-mail of a notification: its subject, its text and the address of the record's page."""
    notification: Notification = email.notification
    message = EmailMessage()
    message["From"] = settings.sender
    message["To"] = email.address
    message["Subject"] = notification.subject
    message["Date"] = format_datetime(notification.created_at)
    # The same for every attempt: a mail system that sees it twice can tell.
    message["Message-ID"] = f"<notification-{notification.id}@{urlsplit(public_url).hostname or 'lims'}>"
    lines = [notification.body, ""]
    if notification.link:
        lines += [f"{public_url}{notification.link}", ""]
    lines += [
        "--",
        f"This message is also in your inbox in the LIMS: {public_url}/inbox",
        f"Turn these e-mails off there: {public_url}/inbox/settings",
    ]
    message.set_content("\n".join(lines))
    return message


def pause_after(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failure: a minute, doubling each time, at most 6 h."""
    return min(FIRST_RETRY * 2 ** (attempts - 1), LONGEST_PAUSE)


def _note(email: OutgoingEmail, outcome: Outcome, at: datetime, attempt: EmailAttempt | None = None) -> None:
    attempt = attempt or email.attempt_log[-1]
    attempt.finished_at = at
    attempt.detail = outcome.detail
    final = outcome.outcome
    if final == AttemptOutcome.RETRY and email.attempts >= MAX_ATTEMPTS:
        final = AttemptOutcome.FAILED
    attempt.outcome = final
    email.status = {
        AttemptOutcome.SENT: EmailStatus.SENT,
        AttemptOutcome.RETRY: EmailStatus.PENDING,
        AttemptOutcome.FAILED: EmailStatus.FAILED,
        AttemptOutcome.UNCERTAIN: EmailStatus.UNCERTAIN,
    }[final]
    email.next_attempt_at = at + pause_after(email.attempts) if final == AttemptOutcome.RETRY else None
    if final == AttemptOutcome.SENT:
        email.sent_at = at


def outbox(
    session: Session, *, after: tuple[Any, ...] | None, limit: int, status: EmailStatus | None = None
) -> KeysetPage[OutgoingEmail]:
    """The e-mails newest first, each with its message, recipient and attempts (three statements a page)."""
    query = select(OutgoingEmail).options(
        joinedload(OutgoingEmail.notification).joinedload(Notification.user), selectinload(OutgoingEmail.attempt_log)
    )
    if status is not None:
        query = query.where(OutgoingEmail.status == status)
    return page_after(session, query, (OutgoingEmail.id,), after=after, limit=limit, descending=True)
