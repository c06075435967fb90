"""The marshmallow fields load and dump measurements and limits as the text technicians type."""

from __future__ import annotations

from decimal import Decimal

import pytest
from marshmallow import Schema, ValidationError

from lims.units.fields import LimitField, MeasurementField
from lims.units.measurement import Measurement


class _Schema(Schema):
    volume = MeasurementField(required=True)
    storage = LimitField(required=True)


def test_marshmallow_fields_load_and_dump_the_same_text():
    loaded = _Schema().load({"volume": "2.5×10⁶ cells/mL", "storage": "2-8 degC"})
    assert loaded["volume"] == Measurement(Decimal("2.5E+6"), "cells/mL")
    dumped = _Schema().dump(loaded)
    assert dumped == {"volume": "2.5 ×10^6 cells/mL", "storage": "2–8 °C"}
    assert _Schema().load(dumped) == loaded


def test_marshmallow_fields_report_errors_per_field():
    with pytest.raises(ValidationError) as caught:
        _Schema().load({"volume": "5 foo", "storage": 7})
    assert "Unknown unit 'foo'" in caught.value.messages["volume"][0]
    assert "as text" in caught.value.messages["storage"][0]
