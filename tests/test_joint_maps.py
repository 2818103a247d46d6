"""core/joint_maps.py: Kinect v2 <-> v1 skeletons, checked on real v2 frames (PKU-MMD, NTU) and real v1
sequences (N-UCLA); and training a v1-layout model on v2 data."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.joint_maps import KINECT_V1_TO_V2, KINECT_V2_TO_V1, JointMap, joint_map, renamed
from core.skeleton import INFERRED, KINECT_V1, KINECT_V2, NOT_TRACKED, TRACKED, normalize_window
from recordings.ntu import read_skeleton
from recordings.pkummd import body_present, read_sequence

# Bones both sensors have, as (parent, child) joint names.
LIMBS = [(a + side, b + side) for side in ("Left", "Right") for a, b in (
    ("Shoulder", "Elbow"), ("Elbow", "Wrist"), ("Wrist", "Hand"), ("Hip", "Knee"), ("Knee", "Ankle"),
    ("Ankle", "Foot"))]


def _v2_bodies(shared_data: Path) -> np.ndarray:
    """Real Kinect v2 bodies (N, 25, 3): a PKU-MMD sequence (two people, side and front views) and an
    NTU clip."""
    parts = []
    pku = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    if pku.is_file():
        joints = read_sequence(pku)
        parts.append(joints[body_present(joints)][::3])
    ntu = shared_data / "ntu" / "skeletons" / "S001C003P008R002A058.skeleton"
    if ntu.is_file():
        parts.append(np.array([b.xyz for frame in read_skeleton(ntu).frames for b in frame], np.float32))
    if not parts:
        pytest.skip(f"no real Kinect v2 skeletons under {shared_data}")
    return np.concatenate(parts)


def _length(joints: np.ndarray, layout, a: str, b: str) -> np.ndarray:
    return np.linalg.norm(joints[..., layout.index(a), :] - joints[..., layout.index(b), :], axis=-1)


def test_v2_to_v1_keeps_bone_lengths_and_sides_on_real_frames(shared_data: Path) -> None:
    v2 = _v2_bodies(shared_data)
    v1, _ = KINECT_V2_TO_V1.apply(v2)
    assert v1.shape == (len(v2), 20, 3)
    for a, b in LIMBS:
        np.testing.assert_allclose(_length(v1, KINECT_V1, a, b), _length(v2, KINECT_V2, a, b), atol=1e-6)
    # Left stays left: every ...Left joint is the v2 joint of the same name, not its mirror.
    for name in KINECT_V1.joint_names:
        if "Left" in name or "Right" in name:
            np.testing.assert_array_equal(v1[:, KINECT_V1.index(name)], v2[:, KINECT_V2.index(name)])
    # The spine lies on the v2 spine, between SpineBase and the neck.
    spine = v1[:, KINECT_V1.index("Spine")]
    base, mid = v2[:, KINECT_V2.index("SpineBase")], v2[:, KINECT_V2.index("SpineMid")]
    np.testing.assert_allclose(spine, 0.25 * base + 0.75 * mid, atol=1e-6)


def test_v2_mapped_to_v1_is_upright_and_faces_the_right_way_after_normalisation(shared_data: Path) -> None:
    v2 = _v2_bodies(shared_data)
    v1, _ = KINECT_V2_TO_V1.apply(v2)
    # One window per body (a single frame each): the view normalisation of core.skeleton.
    normalised_v1 = np.stack([normalize_window(b[None, None], None, KINECT_V1)[0, 0] for b in v1[::5]])
    normalised_v2 = np.stack([normalize_window(b[None, None], None, KINECT_V2)[0, 0] for b in v2[::5]])
    y = lambda n, layout, name: n[:, layout.index(name), 1]  # noqa: E731
    x = lambda n, layout, name: n[:, layout.index(name), 0]  # noqa: E731
    # Upright: the head above the spine top above the origin above the feet, in (almost) every frame.
    assert (y(normalised_v1, KINECT_V1, "Head") > y(normalised_v1, KINECT_V1, "ShoulderCenter")).mean() > 0.98
    assert (y(normalised_v1, KINECT_V1, "ShoulderCenter") > 0.99).all()  # the y axis runs up the spine
    assert (y(normalised_v1, KINECT_V1, "FootLeft") < -1.0).mean() > 0.95
    # Left on the +x side (the axis runs from the right shoulder to the left one), as in v2.
    for name in ("ShoulderLeft", "HipLeft"):
        assert (x(normalised_v1, KINECT_V1, name) > 0).mean() > 0.95
        assert (x(normalised_v1, KINECT_V1, name.replace("Left", "Right")) < 0).mean() > 0.95
    hand_v1, hand_v2 = x(normalised_v1, KINECT_V1, "HandLeft"), x(normalised_v2, KINECT_V2, "HandLeft")
    assert (np.sign(hand_v1) == np.sign(hand_v2)).mean() > 0.95
    # v1 proportions: N-UCLA's median Spine -> ShoulderCenter is 1.03 shoulder widths
    # (python -m benchmarks.joint_maps); the v2 bodies mapped come within a tenth of it.
    width = _length(v1, KINECT_V1, "ShoulderLeft", "ShoulderRight")
    spine = _length(v1, KINECT_V1, "Spine", "ShoulderCenter")
    assert np.median(spine / width) == pytest.approx(1.03, abs=0.1)


def test_v1_to_v2_and_back_on_real_v1_sequences(shared_data: Path) -> None:
    files = sorted((shared_data / "nucla" / "all_sqe").glob("*.json"))[:20]
    if not files:
        pytest.skip("no N-UCLA sequences")
    v1 = np.concatenate([np.asarray(json.loads(p.read_text())["skeletons"], np.float32) for p in files])
    v2, states = KINECT_V1_TO_V2.apply(v1, np.full(v1.shape[:2], TRACKED, np.int8))
    assert v2.shape == (len(v1), 25, 3)
    back, _ = KINECT_V2_TO_V1.apply(v2)
    np.testing.assert_allclose(back, v1, atol=1e-5)
    for a, b in LIMBS:
        np.testing.assert_allclose(_length(v2, KINECT_V2, a, b), _length(v1, KINECT_V1, a, b), atol=1e-6)
    # Joints v1 does not track are guesses.
    assert (states[:, KINECT_V2.index("HandTipLeft")] == INFERRED).all()
    assert (states[:, KINECT_V2.index("ElbowLeft")] == TRACKED).all()
    normalised = normalize_window(v2[:, None], states[:, None], KINECT_V2)
    head, base = KINECT_V2.index("Head"), KINECT_V2.index("SpineBase")
    assert (normalised[:, 0, head, 1] > normalised[:, 0, base, 1]).mean() > 0.98


def test_states_and_absent_joints() -> None:
    joints = np.random.default_rng(0).uniform(0.1, 2, size=(2, 25, 3)).astype(np.float32)
    states = np.full((2, 25), TRACKED, np.int8)
    states[0, KINECT_V2.index("Neck")] = INFERRED
    states[1, KINECT_V2.index("SpineMid")] = NOT_TRACKED
    joints[1, KINECT_V2.index("HandLeft")] = 0.0  # absent
    v1, v1_states = KINECT_V2_TO_V1.apply(joints, states)
    centre, spine = KINECT_V1.index("ShoulderCenter"), KINECT_V1.index("Spine")
    assert v1_states[0, centre] == INFERRED and v1_states[0, spine] == TRACKED  # the lowest of its sources
    assert v1_states[1, spine] == NOT_TRACKED and (v1[1, spine] == 0).all()  # a source missing: absent
    hand = KINECT_V1.index("HandLeft")
    assert (v1[1, hand] == 0).all() and v1_states[1, hand] == NOT_TRACKED
    assert (v1[0, hand] == joints[0, KINECT_V2.index("HandLeft")]).all()
    zeros, _ = KINECT_V2_TO_V1.apply(np.zeros((3, 25, 3), np.float32))  # an absent body stays absent
    assert (zeros == 0).all()


def test_v1_to_v2_puts_hand_tips_and_thumbs_on_their_own_hand_and_marks_guesses_inferred() -> None:
    # v1 has no hand tips or thumbs: v2's are its hand of the same side, and only a guess, so never
    # "tracked" even when every v1 joint is.
    joints = np.random.default_rng(1).uniform(0.1, 2, size=(3, 20, 3)).astype(np.float32)
    states = np.full((3, 20), TRACKED, np.int8)
    v2, v2_states = KINECT_V1_TO_V2.apply(joints, states)
    for side in ("Left", "Right"):
        hand = joints[:, KINECT_V1.index("Hand" + side)]
        for name in ("HandTip" + side, "Thumb" + side):
            np.testing.assert_array_equal(v2[:, KINECT_V2.index(name)], hand)
    guessed = ("SpineMid", "SpineShoulder", "Neck", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight")
    for name in KINECT_V2.joint_names:
        assert (v2_states[:, KINECT_V2.index(name)] == (INFERRED if name in guessed else TRACKED)).all(), name


def test_maps_are_checked() -> None:
    assert joint_map(KINECT_V2, KINECT_V2) is None
    assert joint_map(KINECT_V2, KINECT_V1) is KINECT_V2_TO_V1
    with pytest.raises(ValueError, match="sum to 1"):
        JointMap(KINECT_V2, KINECT_V1, renamed(KINECT_V1, HipCenter=(("SpineBase", 0.5),)))
    with pytest.raises(ValueError):  # v2 has no HipCenter
        JointMap(KINECT_V2, KINECT_V1, renamed(KINECT_V1))
    with pytest.raises(ValueError, match=r"expected joints shaped \(\.\.\., 25, 3\)"):
        KINECT_V2_TO_V1.apply(np.zeros((4, 20, 3)))


def test_v2_data_trains_a_v1_layout_model(shared_data: Path, tmp_path: Path, one_torch_thread) -> None:
    """PKU-MMD (Kinect v2) sequences as the training data of a Kinect v1, one-body model."""
    from core.model.checkpoint import load_checkpoint
    from training.config import load_config
    from training.datasets import build_splits
    from training.stages import train_stage

    if not (shared_data / "pkummd" / "skeletons").is_dir():
        pytest.skip("no PKU-MMD sequences")
    root = tmp_path / "pkummd"
    (root / "skeletons").mkdir(parents=True)
    (root / "labels").mkdir()
    for name in ("0005-L", "0005-M", "0006-L"):  # two performances: one trains, one validates
        source = shared_data / "pkummd"
        (root / "skeletons" / f"{name}.txt.xz").symlink_to(source / "skeletons" / f"{name}.txt.xz")
        (root / "labels" / f"{name}.txt").symlink_to(source / "labels" / f"{name}.txt")
    config = load_config(None, [
        "data.dataset=pkummd", f"data.root={root}", "data.protocol=all", "data.layout=kinect_v1",
        "data.max_bodies=1", "data.validation_fraction=0.5", "model.profile=tiny", "model.ablation=pose",
        "window.stride_s=1.0", "epochs.pose=1", "max_steps_per_epoch=2", "optim.batch_size=4", "workers=0",
        "progress=false", f"out={tmp_path / 'run'}", "device=cpu",
    ])
    splits = build_splits(config.data)
    assert splits.layout == KINECT_V1 and splits.continuous
    clip = splits.train[0].load(False)
    assert clip.joints.shape[1:] == (1, 20, 3) and clip.timeline is not None
    result = train_stage(config, "pose", splits=splits)
    checkpoint = load_checkpoint(result.best_checkpoint)
    assert checkpoint.preprocessing.layout == "kinect_v1" and checkpoint.config.num_joints == 20
    assert checkpoint.class_names[-1] == "no_action"
