"""locust's users for the baseline: each asks the hello-world app for its one page, as fast as it answers."""

from __future__ import annotations

from locust import HttpUser, task


class Visitor(HttpUser):
    @task
    def hello(self) -> None:
        self.client.get("/", name="/")
