"""GMP batch records: materials and lots, training; master and executed batch records, deviations, release."""
