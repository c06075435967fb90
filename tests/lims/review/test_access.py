"""The periodic access review: a manager confirms or changes every active user's roles and signs."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.errors import LoginFailed, OwnRolesRefused
from lims.identity.models import LoginAttempt, RoleChange, RoleChangeKind, RoleName
from lims.review.errors import ChangeReasonMissing, ListOutdated
from lims.review.models import AccessReview
from lims.review.service import access
from lims.signatures import service as signatures
from lims.signatures.errors import SignatureRefused
from lims.signatures.models import SignatureMeaning
from tests.helpers import PASSWORD


@pytest.fixture
def staff(create_user):
    return {
        "manager": create_user(RoleName.MANAGER, username="m.review"),
        "qa": create_user(RoleName.QA, username="q.review"),
        "technician": create_user(RoleName.TECHNICIAN, RoleName.QA, username="t.review"),
    }


def as_listed(session):
    people = access.users_to_review(session)
    return (
        {person.id: set(person.role_names) for person in people},
        {person.id: access.role_text(person.role_names) for person in people},
    )


def review(session, manager, decisions=None, listed=None, **overrides):
    """The review as ``manager`` signs it from the page (signed in: the trail attributes the changes to them)."""
    audit_context.attribute_to(session, manager.id, manager.full_name)
    kept, seen = as_listed(session)
    return access.review_access(
        session,
        decisions=decisions if decisions is not None else kept,
        listed=listed if listed is not None else seen,
        change_reason=overrides.pop("change_reason", None),
        comment=overrides.pop("comment", "All as expected."),
        interval_days=90,
        user=manager,
        password=overrides.pop("password", PASSWORD),
    )


def test_a_manager_signs_the_review_confirming_every_active_users_roles(db_session, staff):
    signed = review(db_session, staff["manager"])
    assert {entry.user.username for entry in signed.entries} >= {"m.review", "q.review", "t.review"}
    assert not signed.changed_entries
    technician = next(entry for entry in signed.entries if entry.user.username == "t.review")
    assert (technician.roles_before, technician.roles_after) == ("qa,technician", "qa,technician")
    [(signature, status)] = signatures.signatures_of(db_session, signed)
    assert signature.meaning == SignatureMeaning.REVIEWED and signature.printed_name == staff["manager"].full_name
    assert status == signatures.SignatureStatus.VALID


def test_a_role_changed_in_the_review_is_a_role_change_with_its_reason_in_the_trail(db_session, staff):
    decisions, listed = as_listed(db_session)
    decisions[staff["technician"].id] = {RoleName.TECHNICIAN}
    signed = review(db_session, staff["manager"], decisions, listed, change_reason="Performs and releases: split")
    assert staff["technician"].role_names == {RoleName.TECHNICIAN}
    [changed] = signed.changed_entries
    assert (changed.roles_before, changed.roles_after) == ("qa,technician", "technician")
    [revoked] = db_session.scalars(
        select(RoleChange).where(
            RoleChange.user_id == staff["technician"].id, RoleChange.kind == RoleChangeKind.REVOKED
        )
    ).all()
    assert revoked.role == RoleName.QA and revoked.reason == "Access review: Performs and releases: split"
    assert revoked.changed_by_id == staff["manager"].id
    event = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "user_account", AuditEvent.entity_id == str(staff["technician"].id))
        .order_by(AuditEvent.sequence.desc())
    ).first()
    assert event.reason == "Access review: Performs and releases: split" and event.user_id == staff["manager"].id


def test_a_change_without_a_reason_is_refused_and_nothing_changes(db_session, staff):
    decisions, listed = as_listed(db_session)
    decisions[staff["technician"].id] = {RoleName.TECHNICIAN}
    with pytest.raises(ChangeReasonMissing, match="Say why the roles are changed"):
        review(db_session, staff["manager"], decisions, listed, change_reason="  ")
    assert staff["technician"].role_names == {RoleName.TECHNICIAN, RoleName.QA}
    assert db_session.scalar(select(AccessReview.id)) is None


@pytest.mark.parametrize("role", ["qa", "technician"])
def test_only_a_manager_signs_the_access_review(db_session, staff, role):
    with pytest.raises(SignatureRefused, match="Your role may not sign"):
        review(db_session, staff[role])
    assert db_session.scalar(select(AccessReview.id)) is None


def test_a_wrong_password_signs_nothing_and_counts_toward_lockout(db_session, staff):
    with pytest.raises(LoginFailed, match="nothing was signed"):
        review(db_session, staff["manager"], password="not-the-password")
    assert db_session.scalar(select(AccessReview.id)) is None
    attempts = db_session.scalars(select(LoginAttempt).where(LoginAttempt.user_id == staff["manager"].id)).all()
    assert [attempt.outcome.value for attempt in attempts] == ["wrong_password"]


def test_a_manager_cannot_change_their_own_roles_in_the_review(db_session, staff):
    decisions, listed = as_listed(db_session)
    decisions[staff["manager"].id] = {RoleName.MANAGER, RoleName.ADMIN}
    decisions[staff["technician"].id] = {RoleName.TECHNICIAN}
    with pytest.raises(OwnRolesRefused):
        review(db_session, staff["manager"], decisions, listed, change_reason="More rights")
    # Refused before any other change was made.
    assert staff["technician"].role_names == {RoleName.TECHNICIAN, RoleName.QA}


def test_a_list_that_changed_since_it_was_opened_is_refused(db_session, staff, create_user):
    decisions, listed = as_listed(db_session)
    create_user(RoleName.TECHNICIAN, username="newcomer")
    with pytest.raises(ListOutdated, match="added or deactivated"):
        review(db_session, staff["manager"], decisions, listed)
    decisions, listed = as_listed(db_session)
    listed[staff["qa"].id] = "admin"
    with pytest.raises(ListOutdated, match=r"roles of q\.review changed"):
        review(db_session, staff["manager"], decisions, listed)


def test_a_signed_review_takes_no_second_signature(db_session, staff):
    signed = review(db_session, staff["manager"])
    with pytest.raises(SignatureRefused, match="signed already"):
        signatures.sign(db_session, signed, meaning=SignatureMeaning.REVIEWED, user=staff["manager"], password=PASSWORD)
