"""Everyday pages at lab scale against the same pages in an almost empty lab, through the full app.

Each page is requested through the Flask test client, signed in as the role that works with it: the dashboard
as each role, the batch, equipment, lot, deviation, protocol and audit lists, a batch page, QA's review page, the
step page of a batch in progress (its equipment and lot pickers) and the page that starts a batch (its subject
picker).
The lab is a database ``python -m bench generate`` filled (10,000 batches, 100,000 equipment items and lots,
1,000,000 audit events at scale 1), the baseline one it filled at a tiny scale; both hold the demo's records,
so the batch and review pages show the same batch in both. Requests alternate between the two, so both see the
same load on the machine. For each page: p50 and p95 latency, and the SQL statements one request sends.

``LIMS_BENCH_LAB_URL`` and ``LIMS_BENCH_EMPTY_LAB_URL`` name the two databases; without them both are generated
into temporary SQLite files at small scales (a quick look, not the measurement at lab scale).
"""

from __future__ import annotations

import os
import re
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text

from bench.audit import Target, _print_ratio
from bench.lab.generate import LabSize, generate
from lims.app import create_app
from lims.identity.demo_accounts import ACCOUNTS

LAB_URL_VARIABLE = "LIMS_BENCH_LAB_URL"
EMPTY_LAB_URL_VARIABLE = "LIMS_BENCH_EMPTY_LAB_URL"
#: the scales generated when no database is named
LAB_SCALE, EMPTY_LAB_SCALE = 0.02, 0.001
WARM_UP_REQUESTS = 5
RATIO_TARGET = Target("≤", 1.5)
#: p95 at lab scale of list pages and the dashboard, on PostgreSQL on the machine the run states
P95_TARGET_MS = 50.0
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class PageToMeasure:
    label: str
    username: str
    #: the path, with {released}, {awaiting}, {material} and {step} for the demo's records
    path: str
    #: a list page or the dashboard, which the p95 target applies to
    listing: bool = True


PAGES = (
    *(
        PageToMeasure(f"dashboard ({account.role.value})", account.username, "/")
        for account in ACCOUNTS
        if account.username in {"a.rossi", "m.larsen", "q.okafor", "t.nguyen", "c.patel"}
    ),
    PageToMeasure("batch list", "q.okafor", "/batches"),
    PageToMeasure("equipment list", "t.nguyen", "/equipment"),
    PageToMeasure("lot list (a material's lots)", "q.okafor", "/materials/{material}"),
    PageToMeasure("deviation list", "q.okafor", "/deviations"),
    PageToMeasure("protocol list", "m.larsen", "/protocols"),
    PageToMeasure("audit trail", "q.okafor", "/audit"),
    PageToMeasure("batch page (released)", "q.okafor", "/batches/{released}", listing=False),
    PageToMeasure("review page (awaiting review)", "q.okafor", "/batches/{awaiting}/review", listing=False),
    PageToMeasure("step page (in progress)", "t.nguyen", "/batch-steps/{step}", listing=False),
    PageToMeasure("start a batch", "t.nguyen", "/batches/new", listing=False),
)


@dataclass
class Lab:
    """One database served by its own app, a signed-in client per user, and a count of statements sent."""

    app: Flask
    clients: dict[str, FlaskClient]
    paths: dict[str, int | str]
    statements: list[int]

    def get(self, username: str, path: str) -> tuple[float, int]:
        """Seconds one request took and the statements it sent; stop unless it answered 200."""
        self.statements[0] = 0
        started = time.perf_counter()
        response = self.clients[username].get(path.format(**self.paths))
        seconds = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"{path} as {username} answered {response.status_code}, not 200")
        return seconds, self.statements[0]


@dataclass(frozen=True)
class Measured:
    p50_ms: float
    p95_ms: float
    statements: int


def run(requests: int) -> None:
    with ExitStack() as stack:
        lab_url, empty_url = _databases(stack)
        lab = stack.enter_context(_served(lab_url, stack))
        empty = stack.enter_context(_served(empty_url, stack))
        print(f"pages: lab   {_holding(lab)}")
        print(f"pages: empty {_holding(empty)}")
        print(
            f"pages: {'page':<32} {'empty p50':>9} {'p95':>7} {'stmts':>5}   {'lab p50':>8} {'p95':>7} {'stmts':>5}"
            f"   ratio p50 (median of {requests} requests each, alternated)"
        )
        results = []
        for page in PAGES:
            empty_measured, lab_measured = _measure(page, empty, lab, requests)
            results.append((page, empty_measured, lab_measured))
            print(
                f"pages: {page.label:<32} {empty_measured.p50_ms:7.1f}ms {empty_measured.p95_ms:5.1f}ms "
                f"{empty_measured.statements:5d}   {lab_measured.p50_ms:6.1f}ms {lab_measured.p95_ms:5.1f}ms "
                f"{lab_measured.statements:5d}   {lab_measured.p50_ms / empty_measured.p50_ms:5.2f}×"
            )
    _verdicts(results, lab_url)


