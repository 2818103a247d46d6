"""The paper's pose stream: a stacked LSTM over normalised skeletons, and the attention head of Eq. 2-3.
(The other pose stream, a graph convolution network with the same interface, is core/model/graph.py.)

    skeleton (B, T, M, J, 3) -> flatten bodies and joints -> (B, T, M*J*3)
      -> LSTM x3 (hidden H, dropout between layers) -> hidden states (B, T, H)
           |-> last step -> dropout -> linear -> pose logits (B, C)         (Algorithm 1, step 3)
           |   (bidirectional: both directions' states at the centre step, hidden 2H)
           '-> all steps concatenated (B, T*H) -> W_h, tanh -> W_s -> softmax -> alpha (B, K)   (Eq. 2-3)

M bodies are flattened into one input vector (zeros where the second person is absent), so any joint
layout works: the input size is M * J * 3.

Optional input features, computed from the same (B, T, M, J, 3) skeleton (core/model/pose_features.py)
so that live, the engines and ONNX keep feeding positions only (all off by default, as in the paper):
    centre_frames  positions relative to each frame's mean joint (the walk across the room removed;
                   the window-level normalisation keeps it)
    velocity       + frame-to-frame differences of the positions as given, times this weight (3 more
                   inputs per joint; 0 = none). A step of a 20-frame, 2 s window is ~0.1 spine lengths
                   against positions spread over ~1, so a weight of ~5 lets both start on equal terms.
    bone_parents   + bone vectors, joint minus its parent in the layout (3 more inputs per joint)
"""

from __future__ import annotations

import torch
from torch import nn

from core.model import pose_features


class PoseLSTM(nn.Module):
    """3-layer LSTM classifier of skeleton windows; its hidden states drive the attention head."""

    def __init__(
        self,
        *,
        num_joints: int,
        num_bodies: int,
        num_classes: int,
        hidden_size: int = 512,
        num_layers: int = 3,
        dropout: float = 0.5,
        bidirectional: bool = False,
        velocity: float = 0.0,
        centre_frames: bool = False,
        bone_parents: tuple[int, ...] | None = None,
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.num_bodies = num_bodies
        self.hidden_size = hidden_size * (2 if bidirectional else 1)  # width of the hidden states returned
        self.num_layers = num_layers
        self.bidirectional = bidirectional
        self.velocity = velocity
        self.centre_frames = centre_frames
        if bone_parents is not None and len(bone_parents) != num_joints:
            raise ValueError(f"bone_parents names {len(bone_parents)} joints, the skeleton has {num_joints}")
        # The root (parent -1) is its own parent: its bone is zero.
        self.bone_parents = None if bone_parents is None else pose_features.own_parents(bone_parents)
        self.features_per_joint = 3 * (1 + int(velocity > 0) + int(bone_parents is not None))
        self.lstm = nn.LSTM(
            input_size=num_bodies * num_joints * self.features_per_joint,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
            bidirectional=bidirectional,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(self.hidden_size, num_classes)

    def forward(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """skeleton (B, T, M, J, 3) -> (logits (B, C), hidden states of the last layer (B, T, H), or
        (B, T, 2H) bidirectional)."""
        if skeleton.dim() != 5 or tuple(skeleton.shape[2:]) != (self.num_bodies, self.num_joints, 3):
            raise ValueError(
                f"skeleton must be (B, T, {self.num_bodies}, {self.num_joints}, 3), "
                f"got {tuple(skeleton.shape)}"
            )
        x = self.features(skeleton).flatten(2)
        # Explicit zero state and no packed sequences: every window has the same length, and this
        # exports to a plain ONNX LSTM node.
        directions = 2 if self.bidirectional else 1
        state = x.new_zeros(self.num_layers * directions, x.shape[0], self.lstm.hidden_size)
        hidden, _ = self.lstm(x, (state, state))
        # Forward: the last step has seen the whole window. Both ways: the centre step has seen the first
        # half forward and the second half backward, and it is the instant the window is labelled by.
        read = hidden[:, hidden.shape[1] // 2] if self.bidirectional else hidden[:, -1]
        logits = self.classifier(self.dropout(read))
        return logits, hidden

    @property
    def trunk(self) -> nn.Module:
        """What computes the hidden states (frozen in Algorithm 1 step 6; the classifier is not)."""
        return self.lstm

    def classifier_weights(self) -> list[torch.Tensor]:
        """The pose classifier's weight matrices (Eq. 5's lambda2 term in the pose stage)."""
        return [self.classifier.weight]

    def stream_logits(self, skeleton: torch.Tensor) -> torch.Tensor:
        """(B, 1, C): one stream, the same logits as `forward` (the pose stage's loss reads these)."""
        return self(skeleton)[0].unsqueeze(1)

    def stream_outputs(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(stream logits (B, 1, C), hidden states (B, T, H)): PoseGCN's interface, one stream."""
        logits, hidden = self(skeleton)
        return logits.unsqueeze(1), hidden

    def features(self, skeleton: torch.Tensor) -> torch.Tensor:
        """(B, T, M, J, 3) -> (B, T, M, J, F) LSTM inputs per joint, F = `features_per_joint`."""
        if not (self.velocity > 0 or self.centre_frames or self.bone_parents is not None):
            return skeleton
        present = pose_features.presence(skeleton)  # (B, T, M, J, 1)
        positions = skeleton
        if self.centre_frames:
            count = present.sum(-2, keepdim=True).clamp(min=1.0)
            centre = (skeleton * present).sum(-2, keepdim=True) / count
            positions = (skeleton - centre) * present
        blocks = [positions]
        if self.velocity > 0:
            blocks.append(pose_features.velocity(skeleton, present) * self.velocity)
        if self.bone_parents is not None:
            blocks.append(pose_features.bones(skeleton, present, self.bone_parents))
        return blocks[0] if len(blocks) == 1 else torch.cat(blocks, dim=-1)


class AttentionHead(nn.Module):
    """alpha = softmax(W_s tanh(W_h h + b_s) + b_us) over the concatenated hidden states (Eq. 2-3).

    `score` (W_s, b_us) starts at zero, so every part starts with weight 1/K whatever the pose; it is
    trainable (the authors' code froze it, which left the attention uniform for good). With W_s = 0
    the gradient reaching `project` and the LSTM through alpha is zero at the very first step and
    flows once W_s has moved.
    """

    def __init__(self, *, num_frames: int, hidden_size: int, attention_size: int, num_parts: int) -> None:
        super().__init__()
        self.num_frames = num_frames
        self.project = nn.Linear(num_frames * hidden_size, attention_size)  # W_h, b_s
        self.score = nn.Linear(attention_size, num_parts)  # W_s, b_us
        nn.init.zeros_(self.score.weight)
        nn.init.zeros_(self.score.bias)

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """hidden states (B, T, H) -> attention weights (B, K), each row summing to 1."""
        if hidden.shape[1] != self.num_frames:
            raise ValueError(f"attention head expects {self.num_frames} time steps, got {hidden.shape[1]}")
        scores = self.score(torch.tanh(self.project(hidden.flatten(1))))
        return torch.softmax(scores, dim=-1)
