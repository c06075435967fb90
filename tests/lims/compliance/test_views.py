"""The compliance dashboard (QA and managers): counts by severity and area, the trend, the findings gravest first
a page at a time with links to their records; QA acknowledges and closes findings with a comment; administrators
change a check's settings with a reason. Every form refuses the wrong role."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from lims import clock
from lims.audit.models import AuditEvent
from lims.compliance.models import CheckSetting, Finding, FindingStatus
from lims.compliance.service import findings
from lims.identity.models import RoleName
from lims.registry import Condition
from tests.helpers import counted_statements, csrf_token_from

NOW = datetime(2030, 4, 10, 8, tzinfo=UTC)


@pytest.fixture
def open_findings(db_session, made_up_check):
    """``count`` findings of a made-up check (every third critical), and a run a day for the last five days."""

    def make(count: int, *, check_id: str = "test.made-up"):
        check, _ = made_up_check(check_id)
        conditions = [
            Condition(
                "equipment",
                str(number),
                f"centrifuge CF-{number:03d}",
                f"calibration {number} days overdue",
                f"/equipment/{number}",
                "critical" if number % 3 == 0 else None,
            )
            for number in range(1, count + 1)
        ]
        for day in range(5, 0, -1):
            at = NOW - timedelta(days=day)
            changes = findings.keep_findings(db_session, check, conditions[: max(1, count - day)], now=at)
            findings.record_run(db_session, check.check_id, started_at=at, finished_at=at, changes=changes)
        changes = findings.keep_findings(db_session, check, conditions, now=NOW)
        findings.record_run(db_session, check.check_id, started_at=NOW, finished_at=NOW, changes=changes)
        db_session.commit()
        return list(db_session.scalars(select(Finding).where(Finding.check_id == check.check_id).order_by(Finding.id)))

    return make


def test_the_dashboard_counts_by_severity_and_area_draws_the_trend_and_links_to_the_records(
    client, signed_in, open_findings
):
    clock.freeze(NOW)
    open_findings(6)
    signed_in(RoleName.QA)
    page = client.get("/compliance")
    assert page.status_code == 200
    assert 'severity=critical">2</a>' in page.text and 'severity=major">4</a>' in page.text
    assert '<th scope="row">All areas</th><td>2</td><td>4</td><td>0</td><td>6</td>' in page.text
    assert '<polyline points="' in page.text and "2030-04-10: 6 open" in page.text
    assert '<a href="/equipment/3">centrifuge CF-003</a>' in page.text
    assert page.text.index("centrifuge CF-006") < page.text.index("centrifuge CF-005")


def test_the_dashboard_sends_as_many_statements_for_many_findings_as_for_few(
    app, client, db_session, signed_in, open_findings
):
    clock.freeze(NOW)
    signed_in(RoleName.MANAGER)
    open_findings(3)

    def statements() -> int:
        assert client.get("/compliance").status_code == 200
        with counted_statements(db_session.get_bind()) as traffic:
            assert client.get("/compliance").status_code == 200
        return len(traffic.statements)

    few = statements()
    open_findings(60, check_id="test.many")
    assert statements() == few


def test_the_findings_list_goes_on_after_the_last_finding_shown(client, signed_in, open_findings):
    clock.freeze(NOW)
    open_findings(30)
    signed_in(RoleName.QA)
    first = client.get("/compliance?severity=major")
    assert first.text.count('href="/compliance/findings/') == 20
    assert 'rel="next"' not in first.text
    everything = client.get("/compliance")
    assert everything.text.count('href="/compliance/findings/') == 25
    following = everything.text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(following)
    assert second.status_code == 200 and second.text.count('href="/compliance/findings/') == 5


def test_a_cursor_the_list_never_gave_out_is_refused(client, signed_in):
    signed_in(RoleName.QA)
    assert client.get("/compliance?cursor=bm9wZQ").status_code == 422
    assert client.get("/compliance?severity=catastrophic").status_code == 422


def _post(client, finding, action, comment):
    page = client.get(f"/compliance/findings/{finding.id}")
    return client.post(
        f"/compliance/findings/{finding.id}/{action}",
        data={"csrf_token": csrf_token_from(page.text), "comment": comment},
    )


def test_qa_acknowledges_then_closes_a_finding_with_a_comment(client, db_session, signed_in, open_findings):
    clock.freeze(NOW)
    finding = open_findings(1)[0]
    qa = signed_in(RoleName.QA)
    assert _post(client, finding, "acknowledge", "Vendor booked for Monday").status_code == 303
    assert _post(client, finding, "close", "Recalibrated, certificate filed").status_code == 303
    db_session.expire_all()
    closed = db_session.get(Finding, finding.id)
    assert (closed.status, closed.acknowledged_by_id, closed.closing_comment) == (
        FindingStatus.CLOSED,
        qa.id,
        "Recalibrated, certificate filed",
    )
    page = client.get(f"/compliance/findings/{finding.id}").text
    assert "Vendor booked for Monday" in page and 'action="/compliance/findings/' not in page


@pytest.mark.parametrize(
    ("comment", "message"),
    [("  ", "Say what was done"), ("x" * 2001, "Longer than maximum"), ("done\x00", "control characters")],
)
def test_a_comment_missing_too_long_or_hostile_is_refused_and_nothing_changes(
    client, db_session, signed_in, open_findings, comment, message
):
    finding = open_findings(1)[0]
    signed_in(RoleName.QA)
    refused = _post(client, finding, "close", comment)
    assert refused.status_code == 422 and message.lower() in refused.text.lower()
    db_session.expire_all()
    assert db_session.get(Finding, finding.id).status == FindingStatus.OPEN


def test_closing_a_closed_finding_again_is_refused(client, signed_in, open_findings):
    finding = open_findings(1)[0]
    signed_in(RoleName.QA)
    page = client.get(f"/compliance/findings/{finding.id}")
    token = csrf_token_from(page.text)
    assert (
        client.post(
            f"/compliance/findings/{finding.id}/close", data={"csrf_token": token, "comment": "Done"}
        ).status_code
        == 303
    )
    again = client.post(f"/compliance/findings/{finding.id}/close", data={"csrf_token": token, "comment": "Done"})
    assert again.status_code == 409 and "closed already" in again.text


@pytest.mark.parametrize(
    ("role", "method", "path"),
    [
        (RoleName.TECHNICIAN, "get", "/compliance"),
        (RoleName.CLIENT, "get", "/compliance"),
        (RoleName.ADMIN, "get", "/compliance"),
        (RoleName.TECHNICIAN, "get", "/compliance/findings/{id}"),
        (RoleName.MANAGER, "post", "/compliance/findings/{id}/acknowledge"),
        (RoleName.MANAGER, "post", "/compliance/findings/{id}/close"),
        (RoleName.TECHNICIAN, "post", "/compliance/findings/{id}/close"),
        (RoleName.ADMIN, "post", "/compliance/findings/{id}/close"),
        (RoleName.QA, "get", "/compliance/checks"),
        (RoleName.MANAGER, "get", "/compliance/checks/equipment.calibration-due"),
        (RoleName.QA, "post", "/compliance/checks/equipment.calibration-due"),
        (RoleName.TECHNICIAN, "get", "/api/v1/findings"),
    ],
)
def test_every_page_and_form_refuses_the_wrong_role(client, db_session, signed_in, open_findings, role, method, path):
    finding = open_findings(1)[0]
    signed_in(role)
    token = csrf_token_from(client.get("/account/password").text)
    url = path.format(id=finding.id)
    answer = (
        client.get(url)
        if method == "get"
        else client.post(url, data={"csrf_token": token, "comment": "x", "reason": "x"})
    )
    # A page or the API refuses the role (403); a client is sent to its portal.
    assert answer.status_code in ({403} if url.startswith("/api/") else {302, 403})
    if answer.status_code == 302:
        assert "/login" not in answer.headers["Location"]
    db_session.expire_all()
    assert db_session.get(Finding, finding.id).status == FindingStatus.OPEN
    assert db_session.scalar(select(CheckSetting)) is None


def test_an_administrator_changes_a_checks_settings_with_a_reason(client, db_session, signed_in):
    signed_in(RoleName.ADMIN)
    assert "equipment.calibration-due" in client.get("/compliance/checks").text
    form = client.get("/compliance/checks/equipment.calibration-due")
    saved = client.post(
        "/compliance/checks/equipment.calibration-due",
        data={"csrf_token": csrf_token_from(form.text), "days": "21", "reason": "Vendor needs three weeks' notice"},
    )
    assert saved.status_code == 303
    db_session.expire_all()
    setting = db_session.scalar(select(CheckSetting))
    assert (setting.enabled, setting.parameter_values) == (False, {"days": 21})
    event = db_session.scalar(
        select(AuditEvent)
        .where(AuditEvent.entity_type == "compliance_check_setting")
        .order_by(AuditEvent.sequence.desc())
    )
    assert event.reason == "Vendor needs three weeks' notice"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"days": "21", "reason": ""}, "Give the reason"),
        ({"days": "0", "reason": "x"}, "from 1 to 3650"),
        ({"days": "99999999999999999999", "reason": "x"}, "from 1 to 3650"),
        ({"days": "twenty", "reason": "x"}, "whole number"),
    ],
)
def test_a_setting_without_a_reason_or_out_of_range_is_refused_and_nothing_changes(
    client, db_session, signed_in, data, message
):
    signed_in(RoleName.ADMIN)
    form = client.get("/compliance/checks/equipment.calibration-due")
    refused = client.post(
        "/compliance/checks/equipment.calibration-due",
        data={"csrf_token": csrf_token_from(form.text), "enabled": "on", **data},
    )
    assert refused.status_code == 422 and message in refused.text
    db_session.expire_all()
    assert db_session.scalar(select(CheckSetting)) is None


def test_an_unknown_check_is_not_found(client, signed_in):
    signed_in(RoleName.ADMIN)
    assert client.get("/compliance/checks/no.such-check").status_code == 404


@pytest.mark.parametrize(
    ("role", "findings_link", "settings_link"),
    [(RoleName.QA, True, False), (RoleName.ADMIN, False, True), (RoleName.TECHNICIAN, False, False)],
)
def test_the_dashboard_leads_qa_to_the_findings_and_administrators_to_the_settings(
    client, signed_in, role, findings_link, settings_link
):
    signed_in(role)
    page = client.get("/").text
    assert ('href="/compliance"' in page) is findings_link
    assert ('href="/compliance/checks"' in page) is settings_link
