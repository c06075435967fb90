"""QA reports: the audit trail, calibration, deviations, releases, training and batch reviews, as PDF and CSV."""
