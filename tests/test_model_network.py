"""The network: shapes for every profile and aggregation, attention, training stages, loss, golden output."""

from __future__ import annotations

import dataclasses
import io
import warnings

import numpy as np
import pytest
import torch

from core.model import (
    FULL_IMAGE,
    NTU_LOSS,
    PROFILES,
    Aggregation,
    LossWeights,
    NetworkConfig,
    PartAttentionNetwork,
    PartLogits,
    PoseLogits,
    PoseLSTM,
    Stage,
    p_i3d_loss,
    paper,
    pose_only,
    single_part,
    tiny,
    with_aggregation,
)
from core.model.cost import network_cost

torch.set_num_threads(1)


def inputs(config: NetworkConfig, batch: int = 2, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    size, frames = config.crop_size, config.num_frames
    crops = torch.rand(batch, len(config.parts), frames, size, size, 3, generator=g) * 255
    skeleton = torch.randn(batch, frames, config.num_bodies, config.num_joints, 3, generator=g)
    return crops, skeleton


def variant(aggregation: Aggregation, base: NetworkConfig | None = None) -> NetworkConfig:
    base = base or tiny(5)
    if aggregation is Aggregation.SINGLE:
        return single_part(base, "left_hand")
    if aggregation is Aggregation.POSE:
        return pose_only(base)
    return with_aggregation(base, aggregation)


@pytest.mark.parametrize("aggregation", list(Aggregation), ids=lambda a: a.value)
def test_every_aggregation_gives_logits_and_attention(aggregation: Aggregation) -> None:
    config = variant(aggregation)
    network = PartAttentionNetwork(config).eval()
    crops, skeleton = inputs(config, batch=3)
    with torch.no_grad():
        logits, attention = network(crops, skeleton)
    assert logits.shape == (3, 5) and torch.isfinite(logits).all()
    assert attention.shape == (3, len(config.parts))
    if config.parts:
        torch.testing.assert_close(attention.sum(dim=1), torch.ones(3))


@pytest.mark.parametrize("name", [name for name, preset in PROFILES.items() if preset(7).parts])
def test_every_profile_has_the_right_shapes(name: str) -> None:
    # Built on the meta device: shapes without the memory or time of the full networks.
    config = PROFILES[name](7)
    with torch.device("meta"):
        network = PartAttentionNetwork(config).eval()
        crops, skeleton = (torch.empty(t.shape) for t in inputs(config, batch=2))
        logits, attention = network(crops, skeleton)
        part_logits = network.part_logits(crops)
    assert logits.shape == (2, 7) and attention.shape == (2, 3) and part_logits.shape == (2, 3, 7)
    feature_size = network.parts[0].out_channels
    assert network.classifier.in_features == feature_size == (1024 if config.width == 1 else feature_size)


@pytest.mark.parametrize("name", [name for name, preset in PROFILES.items() if not preset(7).parts])
def test_skeleton_only_profiles_take_no_crops(name: str) -> None:
    config = PROFILES[name](7)
    network = PartAttentionNetwork(config).eval()
    _, skeleton = inputs(config, batch=2)
    with torch.no_grad():
        logits, attention = network(None, skeleton)
    assert logits.shape == (2, 7) and attention.shape == (2, 0) and config.aggregation is Aggregation.POSE


def test_smaller_crops_and_variants_change_only_size() -> None:
    for crop, frames in ((64, 8), (48, 5)):
        config = dataclasses.replace(tiny(4), crop_size=crop, num_frames=frames)
        network = PartAttentionNetwork(config).eval()
        with torch.no_grad():
            assert network(*inputs(config))[0].shape == (2, 4)
    full_image = single_part(tiny(4), FULL_IMAGE)
    assert full_image.parts == ("full_image",)


def test_sum_r_shares_the_last_blocks() -> None:
    sum1 = PartAttentionNetwork(variant(Aggregation.SUM1))
    assert sum1.parts[0].endpoints[-1] == "Mixed_5b" and sum1.shared.endpoints == ("Mixed_5c",)
    sum2 = PartAttentionNetwork(variant(Aggregation.SUM2))
    assert sum2.parts[0].endpoints[-1] == "Mixed_4f"
    assert sum2.shared.endpoints == ("MaxPool3d_5a_2x2", "Mixed_5b", "Mixed_5c")
    assert not hasattr(sum2.parts[0], "logits") and sum2.pose is None
    # Step 2 classifies each part alone, through the shared blocks and the classifier, which it trains.
    crops = inputs(sum2.config)[0]
    sum2.eval()
    with torch.no_grad():
        logits = sum2.part_logits(crops)
        alone = crops.clone()
        alone[:, 1:] = 0  # the other parts' crops do not reach part 0's classification
        assert torch.allclose(sum2.part_logits(alone)[:, 0], logits[:, 0])
    assert logits.shape == (2, len(sum2.config.parts), sum2.config.num_classes)
    sum2.set_stage(Stage.PARTS)
    assert {name.split(".")[0] for name, p in sum2.named_parameters() if p.requires_grad} == {
        "parts", "shared", "classifier"}


def test_attention_starts_uniform_sums_to_one_and_can_move() -> None:
    config = tiny(5)
    network = PartAttentionNetwork(config).eval()
    crops, skeleton = inputs(config, batch=4)
    with torch.no_grad():
        _, attention = network(crops, skeleton)
    torch.testing.assert_close(attention, torch.full((4, 3), 1 / 3))
    assert network.attention.score.weight.requires_grad  # trainable, unlike the authors' code
    torch.nn.init.normal_(network.attention.score.weight)
    with torch.no_grad():
        _, attention = network(crops, skeleton)
    torch.testing.assert_close(attention.sum(dim=1), torch.ones(4))
    assert attention.std(dim=1).min() > 1e-3


def train_step(network: PartAttentionNetwork, optimizer: torch.optim.Optimizer, seed: int) -> None:
    crops, skeleton = inputs(network.config, batch=2, seed=seed)
    optimizer.zero_grad()
    logits, attention = network(crops, skeleton)
    loss = p_i3d_loss(logits, torch.tensor([0, 3]), attention, network.regularised_weights(), NTU_LOSS)
    loss.total.backward()
    optimizer.step()


def test_joint_training_reaches_every_part_and_the_lstm() -> None:
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5))
    network.set_stage(Stage.JOINT)
    network.train()
    assert all(p.requires_grad for p in network.pose.lstm.parameters())
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=1e-2)
    train_step(network, optimizer, seed=1)
    # W_s starts at zero (equal weights), so the LSTM sees gradient only once W_s has moved.
    train_step(network, optimizer, seed=2)
    for k, part in enumerate(network.parts):
        assert part.Conv3d_1a_7x7.conv3d.weight.grad.abs().sum() > 0, f"part {k}"
        assert part.Mixed_5c.b0.conv3d.weight.grad.abs().sum() > 0, f"part {k}"
    for name, parameter in network.pose.lstm.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    assert network.attention.project.weight.grad.abs().sum() > 0


