"""notify(): one message per key per recipient, role recipients resolved when it is sent, clients by name only."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import schema
from lims.audit.context import reason_for_change
from lims.db import create_engine_for
from lims.identity.models import OrganizationKind, RoleName
from lims.identity.service import organizations, users
from lims.notifications import service
from lims.notifications.models import EmailStatus, Notification, OutgoingEmail
from tests.helpers import PASSWORD, counted_statements
from tests.lims.notifications.conftest import QA, messages_of


def test_the_same_key_reaches_each_recipient_once(db_session, send, create_user):
    officer = create_user(QA)
    send(roles=[QA])
    send(roles=[QA])
    send(users=[officer.id], roles=[QA])

    assert [message.key for message in messages_of(db_session, officer)] == ["finding:1:opened"]


def test_a_new_key_is_a_new_message(db_session, send, create_user):
    officer = create_user(QA)
    send("finding:1:opened", roles=[QA])
    send("finding:1:critical", roles=[QA], subject="Escalated: centrifuge CF-004")

    assert [message.subject for message in messages_of(db_session, officer)] == [
        "Calibration overdue: centrifuge CF-004",
        "Escalated: centrifuge CF-004",
    ]


def test_role_recipients_are_the_active_staff_holding_the_role_when_it_is_sent(db_session, send, create_user):
    officer, technician = create_user(QA), create_user(RoleName.TECHNICIAN)
    gone = create_user(QA)
    users.deactivate_user(db_session, gone, actor=None, reason="Left the company")
    send(roles=[QA])
    later = create_user(QA)

    assert len(messages_of(db_session, officer)) == 1
    assert messages_of(db_session, technician) == messages_of(db_session, gone) == messages_of(db_session, later) == []


def test_roles_are_resolved_in_one_query(db_session, send, create_user):
    for _ in range(6):
        create_user(QA)
    db_session.flush()
    with counted_statements(db_session.connection()) as traffic:
        send(roles=[QA, RoleName.MANAGER])
    selects = [statement for statement in traffic.statements if statement.lstrip().upper().startswith("SELECT")]
    assert len(selects) == 1, selects


def test_client_users_get_only_what_is_addressed_to_them(db_session, send, create_user):
    client_user = create_user(RoleName.CLIENT)
    send("finding:1:opened", roles=list(RoleName))
    assert messages_of(db_session, client_user) == []

    send("submission:9:received", users=[client_user.id], link="/portal")
    assert [message.key for message in messages_of(db_session, client_user)] == ["submission:9:received"]


def test_a_deactivated_user_named_by_id_gets_nothing(db_session, send, create_user):
    gone = create_user(QA)
    users.deactivate_user(db_session, gone, actor=None, reason="Left the company")
    send(users=[gone.id])
    assert messages_of(db_session, gone) == []


def test_hostile_text_is_kept_as_text(db_session, send, create_user):
    officer = create_user(QA)
    send(users=[officer.id], subject="Lot\x00 IL2\nexpired " + "x" * 500, body="line one\nline\x07 two\x00")
    [message] = messages_of(db_session, officer)
    assert message.subject.startswith("Lot IL2 expired xxx") and len(message.subject) == 200
    assert message.subject.endswith("…")
    assert message.body == "line one\nline two"


@pytest.mark.parametrize("link", ["https://evil.example/x", "//evil.example/x", "/a b", "javascript:alert(1)", ""])
def test_a_link_off_this_site_is_refused(send, create_user, link):
    officer = create_user(QA)
    with pytest.raises(ValueError, match="links to a page of this site"):
        send(users=[officer.id], link=link)


def test_a_key_beyond_its_column_is_refused(send, create_user):
    officer = create_user(QA)
    with pytest.raises(ValueError, match="key has 1 to 200 characters"):
        send("k" * 201, users=[officer.id])


def test_email_queued_only_where_the_site_sends_it(db_session, send, create_user):
    officer = create_user(QA)
    send(users=[officer.id])
    assert db_session.scalar(select(func.count()).select_from(OutgoingEmail)) == 0


def test_an_email_per_new_message_to_those_with_an_address_who_want_it(emailing, send, create_user):
    with_address, without_address, declined = create_user(QA), create_user(QA), create_user(QA)
    with reason_for_change(emailing, "The address bounced"):
        without_address.email = ""
    service.set_email_enabled(emailing, declined, False)
    emailing.flush()
    send(roles=[QA])
    send(roles=[QA])

    queued = emailing.execute(select(OutgoingEmail.address, OutgoingEmail.status)).all()
    assert queued == [(with_address.email, EmailStatus.PENDING)]
    assert len(messages_of(emailing, without_address)) == len(messages_of(emailing, declined)) == 1


def test_concurrent_senders_of_one_key_leave_one_message(fresh_database_url):
    """Two transactions send the same key at once: both commit, and each recipient has one message."""
    engine = create_engine_for(fresh_database_url)
    with engine.begin() as connection:
        schema.upgrade(connection)
    with Session(engine) as session:
        facility = organizations.create_organization(
            session, code="NBCT", name="Northbridge", kind=OrganizationKind.FACILITY
        )
        officer = users.create_user(
            session,
            username="q.officer",
            full_name="Quinn Officer",
            email="q@example.org",
            organization=facility,
            roles={QA},
            password=PASSWORD,
            must_change_password=False,
            actor=None,
            reason="Test user",
        )
        session.commit()
        officer_id = officer.id
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def sender() -> None:
        try:
            with Session(engine) as session:
                start.wait()
                service.notify(session, key="finding:7:opened", subject="Open", body="Open", link=None, roles=[QA])
                session.commit()
        except BaseException as error:  # noqa: BLE001 - reported below
            failures.append(error)

    threads = [threading.Thread(target=sender) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert failures == []
        with Session(engine) as session:
            assert session.scalar(select(func.count()).where(Notification.user_id == officer_id)) == 1
    finally:
        engine.dispose()
