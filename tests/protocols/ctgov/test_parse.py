"""Reading a study record file: telling the formats apart, the size limit, files that are not records."""

from __future__ import annotations

import pytest

from protocols.ctgov.errors import CtgovImportError
from protocols.ctgov.parse import MAX_RECORD_BYTES, parse_study
from tests.protocols.ctgov.records import api_study, refusal_of


def test_reads_json_that_starts_with_a_byte_order_mark():
    assert parse_study(b"\xef\xbb\xbf" + api_study()).nct_id == "NCT09999999"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is neither a ClinicalTrials.gov JSON record nor an XML one."),
        (b"%PDF-1.7", "The file is neither a ClinicalTrials.gov JSON record nor an XML one."),
        (b'{"protocolSection": ', "The file is not valid JSON (line 1, column 21: Expecting value)."),
        (b'{"briefTitle": "\xff"}', "The file is not UTF-8 text, as ClinicalTrials.gov JSON is."),
        (
            b'{"studies": []}',
            "The file is JSON but not a ClinicalTrials.gov API v2 single-study record (no protocolSection).",
        ),
        (b"[]", "The file is JSON but not a ClinicalTrials.gov API v2 single-study record (no protocolSection)."),
        (
            b"<clinical_study><id_info></clinical_study>",
            "The file is not well-formed XML (mismatched tag: line 1, column 27).",
        ),
        (
            b'<ODM xmlns="http://www.cdisc.org/ns/odm/v1.3"/>',
            (
                "The file is XML with root <{http://www.cdisc.org/ns/odm/v1.3}ODM>, not a ClinicalTrials.gov "
                "<clinical_study> record."
            ),
        ),
    ],
)
def test_refuses_what_is_not_a_study_record(data, message):
    assert refusal_of(data).message == message


def test_names_the_file_in_the_message():
    with pytest.raises(CtgovImportError) as refusal:
        parse_study(b"%PDF-1.7", "protocol.pdf")

    assert refusal.value.message == "“protocol.pdf” is neither a ClinicalTrials.gov JSON record nor an XML one."


def test_refuses_xml_with_entity_declarations():
    laughs = (
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;">]>'
        b"<clinical_study><brief_title>&lol2;</brief_title></clinical_study>"
    )

    assert "declares a DTD or entities" in refusal_of(laughs).message


def test_refuses_deeply_nested_json():
    deeply_nested = b'{"protocolSection": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"

    assert "nests JSON too deeply" in refusal_of(deeply_nested).message


def test_refuses_a_file_larger_than_5_mb_and_reads_one_of_exactly_5_mb():
    record = api_study()
    at_the_limit = record + b" " * (MAX_RECORD_BYTES - len(record))

    assert parse_study(at_the_limit).nct_id == "NCT09999999"
    assert refusal_of(at_the_limit + b" ").message == (
        "The file is larger than 5 MB, the limit for one ClinicalTrials.gov study record."
    )
