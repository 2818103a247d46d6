"""Network configuration, its presets (profiles) and their cost.

Profiles (presets as functions, so a CLI choice maps to a dataclass):
    paper  224 px crops, full-width I3D, 20 frames, LSTM 512 (NTU; `paper_nucla`: LSTM 128, Kinect v1)
    lite   a CPU profile for live use on a laptop (smaller crops, thinner I3D, fewer frames)
    demo   the simulated-clips demo (`python -m training demo`): trains on two CPU cores in ten minutes
    tiny   for tests

    python -m core.model [--classes 60]   prints parameters and GMACs per window of each profile
"""

from __future__ import annotations

import argparse
import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from core.glimpse import PARTS
from core.skeleton import LAYOUTS, SkeletonLayout

BODY_PARTS: tuple[str, ...] = PARTS  # the paper's K = 3 (left hand, right hand, full body), in crop order
FULL_IMAGE = "full_image"  # the "full image" ablation: one I3D on the whole colour frame


class Aggregation(enum.Enum):
    """How part features are combined (the paper's model and the ablations of Tables 1-2)."""

    ATTENTION = "attention"  # F = sum_k alpha_k g_k, alpha from the pose LSTM (the paper's model)
    SUM0 = "sum0"  # F = sum_k g_k after the last Inception block
    CONCAT0 = "concat0"  # F = [g_1, ..., g_K] after the last Inception block
    SUM1 = "sum1"  # sum before Mixed_5c, which is then shared
    SUM2 = "sum2"  # sum before MaxPool3d_5a + Mixed_5b + Mixed_5c, which are then shared
    SINGLE = "single"  # one part (or the full image) alone, classified by its own I3D logits
    POSE = "pose"  # no crops: the pose LSTM alone classifies (skeleton-only model)

    @property
    def shared_blocks(self) -> int:
        """r in sum_r: how many final Inception blocks run once on the summed features."""
        return {Aggregation.SUM1: 1, Aggregation.SUM2: 2}.get(self, 0)

    @property
    def uses_pose(self) -> bool:
        return self in (Aggregation.ATTENTION, Aggregation.POSE)


