"""GMP batch records: master and executed batch records, their deviations and release."""
