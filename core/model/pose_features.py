"""What the pose streams read besides positions, computed inside the network from the positions.

Callers (live, the engines, ONNX) always feed normalised positions (B, T, M, J, 3), zeros where a body
or frame is absent; both pose streams derive the rest here, so every exported file takes the same
input whatever the stream reads:

    presence   (B, T, M, J, 1) 1 where a joint carries a position, 0 where it is an exact zero
    velocity   frame-to-frame difference of the positions, zero into and out of an absent frame
    bones      joint minus its parent in the layout (the root's own bone is zero)

Absent bodies and frames are exact zeros (core.skeleton.normalize_window); their features stay zero,
and a body appearing or vanishing must not read as a jump of several metres.
"""

from __future__ import annotations

import torch


def presence(skeleton: torch.Tensor) -> torch.Tensor:
    """(B, T, M, J, 3) -> (B, T, M, J, 1): 1.0 where a joint carries a position."""
    return (skeleton.abs().sum(-1, keepdim=True) > 0).to(skeleton.dtype)


def velocity(skeleton: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """Frame-to-frame motion (B, T, M, J, 3); the first frame and frames next to an absent one get 0."""
    both = present[:, 1:] * present[:, :-1]
    step = (skeleton[:, 1:] - skeleton[:, :-1]) * both
    return torch.cat([torch.zeros_like(skeleton[:, :1]), step], dim=1)


def bones(skeleton: torch.Tensor, present: torch.Tensor, parents: list[int]) -> torch.Tensor:
    """Bone vectors (B, T, M, J, 3): joint minus `parents[joint]` (the root is its own parent)."""
    return (skeleton - skeleton[..., parents, :]) * present * present[..., parents, :]


def own_parents(parents: tuple[int, ...]) -> list[int]:
    """A layout's parents with the root (parent -1) made its own parent, so its bone is zero."""
    return [p if p >= 0 else j for j, p in enumerate(parents)]
