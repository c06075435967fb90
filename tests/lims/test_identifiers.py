"""Identifier rules: the ISBT 128 donation identification number with its check character, the lab's own pattern,
and no person's data in either."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from lims.identifiers import ISBT_128_DIN, IdentifierRefused, IdentifierRule, din_check_character, personal_data_in

ISBT128_CHECK_CHARACTERS = (
    Path(__file__).resolve().parents[3] / "shared" / "reference-data" / "isbt128" / "din_check_characters.csv"
)


def published_examples() -> list[tuple[str, str]]:
    if not ISBT128_CHECK_CHARACTERS.exists():
        return []
    with ISBT128_CHECK_CHARACTERS.open(newline="") as handle:
        return [(row["din_without_flag"], row["check_char"]) for row in csv.DictReader(handle)]


@pytest.fixture(scope="module")
def examples() -> list[tuple[str, str]]:
    found = published_examples()
    if not found:
        pytest.skip(
            f"ISBT 128 check character examples not found at {ISBT128_CHECK_CHARACTERS} "
            "(../shared/reference-data is absent)"
        )
    return found


def test_the_check_character_agrees_with_every_published_example(examples):
    assert [(din, din_check_character(din)) for din, _check in examples] == examples
    assert {check for _din, check in examples} >= {"*", "9", "A"}, "the examples cover '*', a digit and a letter"


def test_a_typed_din_is_accepted_with_its_check_character_and_refused_with_any_other(examples):
    for din, check in examples:
        typed = f"{din[:5]} {din[5:7]} {din[7:]} {check}"
        assert ISBT_128_DIN.normalise(typed.lower()) == typed
        wrong = "A" if check != "A" else "B"
        with pytest.raises(IdentifierRefused, match=f"check character of {din[:5]} {din[5:7]} {din[7:]} is"):
            ISBT_128_DIN.normalise(f"{din}{wrong}")


@pytest.mark.parametrize(
    ("typed", "kept"),
    [
        ("W0000 09 123456 02 G", "W0000 09 123456 G"),
        ("  w000009123456g ", "W0000 09 123456 G"),
        ("A9999 17 345628 *", "A9999 17 345628 *"),
        ("=G12341765432170", "G1234 17 654321 A"),
        ("=G12341765432100", "G1234 17 654321 A"),
    ],
    ids=["with its flags", "without spaces", "star check character", "scanned, checksum flags", "scanned"],
)
def test_a_din_is_kept_in_one_form_however_it_was_entered(typed, kept):
    assert ISBT_128_DIN.normalise(typed) == kept


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("John Smith 1984-03-12", "'JOHN' looks like a name; the starting material identity must not identify"),
        ("1984-03-12", "1984-03-12 looks like a date of birth"),
        ("12/03/84", "12-03-84 looks like a date of birth"),
        ("MRN 12345678", "'12345678' looks like a medical record number"),
        ("W1234 26 12345 7", "Enter the ISBT 128 donation identification number as printed on the bag"),
        ("=G12341765432171", "did not read correctly; scan it again"),
        ("   ", "Enter the identity of the starting material"),
    ],
    ids=["name and birth date", "birth date", "short birth date", "record number", "too short", "misread", "blank"],
)
def test_a_din_rule_refuses_what_is_not_a_din_and_says_why(typed, message):
    with pytest.raises(IdentifierRefused, match=message):
        ISBT_128_DIN.normalise(typed)


def test_the_lab_s_own_pattern_replaces_the_din_but_not_the_refusal_of_personal_data():
    own = IdentifierRule(r"APH-\d{6}")
    assert own.normalise(" aph-000123 ") == "APH-000123"
    with pytest.raises(IdentifierRefused, match=r"is not an identifier of this lab's pattern APH-\\d\{6\}"):
        own.normalise("APH-00012")
    with pytest.raises(IdentifierRefused, match="is not an identifier of this lab's pattern"):
        own.normalise("W1234 26 123456 7")
    anything = IdentifierRule(r".+")
    assert anything.normalise("Bag 7 of 26-B") == "BAG 7 OF 26-B"
    for personal in ("John Smith", "Bag 1984-03-12", "Bag 31.12.1984", "Bag 1234567"):
        with pytest.raises(IdentifierRefused, match="must not identify the person"):
            anything.normalise(personal)


@pytest.mark.parametrize(
    ("identifier", "personal"),
    [
        ("HLX301-014-0007", False),
        ("W1234 26 123456 7", False),
        ("CAR-13-14-15", False),
        ("CAR-12-13-14", True),
        ("ABC", False),
        ("ABCD", True),
        ("123456", False),
        ("1234567", True),
        ("2026-12-04", True),
        ("04-12-2026", True),
    ],
)
def test_personal_data_at_its_boundaries(identifier, personal):
    assert (personal_data_in(identifier) is not None) is personal
