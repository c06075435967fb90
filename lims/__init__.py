"""A LIMS for GMP cell-therapy labs running post-phase-II clinical trials."""
