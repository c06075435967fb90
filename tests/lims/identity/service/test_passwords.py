"""Passwords: argon2 hashing, the policy in context, temporary passwords, changes, history and maximum age."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit.models import AuditEvent
from lims.identity.demo_accounts import demo_password, mark_demo_database
from lims.identity.errors import PasswordPolicyViolation, WrongCurrentPassword
from lims.identity.models import PasswordHistory, RoleName
from lims.identity.service import passwords
from tests.helpers import PASSWORD

FRESH = ("fresh-start-pipette-9", "violet-ferry-lantern-4", "tundra-piano-orbit-8", "quartz-meadow-rain-2")


def test_passwords_are_stored_as_argon2_hashes(create_user):
    user = create_user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_creating_a_user_refuses_a_password_built_on_their_name(create_user):
    with pytest.raises(PasswordPolicyViolation, match="built on your name"):
        create_user(full_name="Maja Larsen", password="MajaLarsen-2026!")


def test_creating_a_user_refuses_a_password_built_on_the_facility(create_user):
    with pytest.raises(PasswordPolicyViolation, match="built on the facility's name or code"):
        create_user(password="Northbridge2026")


def test_the_demo_passwords_are_refused_until_the_demo_marks_the_database(db_session, create_user):
    with pytest.raises(PasswordPolicyViolation, match="demo passwords"):
        create_user(username="a.rossi", password=demo_password("a.rossi"))
    mark_demo_database(db_session)
    assert passwords.password_matches(
        create_user(username="a.rossi", password=demo_password("a.rossi")), "demo-admin-2026"
    )


def test_password_reset_forces_a_change_before_work(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    temporary = passwords.reset_password(db_session, user, actor=admin)
    assert user.must_change_password
    assert passwords.password_matches(user, temporary)
    passwords.change_password(db_session, user, current_password=temporary, new_password=FRESH[0])
    assert not user.must_change_password


def test_change_password_needs_the_current_one_and_applies_the_policy(db_session, create_user):
    user = create_user(full_name="Sara Lind")
    with pytest.raises(WrongCurrentPassword):
        passwords.change_password(db_session, user, current_password="guess-guess-1", new_password=FRESH[0])
    with pytest.raises(PasswordPolicyViolation, match="at least 12") as caught:
        passwords.change_password(db_session, user, current_password=PASSWORD, new_password="short1")
    assert caught.value.field == "new_password"
    with pytest.raises(PasswordPolicyViolation, match="built on your name"):
        passwords.change_password(db_session, user, current_password=PASSWORD, new_password="Sara.Lind.2026")
    with pytest.raises(PasswordPolicyViolation, match="too easy to guess"):
        passwords.change_password(
            db_session, user, current_password=PASSWORD, new_password="bluefish-2019", minimum_score=4
        )
    assert passwords.password_matches(user, PASSWORD)


def test_none_of_the_last_five_passwords_can_come_back(db_session, create_user):
    user = create_user()
    current = PASSWORD
    for fresh in FRESH:
        passwords.change_password(db_session, user, current_password=current, new_password=fresh)
        current = fresh
    # Five passwords so far: the fixture's and four fresh ones.
    for used in (PASSWORD, *FRESH[:-1]):
        with pytest.raises(PasswordPolicyViolation, match="last 5 passwords") as caught:
            passwords.change_password(db_session, user, current_password=current, new_password=used)
        assert caught.value.field == "new_password"
    passwords.change_password(db_session, user, current_password=current, new_password="amber-canyon-whistle-6")
    # Now the fixture's password is the sixth from last: allowed again.
    passwords.change_password(db_session, user, current_password="amber-canyon-whistle-6", new_password=PASSWORD)


def test_history_keeps_only_the_hashes_the_rule_needs(db_session, create_user):
    user = create_user()
    current = PASSWORD
    for fresh in (*FRESH, "amber-canyon-whistle-6", "cobalt-harbour-mist-3"):
        passwords.change_password(db_session, user, current_password=current, new_password=fresh)
        current = fresh
    kept = list(db_session.scalars(select(PasswordHistory.password_hash).where(PasswordHistory.user_id == user.id)))
    assert len(kept) == passwords.PASSWORDS_REMEMBERED - 1
    assert all(password_hash.startswith("$argon2id$") for password_hash in kept)
    assert not any(PASSWORD in password_hash for password_hash in kept)


def test_a_reset_does_not_let_the_old_password_back(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    temporary = passwords.reset_password(db_session, user, actor=admin)
    with pytest.raises(PasswordPolicyViolation, match="used this password recently"):
        passwords.change_password(db_session, user, current_password=temporary, new_password=PASSWORD)


def test_a_password_older_than_the_maximum_age_must_be_changed(db_session, create_user):
    user = create_user()
    assert not passwords.require_change_if_too_old(db_session, user, max_age_days=None)
    assert not passwords.require_change_if_too_old(db_session, user, max_age_days=90)
    with clock.frozen(user.password_changed_at + timedelta(days=91)):
        assert passwords.require_change_if_too_old(db_session, user, max_age_days=90)
    assert user.must_change_password
    db_session.flush()
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.entity_id == str(user.id))
    )
    assert [event.reason for event in events] == ["Password older than the maximum age of 90 days"]


def test_without_a_maximum_age_an_old_password_stays_valid(db_session, create_user):
    user = create_user()
    with clock.frozen(user.password_changed_at + timedelta(days=3650)):
        assert not passwords.require_change_if_too_old(db_session, user, max_age_days=None)
    assert not user.must_change_password
    assert db_session.scalar(select(func.count(PasswordHistory.id))) == 0
