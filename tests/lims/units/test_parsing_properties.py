"""Any text typed as a quantity, range, limit or unit is read or refused with a message, never a crash.

The time a text takes is bounded by design (texts beyond MAX_QUANTITY_TEXT are refused unread), so the
examples have no deadline and the texts run past that length.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.errors import LimsError
from lims.units.parsing import parse_in_unit, parse_limit, parse_measurement, parse_range, unit_text
from lims.units.registry import MAX_QUANTITY_TEXT
from lims.units.ucum import from_ucum

#: what quantities are made of, so that the examples reach past the first refusal into the unit parser
_QUANTITY_CHARACTERS = "0123456789.,eE+-–x×*·^/()[]{} ±<>=≥≤%°µμ⁰¹²³⁶⁻mLlgcelsCFUIvkhdsKAmolmin"
QUANTITY_TEXT = st.text(alphabet=_QUANTITY_CHARACTERS, max_size=MAX_QUANTITY_TEXT + 20) | st.text(
    max_size=MAX_QUANTITY_TEXT + 20
)
READERS: dict[str, Callable[[str], object]] = {
    "measurement": parse_measurement,
    "range": parse_range,
    "limit": parse_limit,
    "value in mL": lambda text: parse_in_unit(text, "mL"),
    "unit": unit_text,
    "UCUM code": lambda code: from_ucum(Decimal(1), code),
}


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@settings(max_examples=60, deadline=None)
@given(text=QUANTITY_TEXT)
def test_any_text_is_read_or_refused_with_a_message(reader, text):
    try:
        reader(text)
    except LimsError as refusal:
        assert refusal.message


@pytest.mark.parametrize("reader", READERS.values(), ids=READERS.keys())
@settings(max_examples=10, deadline=None)
@given(unit=st.sampled_from(["m", "mL", "cells", "(m)", "m**9"]), repeat=st.integers(1, 2000))
def test_long_chains_of_units_are_refused_unread(reader, unit, repeat):
    text = "1 " + "/".join([unit] * repeat)
    try:
        reader(text)
    except LimsError as refusal:
        assert refusal.message
    else:
        assert len(text) <= MAX_QUANTITY_TEXT


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1 " + "m/" * 1000 + "m", "A value with its unit is written in at most 120 characters; this text has 2003."),
        ("1" * 10**6 + " mL", "A value with its unit is written in at most 120 characters"),
        ("1e999999999 mL", "is beyond the values the LIMS records (10^-30 to 10^30)"),
        ("2 x 10^-31 mL", "is beyond the values the LIMS records"),
        ("1 m**9**9", "raises a unit beyond the power 9"),
        ("1 (mL", "Unknown unit '(mL'"),
        ("1 m*s*g*mol*cd*K*A*L*Pa*J*W*N*Hz*T*V", "is longer than the 32 characters a unit is kept in"),
    ],
)
def test_a_quantity_beyond_what_the_lab_writes_is_refused_with_a_message(text, message):
    with pytest.raises(LimsError) as refusal:
        parse_measurement(text)
    assert message in refusal.value.message


def test_zero_with_any_power_of_ten_is_zero():
    assert str(parse_measurement("0e-99999 mL")) == "0 mL"
