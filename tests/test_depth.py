"""Depth in clips (recordings/depth.py and the recorder): written as frames come, lossless, crash-safe,
read back nearest in time; a .xef file's depth carried through a replay and live's recorder."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest
from test_recorder import crashed_recording
from xef_writer import sample_recording

from core.camera import DEPTH_CAMERA, ColorCamera
from core.frame import Body, Frame
from core.privacy import PrivacyMode, face_boxes
from live.capture import Capture, CapturePrivacy, FrameRing, RecordingSink
from live.sources import ReplayOptions, replay_source
from live.tracks import TrackTable
from recordings import depth as depth_module
from recordings.__main__ import main
from recordings.clip import ClipRecording, open_recording, read_sidecar
from recordings.depth import DepthFile, DepthFormatError, DepthWriter
from recordings.recorder import Recorder, RecorderConfig, finalize_partial, recover_partial_recordings

REPO = Path(__file__).resolve().parents[1]
CONFIG = RecorderConfig(min_free_bytes=1)


def depth_image(i: int) -> np.ndarray:
    """A depth frame unlike any other: a ramp of 500-4500 mm, shifted by i, with holes (0) and the
    full 16-bit range at one pixel (a lossy or 8-bit path would not survive it)."""
    rows, cols = np.mgrid[0:424, 0:512]
    image = (500 + (rows * 7 + cols * 3 + 11 * i) % 4000).astype(np.uint16)
    image[100:120, 200:260] = 0  # no reading (too close, too far, a dark surface)
    image[0, 0] = 65535
    return image


def body() -> Body:
    joints = np.zeros((25, 3), np.float32)
    joints[:, 1] = np.linspace(-0.9, 0.6, 25)
    joints[:, 2] = 2.5
    return Body(7, joints, np.full(25, 2, np.int8), np.full((25, 2), np.nan, np.float32))


def frame(i: int, t: float, depth: bool = True) -> Frame:
    color = np.full((48, 64, 3), 10 * i, np.uint8)
    return Frame(t, color, [body()], i, depth=depth_image(i) if depth else None)


def test_recorded_depth_round_trips_losslessly_with_its_times(tmp_path: Path) -> None:
    # Frame 2 brings no depth (a sensor tick without one): it has no record, the others keep theirs.
    times = [50.0, 50.033, 50.067, 50.1, 50.167]
    with Recorder(tmp_path, sample_name="clip", source="test", config=CONFIG) as rec:
        for i, t in enumerate(times):
            assert rec.write(frame(i, t, depth=i != 2))
    files = rec.files
    assert files.depth == tmp_path / "clip_depth.bin" and files.depth.is_file()
    assert not (tmp_path / "clip.partial").exists()
    sidecar = json.loads(files.sidecar.read_text())
    assert sidecar["depth"] == {
        "file": "clip_depth.bin", "format": "where-to-focus depth", "format_version": 1,
        "encoding": "PNG-16 per frame, millimetres", "width": 512, "height": 424, "frames": 4,
    }
    assert sidecar["calibration"]["depth_camera"] == DEPTH_CAMERA.to_dict()

    with DepthFile(files.depth) as depth:
        assert depth.indices.tolist() == [0, 1, 3, 4]
        np.testing.assert_allclose(depth.times, [0.0, 0.033, 0.1, 0.167], atol=1e-6)
        for record, index in enumerate(depth.indices):
            image = depth.image(record)
            assert image.dtype == np.uint16 and np.array_equal(image, depth_image(int(index)))
        # Each payload is a standard 16-bit PNG: any image tool reads it.
        png = cv2.imdecode(np.frombuffer(depth.payload(1), np.uint8), cv2.IMREAD_UNCHANGED)
        assert np.array_equal(png, depth_image(1))
        # Compressed: well under the raw 434 KB a frame.
        assert files.depth.stat().st_size < 4 * 512 * 424 * 2 / 2

    with open_recording(files.skeleton) as replay:
        frames = list(replay.frames())
        assert isinstance(replay, ClipRecording) and replay.sidecar.depth_camera == DEPTH_CAMERA
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert np.array_equal(frames[0].depth, depth_image(0)) and np.array_equal(frames[4].depth, depth_image(4))
    # The frame without depth gets the record nearest in time (frame 1's, 34 ms before it; frame 3's
    # is 33 ms after, and nearest wins), as a .xef file's frames do.
    assert np.array_equal(frames[2].depth, depth_image(3))
    with open_recording(files.skeleton, depth=False) as replay:
        assert all(f.depth is None for f in replay.frames())


def test_depth_can_be_left_out_and_clips_without_depth_have_no_file(tmp_path: Path) -> None:
    with Recorder(tmp_path / "off", sample_name="clip", config=RecorderConfig(min_free_bytes=1,
                                                                              record_depth=False)) as rec:
        rec.write(frame(0, 0.0))
    with Recorder(tmp_path / "none", sample_name="clip", config=CONFIG) as rec2:
        rec2.write(frame(0, 0.0, depth=False))
    for files in (rec.files, rec2.files):
        assert files.depth is None and not files.skeleton.with_name("clip_depth.bin").exists()
        assert json.loads(files.sidecar.read_text())["depth"] is None
        with open_recording(files.skeleton) as replay:
            assert replay.depth is None and next(replay.frames()).depth is None


def test_a_wrong_depth_image_is_refused_naming_the_clip_frame(tmp_path: Path) -> None:
    rec = Recorder(tmp_path, sample_name="clip", config=CONFIG)
    bad = Frame(0.0, None, [], 0, depth=np.zeros((424, 512), np.float32))
    with pytest.raises(ValueError, match=r"depth\.bin: frame 0: depth must be uint16 \(424, 512\)"):
        rec.write(bad)
    rec.close()


def test_a_damaged_depth_file_is_named_and_costs_only_its_frames(tmp_path: Path, caplog, capsys) -> None:
    with Recorder(tmp_path, sample_name="clip", config=CONFIG) as rec:
        for i in range(3):
            rec.write(frame(i, i / 10))  # 0.1 s apart: a frame's nearest depth is its own
    path = rec.files.depth
    data = bytearray(path.read_bytes())
    header = depth_module.HEADER.size
    second = header + depth_module.RECORD.size + struct.unpack_from("<I", data, header + 16)[0]

    # Depth is a clip's extra: its damage costs the frames it holds, said naming the file and the byte
    # offset, and the clip replays (it could not be opened, not even by `info`, nor replayed past it).
    def replayed() -> list[Frame]:
        with ClipRecording(rec.files.skeleton) as replay:
            return list(replay.frames())

    # A record's header overwritten: the frames before it keep their depth.
    broken = bytearray(data)
    broken[second : second + 4] = b"XXXX"
    path.write_bytes(bytes(broken))
    caplog.clear()
    assert [f.depth is not None for f in replayed()] == [True, False, False]
    assert (f"clip_depth.bin: at byte offset {second}: expected b'DPNG', found b'XXXX': 1 of its 3 depth "
            "frames readable; the rest of the clip replays without depth") in caplog.text
    assert main(["info", str(rec.files.skeleton)]) == 0
    assert "depth clip_depth.bin: 1 frames 512x424 mm  DAMAGED: " in capsys.readouterr().out

    # The file cut short: the last record's image runs past the end.
    path.write_bytes(bytes(data[:-100]))
    assert [f.depth is not None for f in replayed()] == [True, True, False]
    assert "frame 2's image needs" in caplog.text
    # Cut where a record ends: nothing in the file is damaged, the sidecar says how many there were.
    path.write_bytes(bytes(data[:second]))
    caplog.clear()
    assert [f.depth is not None for f in replayed()] == [True, False, False]
    assert "clip_depth.bin: 1 of its 3 depth frames readable" in caplog.text

    # An image's bytes changed: the CRC catches it when that frame is read, and only it goes.
    flipped = bytearray(data)
    flipped[second + depth_module.RECORD.size + 60] ^= 0xFF
    path.write_bytes(bytes(flipped))
    caplog.clear()
    assert [f.depth is not None for f in replayed()] == [True, False, True]
    crc = f"clip_depth.bin: at byte offset {second}: frame 1's image fails its CRC: that frame, and any other"
    assert crc in caplog.text

    # Not a depth file at all, or empty (a crash): named, and info describes the clip all the same.
    path.write_bytes(b"PK\x03\x04 something else")
    with pytest.raises(DepthFormatError, match=r"clip_depth\.bin: at byte offset 0: not a depth file"):
        DepthFile(path)
    for data in (b"PK\x03\x04 something else", b""):
        path.write_bytes(data)
        assert [f.depth for f in replayed()] == [None] * 3
        assert main(["info", str(rec.files.skeleton)]) == 0
        assert "depth clip_depth.bin: 0 frames  DAMAGED: " in capsys.readouterr().out
    # The skeleton and video replay without depth when the file is gone (and say so).
    path.unlink()
    with ClipRecording(rec.files.skeleton) as replay:
        assert replay.depth is None and len(list(replay.frames())) == 3


def test_info_lists_a_clips_depth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with Recorder(tmp_path, sample_name="clip", config=CONFIG) as rec:
        for i in range(3):
            rec.write(frame(i, i / 30))
    assert main(["info", str(rec.files.skeleton)]) == 0
    assert "depth clip_depth.bin: 3 frames 512x424 mm" in capsys.readouterr().out


CRASHING_RECORDER = textwrap.dedent(
    """
    import os, sys
    sys.path.insert(0, {tests!r})
    from test_depth import frame
    from recordings.recorder import Recorder, RecorderConfig
    rec = Recorder({out!r}, sample_name="crash", config=RecorderConfig(min_free_bytes=1, sync_interval_s=0.0))
    for i in range(6):
        rec.write(frame(i, i / 30))
    os._exit(3)  # power cut: no close()
    """
)


def test_a_crash_keeps_the_depth_written_and_recovery_drops_a_torn_record(tmp_path: Path) -> None:
    script = CRASHING_RECORDER.format(tests=str(REPO / "tests"), out=str(tmp_path))
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 3, done.stderr.decode()
    partial = tmp_path / "crash.partial"
    with DepthFile(partial / "depth.bin") as written:
        assert written.indices.tolist() == list(range(6))
    # A power cut in the middle of frame 6's depth record: its header reached the disk, its image did not.
    payload = cv2.imencode(".png", depth_image(6))[1].tobytes()
    with open(partial / "depth.bin", "ab") as f:
        f.write(depth_module.RECORD.pack(b"DPNG", 6, 0.2, len(payload), 0) + payload[:200])
    (files,) = recover_partial_recordings(tmp_path)
    assert files.frame_count == 6 and files.depth == tmp_path / "crash_depth.bin"
    with DepthFile(files.depth) as depth:
        assert depth.indices.tolist() == list(range(6))
        assert np.array_equal(depth.image(5), depth_image(5))
    assert read_sidecar(files.sidecar).depth_file == files.depth


def test_recovery_checks_each_image_and_keeps_only_the_depth_of_kept_frames(tmp_path: Path) -> None:
    partial, lines = crashed_recording(tmp_path, "zeroed", (frame(i, i / 30) for i in range(5)))
    # The frame list lost its last two lines (the clip keeps 3 frames) ...
    (partial / "frames.jsonl").write_bytes(b"\n".join(lines[:4]) + b"\n")
    # ... and frame 2's image came back zeroed (a header on disk, its data blocks never written).
    with DepthFile(partial / "depth.bin") as written:
        start, end = int(written.offsets[2]) + depth_module.RECORD.size, written.end_of(2)
    data = bytearray((partial / "depth.bin").read_bytes())
    data[start:end] = bytes(end - start)
    (partial / "depth.bin").write_bytes(bytes(data))
    files = finalize_partial(partial)
    assert files.frame_count == 3
    with DepthFile(files.depth) as depth:
        assert depth.indices.tolist() == [0, 1]  # frames 0-1; frame 2's image failed its CRC
    assert json.loads(files.sidecar.read_text())["depth"]["frames"] == 2


def test_writer_and_reader_on_their_own(tmp_path: Path) -> None:
    writer = DepthWriter(tmp_path / "d.bin")
    for i in (3, 7):
        writer.write(i, i / 30, depth_image(i))
    writer.close()
    with DepthFile(tmp_path / "d.bin") as depth:
        assert len(depth) == 2 and (depth.width, depth.height) == (512, 424)
        assert np.array_equal(depth.nearest(7 / 30 + 0.02), depth_image(7))
        assert depth.nearest(0.5) is None  # nothing within 50 ms
        assert depth.nearest(0.5, max_gap_s=1.0) is not None


# ---- a .xef file's depth through live's replay source and recorder ----------------------------------


def record_replay(xef: Path, out: Path, privacy: PrivacyMode) -> Recorder:
    """Replay the .xef as `python -m live PATH` does (capture thread, privacy, recording sink)."""
    source = replay_source(xef, ReplayOptions(realtime=False))
    source.open()
    capture = Capture(source, FrameRing(4, source.color_shape), TrackTable(history=8), period_s=1 / 30,
                      privacy=CapturePrivacy(mode=privacy))
    recorder = Recorder(out, sample_name="replayed", source=source.name, config=CONFIG, privacy=privacy)
    capture.recording = RecordingSink(recorder)
    capture.start()
    assert capture.ended.wait(30.0)
    capture.stop()
    assert capture.error is None
    assert capture.recording.close(30.0) and capture.recording.error is None
    source.close()
    return recorder


def test_a_replayed_xef_recorded_by_live_keeps_its_depth(tmp_path: Path) -> None:
    xef = tmp_path / "room.xef"
    sample_recording(xef, frames=4)  # depth frame i reads 1000 + i mm, 1 ms before colour frame i
    with open_recording(xef) as recording:
        assert [int(f.depth[0, 0]) for f in recording.frames()] == [1000, 1001, 1002, 1003]

    recorder = record_replay(xef, tmp_path / "off", PrivacyMode.OFF)
    files = recorder.files
    assert files.frame_count == 4 and files.video is not None and files.depth is not None
    with open_recording(files.skeleton) as clip:
        frames = list(clip.frames())
    for i, f in enumerate(frames):
        assert f.depth.shape == (424, 512) and (f.depth == 1000 + i).all()
        assert [b.tracking_id for b in f.bodies][:1] == [72057594037931101]

    # Under --privacy skeleton neither colour nor depth reaches the recorder (live/capture.py says why).
    skeleton_only = record_replay(xef, tmp_path / "skeleton", PrivacyMode.SKELETON).files
    assert skeleton_only.frame_count == 4 and skeleton_only.video is None and skeleton_only.depth is None
    assert list((tmp_path / "skeleton").glob("*depth*")) == []


def test_under_blur_the_recorded_depth_has_every_face_hidden_and_nothing_else_changed(tmp_path: Path):
    """Close to the sensor depth shows a face's relief: --privacy blur recorded it as the sensor gave it
    while the video beside it had the faces blurred. Each face box now reads as no measurement (0)."""
    xef = tmp_path / "room.xef"
    relief = np.random.default_rng(3).integers(800, 4000, (424, 512)).astype(np.uint16)  # detail everywhere
    sample_recording(xef, frames=3, depth_mm=relief)
    files = record_replay(xef, tmp_path / "blur", PrivacyMode.BLUR).files
    assert files.depth is not None and files.video is not None
    with open_recording(files.skeleton) as clip:
        frames = list(clip.frames())
    assert len(frames) == 3
    for frame in frames:
        boxes = face_boxes(frame.bodies, DEPTH_CAMERA, (424, 512), sensor_pixels=False)
        assert len(boxes) == len(frame.bodies) >= 1
        outside = np.ones((424, 512), bool)
        for x0, y0, x1, y1 in boxes:
            outside[y0:y1, x0:x1] = False
            assert (relief[y0:y1, x0:x1] > 0).all() and (frame.depth[y0:y1, x0:x1] == 0).all()
        assert np.array_equal(frame.depth[outside], relief[outside])


def test_convert_keeps_a_xef_files_depth(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    xef = tmp_path / "room.xef"
    sample_recording(xef, frames=3)
    assert main(["convert", str(xef), str(tmp_path / "clips"), "--name", "room"]) == 0
    assert "room_depth.bin" in capsys.readouterr().out
    with open_recording(tmp_path / "clips" / "room.skeleton") as clip:
        assert [int(f.depth[5, 5]) for f in clip.frames()] == [1000, 1001, 1002]
    assert main(["convert", str(xef), str(tmp_path / "plain"), "--name", "room", "--no-depth"]) == 0
    assert not (tmp_path / "plain" / "room_depth.bin").exists()


@pytest.mark.skipif(os.name != "posix", reason="the umask is POSIX's; Windows folders' ACLs decide")
def test_converting_a_rooms_video_readable_by_everyone_is_said(tmp_path: Path, capsys) -> None:
    # `python -m live` said it of what it records; a .xef converted, or an export, in a user's shell (umask
    # 022) made the room's video readable by every account, unsaid.
    xef = tmp_path / "room.xef"
    sample_recording(xef, frames=3)
    before = os.umask(0o022)
    try:
        assert main(["convert", str(xef), str(tmp_path / "open"), "--name", "room"]) == 0
        assert "warning: the room's video converted into" in capsys.readouterr().err
        assert main(["label", str(tmp_path / "open" / "room.skeleton"), "--class", "patient fell"]) == 0
        assert main(["export", str(tmp_path / "open"), str(tmp_path / "export")]) == 0
        assert "warning: the clips' video exported into" in capsys.readouterr().err
        assert main(["convert", str(xef), str(tmp_path / "bodies"), "--name", "room", "--no-video"]) == 0
        assert "readable by every account" not in capsys.readouterr().err  # no video: no faces
        assert main(["label", str(tmp_path / "bodies" / "room.skeleton"), "--class", "patient fell"]) == 0
        assert main(["export", str(tmp_path / "bodies"), str(tmp_path / "export_bodies")]) == 0
        assert "readable by every account" not in capsys.readouterr().err  # (said of skeletons before)
        os.umask(0o077)
        assert main(["convert", str(xef), str(tmp_path / "closed"), "--name", "room"]) == 0
        assert "readable by every account" not in capsys.readouterr().err
    finally:
        os.umask(before)


def test_a_clips_depth_camera_comes_from_its_sidecar(tmp_path: Path) -> None:
    with Recorder(tmp_path, sample_name="clip", config=CONFIG) as rec:
        rec.write(frame(0, 0.0))
    sidecar = json.loads(rec.files.sidecar.read_text())
    sidecar["calibration"]["depth_camera"] = ColorCamera(fx=370.0, fy=371.0, cx=255.0, cy=210.0,
                                                         width=512, height=424).to_dict()
    rec.files.sidecar.write_text(json.dumps(sidecar))
    assert read_sidecar(rec.files.sidecar).depth_camera.fx == 370.0
    sidecar["depth"] = {"file": "../elsewhere.bin"}
    rec.files.sidecar.write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match=r'clip\.json: "depth" must be'):
        read_sidecar(rec.files.sidecar)


def test_live_reads_depth_only_when_it_may_record_it(tmp_path: Path) -> None:
    """Depth exists in live only to be recorded: a run that can never record it (SKELETON privacy, or
    headless without --record) opens the sensor without depth and replays without decoding it."""
    from live.app import build_parser, config_from_args, keeps_images, open_source
    from live.kinect import KinectSource
    from live.kinect_next_source import KinectNextSource

    def config(*argv: str):
        return config_from_args(build_parser().parse_args(list(argv)))

    kinect = open_source(config("--source", "kinect"))  # SKELETON by default: nothing to record depth for
    assert isinstance(kinect, KinectNextSource) and kinect.depth is False
    blurred = open_source(config("--source", "kinect:pykinect2", "--privacy", "blur"))
    assert isinstance(blurred, KinectSource) and blurred.depth is True  # the window's r key may record
    assert blurred.color and not open_source(config("--source", "kinect:pykinect2"), color=False).color
    assert not keeps_images(config("--source", "kinect", "--privacy", "off", "--headless"))
    assert keeps_images(config("--source", "kinect", "--privacy", "off", "--headless", "--record"))

    xef = tmp_path / "room.xef"
    sample_recording(xef, frames=4)
    # A Kinect Studio capture is skeleton by default, as the sensor is: its depth is recorded only when
    # the site says so.
    for argv, has_depth in ((("--headless",), False), ((), False), (("--privacy", "off"), True)):
        source = open_source(config("--source", str(xef), "--fast", *argv))  # paced replay may drop frames
        source.open()
        try:
            frames = [source.read(5.0) for _ in range(4)]
        finally:
            source.close()
        assert all((f.depth is not None) == has_depth for f in frames), argv
