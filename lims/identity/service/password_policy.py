"""The password policy: what a new password must be, judged by a kept strength estimator (zxcvbn).

zxcvbn knows common passwords, words, names, keyboard rows, repeats, sequences and dates; it is told the owner's
names and the facility's so that a password built on them counts as easy to guess. Its refusals are put in the
lab's words here, so that every form and command says the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from zxcvbn import zxcvbn

from lims.identity.errors import PasswordPolicyViolation

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256
#: zxcvbn scores from 0 (too guessable) to 4 (very unguessable); 3 resists an offline attack on a slow hash.
DEFAULT_MINIMUM_SCORE = 3
#: zxcvbn's time grows with the square of the length and it refuses more than 72 characters: it judges the first 64,
#: which decide whether a password is guessable (a long password cannot be weaker than its beginning).
JUDGED_LENGTH = 64
#: Words every lab's passwords are built on, judged as easily guessed as the owner's name.
LAB_WORDS = (
    "biosafety",
    "biotech",
    "changeme",
    "cleanroom",
    "gmp",
    "laboratory",
    "labpassword",
    "lims",
    "pharma",
    "qualityassurance",
    "welcometolab",
)
#: Parts of a name shorter than this match too much by chance to tell anything.
_SHORTEST_WORD = 3
_WORD_SEPARATORS = re.compile(r"[^0-9a-z]+")

_PERSONAL = "your name, username or e-mail address"
_FACILITY = "the facility's name or code"
_LAB_WORD = "a word every lab uses (like “cleanroom”)"
_ADVICE = "Choose a longer one, for example four or more unrelated words."


@dataclass(frozen=True)
class PasswordContext:
    """Whose password it is, and what the installation asks of it."""

    username: str
    #: the owner's full name, e-mail address and the like: each is split into words
    personal: tuple[str, ...] = ()
    #: the facility's name and code
    facility: tuple[str, ...] = ()
    #: the demo's published passwords, refused outside a demo database
    refused: frozenset[str] = field(default_factory=frozenset)
    minimum_score: int = DEFAULT_MINIMUM_SCORE


def check_password_policy(password: str, context: PasswordContext, *, field_name: str = "password") -> None:
    """Refuse a password that breaks the policy, saying in plain words why."""

    def refuse(message: str) -> PasswordPolicyViolation:
        return PasswordPolicyViolation(message, field=field_name)

    if len(password) < MIN_PASSWORD_LENGTH:
        raise refuse(
            f"The password must be at least {MIN_PASSWORD_LENGTH} characters long (this one has {len(password)})."
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise refuse(f"The password must be at most {MAX_PASSWORD_LENGTH} characters long.")
    if context.username and context.username.lower() in password.lower():
        raise refuse("The password must not contain the username.")
    if password in context.refused:
        raise refuse(
            "This is one of the demo passwords published with the LIMS; anyone could guess it. Choose another."
        )
    borrowable = {
        **dict.fromkeys(LAB_WORDS, _LAB_WORD),
        **dict.fromkeys(_words(*context.facility), _FACILITY),
        **dict.fromkeys(_words(context.username, *context.personal), _PERSONAL),
    }
    judged = password[:JUDGED_LENGTH]
    estimate = zxcvbn(judged, user_inputs=list(borrowable))
    if estimate["score"] < context.minimum_score:
        raise refuse(f"This password is too easy to guess: {_reason(estimate, borrowable)}. {_ADVICE}")
    # Names with digits and signs around them score well, yet anyone who knows the person or the lab guesses them:
    # what is left without the borrowed words must be strong enough on its own.
    remainder, borrowed_from = _without_borrowed_words(judged.lower(), borrowable)
    if borrowed_from and (not remainder or zxcvbn(remainder)["score"] < context.minimum_score):
        raise refuse(f"This password is too easy to guess: it is built on {borrowed_from}. {_ADVICE}")


def _words(*texts: str) -> list[str]:
    """Each text as typed, its words and its words run together: the forms a password borrows."""
    words: list[str] = []
    for text in texts:
        lowered = text.lower().strip()
        parts = [part for part in _WORD_SEPARATORS.split(lowered) if part]
        for candidate in (lowered, *parts, "".join(parts)):
            if len(candidate) >= _SHORTEST_WORD and candidate not in words:
                words.append(candidate)
    return words


def _without_borrowed_words(lowered: str, borrowable: dict[str, str]) -> tuple[str, str | None]:
    """The password without the words it borrows (longest first), and where the first of them comes from."""
    borrowed_from = None
    for word in sorted(borrowable, key=len, reverse=True):
        if word in lowered:
            lowered = lowered.replace(word, "")
            borrowed_from = borrowed_from or borrowable[word]
    return lowered, borrowed_from


def _reason(estimate: dict[str, Any], borrowable: dict[str, str]) -> str:
    for match in estimate["sequence"]:
        if match["pattern"] == "dictionary" and match["dictionary_name"] == "user_inputs":
            return f"it is built on {borrowable[match['matched_word']]}"
    longest = max(estimate["sequence"], key=lambda match: len(match["token"]))
    return _PATTERN_REASONS.get(longest["pattern"], _predictable)(longest)


def _repeat(match: dict[str, Any]) -> str:
    if len(match["base_token"]) == 1:
        return "it repeats the same character (like “aaaa”)"
    return "it repeats the same group of characters (like “abcabc”)"


def _dictionary(match: dict[str, Any]) -> str:
    if match["dictionary_name"] == "passwords":
        return "it is a commonly used password, or one with small changes"
    if match["dictionary_name"] in {"surnames", "male_names", "female_names"}:
        return "it rests on a common name"
    return "it rests on a common word"


def _predictable(_match: dict[str, Any]) -> str:
    return "it is too predictable"


#: zxcvbn judges by the longest part it recognises; its kind of pattern says what makes the password weak.
_PATTERN_REASONS = {
    "repeat": _repeat,
    "dictionary": _dictionary,
    "spatial": lambda _match: "it follows keys next to each other on the keyboard (like “qwerty”)",
    "sequence": lambda _match: "it follows a sequence (like “abcd” or “1234”)",
    "date": lambda _match: "it rests on a date",
    "regex": lambda _match: "it rests on a recent year",
}
