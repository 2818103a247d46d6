"""The clip recorder: NTU-layout output, sidecar, crash safety, disk space."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import shlex
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path

import cv2
import numpy as np
import pytest

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.frame import Body, Frame
from recordings import recorder as recorder_module
from recordings.labels import LabelMap
from recordings.ntu import read_skeleton
from recordings.ntu_video import RgbVideo
from recordings.recorder import (
    DEPTH_CAMERA,
    LowDiskSpaceError,
    Recorder,
    RecorderConfig,
    RecorderError,
    complete_frame_blocks,
    finalize_partial,
    interrupted_conversion,
    interrupted_recordings,
    recover_partial_recordings,
)

REPO = Path(__file__).resolve().parents[1]
LABELS = LabelMap({121: "patient fell", 122: "patient leaves bed"})
CONFIG = RecorderConfig(min_free_bytes=1)


def make_body(tracking_id: int, x: float, z: float = 2.5) -> Body:
    joints = np.zeros((25, 3), np.float32)
    joints[:, 0] = x + np.linspace(-0.3, 0.3, 25)
    joints[:, 1] = np.linspace(-0.9, 0.6, 25)
    joints[:, 2] = z
    states = np.full(25, 2, np.int8)
    states[3] = 1
    states[24] = 0
    uv, _ = DEFAULT_CAMERA.project(joints)
    uv[24] = np.nan  # unmappable
    return Body(tracking_id, joints, states, uv)


def abandon(rec: Recorder) -> None:
    """A recorder left without close(), as after a crash: its process's death would release the partial
    folder's lock (files synced so far stay as they are)."""
    rec._lock.close()


def crashed_recording(folder: Path, name: str, frames: Iterable[Frame]) -> tuple[Path, list[bytes]]:
    """`frames` recorded, then the recorder abandoned (abandon): its .partial folder and the lines of its
    frames.jsonl, for a test to damage before recovery."""
    rec = Recorder(folder, sample_name=name, config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    for frame in frames:
        rec.write(frame)
    abandon(rec)
    return rec.partial_dir, (rec.partial_dir / "frames.jsonl").read_bytes().split(b"\n")


def make_frame(i: int, timestamp: float, colour: bool = True, bodies: int = 1) -> Frame:
    image = None
    if colour:
        image = np.zeros((48, 64, 3), np.uint8)
        image[:, :32] = (0, 0, 200)
        image[:, 32:] = (10 * i, 200, 0)
    people = [make_body(72057594037931101, 0.1 * i), make_body(5, -0.8, 3.0)][:bodies]
    return Frame(timestamp=timestamp, color=image, bodies=people, index=i)


def test_recording_writes_an_ntu_clip_with_sidecar(tmp_path: Path) -> None:
    # 30 fps, then the colour camera drops to 15 fps (low light): timestamps keep the truth.
    times = [100.0 + t for t in (0.0, 0.033, 0.067, 0.1, 0.167, 0.233)]
    camera = ColorCamera(fx=1050.0, fy=1049.0, cx=960.0, cy=560.0, tx=0.05)
    with Recorder(
        tmp_path, label="patient fell", label_map=LABELS, camera=camera, source="sim", config=CONFIG
    ) as rec:
        for i, t in enumerate(times):
            assert rec.write(make_frame(i, t, bodies=1 + (i >= 2)))
    files = rec.files
    assert files.skeleton == tmp_path / "S001C001P001R001A121.skeleton"
    assert files.video == tmp_path / "S001C001P001R001A121_rgb.avi"
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        ["S001C001P001R001A121.skeleton", "S001C001P001R001A121_rgb.avi", "S001C001P001R001A121.json"]
    )

    skeleton = read_skeleton(files.skeleton)
    assert skeleton.num_frames == 6
    assert [[b.body_id for b in f] for f in skeleton.frames][1:3] == [
        [72057594037931101],
        [72057594037931101, 5],
    ]
    body = skeleton.frames[4][0]
    expected = make_body(72057594037931101, 0.4)
    np.testing.assert_allclose(body.xyz, expected.joints, rtol=1e-6, atol=1e-7)
    assert body.states.tolist() == expected.states.tolist()
    np.testing.assert_allclose(body.color[:24], expected.joints_color[:24], rtol=1e-6)
    assert body.color[24].tolist() == [0.0, 0.0]  # unmappable -> 0 0, as NTU readers expect numbers
    depth_uv, _ = DEPTH_CAMERA.project(expected.joints)
    np.testing.assert_allclose(body.joints[:, 3:5], depth_uv, rtol=1e-5)
    assert body.tracking_state == 2 and body.joints[:, 7:11].tolist() == [[0.0] * 4] * 25

    # A joint with no position (NaN from the sensor) reads back as what it is: not tracked, at 0 0 0.
    lost = make_body(3, 0.0)
    lost.joints[7] = np.nan
    lost.joints[8] = (1e30, 0.0, 2.0)  # a glitch no sensor measures: readers would refuse the whole clip
    written = recorder_module.ntu_body(lost)
    assert written.joints[7, 11] == 0 and written.joints[7, :3].tolist() == [0.0, 0.0, 0.0]
    assert written.joints[8, 11] == 0 and written.joints[8, :3].tolist() == [0.0, 0.0, 0.0]
    assert written.joints[6, 11] == 2

    video = RgbVideo(files.video)
    # At the rate its frames came (5 frame periods in 0.233 s), not the writer's 30: it plays as long as
    # it lasted.
    assert (len(video), video.width, video.height) == (6, 64, 48)
    assert video.fps == pytest.approx(5 / 0.233, abs=1e-3)
    images = list(video)
    np.testing.assert_allclose(images[5][24, 10], (0, 0, 200), atol=12)
    np.testing.assert_allclose(images[5][24, 50], (50, 200, 0), atol=12)

    sidecar = json.loads(files.sidecar.read_text())
    assert sidecar["label"] == "patient fell" and sidecar["action_id"] == 121
    assert sidecar["sample_name"] == "S001C001P001R001A121"
    assert sidecar["timestamps"] == pytest.approx([t - 100.0 for t in times])
    assert sidecar["frame_count"] == 6 and sidecar["duration_s"] == pytest.approx(0.233)
    assert ColorCamera.from_dict(sidecar["calibration"]["color_camera"]) == camera
    assert sidecar["source"] == "sim" and sidecar["software"]["version"]
    from core.package_files import software_commit

    assert sidecar["software"]["commit"] == software_commit()  # which code recorded it
    assert sidecar["video"]["file"] == files.video.name and sidecar["stopped"] == "closed"

    # The next clip of the same class takes the next replication number.
    with Recorder(tmp_path, label="A121", label_map=LABELS, config=CONFIG) as second:
        second.write(make_frame(0, 0.0))
    assert second.files.skeleton.name == "S001C001P001R002A121.skeleton"


