"""Run the registered benchmarks: ``python -m bench [name] [--requests N]``."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from bench import dashboard

#: name -> benchmark; each takes the number of timed requests and prints its figures.
BENCHMARKS: dict[str, Callable[[int], None]] = {
    "dashboard": dashboard.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("name", nargs="?", help=f"one benchmark to run: {', '.join(BENCHMARKS)} (default: all)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per measurement (default: 500)")
    options = parser.parse_args(argv)
    if options.requests <= 0:
        parser.error("--requests must be a positive whole number")
    if options.name is None:
        selected = list(BENCHMARKS.values())
    elif options.name in BENCHMARKS:
        selected = [BENCHMARKS[options.name]]
    else:
        print(f"unknown benchmark {options.name!r}; known: {', '.join(BENCHMARKS)}", file=sys.stderr)
        return 2
    for benchmark in selected:
        benchmark(options.requests)
    return 0


if __name__ == "__main__":
    sys.exit(main())
