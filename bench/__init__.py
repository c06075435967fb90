"""Benchmarks of the LIMS; run them with ``python -m bench`` (see bench/README.md)."""
