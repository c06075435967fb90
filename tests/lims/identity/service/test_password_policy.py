"""The password policy: a kept strength estimator, names the password must not be built on, the demo's passwords."""

from __future__ import annotations

import pytest

from lims.identity.demo_accounts import ACCOUNTS, DEMO_PASSWORDS
from lims.identity.errors import PasswordPolicyViolation
from lims.identity.service.password_policy import MAX_PASSWORD_LENGTH, PasswordContext, check_password_policy
from tests.helpers import PASSWORD

JANE = PasswordContext(
    username="j.doe",
    personal=("Jane Doe", "j.doe", "nbct.example"),
    facility=("Northbridge Cell Therapy Facility", "NBCT"),
    refused=DEMO_PASSWORDS,
)


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("aaaaaaaaaaaa", "repeats the same character"),
        (" " * 12, "repeats the same character"),
        ("qwertyuiopas", "commonly used password"),
        ("asdfghjkl;'zx", "keys next to each other on the keyboard"),
        ("abcabcabcabc", "repeats the same group of characters"),
        ("password12345", "commonly used password"),
        ("Northbridge2026", "built on the facility's name or code"),
        ("CellTherapy2026", "built on the facility's name or code"),
        ("JaneDoe-2026!!", "built on your name, username or e-mail address"),
        ("Doe.Jane.1987!", "built on your name, username or e-mail address"),
        ("cleanroom1234", "built on a word every lab uses"),
        ("short-pw-1", "at least 12 characters"),
        ("x" * (MAX_PASSWORD_LENGTH + 1), f"at most {MAX_PASSWORD_LENGTH} characters"),
        ("my-name-is-J.DOE-ok", "must not contain the username"),
    ],
)
def test_a_weak_password_is_refused_saying_why(password, reason):
    with pytest.raises(PasswordPolicyViolation, match=reason) as caught:
        check_password_policy(password, JANE)
    assert caught.value.field == "password"


def test_a_guessable_password_is_refused_with_advice_on_a_better_one():
    with pytest.raises(PasswordPolicyViolation) as caught:
        check_password_policy("aaaaaaaaaaaa", JANE)
    assert caught.value.message == (
        "This password is too easy to guess: it repeats the same character (like “aaaa”). "
        "Choose a longer one, for example four or more unrelated words."
    )


@pytest.mark.parametrize("password", sorted(DEMO_PASSWORDS))
def test_the_published_demo_passwords_are_refused_where_they_are_not_allowed(password):
    with pytest.raises(PasswordPolicyViolation, match="demo passwords published with the LIMS"):
        check_password_policy(password, JANE)


def test_the_demo_passwords_pass_the_rest_of_the_policy_for_their_own_accounts():
    for account in ACCOUNTS:
        context = PasswordContext(
            username=account.username, personal=(account.full_name,), facility=JANE.facility, refused=frozenset()
        )
        check_password_policy(account.password, context)


@pytest.mark.parametrize(
    "password", ["plate-reader-calibrated-7", PASSWORD, "jane-walks-the-violet-ferry", "tundra piano orbit lantern"]
)
def test_a_good_passphrase_is_accepted(password):
    check_password_policy(password, JANE)


def test_the_minimum_score_is_the_installation_s_choice():
    # "bluefish-2019" is fairly strong (zxcvbn score 3), not very strong (4).
    check_password_policy("bluefish-2019", PasswordContext(username="j.doe", minimum_score=3))
    with pytest.raises(PasswordPolicyViolation, match="too easy to guess"):
        check_password_policy("bluefish-2019", PasswordContext(username="j.doe", minimum_score=4))


def test_a_long_password_is_judged_by_its_beginning():
    # The estimator itself refuses more than 72 characters.
    check_password_policy("plate-reader-calibrated-7 " * 9, JANE)
    with pytest.raises(PasswordPolicyViolation, match="repeats the same character"):
        check_password_policy("a" * MAX_PASSWORD_LENGTH, JANE)


def test_the_refusal_names_the_form_field_it_belongs_to():
    with pytest.raises(PasswordPolicyViolation) as caught:
        check_password_policy("aaaaaaaaaaaa", JANE, field_name="new_password")
    assert caught.value.field == "new_password"
