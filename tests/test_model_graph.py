"""The graph pose stream (core/model/graph.py): alone, inside the attention network, exported."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest
import torch
from model_files import random_checkpoint

from core.engines import (
    ATTENTION_TOLERANCE,
    LOGITS_TOLERANCE,
    Backend,
    TorchEngine,
    example_inputs,
    open_engine,
    split_onnx,
)
from core.model import (
    Aggregation,
    NetworkConfig,
    PartAttentionNetwork,
    PoseGCN,
    PoseInput,
    PoseStream,
    Stage,
    load_checkpoint,
    pose_only,
    skeleton,
    tiny,
)
from core.model.graph import bone_adjacency
from core.skeleton import KINECT_V1, KINECT_V2

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PKU_MMD_CLASSES = 9  # 8 interaction classes + no_action


def gcn(layout=KINECT_V2, bodies: int = 2, classes: int = 4, **options: object) -> PoseGCN:
    torch.manual_seed(0)
    return PoseGCN(
        parents=layout.parents, num_bodies=bodies, num_classes=classes, channels=(8, 16), **options
    ).eval()


def tiny_gcn(classes: int = 5) -> NetworkConfig:
    """The tiny profile (attention network, Kinect v2, 2 bodies) with a small graph pose stream."""
    return dataclasses.replace(tiny(classes), pose_stream=PoseStream.GCN, gcn_channels=(8, 8))


def walking(batch: int, frames: int, bodies: int, joints: int, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 1, bodies, joints, 3, generator=g) * 0.5
    drift = torch.linspace(0, 1, frames)[None, :, None, None, None] * torch.randn(
        batch, 1, bodies, 1, 3, generator=g
    )
    return x + drift + 0.05 * torch.randn(batch, frames, bodies, joints, 3, generator=g)


def test_adjacency_follows_the_bones_and_averages_neighbours() -> None:
    a = bone_adjacency(KINECT_V1.parents)
    assert a.shape == (3, 20, 20)
    torch.testing.assert_close(a[0], torch.eye(20))
    # ShoulderCenter (2) gathers from its children Head, both shoulders (towards the root) ...
    assert set(torch.nonzero(a[1][:, 2]).flatten().tolist()) == {3, 4, 8}
    torch.testing.assert_close(a[1][:, 2].sum(), torch.tensor(1.0))
    # ... and from its parent Spine (away from the root); the root has no parent.
    assert torch.nonzero(a[2][:, 2]).flatten().tolist() == [1]
    assert a[2][:, 0].sum() == 0 and a[1][:, 19].sum() == 0  # a foot has no children
    with pytest.raises(ValueError, match="parent 7 is not one of the 3 joints"):
        bone_adjacency((-1, 0, 7))


@pytest.mark.parametrize(("layout", "bodies"), [(KINECT_V1, 1), (KINECT_V2, 2)])
def test_shapes_for_nucla_and_two_body_kinect_v2(layout, bodies: int) -> None:
    model = gcn(layout, bodies)
    x = walking(3, 12, bodies, layout.num_joints)
    logits, hidden = model(x)
    assert logits.shape == (3, 4) and hidden.shape == (3, 12, 3 * 16) and model.hidden_size == 48
    streams = model.stream_logits(x)
    assert streams.shape == (3, 3, 4)
    torch.testing.assert_close(logits, streams.mean(1))  # late fusion: the streams' mean
    with pytest.raises(ValueError, match=rf"skeleton must be \(B, T, {bodies}, {layout.num_joints}, 3\)"):
        model(x[:, :, :, :5])


def test_each_stream_reads_its_own_input_computed_from_positions() -> None:
    model = gcn(KINECT_V1, 1)
    x = walking(2, 10, 1, 20)
    moved = x + torch.tensor([0.3, -0.2, 0.1])  # the same motion, elsewhere: bones and velocity unchanged
    before, after = model.stream_logits(x), model.stream_logits(moved)
    assert not torch.allclose(before[:, 0], after[:, 0], atol=1e-4)  # joints see the shift
    torch.testing.assert_close(before[:, 1:], after[:, 1:], atol=1e-5, rtol=0)
    # One stream alone is a network with that input only.
    velocity_only = PoseGCN(
        parents=KINECT_V1.parents, num_bodies=1, num_classes=4, inputs=(PoseInput.VELOCITY,)
    )
    assert len(velocity_only.streams) == 1 and velocity_only(x)[1].shape == (2, 10, 64)
    with pytest.raises(ValueError, match="distinct inputs"):
        PoseGCN(
            parents=KINECT_V1.parents, num_bodies=1, num_classes=4, inputs=(PoseInput.BONES, PoseInput.BONES)
        )


def test_an_absent_second_body_does_not_dilute_the_first() -> None:
    model = gcn(KINECT_V2, 2)
    person = walking(2, 10, 1, 25)
    alone = torch.cat([person, torch.zeros_like(person)], dim=2)
    swapped = torch.cat([torch.zeros_like(person), person], dim=2)
    twice = torch.cat([person, person], dim=2)
    with torch.no_grad():
        reference = model(alone)
        for other in (swapped, twice):
            for got, want in zip(model(other), reference, strict=True):
                torch.testing.assert_close(got, want, atol=1e-5, rtol=0)
        # A partner changes the decision (the bodies are read, not only the first).
        partner = torch.cat([person, walking(2, 10, 1, 25, seed=5)], dim=2)
        assert not torch.allclose(model(partner)[0], reference[0], atol=1e-3)


def test_learned_adjacency_starts_at_the_bones_and_learns() -> None:
    model = gcn(KINECT_V1, 1).train()
    block = model.streams[0].blocks[0]
    assert torch.all(block.adjacency_residual == 0)
    torch.testing.assert_close(block.adjacency, bone_adjacency(KINECT_V1.parents))
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, labels = walking(8, 10, 1, 20), torch.arange(8) % 4
    torch.nn.functional.cross_entropy(
        model.stream_logits(x).flatten(0, 1), labels.repeat_interleave(3)
    ).backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    optimiser.step()
    assert block.adjacency_residual.abs().sum() > 0  # links the bones do not have can appear
    assert "streams.0.blocks.0.adjacency" in model.state_dict()  # the physical graph travels with the weights


def test_pose_stream_is_an_enum_field_and_old_configs_mean_the_lstm() -> None:
    config = skeleton(PKU_MMD_CLASSES)
    assert config.pose_stream is PoseStream.GCN and config.aggregation is Aggregation.POSE
    assert (config.num_joints, config.num_bodies, config.num_frames) == (25, 2, 20)
    stored = config.to_dict()
    assert stored["pose_stream"] == "gcn" and stored["gcn_inputs"] == ["joints", "bones", "velocity"]
    assert NetworkConfig.from_dict(stored) == config
    before = {k: v for k, v in tiny(5).to_dict().items() if k != "pose_stream" and not k.startswith("gcn_")}
    assert NetworkConfig.from_dict(before).pose_stream is PoseStream.LSTM
    for bad, message in [
        ({"gcn_temporal_kernel": 4}, "odd"),
        ({"pose_velocity": 5.0}, "LSTM inputs"),
        ({"gcn_channels": ()}, "block widths"),
        ({"num_joints": 7}, "layout of 7 joints"),
        ({"gcn_dropout": 1.0}, "gcn_dropout"),
    ]:
        with pytest.raises(ValueError, match=message):
            dataclasses.replace(config, **bad)
    with pytest.raises(ValueError, match="'graph' is not a valid PoseStream"):
        NetworkConfig.from_dict({**stored, "pose_stream": "graph"})


def test_skeleton_profile_fits_pku_mmd() -> None:
    """Kinect v2, 25 joints, two people, 8 interactions + no_action: what the PKU-MMD model takes."""
    network = PartAttentionNetwork(skeleton(PKU_MMD_CLASSES)).eval()
    x = walking(6, 20, 2, 25)  # six people in view, each with a partner
    x[3, :, 1] = 0.0  # one without
    with torch.no_grad():
        logits, attention = network(None, x)
    assert logits.shape == (6, PKU_MMD_CLASSES) and attention.shape == (6, 0)
    assert sum(p.numel() for p in network.parameters()) < 200_000


def test_graph_stream_drives_the_attention_of_eq_2_3() -> None:
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny_gcn())
    assert isinstance(network.pose, PoseGCN) and network.attention.project.in_features == 8 * 3 * 8
    crops = torch.rand(2, 3, 8, 32, 32, 3) * 255
    x = walking(2, 8, 2, 25)
    _, attention = network.eval()(crops, x)
    torch.testing.assert_close(attention, torch.full((2, 3), 1 / 3))  # W_s starts at zero
    network.set_stage(Stage.JOINT)
    network.train()
    with torch.no_grad():
        network.attention.score.weight.normal_()
    logits, attention = network(crops, x)
    (logits.sum() + attention[:, 0].sum()).backward()
    trunk = network.pose.trunk
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in trunk.parameters() if p.dim() > 1)
    assert all(p.grad is None for p in network.pose.classifier.parameters())  # unused by forward: frozen

    network.set_stage(Stage.FINETUNE)
    network.train()
    assert not any(p.requires_grad for p in trunk.parameters()) and not trunk.training
    statistics = trunk[0].input_norm.running_mean.clone()
    network(crops, x + 1.0)
    torch.testing.assert_close(trunk[0].input_norm.running_mean, statistics)  # frozen batch norm stays


def test_pose_stage_trains_every_stream_of_a_pose_only_network() -> None:
    network = PartAttentionNetwork(pose_only(tiny_gcn()))
    network.set_stage(Stage.POSE)
    assert all(p.requires_grad for p in network.parameters())
    weights = network.regularised_weights()
    assert len(weights) == 3 and all(w.shape == (5, 8) for w in weights)  # one classifier per stream
    with pytest.raises(ValueError, match="freezes the pose stream"):
        network.set_stage(Stage.FINETUNE)


@pytest.mark.parametrize("aggregation", [Aggregation.POSE, Aggregation.ATTENTION])
def test_onnx_runtime_matches_pytorch(aggregation: Aggregation, tmp_path: Path) -> None:
    config = pose_only(tiny_gcn()) if aggregation is Aggregation.POSE else tiny_gcn()
    checkpoint = random_checkpoint(
        tmp_path / "gcn.pt", config, [f"action {i}" for i in range(5)], varied_attention=True, seed=3
    )
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path, threads=1)
    reference = TorchEngine(load_checkpoint(checkpoint).model, engine.metadata)
    crops, x = example_inputs(engine.metadata, 6)
    x[2, :, 1] = 0.0  # a person alone
    x[4, :3] = 0.0  # a person who appears during the window
    logits, attention = engine.run(crops, x)
    want_logits, want_attention = reference.run(crops, x)
    np.testing.assert_allclose(logits, want_logits, atol=LOGITS_TOLERANCE, rtol=0)
    np.testing.assert_allclose(attention, want_attention, atol=ATTENTION_TOLERANCE, rtol=0)
    if aggregation is Aggregation.ATTENTION:
        assert np.ptp(attention) > 1e-3
        # The graph stream sits in the head piece where TensorRT's split puts the pose stream.
        (exported,) = tmp_path.glob("gcn-*.onnx")
        _, head = split_onnx(exported, tmp_path / "split")
        assert head.is_file()


def test_dilated_blocks_see_further_back() -> None:
    # Two blocks of kernel 5 see 4 frames either side undilated and 8 with dilations (1, 3): a change in
    # frame 0 (frame 1 of the velocities) reaches frame 7's hidden state only through the dilated network.
    x = walking(1, 20, 2, KINECT_V2.num_joints)
    moved = x.clone()
    moved[:, 0] += 0.5
    for dilations, reaches in (((), False), ((1, 3), True)):
        network = gcn(temporal_dilations=dilations)
        with torch.no_grad():
            change = (network(moved)[1] - network(x)[1])[0, 7].abs().max().item()
        assert (change > 1e-6) is reaches, dilations
    config = dataclasses.replace(pose_only(tiny_gcn()), gcn_temporal_dilations=(1, 2))
    assert NetworkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="one dilation >= 1 per block"):
        dataclasses.replace(config, gcn_temporal_dilations=(1, 2, 3))
    with pytest.raises(ValueError, match="one temporal dilation >= 1 per block"):
        gcn(temporal_dilations=(1, 0))
    # Same weights, another network: a dilated checkpoint may not seed an undilated run, nor the reverse.
    from training.stages import StageError, check_compatible

    with pytest.raises(StageError, match="gcn_temporal_dilations"):
        check_compatible(config, dataclasses.replace(config, gcn_temporal_dilations=()), Path("dilated.pt"))


def test_a_dilated_graph_stream_exports_with_parity(tmp_path: Path) -> None:
    config = dataclasses.replace(pose_only(tiny_gcn()), gcn_temporal_dilations=(1, 3))
    checkpoint = random_checkpoint(tmp_path / "gcn.pt", config, [f"action {i}" for i in range(5)], seed=3)
    engine = open_engine(checkpoint, Backend.ONNXRUNTIME_CPU, cache_dir=tmp_path, threads=1)
    reference = TorchEngine(load_checkpoint(checkpoint).model, engine.metadata)
    crops, x = example_inputs(engine.metadata, 3)
    logits, want = engine.run(crops, x)[0], reference.run(crops, x)[0]
    np.testing.assert_allclose(logits, want, atol=LOGITS_TOLERANCE, rtol=0)


def test_each_streams_logits_classify_its_hidden_states_averaged_over_the_window() -> None:
    """Module docstring: logits = mean over streams of linear_s(dropout(mean over T of stream s))."""
    model = gcn(bodies=1)
    x = walking(2, 6, 1, 25)
    with torch.no_grad():
        per_stream, hidden = model.stream_outputs(x)
        logits, _ = model(x)
    width = hidden.shape[-1] // len(model.inputs)
    for s, linear in enumerate(model.classifier):
        mean_over_time = hidden[..., s * width : (s + 1) * width].mean(1)
        torch.testing.assert_close(per_stream[:, s], mean_over_time @ linear.weight.T + linear.bias)
    torch.testing.assert_close(logits, per_stream.mean(1))


def test_absent_joints_enter_the_graph_blocks_as_exact_zeros() -> None:
    """After the input BatchNorm an absent joint goes back to 0, not to minus the mean over the std."""
    model = gcn(bodies=1)
    seen = []
    for trunk in model.streams:
        trunk.input_norm.running_mean.fill_(0.7)  # a zero input would normalise to about -0.7
        trunk.blocks.register_forward_pre_hook(lambda _module, args: seen.append(args[0]))
    x = walking(1, 4, 1, 25)
    x[:, :, :, 7] = 0.0  # a hand the sensor lost for the whole window
    with torch.no_grad():
        model(x)
    assert len(seen) == len(model.inputs)
    for block_input in seen:  # (N, 3, T, J)
        assert torch.all(block_input[..., 7] == 0)
        assert block_input[..., 3].abs().sum() > 0
