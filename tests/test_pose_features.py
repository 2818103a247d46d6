"""Optional pose LSTM inputs (velocity, per-frame centring) and the label-smoothing loss option."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from model_files import random_checkpoint

from core.engines import Backend, TorchEngine, example_inputs, open_engine
from core.model import (
    NetworkConfig,
    PartAttentionNetwork,
    PoseLSTM,
    load_checkpoint,
    pose_only,
    tiny,
)
from core.skeleton import KINECT_V1
from training.ablations import network_config
from training.config import load_config
from training.stages import stage_loss

pytestmark = pytest.mark.usefixtures("one_torch_thread")

REPO = Path(__file__).resolve().parents[1]
CHECKPOINTS = REPO / "training" / "checkpoints"


def skeleton_batch(batch: int = 2, frames: int = 6, bodies: int = 2, joints: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, frames, bodies, joints, 3, generator=g)
    x[:, :, 1] = 0.0  # the second person is absent ...
    x[0, 3:, 1] = torch.randn(frames - 3, joints, 3, generator=g)  # ... except from frame 3 of clip 0
    x[1, 0] = 0.0  # clip 1 starts with an empty frame
    return x


def lstm(**flags: object) -> PoseLSTM:
    torch.manual_seed(0)
    return PoseLSTM(num_joints=4, num_bodies=2, num_classes=3, hidden_size=8, num_layers=2, **flags)


def test_flags_off_feed_positions_exactly_as_before() -> None:
    model = lstm()
    assert model.lstm.input_size == 2 * 4 * 3
    x = skeleton_batch()
    assert model.features(x) is x
    config = NetworkConfig(num_classes=3)
    assert not config.pose_velocity and not config.pose_centre_frames
    # Configs stored before the fields existed (every committed checkpoint) still load, flags off.
    old = {k: v for k, v in config.to_dict().items() if not k.startswith("pose_")}
    assert NetworkConfig.from_dict(old) == config


def test_configs_from_before_the_features_load_with_them_off() -> None:
    old = {k: v for k, v in tiny(5).to_dict().items() if not k.startswith("pose_")}
    config = NetworkConfig.from_dict(old)
    assert config.pose_velocity == 0 and not config.pose_centre_frames and not config.pose_bones
    loaded = load_checkpoint(CHECKPOINTS / "nucla_lstm.pt")  # trained with velocity x5
    assert loaded.config.pose_velocity == 5.0 and loaded.model.pose.lstm.input_size == 20 * 6


def test_velocity_doubles_the_input_and_is_zero_across_absent_frames() -> None:
    model = lstm(velocity=1.0)
    assert model.lstm.input_size == 2 * 4 * 6
    x = skeleton_batch()
    features = model.features(x)
    assert features.shape == (*x.shape[:4], 6)
    torch.testing.assert_close(features[..., :3], x)
    velocity = features[..., 3:]
    assert torch.all(velocity[:, 0] == 0)
    torch.testing.assert_close(velocity[0, 1:, 0], x[0, 1:, 0] - x[0, :-1, 0])
    assert torch.all(velocity[0, 3, 1] == 0)  # the second person appears: no jump from the origin
    torch.testing.assert_close(velocity[0, 4:, 1], x[0, 4:, 1] - x[0, 3:-1, 1])
    assert torch.all(velocity[1, :2] == 0)  # an empty first frame: no velocity into or out of it

    torch.testing.assert_close(lstm(velocity=5.0).features(x)[..., 3:], 5.0 * velocity)  # the weight

    logits, hidden = model(x)
    assert logits.shape == (2, 3) and hidden.shape == (2, 6, 8)
    logits.sum().backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_centred_frames_have_zero_mean_and_absent_joints_stay_zero() -> None:
    model = lstm(centre_frames=True)
    assert model.lstm.input_size == 2 * 4 * 3
    x = skeleton_batch()
    features = model.features(x)
    present = x.abs().sum(-1) > 0
    torch.testing.assert_close(features[0, :, 0].mean(-2), torch.zeros(6, 3), atol=1e-6, rtol=0)
    assert torch.all(features[~present] == 0)
    # Shifting a whole frame (walking) leaves the centred positions unchanged.
    moved = x.clone()
    moved[0, 2, 0] += torch.tensor([1.0, 0.0, -2.0])
    torch.testing.assert_close(model.features(moved), features)


def test_flags_are_set_from_the_yaml_model_overrides() -> None:
    config = load_config(
        REPO / "training" / "configs" / "nucla_lstm.yaml",
        ["model.overrides={pose_velocity: 5.0, pose_centre_frames: true}", "optim.label_smoothing=0.1"],
    )
    net = network_config(config, 10, KINECT_V1)
    assert net.pose_velocity == 5.0 and net.pose_centre_frames
    assert PartAttentionNetwork(net).pose.lstm.input_size == 20 * 6
    assert config.optim.label_smoothing == 0.1


def test_one_override_given_with_set_joins_the_config_files_others() -> None:
    path = REPO / "training" / "configs" / "pku_interactions.yaml"
    in_file = load_config(path).model.overrides
    config = load_config(path, ["model.overrides.lstm_hidden=64"])
    assert len(in_file) >= 2 and config.model.overrides == {**in_file, "lstm_hidden": 64}


def test_label_smoothing_changes_only_the_cross_entropy_term() -> None:
    config = load_config(None, ["optim.weight_decay=0"])
    network = PartAttentionNetwork(pose_only(tiny(3)))
    logits = torch.tensor([[4.0, 0.0, 0.0], [0.0, 3.0, 1.0]])
    labels = torch.tensor([0, 1])
    attention = logits.new_zeros(2, 0)
    streams = logits[:, None]  # the pose stage's logits: (B, streams, C), one stream for the LSTM
    plain = stage_loss(network, "pose", streams, attention, labels, config)
    torch.testing.assert_close(plain, torch.nn.functional.cross_entropy(logits, labels))
    config = load_config(None, ["optim.weight_decay=0", "optim.label_smoothing=0.1"])
    smoothed = stage_loss(network, "pose", streams, attention, labels, config)
    want = torch.nn.functional.cross_entropy(logits, labels, label_smoothing=0.1)
    torch.testing.assert_close(smoothed, want)
    assert smoothed > plain  # confident right answers cost more against smoothed targets


def test_pose_only_model_with_every_feature_exports_to_onnx(tmp_path: Path) -> None:
    config = dataclasses.replace(
        pose_only(tiny(5)), pose_velocity=5.0, pose_centre_frames=True, pose_bones=True
    )
    checkpoint = random_checkpoint(tmp_path / "pose.pt", config, [f"action {i}" for i in range(5)])
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path, threads=1)
    crops, skeleton = example_inputs(engine.metadata, 2)
    skeleton[1, :2] = 0.0  # a person who appears during the window
    logits, _ = engine.run(crops, skeleton)
    want, _ = TorchEngine(load_checkpoint(checkpoint).model, engine.metadata).run(crops, skeleton)
    assert logits.shape == (2, 5)
    np.testing.assert_allclose(logits, want, atol=1e-4, rtol=0)


def test_bones_are_joint_minus_parent_and_need_a_known_layout() -> None:
    parents = (-1, 0, 1, 1)
    model = lstm(bone_parents=parents)
    assert model.lstm.input_size == 2 * 4 * 6
    x = skeleton_batch()
    bones = model.features(x)[..., 3:]
    assert torch.all(bones[..., 0, :] == 0)  # the root has no bone
    torch.testing.assert_close(bones[0, :, 0, 3], x[0, :, 0, 3] - x[0, :, 0, 1])
    assert torch.all(bones[1, 0] == 0)  # absent frame
    both = lstm(velocity=1.0, bone_parents=parents)
    assert both.features(x).shape[-1] == 9 and both.lstm.input_size == 2 * 4 * 9
    config = NetworkConfig(num_classes=3, num_joints=20, num_bodies=1, pose_bones=True)
    assert PartAttentionNetwork(pose_only(config)).pose.bone_parents[2] == KINECT_V1.parents[2]
    with pytest.raises(ValueError, match="pose_bones needs a skeleton layout of 7 joints"):
        NetworkConfig(num_classes=3, num_joints=7, pose_bones=True)
    with pytest.raises(ValueError, match="pose_velocity"):
        NetworkConfig(num_classes=3, pose_velocity=-1.0)


def test_a_frame_is_centred_on_its_present_joints_only() -> None:
    """Joints 0 and 1 present, 2 and 3 absent: the centre is the mean of the two present joints, and the
    absent ones stay exact zeros (not minus the centre)."""
    model = lstm(centre_frames=True)
    x = torch.zeros(1, 2, 2, 4, 3)
    x[0, :, 0, 0] = torch.tensor([1.0, 2.0, 3.0])
    x[0, :, 0, 1] = torch.tensor([3.0, 2.0, 5.0])
    features = model.features(x)
    torch.testing.assert_close(features[0, :, 0, 0], torch.tensor([[-1.0, 0.0, -1.0]] * 2))
    torch.testing.assert_close(features[0, :, 0, 1], torch.tensor([[1.0, 0.0, 1.0]] * 2))
    assert torch.all(features[0, :, 0, 2:] == 0) and torch.all(features[0, :, 1] == 0)


def test_velocity_is_of_the_positions_as_given_even_when_frames_are_centred() -> None:
    """pose.py: velocity is the frame-to-frame difference of the positions as given, so walking (a
    shift of the whole body, which centring removes from the positions) still shows in it."""
    model = lstm(centre_frames=True, velocity=1.0)
    x = torch.zeros(1, 3, 2, 4, 3)
    x[0, :, 0] = torch.randn(4, 3, generator=torch.Generator().manual_seed(1))
    x[0, :, 0] += torch.arange(3.0)[:, None, None] * torch.tensor([0.5, 0.0, 0.0])  # walks along x
    velocity = model.features(x)[..., 3:]
    torch.testing.assert_close(velocity[0, 1:, 0], torch.tensor([0.5, 0.0, 0.0]).expand(2, 4, 3))


def test_a_bone_whose_parent_is_absent_is_zero() -> None:
    """An absent parent is an exact zero, not a position: joint minus it would be the joint itself."""
    model = lstm(bone_parents=(-1, 0, 1, 1))
    x = torch.zeros(1, 1, 2, 4, 3)
    x[0, 0, 0, 0] = torch.tensor([0.5, 0.5, 0.5])
    x[0, 0, 0, 2] = torch.tensor([1.0, 2.0, 3.0])  # its parent, joint 1, is absent
    x[0, 0, 0, 3] = torch.tensor([4.0, 5.0, 6.0])  # so is this one's
    bones = model.features(x)[..., 3:]
    assert torch.all(bones[0, 0, 0, 2:] == 0)
    assert torch.all(bones[0, 0, 0, 1] == 0)  # joint 1 itself is absent


def test_a_joint_whose_coordinates_sum_to_zero_is_present() -> None:
    """Absent means an exact zero position, not coordinates that happen to cancel."""
    from core.model.pose_features import presence

    x = torch.zeros(1, 2, 1, 3, 3)
    x[0, :, 0, 1] = torch.tensor([1.0, -1.0, 0.0])
    x[0, 1, 0, 2] = torch.tensor([0.5, 0.25, -0.75])
    assert presence(x)[0, :, 0, :, 0].tolist() == [[0.0, 1.0, 0.0], [0.0, 1.0, 1.0]]
