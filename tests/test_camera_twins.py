"""The same moment from another camera: pairs of windows for the consistency term (consistency.weight)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from core.model.loss import view_consistency_loss
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, Interval, Timeline
from core.window import WindowSpec
from training.config import WindowConfig, load_config
from training.data import Clip, ClipSource, DatasetError, Splits, fit_bodies
from training.windows import Augmentation, CameraTwin, StreamWindowDataset, time_knots, window_datasets

CLASSES = ("wave", "kick", NO_ACTION)
FPS = 30.0
SPEC = WindowSpec(2.0, 10)


def person(seed: int, t: np.ndarray, moves: list[Interval]) -> np.ndarray:
    """(T, 25, 3): a still pose of its own (seeded) with one hand waving or a foot kicking in `moves`."""
    rng = np.random.default_rng(seed)
    joints = np.repeat((rng.normal(0, 0.2, (25, 3)) + np.array([0, 0, 2.5]))[None], len(t), 0)
    joints[:, 20] = joints[:, 1] + np.array([0, 0.3, 0])  # a spine for the view transform
    joints[:, 4], joints[:, 8] = joints[:, 20] + [0.2, 0, 0], joints[:, 20] - [0.2, 0, 0]  # shoulders
    for interval in moves:
        inside = (t >= interval.start) & (t < interval.end)
        joints[inside, 11 if interval.label == "wave" else 19, 1] += 0.3 * np.sin(8 * t[inside] + seed)
    return joints


def performance(delay_s: float = 0.5, yaw_deg: float = 45.0) -> list[ClipSource]:
    """One performance of two people filmed by two cameras: the second turned `yaw_deg` about the
    vertical, started `delay_s` later, and holding the two people in the other body slots."""
    seconds = 30.0
    t = np.arange(int(seconds * FPS)) / FPS
    moves = [Interval(4.0, 8.0, "wave"), Interval(12.0, 15.0, "kick"), Interval(20.0, 23.0, "wave")]
    scene = np.stack([person(0, t, moves), person(1, t, moves[1:])], axis=1)  # (T, 2, 25, 3)
    a = math.radians(yaw_deg)
    turn = np.array([[math.cos(a), 0, math.sin(a)], [0, 1, 0], [-math.sin(a), 0, math.cos(a)]])
    shift = int(delay_s * FPS)
    cameras = {
        0: (scene, moves),
        1: ((scene[shift:, ::-1] @ turn.T).astype(np.float32),
            [Interval(i.start - delay_s, i.end - delay_s, i.label) for i in moves]),
    }
    sources = []
    for view, (joints, intervals) in cameras.items():
        timeline = Timeline.checked(intervals, classes=CLASSES, duration=len(joints) / FPS)
        for swapped in (0, 1):
            def load(_crops: bool, joints=joints, timeline=timeline, swapped=swapped, view=view) -> Clip:
                bodies = fit_bodies(joints[:, ::-1] if swapped else joints, 1)
                return Clip(f"cam{view}", -1, np.arange(len(joints)) / FPS, bodies, timeline=timeline)

            group = {"performance": 1, "view": view, "swapped": swapped}
            sources.append(ClipSource(f"cam{view}", -1, load, group))
    return sources


def test_a_twin_is_the_same_person_at_the_same_moment_from_the_other_camera() -> None:
    # Rotation and scale augmentation on: both windows take the same draw, so they stay equal.
    dataset = StreamWindowDataset(performance(), SPEC, KINECT_V2, 1, CLASSES, train=True, stride_s=0.2,
                                  twins=True, augmentation=Augmentation(rotate_deg=30, scale=0.1))
    assert [len(twins) for twins in dataset._twins] == [1, 1, 1, 1]
    checked = 0
    for index in range(0, len(dataset), 7):
        item = dataset[index]
        if dataset.window_ends[dataset.plan()[index]] < 3.0:
            continue  # the first window may reach back before the other camera started
        # Which slot holds which person differs between the cameras; the twin is chosen by pose.
        np.testing.assert_allclose(item["twin_skeleton"].numpy(), item["skeleton"].numpy(), atol=1e-4)
        checked += 1
    assert checked > 10


def test_time_maps_go_through_matching_labelled_instants() -> None:
    here = Timeline.checked([Interval(2.0, 4.0, "wave"), Interval(10.0, 12.0, "kick")], classes=CLASSES)
    there = Timeline.checked([Interval(1.5, 3.5, "wave"), Interval(9.0, 11.5, "kick")], classes=CLASSES)
    twin = CameraTwin((0,), *time_knots(here, there))
    assert twin.map_time(3.0) == pytest.approx(2.5)
    assert twin.map_time(11.0) == pytest.approx(10.25)  # inside an interval of another length: linear
    assert twin.map_time(0.0) == pytest.approx(-0.5) and twin.map_time(20.0) == pytest.approx(19.5)
    # Label files that disagree cannot be matched interval by interval: no twin rather than a wrong one.
    other = Timeline.checked([Interval(1.5, 3.5, "kick"), Interval(9.0, 11.5, "kick")], classes=CLASSES)
    assert time_knots(here, other) is None


def test_twins_need_a_multi_camera_dataset() -> None:
    unnamed = [ClipSource(s.name, -1, s.load) for s in performance()]
    with pytest.raises(DatasetError, match="performance and camera"):
        StreamWindowDataset(unnamed, SPEC, KINECT_V2, 1, CLASSES, train=True, twins=True)
    trimmed = Splits([ClipSource("t", 0, lambda _c: None)], [], [], ["a"], KINECT_V2, has_rgb=False)
    with pytest.raises(DatasetError, match="trimmed clips"):
        window_datasets(trimmed, SPEC, 1, window=WindowConfig(), augmentation=Augmentation(),
                        with_crops=False, part_index=None, seed=0, twins=True)


def test_the_consistency_term_compares_directions() -> None:
    a = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    assert view_consistency_loss(a, 3 * a).item() == pytest.approx(0.0, abs=1e-6)  # lengths are free
    assert view_consistency_loss(a, a.flip(-1)).item() == pytest.approx(1.0)  # orthogonal
    with pytest.raises(ValueError, match="alike"):
        view_consistency_loss(a, a[:1])


def test_a_pose_stage_trains_with_camera_twins(tmp_path: Path) -> None:
    from core.model.checkpoint import load_checkpoint
    from training.stages import train_stage

    torch.set_num_threads(1)
    splits = Splits(performance(), performance(), [], list(CLASSES), KINECT_V2, has_rgb=False,
                    continuous=True)
    config = load_config(None, [
        "data.dataset=simulated", "model.profile=tiny", "model.ablation=pose", f"out={tmp_path}",
        "window.duration_s=2.0", "epochs.pose=1", "optim.batch_size=16", "device=cpu", "workers=0",
        "progress=false", "data.max_bodies=1", "model.overrides={num_bodies: 1}", "consistency.weight=1.0",
    ])
    result = train_stage(config, "pose", splits=splits)
    loaded = load_checkpoint(result.best_checkpoint)
    assert loaded.extra["train_config"]["consistency"]["weight"] == 1.0


def _two_cameras(folder: Path, shared_data: Path) -> Path:
    """A PKU-MMD folder of two real sequences, links to the shared data: the left and middle cameras of
    performance 5."""
    data = shared_data / "pkummd"
    if not (data / "skeletons").is_dir():
        pytest.skip(f"PKU-MMD not found at {data} (research-only, not in the repo)")
    (folder / "skeletons").mkdir()
    (folder / "labels").mkdir()
    for name in ("0005-L", "0005-M"):
        (folder / "skeletons" / f"{name}.txt.xz").symlink_to(data / "skeletons" / f"{name}.txt.xz")
        (folder / "labels" / f"{name}.txt").symlink_to(data / "labels" / f"{name}.txt")
    return folder


def test_pkummd_cameras_of_one_performance_are_paired_in_time(tmp_path: Path, shared_data: Path) -> None:
    from training.datasets.pkummd import pkummd_sources

    _two_cameras(tmp_path, shared_data)
    classes = ("giving something to other person", "handshaking", "hugging other person",
               "kicking other person", "pat on back of other person", "point finger at the other person",
               "punching/slapping other person", "pushing other person", NO_ACTION)
    dataset = StreamWindowDataset(pkummd_sources(tmp_path, max_bodies=1), SPEC, KINECT_V2, 1, classes,
                                  train=True, twins=True)
    left = dataset._twins[0][0]  # 0005-L as recorded -> both body orders of 0005-M
    assert left.sources == (2, 3)
    # Their first labelled interaction starts at frame 229 on the left camera and 217 on the middle one.
    assert left.map_time(229 / 30) == pytest.approx(217 / 30)
    item = dataset[0]
    assert item["twin_skeleton"].shape == item["skeleton"].shape == (10, 1, 25, 3)


def test_camera_error_benchmark_sets_the_cameras_beside_the_bone_turns(tmp_path: Path, shared_data: Path,
                                                                       capsys) -> None:
    """benchmarks.camera_error on two cameras of one real performance: the cameras disagree most at the
    hands and feet, in errors that change slowly; the augmentation leaves the spine and grows outwards."""
    from benchmarks.camera_error import main

    result = main(["--data", str(_two_cameras(tmp_path, shared_data)), "--windows", "40"])
    assert result["windows"] >= 30
    cameras, turned = np.array(result["cameras"]["per_joint"]), np.array(result["bone_turns"]["per_joint"])
    spine, hands = [0, 1, 2], [7, 11]  # Kinect v1 layout (the pretraining's)
    assert cameras[hands].min() > 2 * cameras[spine].max() > 0
    assert np.all(turned[spine] == 0) and turned[hands].min() > 0.2
    lags = result["cameras"]["autocorrelation"]
    assert lags[0] > 0.5 > lags[2]  # alike from one frame to the next, not four frames on
    assert "| HandRight |" in capsys.readouterr().out
