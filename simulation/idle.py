"""What people do between actions: the background (`no_action`) is not a motionless body.

    arm rests      ArmIdle: hanging, on the hip, behind the back, forearm forward holding something,
                   arms crossed; seated also on the thigh or in the lap (`arm_rest`, `idle_arm_start`)
    fidgets        Fidget: look around, shift the weight (or re-place a foot), touch or scratch the face
                   or head with an empty hand, small talking gestures below the shoulders, rest the
                   arms another way, glance down at a held phone (at the chest, never at the mouth or
                   ear), lean forward or back on a chair, stretch the legs out while seated
    idle_time      a stretch of idle time: pauses with small head movements, and fidgets drawn from
                   what the person can do (seated or standing, which hands are free, talking or alone)

None of these is one of the action classes (simulation/actions.py): a hand raised to the face holds
nothing (drinking and phoning need the cup or phone there), a held cup or phone stays below the chest,
and no hand rises above the shoulder (waving). They are there so that a model must tell an action from
the ordinary movements around it, not from stillness. Scripts write keyframes into a `Choreography`
from a start time and return the time they end, as the action scripts do.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from simulation.actions import ObjectKind
from simulation.motion import SIDE_SIGN, SIDES, Choreography, Postures

ARM_CHANNELS = ("wrist", "elbow_pole", "thumb", "grip", "flex")


class ArmIdle(enum.Enum):
    """How a hand that takes no part in an action rests."""

    HANG = "hang"
    HIP = "hip"
    BEHIND = "behind"
    HOLD = "hold"  # forearm forward at the waist, possibly holding a cup or phone
    CROSSED = "crossed"  # the wrist at the other arm's elbow (both: arms crossed)
    THIGH = "thigh"  # seated: the hand on the thigh
    LAP = "lap"  # seated: the hand in the lap, near the middle


STANDING_RESTS = (ArmIdle.HANG, ArmIdle.HIP, ArmIdle.BEHIND, ArmIdle.HOLD, ArmIdle.CROSSED)
SEATED_RESTS = (ArmIdle.THIGH, ArmIdle.LAP, ArmIdle.HANG, ArmIdle.HOLD, ArmIdle.CROSSED)


def arm_rest(body: Postures, side: int, style: ArmIdle) -> dict[str, np.ndarray]:
    """Arm channel values (wrist, elbow_pole, thumb, grip, flex) of one arm resting in `style`."""
    s = body.shape
    spine = s.spine_upper + s.spine_lower
    flex = 0.0
    if style is ArmIdle.HANG:
        wrist, pole, thumb, grip = body.hang(), body.pole_down(), body.thumb_forward(), 0.3
    elif style is ArmIdle.HIP:
        wrist, pole, thumb, grip = body.hand_on_hip(), np.array([1.0, -0.3, -0.5]), body.thumb_forward(), 0.2
    elif style is ArmIdle.BEHIND:
        wrist, pole, thumb, grip = body.behind_back(), np.array([0.6, -0.6, -0.8]), body.thumb_up(), 0.4
    elif style is ArmIdle.CROSSED:
        # The wrist in front of the other arm's elbow, the elbow out to its own side.
        wrist = np.array([-(s.shoulder_half_width - 0.07), -0.8 * s.upper_arm, 0.17])
        pole, thumb, grip = np.array([0.7, -0.6, 0.3]), body.thumb_up(), 0.6
    elif style is ArmIdle.THIGH:
        wrist, pole, thumb, grip = body.on_thigh(), np.array([0.6, -1.0, -0.2]), body.thumb_forward(), 0.3
    elif style is ArmIdle.LAP:
        wrist = np.array([0.07, -spine + 0.12, 0.25])
        pole, thumb, grip, flex = np.array([0.6, -1.0, -0.1]), body.thumb_up(), 0.5, 0.3
    else:
        wrist, pole, thumb, grip = body.hold_front(), body.pole_down(), body.thumb_up(), 1.0
    return {
        "wrist": body.mirror(wrist, side),
        "elbow_pole": body.mirror(pole, side),
        "thumb": np.asarray(thumb, np.float64),
        "grip": np.array(grip),
        "flex": np.array(flex),
    }


def idle_arm_start(body: Postures, side: int, style: ArmIdle, start: dict[str, np.ndarray]) -> None:
    """Set one arm's start values in a choreography start dict for an idle style."""
    for name, value in arm_rest(body, side, style).items():
        start[name][side] = value


