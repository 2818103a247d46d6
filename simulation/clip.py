"""Generated clips: one person performing one action class in front of a simulated Kinect.

    rng --> body (height 1.50-1.95 m, proportions), look (skin, clothes), the free hand's idle posture
            and held object, speed, idle time before and after
        --> choreography (actions.py) --> pose controls (T) + sway --> kinematics, `local` frame
        --> placement: sensor height 0.6-1.8 m and tilt, person 1.5-4.5 m away, off-centre, facing
            -50..50 deg from the sensor; drawn again until every joint of every frame is in the image
        --> camera space --> tracker (tracker.py): reported joints, states, dropouts
        --> colour pixels of the reported joints (what the SDK's mapper returns)
        --> frames: drawn lazily from the TRUE pose (figure.py), so the video shows the real body and
            the skeleton carries the sensor's errors, as with a real Kinect

Everything is drawn from sub-generators spawned from the caller's rng, so a clip depends only on
(class, rng state, config), and the video of a clip does not depend on which frames are read first.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.camera import DEFAULT_CAMERA, LOW_LIGHT_FPS, ColorCamera
from core.timeline import Interval
from simulation.actions import CLASSES, ActionClass, ObjectKind, Stance
from simulation.appearance import HeldObject, Lighting, Look
from simulation.figure import Figure, draw_figure, make_figure
from simulation.idle import ArmIdle, idle, idle_arm_start
from simulation.motion import (
    CHAIR_FRONT_Z,
    HEAD,
    SIDES,
    BodyShape,
    Choreography,
    Kinematics,
    Postures,
    Sway,
    pose_body,
    rot_y,
)
from simulation.noise import NoiseBank
from simulation.room import Chair, Room, SensorPose, paint_background
from simulation.tracker import TrackerModel, track

RENDER_SIZE = (640, 360)
# Clips are drawn at a third of the Kinect's 1920x1080 (drawing full size costs ~9x more and the part crops
# are small anyway): a 0.3 m hand box spans 70 px at 1.5 m and 23 px at 4.5 m here. The skeleton's colour
# pixels are given in this image; pass SimulationConfig(camera=DEFAULT_CAMERA.scaled(960, 540)) for more.
RENDER_CAMERA = DEFAULT_CAMERA.scaled(*RENDER_SIZE)
# Half of the depth camera's 70.6 deg horizontal field of view: the tracker only sees bodies inside it.
DEPTH_HALF_FOV = math.radians(35.3)


@dataclass(frozen=True)
class SimulationConfig:
    """Ranges the generator draws from. Angles in degrees, lengths in metres, times in seconds."""

    camera: ColorCamera = RENDER_CAMERA
    fps: float = 30.0
    distance_m: tuple[float, float] = (1.5, 4.5)
    off_centre: float = 0.6  # fraction of the depth camera's half-width at the person's distance
    facing_deg: tuple[float, float] = (-50.0, 50.0)  # 0 = facing the sensor
    sensor_height_m: tuple[float, float] = (0.6, 1.8)
    tilt_jitter_deg: float = 6.0  # around aiming at the person's middle
    height_m: tuple[float, float] = (1.50, 1.95)
    speed: tuple[float, float] = (0.75, 1.35)  # duration multiplier
    idle_s: tuple[float, float] = (0.2, 0.8)  # still before and after the action
    seated_probability: float = 0.25  # one-hand actions performed sitting on a chair
    distractor_probability: float = 0.35  # the free hand holds a cup or phone it does not use
    spare_chair_probability: float = 0.3  # a chair nearby that nobody uses
    low_light_probability: float = 0.0  # clip at 15 fps, dark and noisy
    tracker: TrackerModel = field(default_factory=TrackerModel)
    margin_px: float = 2.0  # every joint at least this far inside the image
    placement_tries: int = 200

    def __post_init__(self) -> None:
        for name in ("distance_m", "facing_deg", "sensor_height_m", "height_m", "speed", "idle_s"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"SimulationConfig.{name}: expected (low, high), got {(low, high)}")
        if self.distance_m[0] < 0.5 or self.fps <= 0:
            raise ValueError(f"invalid simulation config {self}")


@dataclass(frozen=True)
class Placement:
    """Where a person stands (room x, z), which way they face, and the sensor's pose."""

    x: float
    z: float
    heading: float  # radians; the person faces the sensor at heading = atan2(x, z)
    sensor: SensorPose

    def local_to_camera(self, frames: int) -> tuple[np.ndarray, np.ndarray]:
        """(rotation (T, 3, 3), translation (T, 3)) taking `local` points to camera space."""
        to_room = rot_y(np.full(frames, self.heading)) @ np.diag([-1.0, 1.0, -1.0])
        rotation = self.sensor.rotation @ to_room
        translation = np.broadcast_to(
            self.sensor.rotation @ (np.array([self.x, 0.0, self.z]) - self.sensor.origin), (frames, 3)
        )
        return rotation, translation

    def local_point_to_room(self, point: np.ndarray) -> np.ndarray:
        to_room = rot_y(np.array(self.heading)) @ np.diag([-1.0, 1.0, -1.0])
        return to_room @ point + np.array([self.x, 0.0, self.z])