def test_finetune_stage_freezes_the_lstm() -> None:
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5))
    network.set_stage(Stage.FINETUNE)  # Algorithm 1 step 6: the pose stream stops learning
    network.train()
    assert network.stage is Stage.FINETUNE
    assert not any(p.requires_grad for p in network.pose.parameters())
    assert not network.pose.lstm.training and network.parts[0].training and network.attention.training
    lstm_before = {k: v.clone() for k, v in network.pose.lstm.state_dict().items()}
    part_before = network.parts[1].Mixed_4b.b1b.conv3d.weight.detach().clone()
    optimizer = torch.optim.Adam([p for p in network.parameters() if p.requires_grad], lr=1e-2)
    for seed in range(2):
        train_step(network, optimizer, seed)
    for key, value in network.pose.lstm.state_dict().items():
        assert torch.equal(value, lstm_before[key]), key
    assert not torch.equal(network.parts[1].Mixed_4b.b1b.conv3d.weight, part_before)
    assert network.attention.score.weight.abs().sum() > 0


def test_parts_and_pose_stages_train_only_their_module() -> None:
    network = PartAttentionNetwork(tiny(5))
    network.set_stage(Stage.PARTS)
    trainable = {n.split(".")[0] for n, p in network.named_parameters() if p.requires_grad}
    assert trainable == {"parts", "classifier"}  # each part is classified by the classifier of F
    assert all(part.num_classes is None for part in network.parts)
    crops, skeleton = inputs(network.config)
    part_logits = network.part_logits(crops)
    assert part_logits.shape == (2, 3, 5)
    network.eval()
    with torch.no_grad():  # all attention on part 0: F = g_0, and the network says what part 0 says
        network.attention.score.bias.copy_(torch.tensor([50.0, 0.0, 0.0]))
        torch.testing.assert_close(network(crops, skeleton)[0], network.part_logits(crops)[:, 0])
    concat = PartAttentionNetwork(variant(Aggregation.CONCAT0))
    concat.set_stage(Stage.PARTS)  # a classifier of concatenated features cannot read one part: own logits
    assert {n.split(".")[0] for n, p in concat.named_parameters() if p.requires_grad} == {"parts"}
    assert concat.part_logits(crops).shape == (2, 3, 5)
    network.set_stage(Stage.POSE)
    trainable = {n.split(".")[0] for n, p in network.named_parameters() if p.requires_grad}
    assert trainable == {"pose"}
    network.train()
    assert network.pose.training and not network.parts[0].training and not network.attention.training
    assert network.pose(skeleton)[0].shape == (2, 5)
    network.set_stage(Stage.ALL)
    network.train()
    assert all(p.requires_grad for p in network.parameters()) and all(m.training for m in network.modules())
    with pytest.raises(ValueError, match="stage 'pose' needs the pose stream"):
        PartAttentionNetwork(variant(Aggregation.SUM0)).set_stage(Stage.POSE)


