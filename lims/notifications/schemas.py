"""What the inbox pages and the notifications API accept and show."""

from __future__ import annotations

from typing import Any

from marshmallow import Schema, fields, pre_load, validate

from lims.api.paging import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Cursor, Keyset
from lims.inputs import WholeNumber, record_id
from lims.notifications.models import EmailStatus
from lims.web import FormSchema


class InboxFilterSchema(FormSchema):
    """The inbox page's arguments: which messages, and where the page goes on from."""

    unread = fields.Boolean(load_default=False, truthy={"1", "true", "on"}, falsy={"0", "false", "off", ""})
    cursor = Cursor(record_id(), load_default=None)


class OutboxFilterSchema(FormSchema):
    """The e-mail log's arguments: which status, and where the page goes on from."""

    status = fields.Enum(
        EmailStatus,
        by_value=True,
        load_default=None,
        allow_none=True,
        error_messages={"unknown": "Choose a status from the list."},
    )
    cursor = Cursor(record_id(), load_default=None)

    @pre_load
    def _blank_is_any(self, data: Any, **_kwargs: Any) -> Any:
        return {key: value for key, value in data.items() if not (key == "status" and value == "")}


class MarkAllReadSchema(FormSchema):
    #: the newest message the page showed: one that arrived since stays unread
    up_to = record_id("Reload the inbox and try again.", load_default=None, allow_none=True)


class EmailChoiceSchema(FormSchema):
    email_enabled = fields.Boolean(
        required=True,
        truthy={"1", "true", "on"},
        falsy={"0", "false", "off"},
        error_messages={"required": "Choose whether the messages also come by e-mail."},
    )


class NotificationOutSchema(Schema):
    id = fields.Integer(required=True)
    subject = fields.String(required=True)
    body = fields.String(required=True)
    link = fields.String(required=True, allow_none=True, metadata={"description": "The record's page on this site."})
    created_at = fields.AwareDateTime(required=True)
    read_at = fields.AwareDateTime(required=True, allow_none=True)


#: newest first; a page goes on after the id of the last message shown
NOTIFICATION_PAGES = Keyset(NotificationOutSchema, record_id())


class InboxArgumentsSchema(Schema):
    """The list's page arguments (as every list's), and whether to list only the unread."""

    cursor = Cursor(
        record_id(), metadata={"description": "The next_cursor of the previous page; leave it out for the first page."}
    )
    limit = WholeNumber(
        load_default=DEFAULT_PAGE_SIZE,
        validate=validate.Range(1, MAX_PAGE_SIZE),
        metadata={"description": "How many items a page holds at most."},
    )
    unread = fields.Boolean(load_default=False, metadata={"description": "Only the messages not yet read."})
