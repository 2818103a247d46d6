"""RGB videos read frame by frame: NTU RGB+D's ``_rgb.avi`` (1920x1080 at 30 fps, H.264) and the
recorder's (MJPG, recordings/avi.py); frame i of the video goes with frame i of its ``.skeleton`` file.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Generator, Iterator, Sequence
from itertools import pairwise
from pathlib import Path

import cv2
import numpy as np

from recordings.avi import AviError, RecordedAvi


class RgbVideo:
    """A video read frame by frame as BGR uint8 (H, W, 3).

    ``len()`` is the frame count the container announces; iterating decodes from the first frame and
    raises if the video ends before that count. One pass at a time per object.

    The recorder's own AVIs are read here (RecordedAvi), a JPEG a frame: `frames_at` decodes only the
    frames asked for, and any path opens. OpenCV on Windows opens only paths in the system's code page, and
    a site's clips may be in C:\\Users\\Müller\\Aufnahmen; other videos (NTU's H.264) go through OpenCV.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(errno.ENOENT, "RGB video not found", str(self.path))
        self._capture: cv2.VideoCapture | None = None
        self._reader: Generator[bytes, None, None] | None = None  # the recorder AVI's file, being read
        self._closed = False
        try:
            self._recorded: RecordedAvi | None = RecordedAvi(self.path)
        except AviError:
            self._recorded = None
        if self._recorded is not None:
            recorded = self._recorded
            self.fps, self.width, self.height = recorded.fps, recorded.width, recorded.height
            self.frame_count = self._recorded.announced or len(self._recorded)  # 0 before finalize_avi
            return
        self._capture = self._open()
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
            raise ValueError(f"{self.path}: OpenCV cannot open this file as a video"
                             f"{opencv_path_hint(self.path)}")
        return capture

    def _jpeg_frames(self, indices: Sequence[int]) -> Iterator[np.ndarray]:
        assert self._recorded is not None
        # Kept, so that close() closes its file: a pass left halfway would hold it open, and Windows
        # then refuses to move or delete the clip.
        self._reader = reader = self._recorded.jpegs(indices)
        for index in indices:
            data = next(reader, None)
            if self._closed or data is None:
                raise ValueError(f"{self.path}: the video is closed")
            image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
            if image is None:
                raise ValueError(f"{self.path}: frame {index} is not a JPEG that decodes")
            yield image

    def _decode(self, first: int = 0) -> Iterator[np.ndarray]:
        """Frames first.., as far as they decode."""
        if self._closed:
            raise ValueError(f"{self.path}: the video is closed")
        if self._recorded is not None:
            yield from self._jpeg_frames(range(first, len(self._recorded)))
            return
        assert self._capture is not None
        if self._position > first:
            # Seeking H.264 by frame number is not frame-exact in every OpenCV build; reopening is. A pass
            # from a later frame goes on from where the last one stopped (one pass at a time).
            self._capture.release()
            self._capture = self._open()
            self._position = 0
        while True:
            if self._position < first:  # passed over, not converted into an image
                if not self._capture.grab():
                    return
                self._position += 1
                continue
            ok, frame = self._capture.read()
            if not ok:
                return
            self._position += 1
            yield frame

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        return self.frames_from(0)

    def frames_from(self, first: int) -> Iterator[np.ndarray]:
        """Frames first.. to the last the container announces; ValueError if it ends before that count (of
        a recorder's AVI, the frames before `first` are not read at all)."""
        decoded = first
        if decoded >= self.frame_count:
            return
        for frame in self._decode(first):
            yield frame
            decoded += 1
            if decoded == self.frame_count:
                return
        raise ValueError(f"{self.path}: decoded {decoded} frames, the container announces {self.frame_count}")

    def frames_at(self, indices: Sequence[int]) -> Iterator[tuple[int, np.ndarray]]:
        """(index, frame) for each of `indices` (ascending, no repeats), in one forward pass; of a
        recorder's AVI only those frames are decoded (a third of them for training's crops at 10 fps)."""
        bad = [i for i in indices if not 0 <= i < self.frame_count]
        if bad:
            raise IndexError(f"{self.path}: frame indices {sorted(bad)} outside 0..{self.frame_count - 1}")
        if any(later <= earlier for earlier, later in pairwise(indices)):  # one pass, in order
            raise ValueError(f"frames_at takes ascending indices without repeats, got {list(indices)[:10]}")
        if self._recorded is not None:
            missing = [i for i in indices if i >= len(self._recorded)]
            if missing:
                raise ValueError(f"{self.path}: frame {missing[0]} is missing (a copy cut short: the file "
                                 f"holds {len(self._recorded)} of the {self.frame_count} it announces)")
            yield from zip(indices, self._jpeg_frames(indices), strict=True)
            return
        if not indices:
            return
        wanted = iter(indices)
        next_wanted = next(wanted, None)
        for index, frame in enumerate(self.frames_from(indices[0]), start=indices[0]):
            if index == next_wanted:
                yield index, frame
                next_wanted = next(wanted, None)
                if next_wanted is None:  # not one frame more decoded
                    return

    def read_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The frames at `indices` (any order, repeats allowed), as `frames_at` decodes them."""
        found = dict(self.frames_at(sorted(set(indices))))
        return [found[i] for i in indices]

    def close(self) -> None:
        self._closed = True
        if self._reader is not None:
            self._reader.close()
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> RgbVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def opencv_path_hint(path: str | os.PathLike) -> str:
    """Why OpenCV may have failed on `path`, where the path itself is the likely cause: on Windows it opens
    and writes only paths in the system's code page ('' elsewhere, or for a path of plain ASCII)."""
    if os.name != "nt" or str(path).isascii():
        return ""
    return (" (OpenCV on Windows cannot use a path with characters outside the system's code page: move or "
            "rename the file or folder to plain letters)")
