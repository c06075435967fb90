"""Signed-in sessions, kept on the server: opened at sign-in, found from the cookie's token, ended for a cause.

The cookie carries only a random token; the session it names lives in ``user_session``. Ending the row
ends the session for every copy of the cookie. Each end is an audit event: ``logout`` when the user signs
out or stays idle too long, ``session.ended`` when something else ends it (deactivation, lockout, a new
password, an administrator).
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, joinedload

from lims import clock
from lims.audit import chain as audit_chain
from lims.audit.errors import ReasonRequired
from lims.identity.errors import NoSessionToEnd
from lims.identity.models import SessionEndCause, User, UserSession

USER_AGENT_LENGTH = 300

#: How each cause reads in the audit trail.
CAUSE_TEXT: dict[SessionEndCause, str] = {
    SessionEndCause.SIGNED_OUT: "signed out",
    SessionEndCause.IDLE: "idle for longer than the idle time",
    SessionEndCause.DEACTIVATED: "the account was deactivated",
    SessionEndCause.LOCKED: "the account was locked",
    SessionEndCause.PASSWORD_CHANGED: "the password was changed",
    SessionEndCause.PASSWORD_RESET: "the password was reset",
    SessionEndCause.ENDED_BY_ADMINISTRATOR: "ended by an administrator",
}

#: The causes the user chose or let happen; any other end is done to the session.
_SIGN_OUTS = frozenset({SessionEndCause.SIGNED_OUT, SessionEndCause.IDLE})


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def open_session(session: Session, user: User, *, client_address: str | None, user_agent: str | None) -> str:
    """Open a session for a user who just signed in; return the token the cookie is to carry."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        UserSession(
            user=user,
            token_hash=_token_hash(token),
            created_at=now,
            last_seen_at=now,
            client_address=client_address,
            user_agent=(user_agent or "")[:USER_AGENT_LENGTH] or None,
        )
    )
    session.flush()
    return token


def find_open_session(session: Session, token: str) -> UserSession | None:
    """The open session of an active user that ``token`` names, with the user's roles and organization; else None.

    One statement: every request asks this.
    """
    user_session = (
        session.scalars(
            select(UserSession)
            .where(UserSession.token_hash == _token_hash(token), UserSession.ended_at.is_(None))
            .options(
                joinedload(UserSession.user).joinedload(User.organization),
                joinedload(UserSession.user).joinedload(User.roles),
            )
        )
        .unique()
        .one_or_none()
    )
    if user_session is None or not user_session.user.active:
        return None
    return user_session


def is_idle(user_session: UserSession, *, idle_time: timedelta, at: datetime) -> bool:
    return at - user_session.last_seen_at > idle_time


def activity_is_due(user_session: UserSession, *, idle_time: timedelta, at: datetime) -> bool:
    """Whether a request at ``at`` is to be recorded: activity is kept to a thirtieth of the idle time, so that most
    requests write nothing (on PostgreSQL every write waits for the write lock)."""
    return at - user_session.last_seen_at >= idle_time / 30


def note_activity(session: Session, user_session_id: int, at: datetime) -> None:
    """Record a request of the session: one UPDATE by key, no read."""
    session.execute(update(UserSession).where(UserSession.id == user_session_id).values(last_seen_at=at))


def end_session(
    session: Session,
    user_session: UserSession,
    cause: SessionEndCause,
    *,
    reason: str | None = None,
    idle_time: timedelta | None = None,
) -> bool:
    """End one session for ``cause`` and audit it; the cookie that names it opens nothing any more.

    Return False, auditing nothing, if a concurrent request ended it first (two tabs finding it idle).
    """
    ended = cast(
        CursorResult[Any],
        session.execute(
            update(UserSession)
            .where(UserSession.id == user_session.id, UserSession.ended_at.is_(None))
            .values(ended_at=clock.now(), end_cause=cause)
        ),
    )
    if ended.rowcount == 0:
        return False
    details: dict[str, object] = {"session": user_session.id, "cause": CAUSE_TEXT[cause]}
    if cause is SessionEndCause.IDLE and idle_time is not None:
        details["cause"] = f"idle for more than {int(idle_time.total_seconds() // 60)} minutes"
        details["last_seen_at"] = user_session.last_seen_at
    action = "logout" if cause in _SIGN_OUTS else "session.ended"
    audit_chain.record(session, action, entity=user_session.user, details=details, reason=reason)
    return True


def open_sessions(session: Session, user: User) -> list[UserSession]:
    """Every session of ``user`` not yet ended, idle ones included, oldest first."""
    return list(
        session.scalars(
            select(UserSession)
            .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
            .order_by(UserSession.created_at, UserSession.id)
        )
    )


def end_sessions(session: Session, user: User, cause: SessionEndCause, *, reason: str | None = None) -> int:
    """End every open session of ``user`` for ``cause``; return how many ended."""
    return sum(
        end_session(session, user_session, cause, reason=reason) for user_session in open_sessions(session, user)
    )


def end_idle_sessions(session: Session, *, idle_time: timedelta) -> int:
    """End every session idle beyond ``idle_time`` whose browser never came back; return how many ended."""
    idle = list(
        session.scalars(
            select(UserSession)
            .where(UserSession.ended_at.is_(None), UserSession.last_seen_at < clock.now() - idle_time)
            .options(joinedload(UserSession.user))
            .order_by(UserSession.id)
        )
    )
    return sum(end_session(session, user_session, SessionEndCause.IDLE, idle_time=idle_time) for user_session in idle)


def active_sessions(session: Session, user: User, *, idle_time: timedelta) -> list[UserSession]:
    """The sessions of ``user`` still in use: not ended and not idle, most recently seen first."""
    return list(
        session.scalars(
            select(UserSession)
            .where(
                UserSession.user_id == user.id,
                UserSession.ended_at.is_(None),
                UserSession.last_seen_at >= clock.now() - idle_time,
            )
            .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc())
        )
    )


def end_sessions_by_administrator(session: Session, user: User, *, reason: str) -> int:
    """End every open session of ``user`` at an administrator's request, for the reason given; return how many."""
    if not reason.strip():
        raise ReasonRequired("Give the reason for ending these sessions.")
    ended = end_sessions(session, user, SessionEndCause.ENDED_BY_ADMINISTRATOR, reason=reason.strip())
    if ended == 0:
        raise NoSessionToEnd(f"{user.username} has no session in use.")
    return ended
