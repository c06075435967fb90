"""Trial protocols: versions and amendments, arms, visits, sample requirements and subjects."""