def idle(c: Choreography, body: Postures, t: float, duration: float, rng: np.random.Generator) -> float:
    """Standing or sitting still for `duration` s: small shifts of the head (the sway is added later)."""
    end = t + duration
    while t < end - 0.3:
        step = min(rng.uniform(0.6, 1.6), end - t)
        c.move(t, t + step, head_turn=np.array([rng.uniform(-0.1, 0.12), rng.uniform(-0.25, 0.25)]))
        t += step
    c.hold_all(end)
    return end


# ----------------------------------------------------------------------------------------- fidgets


class Fidget(enum.Enum):
    LOOK_AROUND = "look around"
    SHIFT_WEIGHT = "shift weight"
    TOUCH_FACE = "touch face"
    GESTURE = "gesture"
    REST_ARMS = "rest arms"
    GLANCE_AT_PHONE = "glance at phone"
    LEAN = "lean"  # seated only
    STRETCH_LEGS = "stretch legs"  # seated only


@dataclass(frozen=True)
class IdleState:
    """What a person's idle time may contain."""

    seated: bool
    holding: tuple[ObjectKind | None, ObjectKind | None]  # per side
    talking: bool = False  # somebody close by: more gestures, nods, the head towards them
    partner_yaw: float = 0.0  # head yaw (radians, to the left +) that looks at the partner

    @property
    def free_sides(self) -> list[int]:
        return [side for side in SIDES if self.holding[side] is None]


def _arm_now(c: Choreography, side: int) -> dict[str, np.ndarray]:
    return {name: c.current(name, side) for name in ARM_CHANNELS}


def _arm_to(c: Choreography, side: int, t0: float, t1: float, values: dict[str, np.ndarray]) -> None:
    c.move(t0, t1, side=side, **values)


def look_around(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState
) -> float:
    """The head (and a little of the hips) turns to look at something, and back."""
    for _ in range(int(rng.integers(1, 4))):
        turn_s = rng.uniform(0.4, 0.9)
        yaw = rng.uniform(-0.75, 0.75)
        c.move(t, t + turn_s, head_turn=np.array([rng.uniform(-0.12, 0.25), yaw]))
        if not state.seated:
            twist = c.current("pelvis_tilt")
            twist[2] = 0.25 * yaw
            c.move(t, t + turn_s, pelvis_tilt=twist)
        t += turn_s + rng.uniform(0.3, 1.5)
    back_s = rng.uniform(0.4, 0.8)
    tilt = c.current("pelvis_tilt")
    tilt[2] = 0.0
    c.move(t, t + back_s, head_turn=np.array([rng.uniform(-0.05, 0.1), state.partner_yaw]), pelvis_tilt=tilt)
    return t + back_s


def shift_weight(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState
) -> float:
    """Standing: the hips move over one leg (the other knee gives), now and then a foot is placed anew."""
    towards = int(rng.integers(0, 2))
    shift_s = rng.uniform(0.5, 1.0)
    pelvis = body.standing_pelvis() + np.array(
        [SIDE_SIGN[towards] * rng.uniform(0.025, 0.065), -rng.uniform(0.0, 0.02), rng.uniform(-0.02, 0.02)]
    )
    tilt = c.current("pelvis_tilt")
    tilt[1] = -SIDE_SIGN[towards] * rng.uniform(0.02, 0.06)
    c.move(t, t + shift_s, pelvis=pelvis, pelvis_tilt=tilt)
    t += shift_s
    if rng.random() < 0.4:  # the free foot steps to a new place
        foot = 1 - towards
        step_s = rng.uniform(0.45, 0.7)
        now = c.current("ankle", foot)
        home = body.standing_ankle(foot)
        goal = home + np.array([SIDE_SIGN[foot] * rng.uniform(-0.03, 0.1), 0.0, rng.uniform(-0.12, 0.15)])
        lift = 0.5 * (now + goal) + np.array([0.0, 0.05, 0.0])
        c.move(t, t + step_s / 2, side=foot, ankle=lift)
        c.move(t + step_s / 2, t + step_s, side=foot, ankle=goal)
        t += step_s
    else:
        t += rng.uniform(0.5, 2.0)
    if rng.random() < 0.5:  # back to both feet
        back_s = rng.uniform(0.5, 1.0)
        tilt = c.current("pelvis_tilt")
        tilt[1] = 0.0
        c.move(t, t + back_s, pelvis=body.standing_pelvis(), pelvis_tilt=tilt)
        t += back_s
    return t