@pytest.mark.parametrize("aggregation", [Aggregation.ATTENTION, Aggregation.SUM2, Aggregation.SINGLE])
def test_each_stage_trains_exactly_what_its_loss_reaches(aggregation: Aggregation) -> None:
    """What DistributedDataParallel needs without find_unused_parameters: no trainable parameter
    outside the graph of the stage's output."""
    network = PartAttentionNetwork(variant(aggregation))
    crops, skeleton = inputs(network.config)
    outputs = {
        Stage.PARTS: lambda: PartLogits(network)(crops),
        Stage.POSE: lambda: PoseLogits(network)(skeleton),
        Stage.JOINT: lambda: network(crops, skeleton)[0],
        Stage.FINETUNE: lambda: network(crops, skeleton)[0],
    }
    for stage, output in outputs.items():
        try:
            network.set_stage(stage)
        except ValueError:
            assert aggregation is not Aggregation.ATTENTION  # ablations lack the pose stages
            continue
        network.zero_grad(set_to_none=True)
        output().sum().backward()
        trainable = {n for n, p in network.named_parameters() if p.requires_grad}
        reached = {n for n, p in network.named_parameters() if p.grad is not None}
        assert trainable and trainable == reached, stage
    if aggregation is Aggregation.ATTENTION:
        network.set_stage(Stage.JOINT)
        assert not hasattr(network.parts[0], "logits")  # step 2 went through network.classifier
        assert not network.pose.classifier.weight.requires_grad


def test_pose_lstm_takes_any_layout_and_rejects_others() -> None:
    kinect_v1 = PoseLSTM(num_joints=20, num_bodies=1, num_classes=10, hidden_size=8)
    assert kinect_v1.lstm.num_layers == 3 and kinect_v1.lstm.dropout == 0.5
    logits, hidden = kinect_v1(torch.randn(2, 5, 1, 20, 3))
    assert logits.shape == (2, 10) and hidden.shape == (2, 5, 8)
    with pytest.raises(ValueError, match=r"skeleton must be \(B, T, 1, 20, 3\)"):
        kinect_v1(torch.randn(2, 5, 2, 25, 3))
    network = PartAttentionNetwork(tiny(5))
    crops, skeleton = inputs(network.config)
    with pytest.raises(ValueError, match=r"crops must be \(B, 3, 8, 32, 32, 3\)"):
        network(crops[:, :2], skeleton)
    with pytest.raises(ValueError, match="needs the skeleton"):
        network(crops, None)
    # A pose-only network that averages the mirror image indexed the joints first: an IndexError of
    # "dimension 0 with size 3" for a window without its batch axis, and a numpy array got a TypeError.
    mirrored = PartAttentionNetwork(dataclasses.replace(tiny(5), aggregation=Aggregation.POSE, parts=(),
                                                        pose_mirror_average=True))
    for wrong, got in ((skeleton[0], r"\(8, 2, 25, 3\)"), (skeleton[..., :20, :], r"\(2, 8, 2, 20, 3\)"),
                       (skeleton.numpy(), r"a ndarray \(2, 8, 2, 25, 3\)")):
        with pytest.raises(ValueError, match=r"skeleton must be a tensor \(B, T, 2, 25, 3\).*got " + got):
            mirrored(None, wrong)


