"""Run the registered benchmarks: ``python -m bench [name] [--size N]``; or fill a database with a lab's worth of
records: ``python -m bench generate --database-url URL [--scale S]``."""

from __future__ import annotations

import argparse
import gc
import sys
from collections.abc import Callable
from dataclasses import dataclass

from bench import (
    audit,
    batch,
    certificates,
    compliance,
    dashboard,
    equipment,
    pages,
    pdf,
    reports,
    sample_list,
    samples,
    units,
)
from bench.lab import generate
from bench.load import run as load
from lims.areas import install


@dataclass(frozen=True)
class Benchmark:
    #: measures and prints its figures; takes the size of the job
    run: Callable[[int], None]
    #: what the size counts
    size_counts: str
    default_size: int


BENCHMARKS: dict[str, Benchmark] = {
    "dashboard": Benchmark(dashboard.run, "timed requests per measurement", 500),
    "audit-overhead": Benchmark(audit.run_overhead, "updates per measurement", 10_000),
    "audit-verify": Benchmark(audit.run_verify, "events in the chain", 1_000_000),
    "audit-viewer": Benchmark(audit.run_viewer, "events in the chain", 1_000_000),
    "units": Benchmark(units.run, "parse + convert + compare operations per measurement", 100_000),
    "equipment-list": Benchmark(equipment.run, "items in the larger registry", 100_000),
    "batch-execution": Benchmark(batch.run_execution, "steps of the master record and the batch", 60),
    "batch-review": Benchmark(batch.run_review, "steps of the larger batch (1,000 entries at 60 steps)", 60),
    "batch-pdf": Benchmark(pdf.run, "steps of the batch (1,000 entries at 60 steps)", 60),
    "certificates": Benchmark(certificates.run, "batch certificates drawn (and signed, timed apart)", 1_000),
    "reports": Benchmark(reports.run, "pages of the large audit trail report (at least)", 1_500),
    "pages": Benchmark(pages.run, "timed requests per page in each lab", 100),
    "load": Benchmark(load.run, "seconds of load on the LIMS and on the baseline", 60),
    "manifest-import": Benchmark(samples.run_import, "rows of the manifest", 10_000),
    "sample-list": Benchmark(sample_list.run, "timed requests per page in each lab", 100),
    "compliance": Benchmark(compliance.run, "nothing: the two labs' sizes decide", 1),
}


def main(argv: list[str] | None = None) -> int:
    arguments = sys.argv[1:] if argv is None else argv
    if arguments[:1] == ["generate"]:
        return generate.main(arguments[1:])
    sizes = "; ".join(
        f"{name}: {benchmark.size_counts}, default {benchmark.default_size:,}" for name, benchmark in BENCHMARKS.items()
    )
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help=f"one benchmark to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--size", type=int, help=f"the size of each benchmark's job instead of its default ({sizes})")
    options = parser.parse_args(arguments)
    if options.size is not None and options.size <= 0:
        parser.error("--size must be a positive whole number")
    if options.name is None:
        selected = list(BENCHMARKS.values())
    elif options.name in BENCHMARKS:
        selected = [BENCHMARKS[options.name]]
    else:
        print(f"unknown benchmark {options.name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    install()
    with audit.chains_shared_between_benchmarks():
        for benchmark in selected:
            # What the one before left for the collector would otherwise be collected, at length, inside this one's
            # timings: a run of all of them would give other figures than each run alone.
            gc.collect()
            benchmark.run(options.size or benchmark.default_size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