class ClipFrames(Sequence[np.ndarray]):
    """The colour frames of a clip, drawn when read: frames[i] is BGR uint8 (H, W, 3)."""

    def __init__(
        self,
        background: np.ndarray,
        figures: list[Figure],
        camera: ColorCamera,
        lighting: Lighting,
        noise: NoiseBank,
    ) -> None:
        self.background = background
        self.figures = figures
        self.camera = camera
        self.lighting = lighting
        self.noise = noise
        self._length = figures[0].num_frames if figures else 0

    def __len__(self) -> int:
        return self._length

    def __getitem__(self, index: int) -> np.ndarray:  # type: ignore[override]
        if not -self._length <= index < self._length:
            raise IndexError(f"frame {index} of a {self._length}-frame clip")
        index %= self._length
        image = self.background.copy()
        order = sorted(self.figures, key=lambda f: -float(f.kinematics.joints[index, :, 2].mean()))
        for figure in order:
            draw_figure(image, figure, index, self.camera, self.lighting)
        self.noise.apply(image, index)
        return image

    def __iter__(self) -> Iterator[np.ndarray]:
        for index in range(self._length):
            yield self[index]


@dataclass
class SimClip:
    """A generated clip in the shapes the rest of the project uses (M = 1 body)."""

    label: int  # index into CLASSES
    timestamps: np.ndarray  # float64 (T,) seconds, 1/fps apart
    joints: np.ndarray  # float32 (T, 1, 25, 3) camera metres as the sensor reports them; zeros where absent
    states: np.ndarray  # int8 (T, 1, 25); 0 where absent
    joints_color: (
        np.ndarray
    )  # float32 (T, 1, 25, 2) pixels of `frames` (camera.project of `joints`); NaN absent
    present: np.ndarray  # bool (T, 1)
    body_ids: np.ndarray  # uint64 (1,) the Kinect-style tracking id
    true_joints: np.ndarray  # float32 (T, 1, 25, 3) the pose that was drawn
    frames: ClipFrames
    camera: ColorCamera  # the camera of `frames` and `joints_color`
    fps: float
    low_light: bool
    held: tuple[ObjectKind | None, ObjectKind | None]  # what the left / right hand holds
    details: dict[str, float | int | str] = field(default_factory=dict)  # placement etc., for sidecars

    @property
    def action(self) -> ActionClass:
        return CLASSES[self.label]

    @property
    def num_frames(self) -> int:
        return len(self.timestamps)

    @property
    def action_interval(self) -> Interval:
        """When the action happens, in seconds from the first frame (idle time before and after it)."""
        return Interval(float(self.details["action_start_s"]), float(self.details["action_end_s"]),
                        self.action.name)


# ------------------------------------------------------------------------------------- the generator


def _idle_style(rng: np.random.Generator, config: SimulationConfig) -> tuple[ArmIdle, ObjectKind | None]:
    if rng.random() < config.distractor_probability:
        return ArmIdle.HOLD, (ObjectKind.CUP if rng.random() < 0.5 else ObjectKind.PHONE)
    style = rng.choice([ArmIdle.HANG, ArmIdle.HIP, ArmIdle.BEHIND, ArmIdle.HOLD], p=[0.55, 0.2, 0.1, 0.15])
    return ArmIdle(style), None