def test_a_skeleton_of_another_dtype_than_the_pose_streams_is_refused() -> None:
    # A float64 skeleton failed deep in torch ("mixed dtype", "RNN input dtype").
    for config in (tiny(5), pose_only(tiny(5))):
        network = PartAttentionNetwork(config).eval()
        crops, skeleton = inputs(config)
        with pytest.raises(ValueError, match=r"skeleton must be torch.float32 \(the pose stream's weights' "
                                             r"dtype\), got torch.float64; convert it with skeleton.to"):
            network(crops if config.parts else None, skeleton.double())


def test_pose_only_network_needs_no_crops() -> None:
    network = PartAttentionNetwork(pose_only(tiny(5))).eval()
    assert len(network.parts) == 0 and network.attention is None
    logits, attention = network(None, inputs(network.config)[1])
    assert logits.shape == (2, 5) and attention.shape == (2, 0)


def test_loss_is_eq5_with_the_proper_sign() -> None:
    logits = torch.tensor([[2.0, 0.0, -1.0], [0.0, 1.0, 0.0]])
    targets = torch.tensor([0, 2])
    attention = torch.tensor([[1 / 3, 1 / 3, 1 / 3], [1.0, 0.0, 0.0]])
    weight = torch.tensor([[1.0, 2.0], [0.0, -1.0]])
    terms = p_i3d_loss(logits, targets, attention, [weight], LossWeights(attention=0.5, weight=0.1))
    expected_ce = -(torch.log_softmax(logits, 1)[0, 0] + torch.log_softmax(logits, 1)[1, 2]) / 2
    assert terms.cross_entropy > 0
    torch.testing.assert_close(terms.cross_entropy, expected_ce)
    # sum_k (1 - alpha_k)^2: 3 * (2/3)^2 for uniform, 0 + 1 + 1 for one-hot; averaged over the batch.
    torch.testing.assert_close(terms.attention_penalty, torch.tensor((4 / 3 + 2) / 2))
    torch.testing.assert_close(terms.weight_penalty, torch.tensor(6.0))
    torch.testing.assert_close(terms.total, expected_ce + 0.5 * (4 / 3 + 2) / 2 + 0.1 * 6.0)
    assert (NTU_LOSS.attention, NTU_LOSS.weight) == (1e-5, 1e-3)


def test_config_round_trip_and_validation() -> None:
    for config in (paper(60), variant(Aggregation.SUM2), pose_only(tiny(5))):
        assert NetworkConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="needs exactly one part"):
        NetworkConfig(num_classes=3, aggregation=Aggregation.SINGLE)
    with pytest.raises(ValueError, match=r"model\.pt: unknown network config fields \['depth'\]"):
        NetworkConfig.from_dict({**tiny(5).to_dict(), "depth": 3}, source="model.pt")
    with pytest.raises(ValueError, match="'mean' is not a valid Aggregation"):
        NetworkConfig.from_dict({**tiny(5).to_dict(), "aggregation": "mean"})


def test_paper_profile_cost() -> None:
    cost = network_cost(paper(60))
    assert cost.i3d_parameters == pytest.approx(12.29e6, rel=0.01)  # no head: parts share F's classifier
    assert cost.i3d_gmacs == pytest.approx(34.9, rel=0.02)  # 20 frames at 224 px
    assert cost.gmacs == pytest.approx(3 * cost.i3d_gmacs, rel=0.01)


