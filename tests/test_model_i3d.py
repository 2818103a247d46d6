"""I3D: the public port's state-dict layout, its loader, and static vs dynamic "same" padding."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
import torch.nn.functional as F

from core.model import Aggregation, PartAttentionNetwork, tiny
from core.model.i3d import (
    ENDPOINTS,
    InceptionI3d,
    MaxPool3dSame,
    Unit3D,
    load_i3d_state_dict,
    same_padding,
    scale_channels,
)

torch.set_num_threads(1)

# The port's table, written out independently of core.model.i3d: (in_channels, branch channels).
PORT_INCEPTION = {
    "Mixed_3b": (192, (64, 96, 128, 16, 32, 32)),
    "Mixed_3c": (256, (128, 128, 192, 32, 96, 64)),
    "Mixed_4b": (480, (192, 96, 208, 16, 48, 64)),
    "Mixed_4c": (512, (160, 112, 224, 24, 64, 64)),
    "Mixed_4d": (512, (128, 128, 256, 24, 64, 64)),
    "Mixed_4e": (512, (112, 144, 288, 32, 64, 64)),
    "Mixed_4f": (528, (256, 160, 320, 32, 128, 128)),
    "Mixed_5b": (832, (256, 160, 320, 32, 128, 128)),
    "Mixed_5c": (832, (384, 192, 384, 48, 128, 128)),
}


def port_state_dict_shapes(num_classes: int = 400, batches_tracked: bool = True) -> dict[str, tuple]:
    """Key -> shape of piergiaj/pytorch-i3d's InceptionI3d state dict (its Unit3D: conv3d + bn)."""
    shapes: dict[str, tuple] = {}

    def unit(name: str, cin: int, cout: int, k: int) -> None:
        shapes[f"{name}.conv3d.weight"] = (cout, cin, k, k, k)
        for stat in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"{name}.bn.{stat}"] = (cout,)
        if batches_tracked:
            shapes[f"{name}.bn.num_batches_tracked"] = ()

    unit("Conv3d_1a_7x7", 3, 64, 7)
    unit("Conv3d_2b_1x1", 64, 64, 1)
    unit("Conv3d_2c_3x3", 64, 192, 3)
    for name, (cin, (c0, c1a, c1b, c2a, c2b, c3)) in PORT_INCEPTION.items():
        unit(f"{name}.b0", cin, c0, 1)
        unit(f"{name}.b1a", cin, c1a, 1)
        unit(f"{name}.b1b", c1a, c1b, 3)
        unit(f"{name}.b2a", cin, c2a, 1)
        unit(f"{name}.b2b", c2a, c2b, 3)
        unit(f"{name}.b3b", cin, c3, 1)
    shapes["logits.conv3d.weight"] = (num_classes, 1024, 1, 1, 1)
    shapes["logits.conv3d.bias"] = (num_classes,)
    return shapes


def port_state_dict(num_classes: int = 400, batches_tracked: bool = True, seed: int = 0) -> dict:
    generator = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in port_state_dict_shapes(num_classes, batches_tracked).items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(1000)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=generator) + 0.5
        else:
            out[key] = torch.randn(shape, generator=generator) * 0.05
    return out


def test_state_dict_layout_is_the_ports() -> None:
    with torch.device("meta"):
        i3d = InceptionI3d(num_frames=64, crop_size=224, num_classes=400)
    ours = {k: tuple(v.shape) for k, v in i3d.state_dict().items()}
    assert ours == port_state_dict_shapes(400)
    assert i3d.Conv3d_1a_7x7.bn.eps == 1e-3
    assert all(m.eps == 1e-3 for m in i3d.modules() if isinstance(m, torch.nn.BatchNorm3d))


def test_paper_i3d_has_about_12_3_million_parameters() -> None:
    with torch.device("meta"):
        i3d = InceptionI3d(num_frames=20, crop_size=224)
    assert i3d.out_channels == 1024
    assert sum(p.numel() for p in i3d.parameters()) == pytest.approx(12.3e6, rel=0.01)


def test_port_checkpoint_loads_and_its_logits_are_replaced() -> None:
    source = port_state_dict(400)
    i3d = InceptionI3d(num_frames=8, crop_size=32, num_classes=60)
    fresh_logits = i3d.logits.conv3d.weight.detach().clone()
    report = load_i3d_state_dict(i3d, source, source="rgb_imagenet.pt")
    assert not report.logits_loaded
    assert report.skipped_endpoints == ("logits",)
    ours = i3d.state_dict()
    for key, value in source.items():
        if not key.startswith("logits.") and not key.endswith("num_batches_tracked"):
            assert torch.equal(ours[key], value), key
    assert torch.equal(i3d.logits.conv3d.weight, fresh_logits)
    with torch.no_grad():
        assert i3d.eval()(torch.zeros(2, 3, 8, 32, 32)).shape == (2, 60)


