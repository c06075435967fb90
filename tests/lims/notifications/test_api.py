"""The notifications API: one's own messages from one's browser session, marked read with the CSRF token."""

from __future__ import annotations

from lims.identity.models import RoleName
from lims.identity.service import api_tokens
from tests.helpers import csrf_token_from
from tests.lims.notifications.conftest import QA, messages_of


def csrf_header(client) -> dict[str, str]:
    return {"X-CSRFToken": csrf_token_from(client.get("/inbox").text)}


def test_lists_ones_own_messages_newest_first_by_pages(client, signed_in, send, create_user, db_session):
    officer = signed_in(QA)
    other = create_user(QA)
    for number in range(3):
        send(f"finding:{number}:opened", users=[officer.id], subject=f"Finding {number}")
    send("finding:9:opened", users=[other.id], subject="Not yours")
    db_session.commit()

    first = client.get("/api/v1/notifications?limit=2").json
    second = client.get(f"/api/v1/notifications?limit=2&cursor={first['next_cursor']}").json
    assert [item["subject"] for item in first["items"] + second["items"]] == ["Finding 2", "Finding 1", "Finding 0"]
    assert second["next_cursor"] is None
    assert first["items"][0]["link"] == "/equipment/17" and first["items"][0]["read_at"] is None


def test_mark_read_then_list_only_the_unread(client, signed_in, send, db_session):
    officer = signed_in(QA)
    send("finding:1:opened", users=[officer.id])
    send("finding:2:opened", users=[officer.id])
    db_session.commit()
    first, second = messages_of(db_session, officer)

    response = client.post(f"/api/v1/notifications/{first.id}/read", headers=csrf_header(client))
    assert response.status_code == 200 and response.json["read_at"] is not None
    unread = client.get("/api/v1/notifications?unread=true").json["items"]
    assert [item["id"] for item in unread] == [second.id]


def test_another_users_message_answers_as_none(client, signed_in, send, create_user, db_session):
    signed_in(QA)
    other = create_user(QA)
    send(users=[other.id])
    db_session.commit()
    [theirs] = messages_of(db_session, other)

    for guessed in (theirs.id, theirs.id + 1, 2**31 - 1):
        response = client.post(f"/api/v1/notifications/{guessed}/read", headers=csrf_header(client))
        assert response.status_code == 404, guessed
        assert response.json["message"] == "You have no message with this number."
    assert client.get("/api/v1/notifications").json["items"] == []
    db_session.expire_all()
    assert theirs.read_at is None


def test_marking_read_needs_the_csrf_token(client, signed_in, send, db_session):
    officer = signed_in(QA)
    send(users=[officer.id])
    db_session.commit()
    [message] = messages_of(db_session, officer)
    response = client.post(f"/api/v1/notifications/{message.id}/read")
    assert response.status_code == 400
    db_session.expire_all()
    assert message.read_at is None


def test_a_client_user_reads_their_own_from_their_session(client, signed_in, send, db_session):
    client_user = signed_in(RoleName.CLIENT)
    send("finding:1:opened", roles=list(RoleName))
    send("submission:1:received", users=[client_user.id], link="/portal", subject="Your samples arrived")
    db_session.commit()
    assert [item["subject"] for item in client.get("/api/v1/notifications").json["items"]] == ["Your samples arrived"]


def test_an_api_token_has_no_inbox(client, db_session, create_user, create_organization):
    client_user = create_user(RoleName.CLIENT)
    _, token = api_tokens.issue_api_token(
        db_session, organization=client_user.organization, name="lims", actor=create_user(RoleName.ADMIN)
    )
    db_session.commit()
    response = client.get("/api/v1/notifications", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert "signed-in person" in response.json["message"]


def test_the_description_names_the_session_scheme(client):
    description = client.get("/api/v1/openapi.json").json
    assert description["paths"]["/api/v1/notifications"]["get"]["security"] == [{"userSession": []}]
    assert description["components"]["securitySchemes"]["userSession"]["in"] == "cookie"