def test_two_stations_recording_into_one_folder_at_once_take_two_names(tmp_path: Path, monkeypatch) -> None:
    """Both chose R001 before either made its folder: the second stopped with "already exists: a recording
    of that name was interrupted" (untrue), and live with it. A name taken meanwhile gives the next one."""
    first = Recorder(tmp_path, label="A121", label_map=LABELS, config=CONFIG)
    chosen_before = iter(["S001C001P001R001A121"])  # what the second station saw before the first's mkdir
    free = recorder_module.next_sample_name
    monkeypatch.setattr(recorder_module, "next_sample_name",
                        lambda *args: next(chosen_before, None) or free(*args))
    second = Recorder(tmp_path, label="A121", label_map=LABELS, config=CONFIG)
    assert (first.sample_name, second.sample_name) == ("S001C001P001R001A121", "S001C001P001R002A121")
    stem_before = iter(["live_20261206_113000"])  # unlabelled, the same second: live_..._2
    unnamed = [Recorder(tmp_path, free_name_from="live_20261206_113000", config=CONFIG)]
    monkeypatch.setattr(recorder_module, "free_sample_name",
                        lambda out, stem, free=recorder_module.free_sample_name: next(stem_before, None)
                        or free(out, stem))
    unnamed.append(Recorder(tmp_path, free_name_from="live_20261206_113000", config=CONFIG))
    assert [r.sample_name for r in unnamed] == ["live_20261206_113000", "live_20261206_113000_2"]
    for recorder in (first, second, *unnamed):
        recorder.write(make_frame(0, 0.0))
        recorder.close()
    with pytest.raises(RecorderError, match="already exists; choose another sample name"):
        Recorder(tmp_path, sample_name="live_20261206_113000", config=CONFIG)  # named by the caller


def test_a_file_left_behind_by_a_deleted_clip_keeps_its_name(tmp_path: Path) -> None:
    # A clip's skeleton deleted, its video or sidecar left: a new clip of that name (the hour repeated
    # when summer time ends) wrote over the unlabelled clip's files.
    (tmp_path / "live_20261025_023000_rgb.avi").write_bytes(b"older clip's video")
    (tmp_path / "S001C001P001R001A121_depth.bin").write_bytes(b"older clip's depth")
    with Recorder(tmp_path, free_name_from="live_20261025_023000", config=CONFIG) as unnamed:
        unnamed.write(make_frame(0, 0.0))
    with Recorder(tmp_path, label="A121", label_map=LABELS, config=CONFIG) as labelled:
        labelled.write(make_frame(0, 0.0))
    assert (unnamed.sample_name, labelled.sample_name) == ("live_20261025_023000_2", "S001C001P001R002A121")
    assert (tmp_path / "live_20261025_023000_rgb.avi").read_bytes() == b"older clip's video"


def test_a_clip_still_being_finished_is_not_found_as_a_clip(tmp_path: Path, capsys, caplog) -> None:
    """Finishing puts the skeleton in place before the sidecar: in between (or after a crash there),
    `list`, `export` and training took the clip without its sidecar, as if it had no labels."""
    from recordings.__main__ import main
    from recordings.clip import find_clips
    from training.data import DatasetError
    from training.datasets.clips import read_clip_folder

    with Recorder(tmp_path / "ward4", label="A121", label_map=LABELS, config=CONFIG) as rec:
        rec.write(make_frame(0, 0.0))
    (tmp_path / "labels.txt").write_text("A121\tpatient fell\n")
    finishing = tmp_path / "ward4" / f"{rec.sample_name}{recorder_module.PARTIAL_SUFFIX}"
    finishing.mkdir()
    assert find_clips(tmp_path) == []
    main(["list", str(tmp_path)])  # a folder below: said as the top folder's are (export did already)
    said = f"ward4: 1 recording(s) a crash interrupted ({finishing.name}), not listed"
    assert said in capsys.readouterr().err
    with caplog.at_level(logging.WARNING), pytest.raises(DatasetError, match="no clips"):
        read_clip_folder(tmp_path)
    assert f"1 recording(s) not finished, left out (ward4/{finishing.name})" in caplog.text
    caplog.clear()  # read again (a fine-tune reads the folder three times): not said again
    with caplog.at_level(logging.WARNING), pytest.raises(DatasetError, match="no clips"):
        read_clip_folder(tmp_path)
    assert "not finished" not in caplog.text
    finishing.rmdir()
    assert [c.name for c in find_clips(tmp_path)] == [rec.sample_name]


def test_missing_colour_repeats_the_previous_image_and_is_listed(tmp_path: Path) -> None:
    with Recorder(tmp_path, sample_name="gap", config=CONFIG) as rec:
        for i in range(4):
            rec.write(make_frame(i, i / 30, colour=i != 2))
    sidecar = json.loads(rec.files.sidecar.read_text())
    assert sidecar["missing_color_frames"] == [2] and sidecar["label"] is None
    images = list(RgbVideo(rec.files.video))
    assert len(images) == 4
    np.testing.assert_array_equal(images[2], images[1])
    # Replayed as recorded: the frame the sensor gave no colour for has none (not the repeated image).
    from recordings.clip import ClipRecording

    replayed = [f.color is not None for f in ClipRecording(rec.files.skeleton).frames()]
    assert replayed == [True, True, False, True]


def test_colour_that_starts_late_still_makes_a_video_frame_for_frame(tmp_path: Path) -> None:
    """A Kinect Studio file's body stream may start before its colour stream: the video opens at the
    first colour image, which stands in for the frames before it (listed as missing colour)."""
    with Recorder(tmp_path, sample_name="late", config=CONFIG) as rec:
        for i in range(5):
            rec.write(make_frame(i, i / 30, colour=i >= 2))
    sidecar = json.loads(rec.files.sidecar.read_text())
    assert sidecar["missing_color_frames"] == [0, 1] and sidecar["video"]["file"] == rec.files.video.name
    images = list(RgbVideo(rec.files.video))
    assert len(images) == 5 == read_skeleton(rec.files.skeleton).num_frames
    np.testing.assert_array_equal(images[0], images[2])
    np.testing.assert_array_equal(images[1], images[2])
    assert not np.array_equal(images[2], images[4])  # each frame its own image from there on


def test_the_sidecar_names_the_privacy_mode_it_was_recorded_in(tmp_path: Path) -> None:
    from core.privacy import PrivacyMode

    with Recorder(tmp_path, sample_name="blurred", config=CONFIG, privacy=PrivacyMode.BLUR) as rec:
        rec.write(make_frame(0, 0.0))
    assert json.loads(rec.files.sidecar.read_text())["privacy"] == "blur"
    with Recorder(tmp_path, sample_name="unknown", config=CONFIG) as rec:  # not recorded by live
        rec.write(make_frame(0, 0.0))
    assert json.loads(rec.files.sidecar.read_text())["privacy"] is None


def test_the_sidecar_gives_the_video_rate_it_was_recorded_at(tmp_path: Path) -> None:
    # A low-light camera delivers 15 fps: the sidecar must say the rate the AVI was written at, which
    # players and the replay's pacing read, not the 30 of a default.
    config = RecorderConfig(min_free_bytes=1, fps=15.0)
    with Recorder(tmp_path, sample_name="dim_room", config=config) as rec:
        for i in range(3):
            rec.write(make_frame(i, i / 15))
    video = json.loads(rec.files.sidecar.read_text())["video"]
    assert video["fps"] == 15.0 and RgbVideo(rec.files.video).fps == 15.0
    # The app records with the default 30 whatever comes: a night's clip played at twice its speed. The
    # clip is finalised at the rate its frames came.
    with Recorder(tmp_path, sample_name="night", config=CONFIG) as rec:
        for i in range(4):
            rec.write(make_frame(i, i / 15))
    video = json.loads(rec.files.sidecar.read_text())["video"]
    assert video["fps"] == 15.0 and RgbVideo(rec.files.video).fps == 15.0
    # Frames stamped within a microsecond: a rate no header holds (struct.error, a clip never finished
    # nor recovered); the writer's 30 is kept.
    with Recorder(tmp_path, sample_name="same_instant", config=CONFIG) as rec:
        for i, t in enumerate([0.0] * 5 + [1e-6]):
            rec.write(make_frame(i, t))
    assert json.loads(rec.files.sidecar.read_text())["video"]["fps"] == 30.0


