"""Schedules are written one way for checks and area jobs: "every 15m", "every 24h", "cron 30 1 * * *"."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from lims import clock, scheduler
from lims.registry import AreaJob


@pytest.mark.parametrize(
    ("schedule", "interval"), [("every 15m", timedelta(minutes=15)), ("every 24h", timedelta(days=1))]
)
def test_an_interval_schedule_repeats_at_its_interval(schedule, interval):
    assert scheduler.schedule_trigger(schedule).interval == interval


def test_a_crontab_schedule_fires_at_its_time():
    fire = scheduler.schedule_trigger("cron 30 1 * * *").get_next_fire_time(None, datetime(2030, 1, 10, 12, tzinfo=UTC))
    assert fire == datetime(2030, 1, 11, 1, 30, tzinfo=UTC)


def test_a_crontab_schedule_runs_in_the_facility_time_zone():
    clock.set_facility_zone(ZoneInfo("Asia/Singapore"))
    fire = scheduler.schedule_trigger("cron 0 2 * * *").get_next_fire_time(None, datetime(2030, 1, 10, tzinfo=UTC))
    assert (fire.hour, str(fire.tzinfo)) == (2, "Asia/Singapore")


@pytest.mark.parametrize("schedule", ["every 0m", "hourly", "every 5 weeks", "cron 61 * * * *", "cron * *"])
def test_a_schedule_the_scheduler_cannot_read_is_refused_by_name(schedule):
    with pytest.raises(scheduler.ScheduleNotUnderstood, match="schedule"):
        scheduler.schedule_trigger(schedule)


def test_an_area_job_takes_an_interval_or_a_schedule_but_not_both():
    assert AreaJob("backup", "Back up", None, lambda *_: "", schedule="every 24h").schedule_text == "every 24h"
    assert AreaJob("hooks", "Deliver", 15, lambda *_: "").schedule_text == "every 15s"
    with pytest.raises(ValueError, match="either every_seconds or a schedule"):
        AreaJob("backup", "Back up", 60, lambda *_: "", schedule="every 24h")
