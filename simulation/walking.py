"""Walking from one place in the room to another: the path of the body's root and the steps on the way.

    plan_walk(start, goal, final heading)  -> Walk: turn towards the goal (0.5 s), walk straight at
                                              0.9-1.3 m/s, turn to the final heading (0.7 s) if given
    Walk.root(times)                       -> (T, 3) room x, z, heading of the body over the walk
    step(choreography, body, walk)         the legs step ~1.8 times a second, the pelvis bobs, free arms
                                           swing against the legs; an arm that carries a cup or phone
                                           keeps it in front of the waist
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulation.motion import SIDES, Choreography, Postures

WALK_SPEED_M_S = (0.9, 1.3)
TURN_IN_S = 0.5
TURN_OUT_S = 0.7


def heading_towards(dx: float, dz: float) -> float:
    """The heading of a person whose `local` forward points along room (dx, dz)."""
    return math.atan2(-dx, -dz)


def unwrap_to(angle: float, reference: float) -> float:
    """`angle` plus a multiple of 2 pi, within pi of `reference` (the shorter way round)."""
    return reference + (angle - reference + math.pi) % (2 * math.pi) - math.pi


@dataclass(frozen=True)
class Walk:
    """A walk: turn towards the goal, walk straight to it, turn to `final_heading` (None: no turn)."""

    start: tuple[float, float, float]  # room x, z, heading
    goal: tuple[float, float]
    final_heading: float | None
    speed: float  # m/s
    step_s: float  # one step

    @property
    def distance(self) -> float:
        return math.hypot(self.goal[0] - self.start[0], self.goal[1] - self.start[1])

    @property
    def walk_s(self) -> float:
        return max(self.distance / self.speed, 0.6)

    @property
    def turn_out_s(self) -> float:
        return TURN_OUT_S if self.final_heading is not None else 0.0

    @property
    def duration(self) -> float:
        return TURN_IN_S + self.walk_s + self.turn_out_s

    @property
    def travel_heading(self) -> float:
        dx, dz = self.goal[0] - self.start[0], self.goal[1] - self.start[1]
        return unwrap_to(heading_towards(dx, dz), self.start[2])

    def root(self, times: np.ndarray) -> np.ndarray:
        """(T, 3) room x, z and heading at `times` (seconds from the walk's start)."""
        x0, z0, heading0 = self.start
        travel = self.travel_heading
        progress = np.clip((times - TURN_IN_S) / self.walk_s, 0.0, 1.0)
        heading = np.where(
            times < TURN_IN_S, heading0 + (travel - heading0) * np.clip(times / TURN_IN_S, 0, 1), travel
        )
        if self.final_heading is not None:
            final = unwrap_to(self.final_heading, travel)
            turning = np.clip((times - TURN_IN_S - self.walk_s) / self.turn_out_s, 0.0, 1.0)
            heading = np.where(times > TURN_IN_S + self.walk_s, travel + (final - travel) * turning, heading)
        dx, dz = self.goal[0] - x0, self.goal[1] - z0
        return np.stack([x0 + dx * progress, z0 + dz * progress, heading], 1)


def plan_walk(
    start: tuple[float, float, float],
    goal: tuple[float, float],
    final_heading: float | None,
    rng: np.random.Generator,
) -> Walk:
    return Walk(start, goal, final_heading, rng.uniform(*WALK_SPEED_M_S), 1.0 / rng.uniform(1.6, 2.0))


def step(
    c: Choreography,
    body: Postures,
    walk: Walk,
    rng: np.random.Generator,
    carrying: tuple[bool, bool] = (False, False),
) -> None:
    """Keyframe the walk's steps into `c` (times from the walk's start; the root moves separately)."""
    stride = walk.speed * walk.step_s
    c.move(0.0, TURN_IN_S, head_turn=np.array([0.05, 0.0]))  # eyes on the way
    t = TURN_IN_S
    lead = int(rng.integers(0, 2))
    steps = max(1, int(round(walk.walk_s / walk.step_s)))
    step_s = walk.walk_s / steps
    for k in range(steps):
        swing, stance = (lead + k) % 2, (lead + k + 1) % 2
        front = body.standing_ankle(swing) + np.array([0.0, 0.0, stride / 2])
        back = body.standing_ankle(stance) + np.array([0.0, 0.0, -stride / 2])
        lift = 0.5 * (body.standing_ankle(swing) + front) + np.array([0.0, 0.09, 0.0])
        c.move(t, t + step_s / 2, side=swing, ankle=lift)
        c.move(t + step_s / 2, t + step_s, side=swing, ankle=front)
        c.move(t, t + step_s, side=stance, ankle=back)
        for side in SIDES:
            if carrying[side]:
                continue  # a carried cup or phone stays in front of the waist
            swing_arm = 1.0 if side == stance else -1.0  # arms swing against the legs
            c.move(
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
        c.move(
            t,
            t + step_s / 2,
            pelvis=pelvis + np.array([0.0, 0.025, 0.0]),
            spine_bend=np.array([0.06, 0.0]),
            pelvis_tilt=np.zeros(3),
        )
        c.move(t + step_s / 2, t + step_s, pelvis=pelvis)
        t += step_s
    end = TURN_IN_S + walk.walk_s
    for side in SIDES:
        c.move(end, end + 0.4, side=side, ankle=body.standing_ankle(side))
        if not carrying[side]:
            c.move(end, end + 0.4, side=side, wrist=body.mirror(body.hang(), side))
    c.move(end, end + 0.4, pelvis=body.standing_pelvis(), spine_bend=np.zeros(2))
    c.hold_all(walk.duration)
