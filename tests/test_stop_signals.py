"""Waits a stop signal can get into (recordings/stop_signals.py)."""

from __future__ import annotations

import threading

import pytest

from recordings.stop_signals import WAIT_SLICE_S, wait_in_slices


def test_a_long_wait_is_made_of_short_ones_for_signal_handlers_to_run_between():
    # On Windows before Python 3.14 a join or an event's wait is not interrupted by a signal: one wait of
    # 29 s held a second Ctrl-C back for all of it.
    never = threading.Event()
    asked: list[float] = []

    def wait(seconds: float) -> bool:
        asked.append(seconds)
        return never.wait(seconds)

    assert not wait_in_slices(wait, never.is_set, 0.5)
    assert len(asked) >= 3 and max(asked) <= WAIT_SLICE_S
    assert sum(asked) == pytest.approx(0.5, abs=0.1)


def test_it_returns_as_soon_as_it_is_done_and_never_waits_for_a_timeout_of_zero():
    done = threading.Event()
    threading.Timer(0.05, done.set).start()
    assert wait_in_slices(done.wait, done.is_set, 10.0)
    asked: list[float] = []
    assert not wait_in_slices(asked.append, lambda: False, 0.0) and not asked


def test_a_thread_and_an_event_are_waited_for_the_same_way():
    from recordings.stop_signals import join_in_slices, wait_for_event_in_slices

    release = threading.Event()
    thread = threading.Thread(target=release.wait, daemon=True)
    thread.start()
    assert not join_in_slices(thread, 0.3) and thread.is_alive()
    assert not wait_for_event_in_slices(release, 0.1)
    release.set()
    assert join_in_slices(thread, 5.0) and wait_for_event_in_slices(release, 0.0)
