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


def mean_fps(timestamps: np.ndarray) -> float:
    """Frames per second over a recording's timestamps (0 for fewer than two distinct times)."""
    if len(timestamps) < 2 or timestamps[-1] <= timestamps[0]:
        return 0.0
    return (len(timestamps) - 1) / float(timestamps[-1] - timestamps[0])


class Recording(Protocol):
    info: RecordingInfo
    timeline: Timeline | None

    def frames(self) -> Iterator[Frame]: ...

    def body_summary(self) -> tuple[int, int]: ...

    def close(self) -> None: ...