def perform(
    action: ActionClass,
    body: Postures,
    rng: np.random.Generator,
    config: SimulationConfig,
    seated: bool,
    held: list[ObjectKind | None],
) -> tuple[Choreography, float, float]:
    """Choreograph one clip of `action`: (choreography, action start, action end) in seconds.

    `held` (per side) is filled in: the acting hand's object and any distractor in the free hand."""
    start = body.seated_start() if seated else body.standing_start()
    free_sides = [s for s in SIDES if s != action.acting_side]
    if action.acting_side is not None:
        side = action.acting_side
        held[side] = action.held
        idle_arm_start(body, side, ArmIdle.HOLD if action.held else ArmIdle.HANG, start)
        style, distractor = _idle_style(rng, config)
        if not seated or style is not ArmIdle.BEHIND:
            idle_arm_start(body, free_sides[0], style, start)
        held[free_sides[0]] = distractor
    else:
        # Whole-body actions move both arms themselves; one hand may still carry something.
        if rng.random() < config.distractor_probability:
            side = int(rng.integers(0, 2))
            held[side] = ObjectKind.CUP if rng.random() < 0.5 else ObjectKind.PHONE
            if not seated:
                idle_arm_start(body, side, ArmIdle.HOLD, start)
    choreography = Choreography(start)
    speed = rng.uniform(*config.speed)
    begin = idle(choreography, body, 0.0, rng.uniform(*config.idle_s), rng)
    end = action.script(choreography, body, begin, rng, speed)
    idle(choreography, body, end, rng.uniform(*config.idle_s), rng)
    return choreography, begin, end


def place(
    local_joints: np.ndarray, rng: np.random.Generator, config: SimulationConfig, shape: BodyShape
) -> Placement:
    """A placement that keeps every joint (and the top of the head) inside the image in every frame.
    Draws up to `placement_tries` placements; the last resort is the one whose joints come closest to
    fitting. Distances are drawn from `distance_m`, but a standing adult does not fit the colour
    camera's 54 deg vertical view closer than ~2 m, so near placements are mostly redrawn."""
    camera = config.camera
    frames = len(local_joints)
    head_top = local_joints[:, HEAD] + np.array([0.0, shape.head_radius, 0.0])
    points = np.concatenate([local_joints, head_top[:, None]], axis=1)
    best: tuple[float, Placement] | None = None
    for _ in range(config.placement_tries):
        distance = rng.uniform(*config.distance_m)
        x = rng.uniform(-1, 1) * config.off_centre * distance * math.tan(DEPTH_HALF_FOV)
        z = math.sqrt(max(distance**2 - x**2, 0.25))
        height = rng.uniform(*config.sensor_height_m)
        aim = math.atan2(height - 0.95, distance)
        tilt = aim + math.radians(rng.uniform(-config.tilt_jitter_deg, config.tilt_jitter_deg))
        heading = math.atan2(x, z) + math.radians(rng.uniform(*config.facing_deg))
        placement = Placement(x, z, heading, SensorPose(height, tilt))
        rotation, translation = placement.local_to_camera(frames)
        camera_points = np.einsum("tij,tkj->tki", rotation, points) + translation[:, None]
        uv, valid = camera.project(camera_points)
        m = config.margin_px
        outside = np.concatenate(
            [
                (m - uv[..., 0]).ravel(),
                (uv[..., 0] - (camera.width - 1 - m)).ravel(),
                (m - uv[..., 1]).ravel(),
                (uv[..., 1] - (camera.height - 1 - m)).ravel(),
            ]
        )
        outside = np.nan_to_num(outside, nan=1e6)
        excess = float(np.maximum(outside, 0.0).sum()) + 1e6 * float((~valid).sum())
        if best is None or excess < best[0]:
            best = (excess, placement)
        if excess == 0.0:
            break
    assert best is not None
    return best[1]


