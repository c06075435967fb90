"""Sessions that e-mail notifications (as a site with SMTP settings does), and messages to arrange."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from sqlalchemy import select

from lims.identity.models import RoleName
from lims.notifications import service
from lims.notifications.models import Notification


@pytest.fixture
def emailing(db_session):
    """The test's session, as on a site whose SMTP settings make notifications go by e-mail too."""
    db_session.info[service.EMAIL_ENABLED] = True
    return db_session


@pytest.fixture
def send(db_session) -> Callable[..., None]:
    def notify(key: str = "finding:1:opened", *, users=(), roles=(), link: str | None = "/equipment/17", **text):
        service.notify(
            db_session,
            key=key,
            subject=text.get("subject", "Calibration overdue: centrifuge CF-004"),
            body=text.get("body", "Calibration 4 days overdue (due 2026-12-01)."),
            link=link,
            users=users,
            roles=roles,
        )

    return notify


def messages_of(session, user) -> list[Notification]:
    return list(session.scalars(select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)))


QA = RoleName.QA
