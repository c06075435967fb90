"""Rules of identity: password policy, lockout, deactivation, roles, API tokens."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, text

from lims import clock
from lims.audit import context as audit_context
from lims.audit.context import ReasonRequired
from lims.audit.models import AuditEvent
from lims.errors import AccessDenied, Conflict, InvalidInput
from lims.identity import service
from lims.identity.models import ApiToken, LoginAttempt, LoginOutcome, OrganizationKind, RoleName
from tests.helpers import PASSWORD

# After any real creation time, so users made before freezing predate every attempt.
START = datetime(2030, 3, 4, 9, 0, tzinfo=timezone.utc)


def fail_login(db_session, user, times: int = 1):
    for _ in range(times):
        with pytest.raises(service.LoginFailed):
            service.authenticate(db_session, username=user.username, password="not-the-password", client_address="10.1.2.3")


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
    with pytest.raises(service.PasswordPolicyViolation, match=reason) as caught:
        service.check_password_policy(password, username="jdoe")
    assert caught.value.field == "password"


def test_password_policy_accepts_a_long_uncommon_password():
    service.check_password_policy("plate-reader-calibrated-7", username="jdoe")


def test_passwords_are_stored_as_argon2_hashes(create_user):
    user = create_user()
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash


def test_login_succeeds_with_the_right_password_and_records_it(db_session, create_user):
    clock.freeze(START)
    user = create_user()
    assert service.authenticate(db_session, username=user.username.upper(), password=PASSWORD, client_address="10.0.0.9") is user
    assert user.last_login_at == START
    attempt = db_session.scalar(select(LoginAttempt).where(LoginAttempt.user_id == user.id))
    assert (attempt.outcome, attempt.client_address, attempt.attempted_at) == (LoginOutcome.SUCCESS, "10.0.0.9", START)


def test_wrong_password_and_unknown_user_get_the_same_message(db_session, create_user):
    user = create_user()
    with pytest.raises(service.LoginFailed) as wrong:
        service.authenticate(db_session, username=user.username, password="nope-nope-nope", client_address=None)
    with pytest.raises(service.LoginFailed) as unknown:
        service.authenticate(db_session, username="nobody-here", password="nope-nope-nope", client_address=None)
    assert wrong.value.message == unknown.value.message == "Unknown username or wrong password."


def test_account_locks_at_the_fifth_failure_within_fifteen_minutes(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())
    clock.advance(timedelta(minutes=14))
    with pytest.raises(service.AccountLocked, match="locked after 5 failed"):
        service.authenticate(db_session, username=user.username, password="still-wrong-pw", client_address="10.1.2.3")
    assert user.locked_until == START + timedelta(minutes=14 + 30)
    lockout = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.lockout")).one()
    assert (lockout.entity_type, lockout.entity_id) == ("user_account", str(user.id))
    assert lockout.recorded_at == START + timedelta(minutes=14)
    assert json.loads(lockout.changes) == {"failures": 5, "locked_until": (START + timedelta(minutes=44)).isoformat(timespec="microseconds")}
    failures = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "login.wrong_password")).all()
    assert len(failures) == 5 and all(event.entity_id == str(user.id) for event in failures)


def test_a_locked_account_refuses_even_the_right_password(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    with pytest.raises(service.AccountLocked):
        service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)


def test_failures_spread_beyond_fifteen_minutes_do_not_lock(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    clock.advance(timedelta(minutes=15, seconds=1))
    fail_login(db_session, user)
    assert not user.is_locked(clock.now())


def test_a_successful_login_resets_the_failure_count(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=4)
    service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())


def test_lockout_lifts_by_itself_after_thirty_minutes(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    clock.advance(timedelta(minutes=29, seconds=59))
    with pytest.raises(service.AccountLocked):
        service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    clock.advance(timedelta(seconds=2))
    assert service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None) is user


def test_admin_unlock_lifts_the_lock_and_forgets_old_failures(db_session, create_user):
    user = create_user()
    clock.freeze(START)
    fail_login(db_session, user, times=5)
    service.unlock_user(db_session, user)
    assert not user.is_locked(clock.now())
    fail_login(db_session, user, times=4)
    assert not user.is_locked(clock.now())
    assert service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None) is user


def test_unlocking_an_unlocked_account_is_refused(db_session, create_user):
    user = create_user()
    with pytest.raises(Conflict, match="not locked"):
        service.unlock_user(db_session, user)


def test_deactivated_user_is_refused_at_login(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    service.deactivate_user(db_session, user, reason="Left the company", actor=admin)
    with pytest.raises(service.LoginFailed, match="deactivated"):
        service.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None)
    assert (user.active, user.deactivation_reason) == (False, "Left the company")


def test_deactivation_needs_a_reason_and_changes_nothing_without_one(db_session, create_user):
    user = create_user()
    with pytest.raises(InvalidInput, match="reason"):
        service.deactivate_user(db_session, user, reason="   ", actor=None)
    assert user.active


def test_deactivation_ends_the_users_sessions(db_session, create_user):
    user = create_user()
    session_id = user.get_id()
    assert service.user_for_session(db_session, session_id) is user
    service.deactivate_user(db_session, user, reason="Left", actor=None)
    assert service.user_for_session(db_session, session_id) is None


def test_an_admin_cannot_deactivate_themselves(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(InvalidInput, match="your own account"):
        service.deactivate_user(db_session, admin, reason="oops", actor=admin)


@pytest.mark.parametrize(
    ("kind", "roles", "message"),
    [
        (OrganizationKind.FACILITY, {RoleName.CLIENT}, "client role is for users of a client organization"),
        (OrganizationKind.CLIENT, {RoleName.QA}, "can only hold the client role"),
        (OrganizationKind.CLIENT, {RoleName.CLIENT, RoleName.TECHNICIAN}, "can only hold the client role"),
        (OrganizationKind.FACILITY, set(), "at least one role"),
    ],
)
def test_roles_must_fit_the_organization(db_session, facility, create_organization, kind, roles, message):
    organization = facility if kind == OrganizationKind.FACILITY else create_organization()
    with pytest.raises(InvalidInput, match=message):
        service.create_user(
            db_session, username="newuser", full_name="New User", email="n@example.org", organization=organization,
            roles=roles, password=PASSWORD, must_change_password=False, actor=None,
        )


def test_usernames_are_unique_regardless_of_case(db_session, create_user, facility):
    create_user(username="jdoe")
    with pytest.raises(Conflict, match="taken"):
        service.create_user(
            db_session, username="JDoe", full_name="J Doe", email="j@example.org", organization=facility,
            roles={RoleName.QA}, password=PASSWORD, must_change_password=False, actor=None,
        )


def test_only_one_facility_can_be_registered(db_session, facility):
    with pytest.raises(Conflict, match="already registered"):
        service.create_organization(db_session, code="OTHER", name="Other Lab", kind=OrganizationKind.FACILITY)


def test_admin_cannot_remove_their_own_admin_role(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(InvalidInput, match="own admin role"):
        service.update_user(db_session, admin, full_name=admin.full_name, email=admin.email,
                            roles={RoleName.QA}, actor=admin, reason="Moving to QA")


def test_role_change_is_audited_with_old_and_new_roles_and_the_reason(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user(RoleName.TECHNICIAN)
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    service.update_user(db_session, user, full_name=user.full_name, email=user.email,
                        roles={RoleName.TECHNICIAN, RoleName.QA}, actor=admin, reason="Trained for QA review")
    change = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.entity_id == str(user.id))
    ).one()
    assert json.loads(change.changes) == {"roles": [["technician"], ["qa", "technician"]]}
    assert (change.reason, change.user_id, change.user_name) == ("Trained for QA review", admin.id, admin.full_name)


def test_user_update_without_reason_is_refused_and_changes_nothing(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user(RoleName.TECHNICIAN, full_name="Old Name")
    with pytest.raises(ReasonRequired):
        service.update_user(db_session, user, full_name="New Name", email=user.email,
                            roles={RoleName.TECHNICIAN}, actor=admin, reason="  ")
    assert user.full_name == "Old Name"


def test_password_reset_forces_a_change_before_work(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user()
    temporary = service.reset_password(db_session, user, actor=admin)
    assert user.must_change_password
    service.check_password_policy(temporary, username=user.username)
    service.change_password(db_session, user, current_password=temporary, new_password="fresh-start-pipette-9")
    assert not user.must_change_password


def test_change_password_needs_the_current_one_and_applies_the_policy(db_session, create_user):
    user = create_user()
    with pytest.raises(InvalidInput, match="current password is wrong"):
        service.change_password(db_session, user, current_password="guess-guess-1", new_password="fresh-start-pipette-9")
    with pytest.raises(service.PasswordPolicyViolation, match="12 characters"):
        service.change_password(db_session, user, current_password=PASSWORD, new_password="short1")


# API tokens


def test_api_token_is_shown_once_and_stored_only_as_a_hash(db_session, connection, create_user, create_organization):
    organization = create_organization()
    admin = create_user(RoleName.ADMIN)
    token, presented = service.issue_api_token(db_session, organization=organization, name="manifest uploader", actor=admin)
    secret = presented.split("_", 2)[2]  # the secret itself may contain underscores
    stored_rows = connection.execute(text("SELECT * FROM api_token")).all()
    assert stored_rows, "the token row was written"
    for row in stored_rows:
        assert all(secret not in str(value) and presented not in str(value) for value in row)
    assert service.authenticate_api_token(db_session, presented) is token


def test_api_token_records_its_last_use(db_session, create_user, create_organization):
    clock.freeze(START)
    admin = create_user(RoleName.ADMIN)
    token, presented = service.issue_api_token(db_session, organization=create_organization(), name="lims sync", actor=admin)
    assert token.last_used_at is None
    clock.advance(timedelta(hours=2))
    service.authenticate_api_token(db_session, presented)
    assert token.last_used_at == START + timedelta(hours=2)


def test_revoked_or_tampered_tokens_authenticate_nothing(db_session, create_user, create_organization):
    admin = create_user(RoleName.ADMIN)
    token, presented = service.issue_api_token(db_session, organization=create_organization(), name="sync", actor=admin)
    assert service.authenticate_api_token(db_session, presented[:-1] + ("A" if presented[-1] != "A" else "B")) is None
    assert service.authenticate_api_token(db_session, "Bearer nonsense") is None
    service.revoke_api_token(db_session, token, actor=admin)
    assert service.authenticate_api_token(db_session, presented) is None
    with pytest.raises(Conflict, match="already revoked"):
        service.revoke_api_token(db_session, token, actor=admin)


def test_tokens_are_issued_to_client_organizations_only(db_session, facility, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(InvalidInput, match="client organizations only"):
        service.issue_api_token(db_session, organization=facility, name="x", actor=admin)


def test_a_client_user_manages_only_their_own_organizations_tokens(db_session, create_user, create_organization):
    own, other = create_organization(), create_organization()
    client_user = create_user(RoleName.CLIENT, organization=own)
    service.issue_api_token(db_session, organization=own, name="ours", actor=client_user)
    with pytest.raises(AccessDenied):
        service.issue_api_token(db_session, organization=other, name="theirs", actor=client_user)


def test_deactivating_a_client_user_revokes_the_tokens_they_issued(db_session, create_user, create_organization):
    organization = create_organization()
    client_user = create_user(RoleName.CLIENT, organization=organization)
    token, presented = service.issue_api_token(db_session, organization=organization, name="theirs", actor=client_user)
    service.deactivate_user(db_session, client_user, reason="Left Helix", actor=None)
    assert token.is_revoked
    assert service.authenticate_api_token(db_session, presented) is None
    assert db_session.scalar(select(ApiToken).where(ApiToken.id == token.id)).revoked_by_id == client_user.id