def test_a_pause_while_recording_is_not_the_clips_rate(tmp_path: Path) -> None:
    # The live app records nothing while paused and the stream's time runs on: ten minutes paused made
    # a 30 fps clip "1 fps", whose replay sized its ring to a second of frames and decided nothing, and
    # whose video and labeller played thirty times too slowly.
    from recordings.clip import ClipRecording

    with Recorder(tmp_path, sample_name="paused", config=CONFIG) as rec:
        for i, t in enumerate([*(np.arange(12) / 30), *(600 + np.arange(12) / 30)]):
            rec.write(make_frame(i, t))
    assert json.loads(rec.files.sidecar.read_text())["video"]["fps"] == pytest.approx(30.0)
    assert RgbVideo(rec.files.video).fps == pytest.approx(30.0, abs=0.01)
    with ClipRecording(rec.files.skeleton) as recording:
        assert recording.info.fps == pytest.approx(30.0) and recording.info.frame_count == 24


def test_skeleton_only_sources_and_config(tmp_path: Path) -> None:
    with Recorder(tmp_path / "a", sample_name="bodies", config=CONFIG) as rec:
        for i in range(3):
            rec.write(make_frame(i, i / 30, colour=False))
    assert rec.files.video is None and read_skeleton(rec.files.skeleton).num_frames == 3
    sidecar = json.loads(rec.files.sidecar.read_text())
    assert sidecar["video"] is None and sidecar["missing_color_frames"] == []
    config = RecorderConfig(min_free_bytes=1, record_video=False)
    with Recorder(tmp_path / "b", sample_name="no_video", config=config) as rec:
        rec.write(make_frame(0, 0.0))
    assert rec.files.video is None