def test_pose_fusion_mixes_the_pose_streams_class_distribution_into_the_output(tmp_path) -> None:
    """pose_fusion w: the output's class distribution is (1 - w) the paper's (classifier of F) plus w the
    pose classifier's; the same weights, so a network trained without it takes it; the stages whose
    output now reaches the pose classifier train it (the head stage too, for a site's new classes), and
    the exported graph that the engines run computes the same."""
    from core.engines import Backend, open_engine
    from core.model.checkpoint import Preprocessing, save_checkpoint

    torch.manual_seed(0)
    plain = PartAttentionNetwork(tiny(5)).eval()
    torch.nn.init.normal_(plain.attention.score.weight)
    fused = PartAttentionNetwork(dataclasses.replace(plain.config, pose_fusion=0.3)).eval()
    assert set(fused.state_dict()) == set(plain.state_dict())
    fused.load_state_dict(plain.state_dict())
    crops, skeleton = inputs(plain.config, batch=3)
    with torch.no_grad():
        paper_logits, paper_attention = plain(crops, skeleton)
        want = 0.7 * paper_logits.softmax(-1) + 0.3 * plain.pose(skeleton)[0].softmax(-1)
        logits, attention = fused(crops, skeleton)
    torch.testing.assert_close(logits.softmax(-1), want)
    torch.testing.assert_close(attention, paper_attention)  # the attention is the paper's
    assert not torch.allclose(paper_logits.softmax(-1), want)
    with torch.no_grad():
        branches, branch_attention = fused.branch_logits(crops, skeleton)  # what training gives a loss each
    torch.testing.assert_close(branches[:, 0], paper_logits)
    torch.testing.assert_close(branches[:, 1], plain.pose(skeleton)[0])
    torch.testing.assert_close(branch_attention, paper_attention)

    for stage in (Stage.JOINT, Stage.FINETUNE, Stage.HEAD):
        fused.set_stage(stage)
        fused.zero_grad(set_to_none=True)
        fused(crops, skeleton)[0].sum().backward()
        trainable = {n for n, p in fused.named_parameters() if p.requires_grad}
        reached = {n for n, p in fused.named_parameters() if p.grad is not None}
        assert "pose.classifier.weight" in trainable and trainable == reached, stage
    assert "pose.classifier.weight" in {n for n, _ in fused.named_parameters()} and any(
        w is fused.pose.classifier.weight for w in fused.regularised_weights())
    with pytest.raises(ValueError, match="pose_fusion needs aggregation 'attention'"):
        dataclasses.replace(variant(Aggregation.SUM0), pose_fusion=0.5)
    with pytest.raises(ValueError, match=r"pose_fusion \(a weight\) must be in \[0, 1\)"):
        dataclasses.replace(tiny(5), pose_fusion=1.0)

    path = tmp_path / "fused.pt"
    fused.eval()
    preprocessing = Preprocessing.matching(fused.config)
    save_checkpoint(path, fused, class_names=list("abcde"), preprocessing=preprocessing)
    onnx = open_engine(path, Backend.ONNXRUNTIME_CPU, threads=1, cache_dir=tmp_path)
    onnx_logits, _ = onnx.run(crops.numpy(), skeleton.numpy())
    np.testing.assert_allclose(torch.from_numpy(onnx_logits).softmax(-1).numpy(), want.numpy(), atol=1e-5)