def test_loader_takes_old_and_wrapped_checkpoints_and_fills_slices() -> None:
    # Checkpoints from PyTorch < 0.4 have no num_batches_tracked; DDP adds "module.".
    source = {f"module.{k}": v for k, v in port_state_dict(400, batches_tracked=False).items()}
    full = InceptionI3d(num_frames=8, crop_size=32, num_classes=400)
    report = load_i3d_state_dict(full, source)
    assert report.logits_loaded and report.skipped_endpoints == ()
    assert torch.equal(full.logits.conv3d.bias, source["module.logits.conv3d.bias"])

    head = InceptionI3d(num_frames=8, crop_size=32, final_endpoint="Mixed_4f")
    report = load_i3d_state_dict(head, source)
    assert report.skipped_endpoints == ("Mixed_5b", "Mixed_5c", "logits")  # pools have no weights
    tail = InceptionI3d(num_frames=8, crop_size=32, first_endpoint="MaxPool3d_5a_2x2")
    load_i3d_state_dict(tail, source)
    assert torch.equal(tail.Mixed_5c.b0.conv3d.weight, source["module.Mixed_5c.b0.conv3d.weight"])


def test_network_takes_pretrained_weights_in_every_part_and_the_shared_blocks() -> None:
    config = dataclasses.replace(tiny(60), width=1.0, aggregation=Aggregation.SUM2)
    network = PartAttentionNetwork(config)
    source = port_state_dict(400)
    reports = network.load_pretrained_i3d(source, source="rgb_imagenet.pt")
    assert [r.skipped_endpoints for r in reports] == [("Mixed_5b", "Mixed_5c", "logits")] * 3 + [
        ("Conv3d_1a_7x7", "Conv3d_2b_1x1", "Conv3d_2c_3x3", *list(PORT_INCEPTION)[:7], "logits")
    ]
    for module in (*network.parts, network.shared):
        for key, value in module.state_dict().items():
            assert torch.equal(value, source[key]) or key.endswith("num_batches_tracked"), key


def test_loader_says_what_does_not_fit() -> None:
    thin = InceptionI3d(num_frames=8, crop_size=32, width=0.5, num_classes=60)
    with pytest.raises(ValueError, match=r"rgb_imagenet\.pt.*shapes differ.*Conv3d_1a_7x7\.conv3d\.weight"):
        load_i3d_state_dict(thin, port_state_dict(400), source="rgb_imagenet.pt")
    source = port_state_dict(400)
    del source["Mixed_4b.b1b.bn.running_var"]
    source["classifier.weight"] = torch.zeros(3)
    full = InceptionI3d(num_frames=8, crop_size=32, num_classes=60)
    expected = r"outside the I3D layout: classifier\.weight.*missing keys: Mixed_4b"
    with pytest.raises(ValueError, match=expected):
        load_i3d_state_dict(full, source)


# ---- padding ------------------------------------------------------------------------------------


