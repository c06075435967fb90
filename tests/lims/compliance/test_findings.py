"""One open condition is one finding: kept up to date by each run, never duplicated, resolved when the condition
clears, reopened when it comes back; QA acknowledges and closes findings with a comment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from lims import clock
from lims.audit.models import AuditEvent
from lims.compliance import runner
from lims.compliance.models import CheckRun, Finding, FindingStatus, RunOutcome, Severity
from lims.compliance.service import findings
from lims.compliance.service.settings import CheckInForce
from lims.errors import AlreadySettled
from lims.identity.models import RoleName
from tests.lims.compliance.conftest import condition

START = datetime(2026, 12, 1, 8, tzinfo=UTC)


def run(db_session, check):
    return runner.run_check(db_session, CheckInForce(check, True, {}))


def findings_of(db_session, check):
    db_session.expire_all()
    return list(db_session.scalars(select(Finding).where(Finding.check_id == check.check_id).order_by(Finding.id)))


def test_a_condition_found_again_keeps_its_one_finding_up_to_date(app, db_session, made_up_check):
    check, current = made_up_check()
    clock.freeze(START)
    current.append(condition("4", "calibration 1 day overdue"))
    first = run(db_session, check)
    clock.advance(timedelta(days=1))
    current[0] = condition("4", "calibration 2 days overdue")
    second = run(db_session, check)
    [finding] = findings_of(db_session, check)
    assert (finding.status, finding.detail, finding.record_label) == (
        FindingStatus.OPEN,
        "calibration 2 days overdue",
        "centrifuge CF-4",
    )
    assert (finding.opened_at, finding.last_seen_at) == (START, START + timedelta(days=1))
    assert (first.findings_opened, second.findings_opened, second.findings_open) == (1, 0, 1)


def test_a_check_returning_the_same_record_twice_opens_one_finding(app, db_session, made_up_check):
    check, current = made_up_check()
    current.extend([condition("4"), condition("4", "calibration 2 days overdue")])
    assert run(db_session, check).findings_opened == 1
    assert len(findings_of(db_session, check)) == 1


def test_a_finding_resolves_itself_when_its_condition_clears_and_reopens_when_it_returns(
    app, db_session, made_up_check
):
    check, current = made_up_check()
    clock.freeze(START)
    current.extend([condition("4"), condition("5")])
    run(db_session, check)
    current.pop()
    clock.advance(timedelta(hours=1))
    cleared = run(db_session, check)
    assert (cleared.findings_resolved, cleared.findings_open) == (1, 1)
    assert [finding.status for finding in findings_of(db_session, check)] == [
        FindingStatus.OPEN,
        FindingStatus.RESOLVED,
    ]
    current.append(condition("5", "calibration 3 days overdue"))
    clock.advance(timedelta(hours=1))
    back = run(db_session, check)
    _four, five = findings_of(db_session, check)
    assert (five.status, five.times_reopened, five.reopened_at, five.resolved_at) == (
        FindingStatus.OPEN,
        1,
        START + timedelta(hours=2),
        None,
    )
    assert (back.findings_opened, back.findings_open) == (1, 2)


def test_a_closed_finding_whose_condition_persists_reopens_at_the_next_run(app, db_session, made_up_check, create_user):
    check, current = made_up_check()
    qa = create_user(RoleName.QA)
    current.append(condition("4"))
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    findings.close(db_session, finding, user=qa, comment="Recalibrated today", now=clock.now())
    db_session.commit()
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    assert (finding.status, finding.times_reopened, finding.closing_comment) == (
        FindingStatus.OPEN,
        1,
        "Recalibrated today",
    )


def test_a_closed_finding_whose_condition_cleared_stays_closed(app, db_session, made_up_check, create_user):
    check, current = made_up_check()
    qa = create_user(RoleName.QA)
    current.append(condition("4"))
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    findings.close(db_session, finding, user=qa, comment="Recalibrated today", now=clock.now())
    db_session.commit()
    current.clear()
    assert run(db_session, check).findings_resolved == 0
    assert findings_of(db_session, check)[0].status == FindingStatus.CLOSED


def test_an_acknowledged_finding_stays_acknowledged_while_its_condition_holds(
    app, db_session, made_up_check, create_user
):
    check, current = made_up_check()
    qa = create_user(RoleName.QA)
    current.append(condition("4"))
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    findings.acknowledge(db_session, finding, user=qa, comment="Vendor booked for Monday", now=clock.now())
    db_session.commit()
    run(db_session, check)
    assert findings_of(db_session, check)[0].status == FindingStatus.ACKNOWLEDGED
    current.clear()
    run(db_session, check)
    assert findings_of(db_session, check)[0].status == FindingStatus.RESOLVED


def test_acknowledging_and_closing_are_audited_with_the_comment(app, db_session, made_up_check, create_user):
    check, current = made_up_check()
    qa = create_user(RoleName.QA)
    current.append(condition("4"))
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    findings.acknowledge(db_session, finding, user=qa, comment="Vendor booked for Monday", now=clock.now())
    findings.close(db_session, finding, user=qa, comment="Recalibrated, certificate filed", now=clock.now())
    db_session.flush()
    events = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "compliance_finding", AuditEvent.entity_id == str(finding.id))
        .order_by(AuditEvent.sequence)
    ).all()
    assert [(event.action, event.reason) for event in events] == [
        ("compliance.finding_acknowledged", "Vendor booked for Monday"),
        ("compliance.finding_closed", "Recalibrated, certificate filed"),
    ]


def test_a_settled_finding_is_refused_further_acknowledgement_or_closing(app, db_session, made_up_check, create_user):
    check, current = made_up_check()
    qa = create_user(RoleName.QA)
    current.append(condition("4"))
    run(db_session, check)
    [finding] = findings_of(db_session, check)
    findings.acknowledge(db_session, finding, user=qa, comment="Seen", now=clock.now())
    with pytest.raises(AlreadySettled, match="acknowledged already"):
        findings.acknowledge(db_session, finding, user=qa, comment="Seen again", now=clock.now())
    findings.close(db_session, finding, user=qa, comment="Done", now=clock.now())
    with pytest.raises(AlreadySettled, match="closed already"):
        findings.close(db_session, finding, user=qa, comment="Done again", now=clock.now())


def test_a_graver_condition_escalates_the_finding(app, db_session, made_up_check):
    check, current = made_up_check(severity="minor")
    current.append(condition("4"))
    run(db_session, check)
    current[0] = condition("4", "calibration 40 days overdue", severity="critical")
    changes = findings.keep_findings(db_session, check, current, now=clock.now())
    [finding] = findings_of(db_session, check)
    assert changes.escalated == [(finding.id, Severity.CRITICAL)]
    assert (finding.severity, finding.severity_rank) == (Severity.CRITICAL, 3)


def test_a_raising_check_is_recorded_with_its_error_and_the_others_still_run(
    app, db_session, made_up_check, only_checks
):
    def broken(_session, _now, _parameters):
        raise ZeroDivisionError("division by zero in the made-up check")

    failing, _ = made_up_check("test.failing")
    failing = type(failing)(**{**failing.__dict__, "run": broken})
    working, current = made_up_check("test.working")
    current.append(condition("4"))
    only_checks(failing, working)
    runs = runner.run_checks(db_session)
    assert [(item.check_id, item.outcome) for item in runs] == [
        ("test.failing", RunOutcome.FAILED),
        ("test.working", RunOutcome.SUCCEEDED),
    ]
    assert "ZeroDivisionError: division by zero in the made-up check" in runs[0].error
    db_session.expire_all()
    assert db_session.scalar(select(func.count()).select_from(CheckRun)) == 2
    assert len(findings_of(db_session, working)) == 1
