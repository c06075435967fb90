"""The training area's one refusal: work on a subject by someone not trained on it."""

from __future__ import annotations

from lims.errors import AccessDenied


class NotTrained(AccessDenied):
    """Only someone with training in force on a subject (a master record version, an SOP) works on it."""
