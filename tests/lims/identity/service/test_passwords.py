"""Passwords: the policy, argon2 hashing, temporary passwords that must be changed, changing one's own."""

from __future__ import annotations

import pytest

from lims.identity.errors import PasswordPolicyViolation, WrongCurrentPassword
from lims.identity.models import RoleName
from lims.identity.service import passwords
from tests.helpers import PASSWORD


@pytest.mark.parametrize(
    ("password", "reason"),
    [
        ("short-pw-1", "at least 12 characters"),
        ("my-name-is-jdoe-ok", "must not contain the username"),
        ("MY-NAME-IS-JDOE-OK", "must not contain the username"),
        ("password1234", "commonly used"),
        ("QwertyQwerty", "commonly used"),
    ],
)
def test_password_policy_refuses_with_the_broken_rule(password, reason):
    with pytest.raises(PasswordPolicyViolation, match=reason) as caught:
        passwords.check_password_policy(password, username="jdoe")
    assert caught.value.field == "password"


def test_password_policy_accepts_a_long_uncommon_password():
    passwords.check_password_policy("plate-reader-calibrated-7", username="jdoe")


def test_passwords_are_stored_as_argon2_hashes(create_user):
    user = create_user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_password_reset_forces_a_change_before_work(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    temporary = passwords.reset_password(db_session, user, actor=admin)
    assert user.must_change_password
    passwords.check_password_policy(temporary, username=user.username)
    passwords.change_password(db_session, user, current_password=temporary, new_password="fresh-start-pipette-9")
    assert not user.must_change_password


def test_change_password_needs_the_current_one_and_applies_the_policy(db_session, create_user):
    user = create_user()
    with pytest.raises(WrongCurrentPassword):
        passwords.change_password(
            db_session, user, current_password="guess-guess-1", new_password="fresh-start-pipette-9"
        )
    with pytest.raises(PasswordPolicyViolation):
        passwords.change_password(db_session, user, current_password=PASSWORD, new_password="short1")
