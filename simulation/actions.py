"""The simulated actions: ten daily-living classes whose informative body part is known.

Each class names the part that tells it apart (`focus`, one of core.glimpse.PARTS), which is the
part the attention of a trained model should weigh most:

| # | name         | focus       | what the sensor sees                                                   |
|---|--------------|-------------|------------------------------------------------------------------------|
| 0 | drink_left   | left_hand   | a bright cup in the LEFT hand raised to the mouth and tipped (sips)    |
| 1 | drink_right  | right_hand  | the same with the RIGHT hand                                           |
| 2 | phone_left   | left_hand   | a dark phone in the LEFT hand held in front of the mouth or at the ear |
| 3 | phone_right  | right_hand  | the same with the RIGHT hand                                           |
| 4 | wave_left    | left_hand   | LEFT hand raised above the shoulder, waving side to side               |
| 5 | wave_right   | right_hand  | the same with the RIGHT hand                                           |
| 6 | sit_down     | full_body   | standing -> seated on a chair behind the person                        |
| 7 | stand_up     | full_body   | seated on a chair -> standing                                          |
| 8 | fall_down    | full_body   | standing -> lying on the floor (forwards, backwards or sideways)       |
| 9 | kick         | full_body   | a forward kick with either leg, the arms at rest (one or two kicks)    |

Why this set: drink and phone move the same hand to the same place (the phone is held in front of
the mouth in most clips, as when speaking into it), so the skeleton alone barely separates them; the
held object does (cup: bright cylinder tipped towards the face; phone: dark flat box, held still), and
it is visible only in that hand's crop at a useful size. Left and right versions differ by the hand, so
the part that matters is unambiguous. Waving is decided by one hand alone. Sitting, standing up,
falling and kicking involve the whole body (the kicking leg is drawn at random, so neither hand
crop can tell a kick apart; sitting down or standing up, each arm helps -- reaching for the seat,
pushing off the thigh -- or not, drawn per arm, so no hand's movement is a unique cue for them). To
keep the hand crops from being shortcuts, the other hand often carries a cup or a phone that it does
nothing with (simulation/idle.py), in every class.

Beyond the ten, `EXTRA_CLASSES` holds actions the bundled demo model was never taught, for showing
how a site teaches it one (README, "Teaching the system a new action"); they are never drawn unless
asked for (`SimulatedScene(actions=...)`, `python -m live --sim-actions`), so the default room and the
demo's training clips stay what they were:

| name            | focus     | what the sensor sees                                                  |
|-----------------|-----------|-----------------------------------------------------------------------|
| raise_both_arms | full_body | both hands raised above the head and held there (once or twice)       |

Scripts write keyframes into a `Choreography` from a start time and return the time the action
ends; `speed` > 1 makes it slower (it multiplies every duration).
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from simulation.motion import (
    LEFT,
    RIGHT,
    SIDE_SIGN,
    SIDES,
    Choreography,
    Postures,
    tilt,
)


class Stance(enum.Enum):
    STANDING = "standing"
    SEATED = "seated"
    LYING = "lying"


class ObjectKind(enum.Enum):
    CUP = "cup"
    PHONE = "phone"


Script = Callable[[Choreography, Postures, float, np.random.Generator, float], float]


@dataclass(frozen=True)
class ActionClass:
    """One simulated action class."""

    name: str
    focus: str  # the informative part, one of PARTS
    summary: str
    script: Script
    acting_side: int | None = None  # LEFT / RIGHT for one-hand actions
    held: ObjectKind | None = None  # what the acting hand holds
    starts: Stance = Stance.STANDING
    ends: Stance = Stance.STANDING


# ------------------------------------------------------------------------------------------- helpers


def _jitter(rng: np.random.Generator, scale: float) -> np.ndarray:
    return rng.uniform(-scale, scale, 3)


def _arm(c: Choreography, side: int, t0: float, t1: float, **values: np.ndarray | float) -> None:
    c.move(t0, t1, side=side, **values)


def _thumb_tipped(angle: float) -> np.ndarray:
    """Thumb (= a held cup's axis) tipped back towards the face by `angle` radians."""
    return np.array([0.0, math.cos(angle), -math.sin(angle)])


# ----------------------------------------------------------------------------------- one-hand actions


def drink(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float, side: int
) -> float:
    mouth = body.mirror(body.mouth() + _jitter(rng, 0.025), side)
    raise_s = rng.uniform(0.55, 0.9) * speed
    _arm(
        c,
        side,
        t,
        t + raise_s,
        wrist=mouth,
        elbow_pole=body.mirror(body.pole_to_face(), side),
        thumb=body.thumb_up(),
        flex=0.15,
        grip=1.0,
    )
    c.move(t, t + raise_s, head_turn=np.array([0.08, 0.0]))
    t += raise_s
    for _ in range(int(rng.integers(1, 3))):
        tip_s, sip_s = rng.uniform(0.35, 0.55) * speed, rng.uniform(0.5, 1.3) * speed
        angle = rng.uniform(0.8, 1.25)
        _arm(c, side, t, t + tip_s, thumb=_thumb_tipped(angle), wrist=mouth + np.array([0.0, 0.04, -0.02]))
        c.move(t, t + tip_s, head_turn=np.array([-0.25, 0.0]))
        t += tip_s + sip_s
        _arm(c, side, t, t + tip_s, thumb=body.thumb_up(), wrist=mouth)
        c.move(t, t + tip_s, head_turn=np.array([0.05, 0.0]))
        t += tip_s + rng.uniform(0.1, 0.5) * speed
    return _lower_held_object(c, body, t, rng, speed, side)


def phone_call(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float, side: int
) -> float:
    at_ear = rng.random() < 0.35
    if at_ear:
        target = body.mirror(body.ear() + _jitter(rng, 0.02), side)
        pole = body.mirror(body.pole_out(), side)
        thumb = np.array([0.0, 0.75, 0.65])
        head = np.array([0.1, SIDE_SIGN[side] * -0.15])
    else:
        # Held up in front of the mouth, screen to the face, as when speaking into it.
        target = body.mirror(body.mouth() + np.array([0.0, -0.02, 0.04]) + _jitter(rng, 0.025), side)
        pole = body.mirror(body.pole_to_face(), side)
        thumb = body.thumb_up()
        head = np.array([0.12, 0.0])
    raise_s = rng.uniform(0.55, 0.9) * speed
    _arm(c, side, t, t + raise_s, wrist=target, elbow_pole=pole, thumb=thumb, flex=0.25, grip=0.8)
    c.move(t, t + raise_s, head_turn=head)
    t += raise_s
    # Talking: the hand stays put, the head nods a little.
    end_talk = t + rng.uniform(1.2, 2.6) * speed
    while t < end_talk:
        step = rng.uniform(0.3, 0.7) * speed
        c.move(t, t + step, head_turn=head + np.array([rng.uniform(-0.06, 0.06), rng.uniform(-0.08, 0.08)]))
        _arm(c, side, t, t + step, wrist=target + _jitter(rng, 0.012))
        t += step
    return _lower_held_object(c, body, t, rng, speed, side)


def wave(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float, side: int
) -> float:
    up = body.wave() + _jitter(rng, 0.05)
    raise_s = rng.uniform(0.4, 0.7) * speed
    _arm(
        c,
        side,
        t,
        t + raise_s,
        wrist=body.mirror(up, side),
        elbow_pole=body.mirror(body.pole_out(), side),
        thumb=body.thumb_in(),
        flex=-0.1,
        grip=0.0,
    )
    t += raise_s
    amplitude = rng.uniform(0.08, 0.16)
    half_period = 0.5 / rng.uniform(1.4, 2.6) * speed
    for swing in range(int(rng.integers(4, 9))):
        offset = np.array([amplitude if swing % 2 == 0 else -amplitude, 0.0, 0.0])
        _arm(
            c,
            side,
            t,
            t + half_period,
            wrist=body.mirror(up + offset, side),
            flex=-0.1 + (0.25 if swing % 2 else -0.2),
        )
        t += half_period
    lower_s = rng.uniform(0.4, 0.7) * speed
    _arm(
        c,
        side,
        t,
        t + lower_s,
        wrist=body.mirror(body.hang() + _jitter(rng, 0.02), side),
        elbow_pole=body.mirror(body.pole_down(), side),
        thumb=body.thumb_forward(),
        flex=0.0,
        grip=0.3,
    )
    return t + lower_s


def _lower_held_object(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float, side: int
) -> float:
    """Bring a hand-held cup or phone back down in front of the belly, head straight; returns the end time."""
    lower_s = rng.uniform(0.55, 0.9) * speed
    _arm(
        c,
        side,
        t,
        t + lower_s,
        wrist=body.mirror(body.hold_front() + _jitter(rng, 0.03), side),
        elbow_pole=body.mirror(body.pole_down(), side),
        thumb=body.thumb_up(),
        flex=0.0,
    )
    c.move(t, t + lower_s, head_turn=np.zeros(2))
    return t + lower_s


# --------------------------------------------------------------------------------- whole-body actions


def _both_arms(
    c: Choreography,
    body: Postures,
    t0: float,
    t1: float,
    wrist: np.ndarray,
    pole: np.ndarray | None = None,
    rng: np.random.Generator | None = None,
) -> None:
    for side in SIDES:
        values: dict[str, np.ndarray] = {
            "wrist": body.mirror(wrist + (_jitter(rng, 0.03) if rng else 0), side)
        }
        if pole is not None:
            values["elbow_pole"] = body.mirror(pole, side)
        _arm(c, side, t0, t1, **values)


def _arm_helps(rng: np.random.Generator) -> tuple[bool, bool]:
    """Per arm: does it help the body (reach for the seat, push off the thighs) or stay out of it?

    People do both, one hand or two, and an arm that carries something rarely helps. Drawing it per
    arm keeps the hands from being a cue for sitting down or standing up: the movement is told by
    the body, which is what the full-body crop shows (a hand crop alone sees one of several things).
    """
    return bool(rng.random() < 0.5), bool(rng.random() < 0.5)


def sit_down(c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float) -> float:
    lean = rng.uniform(0.35, 0.6)
    down_s = rng.uniform(1.0, 1.5) * speed
    seated = body.seated_pelvis()
    standing = c.current("pelvis")
    c.move(t, t + 0.45 * down_s, spine_bend=np.array([lean, 0.0]), pelvis_tilt=np.array([0.25, 0.0, 0.0]))
    halfway = np.array([0.0, 0.5 * (standing[1] + seated[1]) + 0.05, 0.55 * seated[2]])
    c.move(t, t + 0.55 * down_s, pelvis=halfway)
    c.move(t + 0.55 * down_s, t + down_s, pelvis=seated)
    helps = _arm_helps(rng)
    for side in SIDES:
        c.move(t, t + down_s, side=side, ankle=body.seated_ankle(side))
        if helps[side]:  # reaching forward for balance, then onto the thigh
            wrist = body.hold_front() + np.array([0.0, 0.05, 0.05]) + _jitter(rng, 0.03)
            pole = body.mirror(np.array([0.6, -1.0, -0.2]), side)
            _arm(c, side, t, t + 0.6 * down_s, wrist=body.mirror(wrist, side), elbow_pole=pole)
    t += down_s
    settle_s = rng.uniform(0.4, 0.7) * speed
    c.move(t, t + settle_s, spine_bend=np.array([-0.05, 0.0]), pelvis_tilt=np.zeros(3))
    for side in SIDES:
        # A helping hand ends on the thigh; another ends there only sometimes (else it stays as it was:
        # hanging, on the hip, holding something at the waist).
        if helps[side] or rng.random() < 0.4:
            wrist = body.mirror(body.on_thigh() + _jitter(rng, 0.03), side)
            _arm(c, side, t - 0.3 * down_s, t + settle_s, wrist=wrist)
    return t + settle_s


def stand_up(c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float) -> float:
    lean_s = rng.uniform(0.4, 0.7) * speed
    c.move(
        t,
        t + lean_s,
        spine_bend=np.array([rng.uniform(0.4, 0.6), 0.0]),
        pelvis_tilt=np.array([0.3, 0.0, 0.0]),
    )
    helps = _arm_helps(rng)
    for side in SIDES:
        if helps[side]:  # pushing off the thigh
            wrist = body.on_thigh() + np.array([0.0, 0.05, 0.12]) + _jitter(rng, 0.03)
            _arm(c, side, t, t + lean_s, wrist=body.mirror(wrist, side))
    t += lean_s
    rise_s = rng.uniform(0.8, 1.2) * speed
    seated = c.current("pelvis")
    standing = body.standing_pelvis()
    halfway = np.array([0.0, 0.5 * (standing[1] + seated[1]) + 0.05, 0.45 * seated[2]])
    c.move(t, t + 0.5 * rise_s, pelvis=halfway)
    c.move(t + 0.5 * rise_s, t + rise_s, pelvis=standing)
    for side in SIDES:
        c.move(t, t + 0.7 * rise_s, side=side, ankle=body.standing_ankle(side))
    c.move(t + 0.4 * rise_s, t + rise_s, spine_bend=np.zeros(2), pelvis_tilt=np.zeros(3))
    for side in SIDES:
        # Standing, the arm hangs or the forearm stays forward at the waist (as when holding something);
        # an arm that did not push leaves the thigh at its own moment.
        start = t + (0.3 if helps[side] else rng.uniform(0.0, 0.5)) * rise_s
        if rng.random() < 0.7:
            wrist, pole = body.hang() + _jitter(rng, 0.02), body.pole_down()
        else:
            wrist, pole = body.hold_front() + _jitter(rng, 0.03), body.pole_down()
        _arm(c, side, start, t + rise_s, wrist=body.mirror(wrist, side), elbow_pole=body.mirror(pole, side))
    return t + rise_s + rng.uniform(0.2, 0.4) * speed


def fall_down(c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float) -> float:
    s = body.shape
    direction = int(rng.integers(0, 4))  # 0 forwards, 1 backwards, 2 to the left, 3 to the right
    stumble_s = rng.uniform(0.3, 0.5) * speed
    step_side = int(rng.integers(0, 2))
    step = {0: [0, 0, 0.3], 1: [0, 0, -0.25], 2: [0.25, 0, 0], 3: [-0.25, 0, 0]}[direction]
    c.move(t, t + stumble_s, side=step_side, ankle=body.standing_ankle(step_side) + np.array(step))
    t += stumble_s
    drop_s = rng.uniform(0.35, 0.55) * speed
    land_s = rng.uniform(0.4, 0.6) * speed
    if direction == 0:
        kneel = np.array([0.0, s.ankle_height + s.thigh + 0.08, 0.15])
        mid_tilt, end_tilt = np.array([0.35, 0.0, 0.0]), np.array([1.45, 0.0, 0.0])
        lying = np.array([0.0, 0.16, 0.5])
    elif direction == 1:
        kneel = np.array([0.0, 0.35, -0.3])
        mid_tilt, end_tilt = np.array([-0.35, 0.0, 0.0]), np.array([-1.45, 0.0, 0.0])
        lying = np.array([0.0, 0.14, -0.45])
    else:
        sign = 1.0 if direction == 2 else -1.0
        kneel = np.array([sign * 0.15, 0.45, 0.0])
        mid_tilt, end_tilt = np.array([0.1, sign * 0.4, 0.0]), np.array([0.05, sign * 1.4, 0.0])
        lying = np.array([sign * 0.45, 0.17, 0.0])
    c.move(t, t + drop_s, pelvis=kneel, pelvis_tilt=mid_tilt, spine_bend=np.array([0.2, 0.0]))
    # Knees bent while going down, then the legs follow the body onto the floor.
    for side in SIDES:
        sign = SIDE_SIGN[side]
        bent = np.array([sign * (s.hip_half_width + 0.05), s.ankle_height, -0.35 if direction == 0 else 0.1])
        c.move(t, t + drop_s, side=side, ankle=bent)
        rotation = tilt(np.array(end_tilt[0]), np.array(end_tilt[1]))
        stretched = lying + rotation @ np.array([sign * (s.hip_half_width + 0.04), -0.95 * s.leg, 0.0])
        stretched[1] = max(stretched[1], s.ankle_height)
        c.move(t + drop_s, t + drop_s + land_s, side=side, ankle=stretched)
    # Arms out to break the fall, then lying beside the head / body.
    reach = np.array([s.shoulder_half_width + 0.1, -0.1, 0.45])
    _both_arms(c, body, t, t + drop_s, reach, np.array([0.5, -1.0, -0.2]), rng)
    t += drop_s
    c.move(
        t,
        t + land_s,
        pelvis=lying,
        pelvis_tilt=end_tilt,
        spine_bend=np.array([0.05, 0.0]),
        head_turn=np.array([0.3 if direction == 1 else -0.3, 0.0]),
    )
    # On the floor: beside the head (face down, on the side), or along the body (on the back, where the
    # upper body's forward points at the ceiling).
    if direction == 1:
        resting = np.array([s.shoulder_half_width + 0.2, -0.25, -0.12])
    else:
        resting = np.array([s.shoulder_half_width + 0.12, 0.05, 0.35])
    _both_arms(c, body, t + 0.3 * land_s, t + land_s, resting, None, rng)
    t += land_s
    return t + rng.uniform(0.6, 1.2) * speed  # lying still


def kick(c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float) -> float:
    s = body.shape
    leg = int(rng.integers(0, 2))
    support = 1 - leg
    shift_s = rng.uniform(0.25, 0.4) * speed
    pelvis = c.current("pelvis")
    # The arms stay as they rest (hanging, on the hips, holding a cup, ...). Drawn out for balance in
    # every kick, both hands left the body as in no other class, and the attention learnt to read a
    # kick from a hand crop (0.63 against the body's 0.31) instead of from the body, where the leg is;
    # drawn per arm, one hand still did (training/checkpoints/README.md, demo.pt).
    c.move(t, t + shift_s, pelvis=pelvis + np.array([SIDE_SIGN[support] * 0.05, -0.03, 0.0]))
    t += shift_s
    stand = body.standing_ankle(leg)
    for _ in range(int(rng.integers(1, 3))):
        chamber_s, strike_s, back_s = (rng.uniform(0.18, 0.3) * speed for _ in range(3))
        height = rng.uniform(0.35, 0.75) * s.leg / 0.86
        reach = rng.uniform(0.45, 0.7)
        chamber = stand + np.array([0.0, 0.3 * s.leg / 0.86, -0.1])
        strike = np.array([stand[0] * 0.8, height, reach])
        c.move(t, t + chamber_s, side=leg, ankle=chamber)
        c.move(t, t + chamber_s, spine_bend=np.array([-0.05, 0.0]))
        t += chamber_s
        c.move(t, t + strike_s, side=leg, ankle=strike)
        c.move(t, t + strike_s, spine_bend=np.array([-0.22, 0.0]))
        t += strike_s + rng.uniform(0.0, 0.15) * speed
        c.move(t, t + back_s, side=leg, ankle=chamber + np.array([0.0, 0.0, 0.15]))
        c.move(t, t + back_s, spine_bend=np.array([-0.05, 0.0]))
        t += back_s
    down_s = rng.uniform(0.25, 0.4) * speed
    c.move(t, t + down_s, side=leg, ankle=stand)
    c.move(t, t + down_s, pelvis=pelvis, spine_bend=np.zeros(2))
    return t + down_s


def raise_both_arms(
    c: Choreography, body: Postures, t: float, rng: np.random.Generator, speed: float
) -> float:
    """Both hands go up above the head (stretching, or calling for attention), stay a moment, come
    down; once or twice. Both hands move together, so neither hand's crop alone tells it: the body's."""
    s = body.shape
    for _ in range(int(rng.integers(1, 3))):
        up_s = rng.uniform(0.5, 0.8) * speed
        # Above the shoulder by most of an arm's length, spread into a V by a varying amount.
        up = np.array(
            [
                s.shoulder_half_width + rng.uniform(0.02, 0.22),
                -s.shoulder_drop + rng.uniform(0.8, 0.92) * s.arm,
                rng.uniform(-0.02, 0.12),
            ]
        )
        _both_arms(c, body, t, t + up_s, up, body.pole_out(), rng)
        for side in SIDES:
            _arm(c, side, t, t + up_s, thumb=body.thumb_in(), flex=-0.1, grip=0.0)
        c.move(t, t + up_s, head_turn=np.array([0.12, 0.0]))
        t += up_s + rng.uniform(0.5, 1.4) * speed  # held up
        down_s = rng.uniform(0.5, 0.8) * speed
        _both_arms(c, body, t, t + down_s, body.hang(), body.pole_down(), rng)
        for side in SIDES:
            _arm(c, side, t, t + down_s, thumb=body.thumb_forward(), flex=0.0, grip=0.3)
        c.move(t, t + down_s, head_turn=np.zeros(2))
        t += down_s + rng.uniform(0.1, 0.4) * speed
    return t


# --------------------------------------------------------------------------------- the class table


def _table() -> tuple[ActionClass, ...]:
    rows: list[ActionClass] = []
    for side, word in ((LEFT, "left"), (RIGHT, "right")):
        rows.append(
            ActionClass(
                f"drink_{word}",
                f"{word}_hand",
                f"drinks from a cup held in the {word} hand",
                partial(drink, side=side),
                side,
                ObjectKind.CUP,
            )
        )
    for side, word in ((LEFT, "left"), (RIGHT, "right")):
        rows.append(
            ActionClass(
                f"phone_{word}",
                f"{word}_hand",
                f"talks on a phone held in the {word} hand",
                partial(phone_call, side=side),
                side,
                ObjectKind.PHONE,
            )
        )
    for side, word in ((LEFT, "left"), (RIGHT, "right")):
        rows.append(
            ActionClass(
                f"wave_{word}", f"{word}_hand", f"waves the {word} hand", partial(wave, side=side), side
            )
        )
    # The chair stands where `Postures.seated_pelvis` expects it; the generator draws it there.
    rows.append(
        ActionClass(
            "sit_down",
            "full_body",
            "sits down on a chair",
            sit_down,
            starts=Stance.STANDING,
            ends=Stance.SEATED,
        )
    )
    rows.append(
        ActionClass(
            "stand_up",
            "full_body",
            "stands up from a chair",
            stand_up,
            starts=Stance.SEATED,
            ends=Stance.STANDING,
        )
    )
    rows.append(ActionClass("fall_down", "full_body", "falls to the floor", fall_down, ends=Stance.LYING))
    rows.append(ActionClass("kick", "full_body", "kicks forward with one leg", kick))
    return tuple(rows)


CLASSES: tuple[ActionClass, ...] = _table()
CLASS_NAMES: tuple[str, ...] = tuple(a.name for a in CLASSES)
# Never drawn unless asked for by name (see the module docstring).
EXTRA_CLASSES: tuple[ActionClass, ...] = (
    ActionClass("raise_both_arms", "full_body", "raises both arms above the head", raise_both_arms),
)


def action_by_name(name: str) -> ActionClass:
    """A class of CLASSES or EXTRA_CLASSES by its name."""
    for action in (*CLASSES, *EXTRA_CLASSES):
        if action.name == name:
            return action
    known = ", ".join(a.name for a in (*CLASSES, *EXTRA_CLASSES))
    raise ValueError(f"unknown simulated action {name!r}; expected one of {known}")


def class_index(name: str) -> int:
    """Index of a class by its name (for command lines and label maps)."""
    if name not in CLASS_NAMES:
        raise ValueError(f"unknown simulated action {name!r}; expected one of {', '.join(CLASS_NAMES)}")
    return CLASS_NAMES.index(name)
