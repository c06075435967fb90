"""locust's users of the LIMS: technicians at their batches' steps, QA reviewing and reading the audit trail, and
client systems reading their batches through the API. What they work on comes from the plan the load test writes
(``bench.load.run``), named by LIMS_LOAD_PLAN: no LIMS code is imported here, so gevent patches nothing of it."""

from __future__ import annotations

import itertools
import json
import os
import random
import re
from typing import Any

from locust import HttpUser, constant, task

PLAN: dict[str, Any] = json.loads(open(os.environ["LIMS_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
CSRF_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')
OPEN_PARAMETER = re.compile(r'name="parameter-(\d+)"')
#: each technician takes the next step nobody works on yet
_steps = iter(PLAN["steps"])
_taking_turns = itertools.count()
_cookies = {username: itertools.count() for username in PLAN["sessions"]}


class _SignedIn(HttpUser):
    """A person signed in before the test began (``bench.load.run``), whose browser holds the session cookie."""

    abstract = True
    wait_time = constant(0)
    usernames: tuple[str, ...] = ()

    def on_start(self) -> None:
        username = self.usernames[next(_taking_turns) % len(self.usernames)]
        cookies = PLAN["sessions"][username]
        cookie = cookies[next(_cookies[username]) % len(cookies)]
        # As the server sets it, so that the cookie it sends back replaces this one rather than joining it.
        self.client.cookies.set("lims_session", cookie, domain="127.0.0.1", path="/")

    @staticmethod
    def _csrf(page: str) -> str:
        match = CSRF_TOKEN.search(page)
        return match.group(1) if match else ""


class Technician(_SignedIn):
    """Opens the current step of a batch in progress and records its values, one parameter at a time."""

    weight = 4
    usernames = ("t.nguyen", "s.lind")

    def on_start(self) -> None:
        super().on_start()
        self.step: dict[str, Any] | None = next(_steps, None)

    @task(3)
    def step_page(self) -> None:
        if self.step is not None:
            self.client.get(f"/batch-steps/{self.step['step_id']}", name="/batch-steps/[id]")

    @task(1)
    def record_a_value(self) -> None:
        if self.step is None:
            return
        page = self.client.get(f"/batch-steps/{self.step['step_id']}", name="/batch-steps/[id]").text
        values = self.step["values"]
        open_parameters = [pid for pid in OPEN_PARAMETER.findall(page) if pid in values]
        if not open_parameters:
            # Every value of this step is recorded: on to another batch.
            self.step = next(_steps, None)
            return
        parameter = open_parameters[0]
        with self.client.post(
            f"/batch-steps/{self.step['step_id']}/entries",
            data={"csrf_token": self._csrf(page), f"parameter-{parameter}": values[parameter]},
            name="/batch-steps/[id]/entries",
            allow_redirects=False,
            catch_response=True,
        ) as response:
            if response.status_code != 303:
                response.failure(f"recording a value answered {response.status_code}")


class QualityAssurance(_SignedIn):
    """Reviews batches awaiting disposition, reads the audit trail and the dashboard."""

    weight = 2
    usernames = ("q.okafor",)

    @task(2)
    def review(self) -> None:
        self.client.get(f"/batches/{random.choice(PLAN['awaiting_review'])}/review", name="/batches/[id]/review")

    @task(1)
    def audit_trail(self) -> None:
        self.client.get("/audit", name="/audit")

    @task(1)
    def dashboard(self) -> None:
        self.client.get("/", name="/")


class ClientSystem(HttpUser):
    """A client start-up's system reading its batches through the API with its token."""

    weight = 2
    wait_time = constant(0)

    def on_start(self) -> None:
        self.client.headers["Authorization"] = f"Bearer {PLAN['api_token']}"

    @task(2)
    def batches(self) -> None:
        self.client.get("/api/v1/batches", name="/api/v1/batches")

    @task(1)
    def batch(self) -> None:
        self.client.get(f"/api/v1/batches/{random.choice(PLAN['client_batches'])}", name="/api/v1/batches/[id]")