def test_with_pose_fusion_each_branch_trains_on_its_own_loss() -> None:
    """Training a fused network gives the attention branch Eq. 5 and the pose branch its own
    cross-entropy (trained only on their mixture, one branch learns to lean on the other); validation
    judges the mixture, which is what the app runs."""
    import torch.nn.functional as F

    from training.config import TrainConfig
    from training.stages import StageObjective, stage_loss

    torch.manual_seed(0)
    network = PartAttentionNetwork(dataclasses.replace(tiny(5), pose_fusion=0.5))
    network.set_stage(Stage.JOINT)
    objective = StageObjective(network, "attention")
    crops, skeleton = inputs(network.config, batch=4)
    labels = torch.tensor([0, 1, 2, 3])
    config = TrainConfig()
    objective.train()
    branches, attention = objective(crops, skeleton)
    assert branches.shape == (4, 2, 5)
    lambdas = LossWeights(config.optim.attention_weight, config.optim.weight_decay)
    # lambda2 on the layers the paper adds (W_h, W_s, the classifier of F) and on the pose classifier,
    # which the fused output trains here.
    weights = [network.attention.project.weight, network.attention.score.weight, network.classifier.weight,
               network.pose.classifier.weight]
    assert all(w.requires_grad for w in weights)
    want = p_i3d_loss(branches[:, 0], labels, attention, weights, lambdas).total
    want = want + F.cross_entropy(branches[:, 1], labels)
    torch.testing.assert_close(stage_loss(network, "attention", branches, attention, labels, config), want)
    objective.eval()
    with torch.no_grad():
        mixed, _ = objective(crops, skeleton)
        torch.testing.assert_close(mixed, network(crops, skeleton)[0])
    assert mixed.shape == (4, 5)


def test_the_parts_stage_sums_each_parts_own_loss() -> None:
    """Step 2 trains each part's I3D as if alone: the parts' cross-entropies summed (their mean would give
    each part a third of its own gradient) + lambda2 on the classifier of F that classifies them."""
    import torch.nn.functional as F

    from training.config import TrainConfig
    from training.stages import stage_loss

    network = PartAttentionNetwork(tiny(5))
    network.set_stage(Stage.PARTS)
    logits = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0))  # (B, parts, C)
    labels = torch.tensor([0, 1, 2, 3])
    config = TrainConfig()
    want = sum(F.cross_entropy(logits[:, part], labels) for part in range(3))
    want = want + config.optim.weight_decay * network.classifier.weight.pow(2).sum()
    loss = stage_loss(network, "parts", logits, logits.new_zeros(4, 0), labels, config)
    torch.testing.assert_close(loss, want)


def test_a_checkpoint_without_fusion_seeds_a_stage_with_it_but_not_another_network(tmp_path) -> None:
    """pose_fusion and pose_mirror_average combine the same weights: a plain pose stage's checkpoint may
    start a fused joint stage; a field that changes the weights still refuses."""
    from training.stages import StageError, check_compatible

    plain = tiny(5)
    check_compatible(plain, dataclasses.replace(plain, pose_fusion=0.5), tmp_path / "pose.pt")
    with pytest.raises(StageError, match=r"pose\.pt is a different network.*lstm_hidden"):
        check_compatible(plain, dataclasses.replace(plain, lstm_hidden=plain.lstm_hidden * 2),
                         tmp_path / "pose.pt")
    # Other classes: the way to start from it anyway is said.
    six = dataclasses.replace(plain, num_classes=6)
    with pytest.raises(StageError, match=r"num_classes: checkpoint 5 vs config 6\); .*init_new_classes=true"):
        check_compatible(plain, six, tmp_path / "pose.pt")
    check_compatible(plain, six, tmp_path / "pose.pt", ignore_classes=True)
    # Not where more than the classes differs: the setting would not get round that (a PKU-MMD model as
    # the start of an N-UCLA run).
    with pytest.raises(StageError) as refused:
        check_compatible(plain, dataclasses.replace(six, num_joints=20), tmp_path / "pose.pt")
    assert "num_joints" in str(refused.value) and "init_new_classes" not in str(refused.value)


