"""Skeleton geometry: joint layouts as data, and the view-invariant normalisation of a window.

Joint arrays are camera-space metres, float32, shaped (..., J, 3). Tracking states are int8 with the
Kinect meaning: 0 NotTracked, 1 Inferred, 2 Tracked.

Normalisation (after the NTU RGB+D paper's: origin at the middle of the spine, x along the shoulders; the
y axis and the scale from the spine's upper segment, which Kinect v1's layout has as well)::

    joints (T, M, J, 3) --> one rigid transform per window, from body 0 (the first body with any
    data where body 0 has none), tracked joints weighted 1, inferred ones 1/4:
        origin  = spine joint (SpineMid / Spine), averaged over the window
        x axis  = right shoulder -> left shoulder, averaged over the frames, made orthogonal to y
        y axis  = origin -> spine top (SpineShoulder / ShoulderCenter), averaged over the frames
        z axis  = x cross y
        scale   = 1 / the length of that mean spine (the layout's typical one where it is not seen)
    --> (T, M, J, 3), absent bodies and all-zero frames stay exactly zero

One transform for the whole window (not per frame) keeps the body's own motion — a fall, a turn —
visible to the LSTM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

NOT_TRACKED, INFERRED, TRACKED = 0, 1, 2


@dataclass(frozen=True)
class SkeletonLayout:
    """A sensor's joint set: names, the parent of each joint, and the joints each body part uses.

    `left_hand` / `right_hand` list joints in order of preference for locating the hand: the hand
    itself first, then the wrist, then the elbow, so a crop still lands near the hand when the
    sensor loses it.
    """

    name: str
    joint_names: tuple[str, ...]
    parents: tuple[int, ...]
    origin: int  # spine joint at the centre of the body
    spine_top: int  # joint at the top of the spine, between the shoulders
    shoulder_left: int
    shoulder_right: int
    head: int
    left_hand: tuple[int, ...]
    right_hand: tuple[int, ...]
    # A typical origin -> spine top length, metres (the median over the real recordings we hold): the
    # scale of a window whose spine is not seen (a blanket over the chest), not 1 / (1 m) - 4-5 times
    # smaller than every other window's.
    spine_m: float = 0.22

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def bones(self) -> tuple[tuple[int, int], ...]:
        """(parent, child) pairs, for drawing."""
        return tuple((p, j) for j, p in enumerate(self.parents) if p >= 0)

    @property
    def mirror_order(self) -> tuple[int, ...]:
        """Each joint's mirror image: ...Left <-> ...Right, the spine maps to itself. With x negated after
        `normalize_window` (x runs along the shoulders) this mirrors a normalised body."""
        mirrored = (n.replace("Left", "\0").replace("Right", "Left").replace("\0", "Right")
                    for n in self.joint_names)
        return tuple(self.joint_names.index(n) for n in mirrored)

    def index(self, joint_name: str) -> int:
        return self.joint_names.index(joint_name)


KINECT_V2 = SkeletonLayout(
    name="kinect_v2",
    joint_names=(
        "SpineBase", "SpineMid", "Neck", "Head",
        "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
        "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
        "HipRight", "KneeRight", "AnkleRight", "FootRight",
        "SpineShoulder", "HandTipLeft", "ThumbLeft", "HandTipRight", "ThumbRight",
    ),
    parents=(-1, 0, 20, 2, 20, 4, 5, 6, 20, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18, 1, 7, 6, 11, 10),
    origin=1,
    spine_top=20,
    shoulder_left=4,
    shoulder_right=8,
    head=3,
    left_hand=(7, 6, 5),
    right_hand=(11, 10, 9),
    spine_m=0.22,  # NTU RGB+D 0.21, PKU-MMD 0.23 (SpineMid -> SpineShoulder)
)

KINECT_V1 = SkeletonLayout(
    name="kinect_v1",
    joint_names=(
        "HipCenter", "Spine", "ShoulderCenter", "Head",
        "ShoulderLeft", "ElbowLeft", "WristLeft", "HandLeft",
        "ShoulderRight", "ElbowRight", "WristRight", "HandRight",
        "HipLeft", "KneeLeft", "AnkleLeft", "FootLeft",
        "HipRight", "KneeRight", "AnkleRight", "FootRight",
    ),
    parents=(-1, 0, 1, 2, 2, 4, 5, 6, 2, 8, 9, 10, 0, 12, 13, 14, 0, 16, 17, 18),
    origin=1,
    spine_top=2,
    shoulder_left=4,
    shoulder_right=8,
    head=3,
    left_hand=(7, 6, 5),
    right_hand=(11, 10, 9),
    spine_m=0.33,  # N-UCLA (Spine -> ShoulderCenter)
)

LAYOUTS = (KINECT_V2, KINECT_V1)


def body_centre(joints: np.ndarray, layout: SkeletonLayout = KINECT_V2) -> np.ndarray:
    """Where a body is: (J, 3) camera-space joints -> (3,), its origin joint (the spine), or where that
    is absent (0 0 0: a glitch dropped, a file's joint not seen) the mean of the joints present; 0 0 0
    when none is. Read as the origin alone, such a body stood at the sensor: two people a metre apart were
    no partners, and two such bodies were one person found again."""
    origin = joints[layout.origin]
    if origin.any():
        return origin
    present = joints[joints.any(-1)]
    return present.mean(0) if len(present) else origin


# Past any Kinect's reach (v2 measures depth to 8 m, tracks bodies to about 4.5 m; the real recordings we
# hold stay within 3 m sideways and 5.2 m deep). A joint beyond it is damage or a glitch, not a person.
SENSOR_REACH_M = 10.0
# Nearer than any Kinect measures (v2 from 0.5 m, v1's near mode from 0.4 m), yet real recordings hold
# such joints (PKU-MMD 0016-M: a head at 0.23 m, its spine at 0.62 m; 18 joints in 4 sequences). They are
# kept (a face there is still blurred) but no crop is centred on one (core.glimpse): a hand "3 cm from the
# sensor" made a box 10,000 pixels wide.
NEAREST_MEASURED_M = 0.3


def implausible_joints(joints: np.ndarray) -> np.ndarray:
    """(..., 3) camera-space joints, metres -> (...) bool: joints that are neither absent (all zeros, as
    files write a joint or body the sensor did not see) nor a point the sensor could have measured
    (finite, in front of it, within SENSOR_REACH_M). Passed on, such numbers read as confident wrong
    actions, and the decisions give no sign of it: readers of datasets and of our own clips refuse a file
    holding one (damage); what a sensor gives raw (live, .xef) goes through `without_implausible`."""
    absent = (joints == 0).all(-1)
    depth = joints[..., 2]
    measurable = (np.abs(joints[..., :2]) <= SENSOR_REACH_M).all(-1) & (depth > 0) & (depth <= SENSOR_REACH_M)
    return ~(absent | measurable)  # NaN compares False: never measurable


def without_implausible(joints: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A sensor's body (J, 3) with each joint no sensor measures (`implausible_joints`: a glitch, or junk
    where the sensor tracks nothing) at 0 0 0 and NotTracked, as files write a joint not seen: what the
    live sensors and the .xef reader pass on. Returns (joints, states, the (J,) mask of those dropped)."""
    bad = implausible_joints(joints)
    if not bad.any():
        return joints, states, bad
    joints = np.where(bad[:, None], 0, joints).astype(joints.dtype)
    return joints, np.where(bad, NOT_TRACKED, states).astype(states.dtype), bad


def why_implausible(joint: np.ndarray) -> str:
    """What is wrong with one joint `implausible_joints` flags, in words for an error message."""
    x, y, z = (float(v) for v in joint)
    where = f"({x:.6g}, {y:.6g}, {z:.6g}) m"
    if not np.isfinite(joint).all():
        return f"{where} is not a number"
    if z <= 0:
        return f"{where} is behind the sensor (z must be above 0)"
    return f"{where} is beyond any sensor's reach ({SENSOR_REACH_M:g} m)"


def layout_by_name(name: str) -> SkeletonLayout:
    """The layout a checkpoint or config names ("kinect_v2" / "kinect_v1")."""
    for layout in LAYOUTS:
        if layout.name == name:
            return layout
    raise ValueError(f"unknown skeleton layout {name!r}; expected one of {[lay.name for lay in LAYOUTS]}")


@dataclass(frozen=True)
class ViewTransform:
    """The rigid transform + scale that `normalize_window` applied: p' = scale * R @ (p - origin)."""

    origin: np.ndarray  # (3,)
    rotation: np.ndarray  # (3, 3), rows are the new x, y, z axes in camera coordinates
    scale: float

    def apply(self, joints: np.ndarray) -> np.ndarray:
        return (self.scale * (joints - self.origin) @ self.rotation.T).astype(np.float32)


def _present(joints: np.ndarray, states: np.ndarray | None) -> np.ndarray:
    """Mask (...,J) of joints that carry a position: finite, not all zero, and not NotTracked."""
    mask = np.isfinite(joints).all(-1) & (np.abs(joints).sum(-1) > 0)
    if states is not None:
        mask &= states > NOT_TRACKED
    return mask


def _mean_position(joints: np.ndarray, weights: np.ndarray) -> np.ndarray | None:
    total = weights.sum()
    if total <= 0:
        return None
    return (np.nan_to_num(joints) * weights[:, None]).sum(0) / total


def view_transform(
    joints: np.ndarray, states: np.ndarray | None, layout: SkeletonLayout
) -> ViewTransform | None:
    """Transform for one body's window (T, J, 3). None when the body is absent from the whole window.

    Tracked joints count fully and inferred ones at a quarter: the Kinect's guesses for hidden joints
    are often several centimetres off, which would tilt the axes. Each axis is the mean over the frames
    of a difference of two joints (spine top less origin, left shoulder less right), each frame weighted
    by the less certain of the two: the difference of two means, each weighted by its own joint's
    states, put a moving person's path into the axis (walking 0.75 m/s with the spine top inferred for
    half the window tilted them 43 degrees, a fall's worth).
    """
    present = _present(joints, states)
    weight = present.astype(np.float64)
    if states is not None:
        weight *= np.where(states >= TRACKED, 1.0, 0.25)

    def difference(a: int, b: int) -> np.ndarray | None:
        both = _mean_position(joints[:, a] - joints[:, b], np.minimum(weight[:, a], weight[:, b]))
        if both is not None:
            return both
        # Never both in one frame (each tracked on alternate frames): the difference of their means.
        mean_a, mean_b = (_mean_position(joints[:, j], weight[:, j]) for j in (a, b))
        return None if mean_a is None or mean_b is None else mean_a - mean_b

    origin = _mean_position(joints[:, layout.origin], weight[:, layout.origin])
    up = difference(layout.spine_top, layout.origin)
    across = difference(layout.shoulder_left, layout.shoulder_right)
    if origin is None:
        # A body with no spine joint at all: centre on whatever joints it has, keep the camera axes.
        centre = _mean_position(joints.reshape(-1, 3), weight.reshape(-1))
        if centre is None:
            return None
        return ViewTransform(centre, np.eye(3), 1.0 / layout.spine_m)

    y = up if up is not None else np.array([0.0, 1.0, 0.0])
    spine_length = float(np.linalg.norm(y)) if up is not None else layout.spine_m
    if spine_length < 1e-6:
        y, spine_length = np.array([0.0, 1.0, 0.0]), 0.0
    y = y / np.linalg.norm(y)
    x = across if across is not None else np.array([1.0, 0.0, 0.0])
    x = x - (x @ y) * y
    if np.linalg.norm(x) < 1e-6:
        # Shoulders along the spine (degenerate data): pick any axis orthogonal to y.
        x = np.cross(y, [0.0, 0.0, 1.0])
        if np.linalg.norm(x) < 1e-6:
            x = np.cross(y, [1.0, 0.0, 0.0])
    x = x / np.linalg.norm(x)
    z = np.cross(x, y)
    scale = 1.0 / (spine_length if spine_length > 0.05 else layout.spine_m)
    return ViewTransform(origin, np.stack([x, y, z]), scale)


def normalize_window(
    joints: np.ndarray, states: np.ndarray | None, layout: SkeletonLayout
) -> np.ndarray:
    """View-invariant normalisation of a window of skeletons.

    joints: (T, M, J, 3) camera metres (zeros where a body or frame is absent);
    states: (T, M, J) tracking states or None (then every non-zero joint counts as tracked).
    Returns float32 (T, M, J, 3). The transform comes from body 0 (the subject; the first body with any
    data when body 0 is absent from the whole window) and is applied to every body, so the relative
    position of a second person is kept. Joints that are absent stay zero.
    """
    joints = np.asarray(joints, dtype=np.float64)
    if joints.ndim != 4 or joints.shape[-1] != 3 or joints.shape[2] != layout.num_joints:
        raise ValueError(
            f"expected joints shaped (T, M, {layout.num_joints}, 3) for layout {layout.name}, "
            f"got {joints.shape}"
        )
    if states is not None and states.shape != joints.shape[:3]:
        raise ValueError(f"states shape {states.shape} does not match joints {joints.shape[:3]}")
    out = np.zeros(joints.shape, dtype=np.float32)
    transform = None
    for m in range(joints.shape[1]):  # first body with any data defines the view
        transform = view_transform(joints[:, m], None if states is None else states[:, m], layout)
        if transform is not None:
            break
    if transform is None:
        return out
    present = _present(joints, states)
    out[present] = transform.apply(joints[present])
    return out
