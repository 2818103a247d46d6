"""Windows in time: the one sampler shared by training and live inference.

A window is `duration_s` seconds of the stream resampled to `num_frames` frames by timestamp, not a
count of consecutive frames: the Kinect's colour camera drops from 30 to 15 fps in low light, and a
model trained on 20 consecutive frames at 30 fps would see a window twice as long at 15 fps.

    timestamps  |..|..|..|..|..|..|..|..|..|..|..|   (any rate, gaps allowed)
    window                 [<---- duration_s ---->] end_time
    samples                   ^    ^    ^    ^    ^  num_frames times, the last at end_time
    indices = the frame nearest to each sample time
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class WindowSpec:
    duration_s: float = 2.0
    num_frames: int = 20

    def __post_init__(self) -> None:
        if self.duration_s <= 0 or self.num_frames < 1:
            raise ValueError(f"window needs duration_s > 0 and num_frames >= 1, got {self}")

    def sample_times(self, end_time: float) -> np.ndarray:
        """The num_frames instants of the window ending at end_time, evenly spaced, last = end_time."""
        steps = np.arange(1, self.num_frames + 1, dtype=np.float64) / self.num_frames
        return end_time - self.duration_s + steps * self.duration_s


def window_indices(
    timestamps: np.ndarray,
    end_time: float,
    spec: WindowSpec,
    jitter: float = 0.0,
    rng: np.random.Generator | None = None,
) -> np.ndarray:
    """Indices (num_frames,) into `timestamps` (sorted seconds) of the frames nearest the sample times.

    Sample times before the first frame take the first frame (a clip shorter than the window is
    padded by repeating its start). `jitter` (a fraction of the sample spacing) moves each sample
    time at random, for training only.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.ndim != 1 or len(timestamps) == 0:
        raise ValueError(f"need a non-empty 1-D array of timestamps, got shape {timestamps.shape}")
    times = spec.sample_times(end_time)
    if jitter > 0:
        rng = rng if rng is not None else np.random.default_rng()
        spacing = spec.duration_s / spec.num_frames
        times = times + rng.uniform(-jitter, jitter, size=times.shape) * spacing
    right = np.searchsorted(timestamps, times).clip(1, len(timestamps) - 1)
    left = right - 1
    if len(timestamps) == 1:
        return np.zeros(spec.num_frames, dtype=np.int64)
    nearer_left = (times - timestamps[left]) <= (timestamps[right] - times)
    return np.where(nearer_left, left, right).astype(np.int64)


def evaluation_window_ends(timestamps: np.ndarray, spec: WindowSpec, count: int = 5) -> np.ndarray:
    """End times of `count` windows spread evenly over a clip (the paper tests 5 per clip and averages).

    A clip shorter than one window gives `count` copies of its last timestamp.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    first_end = min(timestamps[0] + spec.duration_s, timestamps[-1])
    return np.linspace(first_end, timestamps[-1], count)


def random_window_end(timestamps: np.ndarray, spec: WindowSpec, rng: np.random.Generator) -> float:
    """A uniformly random end time such that the window lies inside the clip where it can."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    first_end = min(timestamps[0] + spec.duration_s, timestamps[-1])
    return float(rng.uniform(first_end, timestamps[-1])) if timestamps[-1] > first_end else float(first_end)


# The fraction of a window of history a person needs before a decision: live's default, and where
# training's streaming windows start, so that a model is scored from the instant live would decide.
MIN_COVERAGE = 0.8


def covers(
    timestamps: np.ndarray, end_time: float, spec: WindowSpec, tolerance: float = MIN_COVERAGE
) -> bool:
    """Whether the history before end_time spans at least `tolerance` of a window (live: enough history)."""
    timestamps = np.asarray(timestamps, dtype=np.float64)
    return len(timestamps) > 0 and end_time - timestamps[0] >= tolerance * spec.duration_s
