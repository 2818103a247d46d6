"""recordings/pkummd.py: PKU-MMD sequences, labels, actions and splits; replay through open_recording;
conversion to NTU-layout clips with the intervals in the sidecar."""

from __future__ import annotations

import dataclasses
import gzip
import json
import lzma
import shutil
import time
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pytest
from test_recorder import abandon

from core.timeline import NO_ACTION
from recordings import pkummd
from recordings.__main__ import main as recordings_main
from recordings.clip import EXPORT_SKELETONS, ClipError, ClipRecording, open_recording, read_sidecar
from recordings.ntu import read_skeleton
from recordings.pkummd import (
    INTERACTION_LABELS,
    MAX_TEXT_CHARACTERS,
    PKUMMD_ACTIONS,
    LabelInstance,
    PkuMmdError,
    PkuMmdRecording,
    SequenceName,
    body_tracking_ids,
    find_label_file,
    label_timeline,
    read_actions,
    read_labels,
    read_sequence,
    read_split,
    sequence_paths,
)
from recordings.recorder import Recorder, RecorderConfig, finalize_partial

PUNCHING = "punching/slapping other person"


def _pku(shared_data: Path) -> Path:
    root = shared_data / "pkummd"
    if not (root / "skeletons" / "0005-L.txt.xz").is_file():
        pytest.skip(f"PKU-MMD sequences not found under {root}")
    return root


def _frame_line(rng: np.random.Generator, bodies: int = 2) -> str:
    values = np.zeros((2, 25, 3))
    values[:bodies] = rng.uniform(-1, 3, size=(bodies, 25, 3))
    values[:bodies, :, 2] += 1.5  # in front of the sensor, as any measured joint
    return " ".join(f"{v:.6f}" for v in values.ravel())


def _write_dataset(root: Path, frames: int = 60, labels: str = "12,5,20,2\n26,30,44,1\n") -> Path:
    """A small PKU-MMD folder in the release's layout: skeletons/, labels/, actions.txt."""
    rng = np.random.default_rng(0)
    (root / "skeletons").mkdir(parents=True)
    (root / "labels").mkdir()
    sequence = root / "skeletons" / "0007-M.txt"
    sequence.write_text("\n".join(_frame_line(rng) for _ in range(frames)) + "\n")
    (root / "labels" / "0007-M.txt").write_text(labels)
    (root / "actions.txt").write_text("".join(f"{i + 1}\t{n}\n" for i, n in enumerate(PKUMMD_ACTIONS)))
    return sequence


# ---- real sequences --------------------------------------------------------------------------------


def test_the_release_folder_is_listed_as_sequences_to_read_one_at_a_time(
    shared_data: Path, capsys: pytest.CaptureFixture
) -> None:
    # `recordings list` of the release said "no clips found" and exit 0, as if the folder were empty.
    root = _pku(shared_data)
    assert [p.name for p in sequence_paths(root)][:2] == ["0005-L.txt.xz", "0005-M.txt.xz"]
    assert len(sequence_paths(root)) == len(sequence_paths(root / "skeletons")) == 190
    assert recordings_main(["list", str(root)]) == 1
    assert "its 190 PKU-MMD sequence(s) are read one at a time" in capsys.readouterr().err


def test_real_sequence_and_labels(shared_data: Path) -> None:
    root = _pku(shared_data)
    joints = read_sequence(root / "skeletons" / "0005-L.txt.xz")
    assert joints.shape == (1494, 2, 25, 3) and joints.dtype == np.float32
    assert np.isfinite(joints).all()
    # Kinect v2 camera space: people 2-4 m in front of the sensor, heads above the spine base.
    assert 1.5 < np.median(joints[:, :, 1, 2]) < 4.5
    assert (joints[:, :, 3, 1] > joints[:, :, 0, 1]).mean() > 0.95

    actions = read_actions(root / "actions.txt")
    assert actions == PKUMMD_ACTIONS and len(actions) == 51
    assert [actions[i - 1] for i in INTERACTION_LABELS][0] == "giving something to other person"
    instances = read_labels(root / "labels" / "0005-L.txt")
    assert instances[0] == LabelInstance(26, 229, 293, 2, 1)
    timeline = label_timeline(instances, actions, frame_count=len(joints), source="0005-L.txt")
    assert len(timeline.intervals) == 8
    first = timeline.intervals[0]
    assert first.label == PUNCHING and first.person is None
    # Frames are 0-based inclusive: [229, 293] is [229/30, 294/30) seconds.
    assert first.start == pytest.approx(229 / 30) and first.end == pytest.approx(294 / 30)


