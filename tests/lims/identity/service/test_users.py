"""User accounts: roles that fit the organization, unique usernames, audited changes, deactivation."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from lims.audit import context as audit_context
from lims.audit.errors import ReasonRequired
from lims.audit.models import AuditEvent
from lims.errors import AlreadyExists
from lims.identity.errors import RolesRefused, SelfLockoutRefused
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service import sign_in, users
from tests.helpers import PASSWORD


def test_deactivation_needs_a_reason_and_changes_nothing_without_one(db_session, create_user):
    user = create_user()
    with pytest.raises(ReasonRequired):
        users.deactivate_user(db_session, user, reason="   ", actor=None)
    assert user.active


def test_deactivation_ends_the_users_sessions(db_session, create_user):
    user = create_user()
    session_id = user.get_id()
    assert sign_in.user_for_session(db_session, session_id) is user
    users.deactivate_user(db_session, user, reason="Left", actor=None)
    assert sign_in.user_for_session(db_session, session_id) is None


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
        )


def test_admin_cannot_remove_their_own_admin_role(db_session, create_user):
    admin = create_user(RoleName.ADMIN)
    with pytest.raises(SelfLockoutRefused):
        users.update_user(
            db_session,
            admin,
            full_name=admin.full_name,
            email=admin.email,
            roles={RoleName.QA},
            actor=admin,
            reason="Moving to QA",
        )


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
