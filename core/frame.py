"""The sensor's unit of data, the same for every source (Kinect, .xef replay, clip replay, simulator)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Body:
    """One tracked person in one frame (Kinect v2: 25 joints)."""

    tracking_id: int
    joints: np.ndarray  # float32 (J, 3) camera space, metres
    states: np.ndarray  # int8 (J,) 0 NotTracked, 1 Inferred, 2 Tracked
    joints_color: np.ndarray  # float32 (J, 2) colour-image pixels, NaN where unmappable
    # Ground truth where the source knows it (the simulator, a labelled replay): this person's action at
    # this instant, core.timeline.NO_ACTION when none; None from a sensor. It travels with the frame so
    # that a decision can say what was really happening at its window's centre.
    truth: str | None = None


@dataclass
class Frame:
    """What the sensor delivered at one instant."""

    timestamp: float  # seconds, monotonic within one stream
    color: np.ndarray | None  # uint8 (H, W, 3) BGR, None when this instant has no colour image
    bodies: list[Body] = field(default_factory=list)
    index: int = 0  # position in the stream (frame number)
    # The depth camera's image nearest this instant: uint16 (424, 512) millimetres (0 = no reading),
    # None when the source has no depth stream or none came with this frame. Only the recorder and the
    # 3D views use it; nothing else holds on to it.
    depth: np.ndarray | None = None
