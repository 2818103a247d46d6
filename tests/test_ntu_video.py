from __future__ import annotations

import re

import numpy as np
import pytest

from recordings.ntu import read_skeleton
from recordings.ntu_video import RgbVideo

A001 = "S001C001P001R001A001"


def test_rgb_video_is_aligned_with_its_skeleton(ntu_dir):
    skeleton = read_skeleton(ntu_dir / "skeletons" / f"{A001}.skeleton")
    with RgbVideo(ntu_dir / "rgb" / f"{A001}_rgb.avi") as video:
        assert len(video) == 103 == video.frame_count == skeleton.num_frames
        assert video.fps == pytest.approx(30.0) and (video.width, video.height) == (1920, 1080)
        kept = {}
        count = 0
        for bodies, image in zip(skeleton.frames, video, strict=True):
            assert image.dtype == np.uint8 and image.shape == (1080, 1920, 3)
            # Every joint of the drinking person projects into the image.
            color = bodies[0].color
            assert ((color >= 0) & (color < (1920, 1080))).all()
            if count in (0, 102):
                kept[count] = image
            count += 1
        assert count == 103
        again = video.read_frames([102, 0, 0])  # a second pass decodes from the start again
        np.testing.assert_array_equal(again[0], kept[102])
        np.testing.assert_array_equal(again[1], kept[0])
        assert not np.array_equal(kept[0], kept[102])
        with pytest.raises(IndexError, match="103"):
            video.read_frames([103])
    with pytest.raises(ValueError, match="closed"):
        next(iter(video))


def test_rgb_video_missing_or_unreadable(tmp_path):
    missing = tmp_path / f"{A001}_rgb.avi"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        RgbVideo(missing)
    garbage = tmp_path / "garbage_rgb.avi"
    garbage.write_bytes(b"not a video" * 100)
    with pytest.raises(ValueError, match="garbage_rgb.avi: OpenCV cannot open"):
        RgbVideo(garbage)


def test_the_recorders_video_opens_from_any_path_without_opencvs_reader(tmp_path, monkeypatch):
    # OpenCV on Windows opens only paths in the system's code page: a site's clips in C:\Users\Müller\...
    # could not be replayed, viewed or trained on ("OpenCV cannot open this file as a video").
    import cv2

    from recordings.avi import MjpegAviWriter, finalize_avi

    path = tmp_path / "Müller Aufnahmen" / "live_20261205_150000_rgb.avi"
    path.parent.mkdir()
    writer = MjpegAviWriter(path, 64, 48, 15.0)
    images = [np.full((48, 64, 3), 40 * i, np.uint8) for i in range(5)]
    for image in images:
        writer.write(image)
    writer.close()
    finalize_avi(path)
    monkeypatch.setattr(cv2, "VideoCapture", lambda *args: pytest.fail("OpenCV's reader was used"))
    with RgbVideo(path) as video:
        assert (len(video), video.fps, video.width, video.height) == (5, 15.0, 64, 48)
        decoded = list(video)
        for ours, theirs in zip(decoded, images, strict=True):
            assert np.abs(ours.astype(int) - theirs).max() <= 2  # JPEG's rounding
        decodes = []  # training's crops want a third of the frames: only those are decoded
        real_imdecode = cv2.imdecode
        monkeypatch.setattr(cv2, "imdecode", lambda *args: decodes.append(1) or real_imdecode(*args))
        np.testing.assert_array_equal(video.read_frames([4, 0, 4])[0], decoded[4])
        assert [index for index, _ in video.frames_at([1, 3])] == [1, 3] and len(decodes) == 4
    # A copy cut short announces frames it does not hold: said, as OpenCV's reader said it.
    path.write_bytes(path.read_bytes()[:-2000])
    with RgbVideo(path) as video, pytest.raises(ValueError, match=r"decoded \d frames, the container"):
        list(video)


def test_opencvs_path_limit_on_windows_is_named(monkeypatch):
    from recordings import ntu_video

    assert ntu_video.opencv_path_hint("C:/Users/Müller/clip_rgb.avi") == ""  # not Windows: not the cause
    monkeypatch.setattr(ntu_video.os, "name", "nt")
    assert "outside the system's code page" in ntu_video.opencv_path_hint("C:/Users/Müller/clip_rgb.avi")
    assert ntu_video.opencv_path_hint("C:/Users/Mueller/clip_rgb.avi") == ""


def _recorder_avi(path, frames: int = 3):
    from recordings.avi import MjpegAviWriter, finalize_avi

    writer = MjpegAviWriter(path, 64, 48, 15.0)
    for i in range(frames):
        writer.write(np.full((48, 64, 3), 60 * i, np.uint8))
    writer.close()
    finalize_avi(path)
    return path


def test_an_avi_laid_out_like_the_recorders_in_another_codec_is_left_to_opencv(tmp_path, monkeypatch):
    # Any minimal one-stream AVI has 'movi' at byte 220, as the recorder's: an XVID one was read as JPEGs
    # ("frame 0 is not a JPEG that decodes"), where OpenCV plays it.
    import cv2

    from recordings.avi import AviError, RecordedAvi

    data = bytearray(_recorder_avi(tmp_path / "ours_rgb.avi").read_bytes())
    data[112:116] = data[188:192] = b"XVID"
    other = tmp_path / "other_rgb.avi"
    other.write_bytes(bytes(data))
    with pytest.raises(AviError, match="not an MJPG AVI written by the recorder"):
        RecordedAvi(other)

    def opencv(*args):
        raise RuntimeError("opened by OpenCV")

    monkeypatch.setattr(cv2, "VideoCapture", opencv)
    with pytest.raises(RuntimeError, match="opened by OpenCV"):
        RgbVideo(other)


def test_frames_at_takes_ascending_indices_and_close_lets_the_file_go(tmp_path):
    # Unsorted, the OpenCV pass gave fewer frames than asked and the recorder's all of them: training's
    # crops, numbered by position, would have been misplaced. A pass left halfway kept the file open,
    # which on Windows stops the clip from being moved or deleted.
    import os

    path = _recorder_avi(tmp_path / "c_rgb.avi")
    with RgbVideo(path) as video:
        with pytest.raises(ValueError, match="ascending indices without repeats"):
            list(video.frames_at([2, 1]))
        frames = iter(video)
        next(frames)
        video.close()
        with pytest.raises(ValueError, match="the video is closed"):
            next(frames)
    if os.path.isdir("/proc/self/fd"):
        assert not [fd for fd in os.listdir("/proc/self/fd")
                    if os.path.realpath(f"/proc/self/fd/{fd}") == str(path.resolve())]


def test_a_pass_from_a_later_frame_goes_on_without_decoding_from_the_start(ntu_dir, monkeypatch):
    # The marking window's jumps on NTU's H.264: each reopened the video and decoded from its first frame
    # (seconds frozen per jump on a long take). Forward, it goes on; back, it starts over.
    opened = []
    real_open = RgbVideo._open
    monkeypatch.setattr(RgbVideo, "_open", lambda self: opened.append(1) or real_open(self))
    with RgbVideo(ntu_dir / "rgb" / f"{A001}_rgb.avi") as video:
        reference = video.read_frames([20, 50])
        first = video.frames_from(10)  # behind where the last pass stopped: opened again
        next(first)
        opened.clear()
        np.testing.assert_array_equal(next(video.frames_from(50)), reference[1])
        assert opened == []
        np.testing.assert_array_equal(next(video.frames_from(20)), reference[0])
        assert opened == [1]
