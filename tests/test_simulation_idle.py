"""Idle time in the simulated room: movement that is none of the action classes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from simulation.actions import CLASS_NAMES, CLASSES, ObjectKind
from simulation.idle import ArmIdle, Fidget, IdleState, arm_rest, idle_arm_start, idle_time
from simulation.motion import (
    HAND,
    HAND_TIP,
    HEAD,
    SHOULDER,
    SIDES,
    WRIST,
    BodyShape,
    Choreography,
    Postures,
    pose_body,
)
from simulation.person import Floor, Person, Spot
from simulation.room import Chair

STATES = [
    IdleState(seated=False, holding=(None, None)),
    IdleState(seated=False, holding=(ObjectKind.CUP, None)),
    IdleState(seated=False, holding=(None, ObjectKind.PHONE), talking=True, partner_yaw=0.4),
    IdleState(seated=True, holding=(ObjectKind.PHONE, ObjectKind.CUP)),
    IdleState(seated=True, holding=(None, None), talking=True),
]


def _idle_joints(state: IdleState, seed: int, seconds: float = 30.0) -> tuple[np.ndarray, list]:
    rng = np.random.default_rng(seed)
    body = Postures(BodyShape.random(rng, (1.5, 1.95)))
    start = body.seated_start() if state.seated else body.standing_start()
    for side in SIDES:
        if state.holding[side] is not None:
            idle_arm_start(body, side, ArmIdle.HOLD, start)
    choreography = Choreography(start)
    end, fidgets = idle_time(choreography, body, 0.0, seconds, rng, state)
    assert end >= seconds
    joints = pose_body(body.shape, choreography.evaluate(np.arange(0.0, end, 1 / 30))).joints
    return joints, fidgets


@pytest.mark.parametrize("state", STATES)
def test_idle_time_moves_but_never_looks_like_an_action(state: IdleState) -> None:
    kinds = set()
    for seed in range(6):
        joints, fidgets = _idle_joints(state, seed)
        kinds |= {kind for kind, _, _ in fidgets}
        head = joints[:, HEAD]
        for side in SIDES:
            wrist, hand = joints[:, WRIST[side]], joints[:, HAND[side]]
            raised = wrist[:, 1] > joints[:, SHOULDER[side], 1] + 0.05
            if state.holding[side] is not None:
                # A held cup or phone stays well below the face: never drinking, never phoning.
                assert (head[:, 1] - hand[:, 1]).min() > 0.2, (state, seed, side)
                assert not raised.any()
            else:
                # An empty hand above the shoulder is at the head (touching, scratching), never waving.
                assert (np.linalg.norm(hand[raised] - head[raised], axis=1) < 0.25).all(), (state, seed, side)
        # Not a statue: over 30 s the joints travel metres between them (a still pose: nothing).
        assert np.linalg.norm(np.diff(joints, axis=0), axis=-1).sum() > 3.0
    assert Fidget.GESTURE in kinds and Fidget.LOOK_AROUND in kinds and Fidget.REST_ARMS in kinds
    if state.free_sides:
        assert Fidget.TOUCH_FACE in kinds
    assert (Fidget.GLANCE_AT_PHONE in kinds) == (ObjectKind.PHONE in state.holding)
    assert (Fidget.SHIFT_WEIGHT in kinds) == (not state.seated)
    assert (Fidget.LEAN in kinds) == state.seated


def test_touching_the_face_brings_an_empty_hand_to_the_head() -> None:
    state = IdleState(seated=False, holding=(ObjectKind.CUP, None))
    touched = 0
    for seed in range(10):
        joints, fidgets = _idle_joints(state, seed)
        for kind, start, end in fidgets:
            if kind is Fidget.TOUCH_FACE:
                frames = slice(int(start * 30), int(end * 30))
                fingers = joints[frames][:, [HAND[1], HAND_TIP[1]]]  # the right hand: the left holds the cup
                assert np.linalg.norm(fingers - joints[frames, None, HEAD], axis=-1).min() < 0.2
                touched += 1
    assert touched >= 3


def test_arm_rests_differ_and_crossed_arms_cross_the_midline() -> None:
    body = Postures(BodyShape())
    wrists = {style: arm_rest(body, 0, style)["wrist"] for style in ArmIdle}
    assert len({tuple(np.round(w, 3)) for w in wrists.values()}) == len(ArmIdle)
    assert wrists[ArmIdle.CROSSED][0] < 0 < wrists[ArmIdle.HANG][0]  # the left wrist on the right side
    right = arm_rest(body, 1, ArmIdle.CROSSED)["wrist"]
    assert right[0] == pytest.approx(-wrists[ArmIdle.CROSSED][0])


def _visit(seed: int) -> list:
    """Every segment of one person's visit to a room with a chair and another person standing by."""
    chair = Chair(0.3, 3.2, 0.0, 0.46, (90, 90, 90))
    spots = [Spot(0.3, 3.0, 0.0, chair, taken=True), Spot(-0.9, 2.6, 0.0, None), Spot(0.9, 3.8, 0.0, None)]
    floor = Floor(spots, math.radians(35))
    person = Person(1, spots[0], floor, np.random.default_rng(seed), 30.0, height_m=(1.5, 1.9),
                    speed=(0.8, 1.3), already_there=True)
    motions, first = [], 0
    while (motion := person.next_motion(first)) is not None:
        motions.append(motion)
        first += len(motion.root)
    return motions


def test_ground_truth_is_the_action_itself_and_everything_else_is_no_action() -> None:
    labelled = 0
    for seed in range(8):
        for motion in _visit(seed):
            labels = motion.action
            named = [k for k, label in enumerate(labels) if label is not None]
            if motion.activity != "action":
                assert not named  # idle, talking, walking, getting up: no action
                continue
            assert named, "an action segment labels its action"
            assert len(set(filter(None, labels))) == 1 and labels[named[0]] in CLASS_NAMES
            assert named == list(range(named[0], named[-1] + 1))  # one contiguous run
            # Before it the arm gets ready (0.6 s, or nothing for whole-body actions); after it the body
            # holds still 0.3 s: neither is the action.
            assert len(labels) - 1 - named[-1] == pytest.approx(9, abs=1)
            # The label starts where the action does: after the 0.6 s arm preparation (18 frames at
            # 30 fps) for a one-hand action, at once for a whole-body one.
            action = next(a for a in CLASSES if a.name == labels[named[0]])
            assert named[0] == (18 if action.acting_side is not None else 0), action.name
            still = motion.controls.wrist[named[-1] + 1:]
            assert np.abs(still - still[0]).max() < 0.05  # only the sway moves it
            labelled += 1
    assert labelled >= 10


def test_a_visit_walks_about_talks_and_carries_things() -> None:
    activities, holding_idle = set(), 0
    for seed in range(12):
        motions = _visit(seed)
        activities |= {m.activity for m in motions}
        holding_idle += sum(len(m.root) for m in motions if m.activity == "idle" and any(m.held))
        walks = [k for k, m in enumerate(motions) if m.activity == "walking"]
        if len(walks) > 1:  # a walk that is neither the last (leaving) ends somewhere in the room
            end = motions[walks[0]].root[-1]
            assert 1.9 < end[1] < 4.5
    assert {"idle", "walking", "action"} <= activities
    assert holding_idle > 30 * 20  # seconds of idle time with a cup or phone in hand
