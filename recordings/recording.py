"""What every replayable recording offers, whatever its file format (a leaf module: the format
modules import it, `recordings.clip.open_recording` picks among them).

    info            RecordingInfo: path, kind, frame count, duration, fps, colour size, label
    frames()        core Frames, timestamped in seconds from the recording's start
    body_summary()  (most bodies in one frame, distinct tracking ids)
    timeline        core.timeline.Timeline of labelled action intervals, or None where the recording
                    carries none (then its Bodies' `truth` is None too)
    close()
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from core.frame import Frame
from core.timeline import Timeline


@dataclass(frozen=True)
class RecordingInfo:
    path: Path
    kind: str  # "clip", "xef" or "pkummd"
    frame_count: int
    duration_s: float
    fps: float  # mean rate over the recording
    color_size: tuple[int, int] | None  # (width, height) of the colour frames, None without colour
    label: str | None = None
    action_id: int | None = None


# The longest step between two frames that is still the sensor's pace (a dark room's 15 fps, frames
# dropped now and then). A longer one is a pause (the live app records nothing while paused, and the
# stream's time runs on) or the sensor gone, and no rate: spread over every frame, ten minutes paused made
# a 30 fps recording "1 fps", which a replay took for its ring (a second of 30 fps frames: no decision)
# and the labeller and the video played thirty times too slowly.
LONGEST_FRAME_STEP_S = 1.0


def mean_fps(timestamps: np.ndarray) -> float:
    """Frames per second over a recording's timestamps, pauses left out (0 for fewer than two distinct
    times within LONGEST_FRAME_STEP_S)."""
    steps = np.diff(np.asarray(timestamps, np.float64))
    steps = steps[steps <= LONGEST_FRAME_STEP_S]
    if steps.sum() <= 0:
        return 0.0
    return len(steps) / float(steps.sum())


class Recording(Protocol):
    info: RecordingInfo
    timeline: Timeline | None

    def frames(self) -> Iterator[Frame]: ...

    def body_summary(self) -> tuple[int, int]: ...

    def close(self) -> None: ...
