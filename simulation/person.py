"""One visitor of the simulated room and their plan, a segment of motion at a time.

    walk in to their spot (or start there) -> turn to face the room
    (idle time, [walk to a free spot | join somebody and talk], action, [get up]) x 1-4
    -> [stand up] -> idle -> walk out

    idle time         pauses and fidgets (simulation/idle.py), seated or standing, alone or talking
    walk somewhere    to another free spot, or to stand beside somebody already in the room (two people
                      near each other, turned to one another, gesturing while they talk)
    held objects      a cup or phone may be carried in on arrival, picked up or put away between
                      segments, kept in hand after drinking or phoning, carried while walking
    action            one of the scene's classes (default simulation.actions.CLASSES) that the stance
                      and place allow (sit down only at a spot with a chair); ground truth is the
                      action from its first keyframe to its last, everything else is no action

Each segment is planned when the previous one ends (`Person.next_motion`), starting from the pose it
ended in, and returned as a `Motion` (pose controls with sway, the root's path, per-frame ground truth,
what the hands hold); the scene poses, tracks and draws it. The plan reads the `Floor` (free spots,
where the others are) only at those moments.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np

from simulation.actions import CLASSES, ActionClass, ObjectKind, Stance
from simulation.appearance import HeldObject, Look
from simulation.idle import ArmIdle, IdleState, arm_rest, idle_arm_start, idle_time
from simulation.motion import SIDE_SIGN, SIDES, BodyShape, Choreography, PoseControls, Postures, Sway
from simulation.room import Chair
from simulation.walking import heading_towards, plan_walk, step

# How people spend their time (per segment; tuned so that actions take about a third of a visit).
IDLE_S = (1.5, 3.0, 12.0)  # minimum, mean of the exponential added to it, maximum
TALK_S = (3.0, 10.0)  # idle time beside somebody just joined
WALK_ELSEWHERE_P = 0.12  # between actions: walk to another free spot
JOIN_P = 0.15  # between actions: walk over to somebody in the room and talk
RETURN_P = 0.5  # after talking: back to one's own spot
CARRY_IN_P = 0.35  # arrives with a cup or phone in one hand
PICK_UP_P = 0.1  # per idle segment and empty hand: a cup or phone appears in it
PUT_AWAY_P = 0.1  # per idle segment and hand holding something: it goes away
KEEP_P = 0.6  # after drinking or phoning, the cup or phone stays in hand
NEAR_M = 1.5  # somebody this close is somebody to talk to
BESIDE_M = (0.75, 1.05)  # how far from somebody one stands to talk
CHAIR_WEIGHT = 3.0  # sitting down (at a chair) and standing up, against 1 for any other action
ARMS_SETTLE_S = 0.6  # at the start of idle time, the arms move to a rest


@dataclass
class Spot:
    """A place in the room where a person stands (and sits, when it has a chair)."""

    x: float
    z: float
    heading: float  # facing the sensor, give or take
    chair: Chair | None
    taken: bool = False


@dataclass(frozen=True)
class Whereabouts:
    """Where one person is at the current frame, as the others' plans see it."""

    x: float
    z: float
    stance: Stance
    settled: bool  # at a place (not walking)


@dataclass
class Floor:
    """The places people use and who is where; the scene keeps `whereabouts` current every frame."""

    spots: list[Spot]
    half_fov: float  # radians: the depth camera's half field of view (a place must be in view)
    whereabouts: dict[int, Whereabouts] = field(default_factory=dict)

    def free_spots(self) -> list[Spot]:
        return [s for s in self.spots if not s.taken]

    def others(self, number: int) -> dict[int, Whereabouts]:
        return {k: w for k, w in self.whereabouts.items() if k != number}

    def place_beside(
        self, number: int, host: Whereabouts, rng: np.random.Generator
    ) -> tuple[float, float] | None:
        """A place to stand next to `host`, in view and clear of chairs and of everyone else; None if
        none of a few tries fits."""
        for _ in range(12):
            angle = rng.uniform(0, 2 * math.pi)
            distance = rng.uniform(*BESIDE_M)
            x, z = host.x + distance * math.sin(angle), host.z + distance * math.cos(angle)
            if not 1.9 < z < 4.2 or abs(math.atan2(x, z)) > self.half_fov - math.radians(8):
                continue
            chairs = [s.chair for s in self.spots if s.chair is not None]
            if any(math.hypot(x - c.x, z - c.z) < 0.7 for c in chairs):
                continue
            others = [w for k, w in self.others(number).items() if w is not host]
            if any(math.hypot(x - w.x, z - w.z) < 0.8 for w in others):
                continue
            return x, z
        return None


