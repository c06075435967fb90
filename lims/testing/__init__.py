"""Release and sample testing: test definitions with their specifications, results and their verification."""
