"""The LIMS under concurrent load against a hello-world app served the same way, in the same run.

gunicorn serves the LIMS on the lab's database (``LIMS_BENCH_LAB_URL``, filled by ``python -m bench generate``)
with WORKERS sync workers on 127.0.0.1; locust, headless in a second process on the same loopback, drives USERS
users without pause for the given number of seconds: technicians opening the current step of batches in progress
and recording their values (``locustfile.py``), QA opening review pages, the audit trail and the dashboard, and
client systems reading their batches through the API with a token. Then the same gunicorn and locust serve and
drive a hello-world Flask app (``hello.py``). It prints requests per second, p50/p95/p99 and errors of both, and
verifies the lab's audit trail afterwards (every event and every signature).

Without ``LIMS_BENCH_LAB_URL`` it generates a small lab into a temporary SQLite file: a quick look only, since
SQLite takes one writer at a time.
"""

from __future__ import annotations

import csv
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from batch_records.demo import RELEASED, STEPS
from batch_records.models import Batch, BatchStatus, BatchStep, StepStatus
from bench.lab.generate import LabSize, generate
from lims.audit import context as audit_context
from lims.audit.verification import verify_trail
from lims.db import create_engine_for
from lims.identity.demo_accounts import ACCOUNTS
from lims.identity.models import Organization, User
from lims.identity.service.api_tokens import issue_api_token

LAB_URL_VARIABLE = "LIMS_BENCH_LAB_URL"
SMALL_LAB_SCALE = 0.005
#: gunicorn's sync workers: two a core
WORKERS = 2 * (os.cpu_count() or 1)
USERS = 24
SPAWN_RATE = 8
HERE = Path(__file__).parent
REPOSITORY = HERE.parent.parent
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass(frozen=True)
class Outcome:
    requests: int
    #: a line for each kind of request
    by_request: list[str]
    failures: int
    per_second: float
    p50_ms: float
    p95_ms: float
    p99_ms: float


def run(seconds: int) -> None:
    with ExitStack() as stack:
        directory = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        lab_url = os.environ.get(LAB_URL_VARIABLE)
        if not lab_url:
            lab_url = f"sqlite:///{directory}/lab.sqlite3"
            generate(lab_url, LabSize.at(SMALL_LAB_SCALE))
        plan = _plan(lab_url, directory / "plan.json")
        lims = _load_test(
            "wsgi:app", HERE / "locustfile.py", seconds, directory, "lims", _lims_environment(lab_url, directory, plan)
        )
        hello = _load_test("bench.load.hello:app", HERE / "hello_locustfile.py", seconds, directory, "hello", {})
        _report(seconds, lims, hello)
        _verify(lab_url)


def _report(seconds: int, lims: Outcome, hello: Outcome) -> None:
    print(
        f"load: {USERS} users without pause for {seconds} s, gunicorn with {WORKERS} sync workers on 127.0.0.1, "
        f"locust headless in another process, {os.cpu_count()} cores"
    )
    for label, outcome in (("LIMS       ", lims), ("hello world", hello)):
        print(
            f"load: {label} {outcome.per_second:8.1f} req/s  p50 {outcome.p50_ms:6.0f} ms  p95 {outcome.p95_ms:6.0f} ms"
            f"  p99 {outcome.p99_ms:6.0f} ms  ({outcome.requests:,} requests, {outcome.failures} errors)"
        )
    for line in lims.by_request:
        print(f"load:   LIMS {line}")
    print(f"load: ratio LIMS/hello-world requests per second {lims.per_second / hello.per_second:.3f} (no target set)")
    print(f"load: errors {lims.failures} (target 0) {'PASS' if lims.failures == 0 else 'MISS'}")