@dataclass(frozen=True)
class NetworkConfig:
    """Everything that determines the network's structure (stored in checkpoints)."""

    num_classes: int
    parts: tuple[str, ...] = BODY_PARTS
    aggregation: Aggregation = Aggregation.ATTENTION
    # Part I3Ds: input (num_frames, crop_size, crop_size) per part, channels scaled by width.
    crop_size: int = 224
    num_frames: int = 20
    width: float = 1.0
    i3d_dropout: float = 0.5  # before every classifier on I3D features (the port's default)
    # Pose LSTM: input num_bodies * num_joints * 3 per frame.
    num_joints: int = 25
    num_bodies: int = 2
    lstm_hidden: int = 512
    lstm_layers: int = 3
    lstm_dropout: float = 0.5
    # Read the window in both directions and classify from the centre step (forward over the first half,
    # backward over the second) instead of the last step: what a continuous stream's window is labelled
    # by is its centre (core/timeline.py), which a forward LSTM has to carry through the window's second
    # half. The hidden states the attention head reads are then 2 * lstm_hidden wide.
    lstm_bidirectional: bool = False
    # Extra pose LSTM inputs computed inside the network (core/model/pose.py), so callers still pass
    # positions: frame-to-frame velocity times this weight (0 = none), positions centred per frame, bone
    # vectors (joint minus parent in the skeleton layout that has num_joints joints).
    pose_velocity: float = 0.0
    pose_centre_frames: bool = False
    pose_bones: bool = False
    # Width of W_h in Eq. 2; the paper does not give it, we use the LSTM's hidden size.
    attention_size: int = 512

    def __post_init__(self) -> None:
        problems = []
        if self.num_classes < 1:
            problems.append(f"num_classes must be >= 1, got {self.num_classes}")
        if self.aggregation is Aggregation.POSE and self.parts:
            problems.append(f"a pose-only network has no parts, got {self.parts}")
        if self.aggregation is Aggregation.SINGLE and len(self.parts) != 1:
            problems.append(f"aggregation 'single' needs exactly one part, got {self.parts}")
        if self.aggregation not in (Aggregation.POSE, Aggregation.SINGLE) and len(self.parts) < 2:
            problems.append(f"aggregation {self.aggregation.value!r} needs >= 2 parts, got {self.parts}")
        if len(set(self.parts)) != len(self.parts):
            problems.append(f"parts repeat: {self.parts}")
        for name in (
            "crop_size",
            "num_frames",
            "num_joints",
            "num_bodies",
            "lstm_hidden",
            "lstm_layers",
            "attention_size",
        ):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.width <= 0:
            problems.append(f"width must be > 0, got {self.width}")
        for name in ("i3d_dropout", "lstm_dropout"):
            if not 0 <= getattr(self, name) < 1:
                problems.append(f"{name} must be in [0, 1), got {getattr(self, name)}")
        if not self.pose_velocity >= 0:
            problems.append(f"pose_velocity (a weight) must be >= 0, got {self.pose_velocity}")
        if self.pose_bones and layout_with_joints(self.num_joints) is None:
            problems.append(f"pose_bones needs a skeleton layout of {self.num_joints} joints; there is none")
        if problems:
            raise ValueError("invalid NetworkConfig: " + "; ".join(problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (str, int, float, list), for checkpoints and logs."""
        d = dataclasses.asdict(self)
        d["parts"] = list(self.parts)
        d["aggregation"] = self.aggregation.value
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], *, source: str = "<config>") -> NetworkConfig:
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"{source}: unknown network config fields {unknown}; expected {sorted(known)}")
        values = dict(d)
        try:
            if "aggregation" in values:
                values["aggregation"] = Aggregation(values["aggregation"])
            if "parts" in values:
                values["parts"] = tuple(values["parts"])
            return cls(**values)
        except (TypeError, ValueError) as error:
            raise ValueError(f"{source}: {error}") from error


def layout_with_joints(num_joints: int) -> SkeletonLayout | None:
    """The sensor layout with this many joints (the network records joint counts, not layouts)."""
    return next((layout for layout in LAYOUTS if layout.num_joints == num_joints), None)


def paper(num_classes: int = 60) -> NetworkConfig:
    """The paper's model for NTU RGB+D: 224 px crops, full-width I3D, 20 frames, LSTM 512."""
    return NetworkConfig(num_classes=num_classes)


def paper_nucla(num_classes: int = 10) -> NetworkConfig:
    """The paper's model for N-UCLA: LSTM 128, Kinect v1 (20 joints), one person."""
    return NetworkConfig(
        num_classes=num_classes, num_joints=20, num_bodies=1, lstm_hidden=128, attention_size=128
    )


def lite(num_classes: int = 60) -> NetworkConfig:
    """CPU profile: 96 px crops, I3D at 3/8 width, 16 frames, LSTM 256 — 3.1 GMAC per window (paper: 105).

    Chosen by measurement: ONNX Runtime 1.32, 2 intra-op threads, one person's window (batch 1), on an
    otherwise idle 2-core machine: p50 55 ms (112 px at half width, 20 frames: 122 ms; 96 px at half
    width: 69 ms; 96 px at 1/4 width: 39 ms). The headroom under the 100 ms budget is for slower
    laptops and the rest of the live pipeline. What it trades: hands seen at 96 px, a 3/8-width I3D for
    which no ImageNet/Kinetics weights exist (trained from scratch or distilled), 16 frames per window.
    """
    return NetworkConfig(
        num_classes=num_classes, crop_size=96, num_frames=16, width=0.375, lstm_hidden=256, attention_size=256
    )


def demo(num_classes: int = 10) -> NetworkConfig:
    """The simulated-clips demo: 32 px crops, I3D at 1/8 width, 10 frames, LSTM 64 (3 layers).

    Sized so that `python -m training demo` (1,000 generated clips, all four stages) trains on two
    shared CPU cores in about ten minutes; 32 px are enough for the simulator's flat-shaded hands and
    held objects, 10 frames over a 3 s window catch a wave's swings. One body: the simulated actions
    are all one-person, so a second-body input would never be trained and live would feed it whoever
    else is in the room.
    """
    return NetworkConfig(
        num_classes=num_classes,
        crop_size=32,
        num_frames=10,
        width=0.125,
        num_bodies=1,
        lstm_hidden=64,
        attention_size=64,
    )


def tiny(num_classes: int = 5) -> NetworkConfig:
    """Seconds-fast network for tests: 32 px crops, 1/8 width, 8 frames, LSTM 16."""
    return NetworkConfig(
        num_classes=num_classes, crop_size=32, num_frames=8, width=0.125, lstm_hidden=16, attention_size=16
    )


PROFILES: dict[str, Callable[[int], NetworkConfig]] = {
    "paper": paper,
    "paper_nucla": paper_nucla,
    "lite": lite,
    "demo": demo,
    "tiny": tiny,
}


def single_part(config: NetworkConfig, part: str) -> NetworkConfig:
    """Ablation: one part's I3D alone (or `FULL_IMAGE`), classified by its own logits."""
    return dataclasses.replace(config, parts=(part,), aggregation=Aggregation.SINGLE)


def with_aggregation(config: NetworkConfig, aggregation: Aggregation) -> NetworkConfig:
    """Ablation: the same parts combined another way (sum0, concat0, sum1, sum2, attention)."""
    parts = config.parts if len(config.parts) >= 2 else BODY_PARTS
    return dataclasses.replace(config, parts=parts, aggregation=aggregation)


def pose_only(config: NetworkConfig) -> NetworkConfig:
    """The skeleton-only classifier (Algorithm 1 step 3, and the N-UCLA pose baseline)."""
    return dataclasses.replace(config, parts=(), aggregation=Aggregation.POSE)


@dataclass(frozen=True)
class NetworkCost:
    parameters: int  # whole network
    i3d_parameters: int  # one part's I3D (with its logits)
    gmacs: float  # multiply-accumulates per window (batch 1), whole network
    i3d_gmacs: float  # one part's I3D per window


def network_cost(config: NetworkConfig) -> NetworkCost:
    """Parameters and multiply-accumulates of one window, counted on the meta device (no memory, fast)."""
    from torch.utils.flop_counter import FlopCounterMode

    from core.model.network import PartAttentionNetwork

    with torch.device("meta"):
        network = PartAttentionNetwork(config).eval()
        crops = torch.zeros(1, len(config.parts), config.num_frames, config.crop_size, config.crop_size, 3)
        skeleton = torch.zeros(1, config.num_frames, config.num_bodies, config.num_joints, 3)
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            network(crops, skeleton)
        total_flops = counter.get_total_flops()
        i3d_flops = 0
        i3d_parameters = 0
        if network.parts:
            part = network.parts[0]
            x = torch.zeros(1, 3, config.num_frames, config.crop_size, config.crop_size)
            part_counter = FlopCounterMode(display=False)
            with part_counter, torch.no_grad():
                part.features(x)
            i3d_flops = part_counter.get_total_flops()
            i3d_parameters = sum(p.numel() for p in part.parameters())
    parameters = sum(p.numel() for p in network.parameters())
    # FlopCounterMode counts 2 FLOPs per multiply-accumulate.
    return NetworkCost(parameters, i3d_parameters, total_flops / 2e9, i3d_flops / 2e9)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Parameters and GMACs per window of each profile.")
    parser.add_argument("--classes", type=int, default=60, help="number of action classes (NTU60: 60)")
    args = parser.parse_args(argv)
    header = (
        f"{'profile':<12} {'crop':>4} {'width':>6} {'frames':>6} {'lstm':>5} "
        f"{'params':>9} {'I3D/part':>9} {'GMAC/window':>12} {'GMAC I3D/part':>14}"
    )
    print(header)
    print("-" * len(header))
    for name, preset in PROFILES.items():
        config = preset(args.classes)
        cost = network_cost(config)
        print(
            f"{name:<12} {config.crop_size:>4} {config.width:>6.3f} {config.num_frames:>6} "
            f"{config.lstm_hidden:>5} {cost.parameters / 1e6:>8.2f}M {cost.i3d_parameters / 1e6:>8.2f}M "
            f"{cost.gmacs:>12.2f} {cost.i3d_gmacs:>14.2f}"
        )
