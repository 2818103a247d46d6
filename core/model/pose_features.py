"""What the pose streams read besides positions, computed inside the network from the positions.

Callers (live, the engines, ONNX) always feed normalised positions (B, T, M, J, 3), zeros where a body
or frame is absent; both pose streams derive the rest here, so every exported file takes the same
input whatever the stream reads:

    presence   (B, T, M, J, 1) 1 where a joint carries a position, 0 where it is an exact zero
    velocity   frame-to-frame difference of the positions, zero into and out of an absent frame
    bones      joint minus its parent in the layout (the root's own bone is zero)
    closeness  (B, T, M, J, 1) how near each joint is to the nearest joint of another body:
               exp(-distance / CLOSENESS_SCALE), 0 where no other body is present

Absent bodies and frames are exact zeros (core.skeleton.normalize_window); their features stay zero,
and a body appearing or vanishing must not read as a jump of several metres.
"""

from __future__ import annotations

import enum

import torch


class PoseInput(enum.Enum):
    """One input of the graph pose stream; each runs through a trunk of its own (late fusion)."""

    JOINTS = "joints"  # positions
    BONES = "bones"  # joint minus parent
    VELOCITY = "velocity"  # frame-to-frame motion of the positions


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


CLOSENESS_SCALE = 0.5  # spine lengths (~0.25 m): a hand on a shoulder is ~0.6, arm's length ~0.05


def closeness(skeleton: torch.Tensor, present: torch.Tensor) -> torch.Tensor:
    """(B, T, M, J, 1): exp(-d / CLOSENESS_SCALE), d the distance from each joint to the nearest present
    joint of any other body in the same frame (0 where the joint or every other body is absent).

    Where two people touch, and with what: a push reaches the chest with both hands, a pat the back with
    one, a handshake meets a hand. Positions give this only as differences the network must learn to
    take and compare; this gives it directly, whatever the room's orientation.
    """
    batch, steps, bodies, joints, _ = skeleton.shape
    mine = skeleton.reshape(batch, steps, bodies * joints, 1, 3)
    theirs = skeleton.reshape(batch, steps, 1, bodies * joints, 3)
    distance = (mine - theirs).square().sum(-1).clamp(min=1e-12).sqrt()  # (B, T, MJ, MJ)
    body = torch.arange(bodies, device=skeleton.device).repeat_interleave(joints)
    other = (body[:, None] != body[None, :]).to(skeleton.dtype)  # pairs of joints of different bodies
    valid = other * present.reshape(batch, steps, 1, bodies * joints)
    far = distance + (1.0 - valid) * 1e4  # not a joint of another body: out of reach (exp underflows to 0)
    nearest = far.min(dim=-1).values.reshape(batch, steps, bodies, joints, 1)
    return torch.exp(-nearest / CLOSENESS_SCALE) * present


def own_parents(parents: tuple[int, ...]) -> list[int]:
    """A layout's parents with the root (parent -1) made its own parent, so its bone is zero."""
    return [p if p >= 0 else j for j, p in enumerate(parents)]