def test_real_sequences_converted_are_a_clips_folder_with_their_classes_and_sessions(
    shared_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Two views of one real performance converted into one folder: labels.txt names the eight
    interactions once each, both clips are the performance's session (held out together), and the
    folder reads as a labelled clips dataset, as --rehearse reads it."""
    from training.config import DataConfig
    from training.datasets.clips import clip_classes, read_dataset

    root = _pku(shared_data)
    out = tmp_path / "rehearse"
    for view in ("L", "M"):
        assert recordings_main(["convert", str(root / "skeletons" / f"0005-{view}.txt.xz"), str(out),
                                "--min-free-gb", "0"]) == 0  # fmt: skip
    interactions = sorted(PKUMMD_ACTIONS[i - 1] for i in INTERACTION_LABELS)
    listed = [line.split("\t")[1] for line in (out / "labels.txt").read_text().splitlines()]
    assert sorted(listed) == interactions  # once each, though both sequences hold all eight
    assert [json.loads((out / f"0005-{v}.json").read_text())["session"] for v in "LM"] == [5, 5]
    clips, unlabelled = read_dataset(DataConfig(dataset="clips", root=str(out)))
    assert not unlabelled and len(clips) == 2
    assert all(sorted(set(clip_classes(clip))) == interactions for clip in clips)
    # Each action cut out (no no_action) holds the frames PKU-MMD's label file names, first and last
    # included: 0005-L's kick is frames 377-423 (it came out 378-423), its punch 229-293.
    from training.datasets.clips import clip_splits

    splits = clip_splits(DataConfig(dataset="clips", root=str(out), protocol="all", validation_fraction=0.0,
                                    classes=interactions))
    cut = {s.name: s.load(False).timestamps for s in splits.train if s.name.startswith("0005-L@")}
    for name, first, last in (("0005-L@12.57-14.13", 377, 423), ("0005-L@7.63-9.80", 229, 293)):
        assert (round(cut[name][0] * 30), round(cut[name][-1] * 30), len(cut[name])) == (
            first, last, last - first + 1), name
    # Two views of one performance are not copies; 0005-L saved again under another name and session is,
    # and is kept in its original's session (held out apart, validation would score a training clip).
    assert "hold the same skeletons" not in caplog.text
    (out / "again.skeleton").write_bytes((out / "0005-L.skeleton").read_bytes())
    sidecar = json.loads((out / "0005-L.json").read_text())
    (out / "again.json").write_text(json.dumps({**sidecar, "session": 99, "skeleton": "again.skeleton"}))
    with caplog.at_level("WARNING", logger="training.datasets.clips"):
        clips, _ = read_dataset(DataConfig(dataset="clips", root=str(out)))
    assert {clip.task.name: clip.session for clip in clips} == {"0005-L": 5, "0005-M": 5, "again": 5}
    assert "again.skeleton hold the same skeletons: one take saved twice?" in caplog.text


def test_real_replay_carries_truth_on_every_body(shared_data: Path) -> None:
    root = _pku(shared_data)
    recording = open_recording(root / "skeletons" / "0005-L.txt.xz")
    assert isinstance(recording, PkuMmdRecording)
    assert recording.labels_path == root / "labels" / "0005-L.txt"  # found under ../labels/
    info = recording.info
    assert info.kind == "pkummd" and info.frame_count == 1494 and info.fps == 30.0
    assert info.color_size is None and recording.timeline is not None
    frames = list(recording.frames())
    assert [f.index for f in frames[:3]] == [0, 1, 2]
    assert frames[30].timestamp == pytest.approx(1.0)
    assert all(f.color is None for f in frames)
    truth = {i: {b.truth for b in frames[i].bodies} for i in (228, 229, 293, 294)}
    assert truth == {228: {NO_ACTION}, 229: {PUNCHING}, 293: {PUNCHING}, 294: {NO_ACTION}}
    assert all(b.truth is not None for f in frames for b in f.bodies)
    # Both people all along: one tracking id per slot, the same in every frame.
    assert recording.body_summary() == (2, 2)
    assert {tuple(sorted(b.tracking_id for b in f.bodies)) for f in frames} == {(1, 2)}
    body = frames[300].bodies[0]
    assert body.joints.shape == (25, 3) and (body.states == 2).all()
    assert np.isfinite(body.joints_color).all()  # projected for drawing


def test_a_real_take_at_a_dark_rooms_15_fps_exports_at_ntus_30(shared_data: Path, tmp_path: Path) -> None:
    """A real PKU-MMD take kept at every other frame, as the Kinect delivers in low light, recorded as the
    app records it, then exported: a .skeleton has no times and every reader takes 30 frames a second, so
    each frame is there twice (it was written once, and the action played at twice its speed)."""
    with PkuMmdRecording(_pku(shared_data) / "skeletons" / "0005-L.txt.xz") as sequence:
        frames = [frame for _, frame in zip(range(300), sequence.frames(), strict=False)][::2]
    assert np.allclose(np.diff([f.timestamp for f in frames]), 1 / 15)
    clips = tmp_path / "clips"
    with Recorder(clips, sample_name="night", config=RecorderConfig(min_free_bytes=1)) as rec:
        for frame in frames:
            rec.write(frame)
    assert recordings_main(["label", str(rec.files.skeleton), "--class", "handshaking", "--new-class"]) == 0
    assert recordings_main(["export", str(clips), str(tmp_path / "ntu")]) == 0
    (sample,) = sorted((tmp_path / "ntu" / EXPORT_SKELETONS).glob("*.skeleton"))
    exported = read_skeleton(sample).frames
    assert len(exported) == 2 * len(frames) == 300  # 10 s of the take, 10 s at 30 fps
    recorded = read_skeleton(rec.files.skeleton).frames
    for k, bodies in enumerate(recorded):
        for copy in exported[2 * k:2 * k + 2]:
            assert [b.xyz.tolist() for b in copy] == [b.xyz.tolist() for b in bodies]


def test_real_bodies_lost_and_found_get_new_ids(shared_data: Path) -> None:
    root = _pku(shared_data)
    joints = read_sequence(root / "skeletons" / "0036-M.txt.xz")
    ids = body_tracking_ids(joints)
    present = np.abs(joints).sum(axis=(2, 3)) > 0
    assert ((ids > 0) == present).all()
    # Both people are lost around frame 1003 and found again: new ids, never an old one reused.
    assert set(ids[:1000].ravel()) == {1, 2}
    later = set(ids[1100:].ravel()) - {0}
    assert later and later.isdisjoint({1, 2})
    for tracking_id in np.unique(ids[ids > 0]):  # an id lives in one slot, over one unbroken run
        frames, slots = np.nonzero(ids == tracking_id)
        assert len(set(slots)) == 1 and frames.max() - frames.min() + 1 == len(frames)


def test_live_keeps_the_people_of_a_real_hug_the_sensor_lost_for_moments(shared_data: Path) -> None:
    """0340-R: during the hug (frames 701-800) the Kinect loses one person, then the other, for a few
    frames at a time; each time the reader gives a new id (as the sensor would). Live's track table
    continues the tracks instead, so decisions go on through the hug (live/tracks.py)."""
    from live.tracks import TrackTable

    root = _pku(shared_data)
    tracks = TrackTable(history=64, retire_after_s=1.0)
    sensor_ids, track_ids = set(), set()
    for frame in PkuMmdRecording(root / "skeletons" / "0340-R.txt.xz").frames():
        bodies = tracks.rejoin(frame.timestamp, frame.bodies)
        tracks.observe(frame.timestamp, bodies, frame.index)
        sensor_ids |= {b.tracking_id for b in frame.bodies}
        track_ids |= {b.tracking_id for b in bodies}
    assert len(sensor_ids) == 6 and track_ids == {1, 2} and tracks.rejoins == 4
    # The window, the decisions and the alerts name them by number: the two people of the sequence, not
    # six sensor ids (nor three: one of them is lost for 2.3 s, longer than a track lives, and found again
    # where they were, REJOIN_WITHIN_S).
    assert sorted(tracks.number_of(i) for i in track_ids) == [1, 2] and tracks.people_seen == 2


def test_a_real_sequence_replayed_through_the_capture_has_no_late_frame_or_restart(shared_data: Path) -> None:
    """The late-frame rule must never fire on a real Kinect recording's clock (one restart would retire
    everyone): 0340-R goes through the capture as live replays it."""
    from live.capture import Capture, FrameRing
    from live.sources import EndOfStream, ReplayOptions, replay_source
    from live.tracks import TrackTable

    source = replay_source(_pku(shared_data) / "skeletons" / "0340-R.txt.xz", ReplayOptions(realtime=False))
    source.open()
    capture = Capture(source, FrameRing(8, source.color_shape), TrackTable(history=64), period_s=1 / 30)
    frames = 0
    try:
        while True:
            capture.accept(source.read(), time.perf_counter())
            frames += 1
    except EndOfStream:
        source.close()
    assert frames > 1000 and capture.counters.frames == frames
    assert capture.counters.duplicates == capture.counters.restarts == 0


def test_a_folder_given_for_a_file_is_called_a_folder(shared_data: Path) -> None:
    """read_labels on the labels folder said 'no such file' of a folder that is there (read_skeleton on
    NTU's folder, '[Errno 21] Is a directory')."""

    for read, folder in ((read_labels, "pkummd/labels"), (read_sequence, "pkummd/skeletons"),
                         (read_skeleton, "ntu/skeletons")):
        with pytest.raises(IsADirectoryError, match=f"{folder}: a folder; name one of its"):
            read(shared_data / folder)


def test_real_split_files(shared_data: Path) -> None:
    root = _pku(shared_data)
    subject = read_split(root / "splits" / "cross-subject.txt")
    view = read_split(root / "splits" / "cross-view.txt")
    assert "0005-L" in subject.train and "0291-L" in subject.validation
    assert all(SequenceName.parse(n).view == "M" for n in view.validation)
    assert {SequenceName.parse(n).view for n in view.train} == {"L", "R"}


# ---- compressed and plain alike ----------------------------------------------------------------------


def test_plain_xz_and_gz_read_alike(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    text = "\r\n".join(_frame_line(rng, bodies=1) for _ in range(5)) + "\r\n"
    (tmp_path / "0001-L.txt").write_text(text, newline="")
    with lzma.open(tmp_path / "0001-R.txt.xz", "wt") as f:
        f.write(text)
    with gzip.open(tmp_path / "0001-M.txt.gz", "wt") as f:
        f.write(text)
    plain = read_sequence(tmp_path / "0001-L.txt")
    assert plain.shape == (5, 2, 25, 3) and (plain[:, 1] == 0).all()
    np.testing.assert_array_equal(read_sequence(tmp_path / "0001-R.txt.xz"), plain)
    np.testing.assert_array_equal(read_sequence(tmp_path / "0001-M.txt.gz"), plain)
    recording = open_recording(tmp_path / "0001-M.txt.gz")
    assert isinstance(recording, PkuMmdRecording) and recording.name == "0001-M"
    assert recording.timeline is None  # no label file anywhere: no truth
    assert all(b.truth is None for f in recording.frames() for b in f.bodies)


def test_label_file_beside_or_one_folder_up(tmp_path: Path) -> None:
    sequence = _write_dataset(tmp_path / "release")
    assert find_label_file(sequence) == tmp_path / "release" / "labels" / "0007-M.txt"
    flat = tmp_path / "flat"
    flat.mkdir()
    shutil.copy(sequence, flat / "0007-M.txt")
    assert find_label_file(flat / "0007-M.txt") is None
    (flat / "labels").mkdir()
    shutil.copy(tmp_path / "release" / "labels" / "0007-M.txt", flat / "labels" / "0007-M.txt")
    recording = open_recording(flat / "0007-M.txt")
    assert recording.timeline is not None
    labels = [i.label for i in recording.timeline.intervals]
    assert labels == ["giving something to other person", PUNCHING]
    truth = recording.frame_truth()
    assert truth[4] == NO_ACTION and truth[5] == truth[20] == labels[0] and truth[21] == NO_ACTION


def test_labels_are_found_for_a_sequence_named_from_inside_its_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd skeletons; recordings info 0007-M.txt`: the parent of the bare name's folder ('.') is '.' again,
    so ../labels was never looked in: "labels: none found", a conversion with no intervals, a replay
    with no truth."""
    sequence = _write_dataset(tmp_path / "release", labels="12,5,20,2\n")
    monkeypatch.chdir(sequence.parent)
    assert find_label_file(sequence.name) == tmp_path / "release" / "labels" / "0007-M.txt"
    recording = open_recording(sequence.name)
    assert [i.label for i in recording.timeline.intervals] == ["giving something to other person"]
    assert recording.actions_path == tmp_path / "release" / "actions.txt"


def test_a_real_sequence_named_from_inside_the_releases_skeletons_folder_has_its_labels(
    shared_data: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`cd PKU-MMD/skeletons; python -m recordings info 0005-L.txt.xz` said "labels: none found"."""
    root = _pku(shared_data)
    monkeypatch.chdir(root / "skeletons")
    assert find_label_file("0005-L.txt.xz") == root / "labels" / "0005-L.txt"
    assert len(open_recording("0005-L.txt.xz").timeline.intervals) == 8


# ---- tracking ids ------------------------------------------------------------------------------------


def test_tracking_ids_per_slot() -> None:
    joints = np.zeros((8, 2, 25, 3), np.float32)
    joints[:, 0] = 1.0  # slot 0: one person standing still all along
    joints[[0, 1, 4, 5], 1] = 2.0  # slot 1: present, lost for two frames, back
    joints[6:, 0, :, 0] = 3.0  # slot 0 moves 2 m in one frame: another person
    ids = body_tracking_ids(joints)
    assert ids[:, 0].tolist() == [1, 1, 1, 1, 1, 1, 4, 4]
    assert ids[:, 1].tolist() == [2, 2, 0, 0, 3, 3, 0, 0]


def test_a_slot_switch_is_a_step_across_the_floor_not_up_or_down() -> None:
    # The step that means "another person in the slot" is measured on the floor (x, z): a person 2 m
    # further back is somebody else; the same spot 0.8 m lower is the same person sitting down.
    joints = np.ones((6, 2, 25, 3), np.float32)
    joints[:, :, :, 2] = 2.0
    joints[3:, 0, :, 2] = 4.0  # slot 0: the body is suddenly 2 m deeper
    joints[3:, 1, :, 1] = 0.2  # slot 1: the body drops 0.8 m where it stands
    ids = body_tracking_ids(joints)
    assert ids[:, 0].tolist() == [1, 1, 1, 3, 3, 3]
    assert ids[:, 1].tolist() == [2] * 6


def test_replayed_frames_are_numbered_from_zero_like_the_sequence_lines(tmp_path: Path) -> None:
    # Frame i of the replay is line i + 1 of the file and label frame i (0-based, like the label files).
    sequence = _write_dataset(tmp_path / "release", frames=12, labels="12,3,6,2\n")
    with open_recording(sequence) as recording:
        frames = list(recording.frames())
        truth = recording.frame_truth()
    assert [f.index for f in frames] == list(range(12))
    assert [f.bodies[0].truth for f in frames] == truth
    assert truth[2] == truth[7] == NO_ACTION and truth[3] == truth[6] != NO_ACTION
    np.testing.assert_array_equal(frames[5].bodies[0].joints, read_sequence(sequence)[5, 0])


# ---- malformed files ---------------------------------------------------------------------------------


def test_malformed_sequences_name_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(2)
    good = [_frame_line(rng) for _ in range(3)]
    cases = {
        "columns": (good[0] + "\n" + " ".join(good[1].split()[:-1]) + "\n", "line 2: expected 150 numbers"),
        "text": (good[0] + "\n" + good[1] + "\n" + good[2].replace(good[2].split()[7], "abc", 1) + "\n",
                 "line 3: value 8 is 'abc', not a number"),
        "nan": ("nan " + " ".join(good[0].split()[1:]) + "\n", "line 1: value 1 is 'nan'"),
        "beyond reach": (good[0] + "\n" + good[1].replace(good[1].split()[10], "1e30", 1) + "\n",
                         "line 2: body 1, joint 4 (Head): ("),
        "past float32": (good[0].replace(good[0].split()[4], "-1e40", 1) + "\n",
                         "line 1: value 5 is '-1e40' m, beyond any sensor's reach (10 m)"),
        "behind": (" ".join([*good[0].split()[:77], "-2.5", *good[0].split()[78:]]) + "\n",
                   "-2.5) m is behind the sensor (z must be above 0)"),
        "empty": ("\n\n", "no frames"),
        "labels": ("26,229,293,2\n",
                   "line 1: expected 150 numbers (2 bodies x 25 joints x 3), got 1 (comma"),
    }
    for n, (text, message) in enumerate(cases.values()):
        path = tmp_path / f"000{n}-L.txt"
        path.write_text(text)
        with pytest.raises(PkuMmdError) as error:
            read_sequence(path)
        assert str(path) in str(error.value) and message in str(error.value)
    damaged = tmp_path / "0009-L.txt.xz"
    damaged.write_bytes(lzma.compress(b"0 0 0\n")[:-8])
    with pytest.raises(PkuMmdError, match="0009-L.txt.xz: cannot decompress"):
        read_sequence(damaged)
    # 22 KB of .xz held gigabytes of text, read whole (3 GB resident) before any line was looked at.
    assert MAX_TEXT_CHARACTERS == 256 * 2**20
    monkeypatch.setattr(pkummd, "MAX_TEXT_CHARACTERS", 2**20)  # the same with less to compress here
    bomb = tmp_path / "0010-L.txt.xz"
    bomb.write_bytes(lzma.compress(b"0 " * 2**19 + b"0"))
    with pytest.raises(PkuMmdError, match="0010-L.txt.xz: more than 1 MB of text"):
        read_sequence(bomb)


def test_labelled_actions_with_nobody_in_any_frame_are_refused(tmp_path: Path) -> None:
    """A sequence whose every frame is empty, with labels: its truth would be about no one, and as training
    data it would be windows of nothing labelled as actions."""
    sequence = _write_dataset(tmp_path)
    sequence.write_text("\n".join(" ".join(["0"] * 150) for _ in range(60)) + "\n")
    with pytest.raises(PkuMmdError, match="0007-M.txt: no body in any frame, yet 2 labelled actions"):
        PkuMmdRecording(sequence)
    assert recordings_main(["info", str(sequence)]) == 2
    (tmp_path / "labels" / "0007-M.txt").unlink()  # nothing labelled: an empty room, fine
    assert PkuMmdRecording(sequence).info.frame_count == 60


def test_malformed_labels_name_file_and_line(tmp_path: Path) -> None:
    cases = {
        "12,5,20\n": "line 1: expected 4 comma-separated fields",
        "12,5,20,2\n12,x,9,2\n": "line 2: fields must be whole numbers",
        "12,5,20,2\n14,40,30,2\n": "line 2: reversed interval: ends at frame 30, before it starts (40)",
        "12,5,20,2\n12,30,40,5\n": "line 2: confidence 5",
        "12,-1,20,2\n": "line 1: start frame -1 is negative",
        "12,5,20,2\n12,30,40,2 \u00e9\n": "line 2: not ASCII text",
    }
    for n, (text, message) in enumerate(cases.items()):
        path = tmp_path / f"labels{n}.txt"
        path.write_text(text)
        with pytest.raises(PkuMmdError) as error:
            read_labels(path)
        assert str(error.value).startswith(f"{path}") and message in str(error.value)
    empty = tmp_path / "empty.txt"  # read as a sequence without actions: all background
    empty.write_text("")
    with pytest.raises(PkuMmdError, match=r"empty.txt: no actions \(an empty file\)"):
        read_labels(empty)
    bom = tmp_path / "notepad.txt"  # saved by Notepad as "UTF-8 with BOM": read as the text it is
    bom.write_bytes(b"\xef\xbb\xbf12,5,20,2\r\n")
    assert [(i.label, i.start_frame, i.end_frame) for i in read_labels(bom)] == [(12, 5, 20)]


def test_labels_checked_against_actions_and_the_sequence(tmp_path: Path) -> None:
    for labels, message in (
        ("12,5,20,2\n52,30,40,2\n", "line 2: label 52 is outside actions.txt (1..51)"),
        ("12,5,20,2\n26,30,60,2\n", "line 2: interval ends at frame 60, past the end of the sequence (60"),
        ("12,5,20,2\n26,15,40,2\n",
         "line 2 (punching/slapping other person 0.500-1.367 s): overlaps line 1 (giving"),
    ):
        root = tmp_path / f"case{len(message)}"
        sequence = _write_dataset(root, frames=60, labels=labels)
        with pytest.raises(PkuMmdError) as error:
            open_recording(sequence)
        assert str(root / "labels" / "0007-M.txt") in str(error.value) and message in str(error.value)
    # A frame range ending on the last frame is inside the sequence.
    ok = _write_dataset(tmp_path / "ok", frames=60, labels="26,30,59,2\n")
    last = open_recording(ok).timeline.intervals[-1]
    assert last.end == pytest.approx(2.0)


def test_malformed_actions_and_splits(tmp_path: Path) -> None:
    actions = tmp_path / "actions.txt"
    actions.write_text("1\tbow\n3\tbrushing teeth\n")
    with pytest.raises(PkuMmdError, match=r"actions.txt, line 2: label '3' out of order"):
        read_actions(actions)
    actions.write_text("1 bow\n")
    with pytest.raises(PkuMmdError, match=r"line 1: expected label<TAB>name"):
        read_actions(actions)
    # Cut short (the last name too), or a name with a NUL byte: read as they were before.
    actions.write_text("".join(f"{i + 1}\t{n}\n" for i, n in enumerate(PKUMMD_ACTIONS[:13])) + "14\thands")
    with pytest.raises(PkuMmdError, match=r"actions.txt, line 14: the release's class list cut short: "
                                          r"it ends at 'hands', class 14 of its 51"):
        read_actions(actions)
    actions.write_text("1\tbow\n2\tbrush\x00ing hair\n")
    with pytest.raises(PkuMmdError, match=r"line 2: class name 'brush\\x00ing hair' has a control"):
        read_actions(actions)
    actions.write_text("1\twave\n2\tfall\n")  # a site's own classes: any number
    assert read_actions(actions) == ("wave", "fall")
    split = tmp_path / "split.txt"
    split.write_text("Training videos: \n0002-L, 0002-X\nValidataion videos: \n0003-L,\n")
    with pytest.raises(PkuMmdError, match=r"split.txt, line 2: .*'0002-X' does not match"):
        read_split(split)
    split.write_text("0002-L, 0003-L\n")
    with pytest.raises(PkuMmdError, match=r"line 1: expected 'Training videos:' first"):
        read_split(split)
    split.write_text("Training videos: \n0002-L, 0003-L\n")
    with pytest.raises(PkuMmdError, match="no validation list"):
        read_split(split)
    split.write_text("Training videos: \n0002-L, 0003-L,\nValidation videos:\n0003-L\n")
    with pytest.raises(PkuMmdError, match="1 sequences on both sides, e.g. 0003-L"):
        read_split(split)


# ---- conversion: NTU-layout clips with the intervals in the sidecar ------------------------------------


def test_a_stop_as_the_clip_is_written_leaves_its_classes_in_labels_txt(tmp_path: Path, monkeypatch) -> None:
    """A SIGTERM between writing the clip and adding its classes left a clip whose classes labels.txt
    lacked: training refused it, and the same command refused to convert it again (the clip was there).
    The classes go in first."""
    import recordings.__main__ as recordings_cli
    import recordings.recorder as recorder_module

    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    convert = recordings_cli._convert_frames

    def stopped_as_it_is_written(recorder, frames):
        convert(recorder, frames)
        raise KeyboardInterrupt

    monkeypatch.setattr(recordings_cli, "_convert_frames", stopped_as_it_is_written)
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 130
    assert (out / "0007-M.skeleton").is_file()
    assert (out / "labels.txt").read_text().splitlines() == [
        "A121\tgiving something to other person", f"A122\t{PUNCHING}"
    ]
    # Stopped while the clip was being put in place: its files there, the recorder not yet told.
    monkeypatch.undo()
    out = tmp_path / "clips2"
    synced = recorder_module.sync_directory

    def stopped_as_it_is_put_in_place(path):
        synced(path)
        if any(path.glob("*.json")):
            raise KeyboardInterrupt

    monkeypatch.setattr(recorder_module, "sync_directory", stopped_as_it_is_put_in_place)
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 130
    assert (out / "0007-M.json").is_file()
    assert len((out / "labels.txt").read_text().splitlines()) == 2


def test_convert_writes_intervals_that_replay_as_truth(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 0
    printed = capsys.readouterr().out
    assert "60 frames, 2 intervals" in printed
    # Their classes join the folder's labels.txt, once each: a clips dataset, as a recorded folder is.
    assert f"new class A122 {PUNCHING!r}" in printed
    assert (out / "labels.txt").read_text().splitlines() == [
        "A121\tgiving something to other person", f"A122\t{PUNCHING}"
    ]
    sidecar = json.loads((out / "0007-M.json").read_text())
    assert sidecar["format_version"] == 1 and sidecar["video"] is None
    assert sidecar["session"] == 7  # the performance: its three views are held out together
    assert sidecar["intervals"] == [
        {"start": round(5 / 30, 4), "end": round(21 / 30, 4), "label": "giving something to other person"},
        {"start": 1.0, "end": 1.5, "label": PUNCHING},
    ]
    original = open_recording(sequence)
    clip = open_recording(out / "0007-M.skeleton")
    assert isinstance(clip, ClipRecording)
    for a, b in zip(clip.timeline.intervals, original.timeline.intervals, strict=True):
        assert (a.label, a.person) == (b.label, b.person)
        assert a.start == pytest.approx(b.start, abs=1e-4) and a.end == pytest.approx(b.end, abs=1e-4)
    for a, b in zip(original.frames(), clip.frames(), strict=True):
        assert a.timestamp == pytest.approx(b.timestamp, abs=1e-6)
        assert [x.truth for x in a.bodies] == [x.truth for x in b.bodies]
        assert [x.tracking_id for x in a.bodies] == [x.tracking_id for x in b.bodies]
        np.testing.assert_allclose(a.bodies[0].joints, b.bodies[0].joints, atol=1e-6)
    assert recordings_main(["info", str(out / "0007-M.skeleton")]) == 0
    info = capsys.readouterr().out
    assert "intervals: 2 (sidecar)" in info and f"1.00 -    1.50 s  {PUNCHING} (everybody)" in info
    assert recordings_main(["info", str(sequence)]) == 0
    assert "2 intervals covering" in capsys.readouterr().out
    # The release's folder holds sequences, not clips: list said "no clips found" and exit 0, as if empty.
    for command in ("list", "info"):
        assert recordings_main([command, str(tmp_path / "release")]) == 1
        said = capsys.readouterr().err
        assert "its 1 PKU-MMD sequence(s) are read one at a time" in said and str(sequence) in said


def test_a_sequence_converts_with_far_less_free_space_than_a_video_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PKU-MMD sequence is skeletons only (about 1 MB): a staging disk with 0.5 GB free takes it; the 2 GB a
    .xef conversion keeps for its video is for videos."""
    import shutil
    from collections import namedtuple

    sequence = _write_dataset(tmp_path / "release", frames=60)
    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(shutil, "disk_usage", lambda path: usage(10**12, 10**12 - 5 * 10**8, 5 * 10**8))
    assert recordings_main(["convert", str(sequence), str(tmp_path / "clips")]) == 0
    assert "60 frames" in capsys.readouterr().out
    assert recordings_main(["convert", str(sequence), str(tmp_path / "more"), "--min-free-gb", "1"]) == 2
    assert "500 MB free, the recorder keeps at least 1.0 GB" in capsys.readouterr().err


def test_convert_into_a_folder_whose_labels_cannot_take_the_classes_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "ntu_rehearsal"
    out.mkdir()
    (out / "labels.txt").write_text("A043\tfalling\n")  # NTU's own ids: a map of NTU clips
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 2
    assert "labels.txt" in capsys.readouterr().err
    assert sorted(p.name for p in out.iterdir()) == ["labels.txt"]
    assert (out / "labels.txt").read_text() == "A043\tfalling\n"


def test_convert_refuses_options_a_sequence_has_no_use_for(tmp_path: Path, capsys: pytest.CaptureFixture):
    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    assert recordings_main(["convert", str(sequence), str(out), "--performer", "4"]) == 2
    assert "--performer name or label a .xef conversion" in capsys.readouterr().err
    assert not out.exists()


def test_sidecar_intervals_are_checked_and_older_sidecars_still_read(tmp_path: Path) -> None:
    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 0
    path = out / "0007-M.json"
    raw = json.loads(path.read_text())
    timeline = read_sidecar(path).timeline
    assert timeline is not None and timeline.intervals[1].label == PUNCHING
    raw.pop("intervals")  # a sidecar written before intervals existed
    path.write_text(json.dumps(raw))
    assert read_sidecar(path).timeline is None
    assert all(b.truth is None for f in ClipRecording(path).frames() for b in f.bodies)
    raw["intervals"] = [{"start": 1.0, "end": 0.5, "label": "fall"}]
    path.write_text(json.dumps(raw))
    with pytest.raises(ClipError, match=r"0007-M.json: .*intervals entry 1: interval ends"):
        read_sidecar(path)
    raw["intervals"] = [{"start": 1.0, "end": 2.5, "label": "fall"}]
    path.write_text(json.dumps(raw))
    with pytest.raises(ClipError, match=r"past the end of the stream"):
        read_sidecar(path)


def test_recovered_recording_keeps_the_intervals_it_has_frames_for(tmp_path: Path) -> None:
    sequence = _write_dataset(tmp_path / "release", frames=60)
    recording = open_recording(sequence)
    recorder = Recorder(tmp_path / "out", sample_name="cut", source="test", timeline=recording.timeline,
                        config=RecorderConfig(record_video=False, min_free_bytes=0))
    for frame in list(recording.frames())[:36]:  # a crash after 1.2 s: the second interval is cut
        recorder.write(frame)
    recorder._sync()
    abandon(recorder)
    files = finalize_partial(recorder.partial_dir)
    timeline = read_sidecar(files.sidecar).timeline
    assert [i.label for i in timeline.intervals] == ["giving something to other person", PUNCHING]
    assert timeline.intervals[1].end == pytest.approx(1.2)


def test_a_recording_cut_before_its_first_interval_keeps_none(tmp_path: Path) -> None:
    sequence = _write_dataset(tmp_path / "release", frames=60)
    recording = open_recording(sequence)
    recorder = Recorder(tmp_path / "out", sample_name="early", source="test", timeline=recording.timeline,
                        config=RecorderConfig(record_video=False, min_free_bytes=0))
    for frame in list(recording.frames())[:3]:  # a crash after 0.1 s, before the first interval (frame 5)
        recorder.write(frame)
    recorder._sync()
    abandon(recorder)
    files = finalize_partial(recorder.partial_dir)
    assert read_sidecar(files.sidecar).timeline is None  # readable, and no interval past its end


def test_streaming_evaluation_finds_sequences_not_label_files(tmp_path: Path) -> None:
    """`evaluate --stream --data ROOT` on a folder in the release's layout: labels/NNNN-V.txt and
    actions.txt are named like sequences but are not ones."""
    from training.streaming import stream_cases

    _write_dataset(tmp_path / "release", frames=60)
    cases = stream_cases(str(tmp_path / "release"))
    assert [c.name for c in cases] == ["0007-M"] and cases[0].scene_wide
    source = cases[0].open()
    assert source.timeline is not None and source.name == "replay 0007-M.txt"


def test_a_pkummd_folder_is_stream_evaluated_against_its_scene_wide_truth(tmp_path: Path) -> None:
    """PKU-MMD labels the scene, not a body: the stream evaluation scores one scene track per sequence,
    each instance once, however many people the sensor tracked (two here) -- not one copy per person."""
    from dataclasses import replace

    from model_files import random_checkpoint

    from core.model.profiles import tiny
    from training.streaming import evaluate_stream

    sequence = _write_dataset(tmp_path / "release", frames=90)
    rng = np.random.default_rng(3)
    base = rng.uniform(-0.5, 0.5, size=(2, 25, 3)) + np.array([[[-0.8, 0, 3]], [[0.8, 0, 3]]])
    steady = [base + rng.normal(0, 0.01, base.shape) for _ in range(90)]  # two people standing still
    sequence.write_text("\n".join(" ".join(f"{v:.6f}" for v in f.ravel()) for f in steady) + "\n")
    classes = [*PKUMMD_ACTIONS, NO_ACTION]
    model = random_checkpoint(tmp_path / "pku.pt", replace(tiny(len(classes)), num_bodies=2), classes,
                              duration_s=1.0)
    run = evaluate_stream(model, str(tmp_path / "release"), out=tmp_path / "eval", progress=False,
                          engine="pytorch-cpu", threads=1)
    results = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert results["sequences"] == ["0007-M"] and run.scores.decisions > 0
    assert len({d.tracking_id for d in run.decisions["0007-M"]}) == 2  # two people decided on
    (scene,) = results["truth"]
    assert scene["person"] is None and scene["start"] == 0.0 and scene["end"] == pytest.approx(3.0)
    giving = "giving something to other person"
    assert [(i["start"], i["end"], i["label"]) for i in scene["intervals"]] == [  # kept to 0.1 ms
        (pytest.approx(5 / 30, abs=1e-4), pytest.approx(21 / 30, abs=1e-4), giving),
        (pytest.approx(1.0, abs=1e-4), pytest.approx(1.5, abs=1e-4), PUNCHING)]
    assert results["per_class"][giving]["instances"] == 1
    assert results["per_class"][PUNCHING]["instances"] == 1 and results["instances"] == 2
    assert not results["background_per_person"]  # the scene's background, not two people's summed


def test_streaming_evaluation_names_a_damaged_sequence(tmp_path: Path) -> None:
    from training.data import DatasetError
    from training.streaming import stream_cases

    sequence = _write_dataset(tmp_path / "release", frames=60)
    lines = sequence.read_text().splitlines()
    lines[3] = "1 2 3"
    sequence.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"0007-M\.txt, line 4: expected 150 numbers") as caught:
        stream_cases(str(tmp_path / "release"))
    assert str(caught.value).count("0007-M.txt") == 1


def test_training_names_a_damaged_sequence_or_label_file(tmp_path: Path) -> None:
    from training.data import DatasetError
    from training.datasets.pkummd import pkummd_sources

    sequence = _write_dataset(tmp_path / "release", frames=60)
    labels = tmp_path / "release" / "labels" / "0007-M.txt"
    good = labels.read_text()
    labels.write_text(good + "12,50,40,1\n")
    with pytest.raises(DatasetError, match=r"0007-M\.txt, line \d+: reversed interval"):
        pkummd_sources(tmp_path / "release")
    # A label no class has is a typo to report, not a sequence of other classes to leave out quietly.
    labels.write_text(good + "99,10,20,1\n")
    with pytest.raises(DatasetError, match=r"0007-M\.txt, line \d+: label 99 is outside actions.txt"):
        pkummd_sources(tmp_path / "release")
    labels.write_text(good)
    lines = sequence.read_text().splitlines()
    lines[3] = "1 2 3"
    sequence.write_text("\n".join(lines) + "\n")
    with pytest.raises(DatasetError, match=r"0007-M\.txt, line 4: expected 150 numbers"):
        pkummd_sources(tmp_path / "release")
    sequence.write_text("\n".join(" ".join(["0"] * 150) for _ in range(60)) + "\n")  # nobody in it
    with pytest.raises(DatasetError, match=r"0007-M\.txt: no body in any frame, yet 2 labelled actions"):
        pkummd_sources(tmp_path / "release")


def test_view_draws_a_sequence_with_its_truth(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    import cv2

    sequence = _write_dataset(tmp_path / "release", frames=60)
    unlabelled = tmp_path / "bare" / "0007-M.txt"
    unlabelled.parent.mkdir()
    shutil.copy(sequence, unlabelled)
    frames = {}
    for name, path in (("labelled", sequence), ("bare", unlabelled)):
        out = tmp_path / f"frames_{name}"
        assert recordings_main(["view", str(path), "--out", str(out), "--max-frames", "8"]) == 0
        assert "wrote 8 frames" in capsys.readouterr().out
        frames[name] = cv2.imread(str(out / "frame_000006.png"))  # frame 6: inside "giving something"
    assert frames["bare"].shape == (1080, 1920, 3)
    differs = np.flatnonzero((frames["labelled"] != frames["bare"]).any(axis=(1, 2)))
    assert len(differs) > 0 and differs.max() < 80  # the same drawing; the truth written in the top line


def test_a_conversion_cut_short_keeps_nothing_and_the_same_command_converts_it_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Ctrl-C (or SIGTERM, which `python -m recordings` turns into one) part-way: a clip kept with the
    frames so far looked complete to list, info and training, and the rerun was refused for it."""
    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    frames = PkuMmdRecording.frames

    def interrupted(self):
        for i, frame in enumerate(frames(self)):
            if i == 20:
                raise KeyboardInterrupt  # what Ctrl-C raises between two frames
            yield frame

    monkeypatch.setattr(PkuMmdRecording, "frames", interrupted)
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 130
    err = capsys.readouterr().err.splitlines()
    assert err == ["interrupted: 0007-M: conversion cut short after 20 frames; nothing is kept (the same "
                   "command converts it again)"]
    assert list(out.iterdir()) == []  # no clip, no .partial, no labels.txt
    monkeypatch.undo()
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 0
    assert "60 frames" in capsys.readouterr().out
    assert ClipRecording(out / "0007-M.skeleton").info.frame_count == 60


def test_a_conversion_the_full_disk_cuts_short_keeps_nothing_either(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Closing the half-written files flushes them, which a full disk refuses again: the .partial folder
    stayed, and the rerun was refused and sent to recover, which would have kept the half clip."""
    import errno

    sequence = _write_dataset(tmp_path / "release", frames=60)
    out = tmp_path / "clips"
    write = Recorder.write

    def disk_fills(self, frame):
        if self.frame_count == 20:
            self._skeleton = open("/dev/full", "wb")  # noqa: SIM115 - what the full disk does to the file
            self._skeleton.write(b"buffered, never flushed")
            raise OSError(errno.ENOSPC, "No space left on device")
        return write(self, frame)

    monkeypatch.setattr(Recorder, "write", disk_fills)
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 2
    err = capsys.readouterr().err
    assert "0007-M: conversion cut short after 20 frames; nothing is kept" in err and "No space left" in err
    assert list(out.iterdir()) == []  # no .partial for recover to finish as if whole
    monkeypatch.undo()
    assert recordings_main(["convert", str(sequence), str(out), "--min-free-gb", "0"]) == 0


def _write_performances(root: Path, performances: Iterable[int], frames: int = 30) -> None:
    """A PKU-MMD folder of every view (L, M, R) of each performance, each with one handshake."""
    rng = np.random.default_rng(1)
    (root / "skeletons").mkdir(parents=True)
    (root / "labels").mkdir()
    for performance in performances:
        for view in "LMR":
            name = f"{performance:04d}-{view}.txt"
            (root / "skeletons" / name).write_text("\n".join(_frame_line(rng) for _ in range(frames)) + "\n")
            (root / "labels" / name).write_text("12,5,20,2\n")
    (root / "actions.txt").write_text("".join(f"{i + 1}\t{n}\n" for i, n in enumerate(PKUMMD_ACTIONS)))


@pytest.mark.parametrize("protocol", ["xsub", "all"])
def test_pkummd_splits_keep_each_performance_on_one_side(tmp_path: Path, protocol: str) -> None:
    """The three views of one performance are the same people at the same moment: a test or validation
    view whose other views trained measures memory. Train, validation and test share no performance, and
    every view (and body order) of a performance is on one side."""
    from training.config import load_config
    from training.datasets.pkummd import pkummd_splits

    root = tmp_path / "release"
    _write_performances(root, range(1, 13))
    (root / "splits").mkdir()
    training_side = ", ".join(f"{p:04d}-{v}" for p in range(1, 11) for v in "LMR")
    test_side = ", ".join(f"{p:04d}-{v}" for p in (11, 12) for v in "LMR")
    (root / "splits" / "cross-subject.txt").write_text(
        f"Training videos:\n{training_side},\nValidation videos:\n{test_side}\n")
    data = load_config(None, ["data.dataset=pkummd", f"data.root={root}", f"data.protocol={protocol}",
                              "data.validation_fraction=0.2", "data.test_fraction=0.2",
                              "data.pkummd_hold_out=performance"]).data
    splits = pkummd_splits(data)

    def performances(sources) -> set[str]:
        return {s.name[:4] for s in sources}

    train, validation, test = (performances(s) for s in (splits.train, splits.validation, splits.test))
    assert train and validation and test
    assert not train & validation and not train & test and not validation & test
    assert train | validation | test == {f"{p:04d}" for p in range(1, 13)}
    for side in (splits.train, splits.validation, splits.test):  # all 3 views, both body orders
        assert len(side) == 6 * len(performances(side))
        assert {s.group["performance"] for s in side} == {int(p) for p in performances(side)}
    if protocol == "xsub":  # the protocol's own test side stays test, with held-out training performances
        assert {"0011", "0012"} < test and len(test) > 2


def test_pkummd_holds_each_pair_of_actors_out_whole(tmp_path: Path) -> None:
    """PKU-MMD's interaction performances come in pairs, NNN5 and NNN6, by the same two people: held out
    one performance at a time, 7 of our 10 test performances had their pair in training. By default each
    ten (0001-0010, ...) stays on one side; a checkpoint recorded before the setting keeps its split."""
    from training.config import ConfigError, config_from_dict, config_to_dict, load_config
    from training.datasets.pkummd import pkummd_splits

    root = tmp_path / "release"
    _write_performances(root, [p for ten in range(8) for p in (10 * ten + 5, 10 * ten + 6)])
    data = load_config(None, ["data.dataset=pkummd", f"data.root={root}", "data.protocol=all",
                              "data.validation_fraction=0.25", "data.test_fraction=0.25"]).data
    splits = pkummd_splits(data)
    sides = [{s.group["performance"] // 10 for s in side} for side in (splits.train, splits.validation,
                                                                       splits.test)]
    assert all(sides) and not sides[0] & sides[1] and not sides[0] & sides[2] and not sides[1] & sides[2]
    for side in (splits.train, splits.validation, splits.test):  # both of each pair, all 3 views
        assert len(side) == 2 * 3 * 2 * len({s.group["performance"] // 10 for s in side})
    by_performance = pkummd_splits(dataclasses.replace(data, pkummd_hold_out="performance"))
    assert {s.name for s in by_performance.test} != {s.name for s in splits.test}
    recorded = config_to_dict(load_config(None, ["data.dataset=pkummd"]))
    del recorded["data"]["pkummd_hold_out"]  # as every checkpoint written before it has it
    assert config_from_dict(recorded).data.pkummd_hold_out == "performance"
    # Other datasets' checkpoints from before it keep the default, which does not touch them: an old
    # N-UCLA teacher or ensemble member still goes with a new run's (README's nucla_pose_x3.pt teacher).
    from training.config import recorded_data

    nucla_gcn = Path(__file__).resolve().parents[1] / "training" / "configs" / "nucla_gcn.yaml"
    old_nucla = config_to_dict(load_config(nucla_gcn))["data"]
    del old_nucla["pkummd_hold_out"]
    assert recorded_data(old_nucla) == config_to_dict(load_config(nucla_gcn))["data"]
    with pytest.raises(ConfigError, match="pkummd_hold_out is one of actors, performance"):
        load_config(None, ["data.pkummd_hold_out=subject"])


def test_an_interval_cut_from_a_converted_clip_keeps_its_first_frame_and_no_frame_after_it() -> None:
    """A sidecar keeps interval times to 0.1 ms, frames their stamps to 1 us: 0005-L's kick, frames
    377-423, came out as 378-423 (12.566667 s < 12.5667 s), and 12 of the folder's 24 intervals lost a
    frame or took a background one, where a replay of the same clip labels every frame right."""
    from training.data import Clip
    from training.datasets.clips import _cut

    stamps = np.round(np.arange(900) / 30, 6)
    clip = Clip("S005C001P000R001A121", -1, stamps, np.zeros((900, 1, 25, 3), np.float32))
    for first, last in ((377, 423), (217, 295)):
        start, end = round(first / 30, 4), round((last + 1) / 30, 4)  # as the sidecar keeps them
        kept = _cut(clip, start, end).timestamps
        assert (round(kept[0] * 30), round(kept[-1] * 30)) == (first, last)