def _verdicts(results: list[tuple[PageToMeasure, Measured, Measured]], lab_url: str) -> None:
    unequal = [page.label for page, empty, lab in results if empty.statements != lab.statements]
    print(
        f"pages: statements per page equal in both labs: "
        f"{'all' if not unequal else 'not for ' + ', '.join(unequal)} {'PASS' if not unequal else 'MISS'}"
    )
    worst_page, worst_empty, worst_lab = max(results, key=lambda result: result[2].p50_ms / result[1].p50_ms)
    _print_ratio(
        "pages",
        f"lab/empty p50 latency, worst ({worst_page.label})",
        worst_lab.p50_ms / worst_empty.p50_ms,
        RATIO_TARGET,
    )
    slow = [(page.label, lab.p95_ms) for page, _empty, lab in results if page.listing and lab.p95_ms > P95_TARGET_MS]
    engine = lab_url.split(":", 1)[0].split("+", 1)[0]
    print(
        f"pages: p95 at lab scale of list pages and dashboards ≤ {P95_TARGET_MS:g} ms ({engine}): "
        + ("all PASS" if not slow else "MISS for " + ", ".join(f"{label} {ms:.0f} ms" for label, ms in slow))
    )


def _measure(page: PageToMeasure, empty: Lab, lab: Lab, requests: int) -> tuple[Measured, Measured]:
    timings: dict[int, list[float]] = {id(empty): [], id(lab): []}
    statements: dict[int, list[int]] = {id(empty): [], id(lab): []}
    for number in range(WARM_UP_REQUESTS + requests):
        for served in (empty, lab) if number % 2 == 0 else (lab, empty):
            seconds, sent = served.get(page.username, page.path)
            if number >= WARM_UP_REQUESTS:
                timings[id(served)].append(seconds * 1000)
                statements[id(served)].append(sent)
    return _summary(timings[id(empty)], statements[id(empty)]), _summary(timings[id(lab)], statements[id(lab)])


def _summary(milliseconds: list[float], statements: list[int]) -> Measured:
    quantiles = statistics.quantiles(milliseconds, n=20, method="inclusive")
    # A request now and then also records the session's activity (a statement more): the usual count is the page's.
    return Measured(statistics.median(milliseconds), quantiles[18], statistics.mode(statements))


def _databases(
    stack: ExitStack,
    *,
    small_lab_variable: str = EMPTY_LAB_URL_VARIABLE,
    scales: tuple[float, float] = (LAB_SCALE, EMPTY_LAB_SCALE),
) -> tuple[str, str]:
    """The URLs of the lab (``LAB_URL_VARIABLE``) and of the smaller lab it is compared with, or, unless both are
    set, two labs generated at ``scales`` into temporary SQLite files that ``stack`` removes."""
    lab_url, small_url = os.environ.get(LAB_URL_VARIABLE), os.environ.get(small_lab_variable)
    if lab_url and small_url:
        return lab_url, small_url
    directory = stack.enter_context(tempfile.TemporaryDirectory())
    lab_url, small_url = f"sqlite:///{directory}/lab.sqlite3", f"sqlite:///{directory}/small.sqlite3"
    generate(lab_url, LabSize.at(scales[0]))
    generate(small_url, LabSize.at(scales[1]))
    return lab_url, small_url


@contextmanager
def _served(url: str, stack: ExitStack) -> Iterator[Lab]:
    instance = stack.enter_context(tempfile.TemporaryDirectory())
    app = create_app({"DATABASE_URL": url, "INSTANCE_PATH": instance, "SECRET_KEY": "bench"})
    engine = app.extensions["lims.db"].engine
    statements = [0]

    def count(*_: Any) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", count)
    try:
        with engine.connect() as connection:
            paths: dict[str, int | str] = {
                "released": _first(connection, "SELECT min(id) FROM batch WHERE status = 'released'"),
                "awaiting": _first(connection, "SELECT min(id) FROM batch WHERE status = 'awaiting review'"),
                "material": _first(connection, "SELECT min(id) FROM material"),
                # The current step of the demo's batch in progress: its pickers list equipment and lots.
                "step": _first(
                    connection,
                    "SELECT min(s.id) FROM batch_step s WHERE s.batch_id = "
                    "(SELECT min(id) FROM batch WHERE status = 'in progress') AND s.status NOT IN ('completed', "
                    "'skipped') AND s.position = (SELECT min(o.position) FROM batch_step o WHERE o.batch_id = "
                    "s.batch_id AND o.status NOT IN ('completed', 'skipped'))",
                ),
            }
        clients = {page.username: _signed_in(app, page.username) for page in PAGES}
        yield Lab(app, clients, paths, statements)
    finally:
        event.remove(engine, "before_cursor_execute", count)
        engine.dispose()


def _first(connection: Any, query: str) -> int:
    value = connection.execute(text(query)).scalar()
    if value is None:
        raise RuntimeError(f"the lab has nothing for {query!r}: generate it with `python -m bench generate`")
    return int(value)


def _holding(lab: Lab) -> str:
    engine = lab.app.extensions["lims.db"].engine
    with engine.connect() as connection:
        counts = {
            name: connection.execute(select(func.count()).select_from(text(name))).scalar_one()
            for name in ("batch", "equipment", "material_lot", "protocol", "audit_event")
        }
    return (
        f"{engine.url.get_backend_name()}: {counts['batch']:,} batches, {counts['equipment']:,} equipment items, "
        f"{counts['material_lot']:,} lots, {counts['protocol']:,} protocols, {counts['audit_event']:,} audit events"
    )


def _signed_in(app: Flask, username: str) -> FlaskClient:
    password = next(account.password for account in ACCOUNTS if account.username == username)
    client = app.test_client()
    match = CSRF_TOKEN.search(client.get("/login").get_data(as_text=True))
    if match is None:
        raise RuntimeError("the login page carries no CSRF token")
    response = client.post("/login", data={"csrf_token": match.group(1), "username": username, "password": password})
    if response.status_code != 302:
        raise RuntimeError(f"signing in as {username} answered {response.status_code}, not 302")
    return client
