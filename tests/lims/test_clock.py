"""The one clock: frozen, advanced, and put back as it was; the facility's local date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from lims import clock
from lims.app import create_app
from tests.lims.local_dates import JUST_AFTER_MIDNIGHT_EAST, JUST_BEFORE_MIDNIGHT_WEST, at_facility

MOMENT = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_a_frozen_clock_advances_only_when_told():
    clock.freeze(MOMENT)
    assert clock.now() == MOMENT
    assert clock.advance(timedelta(minutes=5)) == MOMENT + timedelta(minutes=5)


def test_a_frozen_block_restores_the_clock_it_found():
    clock.freeze(MOMENT)
    with clock.frozen(MOMENT - timedelta(days=3)):
        assert clock.now() == MOMENT - timedelta(days=3)
    assert clock.now() == MOMENT
    clock.unfreeze()
    with clock.frozen(MOMENT):
        pass
    assert clock.now() != MOMENT


def test_naive_times_and_advancing_a_running_clock_are_refused():
    with pytest.raises(ValueError, match="aware"):
        clock.freeze(datetime(2030, 1, 1))
    clock.unfreeze()
    with pytest.raises(RuntimeError, match="frozen"):
        clock.advance(timedelta(seconds=1))


def test_today_is_the_facility_s_local_date_not_the_utc_date():
    with at_facility(JUST_AFTER_MIDNIGHT_EAST):
        assert clock.now().date() == date(2030, 4, 15)
        assert clock.today() == date(2030, 4, 16)
    with at_facility(JUST_BEFORE_MIDNIGHT_WEST):
        assert clock.now().date() == date(2030, 4, 16)
        assert clock.today() == date(2030, 4, 15)


def test_the_app_counts_days_in_the_facility_time_zone_which_defaults_to_the_display_one(tmp_path, monkeypatch):
    monkeypatch.delenv("LIMS_FACILITY_TIMEZONE", raising=False)
    monkeypatch.delenv("LIMS_DISPLAY_TIMEZONE", raising=False)
    with clock.frozen(JUST_AFTER_MIDNIGHT_EAST):
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "DISPLAY_TIMEZONE": "Asia/Singapore"})
        assert clock.today() == date(2030, 4, 16)
        monkeypatch.setenv("LIMS_FACILITY_TIMEZONE", "UTC")
        create_app({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "k", "DISPLAY_TIMEZONE": "Asia/Singapore"})
        assert clock.today() == date(2030, 4, 15)
