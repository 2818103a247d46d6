"""One track per person, keyed by the sensor's tracking id, created and retired as people come and go.

The capture thread adds each frame's bodies (`observe`); the recognition worker takes copies
(`snapshot`) at every hop. A track keeps the last `history` observations (bounded: a person who
stays all day costs the same as one who walks through) and is retired once unseen for
`retire_after_s` of stream time.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass

import numpy as np

from core.frame import Body


@dataclass(frozen=True)
class Observation:
    timestamp: float  # stream seconds (the capture's monotonic timeline)
    sequence: int  # the frame's sequence number in the FrameRing
    joints: np.ndarray  # float32 (J, 3)
    states: np.ndarray  # int8 (J,)
    joints_color: np.ndarray  # float32 (J, 2)
    truth: str | None = None  # the source's ground truth for this person (core.frame.Body.truth)


@dataclass(frozen=True)
class TrackSnapshot:
    """A copy of one track's history as arrays, oldest first (N observations)."""

    tracking_id: int
    timestamps: np.ndarray  # float64 (N,)
    sequences: np.ndarray  # int64 (N,)
    joints: np.ndarray  # float32 (N, J, 3)
    states: np.ndarray  # int8 (N, J)
    joints_color: np.ndarray  # float32 (N, J, 2)
    truth: tuple[str | None, ...] = ()  # (N,) ground truth per observation, where the source knows it

    @property
    def last_seen(self) -> float:
        return float(self.timestamps[-1])


class Track:
    def __init__(self, tracking_id: int, history: int) -> None:
        self.tracking_id = tracking_id
        self.observations: deque[Observation] = deque(maxlen=history)

    @property
    def last_seen(self) -> float:
        return self.observations[-1].timestamp


def _snapshot(tracking_id: int, obs: list[Observation]) -> TrackSnapshot:
    return TrackSnapshot(
        tracking_id=tracking_id,
        timestamps=np.array([o.timestamp for o in obs], np.float64),
        sequences=np.array([o.sequence for o in obs], np.int64),
        joints=np.stack([o.joints for o in obs]),
        states=np.stack([o.states for o in obs]),
        joints_color=np.stack([o.joints_color for o in obs]),
        truth=tuple(o.truth for o in obs),
    )


class TrackTable:
    """Tracks by tracking id. Thread-safe: one writer (capture), any number of readers."""

    def __init__(self, history: int, retire_after_s: float = 1.0) -> None:
        if history < 1:
            raise ValueError(f"a track needs a history of at least 1 observation, got {history}")
        self._history = history
        self._retire_after_s = retire_after_s
        self._tracks: dict[int, Track] = {}
        self._lock = threading.Lock()
        self.created = 0
        self.retired = 0

    def observe(self, timestamp: float, bodies: list[Body], sequence: int) -> tuple[list[int], list[int]]:
        """Add one frame's bodies; returns (tracking ids created, tracking ids retired)."""
        created, retired = [], []
        with self._lock:
            for body in bodies:
                track = self._tracks.get(body.tracking_id)
                if track is None:
                    track = self._tracks[body.tracking_id] = Track(body.tracking_id, self._history)
                    created.append(body.tracking_id)
                track.observations.append(
                    Observation(timestamp, sequence, body.joints, body.states, body.joints_color, body.truth)
                )
            for tracking_id, track in list(self._tracks.items()):
                if timestamp - track.last_seen > self._retire_after_s:
                    del self._tracks[tracking_id]
                    retired.append(tracking_id)
            self.created += len(created)
            self.retired += len(retired)
        return created, retired

    def clear(self) -> None:
        """Forget everybody (a replay that loops back to its start)."""
        with self._lock:
            self.retired += len(self._tracks)
            self._tracks.clear()

    def snapshot(self) -> list[TrackSnapshot]:
        """Copies of every live track, by tracking id."""
        with self._lock:  # copy the references only; the arrays are stacked outside the lock
            histories = [(k, list(self._tracks[k].observations)) for k in sorted(self._tracks)]
        return [_snapshot(k, obs) for k, obs in histories]

    def __len__(self) -> int:
        with self._lock:
            return len(self._tracks)

    def ids(self) -> list[int]:
        with self._lock:
            return sorted(self._tracks)
