"""Model checkpoints with seeded random weights, for tests that need a file an engine can open; and an
engine that fails, for tests of what the app does then."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from core.model.checkpoint import DecisionSettings, Preprocessing, save_checkpoint
from core.model.network import PartAttentionNetwork
from core.model.profiles import NetworkConfig


def random_checkpoint(
    path: Path,
    config: NetworkConfig,
    class_names: Sequence[str],
    *,
    duration_s: float = 2.0,
    varied_attention: bool = False,
    seed: int = 0,
    extra: dict[str, Any] | None = None,
    layout: str = "kinect_v2",
    decisions: DecisionSettings | None = None,
) -> Path:
    """Save a `config` network with weights drawn from `seed`. `varied_attention` draws the attention
    head too, so that attention depends on the pose (a fresh head gives exactly 1/K to every part)."""
    torch.manual_seed(seed)
    network = PartAttentionNetwork(config).eval()
    if varied_attention and network.attention is not None:
        with torch.no_grad():
            network.attention.score.weight.normal_(0, 1.0)
            network.attention.score.bias.normal_(0, 0.3)
    save_checkpoint(path, network, class_names=list(class_names),
                    preprocessing=Preprocessing.matching(config, layout=layout, duration_s=duration_s),
                    extra=extra, decisions=decisions or DecisionSettings())
    return path


class EngineThatDies:
    """An engine that answers `good` calls (the warm-up and some hops), then fails on every call, as a
    GPU that fell off the bus would."""

    def __init__(self, inner, good: int) -> None:
        self.inner, self.good, self.calls = inner, good, 0
        self.name, self.metadata, self.reason = "dies", inner.metadata, "test"

    def run(self, crops, skeleton):
        self.calls += 1
        if self.calls > self.good:
            raise RuntimeError("CUDA error: an illegal memory access was encountered")
        return self.inner.run(crops, skeleton)
