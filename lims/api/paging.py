"""The one page shape of every list: ``{"items": [...], "next_cursor": "..." | null}``, continued by keyset.

A page goes on after the sort key of the last item the previous page showed, so a row added or removed
meanwhile neither repeats nor skips another, and the database seeks instead of counting an offset.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200
BAD_CURSOR = "This cursor is not one this list gave out; send the next_cursor of the previous page, or none."


class Cursor(fields.Field):
    """The sort key of a list's last shown item, as opaque URL-safe text; ``key`` types each of its parts.

    The API's set-up describes it as a string.
    """

    def __init__(self, *key: fields.Field[Any], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.key = key

    def _serialize(self, value: tuple[Any, ...] | None, attr: str | None, obj: Any, **kwargs: Any) -> str | None:
        if value is None:
            return None
        parts = [field._serialize(part, None, None) for field, part in zip(self.key, value, strict=True)]
        return base64.urlsafe_b64encode(json.dumps(parts, separators=(",", ":")).encode()).decode().rstrip("=")

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> tuple[Any, ...]:
        if not isinstance(value, str):
            raise ValidationError(BAD_CURSOR)
        try:
            parts = json.loads(base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)))
        except (ValueError, binascii.Error):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ValidationError(BAD_CURSOR) from None
        if not isinstance(parts, list) or len(parts) != len(self.key):
            raise ValidationError(BAD_CURSOR)
        try:
            key = tuple(field.deserialize(part) for field, part in zip(self.key, parts, strict=True))
        except ValidationError:
            raise ValidationError(BAD_CURSOR) from None
        if any(isinstance(part, str) and "\x00" in part for part in key):
            raise ValidationError(BAD_CURSOR)  # no database text holds one, and PostgreSQL refuses to compare it
        return key


class Keyset:
    """How one kind of item is listed a page at a time: its query arguments and its page schema.

    ``key`` types the parts of the sort key the service orders that list by (the service says which
    columns); the cursor carries them from one page to the next.
    """

    def __init__(self, item_schema: type[Schema], *key: fields.Field[Any]) -> None:
        name = item_schema.__name__.removesuffix("Schema").removesuffix("Out")
        self.arguments: type[Schema] = Schema.from_dict(
            {
                "cursor": Cursor(
                    *key,
                    metadata={"description": "The next_cursor of the previous page; leave it out for the first page."},
                ),
                "limit": fields.Integer(
                    load_default=DEFAULT_PAGE_SIZE,
                    validate=validate.Range(1, MAX_PAGE_SIZE),
                    metadata={"description": "How many items a page holds at most."},
                ),
            },
            name=f"{name}PageArguments",
        )
        self.page: type[Schema] = Schema.from_dict(
            {
                "items": fields.List(fields.Nested(item_schema), required=True),
                "next_cursor": Cursor(
                    *key,
                    attribute="next_key",
                    required=True,
                    allow_none=True,
                    metadata={
                        "description": "Send it as the cursor argument for the next page; null on the last page."
                    },
                ),
            },
            name=f"{name}Page",
        )