def _plan(lab_url: str, path: Path) -> Path:
    """What the simulated users work on: the current step of each batch in progress with the values it records,
    the batches awaiting review, an API token of the client whose batches the lab makes."""
    values_by_name = {
        parameter.name: history.values.get(parameter.name, (None,))[RELEASED]
        for design, history in STEPS
        for parameter in design.parameters
    }
    engine = create_engine_for(lab_url)
    try:
        with Session(engine) as session, session.begin():
            steps = []
            for batch in session.scalars(select(Batch).where(Batch.status == BatchStatus.IN_PROGRESS)):
                current = _current_step(batch.steps)
                if current is None:
                    continue
                values = {
                    str(parameter.id): values_by_name[parameter.name]
                    for parameter in current.parameters
                    if parameter.current_entry is None and values_by_name.get(parameter.name)
                }
                steps.append({"step_id": current.id, "values": values})
            awaiting = list(session.scalars(select(Batch.id).where(Batch.status == BatchStatus.AWAITING_REVIEW)))
            released = list(session.scalars(select(Batch.id).where(Batch.status == BatchStatus.RELEASED).limit(500)))
            token = _api_token(session)
    finally:
        engine.dispose()
    path.write_text(
        json.dumps(
            {
                "steps": steps,
                "awaiting_review": awaiting,
                "client_batches": released,
                "api_token": token,
            }
        ),
        encoding="utf-8",
    )
    return path


def _current_step(steps: list[BatchStep]) -> BatchStep | None:
    return next((step for step in steps if step.status in (StepStatus.PENDING, StepStatus.IN_PROGRESS)), None)


def _api_token(session: Session) -> str:
    """A new token of the client whose protocol the lab's batches are made for, issued by the administrator."""
    admin = session.scalars(select(User).where(User.username == "a.rossi")).one()
    client = session.scalars(select(Organization).where(Organization.code == "HELIX")).one()
    audit_context.act_as(session, audit_context.Actor(admin.id, admin.full_name))
    _token, secret = issue_api_token(session, organization=client, name="Load test", actor=admin)
    return secret


def _lims_environment(lab_url: str, directory: Path, plan: Path) -> dict[str, str]:
    return {
        "LIMS_DATABASE_URL": lab_url,
        "LIMS_INSTANCE_PATH": str(directory / "instance"),
        "LIMS_SECRET_KEY": "load-test-secret-key-not-for-production",
        "LIMS_SECURE_COOKIES": "false",
        "LIMS_LOAD_PLAN": str(plan),
    }


def _load_test(
    application: str, locustfile: Path, seconds: int, directory: Path, name: str, environment: dict[str, str]
) -> Outcome:
    port = _free_port()
    env = {**os.environ, **environment}
    with _served(application, port, env, directory / f"{name}_gunicorn.log"):
        if "LIMS_LOAD_PLAN" in environment:
            _sign_in_beforehand(port, Path(environment["LIMS_LOAD_PLAN"]))
        subprocess.run(
            [
                sys.executable,
                "-m",
                "locust",
                "--locustfile",
                str(locustfile),
                "--headless",
                "--users",
                str(USERS),
                "--spawn-rate",
                str(SPAWN_RATE),
                "--run-time",
                f"{seconds}s",
                "--stop-timeout",
                "10",
                "--host",
                f"http://127.0.0.1:{port}",
                "--csv",
                str(directory / name),
                "--only-summary",
                "--loglevel",
                "WARNING",
            ],
            env=env,
            cwd=REPOSITORY,
            check=False,
            stdout=subprocess.DEVNULL,
            # locust's own summary: the figures are read from its CSV files.
            stderr=subprocess.DEVNULL,
        )
    return _outcome(directory / f"{name}_stats.csv", directory / f"{name}_failures.csv")


