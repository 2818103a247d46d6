"""Videos made for tests from the shared real ones."""

from __future__ import annotations

from pathlib import Path

import cv2

from recordings.avi import MjpegAviWriter, finalize_avi
from recordings.ntu_video import RgbVideo


def resized_copy(video: Path, out: Path, width: int, height: int) -> Path:
    """`video` written again at width x height, as NTU's videos are often shared (halved, MJPG)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = MjpegAviWriter(out, width, height, 30.0)
    with RgbVideo(video) as frames:
        for _, image in frames.frames_at(list(range(len(frames)))):
            writer.write(cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA))
    writer.close()
    finalize_avi(out)
    return out
