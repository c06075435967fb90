"""What the areas' demo loaders share: acting and signing as a demo user, and dating the demo's history.

Each area keeps its part of the demo data set in its own ``demo`` module and registers its loader; `lims demo`
runs the loaders in the areas' order.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy.orm import Session

from lims import clock
from lims.audit import context as audit_context
from lims.identity.demo_accounts import demo_password
from lims.identity.models import User
from lims.identity.service.users import user_by_username
from lims.signatures import service as signatures
from lims.signatures.models import SignatureMeaning

#: When something happened: (days before today, "HH:MM" local). Always a day or more ago, so never in the future.
When = tuple[int, str]


def demo_user(session: Session, username: str) -> User:
    return user_by_username(session, username)


@contextmanager
def acting_as(session: Session, user: User) -> Iterator[None]:
    """Attribute what the block records to ``user``, as if they had signed in, then to whoever it was before.

    The trail attributes a change when the session flushes it, so the block flushes on entry (what came before is
    not ``user``'s) and on exit (what it did is).
    """
    before = audit_context.current_actor(session)
    session.flush()
    audit_context.attribute_to(session, user.id, user.full_name)
    try:
        yield
        session.flush()
    finally:
        audit_context.act_as(session, before)


def sign(session: Session, record: Any, meaning: SignatureMeaning, user: User) -> None:
    """Sign ``record`` as the demo user ``user``, with their demo password."""
    with acting_as(session, user):
        signatures.sign(session, record, meaning=meaning, user=user, password=demo_password(user.username))


@contextmanager
def on(today: date, when: When, later: timedelta = timedelta()) -> Iterator[None]:
    """Run the block with the clock at ``when`` (plus ``later``): the demo's history happened on those days."""
    days_ago, hour_minute = when
    hour, minute = (int(part) for part in hour_minute.split(":"))
    moment = datetime.combine(today - timedelta(days=days_ago), time(hour, minute), tzinfo=clock.facility_zone())
    with clock.frozen(moment + later):
        yield
