"""Identity's compliance checks at their boundaries: accounts unused for N days, shared or generic accounts, and
users holding both a performing and a releasing role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from tests.lims.compliance.checking import found

NOW = datetime(2030, 4, 10, 8, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _now():
    clock.freeze(NOW - timedelta(days=200))


@pytest.mark.parametrize(("days_unused", "is_found"), [(89, False), (90, False), (91, True)])
def test_an_account_unused_beyond_the_days_set_is_found(db_session, create_user, days_unused, is_found):
    user = create_user()
    with audit_context.reason_for_change(db_session, "Signed in for the test"):
        user.last_login_at = NOW - timedelta(days=days_unused)
    conditions = found(db_session, "identity.account-unused", at=NOW, days=90)
    assert (str(user.id) in conditions) is is_found
    if is_found:
        assert conditions[str(user.id)].detail.startswith("not signed in for 91 days")
        assert conditions[str(user.id)].link == f"/admin/users/{user.id}"


def test_an_account_never_used_counts_from_its_creation_and_a_deactivated_one_not_at_all(db_session, create_user):
    never = create_user()
    gone = create_user()
    with audit_context.reason_for_change(db_session, "Left the company"):
        gone.active = False
    conditions = found(db_session, "identity.account-unused", at=NOW)
    assert conditions[str(never.id)].detail.startswith("never signed in since it was created")
    assert str(gone.id) not in conditions


@pytest.mark.parametrize(
    ("username", "is_generic"), [("lab-2", True), ("QA", True), ("admin", True), ("a.rossi", False)]
)
def test_a_generic_account_name_is_found(db_session, create_user, username, is_generic):
    user = create_user(username=username)
    assert (str(user.id) in found(db_session, "identity.shared-account", at=NOW)) is is_generic


def test_accounts_sharing_an_email_address_are_found(db_session, create_user):
    first, second, alone = create_user(username="t.nguyen"), create_user(username="s.lind"), create_user()
    with audit_context.reason_for_change(db_session, "Shared mailbox"):
        first.email = "cleanroom@example.org"
        second.email = "Cleanroom@example.org"
    conditions = found(db_session, "identity.shared-account", at=NOW)
    assert (
        conditions[str(first.id)].detail
        == "shares the e-mail address cleanroom@example.org with another active account"
    )
    assert str(second.id) in conditions and str(alone.id) not in conditions


@pytest.mark.parametrize(
    ("roles", "is_found"),
    [
        ((RoleName.TECHNICIAN, RoleName.QA), True),
        ((RoleName.QA,), False),
        ((RoleName.TECHNICIAN, RoleName.MANAGER), False),
    ],
)
def test_a_user_who_performs_and_releases_is_found(db_session, create_user, roles, is_found):
    user = create_user(*roles)
    assert (str(user.id) in found(db_session, "identity.performer-and-releaser", at=NOW)) is is_found
