"""`lims user`: every command runs as a named administrator (``--as``) who proves it with their password."""

from __future__ import annotations

import getpass
import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit import trail as audit_trail
from lims.cli import cli
from lims.identity.models import LoginAttempt, LoginOutcome, RoleChange, RoleChangeKind, RoleName, User
from lims.identity.service import sign_in, users
from tests.helpers import PASSWORD

ORIGIN = f"command line ({getpass.getuser()})"


@pytest.fixture
def run(app):
    runner = app.test_cli_runner()

    def invoke(*args: str, password: str | None = PASSWORD, env: dict[str, str] | None = None):
        variables = {"LIMS_USER_PASSWORD": PASSWORD, **({"LIMS_AS_PASSWORD": password} if password else {})}
        return runner.invoke(cli, list(args), env={**variables, **(env or {})})

    return invoke


@pytest.fixture
def administrator(create_user, db_session) -> User:
    admin = create_user(RoleName.ADMIN, username="ada.admin", full_name="Ada Admin")
    db_session.commit()
    return admin


def create_args(username: str = "s.tan", *roles: str, reason: str = "New QA officer", as_: str = "ada.admin"):
    role_args = [arg for role in roles or ("qa", "technician") for arg in ("--role", role)]
    return (
        "user",
        "create",
        username,
        "--full-name",
        "Sam Tan",
        "--email",
        f"{username}@example.org",
        "--organization",
        "NBCT",
        *role_args,
        "--reason",
        reason,
        "--as",
        as_,
    )


def events(db_session, **criteria):
    db_session.expire_all()
    return list(audit_trail.matching_events(db_session, audit_trail.EventFilter(**criteria)))


def role_changes(db_session, user: User) -> list[tuple[RoleName, RoleChangeKind, int | None, str, str]]:
    db_session.expire_all()
    return [
        (change.role, change.kind, change.changed_by_id, change.changed_by_name, change.reason)
        for change in db_session.scalars(
            select(RoleChange).where(RoleChange.user_id == user.id).order_by(RoleChange.id)
        )
    ]


def user_count(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(User.id)))


def test_a_user_created_from_the_shell_is_attributed_to_the_named_administrator(run, administrator, db_session):
    result = run(*create_args())
    assert result.exit_code == 0, result.output
    created = users.user_by_username(db_session, "s.tan")
    assert created.role_names == {RoleName.QA, RoleName.TECHNICIAN}

    (creation,) = events(db_session, entity_type="user_account", entity_id=str(created.id), actions=("create",))
    assert (creation.user_id, creation.user_name, creation.reason) == (administrator.id, "Ada Admin", "New QA officer")
    assert creation.client_address == ORIGIN
    (authenticated,) = events(db_session, actions=("command_line.authenticated",))
    assert (authenticated.user_id, authenticated.entity_id) == (administrator.id, str(administrator.id))
    assert json.loads(authenticated.changes) == {"os_user": getpass.getuser(), "command": "user create s.tan"}
    assert authenticated.request_id == creation.request_id
    assert role_changes(db_session, created) == [
        (RoleName.QA, RoleChangeKind.GRANTED, administrator.id, "Ada Admin", "New QA officer"),
        (RoleName.TECHNICIAN, RoleChangeKind.GRANTED, administrator.id, "Ada Admin", "New QA officer"),
    ]


def test_roles_set_from_the_shell_are_granted_and_revoked_with_the_reason(run, administrator, create_user, db_session):
    technician = create_user(RoleName.TECHNICIAN, RoleName.MANAGER)
    db_session.commit()
    result = run(
        "user",
        "roles",
        technician.username,
        "--role",
        "qa",
        "--role",
        "manager",
        "--reason",
        "Moved to QA",
        "--as",
        "ada.admin",
    )
    assert result.exit_code == 0, result.output
    assert f"{technician.username} holds: manager, qa." in result.output
    db_session.expire_all()
    assert db_session.get(User, technician.id).role_names == {RoleName.QA, RoleName.MANAGER}
    assert role_changes(db_session, technician)[-2:] == [
        (RoleName.QA, RoleChangeKind.GRANTED, administrator.id, "Ada Admin", "Moved to QA"),
        (RoleName.TECHNICIAN, RoleChangeKind.REVOKED, administrator.id, "Ada Admin", "Moved to QA"),
    ]


def test_unlock_and_deactivate_from_the_shell_name_the_administrator(run, administrator, create_user, db_session):
    user = create_user()
    db_session.commit()
    clock.freeze(clock.now() + timedelta(minutes=1))
    for _ in range(5):
        with pytest.raises(sign_in.LoginFailed):
            sign_in.authenticate(db_session, username=user.username, password="wrong-wrong-wrong", client_address=None)
    db_session.commit()

    unlocked = run("user", "unlock", user.username, "--as", "ada.admin")
    assert unlocked.exit_code == 0, unlocked.output
    deactivated = run("user", "deactivate", user.username, "--reason", "Moved to another site", "--as", "ada.admin")
    assert deactivated.exit_code == 0, deactivated.output

    db_session.expire_all()
    assert not db_session.get(User, user.id).is_locked(clock.now()) and not db_session.get(User, user.id).active
    (unlock,) = events(db_session, actions=("user.unlocked",))
    (deactivation,) = events(db_session, entity_type="user_account", entity_id=str(user.id), actions=("update",))
    for event in (unlock, deactivation):
        assert (event.user_id, event.user_name, event.client_address) == (administrator.id, "Ada Admin", ORIGIN)


