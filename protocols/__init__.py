"""Trial protocols, versions and amendments, arms, visits and subjects (issue: protocols)."""
