"""Who a session's audited changes are attributed to, where they came from, and the reason stated for them."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace

from sqlalchemy.orm import Session

from lims.audit.errors import ReasonRequired

_ACTOR = "lims.audit.actor"
_REASON = "lims.audit.reason"


@dataclass(frozen=True)
class Actor:
    """Who a session's changes are attributed to, and where the request came from."""

    user_id: int | None
    name: str
    request_id: str | None = None
    client_address: str | None = None


SYSTEM = Actor(None, "system")


def act_as(session: Session, actor: Actor) -> None:
    """Attribute what ``session`` records from now on to ``actor``."""
    session.info[_ACTOR] = actor


def current_actor(session: Session) -> Actor:
    return session.info.get(_ACTOR, SYSTEM)


def attribute_to(session: Session, user_id: int, name: str) -> None:
    """Attribute what follows to a user who just proved who they are, keeping the request's details."""
    act_as(session, replace(current_actor(session), user_id=user_id, name=name))


@contextmanager
def reason_for_change(session: Session, reason: str | None) -> Iterator[None]:
    """Make ``reason`` the recorded reason of the changes made inside the block, and of no change made before it."""
    stated = (reason or "").strip()
    if not stated:
        raise ReasonRequired()
    # Changes still pending from before the block are flushed without this reason, or refused for want of one.
    session.flush()
    previous = session.info.get(_REASON)
    session.info[_REASON] = stated
    try:
        yield
        session.flush()
    finally:
        if previous is None:
            session.info.pop(_REASON, None)
        else:
            session.info[_REASON] = previous


def stated_reason(session: Session) -> str | None:
    """The reason of the ``reason_for_change`` block the session is in; None outside one."""
    return session.info.get(_REASON)