def test_onnx_export_matches_pytorch() -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5)).eval()
    torch.nn.init.normal_(network.attention.score.weight)
    crops, skeleton = inputs(network.config, batch=1)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            network,
            (crops, skeleton),
            buffer,
            opset_version=17,
            dynamo=False,
            input_names=["crops", "skeleton"],
            output_names=["logits", "attention"],
        )
    session = onnxruntime.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    logits, attention = session.run(None, {"crops": crops.numpy(), "skeleton": skeleton.numpy()})
    with torch.no_grad():
        expected_logits, expected_attention = network(crops, skeleton)
    np.testing.assert_allclose(logits, expected_logits.numpy(), rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(attention, expected_attention.numpy(), rtol=1e-4, atol=1e-6)


def test_golden_output() -> None:
    """Fixed seed, tiny profile: catches unintended changes to structure, initialisation or forward."""
    torch.manual_seed(0)
    network = PartAttentionNetwork(tiny(5)).eval()
    torch.nn.init.normal_(network.attention.score.weight, std=1.0)
    g = torch.Generator().manual_seed(1)
    crops = torch.rand(2, 3, 8, 32, 32, 3, generator=g) * 255
    crops[1] = torch.linspace(0, 255, 32)[None, None, :, None, None].expand(3, 8, 32, 32, 3)
    skeleton = torch.randn(2, 8, 2, 25, 3, generator=g)
    with torch.no_grad():
        logits, attention = network(crops, skeleton)
    expected_logits = torch.tensor(
        [
            [-0.402790, -0.019691, -0.294190, -0.081247, 0.151325],
            [-0.167966, -0.007069, -0.169051, -0.021860, 0.101620],
        ]
    )
    expected_attention = torch.tensor([[0.435265, 0.287138, 0.277597], [0.439970, 0.272258, 0.287771]])
    torch.testing.assert_close(logits, expected_logits, rtol=0, atol=2e-5)
    torch.testing.assert_close(attention, expected_attention, rtol=0, atol=2e-6)
    assert sum(p.numel() for p in network.parameters()) == 747_717


def test_the_configs_lstm_and_dropout_fields_reach_the_layers() -> None:
    """Every NetworkConfig field of the pose LSTM and the I3D dropouts is what the built layers use."""
    config = dataclasses.replace(
        tiny(5), lstm_layers=2, lstm_dropout=0.3, i3d_dropout=0.25, lstm_bidirectional=True
    )
    network = PartAttentionNetwork(config)
    assert network.pose.lstm.num_layers == 2 and network.pose.lstm.dropout == 0.3
    assert network.pose.dropout.p == 0.3
    assert network.pose.lstm.bidirectional and network.pose.hidden_size == 2 * config.lstm_hidden
    assert network.classifier_dropout.p == 0.25
    single = PartAttentionNetwork(single_part(config, "left_hand"))  # the part's own logits
    assert single.parts[0].dropout.p == 0.25
    # With no dropout anywhere, two training-mode passes over the same batch agree exactly.
    quiet = dataclasses.replace(tiny(5), lstm_dropout=0.0, i3d_dropout=0.0)
    for built in (PartAttentionNetwork(quiet), PartAttentionNetwork(single_part(quiet, "left_hand"))):
        built.train()
        crops, skeleton = inputs(built.config)
        torch.testing.assert_close(built(crops, skeleton)[0], built(crops, skeleton)[0], rtol=0, atol=0)


def test_a_frozen_pose_classifier_keeps_its_dropout_in_eval_mode() -> None:
    network = PartAttentionNetwork(tiny(5))
    for stage in (Stage.JOINT, Stage.FINETUNE, Stage.PARTS):
        network.set_stage(stage)
        network.train()
        assert not network.pose.classifier.weight.requires_grad
        assert not network.pose.dropout.training, stage
    network.set_stage(Stage.POSE)
    network.train()
    assert network.pose.dropout.training


def test_sum0_adds_the_parts_and_concat0_joins_them_in_part_order() -> None:
    """sum_0: F = g_1 + g_2 + g_3 (a plain sum, not a mean); concat_0: F = [g_1, g_2, g_3]."""
    for aggregation in (Aggregation.SUM0, Aggregation.CONCAT0):
        torch.manual_seed(0)
        network = PartAttentionNetwork(variant(aggregation)).eval()
        crops, _ = inputs(network.config)
        with torch.no_grad():
            pooled = network.pooled_part_features(crops)  # (B, P, D)
            logits, attention = network(crops, None)
            if aggregation is Aggregation.SUM0:
                fused = pooled[:, 0] + pooled[:, 1] + pooled[:, 2]
            else:
                fused = torch.cat([pooled[:, 0], pooled[:, 1], pooled[:, 2]], dim=1)
            expected = fused @ network.classifier.weight.T + network.classifier.bias
        torch.testing.assert_close(logits, expected)
        torch.testing.assert_close(attention, torch.full((2, 3), 1 / 3))
