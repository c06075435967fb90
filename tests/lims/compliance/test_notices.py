"""QA hears of a finding once when it opens, once when it escalates and once each time it reopens; a run that only
finds it again sends nothing, and a run opening a backlog sends the gravest ones and a count of the rest."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from lims.compliance import notices, runner
from lims.compliance.models import Finding
from lims.compliance.service.settings import CheckInForce
from lims.identity.models import RoleName
from lims.notifications.models import Notification
from tests.lims.compliance.conftest import condition


def _inbox(db_session, user):
    db_session.expire_all()
    return [
        (message.subject, message.link)
        for message in db_session.scalars(
            select(Notification).where(Notification.user_id == user.id).order_by(Notification.id)
        )
    ]


def test_qa_hears_once_of_an_opened_escalated_and_reopened_finding(db_session, create_user, made_up_check):
    qa, technician = create_user(RoleName.QA), create_user(RoleName.TECHNICIAN)
    check, current = made_up_check(severity="minor")
    in_force = CheckInForce(check, True, {})
    current.append(condition("4"))
    runner.run_check(db_session, in_force)
    runner.run_check(db_session, in_force)
    [finding] = db_session.scalars(select(Finding)).all()
    assert _inbox(db_session, qa) == [("Minor finding opened: centrifuge CF-4", f"/compliance/findings/{finding.id}")]
    current[0] = condition("4", "calibration 40 days overdue", severity="major")
    runner.run_check(db_session, in_force)
    current.clear()
    runner.run_check(db_session, in_force)
    current.append(condition("4"))
    runner.run_check(db_session, in_force)
    runner.run_check(db_session, in_force)
    assert [subject for subject, _link in _inbox(db_session, qa)] == [
        "Minor finding opened: centrifuge CF-4",
        "Major finding escalated: centrifuge CF-4",
        "Minor finding reopened: centrifuge CF-4",
    ]
    assert _inbox(db_session, technician) == []


@pytest.mark.parametrize("ids_per_query", [notices.IDS_PER_QUERY, 2])
def test_a_run_opening_a_backlog_sends_the_gravest_and_a_count_of_the_others(
    db_session, create_user, made_up_check, monkeypatch, ids_per_query
):
    # Read in parts of 2, the gravest of the backlog is in a later part than the first three findings.
    monkeypatch.setattr(notices, "MESSAGES_PER_RUN", 3)
    monkeypatch.setattr(notices, "IDS_PER_QUERY", ids_per_query)
    qa = create_user(RoleName.QA)
    check, current = made_up_check()
    current.extend(condition(str(number), severity="critical" if number == 5 else None) for number in range(1, 8))
    runner.run_check(db_session, CheckInForce(check, True, {}))
    subjects = [subject for subject, _link in _inbox(db_session, qa)]
    assert subjects[:3] == [
        "Critical finding opened: centrifuge CF-5",
        "Major finding opened: centrifuge CF-1",
        "Major finding opened: centrifuge CF-2",
    ]
    assert len(subjects) == 4 and subjects[-1] == "4 more findings of “A made-up check”"