def test_a_long_partial_folder_is_recovered_in_bounded_memory(tmp_path: Path) -> None:
    """A version before parts kept a skeleton-only recording as one partial folder for as long as it ran:
    recovering a day of it read the skeleton whole, twice over (some 20 GB for two people). Recovery now
    reads it a line or a block at a time: its memory does not grow with the recording."""
    import tracemalloc

    partial, lines = crashed_recording(tmp_path, "day", [make_frame(0, 0.0, colour=False, bodies=2)])
    block = (partial / "skeleton.txt").read_bytes()
    record = json.loads(lines[1])
    frames = 12_000_000 // len(block)  # 12 MB of skeleton stands for the GBs of a day
    with open(partial / "skeleton.txt", "ab") as skeleton, open(partial / "frames.jsonl", "ab") as times:
        for i in range(1, frames):
            skeleton.write(block)
            times.write((json.dumps({**record, "t": i / 30}) + "\n").encode())
    tracemalloc.start()
    try:
        (files,) = recover_partial_recordings(tmp_path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert files.frame_count == frames and peak < 3_000_000  # reading it whole took over 24 MB
    clip = read_skeleton(files.skeleton)
    assert clip.num_frames == frames and len(clip.frames[-1]) == 2
    assert json.loads(files.sidecar.read_text())["timestamps"][-1] == pytest.approx((frames - 1) / 30)


@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs /proc to list open files")
def test_a_partial_folder_that_cannot_be_finished_is_left_with_no_file_open(tmp_path: Path) -> None:
    """Its error, kept (Recorder._finish keeps it, chained), held frames.jsonl open through the reading
    of its lines: on Windows a recovery from another process then could not remove it."""
    partial, lines = crashed_recording(tmp_path, "bad", [make_frame(0, 0.0)])
    header = json.loads(lines[0])
    header["intervals"] = [{"start": "soon"}]  # refused: not start/end/label
    (partial / "frames.jsonl").write_bytes(b"\n".join([json.dumps(header).encode(), *lines[1:]]))
    with pytest.raises(RecorderError, match="header interval") as refused:
        finalize_partial(partial)
    still_open = set()
    for fd in Path("/proc/self/fd").iterdir():
        with contextlib.suppress(OSError):  # the listing's own, closed meanwhile
            still_open.add(os.readlink(fd))
    assert str(partial / "frames.jsonl") not in still_open and refused.value is not None


def test_a_clip_without_video_is_full_after_max_part_s(tmp_path: Path, monkeypatch) -> None:
    """A skeleton-only recording of two people grew by 300 MB in 45 minutes, all read into memory when
    finished: the app's recording goes on in a next part after MAX_PART_S, video or not."""
    monkeypatch.setattr(recorder_module, "MAX_PART_S", 1.0)
    times = [0.0]
    for _ in range(31):  # frame periods added up, as a stream's clock does: 30 make 0.9999999999999999
        times.append(times[-1] + 1 / 30)
    with Recorder(tmp_path, sample_name="bodies", config=CONFIG) as rec:
        for i in range(30):
            rec.write(make_frame(i, times[i], colour=False, bodies=2))
            assert rec.part_full is None
        rec.write(make_frame(30, times[30], colour=False, bodies=2))  # a whole second after the first
        assert rec.part_full == "it was 1 s long" and not rec.video_full  # not stopped by it: a part ends
        assert rec.write(make_frame(31, times[31], colour=False, bodies=2)) is True
        rec.went_on_in("S001C001P001R002A121", rec.part_full)
    sidecar = json.loads(rec.files.sidecar.read_text())
    assert sidecar["stopped"] == "it was 1 s long: the recording went on in S001C001P001R002A121"
    assert sidecar["frame_count"] == 32


def test_bad_arguments_and_timestamps(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="label map"):
        Recorder(tmp_path, label="patient fell", config=CONFIG)
    with pytest.raises(KeyError, match="unknown label 'dance'.*A121 'patient fell'"):
        Recorder(tmp_path, label="dance", label_map=LABELS, config=CONFIG)
    with pytest.raises(ValueError, match="label .* or a sample_name"):
        Recorder(tmp_path, config=CONFIG)
    with pytest.raises(ValueError, match="sample name"):
        Recorder(tmp_path, sample_name="../escape", config=CONFIG)
    rec = Recorder(tmp_path, sample_name="clip", config=CONFIG)
    rec.write(make_frame(0, 1.0))
    with pytest.raises(ValueError, match="frame 1 has timestamp 0.5 before the previous frame's 1.0"):
        rec.write(make_frame(1, 0.5))
    assert rec.write(make_frame(1, 1.1))
    rec.close()
    assert read_skeleton(rec.files.skeleton).num_frames == 2
    assert not rec.write(make_frame(2, 1.2))  # closed
    with pytest.raises(RecorderError, match=r"clip.skeleton already exists; choose another sample name"):
        Recorder(tmp_path, sample_name="clip", config=CONFIG)  # not 'recover': nothing was interrupted
    (tmp_path / "cut.partial").mkdir()  # a crash's leftover: recover is what finishes it
    with pytest.raises(RecorderError, match=r"cut.partial already exists: a recording of that name was "
                                            r"interrupted; python -m recordings recover"):
        Recorder(tmp_path, sample_name="cut", config=CONFIG)


def test_a_recording_that_cannot_start_leaves_nothing_to_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_module.os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        Recorder(tmp_path, sample_name="clip", config=CONFIG)
    assert list(tmp_path.iterdir()) == [] and interrupted_recordings(tmp_path) == []


def test_a_recording_a_full_disk_refuses_at_its_start_leaves_nothing_to_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The header's flush refused (no space left), and closing the file, which flushes it again, refused
    too: that kept the empty partial folder, which `recover` can never finish (no header line)."""
    real_open = open

    class OnAFullDisk:
        def __init__(self, path, mode):
            self.file = real_open(path, mode)

        def write(self, data: bytes) -> int:
            return len(data)  # into the buffer

        def flush(self) -> None:
            raise OSError(28, "No space left on device")

        def close(self) -> None:
            self.file.close()
            self.flush()

    def full_disk_open(path, mode="r", *args, **kwargs):
        if Path(path).name in ("frames.jsonl", "skeleton.txt"):
            return OnAFullDisk(path, mode)
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(recorder_module, "open", full_disk_open, raising=False)
    with pytest.raises(OSError, match="No space left"):
        Recorder(tmp_path, sample_name="clip", config=CONFIG)
    assert list(tmp_path.iterdir()) == [] and interrupted_recordings(tmp_path) == []


def test_a_recording_in_progress_is_not_taken_for_an_interrupted_one(tmp_path: Path) -> None:
    """`recover` (or `list`) run while an app records into the folder: the live recording is left alone."""
    from recordings.__main__ import main as recordings_main

    rec = Recorder(tmp_path, sample_name="live", config=CONFIG)
    for i in range(5):
        rec.write(make_frame(i, i / 30))
    assert interrupted_recordings(tmp_path) == [] and recover_partial_recordings(tmp_path) == []
    said, printed = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(said), contextlib.redirect_stdout(printed):
        assert recordings_main(["recover", str(tmp_path)]) == 0
        assert recordings_main(["list", str(tmp_path)]) == 0
    assert "live.partial: a running recording is writing it (or another user's)" in printed.getvalue()
    assert "(*.partial folders)" not in printed.getvalue()  # it said there were none, just after naming it
    # Labelled before it is finished: said so, not "no skeleton file" or "found 0 clips" in the folder.
    for given, message in ((tmp_path / "live.skeleton", "live.skeleton: still being recorded, or its "),
                           (tmp_path / "live.partial", "live.partial: a recording still being made, or ")):
        refused = io.StringIO()
        with contextlib.redirect_stderr(refused):
            assert recordings_main(["label", str(given), "--class", "patient fell"]) == 2
        assert message in refused.getvalue()
    assert "1 recording(s) in progress" in said.getvalue() and "crash" not in said.getvalue()
    with pytest.raises(RecorderError, match="a running recording is writing it"):
        finalize_partial(tmp_path / "live.partial")
    for i in range(5, 10):
        rec.write(make_frame(i, i / 30))
    assert rec.close().frame_count == 10 and not (tmp_path / "live.partial").exists()
    assert read_skeleton(tmp_path / "live.skeleton").num_frames == 10

    # Checked while its recorder removes it (the frames' files gone, the lock file not yet): not a
    # recording to recover, and no lock file made again in it to stop the recorder's last step.
    finishing = tmp_path / "finishing.partial"
    finishing.mkdir()
    (finishing / "recording.lock").touch()
    assert recorder_module.partial_recordings(tmp_path) == ([], [])
    assert recover_partial_recordings(tmp_path) == []
    (finishing / "recording.lock").unlink()
    assert recorder_module.partial_recordings(tmp_path) == ([], [])
    assert list(finishing.iterdir()) == []


def _complete_frames(partial: Path) -> int:
    with open(partial / "skeleton.txt", "rb") as body:
        blocks = len(complete_frame_blocks(body))
    lines = (partial / "frames.jsonl").read_bytes().count(b"\n") - 1
    return min(blocks, lines)


def test_partial_files_reach_the_disk_every_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [0.0]
    monkeypatch.setattr(recorder_module.time, "monotonic", lambda: clock[0])
    rec = Recorder(tmp_path, sample_name="synced", config=RecorderConfig(min_free_bytes=1))
    partial = tmp_path / "synced.partial"
    for i in range(25):
        clock[0] = 0.1 * i
        rec.write(make_frame(i, i / 30))
        if i == 9:  # 0.9 s: nothing has to be on disk yet
            assert _complete_frames(partial) < 10
    # The sync at 1.0 s (frame 10) and 2.0 s (frame 20) put everything up to them on disk.
    assert _complete_frames(partial) >= 21
    rec.close()
    assert not partial.exists()


CRASHING_RECORDER = textwrap.dedent(
    """
    import os, sys
    import numpy as np
    sys.path.insert(0, {tests!r})
    from test_recorder import make_frame
    from recordings.recorder import Recorder, RecorderConfig
    rec = Recorder({out!r}, sample_name="crash", source="sim", config=RecorderConfig(min_free_bytes=1,
                   sync_interval_s=0.0))
    for i in range(12):
        rec.write(make_frame(i, i / 30))
    os._exit(3)  # power cut: no close(), no flush of Python's buffers
    """
)


def test_a_new_recording_names_the_interrupted_ones_and_counts_those_it_does_not_name(tmp_path, caplog):
    for name in ("a", "b", "c", "d", "e"):  # five a crash left
        (tmp_path / f"{name}.partial").mkdir()
        (tmp_path / f"{name}.partial" / "frames.jsonl").write_text("{}\n")
    with caplog.at_level(logging.WARNING, logger="recordings.recorder"):
        Recorder(tmp_path, sample_name="next", config=RecorderConfig(min_free_bytes=1)).close()
    assert "5 recording(s) a crash interrupted (a.partial, b.partial, c.partial and 2 more)" in caplog.text


def test_a_clean_up_cut_short_after_a_clip_was_finished_is_found_and_removed(tmp_path: Path, capsys) -> None:
    """A kill while finalising removed the partial folder's files one by one: frames.jsonl gone first,
    the lock, a skeleton copy and a move mark left. `list` and `recover` said "no interrupted
    recordings" and the folder (megabytes of skeleton) stayed for good."""
    from recordings.__main__ import main as recordings_main

    with Recorder(tmp_path, sample_name="clip", config=RecorderConfig(min_free_bytes=1)) as rec:
        for i in range(10):
            rec.write(make_frame(i, i / 30))
    finished = (tmp_path / "clip.skeleton").read_bytes()
    leftover = tmp_path / "clip.partial"  # what the kill left
    leftover.mkdir()
    for name in ("recording.lock", "skeleton.txt", "rgb.avi.moved"):
        (leftover / name).write_bytes(b"left")
    assert interrupted_recordings(tmp_path) == [leftover]
    assert recordings_main(["recover", str(tmp_path)]) == 0
    assert "clip.partial: its clip is finished (what an interrupted clean-up left is removed)" in (
        capsys.readouterr().out)
    assert not leftover.exists() and (tmp_path / "clip.skeleton").read_bytes() == finished


def test_crash_loses_nothing_that_was_synced_and_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    tmp_path = tmp_path / "Station 4"  # a site's folder name, with a space: the commands to paste quote it
    tmp_path.mkdir()
    script = CRASHING_RECORDER.format(tests=str(REPO / "tests"), out=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120)
    assert done.returncode == 3, done.stderr.decode()
    partial = tmp_path / "crash.partial"
    assert partial.is_dir() and not (tmp_path / "crash.skeleton").exists()
    # What a person finds first: `list` and a new recording in the folder point at `recover`.
    from recordings.__main__ import main as recordings_main

    finished = Recorder(tmp_path, sample_name="S001C001P001R001A043", config=RecorderConfig(min_free_bytes=1))
    finished.write(make_frame(0, 0.0))
    finished.close()  # a clip beside the interrupted one: it is listed as well, by its NTU name
    (tmp_path / "S001C001P001R001A043.json").unlink()
    said, listed = io.StringIO(), io.StringIO()
    with contextlib.redirect_stderr(said), contextlib.redirect_stdout(listed):
        assert recordings_main(["list", str(tmp_path)]) == 0
    assert "S001C001P001R001A043" in listed.getvalue() and "falling" in listed.getvalue()
    assert "1 recording(s) a crash interrupted (crash.partial)" in said.getvalue()
    command = said.getvalue().split("python -m recordings ")[1].splitlines()[0]
    assert shlex.split(command) == ["recover", str(tmp_path)]  # pasted back, the folder is one argument
    with caplog.at_level(logging.WARNING, logger="recordings.recorder"):
        Recorder(tmp_path, sample_name="next", config=RecorderConfig(min_free_bytes=1)).close()
    assert f"a crash interrupted (crash.partial); python -m recordings recover '{tmp_path}' finalises" in (
        caplog.text)
    for path in [*tmp_path.glob("next*"), *tmp_path.glob("S001C001P001R001A043*")]:
        path.unlink()
    # Tear the tails as a power cut in the middle of writing frame 12 would.
    with open(partial / "skeleton.txt", "ab") as f:
        f.write(b"1\n5 0 0 0 0 0 0 0 0 2\n25\n0.1 0.2")
    with open(partial / "frames.jsonl", "ab") as f:
        f.write(b'{"t": 0.4')
    with open(partial / "rgb.avi", "ab") as f:
        f.write(b"00dc" + struct.pack("<I", 5000) + b"\xff\xd8" * 100)

    (files,) = recover_partial_recordings(tmp_path)
    assert files.frame_count == 12 and not partial.exists()
    assert read_skeleton(files.skeleton).num_frames == 12
    sidecar = json.loads(files.sidecar.read_text())
    assert sidecar["stopped"] == "recovered after an interruption" and len(sidecar["timestamps"]) == 12
    capture = cv2.VideoCapture(str(files.video))
    assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == 12
    decoded = 0
    while capture.read()[0]:
        decoded += 1
    assert decoded == 12
    assert recover_partial_recordings(tmp_path) == []


def test_recovery_keeps_the_frames_present_in_every_file(tmp_path: Path) -> None:
    rec = Recorder(
        tmp_path, sample_name="uneven", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0)
    )
    for i in range(5):
        rec.write(make_frame(i, i / 30))
    abandon(rec)
    partial = rec.partial_dir
    lines = (partial / "frames.jsonl").read_bytes().split(b"\n")
    (partial / "frames.jsonl").write_bytes(b"\n".join(lines[:4]) + b"\n")  # header + 3 frames
    files = finalize_partial(partial)
    assert files.frame_count == 3
    assert read_skeleton(files.skeleton).num_frames == 3 and len(RgbVideo(files.video)) == 3
    with pytest.raises(ValueError, match="not a recorder's partial folder"):
        finalize_partial(tmp_path)