@dataclass
class Motion:
    """One planned segment: what the scene poses, tracks and draws for its frames."""

    controls: PoseControls  # (T) with the person's sway
    root: np.ndarray  # (T, 3) room x, z, heading
    action: list[str | None]  # per frame: the action class performed, None otherwise
    activity: str  # "walking", "idle", "talking", "action", "getting up"
    held: tuple[HeldObject | None, HeldObject | None]


def _end_values(controls: PoseControls) -> dict[str, np.ndarray]:
    return {name: getattr(controls, name)[-1].copy() for name in controls.__dataclass_fields__}


def _yaw_towards(heading: float, dx: float, dz: float) -> float:
    """Head yaw (to the left +) that looks along room (dx, dz) for a body with `heading`."""
    left = (-math.cos(heading), math.sin(heading))
    forward = (-math.sin(heading), -math.cos(heading))
    return math.atan2(dx * left[0] + dz * left[1], dx * forward[0] + dz * forward[1])


class Person:
    """One visitor: body, looks, what the hands hold, and a plan of segments made one at a time."""

    def __init__(
        self,
        number: int,
        spot: Spot,
        floor: Floor,
        rng: np.random.Generator,
        fps: float,
        *,
        height_m: tuple[float, float],
        speed: tuple[float, float],
        repertoire: tuple[ActionClass, ...] = CLASSES,
        already_there: bool = False,
    ) -> None:
        self.number = number
        self.repertoire = repertoire  # the classes this person may perform
        self.spot = spot
        self.floor = floor
        self.rng = rng
        self.fps = fps
        self.speed = speed
        self.shape = BodyShape.random(rng, height_m)
        self.look = Look.random(rng)
        seat = spot.chair.seat_height if spot.chair is not None else 0.46
        self.body = Postures(self.shape, seat)
        self.sway = Sway.random(rng)
        self.stance = Stance.STANDING
        self.at_spot = already_there  # False while walking in, or standing beside somebody else
        self.actions_left = int(rng.integers(1, 5))
        side = 1.0 if spot.x > 0 else -1.0
        if rng.random() < 0.25:
            side = -side
        edge = spot.z * math.tan(math.radians(44.0)) + 0.7
        entry = (side * edge, spot.z + rng.uniform(-0.3, 0.3))
        self.exit_side = side if rng.random() < 0.6 else -side
        if already_there:
            self.root: tuple[float, float, float] = (spot.x, spot.z, spot.heading)
        else:
            self.root = (entry[0], entry[1], heading_towards(spot.x - entry[0], spot.z - entry[1]))
        self.values = self.body.standing_start()
        self.held: list[HeldObject | None] = [None, None]
        if rng.random() < CARRY_IN_P:
            carrying = int(rng.integers(0, 2))
            self.held[carrying] = self._new_object()
            idle_arm_start(self.body, carrying, ArmIdle.HOLD, self.values)
        self._plan: Iterator[Callable[[], Motion]] = self._timeline(already_there)
        self._first = 0

    def next_motion(self, first: int) -> Motion | None:
        """The next segment, starting at scene frame `first`; None once the person has left."""
        self._first = first
        try:
            make = next(self._plan)
        except StopIteration:
            return None
        motion = make()
        self.root = tuple(motion.root[-1])  # type: ignore[assignment]
        return motion

    # ---- the plan --------------------------------------------------------------------------------

    def _timeline(self, already_there: bool) -> Iterator[Callable[[], Motion]]:
        rng = self.rng
        if not already_there:
            yield lambda: self._walk((self.spot.x, self.spot.z), self.spot.heading)
            self.at_spot = True
        while self.actions_left > 0:
            self.actions_left -= 1
            yield lambda: self._idle(self._idle_duration())
            if self.stance is Stance.STANDING:
                draw = rng.random()
                host = self._someone_to_join() if draw < JOIN_P else None
                place = self.floor.place_beside(self.number, host, rng) if host is not None else None
                if place is not None and host is not None:
                    facing = heading_towards(host.x - place[0], host.z - place[1])
                    yield lambda p=place, f=facing: self._walk(p, f)
                    self._leave_spot()
                    yield lambda: self._idle(rng.uniform(*TALK_S))
                elif JOIN_P <= draw < JOIN_P + WALK_ELSEWHERE_P and self.floor.free_spots():
                    yield from self._walk_to_spot(self.floor.free_spots())
                elif not self.at_spot and rng.random() < RETURN_P:
                    yield from self._walk_to_spot([self.spot])
            yield self._action
            if self.stance is Stance.LYING:
                yield self._get_up
        if self.stance is Stance.SEATED:
            yield lambda: self._idle(rng.uniform(0.8, 2.0))
            self.actions_left = 0
            yield self._action  # the only choice when seated at the end: stand up
        if self.stance is Stance.LYING:
            yield self._get_up
        yield lambda: self._idle(rng.uniform(0.5, 1.5))
        x, z, _ = self.root
        exit_x = self.exit_side * (z * math.tan(math.radians(44.0)) + 1.2)
        yield lambda: self._walk((exit_x, z + rng.uniform(-0.5, 0.5)), None)
        self._leave_spot()

    def _walk_to_spot(self, choices: list[Spot]) -> Iterator[Callable[[], Motion]]:
        spot = choices[int(self.rng.integers(len(choices)))]
        if spot is not self.spot:
            self.spot.taken = False
            spot.taken = True
            self.spot = spot
            seat = spot.chair.seat_height if spot.chair is not None else 0.46
            self.body = Postures(self.shape, seat)
        yield lambda: self._walk((spot.x, spot.z), spot.heading)
        self.at_spot = True

    def _leave_spot(self) -> None:
        """Off to somewhere else: the spot stays taken while this person may come back to it."""
        self.at_spot = False

    def release(self) -> None:
        """The person has left the room."""
        self.spot.taken = False

    def _someone_to_join(self) -> Whereabouts | None:
        here = self.root
        candidates = [
            w for w in self.floor.others(self.number).values()
            if w.settled and w.stance is not Stance.LYING and math.hypot(w.x - here[0], w.z - here[1]) > 1.2
        ]
        return candidates[int(self.rng.integers(len(candidates)))] if candidates else None

    def _idle_duration(self) -> float:
        low, mean, high = IDLE_S
        return float(min(low + self.rng.exponential(mean), high))

    def _new_object(self) -> HeldObject:
        kind = ObjectKind.CUP if self.rng.random() < 0.5 else ObjectKind.PHONE
        return HeldObject.random(kind, self.rng)

    # ---- segments --------------------------------------------------------------------------------

    def _frames(self, duration: float) -> np.ndarray:
        count = max(1, int(round(duration * self.fps)))
        return np.arange(count, dtype=np.float64) / self.fps

    def _finish(
        self,
        choreography: Choreography,
        duration: float,
        root: np.ndarray | None,
        action: list[str | None] | None,
        activity: str,
    ) -> Motion:
        times = self._frames(duration)
        controls = choreography.evaluate(times)
        # The next segment starts from the planned pose; the sway is a function of scene time, so it
        # continues smoothly across the boundary on its own.
        self.values = _end_values(controls)
        global_times = (self._first + np.arange(len(times))) / self.fps
        self.sway.apply(controls, global_times)
        if root is None:
            root = np.tile(self.root, (len(times), 1))
        labels = action if action is not None else [None] * len(times)
        return Motion(controls, root, labels, activity, (self.held[0], self.held[1]))

    def _idle_state(self) -> IdleState:
        x, z, heading = self.root
        near = [
            w for w in self.floor.others(self.number).values() if math.hypot(w.x - x, w.z - z) < NEAR_M
        ]
        holding = (
            None if self.held[0] is None else self.held[0].kind,
            None if self.held[1] is None else self.held[1].kind,
        )
        if not near:
            return IdleState(self.stance is Stance.SEATED, holding)
        partner = min(near, key=lambda w: math.hypot(w.x - x, w.z - z))
        yaw = float(np.clip(_yaw_towards(heading, partner.x - x, partner.z - z), -0.7, 0.7))
        return IdleState(self.stance is Stance.SEATED, holding, talking=True, partner_yaw=yaw)

    def _idle(self, duration: float) -> Motion:
        rng = self.rng
        for side in SIDES:  # things come and go between segments
            if self.held[side] is None and rng.random() < PICK_UP_P:
                self.held[side] = self._new_object()
            elif self.held[side] is not None and rng.random() < PUT_AWAY_P:
                self.held[side] = None
        choreography = Choreography(self.values)
        seated = self.stance is Stance.SEATED
        crossed = not seated and not any(self.held) and rng.random() < 0.12
        for side in SIDES:
            if crossed:
                style: ArmIdle | None = ArmIdle.CROSSED
            elif self.held[side] is not None:
                style = ArmIdle.HOLD if rng.random() < 0.75 else ArmIdle.HANG
            elif seated:
                style = None if rng.random() < 0.5 else ArmIdle(
                    rng.choice([ArmIdle.THIGH, ArmIdle.LAP, ArmIdle.HANG], p=[0.5, 0.35, 0.15])
                )
            else:
                style = ArmIdle(rng.choice(
                    [ArmIdle.HANG, ArmIdle.HIP, ArmIdle.BEHIND, ArmIdle.HOLD], p=[0.6, 0.15, 0.1, 0.15]
                ))
            if style is not None:
                choreography.move(0.0, ARMS_SETTLE_S, side=side, **arm_rest(self.body, side, style))
        state = self._idle_state()
        begin = ARMS_SETTLE_S  # the fidgets start once the arms have found their rest
        end, _ = idle_time(choreography, self.body, begin, max(duration - begin, 0.3), rng, state)
        return self._finish(choreography, end, None, None, "talking" if state.talking else "idle")

    def _walk(self, goal: tuple[float, float], final_heading: float | None) -> Motion:
        walk = plan_walk(self.root, goal, final_heading, self.rng)
        choreography = Choreography(self.values)
        step(choreography, self.body, walk, self.rng, (self.held[0] is not None, self.held[1] is not None))
        times = self._frames(walk.duration)
        return self._finish(choreography, walk.duration, walk.root(times), None, "walking")

    def _choose_action(self) -> int:
        """An action the stance and place allow. Getting up from a chair and sitting down on one weigh
        more than one choice each: they are the only ways out of and into the chair, and would otherwise
        be the rarest classes (a seated person would mostly stay, a standing one mostly not sit)."""
        rng = self.rng
        repertoire = self.repertoire
        if self.stance is Stance.SEATED:
            if self.actions_left <= 0:
                return repertoire.index(next(a for a in repertoire if a.starts is Stance.SEATED))
            options = [
                i for i, a in enumerate(repertoire) if a.acting_side is not None or a.starts is Stance.SEATED
            ]
            weights = [CHAIR_WEIGHT if repertoire[i].starts is Stance.SEATED else 1.0 for i in options]
        else:
            can_sit = self.at_spot and self.spot.chair is not None
            options = [
                i
                for i, a in enumerate(repertoire)
                if a.starts is Stance.STANDING and (a.ends is not Stance.SEATED or can_sit)
            ]
            weights = [CHAIR_WEIGHT if repertoire[i].ends is Stance.SEATED else 1.0 for i in options]
        p = np.array(weights) / sum(weights)
        return int(options[int(rng.choice(len(options), p=p))])

    def _action(self) -> Motion:
        rng = self.rng
        body = self.body
        action = self.repertoire[self._choose_action()]
        choreography = Choreography(self.values)
        prepare = 0.0
        if action.acting_side is not None:
            side = action.acting_side
            # Bring the acting arm to where the script starts; a cup or phone it needs is in the hand
            # by then (one it already holds, or one that appears), a waving hand is empty.
            needed = action.held
            current = self.held[side]
            if needed is None:
                self.held[side] = None
            elif current is None or current.kind is not needed:
                self.held[side] = HeldObject.random(needed, rng)
            style = ArmIdle.HOLD if needed is not None else ArmIdle.HANG
            prepare = 0.6
            rest = arm_rest(body, side, style)
            choreography.move(
                0.0, prepare, side=side, **{k: rest[k] for k in ("wrist", "elbow_pole", "thumb", "grip")}
            )
        speed = rng.uniform(*self.speed)
        end = action.script(choreography, body, prepare, rng, speed)
        after = end + 0.3
        choreography.hold_all(after)
        times = self._frames(after)
        labels: list[str | None] = [action.name if prepare <= t <= end else None for t in times]
        self.stance = action.ends
        motion = self._finish(choreography, after, None, labels, "action")
        if action.acting_side is not None and self.held[action.acting_side] is not None:
            if rng.random() >= KEEP_P:
                self.held[action.acting_side] = None  # put away before the next segment
        return motion

    def _get_up(self) -> Motion:
        rng = self.rng
        body, s = self.body, self.shape
        choreography = Choreography(self.values)
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
            rest = arm_rest(body, side, ArmIdle.HOLD if self.held[side] is not None else ArmIdle.HANG)
            choreography.move(
                kneel_s,
                kneel_s + rise_s,
                side=side,
                ankle=body.standing_ankle(side),
                wrist=rest["wrist"],
                elbow_pole=rest["elbow_pole"],
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
        return self._finish(choreography, duration, None, None, "getting up")
