"""Telling QA of findings through the inbox (``lims.notifications``): one message when a finding opens, when it
escalates to a graver severity, and when it reopens; never one per run that merely finds it again.

A run that opens more findings than :data:`MESSAGES_PER_RUN` (a first run over a backlog) sends a message for each
of the gravest that many and one more saying how many others opened, so an inbox stays readable.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from lims.compliance.models import Finding, Severity
from lims.compliance.service.findings import RunChanges
from lims.identity.models import RoleName
from lims.notifications.service import notify
from lims.registry import ComplianceCheck

MESSAGES_PER_RUN = 50
#: finding ids a query names at most: a backlog of tens of thousands would pass the engines' limits of bound
#: parameters (PostgreSQL's 65,535 a statement)
IDS_PER_QUERY = 10_000
#: who hears of a finding of each severity: QA always, managers of critical ones too
RECIPIENTS = {
    Severity.CRITICAL: (RoleName.QA, RoleName.MANAGER),
    Severity.MAJOR: (RoleName.QA,),
    Severity.MINOR: (RoleName.QA,),
}


def tell_of_changes(session: Session, check: ComplianceCheck, changes: RunChanges) -> None:
    """Send a message for each finding the run opened, reopened or escalated (one query reads them)."""
    why = {finding_id: "opened" for finding_id in changes.opened}
    why.update({finding_id: "reopened" for finding_id in changes.reopened})
    why.update({finding_id: "escalated" for finding_id, _severity in changes.escalated})
    if not why:
        return
    told = _gravest(session, list(why))
    for finding in told:
        _tell(session, check, finding, why[finding.id])
    untold = len(why) - len(told)
    if untold:
        notify(
            session,
            key=f"check:{check.check_id}:{told[-1].last_seen_at.isoformat()}",
            subject=f"{untold} more findings of “{check.title}”",
            body=f"The run of {check.title} opened or escalated {len(why)} findings; the gravest {len(told)} have a "
            "message each. See them all on the compliance dashboard.",
            link=f"/compliance?area={check.area}",
            roles=RECIPIENTS[Severity(check.severity)],
        )


def _gravest(session: Session, finding_ids: list[int]) -> list[Finding]:
    """The gravest :data:`MESSAGES_PER_RUN` of the findings, oldest first among equals: each part's gravest, merged."""
    candidates: list[Finding] = []
    for start in range(0, len(finding_ids), IDS_PER_QUERY):
        candidates.extend(
            session.scalars(
                select(Finding)
                .where(Finding.id.in_(finding_ids[start : start + IDS_PER_QUERY]))
                .order_by(Finding.severity_rank.desc(), Finding.id)
                .limit(MESSAGES_PER_RUN)
            )
        )
    return sorted(candidates, key=lambda finding: (-finding.severity_rank, finding.id))[:MESSAGES_PER_RUN]


def _tell(session: Session, check: ComplianceCheck, finding: Finding, why: str) -> None:
    severity = Severity(finding.severity)
    key = {
        "opened": f"finding:{finding.id}:opened",
        "reopened": f"finding:{finding.id}:reopened:{finding.times_reopened}",
        "escalated": f"finding:{finding.id}:{severity.value}",
    }[why]
    notify(
        session,
        key=key,
        subject=f"{severity.value.capitalize()} finding {why}: {finding.record_label}",
        body=f"{check.title}: {finding.record_label}, {finding.detail}.",
        link=f"/compliance/findings/{finding.id}",
        roles=RECIPIENTS[severity],
    )