def test_recovery_keeps_only_the_frames_whose_skeleton_block_is_whole(tmp_path: Path) -> None:
    # A crash can cut skeleton.txt in the middle of the last frame's block while frames.jsonl and the
    # video hold that frame: the clip ends at the last whole block, in every file.
    partial, _ = crashed_recording(tmp_path, "cut_skeleton", (make_frame(i, i / 30) for i in range(5)))
    skeleton = partial / "skeleton.txt"
    skeleton.write_bytes(skeleton.read_bytes()[:-40])
    files = finalize_partial(partial)
    assert files.frame_count == 4
    assert read_skeleton(files.skeleton).num_frames == 4 and len(RgbVideo(files.video)) == 4
    timestamps = json.loads(files.sidecar.read_text())["timestamps"]
    assert timestamps == pytest.approx([i / 30 for i in range(4)], abs=1e-6)


def test_recovery_finalises_every_interrupted_recording_in_the_folder(tmp_path: Path) -> None:
    # Several crashes (or one crash of several recorders) leave several .partial folders: each is
    # finalised and reported, not only the last one.
    names = ["first", "second", "third"]
    for count, name in enumerate(names, start=2):
        crashed_recording(tmp_path, name, (make_frame(i, i / 30) for i in range(count)))
    recovered = recover_partial_recordings(tmp_path)
    assert sorted((f.skeleton.name, f.frame_count) for f in recovered) == [
        ("first.skeleton", 2), ("second.skeleton", 3), ("third.skeleton", 4)]
    assert all(f.skeleton.is_file() and f.sidecar.is_file() for f in recovered)
    assert interrupted_recordings(tmp_path) == []


