"""Any file offered as a ClinicalTrials.gov record is read or refused with a message, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lims.errors import LimsError
from protocols.ctgov.parse import parse_study
from tests.protocols.ctgov.records import api_study, legacy_study

#: JSON values as a record's fields might hold them, however wrong
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=3),
    max_leaves=8,
)
MODULES = ("identificationModule", "statusModule", "designModule", "armsInterventionsModule", "conditionsModule")


def _read(data: bytes) -> None:
    try:
        parse_study(data, "record.json")
    except LimsError as refusal:
        assert refusal.message


@settings(max_examples=80, deadline=None)
@given(data=st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_any_bytes_are_read_or_refused(data):
    _read(data)


@settings(max_examples=80, deadline=None)
@given(module=st.sampled_from(MODULES), content=JSON_VALUES)
def test_a_json_record_with_any_module_content_is_read_or_refused(module, content):
    _read(api_study(**{module: content}))


@settings(max_examples=40, deadline=None)
@given(content=JSON_VALUES)
def test_any_json_document_is_read_or_refused(content):
    _read(json.dumps(content).encode())


@settings(max_examples=80, deadline=None)
@given(
    tag=st.sampled_from(["phase", "enrollment", "study_type", "condition", "arm_group", "intervention", "nct_id"]),
    text=st.text(max_size=60),
)
def test_an_xml_record_with_any_element_text_is_read_or_refused(tag, text):
    escaped = text.replace("&", "&amp;").replace("<", "&lt;")
    _read(legacy_study(f"<{tag}>{escaped}</{tag}>"))


@pytest.mark.parametrize(
    ("record", "message"),
    [
        (api_study(identificationModule={"nctId": "NCT09999999", "briefTitle": "HLX-19\u0000"}), "control character"),
        (
            api_study(designModule={"phases": ["PHASE3"], "enrollmentInfo": {"count": 2**31}}),
            "a whole number up to 2147483647",
        ),
        (legacy_study("<phase>Phase 3</phase>", "<enrollment>2147483648</enrollment>"), "beyond 2147483647"),
    ],
)
def test_a_record_with_a_control_character_or_a_count_no_column_holds_is_refused(record, message):
    with pytest.raises(LimsError) as refusal:
        parse_study(record)
    assert message in refusal.value.message
