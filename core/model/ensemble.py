"""Pose streams of one architecture trained apart, their class distributions averaged.

    skeleton (B, T, M, J, 3) --member k--> logits_k (B, C), hidden_k (B, T, H)
    logits  log mean_k softmax(logits_k)   (B, C), itself logits: its softmax is the mean distribution
    hidden  hidden_1 .. hidden_N side by side (B, T, N * H)

Why: members trained with other seeds or sampling make different mistakes on the same window, and
the mean of their distributions is right more often than any one of them (on PKU-MMD the members'
validation figures differ by about as much as seeds do; training/checkpoints/README.md). Probabilities
are averaged, not logits, so that one confident member cannot outvote the others alone.

The same interface as PoseLSTM and PoseGCN (forward, trunk, classifier, dropout, stream_logits,
classifier_weights), so the network and the training stages treat an ensemble as one pose stream: the
pose stage trains every member on its own loss (`stream_logits`). Built from separately trained
checkpoints by `python -m training ensemble` (training/ensemble.py), or trained at once from a config
with `pose_members` > 1.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn


def mix_distributions(logits: Sequence[torch.Tensor], weights: Sequence[float] | None = None) -> torch.Tensor:
    """Logits (B, C) whose softmax is sum_k weights_k softmax(logits_k) (the mean without weights):
    opinions on the same classes averaged as probabilities (a mean of logits would let the most
    confident one win). The ensemble's members, a window and its mirror image, and `pose_fusion`'s two
    branches are all mixed here."""
    weights = weights if weights is not None else [1.0 / len(logits)] * len(logits)
    if len(weights) != len(logits) or min(weights) <= 0:
        raise ValueError(f"need one positive weight per distribution, got {list(weights)} for {len(logits)}")
    return torch.logsumexp(
        torch.stack([torch.log_softmax(x, -1) + math.log(w) for x, w in zip(logits, weights, strict=True)]),
        dim=0,
    )


class PoseEnsemble(nn.Module):
    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        if len(members) < 2:
            raise ValueError(f"an ensemble needs at least 2 members, got {len(members)}")
        self.members = nn.ModuleList(members)
        self.num_joints = members[0].num_joints
        self.num_bodies = members[0].num_bodies
        self.hidden_size = sum(member.hidden_size for member in members)

    # Views of the members' parts for the stages (freezing, eval mode); not registered twice.
    @property
    def trunk(self) -> nn.Module:
        return nn.ModuleList(member.trunk for member in self.members)

    @property
    def classifier(self) -> nn.Module:
        return nn.ModuleList(member.classifier for member in self.members)

    @property
    def dropout(self) -> nn.Module:
        return nn.ModuleList(member.dropout for member in self.members)

    def classifier_weights(self) -> list[torch.Tensor]:
        return [weight for member in self.members for weight in member.classifier_weights()]

    def forward(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """skeleton (B, T, M, J, 3) -> (log of the mean class distribution (B, C), hidden (B, T, N*H))."""
        outputs = [member(skeleton) for member in self.members]
        mean = mix_distributions([logits for logits, _ in outputs])
        return mean, torch.cat([hidden for _, hidden in outputs], dim=-1)

    def stream_logits(self, skeleton: torch.Tensor) -> torch.Tensor:
        """(B, S, C): every member's streams' own classifications, members in order."""
        return torch.cat([member.stream_logits(skeleton) for member in self.members], dim=1)
