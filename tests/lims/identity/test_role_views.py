"""Roles through the browser: nobody changes their own, every grant needs a reason, and QA reads the access-change
report and its CSV."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName, User
from lims.identity.service import users
from tests.helpers import PASSWORD, duplicate_ids, submit


def refusals(db_session) -> list[AuditEvent]:
    db_session.expire_all()
    return list(db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")))


def test_an_administrator_cannot_change_their_own_roles_on_their_page(client, db_session, signed_in):
    admin = signed_in(RoleName.ADMIN)
    page = client.get(f"/admin/users/{admin.id}").text
    assert "Nobody changes their own roles" in page and 'type="checkbox" name="roles"' not in page
    assert duplicate_ids(page) == []

    response = submit(
        client,
        f"/admin/users/{admin.id}",
        {"full_name": admin.full_name, "email": admin.email, "roles": ["admin", "qa"], "reason": "Covering QA"},
    )
    assert response.status_code == 403
    assert 'id="roles-error"' in response.text and "Nobody changes their own roles" in response.text
    db_session.expire_all()
    assert db_session.get(User, admin.id).role_names == {RoleName.ADMIN}
    (refusal,) = refusals(db_session)
    assert (refusal.user_id, refusal.entity_id) == (admin.id, str(admin.id))
    assert json.loads(refusal.changes)["roles_asked"] == ["admin", "qa"]


def test_an_administrator_may_still_correct_their_own_details(client, db_session, signed_in):
    admin = signed_in(RoleName.ADMIN)
    response = submit(
        client,
        f"/admin/users/{admin.id}",
        {"full_name": "Ada Admin", "email": admin.email, "roles": ["admin"], "reason": "Name as on the passport"},
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(User, admin.id).full_name == "Ada Admin"
    assert refusals(db_session) == []


def test_a_role_change_without_a_reason_is_refused_and_changes_nothing(client, create_user, db_session, signed_in):
    user = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    signed_in(RoleName.ADMIN)
    response = submit(
        client,
        f"/admin/users/{user.id}",
        {"full_name": user.full_name, "email": user.email, "roles": ["technician", "qa"], "reason": "  "},
    )
    assert response.status_code == 422 and 'id="reason-error"' in response.text
    db_session.expire_all()
    assert db_session.get(User, user.id).role_names == {RoleName.TECHNICIAN}


def test_a_new_user_without_a_reason_for_their_roles_is_refused(client, facility, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    response = submit(
        client,
        "/admin/users/new",
        {
            "username": "q.new",
            "full_name": "Quinn New",
            "email": "q.new@example.org",
            "organization_id": str(facility.id),
            "roles": ["qa"],
        },
    )
    assert response.status_code == 422
    assert 'id="reason-error"' in response.text and "reason for granting these roles" in response.text
    assert db_session.scalar(select(func.count(User.id)).where(User.username == "q.new")) == 0


@pytest.fixture
def qa_lead(create_user, db_session):
    """A technician whom an administrator made QA on 1 December 2026 at 17:00 UTC; returns (admin, user)."""
    with clock.frozen(datetime(2026, 12, 1, 9, 0, tzinfo=UTC)):
        admin = create_user(RoleName.ADMIN, full_name="Ada Admin")
        user = create_user(RoleName.TECHNICIAN, full_name="Tom Tech")
    with clock.frozen(datetime(2026, 12, 1, 17, 0, tzinfo=UTC)):
        audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
        users.update_user(
            db_session,
            user,
            full_name=user.full_name,
            email=user.email,
            roles={RoleName.QA},
            actor=admin,
            reason='=HYPERLINK("http://evil.example") promoted',
        )
    audit_context.act_as(db_session, audit_context.SYSTEM)
    db_session.commit()
    return admin, user


def rows_of(page: str) -> list[list[str]]:
    body = page.split("<tbody>")[1].split("</tbody>")[0]
    return [
        [html.unescape(re.sub(r"<[^>]+>", "", cell)).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body, re.S)
    ]


def test_qa_reads_who_granted_which_role_to_whom_when_and_why(client, qa_lead, signed_in):
    _admin, user = qa_lead
    signed_in(RoleName.QA)
    page = client.get(f"/admin/access-changes?user_id={user.id}")
    assert page.status_code == 200
    reason = '=HYPERLINK("http://evil.example") promoted'
    assert [row[1:] for row in rows_of(page.text)] == [
        [f"Tom Tech {user.username}", "technician", "revoked", "Ada Admin", reason],
        [f"Tom Tech {user.username}", "qa", "granted", "Ada Admin", reason],
        [f"Tom Tech {user.username}", "technician", "granted", "system", "Test user"],
    ]
    assert "2026-12-01 17:00" in rows_of(page.text)[0][0]
    assert duplicate_ids(page.text) == []


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.CLIENT])
def test_only_qa_and_administrators_see_the_access_changes(client, signed_in, role):
    signed_in(role)
    assert client.get("/admin/access-changes").status_code == 403
    assert client.get("/admin/access-changes.csv").status_code == 403


def test_the_report_filters_by_who_made_the_change(client, qa_lead, signed_in):
    admin, _user = qa_lead
    qa = signed_in(RoleName.QA)
    by_admin = rows_of(client.get(f"/admin/access-changes?changed_by_id={admin.id}").text)
    assert [(row[2], row[3]) for row in by_admin] == [("technician", "revoked"), ("qa", "granted")]
    assert rows_of(client.get(f"/admin/access-changes?changed_by_id={qa.id}").text) == [
        ["No role change matches these filters."]
    ]


@pytest.mark.parametrize(
    ("zone", "day", "found"),
    [("UTC", "2026-12-01", True), ("UTC", "2026-12-02", False), ("Asia/Singapore", "2026-12-02", True)],
)
def test_the_date_range_is_in_the_facilitys_local_dates(app, client, qa_lead, signed_in, zone, day, found):
    app.config["DISPLAY_TIMEZONE"] = zone
    signed_in(RoleName.QA)
    rows = rows_of(client.get(f"/admin/access-changes?date_from={day}&date_to={day}").text)
    assert any(row[-2:] == ["Ada Admin", '=HYPERLINK("http://evil.example") promoted'] for row in rows) is found


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("date_from=2026-12-05&date_to=2026-12-01", "The end date is before the start date."),
        ("date_from=yesterday", "Enter a date as YYYY-MM-DD."),
        ("user_id=abc", "Choose a user from the list."),
        ("cursor=not-a-cursor", "This cursor is not one this list gave out"),
    ],
)
def test_bad_filters_are_refused_beside_their_field(client, signed_in, query, message):
    signed_in(RoleName.QA)
    for address in ("/admin/access-changes", "/admin/access-changes.csv"):
        response = client.get(f"{address}?{query}")
        assert response.status_code == 422 and message in response.text


def test_the_report_pages_by_keyset_and_keeps_its_filters(client, create_user, db_session, signed_in):
    admin = create_user(RoleName.ADMIN)
    audit_context.act_as(db_session, audit_context.Actor(admin.id, admin.full_name))
    for number in range(55):
        users.create_user(
            db_session,
            username=f"made{number:02d}",
            full_name=f"Made {number:02d}",
            email=f"made{number:02d}@example.org",
            organization=admin.organization,
            roles={RoleName.TECHNICIAN},
            password=PASSWORD,
            must_change_password=True,
            actor=admin,
            reason=f"Hire {number:02d}",
        )
    audit_context.act_as(db_session, audit_context.SYSTEM)
    db_session.commit()
    signed_in(RoleName.QA)

    first = client.get(f"/admin/access-changes?changed_by_id={admin.id}")
    reasons = [row[5] for row in rows_of(first.text)]
    assert len(reasons) == 50 and reasons[0] == "Hire 54"
    (older,) = re.findall(r'rel="next" href="([^"]+)"', first.text)
    assert f"changed_by_id={admin.id}" in older
    second = client.get(older.replace("&amp;", "&"))
    assert [row[5] for row in rows_of(second.text)] == [f"Hire {number:02d}" for number in range(4, -1, -1)]
    assert 'rel="next"' not in second.text


def test_the_csv_download_is_filtered_spreadsheet_safe_and_audited(client, qa_lead, db_session, signed_in):
    admin, _user = qa_lead
    qa = signed_in(RoleName.QA)
    response = client.get(f"/admin/access-changes.csv?changed_by_id={admin.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    header, *rows = list(csv.reader(io.StringIO(response.text)))
    assert header[:6] == ["changed_at_utc", "user", "user_name", "role", "change", "changed_by"]
    assert [(row[3], row[4], row[7]) for row in rows] == [
        ("technician", "revoked", '\'=HYPERLINK("http://evil.example") promoted'),
        ("qa", "granted", '\'=HYPERLINK("http://evil.example") promoted'),
    ]
    assert rows[0][0].startswith("2026-12-01T17:00:00")
    db_session.expire_all()
    export = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access_changes.exported")).one()
    assert export.user_id == qa.id and json.loads(export.changes) == {"changed_by_id": str(admin.id)}
