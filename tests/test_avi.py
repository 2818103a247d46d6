from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from recordings.avi import AviError, MjpegAviWriter, finalize_avi
from recordings.ntu_video import RgbVideo


def written(path: Path, frames: int) -> Path:
    """A small AVI as the recorder writes it, frame i a grey of level 20 * i, not finalised yet."""
    writer = MjpegAviWriter(path, 64, 48, 15.0)
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 20 * i, np.uint8))
    writer.close()
    return path


def test_finalize_avi_is_idempotent(tmp_path: Path) -> None:
    path = written(tmp_path / "v.avi", 4)
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


def test_a_finalised_video_is_opened_from_its_index_and_any_other_by_its_chunks(tmp_path: Path) -> None:
    # Opening walked every chunk, a seek a frame: 108,000 for an hour's take, seconds from a cold disk.
    import os

    from recordings import avi

    path = written(tmp_path / "v.avi", 5)

    def walked() -> list:
        with open(path, "rb") as f:
            return avi._frame_chunks(f, f.seek(0, os.SEEK_END))[0]

    assert len(avi.RecordedAvi(path)) == 5  # not finalised yet (a crash's): walked
    finalize_avi(path)
    with open(path, "rb") as f:
        indexed = avi._indexed_chunks(f, f.read(224), path.stat().st_size)
    assert indexed == walked() and len(indexed) == 5
    data = bytearray(path.read_bytes())
    data[-16 * 5 + 8] ^= 0xFF  # an index entry's offset damaged: the chunks are walked, and all are there
    path.write_bytes(bytes(data))
    with open(path, "rb") as f:
        assert avi._indexed_chunks(f, f.read(224), path.stat().st_size) is None
    assert avi.RecordedAvi(path)._chunks == walked()


def test_a_frame_whose_header_the_index_does_not_match_is_said_not_cut_short(tmp_path: Path) -> None:
    # Trusted from the index, a damaged chunk header was copied into a sample, and finalize_avi stopped
    # at it: a piece of 10 frames came out with 4, without a word.
    from recordings.avi import RecordedAvi

    path = written(tmp_path / "v.avi", 10)
    finalize_avi(path)
    video = RecordedAvi(path)
    pos = video._chunks[4][0]
    data = bytearray(path.read_bytes())
    data[pos:pos + 4] = b"XXXX"
    path.write_bytes(bytes(data))
    video = RecordedAvi(path)
    assert len(video) == 10  # from the index
    with pytest.raises(AviError, match=f"frame 4 is damaged \\(at byte {pos} its header"):
        video.cut(tmp_path / "piece.avi", range(10))
    with pytest.raises(AviError, match="frame 4 is damaged"):
        list(video.jpegs(range(10)))
    video.cut(tmp_path / "piece.avi", range(5, 10))  # the frames after it are whole
    assert len(RecordedAvi(tmp_path / "piece.avi")) == 5


def test_a_last_frame_a_crash_cut_short_is_left_out(tmp_path: Path) -> None:
    # The recorder killed mid-write leaves the last chunk's header announcing more JPEG than the file
    # holds: that frame is not there, and reading it would run past the end of the file.
    from recordings.avi import RecordedAvi

    path = written(tmp_path / "v.avi", 5)
    data = path.read_bytes()
    path.write_bytes(data[:-20])
    assert len(RecordedAvi(path)) == 4
    assert finalize_avi(path) == 4
    video = RgbVideo(path)
    assert len(video) == 4
    assert len(list(RecordedAvi(path).jpegs(range(4)))) == 4


def test_an_index_whose_frames_are_not_one_after_another_is_not_trusted(tmp_path: Path) -> None:
    # finalize_avi lists the frames in file order, each right after the one before. An index with two
    # entries swapped (whole, so each still matches its chunk's header) would replay frames out of
    # order: the chunks are walked instead.
    import os

    from recordings import avi

    path = written(tmp_path / "v.avi", 5)
    finalize_avi(path)
    with open(path, "rb") as f:
        in_order = avi._frame_chunks(f, f.seek(0, os.SEEK_END))[0]
    data = bytearray(path.read_bytes())
    first = len(data) - 16 * 5 + 16  # entry 1 of idx1
    data[first:first + 16], data[first + 16:first + 32] = data[first + 16:first + 32], data[first:first + 16]
    path.write_bytes(bytes(data))
    with open(path, "rb") as f:
        assert avi._indexed_chunks(f, f.read(224), path.stat().st_size) is None
    assert avi.RecordedAvi(path)._chunks == in_order
