"""The inbox page, its header badge, marking read, and the e-mail setting: each user sees only their own."""

from __future__ import annotations

import re

from sqlalchemy import select

from lims.audit.models import AuditEvent
from lims.identity.models import RoleName
from lims.notifications import service
from lims.notifications.models import NotificationPreference
from tests.helpers import counted_statements, csrf_token_from, submit
from tests.lims.notifications.conftest import QA, messages_of

BADGE = re.compile(r'class="badge badge-count">([^<]+)<')


def badge(html: str) -> str | None:
    found = BADGE.search(html)
    return found.group(1) if found else None


def test_the_header_counts_the_unread_messages(client, signed_in, send, db_session):
    officer = signed_in(QA)
    assert badge(client.get("/dashboard").text) is None
    send("finding:1:opened", users=[officer.id])
    send("finding:2:opened", users=[officer.id])
    db_session.commit()
    assert badge(client.get("/dashboard").text) == "2"


def test_the_badge_stops_counting_at_99_plus(client, signed_in, send, db_session):
    officer = signed_in(QA)
    for number in range(service.BADGE_LIMIT + 5):
        send(f"finding:{number}:opened", users=[officer.id])
    db_session.commit()
    assert badge(client.get("/dashboard").text) == "99+"


def test_the_badge_is_one_statement_whatever_the_number_of_messages(client, signed_in, send, db_session, connection):
    officer = signed_in(QA)
    send("finding:0:opened", users=[officer.id])
    db_session.commit()
    client.get("/inbox/settings")
    with counted_statements(connection) as few:
        client.get("/inbox/settings")
    for number in range(1, 60):
        send(f"finding:{number}:opened", users=[officer.id])
    db_session.commit()
    with counted_statements(connection) as many:
        page = client.get("/inbox/settings")
    assert badge(page.text) == "60"
    assert len(many.statements) == len(few.statements)
    assert sum("notification" in statement for statement in many.statements) == 2  # the badge and the setting


def test_the_inbox_lists_ones_own_messages_newest_first_with_links(client, signed_in, send, create_user, db_session):
    officer = signed_in(QA)
    other = create_user(QA)
    send("finding:1:opened", users=[officer.id], subject="Calibration overdue: CF-004")
    send("finding:2:opened", users=[officer.id], subject="Lot expired: IL2-001", link="/materials/lots/3")
    send("finding:3:opened", users=[other.id], subject="Someone else's: BSC-002")
    db_session.commit()

    page = client.get("/inbox").text
    assert page.index("Lot expired: IL2-001") < page.index("Calibration overdue: CF-004")
    assert '<a href="/materials/lots/3">Open the record</a>' in page
    assert "Someone else" not in page


def test_the_inbox_pages_by_keyset(client, signed_in, send, db_session):
    officer = signed_in(QA)
    for number in range(30):
        send(f"finding:{number}:opened", users=[officer.id], subject=f"Finding number {number:02d}")
    db_session.commit()
    first = client.get("/inbox").text
    older = re.search(r'rel="next" href="([^"]+)"', first).group(1).replace("&amp;", "&")
    second = client.get(older).text
    assert "Finding number 29" in first and "Finding number 05" in first and "Finding number 04" not in first
    assert "Finding number 04" in second and "Finding number 00" in second and "Finding number 05" not in second
    assert 'rel="next"' not in second


def test_a_forged_cursor_is_refused_in_words(client, signed_in):
    signed_in(QA)
    response = client.get("/inbox?cursor=not-a-cursor")
    assert response.status_code == 422
    assert "not one this list gave out" in response.text


def test_mark_read_and_the_badge_goes_down(client, signed_in, send, db_session):
    officer = signed_in(QA)
    send("finding:1:opened", users=[officer.id])
    send("finding:2:opened", users=[officer.id])
    db_session.commit()
    first, second = messages_of(db_session, officer)

    response = submit(client, "/inbox", {}, action=f"/inbox/{first.id}/read")
    assert response.status_code == 302
    db_session.expire_all()
    assert first.read_at is not None and second.read_at is None
    assert badge(client.get("/inbox?unread=1").text) == "1"


def test_nobody_marks_or_sees_another_users_message_by_guessing_its_id(
    client, signed_in, send, create_user, db_session
):
    signed_in(QA)
    other = create_user(QA)
    send(users=[other.id])
    db_session.commit()
    [theirs] = messages_of(db_session, other)

    for guessed in (theirs.id, theirs.id + 1000, 2**31 - 1, 2**31):
        response = submit(client, "/inbox", {}, action=f"/inbox/{guessed}/read")
        assert response.status_code == 404
    db_session.expire_all()
    assert theirs.read_at is None


def test_mark_all_read_leaves_a_message_that_arrived_since_the_page_was_shown(client, signed_in, send, db_session):
    officer = signed_in(QA)
    send("finding:1:opened", users=[officer.id])
    send("finding:2:opened", users=[officer.id])
    db_session.commit()
    page = client.get("/inbox").text
    send("finding:3:opened", users=[officer.id], subject="Arrived meanwhile")
    db_session.commit()
    up_to = re.search(r'name="up_to" value="(\d+)"', page).group(1)

    response = client.post("/inbox/read-all", data={"csrf_token": csrf_token_from(page), "up_to": up_to})
    assert response.status_code == 302
    db_session.expire_all()
    assert [message.read_at is None for message in messages_of(db_session, officer)] == [False, False, True]


def test_marking_read_without_the_forms_token_is_refused(client, signed_in, send, db_session):
    officer = signed_in(QA)
    send(users=[officer.id])
    db_session.commit()
    [message] = messages_of(db_session, officer)
    assert client.post(f"/inbox/{message.id}/read").status_code == 400
    assert client.post("/inbox/read-all").status_code == 400
    db_session.expire_all()
    assert message.read_at is None


def test_a_client_user_has_an_inbox_of_their_own(client, signed_in, send, db_session):
    client_user = signed_in(RoleName.CLIENT)
    send("finding:1:opened", roles=list(RoleName), subject="For the lab only")
    send("submission:1:received", users=[client_user.id], subject="Your samples arrived", link="/portal")
    db_session.commit()
    page = client.get("/inbox").text
    assert "Your samples arrived" in page and "For the lab only" not in page
    assert badge(page) == "1"


def test_anonymous_visitors_go_to_sign_in(client):
    response = client.get("/inbox")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_turning_email_off_is_audited(client, signed_in, db_session):
    officer = signed_in(QA)
    assert submit(client, "/inbox/settings", {"email_enabled": "off"}).status_code == 302
    assert submit(client, "/inbox/settings", {"email_enabled": "on"}).status_code == 302
    assert submit(client, "/inbox/settings", {"email_enabled": "off"}).status_code == 302

    assert db_session.get(NotificationPreference, officer.id).email_enabled is False
    events = db_session.scalars(
        select(AuditEvent).where(AuditEvent.entity_type == "notification_preference").order_by(AuditEvent.sequence)
    ).all()
    assert [event.action for event in events] == ["create", "update", "update"]
    assert "turned e-mail of notifications off" in events[-1].reason
    assert "E-mail of your messages is off." in client.get("/inbox/settings").text


def test_an_email_choice_must_be_on_or_off(client, signed_in, db_session):
    officer = signed_in(QA)
    response = submit(client, "/inbox/settings", {"email_enabled": "perhaps"})
    assert response.status_code == 422
    assert db_session.get(NotificationPreference, officer.id) is None
