"""JSON API of the signed-in person's own messages: list them, mark one read.

Called from the person's browser session (an API token acts for an organization, not a person); another user's
message answers 404, exactly as one that does not exist.
"""

from __future__ import annotations

from typing import Any

from flask_login import current_user

from lims.access import ANY_USER
from lims.api.blueprint import ApiBlueprint
from lims.db import get_session
from lims.notifications import schemas, service
from lims.notifications.models import Notification
from lims.pagination import KeysetPage

blueprint = ApiBlueprint("notifications_api", __name__, description="The signed-in person's messages.")


@blueprint.route("/notifications")
@blueprint.allow_signed_in(ANY_USER)
@blueprint.arguments(schemas.InboxArgumentsSchema, location="query")
@blueprint.response(200, schemas.NOTIFICATION_PAGES.page)
def index(page: dict[str, Any]) -> KeysetPage[Notification]:
    """Your messages, newest first."""
    return service.inbox(
        get_session(), current_user.id, after=page.get("cursor"), limit=page["limit"], unread_only=page["unread"]
    )


@blueprint.route("/notifications/<id:notification_id>/read", methods=["POST"])
@blueprint.allow_signed_in(ANY_USER)
@blueprint.response(200, schemas.NotificationOutSchema)
@blueprint.alt_response(404, response="NOT_FOUND")
def mark_read(notification_id: int) -> Notification:
    """Mark one of your messages read (send the page's CSRF token in the X-CSRFToken header)."""
    return service.mark_read(get_session(), current_user.id, notification_id)
