"""Compliance: the scheduled checks the areas declare, the findings they keep open, and the scheduler that runs
them (one per database)."""
