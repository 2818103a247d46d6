"""What a network costs per window: parameters and multiply-accumulates, and the profile table.

python -m core.model [--classes 60]   prints parameters and GMACs per window of each profile
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch.utils.flop_counter import FlopCounterMode

from core.model.network import PartAttentionNetwork
from core.model.profiles import PROFILES, NetworkConfig, PoseStream


@dataclass(frozen=True)
class NetworkCost:
    parameters: int  # whole network
    i3d_parameters: int  # one part's I3D (with its logits)
    gmacs: float  # multiply-accumulates per window (batch 1), whole network
    i3d_gmacs: float  # one part's I3D per window


def network_cost(config: NetworkConfig) -> NetworkCost:
    """Parameters and multiply-accumulates of one window, counted on the meta device (no memory, fast)."""
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


def pose_stream_text(config: NetworkConfig) -> str:
    """The pose stream in a few characters: "lstm 512", "gcn 32-32-64", "lstm 256 x3" (an ensemble)."""
    if config.pose_stream is PoseStream.GCN:
        text = "gcn " + "-".join(str(c) for c in config.gcn_channels)
    else:
        text = f"lstm {config.lstm_hidden}"
    return text + (f" x{config.pose_members}" if config.pose_members > 1 else "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Parameters and GMACs per window of each profile.")
    parser.add_argument("--classes", type=int, default=60, help="number of action classes (NTU60: 60)")
    parser.add_argument("--profiles", nargs="+", choices=list(PROFILES), default=list(PROFILES))
    args = parser.parse_args(argv)
    header = (
        f"{'profile':<14} {'crop':>4} {'width':>6} {'frames':>6} {'pose':>13} "
        f"{'params':>9} {'I3D/part':>9} {'GMAC/window':>12} {'GMAC I3D/part':>14}"
    )
    print(header)
    print("-" * len(header))
    for name in args.profiles:
        config = PROFILES[name](args.classes)
        cost = network_cost(config)
        crop, width = (
            (f"{config.crop_size:>4}", f"{config.width:>6.3f}")
            if config.parts
            else (f"{'-':>4}", f"{'-':>6}")
        )
        print(
            f"{name:<14} {crop} {width} {config.num_frames:>6} {pose_stream_text(config):>13} "
            f"{cost.parameters / 1e6:>8.2f}M {cost.i3d_parameters / 1e6:>8.2f}M "
            f"{cost.gmacs:>12.3f} {cost.i3d_gmacs:>14.2f}"
        )
