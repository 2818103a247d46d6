"""What the Kinect's body tracker makes of a true pose: noise, inferred and untracked joints, dropouts.

    true joints (T, 25, 3) camera space
      + slowly wandering error (AR(1), ~0.25 s) + jitter; larger for hands, tips, thumbs and feet,
        larger along z (depth)
      joints hidden behind the torso, hands at the face, tips, thumbs and feet at random, every joint
        of a body lying on the floor more often  ->  Inferred (1), with an extra offset of a few cm
      distal joints, rarely, for a few frames  ->  NotTracked (0), position frozen at the last report
      the whole body, rarely, for 1-3 frames  ->  absent
    --> reported joints, states, present (T,)

Inferred and untracked spells are two-state Markov chains per joint, so they last several frames as
on a real sensor rather than flickering frame by frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulation.motion import (
    ANKLE,
    FOOT,
    HAND,
    HAND_TIP,
    HEAD,
    HIP,
    NUM_JOINTS,
    SHOULDER,
    SPINE_BASE,
    SPINE_MID,
    SPINE_SHOULDER,
    THUMB,
    WRIST,
)

NOT_TRACKED, INFERRED, TRACKED = 0, 1, 2

# Per-joint noise, as multiples of TrackerModel.noise_m.
_NOISE_SCALE = np.ones(NUM_JOINTS)
_NOISE_SCALE[[5, 6, 9, 10, 13, 17]] = 1.3
_NOISE_SCALE[list(HAND)] = 1.6
_NOISE_SCALE[list(ANKLE) + list(FOOT)] = 2.0
_NOISE_SCALE[list(HAND_TIP) + list(THUMB)] = 2.6

_TORSO = (SPINE_BASE, SPINE_MID, SPINE_SHOULDER, 2, HEAD, *SHOULDER, *HIP)
_LIMB_JOINTS = tuple(j for j in range(NUM_JOINTS) if j not in _TORSO)
_DISTAL = (*HAND, *HAND_TIP, *THUMB, *FOOT, *ANKLE, *WRIST)


@dataclass(frozen=True)
class TrackerModel:
    """How imperfect the simulated body tracking is. `faults` scales every fault rate (0 = perfect
    states: only the noise remains)."""

    noise_m: float = 0.006
    inferred_offset_m: float = 0.035
    faults: float = 1.0
    dropout_per_frame: float = 0.0015


def _markov(rng: np.random.Generator, p_enter: np.ndarray, p_leave: float) -> np.ndarray:
    """Boolean spells (T, J): each joint enters a spell with p_enter[t, j] per frame, leaves with p_leave."""
    frames, joints = p_enter.shape
    draws = rng.random((frames, joints))
    out = np.zeros((frames, joints), bool)
    state = np.zeros(joints, bool)
    for t in range(frames):
        state = np.where(state, draws[t] >= p_leave, draws[t] < p_enter[t])
        out[t] = state
    return out


def _ar_noise(
    rng: np.random.Generator, frames: int, shape: tuple[int, ...], fps: float, time_constant: float
) -> np.ndarray:
    """Unit-variance AR(1) noise (T, *shape) with the given correlation time."""
    a = math.exp(-1.0 / (fps * time_constant))
    white = rng.normal(size=(frames, *shape))
    out = np.empty_like(white)
    out[0] = white[0]
    scale = math.sqrt(1 - a * a)
    for t in range(1, frames):
        out[t] = a * out[t - 1] + scale * white[t]
    return out


def _behind_torso(joints: np.ndarray) -> np.ndarray:
    """(T, 25) joints that the torso hides from the sensor: inside the torso's outline as seen from the
    origin and more than 6 cm behind it."""
    corners = joints[:, [SHOULDER[0], SHOULDER[1], HIP[1], HIP[0]]]  # (T, 4, 3), a quad around the torso
    z = np.maximum(joints[..., 2], 1e-3)
    ray = joints[..., :2] / z[..., None]  # (T, J, 2) image-plane direction of each joint
    quad = corners[..., :2] / np.maximum(corners[..., 2:3], 1e-3)  # (T, 4, 2)
    inside = np.ones(joints.shape[:2], bool)
    # Inside a convex quad: the same side of every edge (either orientation).
    signs = []
    for k in range(4):
        a, b = quad[:, k], quad[:, (k + 1) % 4]
        edge = b - a
        rel = ray - a[:, None]
        signs.append(edge[:, None, 0] * rel[..., 1] - edge[:, None, 1] * rel[..., 0])
    signs = np.stack(signs, -1)
    inside = (signs > 0).all(-1) | (signs < 0).all(-1)
    torso_depth = corners[..., 2].mean(1)
    hidden = inside & (joints[..., 2] > torso_depth[:, None] + 0.06)
    hidden[:, list(_TORSO)] = False
    return hidden


def track(
    true_joints: np.ndarray,
    rng: np.random.Generator,
    fps: float,
    model: TrackerModel,
    lying: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate the tracker on one body: true_joints (T, 25, 3) camera space ->
    (reported float32 (T, 25, 3), states int8 (T, 25), present bool (T,)).

    lying: optional bool (T,) frames in which the body lies on the floor (the tracker copes badly)."""
    frames = len(true_joints)
    sigma = model.noise_m * _NOISE_SCALE[None, :, None] * np.array([1.0, 1.0, 1.5])
    error = sigma * (
        0.9 * _ar_noise(rng, frames, (NUM_JOINTS, 3), fps, 0.25)
        + 0.4 * rng.normal(size=(frames, NUM_JOINTS, 3))
    )

    f = model.faults
    p_enter = np.zeros((frames, NUM_JOINTS))
    p_enter[:, list(HAND_TIP) + list(THUMB)] = 0.05 * f
    p_enter[:, list(FOOT) + list(ANKLE)] = 0.015 * f
    p_enter[:, list(HAND) + list(WRIST)] = 0.004 * f
    for hand_joints in ((HAND[0], HAND_TIP[0], THUMB[0]), (HAND[1], HAND_TIP[1], THUMB[1])):
        near_face = np.linalg.norm(true_joints[:, hand_joints[0]] - true_joints[:, HEAD], axis=-1) < 0.2
        p_enter[np.ix_(near_face, hand_joints)] += 0.25 * f
    if lying is not None:
        p_enter[np.ix_(lying, _LIMB_JOINTS)] += 0.12 * f
    inferred = _markov(rng, np.minimum(p_enter, 1.0), 0.25)
    if f > 0:
        inferred |= _behind_torso(true_joints)
    offset = model.inferred_offset_m * _ar_noise(rng, frames, (NUM_JOINTS, 3), fps, 0.5)
    reported = true_joints + error + np.where(inferred[..., None], offset, 0.0)

    p_lost = np.zeros((frames, NUM_JOINTS))
    p_lost[:, list(_DISTAL)] = 0.0015 * f
    lost = _markov(rng, p_lost, 0.3)
    lost[0] = False
    for t in np.flatnonzero(lost.any(1)):
        reported[t, lost[t]] = reported[t - 1, lost[t]]  # the SDK keeps reporting the last position

    states = np.full((frames, NUM_JOINTS), TRACKED, np.int8)
    states[inferred] = INFERRED
    states[lost] = NOT_TRACKED
    dropped = _markov(rng, np.full((frames, 1), model.dropout_per_frame * f), 0.5)[:, 0]
    dropped[0] = False  # a clip starts with its subject in view
    return reported.astype(np.float32), states, ~dropped
