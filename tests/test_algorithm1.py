"""Algorithm 1's stages as training/stages.py runs them: which stages each network has, in which order,
what each stage name sets the network to, what each stage computes and what it trains."""

from __future__ import annotations

import pytest
import torch

from core.model import (
    Aggregation,
    PartAttentionNetwork,
    Stage,
    pose_only,
    single_part,
    tiny,
    with_aggregation,
)
from training.stages import STAGE_NAMES, StageObjective, needs_crops, stages_for

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def inputs(network: PartAttentionNetwork, batch: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    c = network.config
    g = torch.Generator().manual_seed(0)
    crops = torch.rand(batch, len(c.parts), c.num_frames, c.crop_size, c.crop_size, 3, generator=g) * 255
    skeleton = torch.randn(batch, c.num_frames, c.num_bodies, c.num_joints, 3, generator=g)
    return crops, skeleton


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        (tiny(5), ["parts", "pose", "attention", "finetune"]),  # the paper's model: steps 2, 3, 5, 6
        (with_aggregation(tiny(5), Aggregation.SUM0), ["parts", "attention"]),
        (with_aggregation(tiny(5), Aggregation.CONCAT0), ["parts", "attention"]),
        # sum_r: each part through the shared blocks alone first ("pre-trained on individual body parts")
        (with_aggregation(tiny(5), Aggregation.SUM1), ["parts", "attention"]),
        (with_aggregation(tiny(5), Aggregation.SUM2), ["parts", "attention"]),
        (single_part(tiny(5), "right_hand"), ["parts"]),
        (pose_only(tiny(5)), ["pose"]),
    ],
    ids=lambda value: getattr(getattr(value, "aggregation", None), "value", ""),
)
def test_each_network_has_algorithm_1s_stages_in_order(config, expected: list[str]) -> None:
    assert stages_for(config) == expected
    network = PartAttentionNetwork(config)
    for name in expected:  # every listed stage can be set on that network
        network.set_stage(STAGE_NAMES[name])


def test_stage_names_map_to_algorithm_1s_steps() -> None:
    assert STAGE_NAMES == {
        "parts": Stage.PARTS,  # step 2
        "pose": Stage.POSE,  # step 3
        "attention": Stage.JOINT,  # step 5: LSTM + attention + part I3Ds jointly
        "finetune": Stage.FINETUNE,  # step 6: the whole network with the LSTM frozen
        "head": Stage.HEAD,
    }
    assert list(STAGE_NAMES)[:4] == ["parts", "pose", "attention", "finetune"]
    assert [needs_crops(name) for name in STAGE_NAMES] == [True, False, True, True, True]


def _trainable(network: PartAttentionNetwork) -> set[str]:
    """Trainable parameters grouped by module: parts, classifier, attention, pose.lstm, pose.classifier."""
    groups = set()
    for name, parameter in network.named_parameters():
        if parameter.requires_grad:
            head = name.split(".")[0]
            groups.add(".".join(name.split(".")[:2]) if head == "pose" else head)
    return groups


def test_the_paper_models_stages_train_what_algorithm_1_says() -> None:
    network = PartAttentionNetwork(tiny(5))
    expected = {
        "parts": {"parts", "classifier"},  # each part through the classifier of F
        "pose": {"pose.lstm", "pose.classifier"},  # the LSTM alone, as a classifier of skeletons
        "attention": {"parts", "attention", "classifier", "pose.lstm"},  # jointly
        "finetune": {"parts", "attention", "classifier"},  # the LSTM frozen
    }
    for name in stages_for(network.config):
        network.set_stage(STAGE_NAMES[name])
        network.train()
        assert _trainable(network) == expected[name], name
        assert network.pose.lstm.training == ("pose.lstm" in expected[name]), name
        assert all(part.training == ("parts" in expected[name]) for part in network.parts), name


def test_each_stage_objective_computes_its_steps_output() -> None:
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5)).eval()
    crops, skeleton = inputs(network)
    with torch.no_grad():
        parts, no_attention = StageObjective(network, "parts").eval()(crops, skeleton)
        torch.testing.assert_close(parts, network.part_logits(crops))
        assert parts.shape == (2, 3, 5) and no_attention.shape == (2, 0)
        pose, _ = StageObjective(network, "pose").eval()(None, skeleton)  # the pose stage needs no crops
        torch.testing.assert_close(pose, network.pose(skeleton)[0].unsqueeze(1))
        for name in ("attention", "finetune", "head"):
            logits, attention = StageObjective(network, name).eval()(crops, skeleton)
            expected_logits, expected_attention = network(crops, skeleton)
            torch.testing.assert_close(logits, expected_logits)
            torch.testing.assert_close(attention, expected_attention)


def test_setting_a_stage_on_a_training_network_puts_what_it_freezes_in_eval_mode() -> None:
    """No second `train()` call needed: frozen modules leave training mode when the stage is set, and
    come back to it when a later stage trains them."""
    network = PartAttentionNetwork(tiny(5)).train()
    network.set_stage(STAGE_NAMES["finetune"])
    assert not network.pose.lstm.training and network.parts[0].training and network.attention.training
    network.set_stage(STAGE_NAMES["pose"])
    assert network.pose.lstm.training and not network.parts[0].training and not network.attention.training
    network.set_stage(Stage.ALL)
    assert all(module.training for module in network.modules())


def test_the_pose_stage_objective_trains_the_lstm() -> None:
    network = PartAttentionNetwork(tiny(5))
    network.set_stage(STAGE_NAMES["pose"])
    _, skeleton = inputs(network)
    logits, _ = StageObjective(network, "pose").train()(None, skeleton)
    logits.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in network.pose.lstm.parameters())
