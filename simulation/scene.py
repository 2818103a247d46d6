"""An endless simulated room: one to three people come in, go about the room, act now and then, and leave.

    SimulatedScene(seed) --next_frame()--> core.frame.Frame, timestamps exactly index / fps
        30 fps, or 15 fps and a dark, noisy image with low_light=True (the Kinect's colour camera drops to
        15 fps in the dark; here the skeletons do too, where the Kinect's stay at 30)

    the room     sensor height and tilt, walls and posters, spots where people stand (half of them with
                 a chair), drawn once (room.py)
    each person  a plan of segments (person.py): walk in, idle time (idle.py: fidgets, held cups and
                 phones, talking to somebody nearby), walks across the room, actions, walk out
        each segment is posed, tracked (tracker.py) and projected in one go when it begins, and
        drawn frame by frame over the room, the farthest person first (figure.py)
    bodies are reported while their SpineMid is inside the depth camera's field of view (+-35 deg,
    0.5-4.5 m; a limb beyond it stays tracked where it is), each with a tracking id that lasts while it
    stays in view, a new one when they come back into it, as the Kinect gives; unlike the Kinect, a body
    missing for a few frames in view comes back under the same id
    `actions` names the classes people perform (default: simulation.actions.CLASSES, the ten the demo
    model knows; an EXTRA_CLASSES name, e.g. "raise_both_arms", only when named)
    ground truth: every body carries it (`Body.truth`: the action class while one is performed, from
    its first keyframe to its last, else no_action); `truth()` gives every person's state
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace

import numpy as np

from core.camera import LOW_LIGHT_FPS, ColorCamera
from core.frame import Body, Frame
from core.timeline import NO_ACTION
from simulation.actions import CLASSES, ActionClass, Stance, action_by_name
from simulation.appearance import Lighting
from simulation.clip import DEPTH_HALF_FOV, Placement, SimulationConfig
from simulation.figure import Figure, draw_figure, make_figure
from simulation.motion import CHAIR_FRONT_Z, SPINE_MID, pose_body, rot_y
from simulation.noise import NoiseBank
from simulation.person import Floor, Motion, Person, Spot, Whereabouts
from simulation.room import Chair, Room, SensorPose, paint_background
from simulation.tracker import track

MAX_RANGE_M = 4.5
MIN_RANGE_M = 0.5


@dataclass(frozen=True)
class PersonTruth:
    """Ground truth for one person in the room at the last frame."""

    person: int  # scene-wide person number (1, 2, ...)
    tracking_id: int | None  # the id of their Body in the frame, None while the sensor does not report them
    action: str | None  # CLASSES name of the action being performed, None otherwise
    activity: str  # "walking", "idle", "talking", "action", "getting up"
    position: tuple[float, float]  # room (x, z) metres
    holding: tuple[str | None, str | None] = (None, None)  # what the left / right hand holds ("cup", "phone")


@dataclass
class _Segment:
    """A stretch of one person's timeline, precomputed for all its frames."""

    first: int  # scene frame index of frame 0
    figure: Figure | None
    reported: np.ndarray  # (T, 25, 3) camera space
    states: np.ndarray  # (T, 25)
    present: np.ndarray  # (T,)
    joints_color: np.ndarray  # (T, 25, 2)
    root: np.ndarray  # (T, 3): room x, z, heading
    action: list[str | None]  # per frame
    activity: str
    holding: tuple[str | None, str | None]

    @property
    def last(self) -> int:
        return self.first + len(self.present) - 1


@dataclass
class _Visitor:
    person: Person
    segment: _Segment | None = None
    tracking_id: int | None = None


