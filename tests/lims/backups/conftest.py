"""What the backups' tests share: the `lims` command line as an operator runs it."""

from __future__ import annotations

import pytest

from lims.cli import cli


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, env: dict[str, str] | None = None):
        return runner.invoke(cli, list(args), env=env)

    return invoke
