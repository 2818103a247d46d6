"""Simulated room streams cut into per-person sequences (training/datasets/simulated_streams.py)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.glimpse import crop_frame, part_boxes
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, intervals_from_labels
from simulation.scene import SimulatedScene
from training.cache import load_clip
from training.config import DataConfig
from training.data import DatasetError
from training.datasets import simulated_streams
from training.datasets.simulated import cache_splits, hold_out_scenes
from training.datasets.simulated_streams import StreamTask, cut_scene, prepare_streams, stream_tasks
from training.demo import demo_settings

TASK = StreamTask("room", seed=11, minutes=0.35, people=2)


@pytest.fixture(scope="module")
def sequences() -> list:
    return cut_scene(TASK, demo_settings())


def test_each_tracked_person_is_one_sequence_cut_as_live_cuts_it(sequences: list) -> None:
    """Skeleton, truth and crops of every sequence against the scene played again and cut independently:
    every frame drawn, boxes over the whole track, crops of the frames at 10 fps."""
    settings = demo_settings()
    scene = SimulatedScene(seed=TASK.seed, max_people=TASK.people)
    frames: dict[int, list] = {}
    images: dict[int, np.ndarray] = {}
    for _ in range(int(TASK.minutes * 60 * scene.fps)):
        frame = scene.next_frame()
        if frame.index % 3 == 0:
            images[frame.index] = frame.color
        for body in frame.bodies:
            frames.setdefault(body.tracking_id, []).append((frame.index, body))
    assert len(sequences) >= 2
    assert {s.tracking_id for s in sequences} <= set(frames)
    for sequence in sequences:
        seen = frames[sequence.tracking_id]
        index = np.array([i for i, _ in seen])
        joints = np.stack([b.joints for _, b in seen])
        np.testing.assert_array_equal(sequence.joints[:, 0], joints)
        np.testing.assert_allclose(sequence.timestamps, (index - index[0]) / 30.0)
        truth = [b.truth for _, b in seen]
        expected = intervals_from_labels(sequence.timestamps, truth, period_s=1 / 30)
        assert list(sequence.timeline.intervals) == expected
        assert all(sequence.timeline.label_at(t) == label for t, label in zip(sequence.timestamps, truth,
                                                                              strict=True))
        boxes = part_boxes(joints, np.stack([b.states for _, b in seen]), scene.camera, KINECT_V2,
                           settings.glimpse, joints_color=np.stack([b.joints_color for _, b in seen]),
                           timestamps=index / 30.0)
        rows = np.flatnonzero(index % 3 == 0)
        np.testing.assert_allclose(sequence.crop_timestamps, sequence.timestamps[rows])
        assert sequence.crops.shape == (3, len(rows), 32, 32, 3)
        for k in (0, len(rows) // 2, len(rows) - 1):
            expected_crops = crop_frame(images[int(index[rows[k]])], boxes[:, rows[k]], settings.glimpse)
            np.testing.assert_array_equal(sequence.crops[:, k], expected_crops)
    labels = {i.label for s in sequences for i in s.timeline.intervals}
    assert labels and NO_ACTION not in labels


def test_long_tracks_are_boxed_in_chunks_as_if_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(0)
    steps = rng.normal(0, 0.01, (400, 25, 3)).cumsum(0)
    joints = (steps + np.array([0.0, 0.0, 3.0])).astype(np.float32)
    states = np.full((400, 25), 2, np.int8)
    color = np.full((400, 25, 2), np.nan, np.float32)
    times = np.arange(400) / 30.0
    scene = SimulatedScene(seed=0, color=False)
    settings = demo_settings()
    whole = part_boxes(joints, states, scene.camera, KINECT_V2, settings.glimpse, joints_color=color,
                       timestamps=times)
    monkeypatch.setattr(simulated_streams, "BOX_CHUNK", 70)
    chunked = simulated_streams._boxes(joints, states, color, times, scene, settings)
    np.testing.assert_allclose(chunked, whole, atol=1e-3)


def test_streams_in_the_cache_keep_their_timelines_and_validation_holds_out_whole_rooms(
    tmp_path: Path,
) -> None:
    tasks = stream_tasks(3, 0.15, 2, seed=5, prefix="room")
    assert len({t.seed for t in tasks}) == 3 and all(t.seed > 2**20 for t in tasks)
    index = prepare_streams(tasks, demo_settings(), tmp_path, progress=False)
    assert index and all(e["label"] == -1 for e in index)
    assert json.loads((tmp_path / "index.json").read_text()) == index
    clip = load_clip(tmp_path, index[0]["name"], with_crops=True)
    assert clip.timeline is not None and clip.crops is not None and clip.label == -1
    splits = cache_splits(DataConfig(dataset="simulated", root=str(tmp_path), validation_fraction=0.34))
    assert splits.continuous and splits.class_names[-1] == NO_ACTION
    scene_of = {e["name"]: e["group"]["scene"] for e in index}
    held = {scene_of[s.name] for s in splits.validation}
    assert len(held) == 1 and held.isdisjoint({scene_of[s.name] for s in splits.train})
    # A second run finds every room done and reads their lists back, and leaves every file as it was: a
    # training run's inputs are their sizes and times (training.stages.stage_inputs), and index.json
    # written again made a resumed demo's stages refuse their run as one for other data.
    stamps = {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")}
    assert prepare_streams(tasks, demo_settings(), tmp_path, progress=False) == index
    assert {p: p.stat().st_mtime_ns for p in tmp_path.rglob("*")} == stamps


def test_what_a_killed_prepare_left_is_removed_and_what_one_writes_now_kept(tmp_path: Path, capsys) -> None:
    """kill -9 while a crop file was written left '.NAME.<pid>-<token>.partial' (hundreds of MB) for ever;
    another prepare into the same cache writing now must keep its own."""
    import os
    import time

    from training.cache import STALE_PARTIAL_S

    (tmp_path / "clips").mkdir()
    left = tmp_path / "clips" / ".room-s0.crops.npy.4242-abcd0123.partial"  # where clips are written
    left.write_bytes(bytes(2_000_000))
    not_ours = tmp_path / "clips" / ".notes.partial"
    not_ours.write_bytes(b"a user's")
    old = time.time() - STALE_PARTIAL_S - 60
    for path in (left, not_ours):
        os.utime(path, (old, old))
    writing = tmp_path / "clips" / ".room-s1.npz.4343-abcd0124.partial"
    writing.write_bytes(b"being written")
    tasks = stream_tasks(1, 0.05, 1, seed=5, prefix="room")
    prepare_streams(tasks, demo_settings(), tmp_path, progress=False)
    assert not left.exists() and writing.exists() and not_ours.exists()
    said = capsys.readouterr().out
    assert f"removed 1 unfinished file(s) (2.0 MB) an interrupted prepare left in {tmp_path}" in said


@pytest.mark.parametrize("changed", [{"seed": 4}, {"minutes": 0.1}, {"people": 1}])
def test_a_room_asked_for_with_other_settings_is_simulated_again(
    changed: dict, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    # A room was kept once its list was written, whatever seed, length or people it had been simulated with.
    from dataclasses import replace

    first = StreamTask("room_000", seed=3, minutes=0.15, people=2, group={"scene": 0})
    prepare_streams([first], demo_settings(), tmp_path, progress=False)
    old = {p.name for p in (tmp_path / "clips").iterdir()}
    capsys.readouterr()
    task = replace(first, **changed)
    index = prepare_streams([task], demo_settings(), tmp_path, progress=False)
    (key, value), = changed.items()
    said = f"1 room(s) in {tmp_path / 'streams'} were simulated with other settings " \
           f"(room_000: {key} {getattr(first, key)!r} -> {value!r}): simulating them again"
    assert said in capsys.readouterr().out
    assert json.loads((tmp_path / "streams" / "room_000.json").read_text())["room"] == {
        "seed": task.seed, "minutes": task.minutes, "people": task.people}
    alone = prepare_streams([task], demo_settings(), tmp_path / "alone", progress=False)
    assert index == alone  # as if it had been simulated first
    # Only the new room's sequences are left in the cache, none of the old room's.
    names = {e["name"] for e in index}
    assert {p.name.split(".")[0] for p in (tmp_path / "clips").iterdir()} == names
    assert old  # (the first room had sequences to remove)


def test_a_recut_that_was_interrupted_removes_the_old_rooms_sequences_next_time(tmp_path: Path) -> None:
    # The old room's list was deleted before its sequences: stopped between the two, the sequences it
    # named were listed nowhere and stayed in the cache (and in a training run's inputs) for good.
    from training.datasets.simulated_streams import prepare_stream

    first = StreamTask("room_000", seed=3, minutes=0.2, people=3, group={"scene": 0})
    index = prepare_streams([first], demo_settings(), tmp_path, progress=False)
    done = tmp_path / "streams" / "room_000.json"
    done.replace(done.with_name("room_000.json.recut"))  # where a recut stopped: old clips still there
    task = StreamTask("room_000", seed=4, minutes=0.1, people=1, group={"scene": 0})
    entries = prepare_stream(task, demo_settings(), tmp_path)
    assert {p.name.split(".")[0] for p in (tmp_path / "clips").iterdir()} == {e["name"] for e in entries}
    assert {e["name"] for e in index} - {e["name"] for e in entries}  # (the old room had more to remove)
    assert sorted(p.name for p in (tmp_path / "streams").iterdir()) == ["room_000.json"]


def test_a_room_cut_before_rooms_kept_their_settings_is_simulated_again(
    tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    task = StreamTask("room_000", seed=3, minutes=0.1, people=1, group={"scene": 0})
    index = prepare_streams([task], demo_settings(), tmp_path, progress=False)
    done = tmp_path / "streams" / "room_000.json"
    done.write_text(json.dumps(index))  # the old format: the entries alone, nothing says how they were cut
    capsys.readouterr()
    assert prepare_streams([task], demo_settings(), tmp_path, progress=False) == index
    assert "room_000: cut before rooms kept their settings" in capsys.readouterr().out
    assert json.loads(done.read_text())["room"]["minutes"] == 0.1


def test_a_cache_of_sequences_needs_the_background_class_and_one_kind_of_clip(tmp_path: Path) -> None:
    settings = demo_settings()
    prepare_streams([StreamTask("room_000", 3, 0.15, 1, {"scene": 0})], settings, tmp_path, progress=False)
    index = json.loads((tmp_path / "index.json").read_text())
    (tmp_path / "index.json").write_text(json.dumps(index + [{**index[0], "name": "cut", "label": 2}]))
    with pytest.raises(DatasetError, match="one kind"):
        cache_splits(DataConfig(dataset="simulated", root=str(tmp_path)))
    (tmp_path / "index.json").write_text(json.dumps(index))
    raw = json.loads((tmp_path / "cache.json").read_text())
    (tmp_path / "cache.json").write_text(json.dumps({**raw, "class_names": raw["class_names"][:-1]}))
    with pytest.raises(DatasetError, match="no_action"):
        cache_splits(DataConfig(dataset="simulated", root=str(tmp_path)))


def test_validation_rooms_are_drawn_from_the_seed() -> None:
    from training.data import ClipSource

    pool = [ClipSource(f"s{k}", -1, lambda crops: None, {"scene": k // 2}) for k in range(20)]
    train, validation = hold_out_scenes(pool, 0.2, seed=1)
    assert len(validation) == 4 and len(train) == 16
    assert {s.group["scene"] for s in validation}.isdisjoint({s.group["scene"] for s in train})
    again, _ = hold_out_scenes(pool, 0.2, seed=1)
    assert [s.name for s in again] == [s.name for s in train]
    assert hold_out_scenes(pool, 0.2, seed=2)[1] != validation


def test_cut_clips_stay_trimmed_clips(tmp_path: Path) -> None:
    """The old demo's clips (ten classes) and the cut clips of the attention check (the same classes +
    no_action) are trimmed clips: one label each, five windows per clip."""
    from dataclasses import replace

    from core.window import WindowSpec
    from simulation.actions import CLASS_NAMES
    from training.datasets.simulated import prepare_simulated_clip, simulated_tasks
    from training.prepare import prepare_cache
    from training.windows import WindowDataset

    settings = replace(demo_settings(), class_names=CLASS_NAMES)
    prepare_cache(simulated_tasks(1, 3, "t"), settings, tmp_path, progress=False,
                  prepare_one=prepare_simulated_clip)
    for names in (list(CLASS_NAMES), [*CLASS_NAMES, NO_ACTION]):
        raw = json.loads((tmp_path / "cache.json").read_text())
        (tmp_path / "cache.json").write_text(json.dumps({**raw, "class_names": names}))
        splits = cache_splits(DataConfig(dataset="simulated", root=str(tmp_path), validation_fraction=0.0))
        assert not splits.continuous and splits.class_names == names
        assert sorted(s.label for s in splits.train) == list(range(len(CLASS_NAMES)))
    windows = WindowDataset(splits.train, WindowSpec(2.0, 10), splits.layout, 1, train=False, with_crops=True)
    assert windows[0]["crops"].shape == (5, 3, 10, 32, 32, 3)
