"""Helpers for driving the app like a browser does."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

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
