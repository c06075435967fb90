"""GMP master and executed batch records, deviations and release (issue: batch records)."""
