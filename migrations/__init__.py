"""Alembic revisions of the LIMS schema (run them with `lims db upgrade`)."""
