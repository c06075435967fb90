"""User accounts: roles that fit the organization and are granted for a reason, never by their holder; unique
usernames, audited changes, deactivation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.errors import AlreadyExists
from lims.identity.errors import OwnRolesRefused, RolesRefused, SelfLockoutRefused
from lims.identity.models import OrganizationKind, RoleChange, RoleChangeKind, RoleName, User
from lims.identity.service import sessions, users
from tests.helpers import PASSWORD


def test_deactivation_needs_a_reason_and_changes_nothing_without_one(db_session, create_user):
    user = create_user()
    with pytest.raises(ReasonRequired):
        users.deactivate_user(db_session, user, reason="   ", actor=None)
    assert user.active


def test_deactivation_ends_the_users_sessions(db_session, create_user):
    user = create_user()
    token = sessions.open_session(db_session, user, client_address=None, user_agent=None)
    assert sessions.find_open_session(db_session, token).user is user
    users.deactivate_user(db_session, user, reason="Left", actor=None)
    assert sessions.find_open_session(db_session, token) is None


def test_an_admin_cannot_deactivate_themselves(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(SelfLockoutRefused):
        users.deactivate_user(db_session, admin, reason="oops", actor=admin)


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
    with pytest.raises(RolesRefused, match=message):
        users.create_user(
            db_session,
            username="newuser",
            full_name="New User",
            email="n@example.org",
            organization=organization,
            roles=roles,
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="New starter",
        )


def test_usernames_are_unique_regardless_of_case(db_session, create_user, facility):
    create_user(username="jdoe")
    with pytest.raises(AlreadyExists):
        users.create_user(
            db_session,
            username="JDoe",
            full_name="J Doe",
            email="j@example.org",
            organization=facility,
            roles={RoleName.QA},
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="New starter",
        )


@pytest.mark.parametrize(
    "roles",
    [{RoleName.QA}, {RoleName.ADMIN, RoleName.QA}, {RoleName.ADMIN, RoleName.MANAGER, RoleName.TECHNICIAN}],
    ids=["removing admin", "adding qa", "adding several"],
)
def test_nobody_changes_their_own_roles_and_the_attempt_is_audited(db_session, create_user, roles):
    admin = create_user(RoleName.ADMIN)
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    with pytest.raises(OwnRolesRefused, match="Nobody changes their own roles") as refused:
        users.update_user(
            db_session,
            admin,
            full_name=admin.full_name,
            email=admin.email,
            roles=roles,
            actor=admin,
            reason="Covering QA this week",
        )
    assert refused.value.keeps_changes and refused.value.status_code == 403
    assert admin.role_names == {RoleName.ADMIN}
    refusal = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert (refusal.user_id, refusal.entity_type, refusal.entity_id) == (admin.id, "user_account", str(admin.id))
    assert json.loads(refusal.changes)["roles_asked"] == sorted(role.value for role in roles)
    assert db_session.scalar(select(func.count(RoleChange.id)).where(RoleChange.reason == "Covering QA this week")) == 0


def test_an_administrator_may_correct_their_own_name_while_their_roles_stay(db_session, create_user):
    admin = create_user(RoleName.ADMIN, RoleName.QA, full_name="Ada Admn")
    users.update_user(
        db_session,
        admin,
        full_name="Ada Admin",
        email=admin.email,
        roles={RoleName.QA, RoleName.ADMIN},
        actor=admin,
        reason="Typo in the name",
    )
    assert admin.full_name == "Ada Admin" and admin.role_names == {RoleName.ADMIN, RoleName.QA}


def test_a_new_users_roles_are_granted_for_a_reason_and_recorded(db_session, facility, create_user):
    admin = create_user(RoleName.ADMIN, full_name="Ada Admin")
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    created = users.create_user(
        db_session,
        username="q.new",
        full_name="Quinn New",
        email="q.new@example.org",
        organization=facility,
        roles={RoleName.QA, RoleName.TECHNICIAN},
        password=PASSWORD,
        must_change_password=True,
        actor=admin,
        reason="  New QA officer, hired 2026-12-01 ",
    )
    grants = db_session.scalars(select(RoleChange).where(RoleChange.user_id == created.id).order_by(RoleChange.id))
    assert [(grant.role, grant.kind, grant.changed_by_id, grant.changed_by_name, grant.reason) for grant in grants] == [
        (RoleName.QA, RoleChangeKind.GRANTED, admin.id, "Ada Admin", "New QA officer, hired 2026-12-01"),
        (RoleName.TECHNICIAN, RoleChangeKind.GRANTED, admin.id, "Ada Admin", "New QA officer, hired 2026-12-01"),
    ]
    creation = db_session.scalars(
        select(AuditEvent).where(
            AuditEvent.action == "create",
            AuditEvent.entity_type == "user_account",
            AuditEvent.entity_id == str(created.id),
        )
    ).one()
    assert creation.reason == "New QA officer, hired 2026-12-01"


def test_a_new_user_without_a_reason_for_their_roles_is_refused(db_session, facility):
    with pytest.raises(ReasonRequired):
        users.create_user(
            db_session,
            username="q.new",
            full_name="Quinn New",
            email="q.new@example.org",
            organization=facility,
            roles={RoleName.QA},
            password=PASSWORD,
            must_change_password=True,
            actor=None,
            reason=" ",
        )
    assert db_session.scalar(select(func.count(User.id))) == 0
    assert db_session.scalar(select(func.count(RoleChange.id))) == 0


def test_each_role_granted_and_revoked_is_recorded_with_who_and_why(db_session, create_user):
    admin = create_user(RoleName.ADMIN, full_name="Ada Admin")
    user = create_user(RoleName.TECHNICIAN, RoleName.MANAGER)
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    users.update_user(
        db_session,
        user,
        full_name="Renamed",
        email=user.email,
        roles={RoleName.QA, RoleName.ADMIN, RoleName.MANAGER},
        actor=admin,
        reason="Promoted to QA lead",
    )
    changes = db_session.scalars(
        select(RoleChange).where(RoleChange.reason == "Promoted to QA lead").order_by(RoleChange.id)
    )
    assert [(change.role, change.kind, change.changed_by_id) for change in changes] == [
        (RoleName.ADMIN, RoleChangeKind.GRANTED, admin.id),
        (RoleName.QA, RoleChangeKind.GRANTED, admin.id),
        (RoleName.TECHNICIAN, RoleChangeKind.REVOKED, admin.id),
    ]
    # A change of name alone grants nothing.
    users.update_user(
        db_session,
        user,
        full_name="Renamed again",
        email=user.email,
        roles={RoleName.QA, RoleName.ADMIN, RoleName.MANAGER},
        actor=admin,
        reason="Spelling",
    )
    assert db_session.scalar(select(func.count(RoleChange.id)).where(RoleChange.reason == "Spelling")) == 0


def test_role_change_is_audited_with_old_and_new_roles_and_the_reason(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user(RoleName.TECHNICIAN)
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    users.update_user(
        db_session,
        user,
        full_name=user.full_name,
        email=user.email,
        roles={RoleName.TECHNICIAN, RoleName.QA},
        actor=admin,
        reason="Trained for QA review",
    )
    change = db_session.scalars(
        select(AuditEvent).where(AuditEvent.action == "update", AuditEvent.entity_id == str(user.id))
    ).one()
    assert json.loads(change.changes) == {"roles": [["technician"], ["qa", "technician"]]}
    assert (change.reason, change.user_id, change.user_name) == ("Trained for QA review", admin.id, admin.full_name)


def test_user_update_without_reason_is_refused_and_changes_nothing(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    user = create_user(RoleName.TECHNICIAN, full_name="Old Name")
    with pytest.raises(ReasonRequired):
        users.update_user(
            db_session,
            user,
            full_name="New Name",
            email=user.email,
            roles={RoleName.TECHNICIAN},
            actor=admin,
            reason="  ",
        )
    assert user.full_name == "Old Name"
