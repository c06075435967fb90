"""Identifier rules of the chain of identity: codes and label numbers that name material, never a person.

A starting material is identified by an ISBT 128 Donation Identification Number (DIN) with its keyboard check
character (ISO/IEC 7064 MOD 37-2), or by the lab's own pattern. Whatever the rule, an identifier that reads like a
name, a record number or a date of birth is refused: it is printed on every page of the batch record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

#: ISO/IEC 7064 MOD 37-2: the value of each character is its position here.
_MOD_37_2 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"
#: facility identification number (5), year (2), sequence (6)
_DIN = r"([A-Z0-9]\d{4})(\d{2})(\d{6})"
#: as printed for the eye and typed: the DIN, optionally the two flag characters, the check character
_TYPED_DIN = re.compile(_DIN + r"(\d{2})?([0-9A-Z*])")
#: as a scanner sends the DIN bar code: "=", the DIN and the two flag characters, no keyboard check character
_SCANNED_DIN = re.compile("=" + _DIN + r"(\d{2})")
#: flag characters 60–96 carry the DIN's checksum (ISBT 128 type 3 flags)
_CHECKSUM_FLAGS = range(60, 97)
_LETTERS_OF_A_NAME = 4
_DIGITS_OF_A_RECORD_NUMBER = 7


class IdentifierRefused(ValueError):
    """An identifier broke its rule; ``message`` says how, in the lab's words (the area raises its own error)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def din_checksum(din: str) -> int:
    """The ISO/IEC 7064 MOD 37-2 checksum (0–36) of the 13 characters of a DIN (no flags, no leading '=')."""
    total = 0
    for character in din:
        total = ((total + _MOD_37_2.index(character)) * 2) % 37
    return (38 - total) % 37


def din_check_character(din: str) -> str:
    """The keyboard check character printed in a box after a DIN."""
    return _MOD_37_2[din_checksum(din)]


def _spaced(din: str) -> str:
    """Facility, year and sequence apart, as on the label."""
    return f"{din[:5]} {din[5:7]} {din[7:]}"


def format_din(din: str) -> str:
    """A 13-character DIN as the LIMS keeps it: spaced like the label, with its check character."""
    return f"{_spaced(din)} {din_check_character(din)}"


def personal_data_in(identifier: str) -> str | None:
    """Why ``identifier`` could identify a person, or None.

    Its parts (runs of letters and digits) are read as a person's data when a part of four or more letters reads
    like a name, a part of seven or more digits like a medical record number or a date of birth, or three numeric
    parts like a date.
    """
    parts = re.findall(r"[A-Za-z0-9]+", identifier)
    for part in parts:
        if part.isalpha() and len(part) >= _LETTERS_OF_A_NAME:
            return f"{part!r} looks like a name"
        if part.isdigit() and len(part) >= _DIGITS_OF_A_RECORD_NUMBER:
            return f"{part!r} looks like a medical record number or a date of birth"
    for first, second, third in zip(parts, parts[1:], parts[2:], strict=False):
        if _reads_like_a_date(first, second, third):
            return f"{first}-{second}-{third} looks like a date of birth"
    return None


def _reads_like_a_date(first: str, second: str, third: str) -> bool:
    if not (first.isdigit() and second.isdigit() and third.isdigit()):
        return False
    if len(first) == 4:
        return 1900 <= int(first) <= 2099 and 1 <= int(second) <= 12 and 1 <= int(third) <= 31
    day_and_month = len(first) <= 2 and len(second) <= 2 and 1 <= int(first) <= 31 and 1 <= int(second) <= 31
    return day_and_month and min(int(first), int(second)) <= 12 and len(third) in (2, 4)


@dataclass(frozen=True)
class IdentifierRule:
    """How the lab's starting material labels are numbered: an ISBT 128 DIN (no ``pattern``) or the lab's own
    regular expression, which the whole identifier (upper case, single spaces) must match."""

    pattern: str = ""

    @property
    def describes(self) -> str:
        if not self.pattern:
            return "an ISBT 128 donation identification number with its check character"
        return f"an identifier of this lab's pattern {self.pattern}"

    def normalise(self, text: str) -> str:
        """The identifier as kept and compared (one starting material, one batch), or :class:`IdentifierRefused`."""
        typed = " ".join(text.split()).upper()
        if not typed:
            raise IdentifierRefused("Enter the identity of the starting material as printed on its label.")
        if self.pattern:
            return self._own_pattern(typed)
        return _din(typed)

    def _own_pattern(self, typed: str) -> str:
        personal = personal_data_in(typed)
        if personal is not None:
            raise IdentifierRefused(f"{personal}; the starting material identity must not identify the person.")
        if re.fullmatch(self.pattern, typed) is None:
            raise IdentifierRefused(f"{typed} is not {self.describes}; enter it as printed on the label.")
        return typed


#: the default rule
ISBT_128_DIN = IdentifierRule()


def _din(typed: str) -> str:
    compact = typed.replace(" ", "")
    scanned = _SCANNED_DIN.fullmatch(compact)
    if scanned is not None:
        din = "".join(scanned.group(1, 2, 3))
        flags = int(scanned.group(4))
        if flags in _CHECKSUM_FLAGS and flags - 60 != din_checksum(din):
            raise IdentifierRefused(f"The bar code of {_spaced(din)} did not read correctly; scan it again.")
        return format_din(din)
    match = _TYPED_DIN.fullmatch(compact)
    if match is None:
        personal = personal_data_in(typed)
        if personal is not None:
            raise IdentifierRefused(f"{personal}; the starting material identity must not identify the person.")
        raise IdentifierRefused(
            "Enter the ISBT 128 donation identification number as printed on the bag: facility, year, sequence "
            f"and the boxed check character, e.g. {format_din('W123426123456')}."
        )
    din, check = "".join(match.group(1, 2, 3)), match.group(5)
    expected = din_check_character(din)
    if check != expected:
        raise IdentifierRefused(
            f"The check character of {_spaced(din)} is {expected}, not {check}: "
            "the number was mistyped or misread. Type it again from the label."
        )
    return format_din(din)


def din_of(identity: str) -> str | None:
    """The 13-character DIN of a starting material identity kept as :func:`format_din` writes it, or None when the
    identity follows the lab's own pattern."""
    match = re.fullmatch(r"([A-Z0-9]\d{4}) (\d{2}) (\d{6}) ([0-9A-Z*])", identity)
    if match is None:
        return None
    din = "".join(match.group(1, 2, 3))
    return din if din_check_character(din) == match.group(4) else None


def gtin_check_digit(digits: str) -> str:
    """The GS1 mod-10 check digit of a GTIN's other digits (weights 3 and 1 from the right)."""
    total = sum(int(digit) * (3 if position % 2 == 0 else 1) for position, digit in enumerate(reversed(digits)))
    return str((10 - total % 10) % 10)


def gtin_is_valid(gtin: str) -> bool:
    """Whether ``gtin`` is 8, 12, 13 or 14 digits ending in its GS1 check digit."""
    return len(gtin) in (8, 12, 13, 14) and gtin.isdigit() and gtin_check_digit(gtin[:-1]) == gtin[-1]
