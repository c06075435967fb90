"""The audit pages: viewer, history, CSV export, integrity check; QA and admin only."""

from __future__ import annotations

import csv
import io
import re

import pytest
from sqlalchemy import select

from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.identity.service import organizations as identity_organizations
from tests.helpers import login, submit
from tests.lims.audit.tampering import alter_action, drop_append_only_triggers


def results(client, url: str) -> str:
    """The result table of an audit page, without the filter form."""
    return client.get(url).text.split("<tbody>")[1].split("</tbody>")[0]


@pytest.mark.parametrize("role", [RoleName.TECHNICIAN, RoleName.MANAGER, RoleName.CLIENT])
def test_only_qa_and_admin_read_the_trail(client, signed_in, role):
    signed_in(role)
    for url in ("/audit", "/audit/export.csv", "/audit/integrity"):
        assert client.get(url).status_code == 403


def test_the_trail_leads_to_the_chain_integrity_page(client, signed_in):
    signed_in(RoleName.QA)
    assert 'href="/audit/integrity">Chain integrity</a>' in client.get("/audit").text


def test_record_history_shows_who_changed_what_when_and_why(client, create_organization, db_session, signed_in):
    qa = signed_in(RoleName.QA)
    organization = create_organization(name="Helix")
    audit_context.act_as(db_session, audit_context.Actor(qa.id, qa.full_name))
    identity_organizations.update_organization(db_session, organization, name="Helix Bio", active=True, reason="Merger")
    db_session.commit()
    page = client.get(f"/audit?entity_type=organization&entity_id={organization.id}").text
    assert "<del>Helix</del> → <ins>Helix Bio</ins>" in page
    assert "Merger" in page and qa.full_name in page


def test_viewer_pages_with_keyset_links(client, create_organization, db_session, signed_in):
    signed_in(RoleName.QA)
    for number in range(60):
        create_organization(name=f"Client {number:02d}")
    db_session.commit()
    first = client.get("/audit?action=create&entity_type=organization")
    assert first.status_code == 200 and "Client 59" in first.text
    older_link = first.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(older_link)
    assert "Client 00" in second.text and "Client 59" not in second.text
    assert 'rel="next"' not in second.text


def test_viewer_filters_by_user_date_and_text(client, create_user, db_session, signed_in):
    qa = signed_in(RoleName.QA)
    other = create_user(RoleName.TECHNICIAN, full_name="Thi Nguyen")
    db_session.commit()
    by_user = results(client, f"/audit?user_id={qa.id}")
    assert "login.success" in by_user and "Thi Nguyen" not in by_user
    assert "Thi Nguyen" in results(client, "/audit?q=thi+nguyen")
    assert "Thi Nguyen" not in results(client, "/audit?q=nobody-matches-this")
    assert "No event matches" in results(client, "/audit?date_from=2001-01-01&date_to=2001-01-02")
    assert other.full_name in results(client, "/audit?date_from=2000-01-01")


def test_bad_filters_get_messages_next_to_the_fields(client, signed_in):
    signed_in(RoleName.QA)
    response = client.get("/audit?date_from=yesterday&user_id=bob")
    assert response.status_code == 422
    assert "Enter a date as YYYY-MM-DD." in response.text and "Choose a user from the list." in response.text


@pytest.mark.parametrize("url", ["/audit", "/audit/export.csv"])
@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("user_id=99999999999999999999999", "Choose a user from the list."),
        ("user_id=0", "Choose a user from the list."),
        ("before=99999999999999999999999", "Enter a whole number from 1 to"),
        ("date_from=2026-11-25&date_to=2026-11-01", "The end date is before the start date."),
    ],
)
def test_filters_out_of_range_are_refused_and_export_nothing(client, db_session, signed_in, url, query, message):
    signed_in(RoleName.QA)
    response = client.get(f"{url}?{query}")
    assert response.status_code == 422 and message in response.text
    db_session.expire_all()
    assert not db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).all()


def test_dates_at_the_edges_of_the_calendar_exclude_nothing(app, client, signed_in):
    app.config["DISPLAY_TIMEZONE"] = "Europe/Berlin"
    signed_in(RoleName.QA)
    everything = results(client, "/audit")
    assert results(client, "/audit?date_from=0001-01-01&date_to=9999-12-31") == everything
    export = client.get("/audit/export.csv?date_from=0001-01-01&date_to=9999-12-31")
    assert export.status_code == 200 and "login.success" in export.text


def test_csv_export_is_audited_and_neutralises_formulas(client, create_organization, db_session, signed_in):
    signed_in(RoleName.QA)
    organization = create_organization(name="Helix")
    audit_context.act_as(db_session, audit_context.Actor(None, '=HYPERLINK("http://evil.example")'))
    identity_organizations.update_organization(
        db_session, organization, name="Helix Bio", active=True, reason="@SUM(A1:A9)"
    )
    db_session.commit()
    response = client.get(f"/audit/export.csv?entity_type=organization&entity_id={organization.id}")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert [row["action"] for row in rows] == ["create", "update"]
    assert rows[1]["user_name"] == '\'=HYPERLINK("http://evil.example")'
    assert rows[1]["reason"] == "'@SUM(A1:A9)"
    assert rows[1]["changes"] == '{"name":["Helix","Helix Bio"]}'
    db_session.expire_all()
    exported = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.exported")).one()
    assert '"entity_type":"organization"' in exported.changes


