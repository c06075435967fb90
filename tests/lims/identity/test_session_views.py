"""Sessions through the app: a copied cookie dies with its session, however the session ends; administrators see
and end a user's sessions; a wrong current password on the change-password page counts toward lockout."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from lims.identity.models import Organization, RoleName, User
from tests.helpers import PASSWORD, csrf_token_from, login, submit
from tests.lims.audit.helpers import events

COOKIE = "lims_session"
NEW_PASSWORD = "my-own-secret-pipette"


def copy_of_the_cookie(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser, holding a copy of ``client``'s session cookie."""
    thief = app.test_client()
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def organizations(db_session) -> int:
    db_session.expire_all()
    return db_session.scalar(select(func.count(Organization.id)))


def assert_the_copy_opens_nothing(thief: FlaskClient, csrf_token: str, db_session) -> None:
    page = thief.get("/")
    assert page.status_code == 302 and page.headers["Location"].startswith("/login")
    before = organizations(db_session)
    response = thief.post(
        "/admin/organizations/new", data={"csrf_token": csrf_token, "code": "EVIL", "name": "Evil Copy Co"}
    )
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    assert organizations(db_session) == before


def sign_out(client: FlaskClient, **_: object) -> None:
    assert submit(client, "/", {}, action="/logout").status_code == 302


def change_own_password(client: FlaskClient, **_: object) -> None:
    response = submit(
        client,
        "/account/password",
        {"current_password": PASSWORD, "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD},
    )
    assert response.status_code == 302
    assert client.get("/").status_code == 200, "the browser that changed the password goes on in a new session"


def deactivate(admin: FlaskClient, user: User, **_: object) -> None:
    response = submit(
        admin, f"/admin/users/{user.id}", {"reason": "Left the lab"}, f"/admin/users/{user.id}/deactivate"
    )
    assert response.status_code == 303


def reset_password(admin: FlaskClient, user: User, **_: object) -> None:
    response = submit(admin, f"/admin/users/{user.id}", {}, f"/admin/users/{user.id}/reset-password")
    assert response.status_code == 200


def end_sessions(admin: FlaskClient, user: User, **_: object) -> None:
    page = f"/admin/users/{user.id}/sessions"
    response = submit(admin, page, {"reason": "Tablet reported stolen"}, f"{page}/end")
    assert response.status_code == 303


def lock_out(stranger: FlaskClient, user: User, **_: object) -> None:
    for _attempt in range(5):
        response = login(stranger, user, password="wrong-wrong-wrong")
    assert response.status_code == 423


@pytest.mark.parametrize(
    ("end", "actor", "action", "cause"),
    [
        (sign_out, "user", "logout", "signed out"),
        (change_own_password, "user", "session.ended", "the password was changed"),
        (deactivate, "admin", "session.ended", "the account was deactivated"),
        (reset_password, "admin", "session.ended", "the password was reset"),
        (end_sessions, "admin", "session.ended", "ended by an administrator"),
        (lock_out, "stranger", "session.ended", "the account was locked"),
    ],
)
def test_a_copied_cookie_opens_nothing_once_its_session_ends(
    app, client, create_user, db_session, end: Callable[..., None], actor, action, cause
):
    user = create_user(RoleName.ADMIN)
    admin = create_user(RoleName.ADMIN)
    db_session.commit()
    login(client, user)
    thief = copy_of_the_cookie(app, client)
    csrf_token = csrf_token_from(thief.get("/admin/organizations/new").text)
    assert thief.get("/").status_code == 200, "before the end, the copy works like the original"
    others = {"user": client, "admin": app.test_client(), "stranger": app.test_client()}
    if actor == "admin":
        login(others["admin"], admin)
    end(others[actor], user=user)
    assert_the_copy_opens_nothing(thief, csrf_token, db_session)
    ended = [event for event in events(db_session, action=action) if event.entity_id == str(user.id)]
    assert [json.loads(event.changes)["cause"] for event in ended] == [cause]


def test_an_administrator_lists_a_users_sessions_and_ends_them_with_a_reason(app, client, create_user, db_session):
    user = create_user(RoleName.TECHNICIAN)
    admin = create_user(RoleName.ADMIN)
    db_session.commit()
    tablet = app.test_client()
    tablet.environ_base.update(REMOTE_ADDR="10.20.30.40", HTTP_USER_AGENT="<script>alert(1)</script> Tablet")
    login(tablet, user)
    login(client, admin)
    assert f'href="/admin/users/{user.id}/sessions"' in client.get(f"/admin/users/{user.id}").text
    sessions_page = f"/admin/users/{user.id}/sessions"
    page = client.get(sessions_page).text
    assert "10.20.30.40" in page and "&lt;script&gt;alert(1)&lt;/script&gt; Tablet" in page
    assert "<script>alert(1)" not in page

    refused = submit(client, sessions_page, {"reason": " "}, f"{sessions_page}/end")
    assert refused.status_code == 422 and "Give the reason." in refused.text
    assert tablet.get("/").status_code == 200, "a refused end leaves the session open"

    ended = submit(client, sessions_page, {"reason": "Tablet lost"}, f"{sessions_page}/end")
    assert ended.status_code == 303
    after = client.get(ended.headers["Location"]).text
    assert "1 session of" in after and "No session in use." in after
    assert tablet.get("/").headers["Location"].startswith("/login")
    (event,) = events(db_session, action="session.ended")
    assert (event.reason, event.user_id) == ("Tablet lost", admin.id)


def test_only_administrators_see_or_end_sessions(app, client, create_user, db_session, signed_in):
    user = create_user()
    db_session.commit()
    signed_in(RoleName.QA)
    assert client.get(f"/admin/users/{user.id}/sessions").status_code == 403
    token = csrf_token_from(client.get("/").text)
    response = client.post(f"/admin/users/{user.id}/sessions/end", data={"csrf_token": token, "reason": "x"})
    assert response.status_code == 403


def test_wrong_current_passwords_count_and_the_fifth_locks_and_signs_out(app, client, signed_in, db_session):
    user = signed_in(RoleName.TECHNICIAN)
    other_tablet = app.test_client()
    login(other_tablet, user)
    wrong = {"current_password": "not-my-password", "new_password": NEW_PASSWORD, "confirm_password": NEW_PASSWORD}
    for _attempt in range(4):
        response = submit(client, "/account/password", wrong)
        assert response.status_code == 422 and "The current password is wrong." in response.text
    assert len(events(db_session, action="login.wrong_password")) == 4
    locked = submit(client, "/account/password", wrong)
    assert locked.status_code == 302 and locked.headers["Location"] == "/login"
    assert "locked after 5 failed" in client.get("/login").text
    for browser in (client, other_tablet):
        assert browser.get("/").headers["Location"].startswith("/login")
    assert login(client, user).status_code == 423
