"""What notifications contribute: the inbox with its header badge and API, the e-mail settings, and the scheduled
e-mail delivery."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, null, select
from sqlalchemy.orm import Session

from lims.identity.models import User
from lims.notifications import api, delivery, service, views
from lims.notifications.models import NotificationPreference
from lims.registry import AreaJob, HeaderLink, RecordNames, Registry

#: how often the scheduler hands the e-mails that are due to the SMTP server
EMAIL_EVERY_SECONDS = 60


def _name_settings(ids: list[int]) -> Select[*tuple[Any, ...]]:
    return (
        select(NotificationPreference.user_id, User.username, null())
        .join(User, User.id == NotificationPreference.user_id)
        .where(NotificationPreference.user_id.in_(ids))
    )


def _find_settings(session: Session, username: str) -> str | None:
    found = session.scalar(
        select(NotificationPreference.user_id)
        .join(User, User.id == NotificationPreference.user_id)
        .where(User.username == username)
    )
    return None if found is None else str(found)


def register(registry: Registry) -> None:
    registry.blueprint(views.blueprint)
    registry.api_blueprint(api.blueprint)
    registry.header_link(
        HeaderLink(
            "Inbox",
            "notifications.inbox",
            lambda session, user: service.unread_count(session, user.id),
            count_limit=service.BADGE_LIMIT,
        )
    )
    registry.record_names(
        RecordNames("notification_preference", "notification settings of", _name_settings, _find_settings, "a username")
    )
    registry.area_job(
        AreaJob(
            "notification-emails",
            "E-mail the notifications that are due, retrying those that failed",
            EMAIL_EVERY_SECONDS,
            delivery.deliver_from_config,
        )
    )
