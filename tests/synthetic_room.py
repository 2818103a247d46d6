"""A small endless synthetic room for live tests that need a running pipeline, not a realistic picture."""

from __future__ import annotations

import numpy as np

from core.frame import Body, Frame
from live.sources import FrameStream, ReplayOptions


class TrackedSource(FrameStream):
    """A small endless synthetic room that counts opens and closes."""

    def __init__(self) -> None:
        def frames():
            joints = np.zeros((25, 3), np.float32)
            joints[:, 1] = np.linspace(0.7, -0.9, 25)
            joints[:, 2] = 2.5
            for i in range(10**6):
                yield Frame(i / 30, np.full((36, 64, 3), 80, np.uint8),
                            [Body(1, joints, np.full(25, 2, np.int8), np.full((25, 2), 30.0, np.float32))], i)

        super().__init__("tracked", frames, options=ReplayOptions(realtime=True), color_shape=(36, 64),
                         fps=30.0)
        self.opens = self.closes = 0

    def open(self) -> None:
        self.opens += 1
        super().open()

    def close(self) -> None:
        self.closes += 1
        super().close()
