"""An endless simulated room: one to three people come in, perform actions between pauses, and leave.

    SimulatedScene(seed) --next_frame()--> core.frame.Frame, timestamps exactly index / fps
        30 fps, or 15 fps and a dark, noisy image with low_light=True (as the Kinect's colour camera)

    each person:  walk in -> turn to face the room -> (idle, action) x 1-4 -> [stand up / get up] -> walk out
        segments are choreographed one at a time, each starting from where the last one ended, and
        tracked (tracker.py) and projected (figure.py) in one go when they begin
    bodies are reported only inside the depth camera's field of view (+-35 deg, 0.5-4.5 m), each with a
    tracking id that lasts while it stays in view, as the Kinect does
    `truth()` gives every person's current action (ground truth for demos and tests)

The room (walls, posters, chairs at the spots where people may sit) is drawn once; people are drawn
over it every frame, the farthest first.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from core.camera import ColorCamera
from core.frame import Body, Frame
from core.timeline import NO_ACTION
from simulation.actions import CLASSES, ArmIdle, Stance, idle, idle_arm_start
from simulation.appearance import HeldObject, Lighting, Look
from simulation.clip import DEPTH_HALF_FOV, LOW_LIGHT_FPS, Placement, SimulationConfig
from simulation.figure import Figure, draw_figure, make_figure
from simulation.motion import (
    CHAIR_FRONT_Z,
    SIDE_SIGN,
    SIDES,
    SPINE_MID,
    BodyShape,
    Choreography,
    PoseControls,
    Postures,
    Sway,
    pose_body,
    rot_y,
)
from simulation.noise import NoiseBank
from simulation.room import Chair, Room, SensorPose, paint_background
from simulation.tracker import track

MAX_RANGE_M = 4.5
MIN_RANGE_M = 0.5
WALK_SPEED_M_S = (0.9, 1.3)


@dataclass(frozen=True)
class PersonTruth:
    """Ground truth for one person in the room at the last frame."""

    person: int  # scene-wide person number (1, 2, ...)
    tracking_id: int | None  # the id of their Body in the frame, None while the sensor does not report them
    action: str | None  # CLASSES name of the action being performed, None while idle, walking, getting up
    activity: str  # "walking", "idle", "action", "getting up"
    position: tuple[float, float]  # room (x, z) metres


@dataclass
class _Spot:
    x: float
    z: float
    heading: float  # facing the sensor, give or take
    chair: Chair | None
    taken: bool = False


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
    end_values: dict[str, np.ndarray]

    @property
    def last(self) -> int:
        return self.first + len(self.present) - 1


def _end_values(controls: PoseControls) -> dict[str, np.ndarray]:
    return {name: getattr(controls, name)[-1].copy() for name in controls.__dataclass_fields__}


def _heading_towards(dx: float, dz: float) -> float:
    """The heading of a person whose `local` forward points along room (dx, dz)."""
    return math.atan2(-dx, -dz)


def _unwrap_to(angle: float, reference: float) -> float:
    return reference + (angle - reference + math.pi) % (2 * math.pi) - math.pi


class _Person:
    """One visitor: body, looks, and a plan of segments generated one at a time."""

    def __init__(
        self,
        number: int,
        scene: SimulatedScene,
        spot: _Spot,
        rng: np.random.Generator,
        already_there: bool = False,
    ) -> None:
        self.number = number
        self.scene = scene
        self.spot = spot
        self.rng = rng
        self.shape = BodyShape.random(rng, scene.config.height_m)
        self.look = Look.random(rng)
        seat = spot.chair.seat_height if spot.chair is not None else 0.46
        self.body = Postures(self.shape, seat)
        self.sway = Sway.random(rng)
        self.stance = Stance.STANDING
        self.actions_left = int(rng.integers(1, 5))
        self.tracking_id: int | None = None
        side = 1.0 if spot.x > 0 else -1.0
        if rng.random() < 0.25:
            side = -side
        edge = spot.z * math.tan(math.radians(44.0)) + 0.7
        self.entry = (side * edge, spot.z + rng.uniform(-0.3, 0.3))
        self.exit_side = side if rng.random() < 0.6 else -side
        self.segments: list[_Segment] = []
        self._plan: Iterator[Callable[[int, dict[str, np.ndarray], tuple[float, float, float]], _Segment]] = (
            self._timeline()
        )
        self.already_there = already_there  # the first person of a scene starts at their spot
        if already_there:
            self.root = (spot.x, spot.z, spot.heading)
        else:
            self.root = (
                self.entry[0],
                self.entry[1],
                _heading_towards(spot.x - self.entry[0], spot.z - self.entry[1]),
            )
        self.values = self.body.standing_start()
        self.held: tuple[HeldObject | None, HeldObject | None] = (None, None)

    # ---- the plan --------------------------------------------------------------------------------

    def _timeline(
        self,
    ) -> Iterator[Callable[[int, dict[str, np.ndarray], tuple[float, float, float]], _Segment]]:
        rng = self.rng
        if not self.already_there:
            yield lambda first, values, root: self._walk(
                first, values, root, (self.spot.x, self.spot.z), self.spot.heading
            )
        while self.actions_left > 0:
            self.actions_left -= 1
            yield lambda first, values, root: self._idle(first, values, root, rng.uniform(1.0, 3.5))
            yield self._action
            if self.stance is Stance.LYING:
                yield self._get_up
        if self.stance is Stance.SEATED:
            yield lambda first, values, root: self._idle(first, values, root, rng.uniform(0.8, 2.0))
            yield self._action  # the only choice when seated at the end: stand up
        if self.stance is Stance.LYING:
            yield self._get_up
        yield lambda first, values, root: self._idle(first, values, root, rng.uniform(0.5, 1.5))
        exit_x = self.exit_side * (self.spot.z * math.tan(math.radians(44.0)) + 1.2)
        yield lambda first, values, root: self._walk(
            first, values, root, (exit_x, self.spot.z + rng.uniform(-0.5, 0.5)), None
        )

    def next_segment(self, first: int) -> _Segment | None:
        try:
            make = next(self._plan)
        except StopIteration:
            return None  # gone
        segment = make(first, self.values, self.root)
        self.values = segment.end_values
        self.root = tuple(segment.root[-1])  # type: ignore[assignment]
        self.segments.append(segment)
        return segment

    # ---- segments --------------------------------------------------------------------------------

    def _frames(self, duration: float) -> np.ndarray:
        count = max(1, int(round(duration * self.scene.fps)))
        return np.arange(count, dtype=np.float64) / self.scene.fps

    def _finish(
        self,
        first: int,
        choreography: Choreography,
        times: np.ndarray,
        root: np.ndarray,
        action: list[str | None],
        activity: str,
    ) -> _Segment:
        controls = choreography.evaluate(times)
        end_values = _end_values(controls)
        global_times = (first + np.arange(len(times))) / self.scene.fps
        self.sway.apply(controls, global_times)
        return self.scene._realise(self, first, controls, root, action, activity, end_values)

    def _idle_arms(self, choreography: Choreography, t0: float, t1: float) -> None:
        rng = self.rng
        start = self.body.seated_start() if self.stance is Stance.SEATED else self.body.standing_start()
        for side in SIDES:
            if self.held[side] is not None:
                style = ArmIdle.HOLD
            elif self.stance is Stance.SEATED:
                style = ArmIdle.HANG if rng.random() < 0.2 else None
            else:
                style = ArmIdle(rng.choice([ArmIdle.HANG, ArmIdle.HIP, ArmIdle.BEHIND], p=[0.7, 0.2, 0.1]))
            if style is not None:
                idle_arm_start(self.body, side, style, start)
            for name in ("wrist", "elbow_pole", "thumb", "grip"):
                choreography.move(t0, t1, side=side, **{name: start[name][side]})
            choreography.move(t0, t1, side=side, flex=0.0)

    def _idle(
        self, first: int, values: dict[str, np.ndarray], root: tuple[float, float, float], duration: float
    ) -> _Segment:
        choreography = Choreography(values)
        self._idle_arms(choreography, 0.0, 0.6)
        idle(choreography, self.body, 0.0, duration, self.rng)
        times = self._frames(duration)
        return self._finish(
            first, choreography, times, np.tile(root, (len(times), 1)), [None] * len(times), "idle"
        )

    def _walk(
        self,
        first: int,
        values: dict[str, np.ndarray],
        root: tuple[float, float, float],
        goal: tuple[float, float],
        final_heading: float | None,
    ) -> _Segment:
        rng = self.rng
        body = self.body
        x0, z0, heading0 = root
        dx, dz = goal[0] - x0, goal[1] - z0
        distance = math.hypot(dx, dz)
        speed = rng.uniform(*WALK_SPEED_M_S)
        travel = _unwrap_to(_heading_towards(dx, dz), heading0)
        turn_in = 0.5
        walk_s = max(distance / speed, 0.6)
        turn_out = 0.7 if final_heading is not None else 0.0
        duration = turn_in + walk_s + turn_out
        choreography = Choreography(values)
        self.held = (None, None)
        # Legs: alternate steps, ~1.8 steps a second; the swing foot lifts half-way.
        step_s = 1.0 / rng.uniform(1.6, 2.0)
        stride = speed * step_s
        t = turn_in
        lead = int(rng.integers(0, 2))
        steps = max(1, int(round(walk_s / step_s)))
        step_s = walk_s / steps
        for k in range(steps):
            swing, stance = (lead + k) % 2, (lead + k + 1) % 2
            front = body.standing_ankle(swing) + np.array([0.0, 0.0, stride / 2])
            back = body.standing_ankle(stance) + np.array([0.0, 0.0, -stride / 2])
            lift = 0.5 * (body.standing_ankle(swing) + front) + np.array([0.0, 0.09, 0.0])
            choreography.move(t, t + step_s / 2, side=swing, ankle=lift)
            choreography.move(t + step_s / 2, t + step_s, side=swing, ankle=front)
            choreography.move(t, t + step_s, side=stance, ankle=back)
            for side in SIDES:
                swing_arm = 1.0 if side == stance else -1.0  # arms swing against the legs
                choreography.move(
                    t,
                    t + step_s,
                    side=side,
                    wrist=body.mirror(body.hang() + np.array([0.0, 0.02, swing_arm * 0.14]), side),
                    elbow_pole=body.mirror(body.pole_down(), side),
                    thumb=body.thumb_forward(),
                    flex=0.0,
                    grip=0.3,
                )
            pelvis = body.standing_pelvis() + np.array([0.0, -0.015, 0.0])
            choreography.move(
                t,
                t + step_s / 2,
                pelvis=pelvis + np.array([0.0, 0.025, 0.0]),
                spine_bend=np.array([0.06, 0.0]),
            )
            choreography.move(t + step_s / 2, t + step_s, pelvis=pelvis)
            t += step_s
        end = turn_in + walk_s
        for side in SIDES:
            choreography.move(
                end,
                end + 0.4,
                side=side,
                ankle=body.standing_ankle(side),
                wrist=body.mirror(body.hang(), side),
            )
        choreography.move(end, end + 0.4, pelvis=body.standing_pelvis(), spine_bend=np.zeros(2))
        choreography.hold_all(duration)

        times = self._frames(duration)
        progress = np.clip((times - turn_in) / walk_s, 0.0, 1.0)
        heading = np.where(
            times < turn_in, heading0 + (travel - heading0) * np.clip(times / turn_in, 0, 1), travel
        )
        if final_heading is not None:
            final = _unwrap_to(final_heading, travel)
            turning = np.clip((times - turn_in - walk_s) / turn_out, 0.0, 1.0)
            heading = np.where(times > turn_in + walk_s, travel + (final - travel) * turning, heading)
        root = np.stack([x0 + dx * progress, z0 + dz * progress, heading], 1)
        return self._finish(first, choreography, times, root, [None] * len(times), "walking")

    def _choose_action(self) -> int:
        rng = self.rng
        if self.stance is Stance.SEATED:
            if self.actions_left <= 0:
                return CLASSES.index(next(a for a in CLASSES if a.starts is Stance.SEATED))
            options = [
                i for i, a in enumerate(CLASSES) if a.acting_side is not None or a.starts is Stance.SEATED
            ]
        else:
            options = [
                i
                for i, a in enumerate(CLASSES)
                if a.starts is Stance.STANDING
                and (a.ends is not Stance.SEATED or self.spot.chair is not None)
            ]
        return int(rng.choice(options))

    def _action(
        self, first: int, values: dict[str, np.ndarray], root: tuple[float, float, float]
    ) -> _Segment:
        rng = self.rng
        body = self.body
        index = self._choose_action()
        action = CLASSES[index]
        choreography = Choreography(values)
        prepare = 0.0
        held: list[HeldObject | None] = list(self.held)
        if action.acting_side is not None:
            side = action.acting_side
            # Bring the acting arm to where the script starts (a cup or phone appears in the hand).
            start = body.standing_start()
            idle_arm_start(body, side, ArmIdle.HOLD if action.held else ArmIdle.HANG, start)
            prepare = 0.6
            for name in ("wrist", "elbow_pole", "thumb", "grip"):
                choreography.move(0.0, prepare, side=side, **{name: start[name][side]})
            held[side] = None if action.held is None else HeldObject.random(action.held, rng)
        speed = rng.uniform(*self.scene.config.speed)
        end = action.script(choreography, body, prepare, rng, speed)
        after = end + 0.3
        choreography.hold_all(after)
        times = self._frames(after)
        labels: list[str | None] = [action.name if prepare <= t <= end else None for t in times]
        self.stance = action.ends
        self.held = (held[0], held[1])
        segment = self._finish(first, choreography, times, np.tile(root, (len(times), 1)), labels, "action")
        if action.acting_side is not None:
            # Put away after the action: the next segment starts empty-handed on that side.
            self.held = tuple(
                None if side == action.acting_side else item  # type: ignore[assignment]
                for side, item in enumerate(self.held)
            )
        return segment

    def _get_up(
        self, first: int, values: dict[str, np.ndarray], root: tuple[float, float, float]
    ) -> _Segment:
        rng = self.rng
        body, s = self.body, self.shape
        choreography = Choreography(values)
        kneel_s, rise_s = rng.uniform(0.8, 1.2), rng.uniform(0.8, 1.1)
        kneel = np.array([0.0, s.ankle_height + s.thigh + 0.05, 0.1])
        choreography.move(
            0.0,
            kneel_s,
            pelvis=kneel,
            pelvis_tilt=np.array([0.3, 0.0, 0.0]),
            spine_bend=np.array([0.3, 0.0]),
            head_turn=np.zeros(2),
        )
        for side in SIDES:
            choreography.move(
                0.0,
                kneel_s,
                side=side,
                ankle=np.array([SIDE_SIGN[side] * (s.hip_half_width + 0.05), s.ankle_height, -0.35]),
                wrist=body.mirror(body.hold_front() + np.array([0.0, -0.1, 0.1]), side),
            )
            choreography.move(
                kneel_s,
                kneel_s + rise_s,
                side=side,
                ankle=body.standing_ankle(side),
                wrist=body.mirror(body.hang(), side),
                elbow_pole=body.mirror(body.pole_down(), side),
            )
        choreography.move(
            kneel_s,
            kneel_s + rise_s,
            pelvis=body.standing_pelvis(),
            pelvis_tilt=np.zeros(3),
            spine_bend=np.zeros(2),
        )
        duration = kneel_s + rise_s + 0.2
        choreography.hold_all(duration)
        self.stance = Stance.STANDING
        times = self._frames(duration)
        return self._finish(
            first, choreography, times, np.tile(root, (len(times), 1)), [None] * len(times), "getting up"
        )


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
    ) -> None:
        if not 1 <= max_people <= 6:
            raise ValueError(f"max_people must be 1..6 (the Kinect tracks six bodies), got {max_people}")
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
        self._spots = self._make_spots(room_rng)
        room = Room.random(room_rng)
        room = replace(
            room,
            left_wall_x=room_rng.uniform(4.5, 5.5),
            right_wall_x=-room_rng.uniform(4.5, 5.5),
            chairs=tuple(s.chair for s in self._spots if s.chair is not None),
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
        self._people: list[_Person] = []
        self._people_count = 0
        self._index = 0
        self._next_arrival = 0
        # Someone is already in the room when the stream starts: a demo shows an action within seconds.
        self._arrive(already_there=True)
        self._schedule_arrival()
        self._next_tracking_id = 72057594037927936 + int(self._people_rng.integers(0, 2**20))
        self._truth: list[PersonTruth] = []

    # ---- setup -------------------------------------------------------------------------------------

    def _make_spots(self, rng: np.random.Generator) -> list[_Spot]:
        spots: list[_Spot] = []
        while len(spots) < self.max_people + 1:
            for _ in range(200):
                z = rng.uniform(2.2, 4.0)
                x = rng.uniform(-0.65, 0.65) * z * math.tan(DEPTH_HALF_FOV)
                if all(math.hypot(x - s.x, z - s.z) > 1.2 for s in spots):
                    break
            heading = math.atan2(x, z) + math.radians(rng.uniform(-30, 30))
            chair = None
            if rng.random() < 0.5:
                front = Placement(x, z, heading, self.sensor).local_point_to_room(
                    np.array([0.0, 0.0, CHAIR_FRONT_Z])
                )
                color = tuple(int(c) for c in rng.integers(30, 200, 3))
                chair = Chair(float(front[0]), float(front[2]), heading, float(rng.uniform(0.42, 0.5)), color)  # type: ignore[arg-type]
            spots.append(_Spot(x, z, heading, chair))
        return spots

    # ---- the timeline ------------------------------------------------------------------------------

    def _realise(
        self,
        person: _Person,
        first: int,
        controls: PoseControls,
        root: np.ndarray,
        action: list[str | None],
        activity: str,
        end_values: dict[str, np.ndarray],
    ) -> _Segment:
        """Pose, place, track and project a person's segment."""
        frames = len(root)
        local = pose_body(person.shape, controls)
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
        figure = (
            make_figure(person.look, kinematics, person.held, self.camera, self.sensor)
            if self.color
            else None
        )
        return _Segment(first, figure, reported, states, present, uv, root, action, activity, end_values)

    def _arrive(self, already_there: bool = False) -> None:
        free = [s for s in self._spots if not s.taken]
        if not free:
            return
        spot = free[int(self._people_rng.integers(len(free)))]
        spot.taken = True
        self._people_count += 1
        person_rng = np.random.default_rng(self._people_rng.integers(0, 2**63))
        self._people.append(_Person(self._people_count, self, spot, person_rng, already_there))

    def _schedule_arrival(self) -> None:
        mean_s = 2.0 if not self._people else 7.0
        self._next_arrival = self._index + int(round(self._people_rng.exponential(mean_s) * self.fps)) + 1

    def next_frame(self) -> Frame:
        """The next frame: timestamp index / fps, the room's colour image, the bodies the sensor reports."""
        index = self._index
        if index >= self._next_arrival:
            if len(self._people) < self.max_people:
                self._arrive()
            self._schedule_arrival()
        image = self.background.copy() if self.background is not None else None
        drawn: list[tuple[float, Figure, int]] = []
        bodies: list[Body] = []
        truth: list[PersonTruth] = []
        for person in list(self._people):
            segment = person.segments[-1] if person.segments else None
            while segment is None or segment.last < index:
                segment = person.next_segment(index)
                if segment is None:
                    break
            if segment is None:
                person.spot.taken = False
                self._people.remove(person)
                continue
            k = index - segment.first
            spine = segment.reported[k, SPINE_MID]
            in_view = (
                MIN_RANGE_M < spine[2] < MAX_RANGE_M and abs(math.atan2(spine[0], spine[2])) < DEPTH_HALF_FOV
            )
            if in_view and segment.present[k]:
                if person.tracking_id is None:
                    person.tracking_id = self._next_tracking_id
                    self._next_tracking_id += 1
                bodies.append(
                    Body(
                        person.tracking_id,
                        segment.reported[k].copy(),
                        segment.states[k].copy(),
                        segment.joints_color[k].astype(np.float32),
                        truth=segment.action[k] or NO_ACTION,
                    )
                )
            elif not in_view:
                person.tracking_id = None  # out of view: a new id when they come back, as the Kinect does
            if segment.figure is not None:
                drawn.append((float(segment.figure.kinematics.joints[k, :, 2].mean()), segment.figure, k))
            truth.append(
                PersonTruth(
                    person.number,
                    person.tracking_id if in_view else None,
                    segment.action[k],
                    segment.activity,
                    (float(segment.root[k, 0]), float(segment.root[k, 1])),
                )
            )
            # Older segments are no longer needed.
            if len(person.segments) > 1:
                person.segments = person.segments[-1:]
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