def test_integrity_page_verifies_and_records_that_it_did(client, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    assert "Verify the chain now" in client.get("/audit/integrity").text
    response = submit(client, "/audit/integrity", {})
    assert response.status_code == 200 and "Audit trail intact" in response.text
    assert '<div class="flash flash-warning" role="status"><strong>Intact, not anchored.</strong>' in response.text
    db_session.expire_all()
    assert db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.verified")).one()


def test_sign_in_sign_out_and_refusals_are_in_the_trail(app, client, create_user, db_session, signed_in):
    technician = signed_in(RoleName.TECHNICIAN)
    assert client.get("/admin/users").status_code == 403
    submit(client, "/", {}, action="/logout")
    db_session.expire_all()
    actions = [
        e.action
        for e in db_session.scalars(
            select(AuditEvent).where(AuditEvent.entity_id == str(technician.id)).order_by(AuditEvent.sequence)
        )
    ]
    assert "login.success" in actions and "logout" in actions
    refusal = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "access.refused")).one()
    assert refusal.user_id == technician.id and '"path":"/admin/users"' in refusal.changes
    assert refusal.request_id and refusal.client_address == "127.0.0.1"


def test_user_page_links_to_its_history(client, create_user, db_session, signed_in):
    user = create_user()
    db_session.commit()
    signed_in(RoleName.ADMIN)
    assert f"/audit?entity_type=user_account&amp;entity_id={user.id}" in client.get(f"/admin/users/{user.id}").text


def test_integrity_page_names_the_first_broken_event_and_records_the_break(
    client, connection, db_session, signed_in, create_organization
):
    signed_in(RoleName.QA)
    create_organization(name="Helix")
    db_session.commit()
    drop_append_only_triggers(connection)
    alter_action(connection, 2, "tampered")
    response = submit(client, "/audit/integrity", {})
    assert response.status_code == 200
    assert 'role="alert"' in response.text and "Audit trail broken at event 2: hash mismatch" in response.text
    db_session.expire_all()
    verified = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.verified")).one()
    assert "broken at event 2" in verified.changes


def test_integrity_page_shows_the_latest_of_all_checkpoints(app, client, connection, db_session, signed_in):
    signed_in(RoleName.QA)
    db_session.commit()
    first = audit_anchors.write_checkpoint(connection, app.config["AUDIT_CHECKPOINT_PATH"])
    audit_chain.record(db_session, "test.between-checkpoints")
    db_session.flush()
    latest = audit_anchors.write_checkpoint(connection, app.config["AUDIT_CHECKPOINT_PATH"])
    db_session.commit()
    page = client.get("/audit/integrity").text
    assert f"event {latest.sequence}, <code>{latest.hash}</code>" in page and "(2 written in all)" in page
    assert first.hash not in page
    verified = submit(client, "/audit/integrity", {}).text
    assert "matches all 2 checkpoints" in verified and "<strong>Intact.</strong>" in verified


def test_pages_step_to_older_and_back_to_newer_events(client, db_session, signed_in):
    signed_in(RoleName.QA)
    for number in range(120):
        audit_chain.record(db_session, "test.paged", details={"number": number})
    db_session.commit()
    first = client.get("/audit?action=test.paged").text
    assert 'rel="prev"' not in first and "Newest" not in first
    older_url = re.search(r'<a rel="next" href="([^"]+)"', first)[1].replace("&amp;", "&")
    second = client.get(older_url).text
    newer_url = re.search(r'<a rel="prev" href="([^"]+)"', second)[1].replace("&amp;", "&")
    assert "action=test.paged" in newer_url and "action=test.paged" in older_url
    assert results(client, newer_url) == results(client, "/audit?action=test.paged")
    third = client.get(re.search(r'<a rel="next" href="([^"]+)"', second)[1].replace("&amp;", "&")).text
    assert 'rel="next"' not in third and third.count("test.paged</td>") == 20
    assert 'rel="prev"' in third and "Newest" in third


def test_paging_both_ways_at_once_is_refused(client, signed_in):
    signed_in(RoleName.QA)
    response = client.get("/audit?before=10&after=5")
    assert response.status_code == 422 and "not both at once" in response.text


def test_an_action_family_finds_every_action_of_the_family(client, create_user, db_session, signed_in):
    other = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    assert login(client, other, password="not-the-password").status_code != 302
    signed_in(RoleName.QA)
    logins = results(client, "/audit?action=login")
    assert "login.success" in logins and "login.wrong_password" in logins
    assert "access.refused" not in logins and "create" not in logins
    assert "login.wrong_password" not in results(client, "/audit?action=login.success")
