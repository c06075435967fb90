"""The refusals of testing: results that cannot be read, and results a correction replaced."""

from __future__ import annotations

from lims.errors import Conflict, InvalidInput


class ResultUnreadable(InvalidInput):
    """A quantitative result is a value in the unit the test reports in."""


class ResultReplaced(Conflict):
    """A corrected result is history: the correction is what is corrected again or verified."""


class UnknownInstrument(InvalidInput):
    """A result names registered equipment as its instrument."""


class WrongInstrument(InvalidInput):
    """A result of a test that names the kind of its instrument (a flow cytometer) names an item of that kind."""
