"""Helpers for driving the app like a browser does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import Connection, Engine, event

from lims.db import Base
from lims.identity.models import User

#: Satisfies the password policy; used by every factory-made user.
PASSWORD = "tundra-piano-83"

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_token_from(html: str) -> str:
    match = CSRF_FIELD.search(html)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


def submit(client: FlaskClient, form_page: str, data: dict, action: str | None = None):
    """Open ``form_page`` like a browser, then post ``data`` with its CSRF token."""
    page = client.get(form_page)
    assert page.status_code == 200, f"{form_page} answered {page.status_code}"
    return client.post(action or form_page, data={"csrf_token": csrf_token_from(page.text), **data})


def login(client: FlaskClient, user: User | str, password: str = PASSWORD):
    username = user if isinstance(user, str) else user.username
    return submit(client, "/login", {"username": username, "password": password})


def duplicate_ids(html: str) -> list[str]:
    """Element ids used more than once (they break label and error associations)."""
    ids = re.findall(r'\sid="([^"]+)"', html)
    return sorted({element_id for element_id in ids if ids.count(element_id) > 1})


def history_link(entity_type: str, entity_id: object, *, with_parts: bool = False) -> str:
    """The start of the link a controlled record's page gives to its audit history, as it appears in the HTML."""
    parts = "&amp;with_parts=1" if with_parts else ""
    return f'<a href="/audit?entity_type={entity_type}&amp;entity_id={entity_id}{parts}"'


@dataclass
class Traffic:
    """What the database was asked inside a ``counted_statements`` block."""

    statements: list[str] = field(default_factory=list)
    #: how many records the ORM built from rows: a page that loads rows only to count them shows here
    loaded: int = 0


@contextmanager
def counted_statements(engine: Engine | Connection) -> Iterator[Traffic]:
    """Count the SQL statements ``engine`` (or the tests' connection) is sent, and the records loaded, in the block."""
    traffic = Traffic()

    def count_statement(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        traffic.statements.append(statement)

    def count_load(*_args: Any) -> None:
        traffic.loaded += 1

    event.listen(engine, "before_cursor_execute", count_statement)
    event.listen(Base, "load", count_load, propagate=True)
    try:
        yield traffic
    finally:
        event.remove(engine, "before_cursor_execute", count_statement)
        event.remove(Base, "load", count_load)