def tf_same_pads(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow's definition: out = ceil(in / stride), total = max((out - 1) * stride + k - in, 0)."""
    out = math.ceil(size / stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def test_static_pad_formula_is_tensorflows() -> None:
    for size in range(1, 40):
        for kernel in (1, 2, 3, 7):
            for stride in (1, 2):
                assert same_padding(size, kernel, stride) == tf_same_pads(size, kernel, stride)


def dynamic_forward(i3d: InceptionI3d, x: torch.Tensor, pool_pad_value: float) -> torch.Tensor:
    """The port's way: pads computed from each layer's runtime input shape, then an unpadded op."""

    def pads(x: torch.Tensor, kernel, stride) -> tuple[int, ...]:
        sizes = zip(x.shape[2:], kernel, stride, strict=True)
        (t0, t1), (h0, h1), (w0, w1) = (tf_same_pads(s, k, st) for s, k, st in sizes)
        return (w0, w1, h0, h1, t0, t1)

    def run(module: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
        if isinstance(module, Unit3D):
            conv = module.conv3d
            x = F.pad(x, pads(x, module.kernel, module.stride))
            x = F.conv3d(x, conv.weight, conv.bias, module.stride)
            x = module.bn(x) if module.bn is not None else x
            return F.relu(x) if module.relu else x
        if isinstance(module, MaxPool3dSame):
            x = F.pad(x, pads(x, module.kernel, module.stride), value=pool_pad_value)
            return F.max_pool3d(x, module.kernel, module.stride)
        branches = [
            run(module.b0, x),
            run(module.b1b, run(module.b1a, x)),
            run(module.b2b, run(module.b2a, x)),
            run(module.b3b, run(module.b3a, x)),
        ]
        return torch.cat(branches, dim=1)

    for name in i3d.endpoints:
        x = run(getattr(i3d, name), x)
    return x


@pytest.mark.parametrize("frames,size", [(8, 32), (9, 33), (5, 40), (16, 24)])
def test_static_padding_equals_dynamic(frames: int, size: int) -> None:
    torch.manual_seed(frames * 100 + size)
    i3d = InceptionI3d(num_frames=frames, crop_size=size, width=0.25).eval()
    for module in i3d.modules():  # non-trivial BatchNorm statistics, so padding errors show
        if isinstance(module, torch.nn.BatchNorm3d):
            module.running_mean.uniform_(-0.2, 0.2)
            module.running_var.uniform_(0.5, 1.5)
    x = torch.rand(2, 3, frames, size, size) * 2 - 1
    with torch.no_grad():
        static = i3d.features(x)
        # The port pads max-pooling with zeros, TensorFlow with -inf: equal, since inputs are >= 0.
        port = dynamic_forward(i3d, x, pool_pad_value=0.0)
        tensorflow = dynamic_forward(i3d, x, pool_pad_value=-math.inf)
    assert static.shape == (2, i3d.out_channels, *i3d.out_size)
    assert i3d.out_size == (math.ceil(frames / 8), math.ceil(size / 32), math.ceil(size / 32))
    torch.testing.assert_close(static, port, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(static, tensorflow, rtol=1e-5, atol=1e-5)


def test_asymmetric_pads_are_explicit_and_symmetric_ones_fold_into_the_layer() -> None:
    i3d = InceptionI3d(num_frames=20, crop_size=224, width=0.125)
    assert i3d.Conv3d_1a_7x7.pad == (2, 3, 2, 3, 2, 3)  # 7x7x7 stride 2 on even sizes
    assert i3d.Conv3d_2c_3x3.pad is None and i3d.Conv3d_2c_3x3.conv3d.padding == (1, 1, 1)
    assert i3d.Mixed_3b.b3a.pad is None and i3d.Mixed_3b.b3a.pool.padding == (1, 1, 1)
    assert i3d.MaxPool3d_5a_2x2.pad == (0, 0, 0, 0, 0, 1)  # 5 frames (odd) and 14 px, stride 2


def test_width_multiplier_keeps_the_table_at_one_and_scales_below() -> None:
    for _, channels in PORT_INCEPTION.values():
        assert all(scale_channels(c, 1.0) == c for c in channels)
    assert [scale_channels(c, 0.5) for c in (64, 96, 128, 16, 32, 48)] == [32, 48, 64, 8, 16, 24]
    assert all(scale_channels(c, 0.25) % 8 == 0 and scale_channels(c, 0.25) >= 8 for c in range(8, 400, 8))
    half = InceptionI3d(num_frames=8, crop_size=32, width=0.5)
    assert half.out_channels == 512


def test_slices_and_end_point_errors() -> None:
    i3d = InceptionI3d(num_frames=8, crop_size=32, first_endpoint="Mixed_5b", width=0.125)
    assert i3d.endpoints == ("Mixed_5b", "Mixed_5c")
    assert i3d.in_size == (1, 1, 1)  # what MaxPool3d_5a would have produced
    with pytest.raises(ValueError, match="unknown I3D end point"):
        InceptionI3d(num_frames=8, crop_size=32, final_endpoint="Mixed_6a")
    with pytest.raises(ValueError, match="logits need the full network"):
        InceptionI3d(num_frames=8, crop_size=32, final_endpoint="Mixed_4f", num_classes=3)
    assert ENDPOINTS[-1] == "Mixed_5c"


def test_features_are_averaged_over_time_and_space_before_the_logits() -> None:
    """The I3D's classifier reads the plain mean of the Mixed_5c map over all T' x H' x W' cells."""
    from core.model.i3d import global_average

    grid = torch.arange(2 * 3 * 2 * 2, dtype=torch.float32).reshape(1, 2, 3, 2, 2)  # (N, C, T, H, W)
    grid[0, 1] = torch.tensor([[[4.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 8.0]]])
    torch.testing.assert_close(global_average(grid), torch.tensor([[5.5, 1.0]]))
    torch.manual_seed(0)
    i3d = InceptionI3d(num_frames=16, crop_size=64, width=0.125, num_classes=4).eval()
    x = torch.rand(2, 3, 16, 64, 64) * 2 - 1
    with torch.no_grad():
        features = i3d.features(x)
        assert features.shape[2:] == (2, 2, 2)  # several cells, so reading one of them would differ
        pooled = features.sum(dim=(2, 3, 4)) / (features.shape[2] * features.shape[3] * features.shape[4])
        weight = i3d.logits.conv3d.weight.flatten(1)
        torch.testing.assert_close(i3d(x), pooled @ weight.T + i3d.logits.conv3d.bias)


def test_batch_norm_statistics_move_at_the_ports_rate() -> None:
    """BatchNorm momentum 0.01 (TensorFlow's decay 0.99): one training batch moves the running mean
    1 % of the way to the batch mean."""
    torch.manual_seed(0)
    unit = Unit3D(3, 4, in_size=(2, 4, 4), relu=False)
    unit.train()
    x = torch.randn(2, 3, 2, 4, 4) + 3.0
    with torch.no_grad():
        batch_mean = unit.conv3d(x).mean(dim=(0, 2, 3, 4))
        unit(x)
    torch.testing.assert_close(unit.bn.running_mean, 0.01 * batch_mean)
    assert unit.bn.eps == 1e-3
