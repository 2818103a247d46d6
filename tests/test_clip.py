"""Replay of NTU-layout clips and .xef files as core Frames."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_recorder import make_body, make_frame
from xef_writer import sample_recording

from core.frame import Frame
from core.timeline import NO_ACTION
from recordings.clip import (
    ClipError,
    ClipRecording,
    XefRecording,
    clip_paths,
    open_recording,
    read_sidecar,
    read_sidecar_header,
)
from recordings.ntu import read_skeleton
from recordings.recorder import Recorder, RecorderConfig


def test_ntu_clip_replays_skeleton_and_video(shared_data: Path) -> None:
    skeleton = shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton"
    video = shared_data / "ntu" / "rgb" / "S001C001P001R001A001_rgb.avi"
    reference = read_skeleton(skeleton)
    with open_recording(skeleton, video=video) as recording:
        assert isinstance(recording, ClipRecording)
        info = recording.info
        assert (info.kind, info.frame_count, info.color_size, info.action_id) == (
            "clip",
            103,
            (1920, 1080),
            1,
        )
        assert info.fps == pytest.approx(30.0) and info.duration_s == pytest.approx(102 / 30)
        frames = list(recording.frames())
        later = list(recording.frames(60))  # from frame 60 on (the marking window's jumps)
    assert [f.index for f in frames] == list(range(103))
    assert [f.index for f in later] == list(range(60, 103))
    np.testing.assert_array_equal(later[0].color, frames[60].color)  # H.264: grabbed up to it, then decoded
    assert later[-1].timestamp == frames[-1].timestamp
    assert frames[10].timestamp == pytest.approx(10 / 30)
    assert all(f.color is not None and f.color.shape == (1080, 1920, 3) for f in frames)
    body, ntu_body = frames[50].bodies[0], reference.frames[50][0]
    assert body.tracking_id == ntu_body.body_id == 72057594037931101
    np.testing.assert_array_equal(body.joints, ntu_body.xyz.astype(np.float32))
    np.testing.assert_array_equal(body.joints_color, ntu_body.color.astype(np.float32))
    assert body.states.tolist() == ntu_body.states.tolist()


def test_an_ntu_video_shared_resized_replays_with_the_joints_on_its_people(tmp_path: Path, shared_data: Path,
                                                                         caplog) -> None:
    """Replayed (live, `recordings view`, the marking window) with a 960x540 copy of its video, an NTU clip
    drew its joints and cut its crops at 1920x1080 places: off the people, the hand crops black."""
    from video_files import resized_copy

    skeleton = shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton"
    full = shared_data / "ntu" / "rgb" / "S001C001P001R001A001_rgb.avi"
    reference = read_skeleton(skeleton).frames[50][0].color
    half = resized_copy(full, tmp_path / "half" / "S001C001P001R001A001_rgb.avi", 960, 540)
    with open_recording(skeleton, video=half) as recording:
        frame = next(recording.frames(50))
    assert frame.color.shape == (540, 960, 3)
    np.testing.assert_allclose(frame.bodies[0].joints_color, reference / 2, rtol=1e-5)
    # Cut to another shape, no scale is known: replayed as it is, with a warning naming both sizes.
    cut = resized_copy(full, tmp_path / "cut" / "S001C001P001R001A001_rgb.avi", 640, 480)
    with open_recording(skeleton, video=cut) as recording:
        frame = next(recording.frames(50))
    np.testing.assert_array_equal(frame.bodies[0].joints_color, reference.astype(np.float32))
    said = "640x480 frames, but S001C001P001R001A001.skeleton places its joints in 1920x1080 ones"
    assert said in caplog.text


def test_a_video_named_for_another_sample_is_said(shared_data: Path, caplog) -> None:
    # NTU keeps videos in a folder of their own: --video from the sample beside it is an easy slip.
    video = shared_data / "ntu" / "rgb" / "S001C001P001R001A001_rgb.avi"
    skeletons = shared_data / "ntu" / "skeletons"
    with open_recording(skeletons / "S001C001P001R001A001.skeleton", video=video):
        pass
    assert "named for" not in caplog.text
    with open_recording(skeletons / "S002C001P003R001A003.skeleton", video=video):
        pass
    assert ("S001C001P001R001A001_rgb.avi is named for the clip S001C001P001R001A001, not "
            "S002C001P003R001A003: its pictures may be of another take") in caplog.text


def test_a_video_cut_short_replays_the_rest_without_colour_and_says_so(shared_data, tmp_path, caplog) -> None:
    skeleton = shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton"
    cut = tmp_path / "S001C001P001R001A001_rgb.avi"  # its header still announces 103 frames
    cut.write_bytes((shared_data / "ntu" / "rgb" / cut.name).read_bytes()[:100_000])
    with open_recording(skeleton, video=cut) as recording, caplog.at_level("WARNING", "recordings"):
        frames = list(recording.frames())
    coloured = sum(f.color is not None for f in frames)
    assert len(frames) == 103 and 0 < coloured < 10
    assert f"only {coloured} of its 103 frames decode" in caplog.text and str(cut) in caplog.text
    # Replayed from a later frame (the marking window's jumps): said as what it is, and once per clip.
    caplog.clear()
    with open_recording(skeleton, video=cut) as recording, caplog.at_level("WARNING", "recordings"):
        for first in (50, 60, 0):
            shown = sum(f.color is not None for f in recording.frames(first))
            assert shown == (coloured if first == 0 else 0)
    assert caplog.text.count("damaged or cut short") == 1
    assert "its frames from 50 on do not decode, of 103 announced" in caplog.text


def test_skeleton_only_replay_without_sidecar(shared_data: Path) -> None:
    skeleton = shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton"
    with open_recording(skeleton) as recording:
        assert recording.info.color_size is None and recording.body_summary() == (2, 2)
        frames = list(recording)
    assert len(frames) == 70 and all(f.color is None for f in frames)
    assert max(len(f.bodies) for f in frames) == 2


def _recorded_clip(directory: Path) -> Path:
    with Recorder(
        directory, sample_name="S001C001P001R001A121", config=RecorderConfig(min_free_bytes=1)
    ) as rec:
        for i, t in enumerate((0.0, 0.05, 0.15)):
            image = np.full((48, 64, 3), 60 * i, np.uint8)
            rec.write(Frame(t, image, [make_body(9, 0.1 * i)], i))
    return rec.files.sidecar


def test_recorded_clip_replays_with_its_timestamps(tmp_path: Path) -> None:
    sidecar = _recorded_clip(tmp_path)
    for path in (
        sidecar,
        sidecar.with_suffix(".skeleton"),
        tmp_path / "S001C001P001R001A121_rgb.avi",
        tmp_path,
    ):
        with open_recording(path) as recording:
            assert recording.info.frame_count == 3
    with open_recording(sidecar) as recording:
        frames = list(recording.frames())
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.05, 0.15])
    assert [f.color.shape for f in frames] == [(48, 64, 3)] * 3
    uv = frames[1].bodies[0].joints_color
    assert np.isnan(uv[24]).all() and np.isfinite(uv[:24]).all()  # written as 0 0, read back as NaN


def test_a_recorded_clip_without_its_video_replays_skeleton_only(tmp_path: Path) -> None:
    # A clip copied without its _rgb.avi (or whose video was deleted for privacy) still replays, with
    # no colour, instead of failing on a video path that is not there.
    sidecar = _recorded_clip(tmp_path)
    (tmp_path / "S001C001P001R001A121_rgb.avi").unlink()
    paths = clip_paths(sidecar.with_suffix(".skeleton"))
    assert paths.video is None and paths.sidecar == sidecar
    with open_recording(sidecar) as recording:
        assert recording.info.color_size is None
        frames = list(recording.frames())
    assert [f.timestamp for f in frames] == pytest.approx([0.0, 0.05, 0.15])
    assert all(f.color is None for f in frames) and all(len(f.bodies) == 1 for f in frames)


def test_sidecar_intervals_become_the_truth_of_replayed_bodies(tmp_path: Path) -> None:
    sidecar = _recorded_clip(tmp_path)  # frames at 0, 0.05, 0.15 s
    data = json.loads(sidecar.read_text())
    fell = {"start": 0.04, "end": 0.2, "label": "patient fell"}
    sidecar.write_text(json.dumps({**data, "intervals": [fell]}))
    with open_recording(sidecar) as recording:
        assert recording.timeline.intervals[0].label == "patient fell"
        truth = [f.bodies[0].truth for f in recording.frames()]
    assert truth == [NO_ACTION, "patient fell", "patient fell"]
    for intervals, message in (
        ([{"start": 0.1, "end": 0.05, "label": "x"}], r"A121.json: intervals entry 1: interval ends"),
        ([{"start": 0.1, "end": 0.9, "label": "x"}], r"A121.json: intervals entry 1: .* past the end"),
        ([{"start": 0.1}], r"A121.json: intervals entry 1: expected"),
    ):
        sidecar.write_text(json.dumps({**data, "intervals": intervals}))
        with pytest.raises(ClipError, match=message):
            read_sidecar(sidecar)


def test_clip_errors_name_the_file(tmp_path: Path) -> None:
    sidecar = _recorded_clip(tmp_path)
    data = json.loads(sidecar.read_text())
    data["timestamps"] = data["timestamps"][:2]
    data["frame_count"] = 2
    sidecar.write_text(json.dumps(data))
    with pytest.raises(ClipError, match=r"A121.json: 2 timestamps for the 3 frames"):
        ClipRecording(sidecar)
    sidecar.write_text(json.dumps({**data, "timestamps": [0.0, 0.1, 0.05], "frame_count": 3}))
    with pytest.raises(ClipError, match=r'A121.json: "timestamps" must be .* non-decreasing seconds'):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "frame_count": 3}))  # 2 timestamps
    with pytest.raises(ClipError, match=r'A121.json: "frame_count" is 3 but there are 2 timestamps'):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "frame_count": "2"}))  # edited by hand: said "is 2 but 2"
    with pytest.raises(ClipError, match=r'A121.json: "frame_count" is \'2\' but there are 2 timestamps'):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "format_version": 2}))
    with pytest.raises(ClipError, match="format_version 2; this reader knows versions up to 1"):
        read_sidecar(sidecar)
    sidecar.write_text('{"format": "where-to-focus clip",\n "timestamps": [0, }')
    with pytest.raises(ClipError, match=r"A121.json: line 2 column \d+: not valid JSON"):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "frame_count": 2, "calibration": [1, 2]}))
    with pytest.raises(ClipError, match=r'A121.json: "calibration" must be a JSON object, got list'):
        read_sidecar(sidecar)
    sidecar.write_bytes(b'{"format": "\xff\xfe"}')
    with pytest.raises(ClipError, match=r"A121.json: byte 12: not UTF-8"):
        read_sidecar(sidecar)
    shutil.copy(tmp_path / "S001C001P001R001A121.skeleton", tmp_path / "other.skeleton")
    with pytest.raises(ClipError, match="expected a folder with one clip .* found 2"):
        clip_paths(tmp_path)
    (tmp_path / "dataset_root").mkdir()
    with pytest.raises(ClipError, match="found 0; name one recording file instead"):
        clip_paths(tmp_path / "dataset_root")
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "capture.csv").write_text("")
    with pytest.raises(ClipError, match=r"notes.txt: expected a recording: a .xef, a PKU-MMD NNNN-V.txt.*"
                                        r"\.skeleton, _rgb.avi or .json"):
        clip_paths(tmp_path / "notes.txt")
    with pytest.raises(ClipError, match="capture.csv: a .csv .* is not a format this reads"):
        clip_paths(tmp_path / "capture.csv")
    with pytest.raises(ClipError, match="typo.txt: no such file or folder"):  # a typo, not a wrong format
        clip_paths(tmp_path / "typo.txt")
    # Some copies of NTU RGB+D publish its files as NAME.skeleton.txt.
    shutil.copy(tmp_path / "other.skeleton", tmp_path / "S001C001P001R001A001.skeleton.txt")
    with pytest.raises(ClipError, match=r"A001.skeleton.txt: an NTU skeleton file with .txt added: rename it "
                                        r"S001C001P001R001A001.skeleton; expected a recording"):
        clip_paths(tmp_path / "S001C001P001R001A001.skeleton.txt")


def test_times_and_frame_numbers_no_recording_has_are_refused(tmp_path: Path) -> None:
    """A sidecar whose times start at -100 s or are 11 days apart, or that lists frames without colour
    that the clip does not have (-1, 99999, "x"), or whose camera is NaN, was read as it was."""
    sidecar = _recorded_clip(tmp_path)
    data = json.loads(sidecar.read_text())  # 3 frames
    camera = {"fx": float("inf"), "fy": 1055.7, "cx": 959.2, "cy": 569.2}
    for change, message in (
        ({"timestamps": [-100.0, -99.9, -99.8]}, r'"timestamps" start at -100 s; .* the first must be 0'),
        ({"timestamps": [0.0, 1e6, 2e6]},
         r'"timestamps": frame 1 is 1e\+06 s after the frame before; no recording goes 7 days'),
        ({"missing_color_frames": [0, -1]}, r'"missing_color_frames" entry 2 is -1, not a frame of the clip '
                                            r"\(whole numbers 0 to 2\)"),
        ({"missing_color_frames": [3]}, r'"missing_color_frames" entry 1 is 3, not a frame'),
        ({"missing_color_frames": ["x"]}, r'"missing_color_frames" entry 1 is \'x\', not a frame'),
        ({"calibration": {"color_camera": camera}}, r"parameter 'fx' must be a finite number, got inf"),
    ):
        sidecar.write_text(json.dumps({**data, **change}))
        with pytest.raises(ValueError) as error:
            read_sidecar(sidecar)
        assert str(error.value).startswith(f"{sidecar}: ") and re.search(message, str(error.value))
    # A recording paused over a weekend keeps the gap; null lists no frame without colour.
    weekend = [0.0, 0.05, 3 * 86400.0]
    sidecar.write_text(json.dumps({**data, "timestamps": weekend, "missing_color_frames": None}))
    assert read_sidecar(sidecar).missing_color_frames == []


def test_a_frame_count_written_as_text_says_it_is_text(tmp_path: Path) -> None:
    # Quoting the text alone read as a contradiction ("is '3' but there are 3 timestamps"): the kind of
    # value is what is wrong, so the message says so.
    sidecar = _recorded_clip(tmp_path)
    data = json.loads(sidecar.read_text())
    sidecar.write_text(json.dumps({**data, "frame_count": "3"}))
    with pytest.raises(ClipError, match=r'A121.json: "frame_count" is \'3\' but there are 3 timestamps: '
                                        r"it is text, and must be a number of frames \(3, without quotes\)"):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "frame_count": None}))
    with pytest.raises(ClipError, match=r'A121.json: "frame_count" is None .*: it is null, and must be'):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps({**data, "frame_count": True}))
    with pytest.raises(ClipError, match=r'A121.json: "frame_count" is True .*: it is true or false, and'):
        read_sidecar(sidecar)


def test_sidecar_fields_of_the_wrong_type_are_named(tmp_path) -> None:
    from recordings.recorder import Recorder, RecorderConfig

    with Recorder(tmp_path, sample_name="clip", config=RecorderConfig(min_free_bytes=1)) as rec:
        rec.write(make_frame(0, 0.0))
    sidecar = tmp_path / "clip.json"
    raw = json.loads(sidecar.read_text())
    for key, value in (("action_id", "x"), ("label", 5), ("missing_color_frames", "x")):
        sidecar.write_text(json.dumps({**raw, key: value}))
        with pytest.raises(ClipError, match=f'clip.json: "{key}" must be'):
            read_sidecar(sidecar)
    sidecar.write_bytes(b"\xef\xbb\xbf" + json.dumps(raw).encode())  # saved by Notepad: a BOM
    assert read_sidecar(sidecar).sample_name == "clip"
    with pytest.raises(ClipError, match="no skeleton file lone.skeleton next to it"):
        clip_paths(tmp_path / "lone.json")
    (tmp_path / "a01_s01_e00_v01.json").write_text("{}")  # N-UCLA's own JSON, not a clip's sidecar
    with pytest.raises(ClipError, match="an N-UCLA sequence .* which is not replayed"):
        clip_paths(tmp_path / "a01_s01_e00_v01.json")
    with pytest.raises(FileNotFoundError):
        open_recording(tmp_path / "missing.xef")


def test_xef_recording_info(tmp_path: Path) -> None:
    path = tmp_path / "s.xef"
    sample_recording(path, frames=3)
    with open_recording(path) as recording:
        assert isinstance(recording, XefRecording)
        assert (recording.info.frame_count, recording.info.color_size) == (3, (1920, 1080))
        assert recording.info.fps == pytest.approx(30.0, rel=1e-4)
        assert recording.body_summary() == (2, 2)
    with open_recording(path, color=False) as recording:
        assert recording.info.color_size is None
        assert [f.color for f in recording.frames()] == [None] * 3


def test_a_sidecar_s_header_is_all_of_it_but_the_frames_times(tmp_path: Path) -> None:
    """Scans of a whole folder (erase, the next session's number) read a sidecar without its per-frame
    times, most of its bytes: the rest is what the whole read gives, however the file is written."""
    sidecar = _recorded_clip(tmp_path)
    whole = read_sidecar(sidecar).raw
    want = {key: value for key, value in whole.items() if key != "timestamps"}
    assert read_sidecar_header(sidecar) == want and "timestamps" in whole
    # A label whose text holds the key's own words (escaped quotes) is no list of times; compact JSON
    # (another tool, an edit by hand) is read whole.
    tricky = {**whole, "label": 'patient "timestamps": [fell]'}
    for text in (json.dumps(tricky, indent=1), json.dumps(tricky, separators=(",", ":"))):
        sidecar.write_text(text, encoding="utf-8")
        assert read_sidecar_header(sidecar) == {**want, "label": 'patient "timestamps": [fell]'}
    # Its frames' times are not read at all: damaged there, it still says its room and day (erase finds it).
    damaged = json.dumps(whole, indent=1).replace('"timestamps": [', '"timestamps": [oops, ', 1)
    sidecar.write_text(damaged, encoding="utf-8")
    assert read_sidecar_header(sidecar) == want
    with pytest.raises(ClipError, match="not valid JSON"):
        read_sidecar(sidecar)
    sidecar.write_text(json.dumps(whole, indent=1)[:-40], encoding="utf-8")  # cut short
    with pytest.raises(ClipError, match=re.escape(f"{sidecar}: line ")):
        read_sidecar_header(sidecar)
    sidecar.write_text(json.dumps({**whole, "format": "something else"}), encoding="utf-8")
    with pytest.raises(ClipError, match="expected a clip sidecar"):
        read_sidecar_header(sidecar)
