"""The graph pose stream: spatial-temporal graph convolutions over the skeleton's bones (ST-GCN family).

    skeleton (B, T, M, J, 3) normalised positions (what every caller feeds)
      --pose_features--> one input per stream: joints | bones | velocity, each (B*M, 3, T, J)
      per stream (no weights shared between streams):
        input BatchNorm (per joint and coordinate), absent joints back to 0
        blocks:  x --gather neighbours per subset (A_k + B_k)--> 1x1 conv --BN--ReLU-->
                   temporal conv (k taps, `temporal_dilations` frames apart) --BN--> + residual(x) --ReLU-->
        --> (B*M, C, T, J) --mean over joints--> mean over present bodies --> (B, T, C)
      hidden (B, T, S*C): the streams' per-frame features side by side   -> AttentionHead (Eq. 2-3)
      logits (B, classes): mean over streams of linear_s(dropout(mean over T of stream s))

Adjacency. Three subsets per joint (ST-GCN's spatial partition): itself, its children (towards the
root) and its parent (away from the root), from the layout's parent list; each column normalised so a
joint averages over its neighbours in a subset. B_k is a learned residual on that physical graph (as in
2s-AGCN / CTR-GCN), zero at the start: the network starts from the bones and may link joints the bones
do not (a hand and the head for "drink", both hands for "carry").

Streams and fusion. Joints, bones and velocities run through separate trunks and are fused late (their
logits averaged): each stream alone is a full classifier, so the pose stage trains them with a loss
each (`stream_logits`) and the average is an ensemble of the three, in one network and one file.

No temporal striding: every block keeps all T frames, so the hidden states are per time step, as the
LSTM's are, and the attention head reads either stream unchanged.
"""

from __future__ import annotations

import torch
from torch import nn

from core.model import pose_features
from core.model.profiles import PoseInput

SUBSETS = 3  # itself, towards the root, away from the root


def bone_adjacency(parents: tuple[int, ...]) -> torch.Tensor:
    """(SUBSETS, J, J) adjacency of a layout, A[k, v, w] = weight of joint v in joint w's subset k.

    Columns sum to 1 where a joint has neighbours in that subset (a mean over them)."""
    joints = len(parents)
    a = torch.zeros(SUBSETS, joints, joints)
    a[0] = torch.eye(joints)
    for child, parent in enumerate(parents):
        if parent < 0:
            continue
        if not 0 <= parent < joints:
            raise ValueError(f"joint {child}'s parent {parent} is not one of the {joints} joints")
        a[1, child, parent] = 1.0  # a parent gathers from its children (towards the root)
        a[2, parent, child] = 1.0  # a child gathers from its parent (away from the root)
    return a / a.sum(1, keepdim=True).clamp(min=1.0)


class GraphBlock(nn.Module):
    """Graph convolution over the joints, then temporal convolution over the frames, with a residual."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        adjacency: torch.Tensor,
        temporal_kernel: int,
        temporal_dilation: int = 1,
    ) -> None:
        super().__init__()
        self.register_buffer("adjacency", adjacency.clone())
        self.adjacency_residual = nn.Parameter(torch.zeros_like(adjacency))  # B_k, learned
        # Neighbours gathered first, then one 1x1 convolution mixes subsets and channels: the J x J
        # products then run on the (smaller) input width.
        self.spatial = nn.Conv2d(in_channels * SUBSETS, out_channels, 1)
        self.spatial_norm = nn.BatchNorm2d(out_channels)
        self.temporal = nn.Conv2d(
            out_channels,
            out_channels,
            (temporal_kernel, 1),
            padding=(temporal_kernel // 2 * temporal_dilation, 0),
            dilation=(temporal_dilation, 1),
        )
        self.temporal_norm = nn.BatchNorm2d(out_channels)
        self.residual: nn.Module = nn.Identity()
        if in_channels != out_channels:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1), nn.BatchNorm2d(out_channels)
            )
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C_in, T, J) -> (N, C_out, T, J)."""
        adjacency = self.adjacency + self.adjacency_residual
        gathered = torch.cat([x @ adjacency[k] for k in range(SUBSETS)], dim=1)
        y = self.relu(self.spatial_norm(self.spatial(gathered)))
        y = self.temporal_norm(self.temporal(y))
        return self.relu(y + self.residual(x))


