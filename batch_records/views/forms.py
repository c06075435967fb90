"""A form repeated on a page (one per entry, one per result), and its errors shown at their own fields."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import request
from marshmallow import Schema, ValidationError
from werkzeug.datastructures import MultiDict

from lims.errors import LimsError
from lims.web import field_errors, load_input


@dataclass(frozen=True)
class RepeatedForm:
    """One of several copies of a form on a page (a correction per entry): its fields are named ``prefix + name``."""

    prefix: str
    schema: type[Schema]

    def load(self) -> dict[str, Any]:
        posted = MultiDict([(key.removeprefix(self.prefix), value) for key, value in request.form.items(multi=True)
                            if key.startswith(self.prefix)])
        return load_input(self.schema(), posted)


def page_errors(error: ValidationError | LimsError, repeated: RepeatedForm | None) -> dict[str, list[str]]:
    """Errors keyed by the names the page gives its fields, so that each shows at its own field."""
    errors = field_errors(error)
    if repeated is None:
        return errors
    own = set(repeated.schema().fields)
    return {f"{repeated.prefix}{name}" if name in own else name: messages for name, messages in errors.items()}
