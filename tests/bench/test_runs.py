"""Every benchmark still runs end to end (at a tiny size; its figures are not judged here)."""

from __future__ import annotations

import pytest

from bench.__main__ import BENCHMARKS, main


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_runs_at_a_tiny_size(name, capsys, monkeypatch):
    monkeypatch.delenv("LIMS_BENCH_DATABASE_URL", raising=False)
    size = {"audit-verify": 2_000, "audit-viewer": 2_000, "equipment-list": 2_000, "batch-review": 8}.get(name, 20)
    assert main([name, "--size", str(size)]) == 0
    output = capsys.readouterr().out
    assert f"{name}:" in output and "ratio" in output


def test_an_unknown_benchmark_is_refused(capsys):
    assert main(["no-such-benchmark"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