class GraphTrunk(nn.Module):
    """One input stream's graph network: (N, T, J, 3) features -> (N, C, T, J)."""

    def __init__(
        self,
        adjacency: torch.Tensor,
        channels: tuple[int, ...],
        temporal_kernel: int,
        temporal_dilations: tuple[int, ...] = (),
    ) -> None:
        super().__init__()
        joints = adjacency.shape[-1]
        self.input_norm = nn.BatchNorm1d(joints * 3)
        widths = (3, *channels)
        dilations = temporal_dilations or (1,) * len(channels)
        self.blocks = nn.Sequential(
            *(
                GraphBlock(widths[i], widths[i + 1], adjacency, temporal_kernel, dilations[i])
                for i in range(len(channels))
            )
        )

    def forward(self, x: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        """x (N, T, J, 3), present (N, T, J, 1) -> (N, C, T, J)."""
        n, t, j, _ = x.shape
        normed = self.input_norm(x.reshape(n, t, j * 3).transpose(1, 2)).transpose(1, 2)
        # Absent joints back to exact zeros (the mean after normalisation), not minus the mean / std.
        normed = normed.reshape(n, t, j, 3) * present
        return self.blocks(normed.permute(0, 3, 1, 2))


class PoseGCN(nn.Module):
    """Multi-stream spatial-temporal graph convolution network over a skeleton layout's bones.

    The same interface as PoseLSTM: forward(skeleton) -> (logits (B, C), hidden states (B, T, H)).
    """

    def __init__(
        self,
        *,
        parents: tuple[int, ...],
        num_bodies: int,
        num_classes: int,
        inputs: tuple[PoseInput, ...] = (PoseInput.JOINTS, PoseInput.BONES, PoseInput.VELOCITY),
        channels: tuple[int, ...] = (32, 32, 64),
        temporal_kernel: int = 5,
        temporal_dilations: tuple[int, ...] = (),
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if not inputs or len(set(inputs)) != len(inputs):
            raise ValueError(f"the graph stream needs distinct inputs, got {inputs}")
        if not channels or min(channels) < 1 or temporal_kernel < 1 or temporal_kernel % 2 == 0:
            raise ValueError(
                f"need block widths >= 1 and an odd temporal kernel, got {channels}, {temporal_kernel}"
            )
        if temporal_dilations and (len(temporal_dilations) != len(channels) or min(temporal_dilations) < 1):
            raise ValueError(
                f"need one temporal dilation >= 1 per block, got {temporal_dilations} for blocks {channels}"
            )
        self.num_joints = len(parents)
        self.num_bodies = num_bodies
        self.inputs = tuple(inputs)
        self.parents = pose_features.own_parents(parents)
        self.hidden_size = len(inputs) * channels[-1]
        adjacency = bone_adjacency(parents)
        self.streams = nn.ModuleList(
            GraphTrunk(adjacency, channels, temporal_kernel, temporal_dilations) for _ in inputs
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.ModuleList(nn.Linear(channels[-1], num_classes) for _ in inputs)

    @property
    def trunk(self) -> nn.Module:
        """What computes the hidden states (frozen in Algorithm 1 step 6; the classifiers are not)."""
        return self.streams

    def classifier_weights(self) -> list[torch.Tensor]:
        return [linear.weight for linear in self.classifier]

    def forward(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """skeleton (B, T, M, J, 3) -> (logits (B, C) averaged over streams, hidden states (B, T, H))."""
        per_stream, hidden = self.stream_outputs(skeleton)
        return per_stream.mean(1), hidden

    def stream_logits(self, skeleton: torch.Tensor) -> torch.Tensor:
        """(B, S, C): each stream's own classification (the pose stage trains each on its own loss)."""
        return self.stream_outputs(skeleton)[0]

    def stream_outputs(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """skeleton (B, T, M, J, 3) -> (stream logits (B, S, C), hidden states (B, T, S * C_last))."""
        if skeleton.dim() != 5 or tuple(skeleton.shape[2:]) != (self.num_bodies, self.num_joints, 3):
            raise ValueError(
                f"skeleton must be (B, T, {self.num_bodies}, {self.num_joints}, 3), "
                f"got {tuple(skeleton.shape)}"
            )
        b, t, m, j, _ = skeleton.shape
        present = pose_features.presence(skeleton)  # (B, T, M, J, 1)
        # Bodies present anywhere in the window; an absent second person does not dilute the first.
        body_present = (present.sum(dim=(1, 3)) > 0).to(skeleton.dtype)  # (B, M, 1)
        body_weight = body_present / body_present.sum(1, keepdim=True).clamp(min=1.0)
        per_body_present = present.transpose(1, 2).reshape(b * m, t, j, 1)
        logits, hidden = [], []
        for kind, trunk, classify in zip(self.inputs, self.streams, self.classifier, strict=True):
            x = self._input(kind, skeleton, present).transpose(1, 2).reshape(b * m, t, j, 3)
            features = trunk(x, per_body_present).mean(-1)  # (B*M, C, T), mean over joints
            features = features.reshape(b, m, -1, t)
            per_frame = (features * body_weight.unsqueeze(-1)).sum(1).transpose(1, 2)  # (B, T, C)
            hidden.append(per_frame)
            logits.append(classify(self.dropout(per_frame.mean(1))))
        return torch.stack(logits, dim=1), torch.cat(hidden, dim=-1)

    def _input(self, kind: PoseInput, skeleton: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
        if kind is PoseInput.JOINTS:
            return skeleton
        if kind is PoseInput.BONES:
            return pose_features.bones(skeleton, present, self.parents)
        return pose_features.velocity(skeleton, present)
