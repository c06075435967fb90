"""Running checks: each in its own transaction, its run recorded whether it succeeds or raises.

The scheduler and `lims compliance run` both run checks through :func:`run_check`, so a check that raises
is recorded as failed and the others still run.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from lims import clock
from lims.compliance import notices
from lims.compliance.models import CheckRun
from lims.compliance.service import findings, settings
from lims.compliance.service.settings import CheckInForce

logger = logging.getLogger("lims.compliance")


def run_check(session: Session, in_force: CheckInForce) -> CheckRun:
    """Run one check now and commit its findings with the record of the run; a check that raises leaves nothing
    but the record of its failure, with the error."""
    check = in_force.check
    started = clock.now()
    try:
        conditions = list(check.run(session, started, in_force.parameters))
        changes = findings.keep_findings(session, check, conditions, now=started)
        notices.tell_of_changes(session, check, changes)
        run = findings.record_run(session, check.check_id, started_at=started, finished_at=clock.now(), changes=changes)
        session.commit()
    except Exception as error:
        session.rollback()
        logger.exception("The compliance check %s failed", check.check_id)
        run = findings.record_run(
            session, check.check_id, started_at=started, finished_at=clock.now(), error=_error_text(error)
        )
        session.commit()
    logger.info(
        "%s: %s, %d opened, %d resolved, %d open",
        check.check_id,
        run.outcome.value,
        run.findings_opened,
        run.findings_resolved,
        run.findings_open,
    )
    return run


def _error_text(error: Exception) -> str:
    return f"{type(error).__name__}: {error}"[:2000]


def run_checks(
    session: Session,
    check_ids: Iterable[str] | None = None,
    *,
    progress: Callable[[CheckInForce, CheckRun | None], None] | None = None,
) -> list[CheckRun]:
    """Run the enabled checks (or those named, enabled or not), one transaction each, in the order declared;
    ``progress`` hears of each as it ends (None for a disabled check, which is skipped)."""
    in_force = settings.checks_in_force(session)
    session.commit()
    if check_ids is not None:
        wanted = [settings.declared_check(check_id).check_id for check_id in check_ids]
        in_force = [item for item in in_force if item.check.check_id in wanted]
    runs = []
    for item in in_force:
        if not item.enabled and check_ids is None:
            if progress is not None:
                progress(item, None)
            continue
        run = run_check(session, item)
        runs.append(run)
        if progress is not None:
            progress(item, run)
    return runs
