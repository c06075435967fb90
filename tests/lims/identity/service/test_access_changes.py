"""The access-change report: role grants and revocations filtered and paged in SQL, and a spreadsheet-safe CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from lims import clock
from lims.audit import context as audit_context
from lims.identity.models import RoleName
from lims.identity.service import access_changes, users
from lims.identity.service.access_changes import AccessChangeFilter

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


@pytest.fixture
def history(db_session, create_user):
    """Two administrators change two users' roles over three days; returns them by name."""
    clock.freeze(MONDAY)
    people = {
        "ada": create_user(RoleName.ADMIN, full_name="Ada Admin"),
        "bo": create_user(RoleName.ADMIN, full_name="Bo Admin"),
        "tom": create_user(RoleName.TECHNICIAN, full_name="Tom Tech"),
        "una": create_user(RoleName.TECHNICIAN, full_name="Una Tech"),
    }

    def change(by: str, whom: str, roles: set[RoleName], reason: str, day: int) -> None:
        clock.freeze(MONDAY + timedelta(days=day))
        admin, user = people[by], people[whom]
        audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
        users.update_user(
            db_session, user, full_name=user.full_name, email=user.email, roles=roles, actor=admin, reason=reason
        )

    change("ada", "tom", {RoleName.TECHNICIAN, RoleName.QA}, "Tom trained for QA", day=1)
    change("bo", "una", {RoleName.MANAGER}, "Una manages the line", day=2)
    change("ada", "tom", {RoleName.QA}, "Tom moves to QA", day=3)
    return people


EVERYTHING = AccessChangeFilter()


def listed(db_session, criteria=EVERYTHING, **paging):
    page = access_changes.list_role_changes(db_session, criteria, **paging)
    return [(change.user.full_name, change.role.value, change.kind.value, change.reason) for change in page.items]


def test_changes_are_listed_newest_first_with_whom_which_role_and_why(db_session, history):
    assert listed(db_session, AccessChangeFilter(changed_from=MONDAY + timedelta(days=1))) == [
        ("Tom Tech", "technician", "revoked", "Tom moves to QA"),
        ("Una Tech", "technician", "revoked", "Una manages the line"),
        ("Una Tech", "manager", "granted", "Una manages the line"),
        ("Tom Tech", "qa", "granted", "Tom trained for QA"),
    ]


def test_the_report_filters_by_whose_access_and_by_who_changed_it(db_session, history):
    tom, bo = history["tom"], history["bo"]
    assert [row[3] for row in listed(db_session, AccessChangeFilter(user_id=tom.id))] == [
        "Tom moves to QA",
        "Tom trained for QA",
        "Test user",  # the technician role granted when the account was made
    ]
    assert {row[3] for row in listed(db_session, AccessChangeFilter(changed_by_id=bo.id))} == {"Una manages the line"}


def test_the_report_filters_by_a_date_range_whose_end_is_exclusive(db_session, history):
    tuesday, wednesday = MONDAY + timedelta(days=1), MONDAY + timedelta(days=2)
    only_tuesday = AccessChangeFilter(changed_from=tuesday, changed_until=wednesday)
    assert [row[3] for row in listed(db_session, only_tuesday)] == ["Tom trained for QA"]
    assert listed(db_session, AccessChangeFilter(changed_from=MONDAY + timedelta(days=4))) == []


def test_pages_go_on_after_the_last_change_shown_without_repeats_or_gaps(db_session, history):
    everything = listed(db_session)
    first = access_changes.list_role_changes(db_session, AccessChangeFilter(), limit=3)
    assert first.next_key is not None
    second = access_changes.list_role_changes(db_session, AccessChangeFilter(), after=first.next_key, limit=3)
    third = access_changes.list_role_changes(db_session, AccessChangeFilter(), after=second.next_key, limit=3)
    assert third.next_key is None
    shown = [change.id for page in (first, second, third) for change in page.items]
    assert len(shown) == len(set(shown)) == len(everything)


def test_the_csv_neutralises_cells_a_spreadsheet_would_run_as_formulas(db_session, create_user):
    admin = create_user(RoleName.ADMIN, full_name="=cmd|' /C calc'!A0")
    user = create_user(RoleName.TECHNICIAN, full_name="@SUM(1+1)")
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    for roles, reason in (({RoleName.QA}, "+1 approved"), ({RoleName.MANAGER}, '-2 =HYPERLINK("http://x")')):
        users.update_user(
            db_session, user, full_name=user.full_name, email=user.email, roles=roles, actor=admin, reason=reason
        )
    rows = list(
        csv.reader(
            io.StringIO(
                "".join(
                    access_changes.csv_lines(
                        access_changes.list_role_changes(db_session, AccessChangeFilter(changed_by_id=admin.id)).items
                    )
                )
            )
        )
    )
    assert rows[0] == list(access_changes.CSV_HEADER)
    assert {(row[2], row[5], row[7]) for row in rows[1:]} == {
        ("'@SUM(1+1)", "'=cmd|' /C calc'!A0", "'+1 approved"),
        ("'@SUM(1+1)", "'=cmd|' /C calc'!A0", """'-2 =HYPERLINK("http://x")"""),
    }
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)
