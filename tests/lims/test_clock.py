"""The one clock: frozen, advanced, and put back as it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from lims import clock

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