@pytest.mark.parametrize(
    "args",
    [
        create_args()[:-2],
        ("user", "roles", "someone", "--role", "qa", "--reason", "x"),
        ("user", "deactivate", "someone", "--reason", "x"),
        ("user", "unlock", "someone"),
    ],
)
def test_every_user_command_needs_a_named_administrator(run, administrator, args):
    result = run(*args)
    assert result.exit_code == 2 and "Missing option '--as'" in result.output


def test_a_wrong_administrator_password_is_refused_and_counted_toward_lockout(run, administrator, db_session):
    clock.freeze(clock.now() + timedelta(minutes=1))
    result = run(*create_args(), password="not-the-admin-password")
    assert result.exit_code == 1
    assert "The password of ada.admin is wrong; nothing was changed." in result.output
    assert user_count(db_session) == 1
    attempts = db_session.scalars(select(LoginAttempt).where(LoginAttempt.user_id == administrator.id)).all()
    assert [(attempt.outcome, attempt.client_address) for attempt in attempts] == [
        (LoginOutcome.WRONG_PASSWORD, ORIGIN)
    ]
    (failure,) = events(db_session, actions=("login.wrong_password",))
    assert json.loads(failure.changes)["while"] == "user create s.tan"

    for _ in range(4):
        run(*create_args(), password="not-the-admin-password")
    locked = run(*create_args())
    assert locked.exit_code == 1 and "locked" in locked.output
    assert user_count(db_session) == 1


def test_without_a_terminal_the_administrator_password_must_come_from_the_environment(run, administrator, monkeypatch):
    monkeypatch.delenv("LIMS_AS_PASSWORD", raising=False)
    result = run(*create_args(), password=None)
    assert result.exit_code == 1 and "set LIMS_AS_PASSWORD" in result.output


@pytest.mark.parametrize("who", ["technician", "deactivated admin", "nobody"])
def test_only_an_active_administrator_runs_user_commands(run, administrator, create_user, db_session, who):
    if who == "technician":
        create_user(RoleName.TECHNICIAN, username="t.tech")
    elif who == "deactivated admin":
        former = create_user(RoleName.ADMIN, username="t.tech")
        users.deactivate_user(db_session, former, reason="Left", actor=administrator)
    db_session.commit()
    before = user_count(db_session)

    result = run(*create_args(as_="t.tech"))
    assert result.exit_code == 1
    assert "'t.tech' is not an active administrator" in result.output
    assert user_count(db_session) == before
    (refusal,) = events(db_session, actions=("access.refused",))
    details = json.loads(refusal.changes)
    assert (details["as"], details["os_user"], details["command"]) == ("t.tech", getpass.getuser(), "user create s.tan")


def test_an_administrator_cannot_change_their_own_roles_from_the_shell(run, administrator, db_session):
    result = run(
        "user", "roles", "ada.admin", "--role", "admin", "--role", "qa", "--reason", "Covering QA", "--as", "ada.admin"
    )
    assert result.exit_code == 1 and "Nobody changes their own roles" in result.output
    db_session.expire_all()
    assert db_session.get(User, administrator.id).role_names == {RoleName.ADMIN}
    (refusal,) = events(db_session, actions=("access.refused",))
    assert (refusal.user_id, refusal.entity_id) == (administrator.id, str(administrator.id))
    assert json.loads(refusal.changes)["roles_asked"] == ["admin", "qa"]
    assert [role for role, *_ in role_changes(db_session, administrator)] == [RoleName.ADMIN]  # granted at creation


def test_a_role_grant_from_the_shell_needs_a_reason(run, administrator, db_session):
    missing = run(*[arg for arg in create_args() if arg not in ("--reason", "New QA officer")])
    assert missing.exit_code == 2 and "Missing option '--reason'" in missing.output
    blank = run(*create_args(reason="   "))
    assert blank.exit_code == 1 and "Give the reason" in blank.output
    assert user_count(db_session) == 1


def test_init_creates_the_first_administrator_without_another_to_name(run, db_session):
    result = run(
        "init",
        "--facility-name",
        "Northbridge Cell Therapy",
        "--admin-username",
        "root.admin",
        "--admin-name",
        "Rita Admin",
        "--admin-email",
        "rita@nbct.example",
        env={"LIMS_ADMIN_PASSWORD": PASSWORD},
    )
    assert result.exit_code == 0, result.output
    first = users.user_by_username(db_session, "root.admin")
    assert role_changes(db_session, first) == [
        (RoleName.ADMIN, RoleChangeKind.GRANTED, None, ORIGIN, "First administrator, created by lims init")
    ]


@pytest.mark.parametrize(
    ("args", "exit_code", "message"),
    [
        ((*create_args("x.y")[:8], "NOPE", *create_args("x.y")[9:]), 1, "no organization with code 'NOPE'"),
        (create_args("x.y", "overlord"), 2, "'overlord' is not one of"),
        (("user", "roles", "nobody", "--role", "qa", "--reason", "x", "--as", "ada.admin"), 1, "no user 'nobody'"),
        (("user", "deactivate", "nobody", "--as", "ada.admin"), 2, "Missing option '--reason'"),
        (("user", "deactivate", "nobody", "--reason", "x", "--as", "ada.admin"), 1, "no user 'nobody'"),
        (("user", "unlock", "nobody", "--as", "ada.admin"), 1, "no user 'nobody'"),
    ],
)
def test_bad_cli_input_exits_non_zero_with_a_message(run, administrator, args, exit_code, message):
    result = run(*args)
    assert result.exit_code == exit_code
    assert message in result.output
