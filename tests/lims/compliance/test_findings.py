"""One open condition is one finding: kept up to date by each run, never duplicated, resolved when the condition
clears, reopened when it comes back; QA acknowledges and closes findings with a comment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit.models import AuditEvent
from lims.compliance import runner
from lims.compliance.models import CheckRun, Finding, FindingStatus, RunOutcome, Severity
from lims.compliance.service import findings
from lims.compliance.service.settings import CheckInForce
from lims.errors import AlreadySettled
from lims.identity.models import RoleName, User
from lims.registry import ComplianceCheck, Condition
from tests.lims.compliance.conftest import condition

START = datetime(2026, 12, 1, 8, tzinfo=UTC)


@dataclass
class Watched:
    """A made-up check, the conditions it finds (the test changes them), and a QA officer who settles findings."""

    session: Session
    check: ComplianceCheck
    current: list[Condition]
    qa: User

    def run(self) -> CheckRun:
        return runner.run_check(self.session, CheckInForce(self.check, True, {}))

    def findings(self) -> list[Finding]:
        self.session.expire_all()
        return list(
            self.session.scalars(select(Finding).where(Finding.check_id == self.check.check_id).order_by(Finding.id))
        )

    def only_finding(self) -> Finding:
        [finding] = self.findings()
        return finding

    def acknowledge(self, finding: Finding, comment: str) -> None:
        findings.acknowledge(self.session, finding, user=self.qa, comment=comment, now=clock.now())

    def close(self, finding: Finding, comment: str) -> None:
        findings.close(self.session, finding, user=self.qa, comment=comment, now=clock.now())


@pytest.fixture
def watched(app, db_session, made_up_check, create_user) -> Watched:
    check, current = made_up_check()
    return Watched(db_session, check, current, create_user(RoleName.QA))


@pytest.fixture
def found(watched) -> Finding:
    """The one finding a run opened for the condition of record 4."""
    watched.current.append(condition("4"))
    watched.run()
    return watched.only_finding()


def test_a_condition_found_again_keeps_its_one_finding_up_to_date(watched):
    clock.freeze(START)
    watched.current.append(condition("4", "calibration 1 day overdue"))
    first = watched.run()
    clock.advance(timedelta(days=1))
    watched.current[0] = condition("4", "calibration 2 days overdue")
    second = watched.run()
    finding = watched.only_finding()
    assert (finding.status, finding.detail, finding.record_label) == (
        FindingStatus.OPEN,
        "calibration 2 days overdue",
        "centrifuge CF-4",
    )
    assert (finding.opened_at, finding.last_seen_at) == (START, START + timedelta(days=1))
    assert (first.findings_opened, second.findings_opened, second.findings_open) == (1, 0, 1)


def test_a_check_returning_the_same_record_twice_opens_one_finding(watched):
    watched.current.extend([condition("4"), condition("4", "calibration 2 days overdue")])
    assert watched.run().findings_opened == 1
    assert len(watched.findings()) == 1


def test_a_finding_resolves_itself_when_its_condition_clears_and_reopens_when_it_returns(watched):
    clock.freeze(START)
    watched.current.extend([condition("4"), condition("5")])
    watched.run()
    watched.current.pop()
    clock.advance(timedelta(hours=1))
    cleared = watched.run()
    assert (cleared.findings_resolved, cleared.findings_open) == (1, 1)
    assert [finding.status for finding in watched.findings()] == [FindingStatus.OPEN, FindingStatus.RESOLVED]
    watched.current.append(condition("5", "calibration 3 days overdue"))
    clock.advance(timedelta(hours=1))
    back = watched.run()
    _four, five = watched.findings()
    assert (five.status, five.times_reopened, five.reopened_at, five.resolved_at) == (
        FindingStatus.OPEN,
        1,
        START + timedelta(hours=2),
        None,
    )
    assert (back.findings_opened, back.findings_open) == (1, 2)


def test_a_closed_finding_whose_condition_persists_reopens_at_the_next_run(watched, found, db_session):
    watched.close(found, "Recalibrated today")
    db_session.commit()
    watched.run()
    finding = watched.only_finding()
    assert (finding.status, finding.times_reopened, finding.closing_comment) == (
        FindingStatus.OPEN,
        1,
        "Recalibrated today",
    )


def test_a_closed_finding_whose_condition_cleared_stays_closed(watched, found, db_session):
    watched.close(found, "Recalibrated today")
    db_session.commit()
    watched.current.clear()
    assert watched.run().findings_resolved == 0
    assert watched.findings()[0].status == FindingStatus.CLOSED


def test_an_acknowledged_finding_stays_acknowledged_while_its_condition_holds(watched, found, db_session):
    watched.acknowledge(found, "Vendor booked for Monday")
    db_session.commit()
    watched.run()
    assert watched.findings()[0].status == FindingStatus.ACKNOWLEDGED
    watched.current.clear()
    watched.run()
    assert watched.findings()[0].status == FindingStatus.RESOLVED


def test_acknowledging_and_closing_are_audited_with_the_comment(watched, found, db_session):
    watched.acknowledge(found, "Vendor booked for Monday")
    watched.close(found, "Recalibrated, certificate filed")
    db_session.flush()
    events = db_session.scalars(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "compliance_finding", AuditEvent.entity_id == str(found.id))
        .order_by(AuditEvent.sequence)
    ).all()
    assert [(event.action, event.reason) for event in events] == [
        ("compliance.finding_acknowledged", "Vendor booked for Monday"),
        ("compliance.finding_closed", "Recalibrated, certificate filed"),
    ]


def test_a_settled_finding_is_refused_further_acknowledgement_or_closing(watched, found):
    watched.acknowledge(found, "Seen")
    with pytest.raises(AlreadySettled, match="acknowledged already"):
        watched.acknowledge(found, "Seen again")
    watched.close(found, "Done")
    with pytest.raises(AlreadySettled, match="closed already"):
        watched.close(found, "Done again")


def test_a_graver_condition_escalates_the_finding(app, db_session, made_up_check, create_user):
    check, current = made_up_check(severity="minor")
    minor = Watched(db_session, check, current, create_user(RoleName.QA))
    current.append(condition("4"))
    minor.run()
    current[0] = condition("4", "calibration 40 days overdue", severity="critical")
    changes = findings.keep_findings(db_session, check, current, now=clock.now())
    finding = minor.only_finding()
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
    assert len(db_session.scalars(select(Finding).where(Finding.check_id == working.check_id)).all()) == 1
