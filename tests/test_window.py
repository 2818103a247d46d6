from __future__ import annotations

import numpy as np
import pytest

from core.window import WindowSpec, covers, evaluation_window_ends, random_window_end, window_indices


def test_window_is_defined_in_seconds_not_frames():
    spec = WindowSpec(duration_s=2.0, num_frames=20)
    fast = np.arange(0, 10, 1 / 30)
    slow = np.arange(0, 10, 1 / 15)  # Kinect colour in low light
    fast_idx = window_indices(fast, 9.0, spec)
    slow_idx = window_indices(slow, 9.0, spec)
    # Both windows cover the same two seconds of the scene.
    np.testing.assert_allclose(fast[fast_idx], slow[slow_idx], atol=1 / 30)
    assert fast[fast_idx][-1] == pytest.approx(9.0, abs=1 / 60)
    assert fast[fast_idx][0] == pytest.approx(7.1, abs=1 / 30)
    assert np.all(np.diff(fast_idx) > 0)


def test_short_history_repeats_the_first_frame_and_gaps_pick_the_nearest():
    spec = WindowSpec(duration_s=1.0, num_frames=10)
    stamps = np.array([0.0, 0.1, 0.2, 0.8, 0.9, 1.0])
    idx = window_indices(stamps, 0.5, spec)
    assert idx[0] == 0 and idx[-1] == 2  # 0.5 is nearer 0.2 than 0.8
    idx = window_indices(stamps, 1.0, spec)
    assert idx[-1] == 5 and set(idx) <= set(range(6))
    assert window_indices(np.array([3.0]), 3.0, spec).tolist() == [0] * 10


def test_jitter_stays_inside_the_window_and_is_seeded():
    spec = WindowSpec(1.0, 10)
    stamps = np.arange(0, 5, 1 / 30)
    a = window_indices(stamps, 3.0, spec, jitter=0.5, rng=np.random.default_rng(1))
    b = window_indices(stamps, 3.0, spec, jitter=0.5, rng=np.random.default_rng(1))
    assert a.tolist() == b.tolist()
    assert stamps[a].min() >= 2.0 - 0.06 and stamps[a].max() <= 3.0 + 0.06
    # And it does move the samples (training sees other frames than the fixed grid).
    still = window_indices(stamps, 3.0, spec)
    moved = [window_indices(stamps, 3.0, spec, jitter=0.5, rng=np.random.default_rng(s)) for s in range(5)]
    assert any(m.tolist() != still.tolist() for m in moved)


def test_evaluation_windows_spread_over_the_clip():
    spec = WindowSpec(2.0, 20)
    stamps = np.arange(0, 6, 1 / 30)
    ends = evaluation_window_ends(stamps, spec, count=5)
    assert ends[0] == pytest.approx(2.0) and ends[-1] == pytest.approx(stamps[-1])
    short = evaluation_window_ends(np.arange(0, 1, 1 / 30), spec)
    assert np.allclose(short, short[-1])
    end = random_window_end(stamps, spec, np.random.default_rng(0))
    assert 2.0 <= end <= stamps[-1]


def test_covers_needs_most_of_a_window_of_history():
    spec = WindowSpec(2.0, 20)
    assert not covers(np.arange(0, 1, 1 / 30), 1.0, spec)
    assert covers(np.arange(0, 1.7, 1 / 30), 1.7, spec)


def test_invalid_spec_is_rejected():
    with pytest.raises(ValueError):
        WindowSpec(0.0, 20)


def test_a_window_is_covered_from_exactly_its_minimum_history() -> None:
    # Live decides once the history spans MIN_COVERAGE (0.8) of a window, and not a hop later.
    spec = WindowSpec(duration_s=2.0, num_frames=8)
    assert covers(np.array([0.0]), 1.6, spec) and not covers(np.array([0.0]), 1.59, spec)
    assert not covers(np.array([]), 5.0, spec)
