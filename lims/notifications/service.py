"""Sending messages to people (``notify``), their inboxes, and whether each also wants them by e-mail.

``notify`` is what every area calls: one message per key per recipient, however often it is called and by however
many writers at once (a unique constraint the database enforces; a second insert of the same pair does nothing).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import Organization, OrganizationKind, Role, RoleName, User, user_role
from lims.notifications.errors import NoSuchNotification
from lims.notifications.models import (
    KEY_LENGTH,
    LINK_LENGTH,
    SUBJECT_LENGTH,
    EmailStatus,
    Notification,
    NotificationPreference,
    OutgoingEmail,
)
from lims.pagination import KeysetPage, page_after

#: ``Session.info`` key: whether the site e-mails notifications (set from its SMTP settings); without it, none are
EMAIL_ENABLED = "lims.notifications.email_enabled"
#: the badge counts this many unread messages at most ("99+"), so its statement stays short however many there are
BADGE_LIMIT = 100
BODY_LENGTH = 10_000
#: control characters other than tab and line breaks: no text column holds a NUL, and none of them is text
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def notify(
    session: Session,
    *,
    key: str,
    subject: str,
    body: str,
    link: str | None,
    users: Sequence[int] = (),
    roles: Sequence[RoleName] = (),
) -> None:
    """Send a message to ``users`` and to the facility's active staff holding any of ``roles`` now.

    Each recipient gets the message once per ``key``: calling again with the same key sends nothing new to whoever
    has it. Role recipients are the facility's staff only: a client organization's users receive only messages
    addressed to them by id. Recipients with an e-mail address who did not turn e-mail off also get it by e-mail
    when the site sends e-mail. ``link`` is the page of the record on this site ("/equipment/17").
    """
    if not key or len(key) > KEY_LENGTH:
        raise ValueError(f"A notification key has 1 to {KEY_LENGTH} characters, not {len(key)}.")
    if link is not None and not _is_site_path(link):
        raise ValueError(f"A notification links to a page of this site (a path such as /equipment/17), not {link!r}.")
    recipients = _recipients(session, users, roles)
    if not recipients:
        return
    now = clock.now()
    rows = [
        {
            "key": key,
            "user_id": user_id,
            "subject": _one_line(subject, SUBJECT_LENGTH),
            "body": _text(body, BODY_LENGTH),
            "link": link,
            "created_at": now,
        }
        for user_id in recipients
    ]
    created = session.execute(
        _insert(session, Notification)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["key", "user_id"])
        .returning(Notification.id, Notification.user_id)
    ).all()
    if not session.info.get(EMAIL_ENABLED):
        return
    emails = [
        {"notification_id": notification_id, "address": address, "status": EmailStatus.PENDING, "next_attempt_at": now}
        for notification_id, user_id in created
        if (address := recipients[user_id])
    ]
    if emails:
        session.execute(_insert(session, OutgoingEmail).values(emails))


def _recipients(session: Session, users: Sequence[int], roles: Sequence[RoleName]) -> dict[int, str | None]:
    """The active recipients by id, each with the address to e-mail them at (None: inbox only), in one query."""
    holding_a_role = (
        select(user_role.c.user_id).join(Role, Role.id == user_role.c.role_id).where(Role.name.in_(list(roles)))
    )
    found = session.execute(
        select(User.id, User.email, NotificationPreference.email_enabled)
        .join(Organization, Organization.id == User.organization_id)
        .outerjoin(NotificationPreference, NotificationPreference.user_id == User.id)
        .where(
            User.active.is_(True),
            or_(
                User.id.in_(list(users)),
                and_(User.id.in_(holding_a_role), Organization.kind == OrganizationKind.FACILITY),
            ),
        )
    ).all()
    return {
        user_id: email.strip() if email and email.strip() and enabled is not False else None
        for user_id, email, enabled in found
    }


def _insert(session: Session, model: type[Any]) -> Any:
    """An INSERT that can skip the rows a unique constraint already holds, in the session's SQL dialect."""
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(model)


def _is_site_path(link: str) -> bool:
    return (
        0 < len(link) <= LINK_LENGTH
        and link.startswith("/")
        and not link.startswith("//")
        and "\\" not in link
        and not _CONTROL.search(link)
        and not any(character.isspace() for character in link)
    )


def _text(text: str, length: int) -> str:
    cleaned = _CONTROL.sub("", text)
    return cleaned if len(cleaned) <= length else cleaned[: length - 1] + "…"


def _one_line(text: str, length: int) -> str:
    return _text(" ".join(_CONTROL.sub("", text).split()), length)


# The inbox


def unread_count(session: Session, user_id: int) -> int:
    """How many of the user's messages are unread, counted up to ``BADGE_LIMIT``: one statement."""
    unread = (
        select(Notification.id)
        .where(Notification.user_id == user_id, Notification.read_at.is_(None))
        .limit(BADGE_LIMIT)
        .subquery()
    )
    return session.scalar(select(func.count()).select_from(unread)) or 0


def inbox(
    session: Session, user_id: int, *, after: tuple[Any, ...] | None, limit: int, unread_only: bool = False
) -> KeysetPage[Notification]:
    """The user's messages newest first, a page at a time after ``after`` (the last shown message's id)."""
    query = select(Notification).where(Notification.user_id == user_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return page_after(session, query, (Notification.id,), after=after, limit=limit, descending=True)


def own_notification(session: Session, user_id: int, notification_id: int) -> Notification:
    """The user's message with this id; another user's is answered as one that does not exist."""
    found = session.scalar(
        select(Notification).where(Notification.id == notification_id, Notification.user_id == user_id)
    )
    if found is None:
        raise NoSuchNotification("You have no message with this number.")
    return found


def mark_read(session: Session, user_id: int, notification_id: int) -> Notification:
    notification = own_notification(session, user_id, notification_id)
    if notification.read_at is None:
        notification.read_at = clock.now()
        session.flush()
    return notification


def mark_all_read(session: Session, user_id: int, *, up_to: int | None = None) -> int:
    """Mark the user's unread messages read, those up to message ``up_to`` only when given (the newest the user
    saw: one arriving meanwhile stays unread); say how many."""
    condition = [Notification.user_id == user_id, Notification.read_at.is_(None)]
    if up_to is not None:
        condition.append(Notification.id <= up_to)
    result = session.execute(
        update(Notification).where(*condition).values(read_at=clock.now()).execution_options(synchronize_session=False)
    )
    session.expire_all()
    return int(result.rowcount)  # type: ignore[attr-defined]


# E-mail, as each user chooses


def email_enabled(session: Session, user_id: int) -> bool:
    """Whether the user's notifications also come by e-mail (they do unless the user turned it off)."""
    preference = session.get(NotificationPreference, user_id)
    return preference is None or preference.email_enabled


def set_email_enabled(session: Session, user: User, enabled: bool) -> NotificationPreference:
    """Turn e-mail of the user's notifications on or off (audited, the user's own choice as its reason)."""
    preference = session.get(NotificationPreference, user.id)
    now = clock.now()
    if preference is None:
        preference = NotificationPreference(user_id=user.id, email_enabled=enabled, changed_at=now)
        session.add(preference)
    elif preference.email_enabled != enabled:
        reason = f"{user.full_name} turned e-mail of notifications {'on' if enabled else 'off'}"
        with audit_context.reason_for_change(session, reason):
            preference.email_enabled = enabled
            preference.changed_at = now
    session.flush()
    return preference
