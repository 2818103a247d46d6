from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recordings.avi import AviError, MjpegAviWriter, finalize_avi
from recordings.ntu_video import RgbVideo


def test_finalize_avi_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "v.avi"
    writer = MjpegAviWriter(path, 64, 48, 15.0)
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.close()
    assert finalize_avi(path) == 4
    size = path.stat().st_size
    assert finalize_avi(path) == 4 and path.stat().st_size == size
    assert finalize_avi(path, max_frames=2) == 2
    video = RgbVideo(path)
    assert (len(video), video.fps) == (2, 15.0)
    bad = tmp_path / "bad.avi"
    bad.write_bytes(b"RIFX" + bytes(300))
    with pytest.raises(AviError, match="bad.avi: at byte offset 0"):
        finalize_avi(bad)
