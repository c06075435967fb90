"""A lab's worth of records for the page and load benchmarks: ``python -m bench generate`` (see bench/README.md)."""
