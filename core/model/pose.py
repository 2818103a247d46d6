"""The pose stream: a stacked LSTM over normalised skeletons, and the attention head of Eq. 2-3.

    skeleton (B, T, M, J, 3) -> flatten bodies and joints -> (B, T, M*J*3)
      -> LSTM x3 (hidden H, dropout between layers) -> hidden states (B, T, H)
           |-> last step -> dropout -> linear -> pose logits (B, C)         (Algorithm 1, step 3)
           '-> all steps concatenated (B, T*H) -> W_h, tanh -> W_s -> softmax -> alpha (B, K)   (Eq. 2-3)

M bodies are flattened into one input vector (zeros where the second person is absent), so any joint
layout works: the input size is M * J * 3.
"""

from __future__ import annotations

import torch
from torch import nn


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
    ) -> None:
        super().__init__()
        self.num_joints = num_joints
        self.num_bodies = num_bodies
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.lstm = nn.LSTM(
            input_size=num_bodies * num_joints * 3,
            hidden_size=hidden_size,
            num_layers=num_layers,
            dropout=dropout if num_layers > 1 else 0.0,
            batch_first=True,
        )
        self.dropout = nn.Dropout(dropout)
        self.classifier = nn.Linear(hidden_size, num_classes)

    def forward(self, skeleton: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """skeleton (B, T, M, J, 3) -> (logits (B, C), hidden states of the last layer (B, T, H))."""
        if skeleton.dim() != 5 or tuple(skeleton.shape[2:]) != (self.num_bodies, self.num_joints, 3):
            raise ValueError(
                f"skeleton must be (B, T, {self.num_bodies}, {self.num_joints}, 3), "
                f"got {tuple(skeleton.shape)}"
            )
        x = skeleton.flatten(2)
        # Explicit zero state and no packed sequences: every window has the same length, and this
        # exports to a plain ONNX LSTM node.
        state = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        hidden, _ = self.lstm(x, (state, state))
        logits = self.classifier(self.dropout(hidden[:, -1]))
        return logits, hidden


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
