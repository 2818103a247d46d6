"""An articulated Kinect v2 body: proportions, keyframed pose controls, and forward kinematics.

Frames of reference::

    local   the person's own frame, on the floor below the pelvis: x = the person's LEFT, y = up,
            z = the way they face (right-handed: left x up = forward)
    upper   the upper body's axes (turned with pelvis and spine), origin at SpineShoulder; arm
            targets are given in it, so a hand at the mouth stays there while the person leans
    room    floor y = 0, origin below the sensor, x = the sensor's left, z = away from the sensor
    camera  Kinect camera space (x = sensor's left, y = up, z = forward) of a sensor at some height,
            tilted down over the room

A person facing the sensor has local x (their left) along room -x: their left hand has the smaller
camera X, and, the colour image being mirrored, appears on the image's left (as in NTU RGB+D, where
ShoulderLeft's colorX is smaller than ShoulderRight's for a subject facing the camera).

Motion is a set of control channels (pelvis position and tilt, spine bend, head turn, wrist and ankle
targets, elbow/knee pole directions, hand roll and flexion), keyframed with smooth-step easing. The
arms and legs are two-bone inverse kinematics chains, so scripts say where a hand goes ("to the mouth")
rather than joint angles, and bone lengths stay exact in every frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace

import numpy as np

LEFT, RIGHT = 0, 1
SIDES = (LEFT, RIGHT)
# +1 for the left side (local x points to the person's left), -1 for the right.
SIDE_SIGN = (1.0, -1.0)

# Joint indices (Kinect v2 JointType order).
SPINE_BASE, SPINE_MID, NECK, HEAD = 0, 1, 2, 3
SHOULDER = (4, 8)
ELBOW = (5, 9)
WRIST = (6, 10)
HAND = (7, 11)
HIP = (12, 16)
KNEE = (13, 17)
ANKLE = (14, 18)
FOOT = (15, 19)
SPINE_SHOULDER = 20
HAND_TIP = (21, 23)
THUMB = (22, 24)
NUM_JOINTS = 25


# ------------------------------------------------------------------------------------------- rotations


def rot_x(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about x; a positive angle turns +y towards +z (a forward lean in `local`)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([o, z, z, z, c, -s, z, s, c], -1).reshape(*np.shape(angle), 3, 3)


def rot_y(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about y; a positive angle turns +z towards +x (in `local`: towards the left)."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([c, z, s, z, o, z, -s, z, c], -1).reshape(*np.shape(angle), 3, 3)


def rot_z(angle: np.ndarray) -> np.ndarray:
    """(T, 3, 3) rotations about z; a positive angle turns +x towards +y."""
    c, s = np.cos(angle), np.sin(angle)
    o, z = np.ones_like(c), np.zeros_like(c)
    return np.stack([c, -s, z, s, c, z, z, z, o], -1).reshape(*np.shape(angle), 3, 3)


def tilt(pitch: np.ndarray, roll: np.ndarray, twist: np.ndarray | float = 0.0) -> np.ndarray:
    """Body-segment orientation: twist about the vertical, then a forward pitch, then a sideways roll.

    roll > 0 leans towards the person's left (+x)."""
    pitch = np.asarray(pitch, dtype=np.float64)
    twist = np.broadcast_to(np.asarray(twist, dtype=np.float64), pitch.shape)
    return rot_y(twist) @ rot_z(-np.asarray(roll, dtype=np.float64)) @ rot_x(pitch)


