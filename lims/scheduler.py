"""The compliance scheduler: the checks a GMP lab must run on time whether or not anyone remembers them.

`lims scheduler run` runs them in a process of its own beside the web server, one per installation. Each
check runs in its own transaction, attributed in the audit trail to the scheduler.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from flask import Flask
from sqlalchemy.orm import Session

from lims import clock, registry
from lims.audit import anchors as audit_anchors
from lims.audit import chain as audit_chain
from lims.audit import context as audit_context
from lims.audit import verification as audit_verification
from lims.audit.errors import AnchorRefused
from lims.db import get_session
from lims.identity.service import sessions as identity_sessions

logger = logging.getLogger("lims.scheduler")

SCHEDULER = audit_context.Actor(None, "compliance scheduler")

_INTERVAL = re.compile(r"every\s+(\d+)\s*([smhd])")
_INTERVAL_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class ScheduleNotUnderstood(ValueError):
    """A schedule is "every <n><s|m|h|d>" or "cron <minute> <hour> <day> <month> <weekday>"."""


def schedule_trigger(schedule: str, zone: tzinfo | None = None) -> BaseTrigger:
    """The trigger of a schedule written as checks and area jobs write it: "every 15m", "cron 0 2 * * *" (a crontab
    line, in ``zone``, the facility's time zone unless given)."""
    text = " ".join(schedule.strip().lower().split())
    interval = _INTERVAL.fullmatch(text)
    if interval is not None and int(interval[1]) > 0:
        return IntervalTrigger(**{_INTERVAL_UNITS[interval[2]]: int(interval[1])})
    if text.startswith("cron "):
        try:
            return CronTrigger.from_crontab(text.removeprefix("cron "), timezone=zone or clock.facility_zone())
        except ValueError as error:
            raise ScheduleNotUnderstood(f"The schedule {schedule!r} is not a crontab line: {error}.") from error
    raise ScheduleNotUnderstood(
        f'The schedule {schedule!r} is neither "every <number><s, m, h or d>" nor "cron <crontab line>".'
    )


@dataclass(frozen=True)
class ScheduledCheck:
    job_id: str
    title: str
    trigger: BaseTrigger
    #: does the check in the given session and says what it found
    run: Callable[[Session, Mapping[str, Any]], str]


def anchor_audit_chain(session: Session, config: Mapping[str, Any]) -> str:
    """Write the chain's head to the checkpoint file, so a rewrite of the whole table shows; nothing is written
    while the latest checkpoint anchors the head already.

    A refusal (the chain is broken since the latest checkpoint, or disagrees with an earlier one) is logged as an
    error and audited.
    """
    try:
        checkpoint = audit_anchors.write_checkpoint(session.connection(), config["AUDIT_CHECKPOINT_PATH"])
    except AnchorRefused as refusal:
        audit_chain.record(session, "audit.anchor_refused", details={"result": refusal.message})
        logger.error("The audit chain was not anchored: %s", refusal.message)
        return refusal.message
    return f"event {checkpoint.sequence} ({checkpoint.hash[:12]}…) anchored in {config['AUDIT_CHECKPOINT_PATH']}"


def verify_audit_chain(session: Session, config: Mapping[str, Any]) -> str:
    """Recompute the whole chain against every checkpoint and check every signature against it; a break or a
    disagreement is logged as an error and audited."""
    verification = audit_verification.verify_and_record(session, config["AUDIT_CHECKPOINT_PATH"])
    if not verification.intact:
        logger.error("The audit trail is not intact: %s", verification.summary())
    return verification.summary()


def end_idle_sessions(session: Session, config: Mapping[str, Any]) -> str:
    """End and audit the signed-in sessions left idle beyond the idle time whose browsers never came back."""
    ended = identity_sessions.end_idle_sessions(session, idle_time=timedelta(minutes=config["SESSION_IDLE_MINUTES"]))
    return f"{ended} idle session{'' if ended == 1 else 's'} ended"


def scheduled_checks(config: Mapping[str, Any]) -> list[ScheduledCheck]:
    hour, minute = config["AUDIT_VERIFY_AT"]
    return [
        ScheduledCheck(
            "audit-checkpoint",
            "Anchor the audit chain's head outside the database",
            IntervalTrigger(minutes=config["AUDIT_CHECKPOINT_MINUTES"]),
            anchor_audit_chain,
        ),
        ScheduledCheck(
            "audit-verify",
            "Verify the whole audit chain against every checkpoint",
            CronTrigger(hour=hour, minute=minute, timezone=ZoneInfo(config["DISPLAY_TIMEZONE"])),
            verify_audit_chain,
        ),
        ScheduledCheck(
            "idle-sessions",
            "End the signed-in sessions left idle, and audit each as a sign-out",
            IntervalTrigger(minutes=1),
            end_idle_sessions,
        ),
        *(
            ScheduledCheck(job.job_id, job.title, schedule_trigger(job.schedule_text), job.run)
            for job in registry.current().area_jobs
        ),
    ]


def run_check(app: Flask, check: ScheduledCheck) -> str:
    """Run one check in its own app context and transaction; a failure is logged and leaves nothing behind."""
    with app.app_context():
        session = get_session()
        audit_context.act_as(session, SCHEDULER)
        try:
            summary = check.run(session, app.config)
            session.commit()
        except Exception:
            session.rollback()
            logger.exception("%s failed", check.title)
            raise
    logger.info("%s: %s", check.title, summary)
    return summary
