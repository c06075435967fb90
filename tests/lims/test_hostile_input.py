"""Hostile input through the app: ids and numbers beyond what a column holds, control characters in any text.

Each answer is a 4xx with the usual page or JSON error, and nothing is stored; never a 500. The forms are
found as a user finds them: by following the links of every page the demo data set shows to each role.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest
from sqlalchemy import select
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from tests.helpers import csrf_token_from, login

BEYOND_A_KEY = (2**31, 10**30)
LONG_UNIT_TEXT = "1 " + "m/" * 1000 + "m"
#: addresses whose action ends the test's own sign-in rather than changing a record
SIGN_OUT = {"/logout"}


def _int_rules(app) -> Iterator:
    for rule in app.url_map.iter_rules():
        if any(isinstance(rule._converters[name], IntegerConverter) for name in rule.arguments):
            yield rule


def _raw_address(rule, number: int) -> str:
    """The rule's address with ``number`` in place of each id, written out by hand (a rule builds only in range)."""
    return re.sub(
        r"<(?:(\w+)(?:\([^)]*\))?:)?(\w+)>",
        lambda arg: str(number) if arg.group(1) in {"int", "id"} else "batch",
        rule.rule,
    )


@pytest.fixture
def role_clients(app, db_session, create_user, create_organization):
    """A test client per role, signed in (staff) or bearing its organization's API token (a client system)."""
    clients = {"anonymous": (app.test_client(), {})}
    for role in RoleName:
        client = app.test_client()
        user = create_user(role)
        db_session.commit()
        assert login(client, user).status_code == 302
        clients[role.value] = (client, {})
    admin = create_user(RoleName.ADMIN)
    _, token = api_tokens.issue_api_token(db_session, organization=create_organization(), name="probe", actor=admin)
    db_session.commit()
    clients["api token"] = (app.test_client(), {"Authorization": f"Bearer {token}"})
    return clients


def test_an_id_beyond_what_a_key_holds_is_no_page_on_any_route_for_any_role(app, role_clients):
    rules = list(_int_rules(app))
    assert len(rules) > 50, "the walk reaches every route with an id"
    for who, (client, headers) in role_clients.items():
        token = _csrf_token(client, who)
        for rule in rules:
            for number in BEYOND_A_KEY:
                address = _raw_address(rule, number)
                for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                    data = {"csrf_token": token} if method != "GET" else None
                    response = client.open(address, method=method, data=data, headers=headers)
                    assert response.status_code == 404, f"{who}: {method} {address} answered {response.status_code}"
                    if address.startswith("/api/"):
                        assert response.json["code"] == 404
                    else:
                        assert "Not found" in response.text


def _csrf_token(client, who: str) -> str:
    """The session's form token, so that a POST reaches its view (an API token needs none)."""
    if who == "api token":
        return ""
    return csrf_token_from(client.get("/login" if who == "anonymous" else "/").text)


def test_an_id_within_range_still_reaches_its_route(app, client, signed_in):
    signed_in(RoleName.ADMIN)
    response = client.get("/batches/2147483647")
    assert response.status_code == 404 and "There is no batch with id 2147483647." in response.text


# The forms of the app, as the demo data set shows them


@dataclass
class Form:
    page: str
    action: str
    method: str
    fields: dict[str, str] = field(default_factory=dict)


class _PageReader(HTMLParser):
    def __init__(self, page: str) -> None:
        super().__init__()
        self.page = page
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._form: Form | None = None
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "a" and attributes.get("href", "").startswith("/"):
            self.links.append(attributes["href"])
        elif tag == "form":
            action = attributes.get("action") or urlsplit(self.page).path
            self._form = Form(self.page, action, attributes.get("method", "get").upper())
            self.forms.append(self._form)
        elif self._form is not None and tag in {"input", "textarea", "select"} and attributes.get("name"):
            name = attributes["name"]
            if attributes.get("type") in {"checkbox", "radio"} and "checked" not in attributes:
                self._form.fields.setdefault(name, "")
            else:
                self._form.fields[name] = attributes.get("value", "")
            self._select = name if tag == "select" else None
        elif tag == "option" and self._form is not None and self._select and attributes.get("value"):
            self._form.fields[self._select] = self._form.fields[self._select] or attributes["value"]

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None