def test_recovery_leaves_an_interrupted_conversion_to_be_converted_again(tmp_path: Path, caplog, capsys
                                                                          ) -> None:
    """A conversion killed halfway (kill -9: Ctrl-C discards it) was finished by recover as a clip of its
    first half, which list and training took as whole; its source still holds every frame."""
    rec = Recorder(tmp_path, sample_name="0005-M", source="pkummd:0005-M.txt.xz",
                   config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    rec.write(make_frame(0, 0.0))
    abandon(rec)
    crashed_recording(tmp_path, "live", (make_frame(i, i / 30) for i in range(2)))
    with caplog.at_level(logging.INFO):
        recovered = recover_partial_recordings(tmp_path)
    assert [f.skeleton.name for f in recovered] == ["live.skeleton"]  # the others are recovered
    said = "an interrupted conversion of 0005-M.txt.xz: remove 0005-M.partial and convert the source again"
    assert f"0005-M.partial: {said}" in caplog.text
    assert rec.partial_dir.is_dir() and not (tmp_path / "0005-M.skeleton").exists()
    with pytest.raises(RecorderError, match=f"0005-M.partial already exists: {said}"):  # convert again
        Recorder(tmp_path, sample_name="0005-M", source="pkummd:0005-M.txt.xz", config=CONFIG)
    from recordings.__main__ import main

    assert main(["recover", str(tmp_path)]) == 0
    assert f"0005-M.partial: {said}" in capsys.readouterr().out
    # Killed while its clip was put in place (skeleton, then sidecar): only the finishing is left.
    (tmp_path / "0005-M.skeleton").write_text("0\n")
    assert interrupted_conversion(rec.partial_dir) is None
    (tmp_path / "0005-M.skeleton").unlink()
    # Running now (its recorder holds the folder's lock): not to be removed.
    running = Recorder(tmp_path, sample_name="0006-M", source="pkummd:0006-M.txt.xz", config=CONFIG)
    assert interrupted_conversion(running.partial_dir) is None
    with pytest.raises(RecorderError, match="0006-M.partial already exists: a recording of that name"):
        Recorder(tmp_path, sample_name="0006-M", source="pkummd:0006-M.txt.xz", config=CONFIG)
    running.discard()


def test_recovery_stops_at_a_damaged_line_in_the_middle(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Frames after a damaged frames.jsonl line are not kept: their times would pair with the wrong
    skeleton blocks and video frames."""
    partial, lines = crashed_recording(tmp_path, "scrambled", (make_frame(i, i / 30) for i in range(6)))
    lines[3] = b'{"t": 0.0666, "ind'  # the third frame's line, damaged; frames 4-6 follow intact
    (partial / "frames.jsonl").write_bytes(b"\n".join(lines))
    with caplog.at_level(logging.WARNING, logger="recordings.recorder"):
        files = finalize_partial(partial)
    assert files.frame_count == 2 and read_skeleton(files.skeleton).num_frames == 2
    assert "line 4 is damaged; keeping the 2 frames before it" in caplog.text


def test_recovery_names_a_video_it_cannot_read(tmp_path: Path) -> None:
    config = RecorderConfig(min_free_bytes=1, sync_interval_s=0.0)
    rec = Recorder(tmp_path, sample_name="scribbled", config=config)
    rec.write(make_frame(0, 0.0))
    video = rec.partial_dir / "rgb.avi"
    video.write_bytes(b"RIFX" + video.read_bytes()[4:])  # a header something else overwrote
    abandon(rec)
    with pytest.raises(RecorderError, match=r"rgb\.avi: at byte offset 0: not an AVI written by"):
        finalize_partial(rec.partial_dir)
    assert (rec.partial_dir / "skeleton.txt").exists()  # nothing recorded is lost: recovery can try again


def test_disk_space_is_checked_before_and_while_recording(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    free = [10 * 1024**3]

    def usage(path: object) -> object:
        return type("Usage", (), {"total": 100 * 1024**3, "used": 0, "free": free[0]})()

    monkeypatch.setattr(recorder_module.shutil, "disk_usage", usage)
    config = RecorderConfig(min_free_bytes=2 * 1024**3, sync_interval_s=0.0)
    free[0] = 35 * 10**6  # under a gigabyte in megabytes: not '0.04 GB'
    with pytest.raises(LowDiskSpaceError, match=r"cannot start recording: low disk space .*: 35 MB free, the "
                       r"recorder keeps at least 2.1 GB"):
        Recorder(tmp_path, sample_name="full", config=config)
    assert list(tmp_path.iterdir()) == []

    free[0] = 10 * 1024**3
    rec = Recorder(tmp_path, sample_name="filling", config=config)
    assert rec.write(make_frame(0, 0.0)) and rec.write(make_frame(1, 0.033))
    free[0] = 1024**3
    assert not rec.write(make_frame(2, 0.067))  # stops cleanly, keeping what it has
    assert "low disk space" in rec.stopped_reason and not rec.recording
    assert not rec.write(make_frame(3, 0.1))
    assert read_skeleton(tmp_path / "filling.skeleton").num_frames == 3
    sidecar = json.loads((tmp_path / "filling.json").read_text())
    assert sidecar["stopped"].startswith("low disk space")
    assert rec.close().frame_count == 3


# ---- labels, intervals and sessions -------------------------------------------------------------------


def test_intervals_marked_while_recording_land_in_the_sidecar(tmp_path: Path) -> None:
    from recordings.clip import read_sidecar

    config = RecorderConfig(min_free_bytes=1, naming=recorder_module.ClipNaming(setup=7, performer=3))
    with Recorder(tmp_path, label="patient fell", label_map=LABELS, config=config) as rec:
        rec.add_interval(99.0, 100.1, "patient fell")  # marked before the first frame: cut to the clip
        for i in range(30):
            rec.write(make_frame(i % 20, 100.0 + i / 10))
            if i == 12:
                rec.add_interval(101.5, 102.0, "patient leaves bed", person=5)
        rec.add_interval(102.5, 110.0, "patient fell")  # still open at the end: cut at the last frame
    assert rec.files.skeleton.name == "S007C001P003R001A121.skeleton"
    sidecar = read_sidecar(rec.files.sidecar)
    assert sidecar.raw["session"] == 7 and sidecar.label == "patient fell"
    assert sidecar.timeline.to_json() == [
        {"start": 0.0, "end": 0.1, "label": "patient fell"},
        {"start": 1.5, "end": 2.0, "label": "patient leaves bed", "person": 5},
        {"start": 2.5, "end": 3.0, "label": "patient fell"},  # 2.9 s + one frame period
    ]
    with pytest.raises(ValueError, match="must end after it starts"):
        rec.add_interval(2.0, 1.0, "patient fell")
    # A mark after the end (the GUI's key a moment after the recording stopped itself) would never be
    # written: it is refused, not dropped.
    with pytest.raises(RecorderError, match=r"has ended \(closed\); 'patient fell' was not marked"):
        rec.add_interval(3.0, 3.5, "patient fell")


def test_intervals_survive_a_crash(tmp_path: Path) -> None:
    """A mark reaches frames.jsonl with the next frame, so `recover` keeps it."""
    rec = Recorder(tmp_path, sample_name="S002C001P001R001A121", config=CONFIG)
    for i in range(10):
        rec.write(make_frame(i, i / 10))
        if i == 3:
            rec.add_interval(0.2, 0.6, "patient fell")
    rec._sync()  # what a crash after the last sync leaves behind
    abandon(rec)
    (files,) = recover_partial_recordings(tmp_path)
    sidecar = json.loads(files.sidecar.read_text())
    assert sidecar["intervals"] == [{"start": 0.2, "end": 0.6, "label": "patient fell"}]
    assert sidecar["session"] == 2 and sidecar["frame_count"] == 10


def recording_with_depth(folder: Path, name: str, frames: int) -> Recorder:
    """A recorder that has written `frames` frames with colour and depth (frame i's depth reads 1000 + i mm),
    not yet finalised."""
    rec = Recorder(folder, sample_name=name, config=CONFIG)
    for i in range(frames):
        frame = make_frame(i, i / 30)
        frame.depth = np.full((424, 512), 1000 + i, np.uint16)
        rec.write(frame)
    return rec


def test_a_finalisation_cut_short_after_moving_the_video_and_depth_recovers_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ctrl-C between moving the video and depth into place and writing the sidecar: recovery takes them
    from where they were moved to (it found no video or depth in the partial folder and listed none)."""
    from recordings.clip import ClipRecording

    rec = recording_with_depth(tmp_path, "cut", 10)
    write = recorder_module.replace_atomically

    def interrupted(path, data):
        if str(path).endswith(".json"):
            raise KeyboardInterrupt
        write(path, data)

    monkeypatch.setattr(recorder_module, "replace_atomically", interrupted)
    with pytest.raises(KeyboardInterrupt):
        rec.close()
    monkeypatch.undo()
    assert not (rec.partial_dir / "rgb.avi").exists() and (tmp_path / "cut_rgb.avi").exists()
    (files,) = recover_partial_recordings(tmp_path)
    assert files.video == tmp_path / "cut_rgb.avi" and files.depth == tmp_path / "cut_depth.bin"
    frames = list(ClipRecording(files.skeleton).frames())
    assert len(frames) == 10 and all(f.color is not None and f.depth is not None for f in frames)


def record_syncs(monkeypatch: pytest.MonkeyPatch, module, fsynced: Callable[[int], object],
                 renamed: Callable[[object, object], object]) -> list[tuple[str, object]]:
    """The order in which `module` fsyncs files, renames and syncs folders (each still done): a list of
    ("fsync", fsynced(fd)), ("replace", renamed(source, target)) and ("sync_directory", Path)."""
    events: list[tuple[str, object]] = []
    real_fsync, real_replace, real_sync_directory = os.fsync, os.replace, module.sync_directory

    def fsync(fd: int) -> None:
        events.append(("fsync", fsynced(fd)))
        real_fsync(fd)

    def replace(source, target) -> None:
        events.append(("replace", renamed(source, target)))
        real_replace(source, target)

    def sync_directory(path) -> None:
        events.append(("sync_directory", Path(path)))
        real_sync_directory(path)

    monkeypatch.setattr(module.os, "fsync", fsync)
    monkeypatch.setattr(module.os, "replace", replace)
    monkeypatch.setattr(module, "sync_directory", sync_directory)
    return events


def test_the_mark_of_a_move_is_on_disk_with_its_folder_before_the_video_and_depth_are_moved(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Recovery trusts a file under the clip's name only where a `.moved` mark says this finalisation put
    it there: a power cut right after the move must find the mark, so the mark file and the folder that
    lists it are synced before the rename (else the moved video or depth is taken for an old one)."""
    rec = recording_with_depth(tmp_path, "moved", 5)
    partial = rec.partial_dir

    def mark_or_other(fd: int) -> str:  # which file: a mark is named, anything else is "other"
        synced = os.fstat(fd)
        marks = [m.name for m in partial.glob("*.moved") if os.path.samestat(synced, m.stat())]
        return marks[0] if marks else "other"

    events = record_syncs(monkeypatch, recorder_module, mark_or_other, lambda source, _: Path(source).name)
    rec.close()
    monkeypatch.undo()
    assert rec.files.video is not None and rec.files.depth is not None
    for part in ("rgb.avi", "depth.bin"):
        mark_synced = events.index(("fsync", f"{part}.moved"))
        folder_synced = events.index(("sync_directory", partial), mark_synced)
        assert mark_synced < folder_synced < events.index(("replace", part)), (part, events)


def test_a_video_of_the_same_name_from_before_is_not_taken_for_the_clips(tmp_path: Path) -> None:
    """Only a move this finalisation made is taken back: a skeleton-only clip recorded under a name whose
    old video is still lying there (its clip deleted by hand) must not get that video."""
    with Recorder(tmp_path, sample_name="again", config=CONFIG) as first:
        for i in range(5):
            first.write(make_frame(i, i / 30))
    first.files.skeleton.unlink()
    first.files.sidecar.unlink()
    skeleton_only = RecorderConfig(min_free_bytes=1, record_video=False)
    with Recorder(tmp_path, sample_name="again", config=skeleton_only) as second:
        for i in range(3):
            second.write(make_frame(i, i / 30))
    assert second.files.video is None and json.loads(second.files.sidecar.read_text())["video"] is None


def test_a_finalisation_the_disk_refuses_leaves_the_recording_to_recover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A full disk at the last sync: the partial folder's files and lock are let go (a held lock makes
    it a running recording to `recover`), close() says how to finish it, and nothing synced is lost."""
    rec = Recorder(tmp_path, sample_name="full", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    for i in range(5):
        rec.write(make_frame(i, i / 30))

    def full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(recorder_module.os, "fsync", full)
    with pytest.raises(RecorderError, match=r"full\.partial: finalising the recording failed \(.*No space "
                       r"left.*: python -m recordings recover "):
        rec.close()
    monkeypatch.undo()
    assert not rec.recording and rec.write(make_frame(5, 5 / 30)) is False
    with pytest.raises(RecorderError, match="finalising the recording failed"):
        rec.close()
    assert interrupted_recordings(tmp_path) == [rec.partial_dir]  # not taken for a running one
    (files,) = recover_partial_recordings(tmp_path)
    assert files.frame_count == 5 and len(RgbVideo(files.video)) == 5


def test_overlapping_marks_are_fitted_not_refused() -> None:
    from core.timeline import Interval
    from recordings.recorder import fit_intervals

    marks = [Interval(0.5, 2.0, "a"), Interval(1.5, 3.0, "b"), Interval(1.0, 1.8, "c", person=4),
             Interval(3.5, 9.0, "a"), Interval(5.0, 6.0, "d")]
    fitted = fit_intervals(marks, 4.0, "test")
    assert [(i.start, i.end, i.label) for i in fitted] == [(0.5, 2.0, "a"), (2.0, 3.0, "b"), (3.5, 4.0, "a")]
    # Two people's marks may overlap (both act at once); one person's may not.
    two = [Interval(0.5, 2.0, "drink", person=1), Interval(1.0, 3.0, "wave", person=2),
           Interval(1.5, 2.5, "sit", person=1)]
    assert [(i.start, i.end, i.person) for i in fit_intervals(two, 4.0, "test")] == [
        (0.5, 2.0, 1), (1.0, 3.0, 2), (2.0, 2.5, 1)]


def test_next_session_counts_past_every_clip_in_the_folder(tmp_path: Path) -> None:
    from recordings.recorder import SIDECAR_FORMAT, next_session

    assert next_session(tmp_path / "absent") == 1
    (tmp_path / "S004C001P001R001A121.skeleton").write_text("0\n")
    (tmp_path / "S002C001P001R001A121.partial").mkdir()
    # An unlabelled clip's name is its time: its session is its sidecar's (read without its frames' times).
    (tmp_path / "live_20261130_101010.json").write_text(json.dumps(
        {"format": SIDECAR_FORMAT, "session": 9, "timestamps": [0.0, 0.033]}, indent=1))
    (tmp_path / "notes.txt").write_text("S099")
    (tmp_path / "results.json").write_text(json.dumps({"session": 50}))  # not a clip's sidecar
    assert next_session(tmp_path) == 10
    # A newer version's sidecar (a room of the shared folder upgraded first): its session counts too.
    (tmp_path / "live_20261207_090000.json").write_text(json.dumps(
        {"format": SIDECAR_FORMAT, "format_version": 99, "session": 11, "timestamps": []}))
    assert next_session(tmp_path) == 12


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permission bits")
def test_files_written_atomically_are_readable_by_others_as_plain_files_are(tmp_path):
    # A clip or labels.txt that only its writer can read is no use to the site's training account.
    from core.atomic import replace_atomically

    plain = tmp_path / "plain.txt"
    plain.write_bytes(b"x")
    written = tmp_path / "labels.txt"
    replace_atomically(written, b"A121\tpatient fell\n")
    assert written.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
    written.chmod(0o640)  # a file's own permissions survive its rewrite
    replace_atomically(written, b"A121\tpatient fell\nA122\tpatient left bed\n")
    assert written.stat().st_mode & 0o777 == 0o640
    assert written.read_bytes().endswith(b"left bed\n")
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".partial")] == []


def test_a_read_only_file_is_refused_by_name_and_left_as_it_was(tmp_path):
    """A labels.txt copied from a read-only share: Windows replaces no read-only file, and deletes no
    read-only temporary copy either; the error was the copy's, and the copy stayed beside it."""
    from core.atomic import replace_atomically

    labels = tmp_path / "labels.txt"
    labels.write_bytes(b"A121\tpatient fell\n")
    labels.chmod(0o444)
    with pytest.raises(PermissionError, match=r"read-only; make it writable to change it: .*labels\.txt"):
        replace_atomically(labels, b"A121\tpatient fell\nA122\tother\n")
    assert labels.read_bytes() == b"A121\tpatient fell\n"
    assert [p.name for p in tmp_path.iterdir()] == ["labels.txt"]  # no copy left beside it


def test_an_atomic_rewrite_syncs_the_file_before_its_rename_and_the_folder_after(tmp_path, monkeypatch):
    # A power cut after the rename must find the new contents (the file synced before the rename: else
    # it can come back empty under the name) and the rename itself (the folder synced after it: else the
    # old file can come back, with whatever was written since on the strength of the new one).
    from core import atomic

    target = tmp_path / "labels.txt"
    target.write_bytes(b"A121\tpatient fell\n")
    events = record_syncs(monkeypatch, atomic, lambda fd: os.fstat(fd).st_ino,
                          lambda _, destination: Path(destination))
    atomic.replace_atomically(target, b"A121\tpatient fell\nA122\tpatient leaves bed\n")
    monkeypatch.undo()
    renamed = events.index(("replace", target))
    # The file now under the name (the temporary one, renamed) was synced before the rename.
    assert events.index(("fsync", target.stat().st_ino)) < renamed
    assert events.index(("sync_directory", tmp_path)) > renamed
    if os.name == "posix":  # where a folder can be synced: it is, after the rename
        assert events.index(("fsync", tmp_path.stat().st_ino), renamed) > renamed
    assert target.read_bytes().endswith(b"leaves bed\n")


@pytest.mark.skipif(os.name != "posix", reason="folders are synced on POSIX only")
def test_a_file_system_that_cannot_sync_a_folder_still_takes_whole_files(tmp_path, monkeypatch):
    """SMB shares, vboxsf, WSL's drvfs and virtiofs refuse fsync on a folder (EINVAL, EBADF): the file was
    already in place, and the error stopped training at its first checkpoint and prepare at every clip."""
    import errno
    import stat as stat_module

    from core import atomic

    real_fsync = os.fsync

    def no_folder_sync(fd: int) -> None:
        if stat_module.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "Invalid argument")
        real_fsync(fd)

    monkeypatch.setattr(atomic.os, "fsync", no_folder_sync)
    target = tmp_path / "best.pt"
    atomic.write_then_rename(target, lambda f: f.write(b"weights"))
    assert target.read_bytes() == b"weights" and [p.name for p in tmp_path.iterdir()] == ["best.pt"]

    def broken_disk(fd: int) -> None:
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(atomic.os, "fsync", broken_disk)  # a real failure is still said
    with pytest.raises(OSError, match="Input/output error"):
        atomic.write_then_rename(target, lambda f: f.write(b"other weights"))


def test_a_file_checked_before_it_is_kept_is_synced_then_renamed_and_its_folder_synced(tmp_path, monkeypatch):
    """An ONNX export is written, checked, then renamed into place: without syncs a power cut could leave
    an empty model under its final name."""
    import stat as stat_module

    from recordings.atomic import rename_durably

    synced, real_fsync = [], os.fsync

    def seen(fd: int) -> None:
        synced.append("folder" if stat_module.S_ISDIR(os.fstat(fd).st_mode) else os.fstat(fd).st_size)
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", seen)
    checking, target = tmp_path / ".model.onnx.checking", tmp_path / "model.onnx"
    target.write_bytes(b"old")
    checking.write_bytes(b"the new graph")
    rename_durably(checking, target)
    assert target.read_bytes() == b"the new graph" and not checking.exists()
    assert synced == [len(b"the new graph"), "folder"]  # its bytes first, then the rename


def test_a_lock_file_another_account_made_is_held_through_a_read_only_handle(tmp_path, monkeypatch):
    """labels.txt.lock made by a colleague's account (0644): every save of a label refused, though the
    sidecar beside it could be written."""
    from core import locks

    lock = tmp_path / "labels.txt.lock"
    lock.write_bytes(b"")

    def not_for_writing(path, mode="r", *args, **kwargs):
        if mode != "rb":
            raise PermissionError(13, "Permission denied", str(path))
        return open(path, mode, *args, **kwargs)

    monkeypatch.setattr(locks, "open", not_for_writing, raising=False)
    with locks.held(lock), open(lock, "rb") as other, pytest.raises(OSError):
        locks.lock_exclusive(other)  # held: another process's try is refused


def test_a_file_another_program_holds_open_on_windows_is_replaced_once_it_lets_go(tmp_path, monkeypatch):
    """Windows replaces no file held open without delete-sharing (a checkpoint being loaded, labels.txt in
    a spreadsheet, a virus scanner's look): the save failed at once, a training run stopped at best.pt."""
    from core import atomic

    real_replace, refused = os.replace, []

    def held_twice(source, target) -> None:
        if len(refused) < 2:
            refused.append(target)
            raise PermissionError(13, "Access is denied")
        real_replace(source, target)

    monkeypatch.setattr(atomic.os, "replace", held_twice)
    target = tmp_path / "best.pt"
    name = os.name
    os.name = "nt"  # (put back at once below: pytest itself reads it)
    try:
        atomic._replace(_temporary_with(tmp_path, b"weights"), target)
        assert target.read_bytes() == b"weights" and len(refused) == 2
        monkeypatch.setattr(atomic, "REPLACE_RETRY_S", 0.0)  # held for good: said, naming the file
        refused.clear()
        with pytest.raises(PermissionError, match=r"held open by another program\?.*best\.pt"):
            atomic._replace(_temporary_with(tmp_path, b"other"), target)
    finally:
        os.name = name


def _temporary_with(folder: Path, data: bytes) -> Path:
    path = folder / ".best.pt.1-00000000.partial"
    path.write_bytes(data)
    return path


def test_a_discard_cut_short_leaves_no_folder_taken_for_an_interrupted_recording(tmp_path, monkeypatch):
    """A recording given up at the stop removes its folder on a background thread, which the process's end
    may cut short: the folder it left, its frames.jsonl still there, was listed as interrupted, and its
    recovery failed (no frames)."""
    from recordings import recorder as recorder_module

    rec = Recorder(tmp_path, label="A121", label_map=LABELS, config=CONFIG)
    partial = rec.partial_dir
    monkeypatch.setattr(recorder_module.shutil, "rmtree", lambda *args, **kwargs: None)  # cut short
    rec.discard()
    assert partial.is_dir() and not (partial / "frames.jsonl").exists()
    assert recorder_module.partial_recordings(tmp_path)[0] == []
