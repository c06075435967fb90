"""Sign-in, password change and the admin pages, through HTTP like a browser."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.identity.models import ApiToken, RoleName, User
from lims.identity.service import api_tokens, sign_in, users
from tests.helpers import (
    PASSWORD,
    csrf_token_from,
    duplicate_ids,
    history_link,
    login,
    submit,
)


def test_login_with_the_right_password_opens_the_dashboard(client, create_user, db_session):
    user = create_user(RoleName.TECHNICIAN, full_name="Thi Nguyen")
    db_session.commit()
    response = login(client, user)
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "Thi Nguyen" in client.get("/").text


def test_login_returns_to_the_page_first_asked_for_but_never_off_site(client, create_user, db_session):
    user = create_user(RoleName.ADMIN)
    db_session.commit()
    first = client.get("/admin/roles")
    assert first.status_code == 302 and "next=/admin/roles" in first.headers["Location"]
    page = client.get(first.headers["Location"])
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token_from(page.text),
            "username": user.username,
            "password": PASSWORD,
            "next": "/admin/roles",
        },
    )
    assert response.headers["Location"] == "/admin/roles"
    client.post("/logout", data={"csrf_token": csrf_token_from(client.get("/").text)})
    page = client.get("/login")
    response = client.post(
        "/login",
        data={
            "csrf_token": csrf_token_from(page.text),
            "username": user.username,
            "password": PASSWORD,
            "next": "//evil.example/phish",
        },
    )
    assert response.headers["Location"] == "/"


def test_wrong_password_is_refused_with_a_message_and_counted(client, create_user, db_session):
    user = create_user()
    db_session.commit()
    response = login(client, user, password="not-my-password")
    assert response.status_code == 401
    assert "Unknown username or wrong password." in response.text
    assert client.get("/").status_code == 302
    db_session.expire_all()
    assert [a.outcome.value for a in sign_in.recent_login_attempts(db_session, user)] == ["wrong_password"]


def test_empty_login_form_names_the_missing_fields(client):
    response = submit(client, "/login", {"username": "  ", "password": ""})
    assert response.status_code == 422
    assert "Enter your username." in response.text and "Enter your password." in response.text


def test_fifth_failure_locks_and_admin_unlock_through_the_page(app, client, create_user, db_session):
    user = create_user()
    admin = create_user(RoleName.ADMIN)
    db_session.commit()
    for _ in range(4):
        assert login(client, user, password="wrong-wrong-wrong").status_code == 401
    locked = login(client, user, password="wrong-wrong-wrong")
    assert locked.status_code == 423 and "locked after 5 failed" in locked.text
    assert login(client, user).status_code == 423, "the right password does not open a locked account"

    admin_client = app.test_client()
    login(admin_client, admin)
    dashboard = admin_client.get("/").text
    assert 'class="count">1</span>' in dashboard and "Locked accounts" in dashboard
    response = submit(admin_client, f"/admin/users/{user.id}", {}, action=f"/admin/users/{user.id}/unlock")
    assert response.status_code == 303
    assert login(client, user).status_code == 302


def test_deactivated_user_cannot_sign_in(client, create_user, db_session):
    user = create_user()
    users.deactivate_user(db_session, user, reason="Contract ended", actor=None)
    db_session.commit()
    response = login(client, user)
    assert response.status_code == 401 and "deactivated" in response.text


def test_deactivation_signs_the_user_out_at_their_next_request(app, client, create_user, db_session):
    user = create_user()
    admin = create_user(RoleName.ADMIN)
    db_session.commit()
    login(client, user)
    admin_client = app.test_client()
    login(admin_client, admin)
    response = submit(
        admin_client, f"/admin/users/{user.id}", {"reason": "Left the lab"}, action=f"/admin/users/{user.id}/deactivate"
    )
    assert response.status_code == 303
    assert client.get("/").status_code == 302


def test_deactivation_without_reason_is_refused_and_changes_nothing(app, client, create_user, db_session, signed_in):
    user = create_user()
    db_session.commit()
    signed_in(RoleName.ADMIN)
    response = submit(client, f"/admin/users/{user.id}", {"reason": " "}, action=f"/admin/users/{user.id}/deactivate")
    assert response.status_code == 422 and "Give the reason." in response.text
    db_session.expire_all()
    assert db_session.get(User, user.id).active


def test_login_form_post_without_csrf_token_is_refused(client, create_user, db_session):
    user = create_user()
    db_session.commit()
    response = client.post("/login", data={"username": user.username, "password": PASSWORD})
    assert response.status_code == 400
    assert "form has expired or was not sent from this site" in response.text
    assert client.get("/").status_code == 302


def test_signed_in_form_post_without_csrf_token_is_refused(client, create_user, db_session, signed_in):
    user = create_user()
    db_session.commit()
    signed_in(RoleName.ADMIN)
    response = client.post(f"/admin/users/{user.id}/deactivate", data={"reason": "csrf attack"})
    assert response.status_code == 400
    db_session.expire_all()
    assert db_session.get(User, user.id).active


def test_session_ends_after_the_idle_timeout(app, client, signed_in):
    signed_in(RoleName.QA)
    assert client.get("/").status_code == 200
    clock.freeze(clock.now() + timedelta(minutes=app.config["SESSION_IDLE_MINUTES"], seconds=1))
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert "without activity" in client.get("/login").text


def test_activity_within_the_timeout_keeps_the_session(app, client, signed_in):
    signed_in(RoleName.QA)
    start = clock.now()
    for step in range(1, 4):
        clock.freeze(start + step * timedelta(minutes=app.config["SESSION_IDLE_MINUTES"] - 1))
        assert client.get("/").status_code == 200


def test_logout_ends_the_session(client, signed_in):
    signed_in(RoleName.TECHNICIAN)
    response = submit(client, "/", {}, action="/logout")
    assert response.status_code == 302
    assert client.get("/").status_code == 302


def test_admin_creates_a_user_who_must_change_the_temporary_password(app, client, facility, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    response = submit(
        client,
        "/admin/users/new",
        {
            "username": "new.tech",
            "full_name": "New Technician",
            "email": "new.tech@example.org",
            "organization_id": str(facility.id),
            "roles": ["technician"],
            "reason": "New technician, starts Monday",
        },
    )
    assert response.status_code == 201
    temporary = response.text.split('<code class="secret">')[1].split("</code>")[0]

    newcomer = app.test_client()
    assert login(newcomer, "new.tech", temporary).status_code == 302
    redirected = newcomer.get("/")
    assert redirected.status_code == 302 and redirected.headers["Location"] == "/account/password"
    changed = submit(
        newcomer,
        "/account/password",
        {
            "current_password": temporary,
            "new_password": "my-own-secret-pipette",
            "confirm_password": "my-own-secret-pipette",
        },
    )
    assert changed.status_code == 302
    assert newcomer.get("/").status_code == 200


def test_user_form_shows_each_error_next_to_its_field(facility, client, signed_in):
    signed_in(RoleName.ADMIN)
    response = submit(
        client,
        "/admin/users/new",
        {
            "username": "X",
            "full_name": "",
            "email": "not-an-email",
            "organization_id": str(facility.id),
        },
    )
    assert response.status_code == 422
    assert 'id="username-error"' in response.text and "lower-case letters" in response.text
    assert 'id="email-error"' in response.text and "valid e-mail" in response.text
    assert 'id="roles-error"' in response.text and "at least one role" in response.text
    assert 'id="full_name-error"' in response.text


def test_password_change_refusal_gives_the_policy_reason(client, signed_in):
    user = signed_in(RoleName.TECHNICIAN)
    response = submit(
        client,
        "/account/password",
        {
            "current_password": PASSWORD,
            "new_password": f"{user.username}-is-me",
            "confirm_password": f"{user.username}-is-me",
        },
    )
    assert response.status_code == 422 and "must not contain the username" in response.text


def _change_password(client, current: str, new: str):
    return submit(
        client, "/account/password", {"current_password": current, "new_password": new, "confirm_password": new}
    )


@pytest.mark.parametrize(
    ("new_password", "reason"),
    [
        ("aaaaaaaaaaaa", "it repeats the same character"),
        (" " * 12, "it repeats the same character"),
        ("qwertyuiopas", "it is a commonly used password"),
        ("abcabcabcabc", "it repeats the same group of characters"),
        ("Northbridge2026", "it is built on the facility&#39;s name or code"),
        ("demo-admin-2026", "one of the demo passwords published with the LIMS"),
        ("Priya.Raman.2026", "it is built on your name, username or e-mail address"),
    ],
)
def test_a_weak_new_password_is_refused_beside_its_field(client, signed_in, db_session, new_password, reason):
    user = signed_in(RoleName.TECHNICIAN, full_name="Priya Raman")
    response = _change_password(client, PASSWORD, new_password)
    assert response.status_code == 422
    beside_field = re.search(r'id="new_password-error"[^>]*>([^<]*)<', response.text)
    assert beside_field and reason in beside_field.group(1)
    db_session.expire_all()
    assert sign_in.authenticate(db_session, username=user.username, password=PASSWORD, client_address=None) is user


def test_a_recent_password_cannot_come_back_through_the_form(client, signed_in):
    signed_in(RoleName.QA)
    assert _change_password(client, PASSWORD, "violet-ferry-lantern-4").status_code == 302
    response = _change_password(client, "violet-ferry-lantern-4", PASSWORD)
    assert response.status_code == 422
    assert "You have used this password recently: it must differ from your last 5 passwords." in response.text


def test_a_password_past_the_maximum_age_must_be_changed_at_sign_in(app, client, create_user, db_session):
    app.config["PASSWORD_MAX_AGE_DAYS"] = 60
    user = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    with clock.frozen(user.password_changed_at + timedelta(days=61)):
        assert login(client, user).status_code == 302
        page = client.get("/", follow_redirects=True)
        assert page.request.path == "/account/password"
        assert "Your password is more than 60 days old: choose a new one before you continue." in page.text
        assert _change_password(client, PASSWORD, "violet-ferry-lantern-4").status_code == 302
        assert client.get("/").status_code == 200


def test_a_password_within_the_maximum_age_opens_the_dashboard(app, client, create_user, db_session):
    app.config["PASSWORD_MAX_AGE_DAYS"] = 60
    user = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    with clock.frozen(user.password_changed_at + timedelta(days=59)):
        assert login(client, user).status_code == 302
        assert client.get("/").status_code == 200


def test_users_list_filters_and_paginates(client, create_user, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    for number in range(30):
        create_user(RoleName.QA, username=f"qa{number:02d}")
    db_session.commit()
    first = client.get("/admin/users?role=qa")
    assert "Page 1 of 2 (30 in all)" in first.text and "qa00" in first.text and "qa29" not in first.text
    second = client.get("/admin/users?role=qa&page=2")
    assert "qa29" in second.text
    assert re.findall(r'href="/admin/users/\d+">([^<]+)<', client.get("/admin/users?q=qa07").text) == ["qa07"]
    assert client.get("/admin/users?status=bogus").status_code == 422


def test_admin_changes_roles_on_the_user_page(client, create_user, db_session, signed_in):
    user = create_user(RoleName.TECHNICIAN)
    db_session.commit()
    signed_in(RoleName.ADMIN)
    response = submit(
        client,
        f"/admin/users/{user.id}",
        {
            "full_name": user.full_name,
            "email": user.email,
            "roles": ["technician", "qa"],
            "reason": "Trained for QA",
        },
    )
    assert response.status_code == 303
    db_session.expire_all()
    assert db_session.get(User, user.id).role_names == {RoleName.TECHNICIAN, RoleName.QA}


def test_admin_registers_a_client_organization_and_issues_a_token_shown_once(client, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    created = submit(client, "/admin/organizations/new", {"code": "helix", "name": "Helix Cell Therapeutics"})
    assert created.status_code == 303
    organization_id = int(created.headers["Location"].rsplit("/", 1)[1])
    issued = submit(client, "/admin/api-tokens", {"name": "manifest uploader", "organization_id": str(organization_id)})
    assert issued.status_code == 201
    secret = issued.text.split('<code class="secret">')[1].split("</code>")[0]
    assert secret.startswith("lims_")
    assert secret not in client.get("/admin/api-tokens").text
    token = db_session.scalar(select(ApiToken).where(ApiToken.organization_id == organization_id))
    assert token.organization.code == "HELIX"


def test_duplicate_organization_name_is_refused_next_to_the_field(client, create_organization, db_session, signed_in):
    create_organization(name="Nordic CAR Bio AB")
    db_session.commit()
    signed_in(RoleName.ADMIN)
    response = submit(client, "/admin/organizations/new", {"code": "NORD2", "name": "nordic car bio ab"})
    assert response.status_code == 409 and 'id="name-error"' in response.text


def test_client_user_issues_and_revokes_own_tokens_but_not_another_clients(
    app, client, create_user, create_organization, db_session, signed_in
):
    other_org = create_organization()
    other_user = create_user(RoleName.CLIENT, organization=other_org)
    others_token, _ = api_tokens.issue_api_token(db_session, organization=other_org, name="theirs", actor=other_user)
    db_session.commit()
    me = signed_in(RoleName.CLIENT)
    issued = submit(client, "/portal/api-tokens", {"name": "our LIMS bridge"})
    assert issued.status_code == 201
    page = client.get("/portal/api-tokens")
    assert "our LIMS bridge" in page.text and "theirs" not in page.text
    response = client.post(
        f"/portal/api-tokens/{others_token.id}/revoke", data={"csrf_token": csrf_token_from(page.text)}
    )
    assert response.status_code == 404
    assert f"{me.organization.name} has no API token with id {others_token.id}." in response.text
    db_session.expire_all()
    assert not db_session.get(ApiToken, others_token.id).is_revoked
    own = db_session.scalar(select(ApiToken).where(ApiToken.organization_id == me.organization_id))
    revoked = client.post(f"/portal/api-tokens/{own.id}/revoke", data={"csrf_token": csrf_token_from(page.text)})
    assert revoked.status_code == 303


def test_roles_page_counts_active_members(client, create_user, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    create_user(RoleName.QA)
    gone = create_user(RoleName.QA)
    users.deactivate_user(db_session, gone, reason="Left", actor=None)
    db_session.commit()
    page = client.get("/admin/roles").text
    assert 'href="/admin/users?role=qa&amp;status=active">1</a>' in page


def test_admin_token_form_requires_the_organization(client, signed_in):
    signed_in(RoleName.ADMIN)
    response = submit(client, "/admin/api-tokens", {"name": "uploader"})
    assert response.status_code == 422
    assert 'id="organization_id-error"' in response.text and "Choose the client organization" in response.text


def test_users_filter_form_as_a_browser_sends_it_with_empty_choices(client, signed_in):
    signed_in(RoleName.ADMIN)
    response = client.get("/admin/users?q=&role=&organization_id=&status=all")
    assert response.status_code == 200 and "Please correct" not in response.text


def test_the_user_page_with_all_its_forms_has_unique_element_ids(client, create_user, db_session, signed_in):
    user = create_user()
    db_session.commit()
    signed_in(RoleName.ADMIN)
    assert duplicate_ids(client.get(f"/admin/users/{user.id}").text) == []


def test_admin_pages_link_each_organization_account_and_token_to_its_history(
    client, create_organization, create_user, db_session, signed_in
):
    organization = create_organization()
    account = create_user(RoleName.CLIENT, organization=organization)
    token, _ = api_tokens.issue_api_token(
        db_session, organization=organization, name="manifest uploader", actor=account
    )
    db_session.commit()
    signed_in(RoleName.ADMIN)
    organization_page = client.get(f"/admin/organizations/{organization.id}").text
    assert history_link("organization", organization.id) in organization_page
    assert "History of this organization: who changed what, when and why" in organization_page
    assert history_link("user_account", account.id) in client.get(f"/admin/users/{account.id}").text
    tokens_page = client.get("/admin/api-tokens").text
    assert history_link("api_token", token.id) in tokens_page
    assert 'aria-label="History of token manifest uploader">History</a>' in tokens_page


def test_a_client_sees_its_tokens_without_links_to_the_audit_trail(client, db_session, signed_in):
    # The admin pages are for admins only, who may all read the trail; the portal is where a role without it looks.
    me = signed_in(RoleName.CLIENT)
    token, _ = api_tokens.issue_api_token(db_session, organization=me.organization, name="our LIMS bridge", actor=me)
    db_session.commit()
    page = client.get("/portal/api-tokens").text
    assert "our LIMS bridge" in page
    assert history_link("api_token", token.id) not in page and "/audit?" not in page