def apply(matrices: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """Rotate per-frame vectors: (T, 3, 3) @ (T, 3) or (T, 3, 3) @ (3,) -> (T, 3)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    if vectors.ndim == 1:
        return matrices @ vectors
    return np.einsum("tij,tj->ti", matrices, vectors)


def normalized(vectors: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return vectors / np.maximum(norm, 1e-9)


# ------------------------------------------------------------------------------------------ body shape


@dataclass(frozen=True)
class BodyShape:
    """Bone lengths in metres (Kinect joint to Kinect joint) for one person."""

    spine_lower: float = 0.26  # SpineBase -> SpineMid
    spine_upper: float = 0.21  # SpineMid -> SpineShoulder
    neck: float = 0.07  # SpineShoulder -> Neck
    head: float = 0.12  # Neck -> Head (the head's centre)
    shoulder_half_width: float = 0.17
    shoulder_drop: float = 0.035
    hip_half_width: float = 0.085
    hip_drop: float = 0.02
    upper_arm: float = 0.28
    forearm: float = 0.25
    hand: float = 0.08  # Wrist -> Hand
    fingers: float = 0.07  # Hand -> HandTip
    thumb: float = 0.05
    thigh: float = 0.44
    shin: float = 0.42
    ankle_height: float = 0.08
    foot: float = 0.13
    head_radius: float = 0.105

    @property
    def arm(self) -> float:
        return self.upper_arm + self.forearm

    @property
    def leg(self) -> float:
        return self.thigh + self.shin

    @property
    def standing_pelvis_height(self) -> float:
        # Knees never quite straight: a locked knee would make the IK chain degenerate.
        return self.ankle_height + 0.995 * self.leg + self.hip_drop

    @property
    def height(self) -> float:
        """Standing height, floor to the top of the head."""
        return (
            self.standing_pelvis_height
            + self.spine_lower
            + self.spine_upper
            + self.neck
            + self.head
            + self.head_radius
        )

    @classmethod
    def random(cls, rng: np.random.Generator, height_m: tuple[float, float]) -> BodyShape:
        """A person of a height drawn from `height_m`, with proportions varied a few percent."""
        base = cls()
        scale = rng.uniform(*height_m) / base.height
        values = {}
        for f in fields(cls):
            values[f.name] = getattr(base, f.name) * scale * rng.uniform(0.96, 1.04)
        values["shoulder_half_width"] *= rng.uniform(0.92, 1.1)
        values["hip_half_width"] *= rng.uniform(0.92, 1.12)
        return cls(**values)


# ---------------------------------------------------------------------------------------- pose controls

# A chair's seat starts this far behind the standing feet (local z), so sitting down is a step-free
# lowering of the pelvis backwards onto it.
CHAIR_FRONT_Z = -0.1


@dataclass
class PoseControls:
    """Per-frame controls, arrays with a leading frame axis T. Arm channels are (T, 2, ...) by side."""

    pelvis: np.ndarray  # (T, 3) SpineBase in `local`
    pelvis_tilt: np.ndarray  # (T, 3) pitch (forward +), roll (to the left +), twist (to the left +), radians
    spine_bend: np.ndarray  # (T, 2) pitch, roll of the upper body relative to the pelvis
    head_turn: np.ndarray  # (T, 2) pitch (nod down +), yaw (to the left +)
    wrist: np.ndarray  # (T, 2, 3) wrist targets in `upper`, relative to SpineShoulder
    elbow_pole: np.ndarray  # (T, 2, 3) where the elbow points, in `upper`
    thumb: np.ndarray  # (T, 2, 3) preferred thumb direction in `upper` (the roll of the hand)
    flex: np.ndarray  # (T, 2) wrist flexion towards the palm, radians
    grip: np.ndarray  # (T, 2) 0 open hand .. 1 fist (fingers curled round a held object)
    ankle: np.ndarray  # (T, 2, 3) ankle targets in `local`
    knee_pole: np.ndarray  # (T, 2, 3) where the knee points, in the pelvis's axes

    @property
    def num_frames(self) -> int:
        return len(self.pelvis)


CHANNEL_SHAPES: dict[str, tuple[int, ...]] = {
    f.name: shape
    for f, shape in zip(
        fields(PoseControls),
        [(3,), (3,), (2,), (2,), (2, 3), (2, 3), (2, 3), (2,), (2,), (2, 3), (2, 3)],
        strict=True,
    )
}


# Channels with one value per side (arm and leg controls); the others are shared by the whole body.
PER_SIDE = frozenset({"wrist", "elbow_pole", "thumb", "flex", "grip", "ankle", "knee_pole"})


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3.0 - 2.0 * u)


class Choreography:
    """Keyframed pose controls. Each channel (or one side of an arm/leg channel) moves from its previous
    key to the next with smooth-step easing and holds its value between moves.

    `move(t0, t1, ...)` is the usual call: the channels keep their values until t0 and arrive at the
    given values at t1. Times must not go backwards for any channel.
    """

    def __init__(self, start: dict[str, np.ndarray]) -> None:
        missing = set(CHANNEL_SHAPES) - set(start)
        if missing:
            raise ValueError(
                f"a choreography needs a start value for every channel; missing {sorted(missing)}"
            )
        self._keys: dict[tuple[str, int | None], list[tuple[float, np.ndarray]]] = {}
        for name, shape in CHANNEL_SHAPES.items():
            value = np.asarray(start[name], dtype=np.float64).reshape(shape)
            if name in PER_SIDE:
                for side in SIDES:
                    self._keys[(name, side)] = [(0.0, value[side].copy())]
            else:
                self._keys[(name, None)] = [(0.0, value.copy())]
        self.end_time = 0.0

    def _channel(self, name: str, side: int | None) -> list[tuple[float, np.ndarray]]:
        try:
            return self._keys[(name, side)]
        except KeyError:
            raise KeyError(f"no control channel {name!r} for side {side}") from None

    def current(self, name: str, side: int | None = None) -> np.ndarray:
        return self._channel(name, side)[-1][1].copy()

    def key(self, t: float, name: str, value: np.ndarray | float, side: int | None = None) -> None:
        keys = self._channel(name, side)
        if t < keys[-1][0] - 1e-9:
            raise ValueError(
                f"key for {name} at {t:.3f}s is before the channel's last key at {keys[-1][0]:.3f}s"
            )
        keys.append((float(t), np.asarray(value, dtype=np.float64).reshape(keys[-1][1].shape)))
        self.end_time = max(self.end_time, float(t))

    def move(self, t0: float, t1: float, side: int | None = None, **values: np.ndarray | float) -> None:
        """Hold the named channels until t0, then ease them to `values` by t1."""
        for name, value in values.items():
            self.key(t0, name, self.current(name, side), side)
            self.key(t1, name, value, side)

    def hold_all(self, t: float) -> None:
        """Key every channel at its current value (a pose to hold until the next moves)."""
        for keys in self._keys.values():
            if keys[-1][0] < t:
                keys.append((float(t), keys[-1][1].copy()))
        self.end_time = max(self.end_time, float(t))

    def evaluate(self, times: np.ndarray) -> PoseControls:
        times = np.asarray(times, dtype=np.float64)
        out: dict[str, np.ndarray] = {
            name: np.zeros((len(times), *shape)) for name, shape in CHANNEL_SHAPES.items()
        }
        for (name, side), keys in self._keys.items():
            key_times = np.array([k[0] for k in keys])
            values = np.stack([k[1] for k in keys])
            index = np.clip(np.searchsorted(key_times, times, side="right") - 1, 0, len(keys) - 1)
            following = np.minimum(index + 1, len(keys) - 1)
            span = key_times[following] - key_times[index]
            u = np.where(span > 1e-9, (times - key_times[index]) / np.where(span > 1e-9, span, 1.0), 1.0)
            s = smoothstep(u).reshape(-1, *([1] * (values.ndim - 1)))
            value = values[index] + s * (values[following] - values[index])
            if side is None:
                out[name][:] = value
            else:
                out[name][:, side] = value
        return PoseControls(**out)


@dataclass(frozen=True)
class Sway:
    """Nobody stands perfectly still: slow sway of the pelvis, head and hands, a fixed sum of sinusoids
    per person, so it continues smoothly across the segments of an endless scene."""

    frequencies: np.ndarray  # (K, D) Hz per component and sway dimension
    phases: np.ndarray  # (K, D)
    weights: np.ndarray  # (K, D)

    # Sway dimensions: pelvis x, z (m), pelvis pitch, roll (rad), head pitch, yaw (rad), wrists (2 x 3 m).
    AMPLITUDES = np.array([0.012, 0.012, 0.02, 0.02, 0.04, 0.04] + [0.012] * 6)
    FREQUENCIES = np.array([0.3, 0.3, 0.25, 0.25, 0.3, 0.3] + [0.4] * 6)

    @classmethod
    def random(cls, rng: np.random.Generator, components: int = 3) -> Sway:
        shape = (components, len(cls.AMPLITUDES))
        return cls(
            cls.FREQUENCIES * rng.uniform(0.5, 1.6, shape),
            rng.uniform(0, 2 * math.pi, shape),
            rng.uniform(0.5, 1.0, shape),
        )

    def offsets(self, times: np.ndarray) -> np.ndarray:
        """(T, D) sway at the given times (seconds)."""
        times = np.asarray(times, dtype=np.float64)[:, None, None]
        waves = np.sin(2 * math.pi * self.frequencies * times + self.phases) * self.weights
        return waves.sum(1) * (self.AMPLITUDES / 1.7)

    def apply(self, controls: PoseControls, times: np.ndarray) -> None:
        """Add the sway at `times` to controls (in place)."""
        sway = self.offsets(times)
        controls.pelvis[:, [0, 2]] += sway[:, 0:2]
        controls.pelvis_tilt[:, :2] += sway[:, 2:4]
        controls.head_turn += sway[:, 4:6]
        controls.wrist += sway[:, 6:12].reshape(-1, 2, 3)


# ------------------------------------------------------------------------------------- the 3-D skeleton


@dataclass
class Kinematics:
    """A posed body: joints and the axes the renderer needs, all in one frame of reference."""

    joints: np.ndarray  # (T, 25, 3)
    upper_axes: np.ndarray  # (T, 3, 3) columns: left, up, forward of the upper body
    pelvis_axes: np.ndarray  # (T, 3, 3)
    head_axes: np.ndarray  # (T, 3, 3)
    # (T, 2, 3, 3) columns: fingers direction, the wished thumb direction (the axis of a held cup or
    # phone: the hand's own thumb is bent away from it where the wrist cannot turn that far), palm normal
    hand_axes: np.ndarray

    def transformed(self, rotation: np.ndarray, translation: np.ndarray) -> Kinematics:
        """p -> R p + t per frame; rotation (T, 3, 3), translation (T, 3)."""

        def points(p: np.ndarray) -> np.ndarray:
            return np.einsum("tij,t...j->t...i", rotation, p) + translation.reshape(
                len(p), *([1] * (p.ndim - 2)), 3
            )

        def axes(a: np.ndarray) -> np.ndarray:
            return np.einsum("tij,t...jk->t...ik", rotation, a)

        return replace(
            self,
            joints=points(self.joints),
            upper_axes=axes(self.upper_axes),
            pelvis_axes=axes(self.pelvis_axes),
            head_axes=axes(self.head_axes),
            hand_axes=axes(self.hand_axes),
        )


def two_bone(
    root: np.ndarray, target: np.ndarray, upper: float, lower: float, pole: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Two-bone IK: (middle joint, end joint) (T, 3) reaching from root towards target, bent towards pole.

    A target out of reach is approached along the same line (arm stretched, 0.2 % short of straight)."""
    offset = target - root
    distance = np.linalg.norm(offset, axis=-1, keepdims=True)
    direction = offset / np.maximum(distance, 1e-9)
    reach = np.clip(distance, abs(upper - lower) + 1e-3, (upper + lower) * 0.998)
    along = (upper**2 - lower**2 + reach**2) / (2 * reach)
    across = np.sqrt(np.maximum(upper**2 - along**2, 0.0))
    bend = pole - np.sum(pole * direction, -1, keepdims=True) * direction
    # A pole along the limb gives no bending plane: fall back to any perpendicular.
    fallback = np.cross(direction, np.array([0.0, 0.0, 1.0]))
    fallback = np.where(
        np.linalg.norm(fallback, axis=-1, keepdims=True) < 1e-6,
        np.cross(direction, np.array([1.0, 0.0, 0.0])),
        fallback,
    )
    bend = np.where(np.linalg.norm(bend, axis=-1, keepdims=True) < 1e-6, fallback, bend)
    middle = root + along * direction + across * normalized(bend)
    end = root + reach * direction
    return middle, end


def pose_body(shape: BodyShape, controls: PoseControls) -> Kinematics:
    """Forward kinematics: controls -> joints in `local` (T, 25, 3) and segment axes."""
    c = controls
    frames = c.num_frames
    joints = np.zeros((frames, NUM_JOINTS, 3))
    pelvis_r = tilt(c.pelvis_tilt[:, 0], c.pelvis_tilt[:, 1], c.pelvis_tilt[:, 2])
    mid_r = pelvis_r @ tilt(c.spine_bend[:, 0] / 2, c.spine_bend[:, 1] / 2)
    upper_r = pelvis_r @ tilt(c.spine_bend[:, 0], c.spine_bend[:, 1])
    head_r = upper_r @ rot_y(c.head_turn[:, 1]) @ rot_x(c.head_turn[:, 0])

    base = c.pelvis
    joints[:, SPINE_BASE] = base
    joints[:, SPINE_MID] = base + apply(mid_r, np.array([0.0, shape.spine_lower, 0.0]))
    top = joints[:, SPINE_MID] + apply(upper_r, np.array([0.0, shape.spine_upper, 0.0]))
    joints[:, SPINE_SHOULDER] = top
    joints[:, NECK] = top + apply(upper_r, np.array([0.0, shape.neck, 0.01]))
    joints[:, HEAD] = joints[:, NECK] + apply(head_r, np.array([0.0, shape.head, 0.02]))

    hand_axes = np.zeros((frames, 2, 3, 3))
    for side in SIDES:
        sign = SIDE_SIGN[side]
        shoulder = top + apply(
            upper_r, np.array([sign * shape.shoulder_half_width, -shape.shoulder_drop, -0.01])
        )
        target = top + apply(upper_r, c.wrist[:, side])
        pole = apply(upper_r, c.elbow_pole[:, side])
        elbow, wrist = two_bone(shoulder, target, shape.upper_arm, shape.forearm, pole)
        joints[:, SHOULDER[side]], joints[:, ELBOW[side]], joints[:, WRIST[side]] = shoulder, elbow, wrist

        forearm = normalized(wrist - elbow)
        thumb_wish = apply(upper_r, c.thumb[:, side])
        thumb = thumb_wish - np.sum(thumb_wish * forearm, -1, keepdims=True) * forearm
        thumb = np.where(np.linalg.norm(thumb, axis=-1, keepdims=True) < 1e-6, pole, thumb)
        thumb = normalized(thumb - np.sum(thumb * forearm, -1, keepdims=True) * forearm)
        palm = sign * np.cross(forearm, thumb)
        f = c.flex[:, side][:, None]
        fingers = np.cos(f) * forearm + np.sin(f) * palm
        palm = np.cos(f) * palm - np.sin(f) * forearm
        hand = wrist + shape.hand * fingers
        curl = c.grip[:, side][:, None]
        # A fist: the finger tips fold back towards the palm.
        tip_direction = normalized((1 - curl) * fingers + curl * (0.3 * fingers + 0.9 * palm))
        joints[:, HAND[side]] = hand
        joints[:, HAND_TIP[side]] = hand + shape.fingers * (1 - 0.45 * curl) * tip_direction
        joints[:, THUMB[side]] = (
            wrist + 0.5 * shape.hand * fingers + shape.thumb * normalized(thumb + 0.6 * fingers)
        )
        hand_axes[:, side] = np.stack([fingers, normalized(thumb_wish), palm], axis=-1)

        hip = base + apply(pelvis_r, np.array([sign * shape.hip_half_width, -shape.hip_drop, 0.0]))
        knee_pole = apply(pelvis_r, c.knee_pole[:, side])
        knee, ankle = two_bone(hip, c.ankle[:, side], shape.thigh, shape.shin, knee_pole)
        joints[:, HIP[side]], joints[:, KNEE[side]], joints[:, ANKLE[side]] = hip, knee, ankle
        shin = normalized(ankle - knee)
        # The foot points where the knee does, at a right angle to the shin, a little down.
        toe = knee_pole - np.sum(knee_pole * shin, -1, keepdims=True) * shin
        joints[:, FOOT[side]] = ankle + shape.foot * normalized(normalized(toe) + 0.25 * shin)

    return Kinematics(
        joints=joints,
        upper_axes=upper_r,
        pelvis_axes=pelvis_r,
        head_axes=head_r,
        hand_axes=hand_axes,
    )


# ------------------------------------------------------------------------------------------ postures


@dataclass(frozen=True)
class Postures:
    """Named control values for one body: where the wrists go for each basic posture, and the stance.

    Wrist targets are in `upper` relative to SpineShoulder, for the LEFT arm; `mirror` turns them
    (x -> -x) for the right arm.
    """

    shape: BodyShape
    seat_height: float = 0.46  # of the chair this person sits on (if any)

    def mirror(self, vector: np.ndarray, side: int) -> np.ndarray:
        v = np.array(vector, dtype=np.float64)
        v[..., 0] *= SIDE_SIGN[side]
        return v

    # --- arms (left-arm values; pass through `mirror`) ----------------------------------------------
    def hang(self) -> np.ndarray:
        s = self.shape
        return np.array([s.shoulder_half_width + 0.03, -s.shoulder_drop - 0.965 * s.arm, -0.01])

    def hold_front(self) -> np.ndarray:
        """Forearm forward at the waist, as when holding a cup or a phone ready."""
        s = self.shape
        return np.array([s.shoulder_half_width - 0.02, -s.upper_arm * 0.98, s.forearm * 0.9])

    def hand_on_hip(self) -> np.ndarray:
        s = self.shape
        return np.array([s.hip_half_width + 0.1, -(s.spine_upper + s.spine_lower) + 0.06, -0.03])

    def behind_back(self) -> np.ndarray:
        s = self.shape
        return np.array([0.04, -(s.spine_upper + s.spine_lower) + 0.02, -0.17])

    def mouth(self) -> np.ndarray:
        """The wrist a forearm's tilt in front of the mouth: the hand (and a cup's rim, or a phone held to
        speak into) at the lips."""
        s = self.shape
        return np.array([0.03, s.neck + 0.3 * s.head, 2.0 * s.head])

    def ear(self) -> np.ndarray:
        """Beside the ear, the wrist below it (a phone held to the ear)."""
        s = self.shape
        return np.array([0.1, s.neck + 0.45 * s.head, 0.03])

    def wave(self) -> np.ndarray:
        s = self.shape
        return np.array([s.shoulder_half_width + 0.14, 0.22, 0.12])

    def on_thigh(self) -> np.ndarray:
        """Seated, hand resting on the thigh (upper frame of an upright seated body)."""
        s = self.shape
        return np.array([s.hip_half_width + 0.02, -(s.spine_upper + s.spine_lower) + 0.1, 0.3])

    # --- poles and thumbs ------------------------------------------------------------------------
    @staticmethod
    def pole_down() -> np.ndarray:
        return np.array([0.35, -1.0, -0.45])

    @staticmethod
    def pole_out() -> np.ndarray:
        return np.array([1.0, -0.7, -0.1])

    @staticmethod
    def pole_to_face() -> np.ndarray:
        return np.array([0.55, -1.0, 0.2])

    @staticmethod
    def thumb_forward() -> np.ndarray:
        return np.array([0.0, 0.0, 1.0])

    @staticmethod
    def thumb_up() -> np.ndarray:
        return np.array([0.0, 1.0, 0.0])

    @staticmethod
    def thumb_in() -> np.ndarray:
        """Thumb towards the midline: an open palm facing forward when the forearm is vertical."""
        return np.array([-1.0, 0.0, 0.0])

    # --- stance ----------------------------------------------------------------------------------
    def standing_pelvis(self) -> np.ndarray:
        return np.array([0.0, self.shape.standing_pelvis_height, 0.0])

    def standing_ankle(self, side: int) -> np.ndarray:
        s = self.shape
        return np.array([SIDE_SIGN[side] * (s.hip_half_width + 0.02), s.ankle_height, -0.02])

    def seated_pelvis(self) -> np.ndarray:
        """SpineBase of a person sitting upright on a seat `seat_height` m high, its front edge at
        z = CHAIR_FRONT_Z: the thighs level, the knees just past the edge."""
        s = self.shape
        return np.array([0.0, self.seat_height + 0.09, CHAIR_FRONT_Z + 0.06 - 0.97 * s.thigh])

    def seated_ankle(self, side: int) -> np.ndarray:
        s = self.shape
        return np.array([SIDE_SIGN[side] * (s.hip_half_width + 0.05), s.ankle_height, CHAIR_FRONT_Z + 0.13])

    def standing_start(self) -> dict[str, np.ndarray]:
        """Channel values of a person standing relaxed, arms hanging."""
        return {
            "pelvis": self.standing_pelvis(),
            "pelvis_tilt": np.zeros(3),
            "spine_bend": np.zeros(2),
            "head_turn": np.zeros(2),
            "wrist": np.stack([self.mirror(self.hang(), side) for side in SIDES]),
            "elbow_pole": np.stack([self.mirror(self.pole_down(), side) for side in SIDES]),
            "thumb": np.stack([self.thumb_forward()] * 2),
            "flex": np.zeros(2),
            "grip": np.full(2, 0.3),
            "ankle": np.stack([self.standing_ankle(side) for side in SIDES]),
            "knee_pole": np.stack([self.mirror(np.array([0.12, 0.0, 1.0]), side) for side in SIDES]),
        }

    def seated_start(self) -> dict[str, np.ndarray]:
        start = self.standing_start()
        start["pelvis"] = self.seated_pelvis()
        start["wrist"] = np.stack([self.mirror(self.on_thigh(), side) for side in SIDES])
        start["elbow_pole"] = np.stack([self.mirror(np.array([0.6, -1.0, -0.2]), side) for side in SIDES])
        start["thumb"] = np.stack([self.thumb_forward()] * 2)
        start["ankle"] = np.stack([self.seated_ankle(side) for side in SIDES])
        start["spine_bend"] = np.array([-0.05, 0.0])
        return start