def _forms_by_crawling(client, start: str, seen_endpoints: set[str], app) -> list[Form]:
    """Every form on the pages reachable from ``start``, visiting each page kind (endpoint) at most twice."""
    adapter = app.url_map.bind("localhost")
    queue, visited, forms, visits = [start], set(), [], {}
    while queue:
        page = queue.pop(0)
        if page in visited:
            continue
        visited.add(page)
        path = urlsplit(page).path
        try:
            endpoint, _ = adapter.match(path, method="GET")
        except HTTPException:
            continue  # an address of no page (a link the page builds for a script, say)
        if endpoint == "static" or "download" in endpoint or visits.get(endpoint, 0) >= 2:
            continue
        visits[endpoint] = visits.get(endpoint, 0) + 1
        response = client.get(page)
        response.get_data()
        response.close()  # a streamed export holds its database cursor until read and closed
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        reader = _PageReader(page)
        reader.feed(response.text)
        queue.extend(link for link in reader.links if link not in visited)
        for form in reader.forms:
            key = f"{form.method} {adapter.match(urlsplit(form.action).path, method=form.method)[0]}"
            if key not in seen_endpoints and urlsplit(form.action).path not in SIGN_OUT:
                seen_endpoints.add(key)
                forms.append(form)
    return forms


@pytest.fixture
def demo_forms(app, db_session, role_clients):
    """(who, client, form) for every form the demo data set shows, each form once, under the first role shown it."""
    runner = app.test_cli_runner()
    from lims.cli import cli

    assert runner.invoke(cli, ["demo"]).exit_code == 0
    found = []
    for who in ("anonymous", "admin", "manager", "qa", "technician", "client"):
        client, _ = role_clients[who]
        start = "/login" if who == "anonymous" else "/"
        found.extend((who, client, form) for form in _forms_by_crawling(client, start, set(), app))
    return found


def _by_action(app, demo_forms) -> dict[str, list]:
    """The forms found, by what they do (method and endpoint): each with every role shown it."""
    adapter = app.url_map.bind("localhost")
    forms: dict[str, list] = {}
    for who, client, form in demo_forms:
        endpoint, _ = adapter.match(urlsplit(form.action).path, method=form.method)
        forms.setdefault(f"{form.method} {endpoint}", []).append((who, client, form))
    return forms


def _changes(db_session) -> list[str]:
    """The audit trail's events, apart from the refusals of roles that a form's route does not admit."""
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEvent.action).where(AuditEvent.action != "access.refused")))


def _send(client, form: Form, values: dict[str, str]):
    if form.method == "GET":
        # The query goes before the fragment a form's action may end with ("#picker-…"), or the server never sees it.
        response = client.get(urlsplit(form.action)._replace(query=urlencode(values), fragment="").geturl())
    else:
        response = client.post(form.action, data=values)
    response.get_data()
    response.close()  # a streamed export holds its database cursor until closed
    return response


def test_every_form_refuses_control_characters_and_numbers_beyond_a_column(app, db_session, demo_forms):
    forms = _by_action(app, demo_forms)
    assert len(forms) > 40, "the crawl reaches the forms of every area"
    before = _changes(db_session)
    refused = set()
    for action, shown_to in forms.items():
        for who, client, form in shown_to:
            typed = [name for name in form.fields if name != "csrf_token"]
            if not typed:
                break  # a button: nothing typed to refuse
            for hostile in ("\x00", "\x1b[31m"):
                values = {**form.fields, **{name: f"ok{hostile}ok" for name in typed}}
                response = _send(client, form, values)
                where = f"{who}: {form.method} {form.action} (from {form.page})"
                if response.status_code == 403:
                    break  # the route admits other roles; the form is tried as them
                assert response.status_code == 422, f"{where} answered {response.status_code}"
                for name in typed:
                    assert name in response.text, f"{where} does not name {name}"
                assert "invisible control character" in response.text, where
                refused.add(action)
    assert len(refused) > 40
    assert _changes(db_session) == before, "a refused form changed nothing"

    # The same forms (a crawl takes long), now with numbers no column holds in every field: any answer but a 500.
    for who, client, form in demo_forms:
        typed = [name for name in form.fields if name != "csrf_token"]
        for number in BEYOND_A_KEY:
            values = {**form.fields, **{name: str(number) for name in typed}}
            response = _send(client, form, values)
            where = f"{who}: {form.method} {form.action} (from {form.page}) with {number}"
            assert response.status_code < 500, f"{where} answered {response.status_code}"

    # And a unit text that once recursed too deep in the unit parser: refused unread, before any parsing.
    refused_unread = 0
    for who, client, form in demo_forms:
        typed = [name for name in form.fields if name != "csrf_token"]
        response = _send(client, form, {**form.fields, **dict.fromkeys(typed, LONG_UNIT_TEXT)})
        assert response.status_code < 500, f"{who}: {form.method} {form.action} answered {response.status_code}"
        refused_unread += "is written in at most 120 characters" in response.text
    assert refused_unread >= 5, "the quantity fields of materials, equipment, protocols and batches refuse it"
