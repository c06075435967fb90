"""One form of a QC result, whichever area's page enters it: a result and, when the test names a type of instrument,
the instrument; a correction with its reason."""

from __future__ import annotations

import pytest
from marshmallow import ValidationError
from werkzeug.datastructures import MultiDict

from lims.testing.schemas import ResultCorrectionSchema, ResultEntrySchema
from lims.web import load_input


def loaded(schema, **form: str):
    return load_input(schema(), MultiDict(form))


def refusals(schema, **form: str) -> dict:
    with pytest.raises(ValidationError) as refused:
        loaded(schema, **form)
    return refused.value.messages


def test_a_result_is_entered_with_or_without_an_instrument():
    assert loaded(ResultEntrySchema, result=" 91.5 % ") == {"result": "91.5 %", "instrument_id": None}
    assert loaded(ResultEntrySchema, result="91.5", instrument_id="  ") == {"result": "91.5", "instrument_id": None}
    assert loaded(ResultEntrySchema, result="91.5", instrument_id="7") == {"result": "91.5", "instrument_id": 7}


def test_a_result_without_its_value_or_with_an_unknown_instrument_is_refused_with_what_to_do():
    assert refusals(ResultEntrySchema, result="  ") == {"result": ["Enter the result."]}
    assert refusals(ResultEntrySchema, result="91.5", instrument_id="<script>") == {
        "instrument_id": ["Choose the instrument from the list."]
    }


def test_a_correction_needs_its_reason():
    assert loaded(ResultCorrectionSchema, result="92", reason="Misread") == {"result": "92", "reason": "Misread"}
    assert set(refusals(ResultCorrectionSchema, result="92")) == {"reason"}