# Where an empty hand goes at the face or head: wrist targets relative to `Postures.mouth()` (left arm).
_FACE_SPOTS = {
    "chin": np.array([0.0, -0.07, -0.03]),
    "cheek": np.array([0.06, -0.01, -0.06]),
    "nose": np.array([0.0, 0.04, -0.02]),
    "forehead": np.array([0.0, 0.12, -0.05]),
}


def touch_face(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState
) -> float:
    """An empty hand touches or scratches the chin, cheek, nose, forehead or the side of the head, briefly.

    Never with a hand that holds something: a cup or phone at the face is what drinking and phoning are."""
    side = int(rng.choice(state.free_sides))
    before = _arm_now(c, side)
    spot = list(_FACE_SPOTS) + ["head"]
    where = spot[int(rng.integers(len(spot)))]
    if where == "head":
        target = body.ear() + np.array([0.02, 0.09, -0.02])
        pole, thumb = body.pole_out(), np.array([0.0, 0.3, 1.0])
    else:
        target = body.mouth() + _FACE_SPOTS[where]
        pole, thumb = body.pole_to_face(), body.thumb_up()
    target = target + rng.uniform(-0.015, 0.015, 3)
    reach_s = rng.uniform(0.35, 0.6)
    _arm_to(c, side, t, t + reach_s, {
        "wrist": body.mirror(target, side),
        "elbow_pole": body.mirror(pole, side),
        "thumb": thumb,
        "grip": np.array(rng.uniform(0.2, 0.6)),
        "flex": np.array(rng.uniform(0.1, 0.45)),
    })
    t += reach_s
    if rng.random() < 0.5:  # scratching: small quick rubs
        for k in range(int(rng.integers(3, 8))):
            rub_s = rng.uniform(0.1, 0.18)
            offset = np.array([0.0, 0.012 if k % 2 else -0.012, 0.0])
            c.move(t, t + rub_s, side=side, wrist=body.mirror(target + offset, side))
            t += rub_s
    else:  # resting there a moment (chin in hand, a finger at the nose)
        t += rng.uniform(0.3, 1.6)
    back_s = rng.uniform(0.4, 0.7)
    _arm_to(c, side, t, t + back_s, before)
    return t + back_s


def gesture(c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState) -> float:
    """Talking with the hands: one or both move about in front of the body, below the shoulders."""
    sides = [int(rng.integers(0, 2))] if rng.random() < 0.6 else list(SIDES)
    before = {side: _arm_now(c, side) for side in sides}
    base = body.hold_front()
    for _ in range(int(rng.integers(3, 9))):
        step_s = rng.uniform(0.25, 0.6)
        for side in sides:
            holding = state.holding[side] is not None
            rise = rng.uniform(-0.04, 0.1 if holding else 0.2)  # a held cup stays well below the face
            wrist = base + np.array([rng.uniform(-0.1, 0.1), rise, rng.uniform(-0.04, 0.12)])
            values = {
                "wrist": body.mirror(wrist, side),
                "elbow_pole": body.mirror(body.pole_down() + np.array([0.3, 0.0, 0.0]), side),
                "flex": np.array(rng.uniform(-0.3, 0.3)),
            }
            if not holding:
                values["thumb"] = body.thumb_up() if rng.random() < 0.5 else body.thumb_in()
                values["grip"] = np.array(rng.uniform(0.0, 0.4))
            _arm_to(c, side, t, t + step_s, values)
        if state.talking and rng.random() < 0.5:
            c.move(t, t + step_s, head_turn=np.array([rng.uniform(-0.05, 0.15), state.partner_yaw]))
        t += step_s
    back_s = rng.uniform(0.4, 0.7)
    for side in sides:
        _arm_to(c, side, t, t + back_s, before[side])
    return t + back_s


