"""core/model/pose.py: the bidirectional pose LSTM that reads a window at its centre."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from core.model.network import PartAttentionNetwork
from core.model.pose import PoseLSTM
from core.model.profiles import NetworkConfig, pose_only, tiny


def test_bidirectional_lstm_classifies_from_the_centre_step() -> None:
    torch.manual_seed(0)
    lstm = PoseLSTM(num_joints=25, num_bodies=2, num_classes=4, hidden_size=8, num_layers=2,
                    bidirectional=True, velocity=5.0).eval()
    skeleton = torch.randn(3, 10, 2, 25, 3)
    logits, hidden = lstm(skeleton)
    assert hidden.shape == (3, 10, 16) and logits.shape == (3, 4)
    torch.testing.assert_close(logits, lstm.classifier(hidden[:, 5]))
    # The last frames reach the logits through the backward direction, the first through the forward one.
    for frame in (0, 9):
        changed = skeleton.clone()
        changed[:, frame] += 1.0
        assert not torch.allclose(lstm(changed)[0], logits)


def test_forward_lstm_is_unchanged_by_the_option() -> None:
    torch.manual_seed(0)
    lstm = PoseLSTM(num_joints=25, num_bodies=1, num_classes=3, hidden_size=8, num_layers=1).eval()
    logits, hidden = lstm(torch.randn(2, 6, 1, 25, 3))
    assert hidden.shape == (2, 6, 8)
    torch.testing.assert_close(logits, lstm.classifier(hidden[:, -1]))


def test_bidirectional_networks_build_save_and_export(tmp_path) -> None:
    from core.engines import Backend, open_engine
    from core.model.checkpoint import Preprocessing, load_checkpoint, save_checkpoint

    config = dataclasses.replace(tiny(4), lstm_bidirectional=True)
    assert NetworkConfig.from_dict(config.to_dict()) == config
    torch.manual_seed(0)
    attention = PartAttentionNetwork(config).eval()  # the attention head reads 2H-wide states
    crops = torch.rand(1, 3, config.num_frames, config.crop_size, config.crop_size, 3) * 255
    skeleton = torch.randn(1, config.num_frames, 2, 25, 3)
    logits, alpha = attention(crops, skeleton)
    assert logits.shape == (1, 4) and alpha.shape == (1, 3)

    pose = pose_only(config)
    network = PartAttentionNetwork(pose).eval()
    path = tmp_path / "bilstm.pt"
    save_checkpoint(path, network, class_names=["a", "b", "c", "d"],
                    preprocessing=Preprocessing.matching(pose))
    assert load_checkpoint(path).config.lstm_bidirectional
    skeleton_in = np.random.default_rng(0).normal(size=(2, pose.num_frames, 2, 25, 3)).astype(np.float32)
    crops_in = np.zeros((2, 0, pose.num_frames, pose.crop_size, pose.crop_size, 3), np.float32)
    eager, _ = open_engine(path, Backend.PYTORCH_CPU, threads=1).run(crops_in, skeleton_in)
    onnx = open_engine(path, Backend.ONNXRUNTIME_CPU, threads=1, cache_dir=tmp_path)
    graph, _ = onnx.run(crops_in, skeleton_in)
    np.testing.assert_allclose(graph, eager, atol=1e-4)


def test_mirror_averaging_sees_a_window_and_its_mirror_as_one(tmp_path) -> None:
    """pose_mirror_average: the class distribution is the mean of the plain network's on the window and
    on its mirror image; no new weights, so a trained pose network takes the option as it is; the
    exported graph computes the same."""
    from core.engines import Backend, open_engine
    from core.model.checkpoint import Preprocessing, save_checkpoint
    from core.skeleton import KINECT_V2

    plain_config = dataclasses.replace(pose_only(tiny(5)), num_bodies=2)
    torch.manual_seed(0)
    plain = PartAttentionNetwork(plain_config).eval()
    averaged = PartAttentionNetwork(dataclasses.replace(plain_config, pose_mirror_average=True)).eval()
    assert set(averaged.state_dict()) == set(plain.state_dict())  # the same weights, no more
    averaged.load_state_dict(plain.state_dict())
    skeleton = torch.randn(3, plain_config.num_frames, 2, 25, 3)
    skeleton[1, :, 1] = 0.0  # one window with the second person absent: still absent when mirrored
    mirror = skeleton[:, :, :, list(KINECT_V2.mirror_order)] * torch.tensor([-1.0, 1.0, 1.0])
    with torch.no_grad():
        want = (plain(None, skeleton)[0].softmax(-1) + plain(None, mirror)[0].softmax(-1)) / 2
        got = averaged(None, skeleton)[0]
        torch.testing.assert_close(got.softmax(-1), want)
        torch.testing.assert_close(averaged(None, mirror)[0], got)  # a scene and its mirror: one answer
        assert not torch.allclose(plain(None, skeleton)[0].softmax(-1), want)  # and not the plain one

    path = tmp_path / "mirror.pt"
    save_checkpoint(path, averaged, class_names=list("abcde"),
                    preprocessing=Preprocessing.matching(averaged.config))
    crops_in = np.zeros((3, 0, plain_config.num_frames, plain_config.crop_size, plain_config.crop_size, 3),
                        np.float32)
    onnx = open_engine(path, Backend.ONNXRUNTIME_CPU, threads=1, cache_dir=tmp_path)
    logits, _ = onnx.run(crops_in, skeleton.numpy())
    np.testing.assert_allclose(torch.from_numpy(logits).softmax(-1).numpy(), want.numpy(), atol=1e-5)
