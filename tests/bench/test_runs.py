"""Every benchmark still runs end to end (at a tiny size; its figures are not judged here)."""

from __future__ import annotations

import importlib.util

import pytest

from bench.__main__ import BENCHMARKS, main


@pytest.mark.parametrize("name", sorted(BENCHMARKS))
def test_benchmark_runs_at_a_tiny_size(name, capsys, monkeypatch):
    for variable in (
        "LIMS_BENCH_DATABASE_URL",
        "LIMS_BENCH_LAB_URL",
        "LIMS_BENCH_EMPTY_LAB_URL",
        "LIMS_BENCH_SAMPLES_SMALL_LAB_URL",
    ):
        monkeypatch.delenv(variable, raising=False)
    if name == "load" and importlib.util.find_spec("locust") is None:
        pytest.skip("the load test drives the LIMS with locust, of the bench extra: pip install -e '.[bench]'")
    size = {
        "audit-verify": 2_000,
        "audit-viewer": 2_000,
        "equipment-list": 2_000,
        "batch-review": 8,
        "pages": 2,
        "sample-list": 2,
        "load": 5,
    }.get(name, 20)
    assert main([name, "--size", str(size)]) == 0
    output = capsys.readouterr().out
    assert f"{name}:" in output and "ratio" in output


def test_an_unknown_benchmark_is_refused(capsys):
    assert main(["no-such-benchmark"]) == 2
    assert "unknown benchmark" in capsys.readouterr().err