@contextmanager
def _served(application: str, port: int, env: dict[str, str], log: Path) -> Iterator[None]:
    """gunicorn serving ``application``; what it and the app log (the audit events among it) goes to ``log``."""
    with log.open("ab") as output:
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "--workers",
                str(WORKERS),
                "--bind",
                f"127.0.0.1:{port}",
                "--log-level",
                "warning",
                application,
            ],
            env=env,
            cwd=REPOSITORY,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_until_up(port, server, "/login" if application == "wsgi:app" else "/")
            yield
        finally:
            server.terminate()
            server.wait(timeout=60)


def _wait_until_up(port: int, server: subprocess.Popen[Any], ready_path: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn stopped with status {server.returncode} before it served")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{ready_path}", timeout=5):
                return
        except urllib.error.HTTPError as answer:
            raise RuntimeError(f"gunicorn answered {answer.code}: {answer.read().decode()[:300]}") from answer
        except OSError:
            time.sleep(0.5)
    raise RuntimeError("gunicorn did not answer within two minutes")


#: the signed-in users locust's users take in turn, by username: as many as its users of each kind
SIGNED_IN = {"t.nguyen": USERS // 4, "s.lind": USERS // 4, "q.okafor": USERS // 4}


def _sign_in_beforehand(port: int, plan: Path) -> None:
    """Sign each simulated person in before the clock starts: a sign-in checks an argon2 hash at full cost, a
    second or more of a core, and a user signs in once a shift, not once a minute."""
    passwords = {account.username: account.password for account in ACCOUNTS}
    sessions: dict[str, list[str]] = {}
    for username, count in SIGNED_IN.items():
        sessions[username] = [_session_cookie(port, username, passwords[username]) for _ in range(count)]
    content = json.loads(plan.read_text(encoding="utf-8"))
    content["sessions"] = sessions
    plan.write_text(json.dumps(content), encoding="utf-8")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *_args: Any, **_kwargs: Any) -> None:
        return None


def _session_cookie(port: int, username: str, password: str) -> str:
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirects())
    base = f"http://127.0.0.1:{port}"
    with opener.open(f"{base}/login", timeout=120) as response:
        match = CSRF_TOKEN.search(response.read().decode())
    form = {"csrf_token": match.group(1) if match else "", "username": username, "password": password}
    try:
        opener.open(f"{base}/login", data=urllib.parse.urlencode(form).encode(), timeout=120)
    except urllib.error.HTTPError as answer:
        if answer.code != 302:
            raise RuntimeError(f"signing in as {username} answered {answer.code}") from answer
    else:
        raise RuntimeError(f"signing in as {username} did not lead on to a page")
    cookie = next((cookie.value for cookie in jar if cookie.name == "lims_session"), None)
    if cookie is None:
        raise RuntimeError(f"signing in as {username} set no session cookie")
    return cookie


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _outcome(stats: Path, failures: Path) -> Outcome:
    with stats.open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    total = next(row for row in rows if row["Name"] == "Aggregated")
    with failures.open(encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            print(f"load: error {row['Occurrences']}× {row['Method']} {row['Name']}: {row['Error']}")
    return Outcome(
        requests=int(total["Request Count"]),
        by_request=[
            f"{row['Type']:<4} {row['Name']:<28} {int(row['Request Count']):6,} requests  p50 {row['50%']:>6} ms  "
            f"p95 {row['95%']:>6} ms  {int(row['Failure Count'])} errors"
            for row in rows
            if row["Name"] != "Aggregated"
        ],
        failures=int(total["Failure Count"]),
        per_second=float(total["Requests/s"]),
        p50_ms=float(total["50%"]),
        p95_ms=float(total["95%"]),
        p99_ms=float(total["99%"]),
    )


def _verify(lab_url: str) -> None:
    engine = create_engine_for(lab_url)
    try:
        with Session(engine) as session:
            started = time.perf_counter()
            verification = verify_trail(session)
            seconds = time.perf_counter() - started
    finally:
        engine.dispose()
    verdict = "PASS" if verification.intact else "MISS"
    print(f"load: audit trail afterwards: {verification.summary()} (verified in {seconds:.0f} s) {verdict}")