def rest_arms(c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState) -> float:
    """Rest one or both arms another way (a hand that holds something keeps it at the waist or side)."""
    move_s = rng.uniform(0.5, 0.9)
    rests = SEATED_RESTS if state.seated else STANDING_RESTS
    crossed = rng.random() < 0.25 and not any(state.holding)
    for side in SIDES if crossed or rng.random() < 0.5 else [int(rng.integers(0, 2))]:
        if crossed:
            style = ArmIdle.CROSSED
        elif state.holding[side] is not None:
            style = ArmIdle.HOLD if rng.random() < 0.7 else ArmIdle.HANG
        else:
            style = rests[int(rng.integers(len(rests)))]
            if style is ArmIdle.CROSSED:
                style = ArmIdle.HOLD  # one arm alone across the body: forearm forward instead
        _arm_to(c, side, t + rng.uniform(0.0, 0.2), t + move_s + 0.2, arm_rest(body, side, style))
    return t + move_s + 0.2 + rng.uniform(0.5, 2.0)


def glance_at_phone(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState
) -> float:
    """A held phone comes up to the chest, screen up, the head bowed to it; then down again."""
    side = next(s for s in SIDES if state.holding[s] is ObjectKind.PHONE)
    before = _arm_now(c, side)
    head_before = c.current("head_turn")
    s = body.shape
    target = np.array([s.shoulder_half_width - 0.06, -0.16, 0.3]) + rng.uniform(-0.03, 0.03, 3)
    up_s = rng.uniform(0.4, 0.7)
    _arm_to(c, side, t, t + up_s, {
        "wrist": body.mirror(target, side),
        "elbow_pole": body.mirror(body.pole_down(), side),
        "thumb": np.array([0.0, 0.6, 0.8]),
        "grip": np.array(0.8),
        "flex": np.array(0.2),
    })
    c.move(t, t + up_s, head_turn=np.array([rng.uniform(0.3, 0.45), 0.0]))
    t += up_s
    look_s = rng.uniform(1.0, 4.0)
    end = t + look_s
    while t < end - 0.2:  # thumb taps: the wrist bobs a little
        tap_s = rng.uniform(0.2, 0.5)
        c.move(t, t + tap_s, side=side, flex=np.array(rng.uniform(0.1, 0.35)))
        t += tap_s
    down_s = rng.uniform(0.4, 0.7)
    _arm_to(c, side, t, t + down_s, before)
    c.move(t, t + down_s, head_turn=head_before)
    return t + down_s


def lean(c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState) -> float:
    """Seated: lean forward, forearms on the thighs, or back into the chair; a while later upright again."""
    before = {side: _arm_now(c, side) for side in SIDES}
    lean_s = rng.uniform(0.6, 1.1)
    if rng.random() < 0.55:
        c.move(t, t + lean_s, spine_bend=np.array([rng.uniform(0.3, 0.5), 0.0]))
        for side in state.free_sides:
            wrist = body.on_thigh() + np.array([-0.03, 0.0, 0.2]) + rng.uniform(-0.03, 0.03, 3)
            c.move(t, t + lean_s, side=side, wrist=body.mirror(wrist, side))
    else:
        c.move(t, t + lean_s, spine_bend=np.array([rng.uniform(-0.22, -0.12), 0.0]))
    t += lean_s + rng.uniform(1.0, 4.0)
    back_s = rng.uniform(0.6, 1.1)
    c.move(t, t + back_s, spine_bend=np.array([-0.05, 0.0]))
    for side in state.free_sides:
        _arm_to(c, side, t, t + back_s, before[side])
    return t + back_s