class SimulatedScene:
    """An endless stream of simulated Kinect frames (see the module docstring).

    >>> scene = SimulatedScene(seed=1)
    >>> frame = scene.next_frame()          # core.frame.Frame; frame.color is BGR (360, 640, 3)
    >>> scene.truth()                        # who is there and what they are doing
    """

    def __init__(
        self,
        seed: int = 0,
        fps: float | None = None,
        low_light: bool = False,
        max_people: int = 3,
        config: SimulationConfig | None = None,
        *,
        color: bool = True,
        actions: Sequence[str] | None = None,
    ) -> None:
        if not 1 <= max_people <= 6:
            raise ValueError(f"max_people must be 1..6 (the Kinect tracks six bodies), got {max_people}")
        self.repertoire: tuple[ActionClass, ...] = (
            CLASSES if actions is None else tuple(action_by_name(name) for name in actions)
        )
        if not any(a.starts is Stance.STANDING for a in self.repertoire):
            raise ValueError(f"actions {list(actions or ())}: people arrive standing; name at least one "
                             "action that starts standing")
        sits = any(a.ends is Stance.SEATED for a in self.repertoire)
        if sits and not any(a.starts is Stance.SEATED for a in self.repertoire):
            raise ValueError(f"actions {list(actions or ())}: whoever sits down must be able to stand up "
                             "again; add stand_up")
        self.config = config or SimulationConfig()
        self.fps = float(fps) if fps is not None else (LOW_LIGHT_FPS if low_light else self.config.fps)
        if self.fps <= 0:
            raise ValueError(f"fps must be positive, got {self.fps}")
        self.low_light = low_light
        self.max_people = max_people
        self.color = color
        self.camera: ColorCamera = self.config.camera
        self.color_shape = (self.camera.height, self.camera.width)
        self._rng = np.random.default_rng(seed)
        room_rng, self._people_rng, self._tracker_rng = (
            np.random.default_rng(s) for s in self._rng.integers(0, 2**63, 3)
        )
        height = room_rng.uniform(*self.config.sensor_height_m)
        self.sensor = SensorPose(
            height, math.atan2(height - 0.9, 3.0) + math.radians(room_rng.uniform(-3, 3))
        )
        self.floor = Floor(self._make_spots(room_rng), DEPTH_HALF_FOV)
        room = Room.random(room_rng)
        room = replace(
            room,
            left_wall_x=room_rng.uniform(4.5, 5.5),
            right_wall_x=-room_rng.uniform(4.5, 5.5),
            chairs=tuple(s.chair for s in self.floor.spots if s.chair is not None),
        )
        self.lighting = Lighting.random(room_rng, low_light)
        self.background = (
            paint_background(room, self.sensor, self.camera, self.lighting, room_rng) if color else None
        )
        self.noise = (
            NoiseBank(self.camera.height, self.camera.width, self.lighting.noise_sigma, room_rng)
            if color
            else None
        )
        self._visitors: list[_Visitor] = []
        self._people_count = 0
        self._index = 0
        self._next_arrival = 0
        # Someone is already in the room when the stream starts: a demo shows an action within seconds.
        self._arrive(already_there=True)
        self._schedule_arrival()
        self._next_tracking_id = 72057594037927936 + int(self._people_rng.integers(0, 2**20))
        self._truth: list[PersonTruth] = []

    # ---- setup -------------------------------------------------------------------------------------

    def _make_spots(self, rng: np.random.Generator) -> list[Spot]:
        """One more spot than people, apart from each other, about half of them with a chair (at least
        one: every room has somewhere to sit)."""
        spots: list[Spot] = []
        count = self.max_people + 1
        chairs = rng.random(count) < 0.5
        chairs[int(rng.integers(count))] |= not chairs.any()
        while len(spots) < count:
            for _ in range(200):
                z = rng.uniform(2.2, 4.0)
                x = rng.uniform(-0.65, 0.65) * z * math.tan(DEPTH_HALF_FOV)
                if all(math.hypot(x - s.x, z - s.z) > 1.2 for s in spots):
                    break
            heading = math.atan2(x, z) + math.radians(rng.uniform(-30, 30))
            chair = None
            if chairs[len(spots)]:
                front = Placement(x, z, heading, self.sensor).local_point_to_room(
                    np.array([0.0, 0.0, CHAIR_FRONT_Z])
                )
                color = tuple(int(c) for c in rng.integers(30, 200, 3))
                chair = Chair(float(front[0]), float(front[2]), heading, float(rng.uniform(0.42, 0.5)), color)  # type: ignore[arg-type]
            spots.append(Spot(x, z, heading, chair))
        return spots

    # ---- the timeline ------------------------------------------------------------------------------

    def _realise(self, person: Person, first: int, motion: Motion) -> _Segment:
        """Pose, place, track and project a person's segment."""
        root = motion.root
        frames = len(root)
        local = pose_body(person.shape, motion.controls)
        to_room = rot_y(root[:, 2]) @ np.diag([-1.0, 1.0, -1.0])
        rotation = self.sensor.rotation @ to_room
        ground = np.stack([root[:, 0], np.zeros(frames), root[:, 1]], 1)
        translation = (ground - self.sensor.origin) @ self.sensor.rotation.T
        kinematics = local.transformed(rotation, translation)
        lying = kinematics.upper_axes[:, :, 1] @ self.sensor.floor_normal() < 0.5
        reported, states, present = track(
            kinematics.joints, self._tracker_rng, self.fps, self.config.tracker, lying
        )
        uv, valid = self.camera.project(reported)
        uv[~valid] = np.nan
        figure = None
        if self.color:
            figure = make_figure(person.look, kinematics, motion.held, self.camera, self.sensor)
        holding = tuple(None if item is None else item.kind.value for item in motion.held)
        return _Segment(
            first, figure, reported, states, present, uv, root, motion.action, motion.activity, holding  # type: ignore[arg-type]
        )

    def _arrive(self, already_there: bool = False) -> None:
        free = self.floor.free_spots()
        if not free:
            return
        spot = free[int(self._people_rng.integers(len(free)))]
        spot.taken = True
        self._people_count += 1
        person_rng = np.random.default_rng(self._people_rng.integers(0, 2**63))
        person = Person(
            self._people_count,
            spot,
            self.floor,
            person_rng,
            self.fps,
            height_m=self.config.height_m,
            speed=self.config.speed,
            repertoire=self.repertoire,
            already_there=already_there,
        )
        self._visitors.append(_Visitor(person))

    def _schedule_arrival(self) -> None:
        mean_s = 2.0 if not self._visitors else 7.0
        self._next_arrival = self._index + int(round(self._people_rng.exponential(mean_s) * self.fps)) + 1

    def next_frame(self, draw: bool = True) -> Frame:
        """The next frame: timestamp index / fps, the room's colour image, the bodies the sensor reports.

        draw=False leaves the image out (color None) for a frame nobody will look at; everything else,
        bodies and ground truth included, is the same as drawn (training cuts crops at 10 of 30 fps)."""
        index = self._index
        if index >= self._next_arrival:
            if len(self._visitors) < self.max_people:
                self._arrive()
            self._schedule_arrival()
        image = self.background.copy() if self.background is not None and draw else None
        drawn: list[tuple[float, Figure, int]] = []
        bodies: list[Body] = []
        truth: list[PersonTruth] = []
        for visitor in list(self._visitors):
            person = visitor.person
            segment = visitor.segment
            while segment is None or segment.last < index:
                motion = person.next_motion(index)
                segment = None if motion is None else self._realise(person, index, motion)
                if segment is None:
                    break
            if segment is None:
                person.release()
                self.floor.whereabouts.pop(person.number, None)
                self._visitors.remove(visitor)
                continue
            visitor.segment = segment
            k = index - segment.first
            spine = segment.reported[k, SPINE_MID]
            in_view = (
                MIN_RANGE_M < spine[2] < MAX_RANGE_M and abs(math.atan2(spine[0], spine[2])) < DEPTH_HALF_FOV
            )
            if in_view and segment.present[k]:
                if visitor.tracking_id is None:
                    visitor.tracking_id = self._next_tracking_id
                    self._next_tracking_id += 1
                bodies.append(
                    Body(
                        visitor.tracking_id,
                        segment.reported[k].copy(),
                        segment.states[k].copy(),
                        segment.joints_color[k].astype(np.float32),
                        truth=segment.action[k] or NO_ACTION,
                    )
                )
            elif not in_view:
                visitor.tracking_id = None  # out of view: a new id when they come back, as the Kinect does
            if segment.figure is not None:
                drawn.append((float(segment.figure.kinematics.joints[k, :, 2].mean()), segment.figure, k))
            position = (float(segment.root[k, 0]), float(segment.root[k, 1]))
            self.floor.whereabouts[person.number] = Whereabouts(
                *position, person.stance, settled=segment.activity != "walking"
            )
            truth.append(
                PersonTruth(
                    person.number,
                    visitor.tracking_id if in_view else None,
                    segment.action[k],
                    segment.activity,
                    position,
                    segment.holding,
                )
            )
        if image is not None:
            for _, figure, k in sorted(drawn, key=lambda d: -d[0]):
                draw_figure(image, figure, k, self.camera, self.lighting)
            assert self.noise is not None
            self.noise.apply(image, index)
        self._truth = truth
        self._index += 1
        return Frame(timestamp=index / self.fps, color=image, bodies=bodies, index=index)

    def __iter__(self) -> Iterator[Frame]:
        while True:
            yield self.next_frame()

    def truth(self) -> list[PersonTruth]:
        """Every person in the room at the last frame, with their current action."""
        return list(self._truth)

    @property
    def time(self) -> float:
        """Timestamp of the next frame."""
        return self._index / self.fps
