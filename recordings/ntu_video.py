"""NTU RGB+D RGB videos (``_rgb.avi``, 1920x1080 at 30 fps), decoded frame by frame: frame i of the
video goes with frame i of its ``.skeleton`` file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator, Sequence
from pathlib import Path

import cv2
import numpy as np


class RgbVideo:
    """An NTU ``_rgb.avi`` (1920x1080, 30 fps) read frame by frame as BGR uint8 (H, W, 3).

    ``len()`` is the frame count the container announces; iterating decodes from the first frame and
    raises if the video ends before that count. One pass at a time per object.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(errno.ENOENT, "RGB video not found", str(self.path))
        self._capture: cv2.VideoCapture | None = self._open()
        self._position = 0  # frames decoded by the current capture
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = int(round(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        if self.frame_count <= 0:  # no usable count in the container: count by decoding once
            self.frame_count = sum(1 for _ in self._decode())

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"{self.path}: OpenCV cannot open this file as a video")
        return capture

    def _decode(self) -> Iterator[np.ndarray]:
        if self._capture is None:
            raise ValueError(f"{self.path}: the video is closed")
        if self._position:
            # Seeking H.264 by frame number is not frame-exact in every OpenCV build; reopening is.
            self._capture.release()
            self._capture = self._open()
            self._position = 0
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            self._position += 1
            yield frame

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        decoded = 0
        for frame in self._decode():
            yield frame
            decoded += 1
            if decoded == self.frame_count:
                return
        raise ValueError(f"{self.path}: decoded {decoded} frames, the container announces {self.frame_count}")

    def read_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The frames at `indices` (any order, repeats allowed), decoded in one pass from the start."""
        wanted = set(indices)
        bad = [i for i in wanted if not 0 <= i < self.frame_count]
        if bad:
            raise IndexError(f"{self.path}: frame indices {sorted(bad)} outside 0..{self.frame_count - 1}")
        found: dict[int, np.ndarray] = {}
        for index, frame in enumerate(self):
            if index in wanted:
                found[index] = frame
                if len(found) == len(wanted):
                    break
        return [found[i] for i in indices]

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> RgbVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