def stretch_legs(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, state: IdleState
) -> float:
    """Seated: the feet slide forward (legs stretched out), or one foot is pulled back under the chair."""
    move_s = rng.uniform(0.5, 0.9)
    if rng.random() < 0.6:
        forward = rng.uniform(0.12, 0.3)
        for side in SIDES:
            c.move(t, t + move_s, side=side, ankle=body.seated_ankle(side) + np.array([0.0, 0.0, forward]))
    else:
        side = int(rng.integers(0, 2))
        c.move(t, t + move_s, side=side, ankle=body.seated_ankle(side) + np.array([0.0, 0.0, -0.15]))
    t += move_s + rng.uniform(1.0, 4.0)
    if rng.random() < 0.6:
        for side in SIDES:
            c.move(t, t + move_s, side=side, ankle=body.seated_ankle(side))
        t += move_s
    return t


FIDGETS = {
    Fidget.LOOK_AROUND: look_around,
    Fidget.SHIFT_WEIGHT: shift_weight,
    Fidget.TOUCH_FACE: touch_face,
    Fidget.GESTURE: gesture,
    Fidget.REST_ARMS: rest_arms,
    Fidget.GLANCE_AT_PHONE: glance_at_phone,
    Fidget.LEAN: lean,
    Fidget.STRETCH_LEGS: stretch_legs,
}


def fidget_weights(state: IdleState) -> dict[Fidget, float]:
    """How likely each fidget is next, given what the person can do now (0: impossible).

    A fidget starts every few seconds of idle time. Touching the face is the rare one: people do it a
    few dozen times an hour (about one fidget in twenty here, once a minute or so of idle time), not
    every few seconds."""
    phone = ObjectKind.PHONE in state.holding
    return {
        Fidget.LOOK_AROUND: 0.5 if state.talking else 1.0,
        Fidget.SHIFT_WEIGHT: 0.0 if state.seated else 1.0,
        Fidget.TOUCH_FACE: 0.25 if state.free_sides else 0.0,
        Fidget.GESTURE: 2.0 if state.talking else 0.5,
        Fidget.REST_ARMS: 0.8,
        Fidget.GLANCE_AT_PHONE: 0.7 if phone else 0.0,
        Fidget.LEAN: 0.8 if state.seated else 0.0,
        Fidget.STRETCH_LEGS: 0.5 if state.seated else 0.0,
    }


def idle_time(
    c: Choreography, body: Postures, t: float, duration: float, rng: np.random.Generator, state: IdleState
) -> tuple[float, list[tuple[Fidget, float, float]]]:
    """About `duration` s of idle time from `t`: pauses (the head moving a little) and fidgets.

    Returns (end time, [(fidget, start, end)]); the end may pass `duration` by the last fidget's length.
    """
    end = t + duration
    done: list[tuple[Fidget, float, float]] = []
    while True:
        pause = min(rng.exponential(1.2) + 0.3, max(end - t, 0.0))
        stop = t + pause
        while t < stop - 0.3:  # a pause: the head shifts a little (towards a partner while talking)
            step = min(rng.uniform(0.6, 1.6), stop - t)
            yaw = state.partner_yaw + rng.uniform(-0.25, 0.25) * (0.5 if state.talking else 1.0)
            nod = rng.uniform(-0.1, 0.12) + (rng.uniform(0.0, 0.1) if state.talking else 0.0)
            c.move(t, t + step, head_turn=np.array([nod, yaw]))
            t += step
        t = max(t, stop)
        if t >= end - 0.5:
            break
        weights = fidget_weights(state)
        kinds = [k for k, w in weights.items() if w > 0]
        p = np.array([weights[k] for k in kinds])
        kind = kinds[int(rng.choice(len(kinds), p=p / p.sum()))]
        finish = FIDGETS[kind](c, body, t, rng, state)
        done.append((kind, t, finish))
        t = finish
    c.hold_all(max(t, end))
    return max(t, end), done