def generate_clip(
    class_index: int, rng: np.random.Generator, config: SimulationConfig | None = None
) -> SimClip:
    """One clip of CLASSES[class_index], deterministic given the rng's state and the config."""
    config = config or SimulationConfig()
    if not 0 <= class_index < len(CLASSES):
        raise ValueError(f"class index {class_index} out of range 0..{len(CLASSES) - 1}")
    action = CLASSES[class_index]
    body_rng, motion_rng, place_rng, tracker_rng, render_rng = (
        np.random.default_rng(seed) for seed in rng.integers(0, 2**63, size=5)
    )
    shape = BodyShape.random(body_rng, config.height_m)
    look = Look.random(body_rng)
    low_light = bool(body_rng.random() < config.low_light_probability)
    fps = LOW_LIGHT_FPS if low_light else config.fps
    seat_height = float(body_rng.uniform(0.42, 0.5))
    body = Postures(shape, seat_height)

    seated = action.starts is Stance.SEATED or (
        action.acting_side is not None and motion_rng.random() < config.seated_probability
    )
    held: list[ObjectKind | None] = [None, None]
    choreography, begin, end = perform(action, body, motion_rng, config, seated, held)
    count = int(math.ceil(choreography.end_time * fps)) + 1
    timestamps = np.arange(count, dtype=np.float64) / fps
    controls = choreography.evaluate(timestamps)
    Sway.random(motion_rng).apply(controls, timestamps)
    local = pose_body(shape, controls)

    placement = place(local.joints, place_rng, config, shape)
    rotation, translation = placement.local_to_camera(count)
    kinematics = local.transformed(rotation, translation)
    lying = kinematics.upper_axes[:, :, 1] @ placement.sensor.floor_normal() < 0.5
    reported, states, present = track(kinematics.joints, tracker_rng, fps, config.tracker, lying)
    uv, valid = config.camera.project(reported)
    uv[~valid] = np.nan
    reported[~present] = 0.0
    states[~present] = 0
    uv[~present] = np.nan

    frames = _clip_frames(
        action, seated, placement, body, look, held, kinematics, config, low_light, render_rng
    )
    body_id = np.array([72057594037927936 + int(tracker_rng.integers(0, 2**20))], np.uint64)
    return SimClip(
        label=class_index,
        timestamps=timestamps,
        joints=reported[:, None],
        states=states[:, None],
        joints_color=uv[:, None].astype(np.float32),
        present=present[:, None],
        body_ids=body_id,
        true_joints=kinematics.joints[:, None].astype(np.float32),
        frames=frames,
        camera=config.camera,
        fps=fps,
        low_light=low_light,
        held=(held[0], held[1]),
        details={
            "action": action.name,
            "focus": action.focus,
            "distance_m": round(math.hypot(placement.x, placement.z), 3),
            "facing_deg": round(math.degrees(placement.heading - math.atan2(placement.x, placement.z)), 1),
            "sensor_height_m": round(placement.sensor.height, 3),
            "sensor_tilt_deg": round(math.degrees(placement.sensor.tilt), 2),
            "person_height_m": round(shape.height, 3),
            "seated": int(seated),
            "action_start_s": round(begin, 3),
            "action_end_s": round(end, 3),
        },
    )


def _clip_frames(
    action: ActionClass,
    seated: bool,
    placement: Placement,
    body: Postures,
    look: Look,
    held: list[ObjectKind | None],
    kinematics: Kinematics,
    config: SimulationConfig,
    low_light: bool,
    rng: np.random.Generator,
) -> ClipFrames:
    room = Room.random(rng)
    chairs = []
    chair_color = tuple(int(c) for c in rng.integers(30, 200, 3))
    if seated or action.ends is Stance.SEATED:
        front = placement.local_point_to_room(np.array([0.0, 0.0, CHAIR_FRONT_Z]))
        chairs.append(
            Chair(float(front[0]), float(front[2]), placement.heading, body.seat_height, chair_color)
        )
    elif rng.random() < config.spare_chair_probability:
        side = 1.0 if rng.random() < 0.5 else -1.0
        spot = placement.local_point_to_room(
            np.array([side * rng.uniform(0.9, 1.4), 0.0, rng.uniform(-0.6, 0.2)])
        )
        chairs.append(
            Chair(
                float(spot[0]),
                float(spot[2]),
                placement.heading + rng.uniform(-1.0, 1.0),
                float(rng.uniform(0.42, 0.5)),
                chair_color,
            )
        )  # type: ignore[arg-type]
    room = replace(room, chairs=tuple(chairs))
    lighting = Lighting.random(rng, low_light)
    background = paint_background(room, placement.sensor, config.camera, lighting, rng)
    objects = tuple(None if kind is None else HeldObject.random(kind, rng) for kind in held)
    figure = make_figure(look, kinematics, objects, config.camera, placement.sensor)  # type: ignore[arg-type]
    noise = NoiseBank(config.camera.height, config.camera.width, lighting.noise_sigma, rng)
    return ClipFrames(background, [figure], config.camera, lighting, noise)
