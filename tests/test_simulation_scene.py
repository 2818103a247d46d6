from __future__ import annotations

import math

import numpy as np
import pytest

from core.frame import Frame
from simulation import CLASS_NAMES
from simulation.clip import DEPTH_HALF_FOV
from simulation.scene import SimulatedScene


def run(scene: SimulatedScene, seconds: float) -> list[tuple[Frame, list]]:
    out = []
    for _ in range(int(round(seconds * scene.fps))):
        frame = scene.next_frame()
        out.append((frame, scene.truth()))
    return out


@pytest.mark.parametrize("low_light, fps", [(False, 30.0), (True, 15.0)])
def test_timestamps_are_exactly_one_frame_period_apart(low_light: bool, fps: float) -> None:
    scene = SimulatedScene(seed=2, low_light=low_light, color=False)
    assert scene.fps == fps
    frames = [scene.next_frame() for _ in range(40)]
    assert [f.index for f in frames] == list(range(40))
    assert [f.timestamp for f in frames] == [i / fps for i in range(40)]
    assert all(f.color is None for f in frames)


def test_people_come_and_go_with_stable_tracking_ids() -> None:
    scene = SimulatedScene(seed=4, max_people=3, color=False)
    history = run(scene, 150.0)
    counts = np.array([len(frame.bodies) for frame, _ in history])
    assert counts.max() <= 3 and (counts >= 2).any() and (counts == 0).any()
    ids = [{b.tracking_id for b in frame.bodies} for frame, _ in history]
    assert len(set().union(*ids)) >= 4  # several visits
    everyone = {t.person for _, truth in history for t in truth}
    assert len(everyone) >= 4
    # A person keeps their tracking id while in view; ids are never reused by someone else.
    owner: dict[int, int] = {}
    for _, truth in history:
        for person in truth:
            if person.tracking_id is not None:
                assert owner.setdefault(person.tracking_id, person.person) == person.person
    # Ground truth names real classes, and people also walk and stand idle.
    actions = {t.action for _, truth in history for t in truth if t.action is not None}
    assert actions <= set(CLASS_NAMES) and len(actions) >= 3
    assert {t.activity for _, truth in history for t in truth} >= {"walking", "idle", "action"}


def test_a_person_who_leaves_the_view_comes_back_with_a_new_tracking_id() -> None:
    # A Kinect forgets a body that leaves its view and gives it a new id when it is seen again; the live
    # app's tracks, panels and colours follow that, so the simulated room must do the same.
    scene = SimulatedScene(seed=43, max_people=4, color=False)
    visits: dict[int, list[int | None]] = {}
    for _, truth in run(scene, 20.0):
        for person in truth:
            ids = visits.setdefault(person.person, [None])
            if person.tracking_id != ids[-1]:
                ids.append(person.tracking_id)
    seen = {person: [i for i in ids if i is not None] for person, ids in visits.items()}
    came_back = [person for person, ids in seen.items() if len(ids) > 1]
    assert came_back, "someone should leave the view and come back within 20 s"
    for person, ids in seen.items():
        assert len(set(ids)) == len(ids), (person, ids)


def test_reported_bodies_are_inside_the_depth_camera_view_and_shaped_like_sensor_bodies() -> None:
    scene = SimulatedScene(seed=7, color=False)
    seen = 0
    for frame, _ in run(scene, 40.0):
        for body in frame.bodies:
            seen += 1
            assert body.joints.shape == (25, 3) and body.joints.dtype == np.float32
            assert body.states.shape == (25,) and body.states.dtype == np.int8
            assert body.joints_color.shape == (25, 2) and body.joints_color.dtype == np.float32
            spine = body.joints[1]
            assert 0.5 < spine[2] < 4.5 and abs(math.atan2(spine[0], spine[2])) < DEPTH_HALF_FOV
            assert isinstance(body.tracking_id, int) and body.tracking_id > 2**56
    assert seen > 100


def test_the_scene_is_determined_by_its_seed_and_draws_its_people() -> None:
    a, b = SimulatedScene(seed=9), SimulatedScene(seed=9)
    for _ in range(60):
        fa, fb = a.next_frame(), b.next_frame()
    assert fa.color is not None and fa.color.shape == (360, 640, 3) and fa.color.dtype == np.uint8
    np.testing.assert_array_equal(fa.color, fb.color)
    assert [x.tracking_id for x in fa.bodies] == [x.tracking_id for x in fb.bodies]
    for x, y in zip(fa.bodies, fb.bodies, strict=True):
        np.testing.assert_array_equal(x.joints, y.joints)
    # Where a body is reported, the image differs from the empty room around its joints.
    assert fa.bodies, "someone should be in view two seconds in"
    uv = fa.bodies[0].joints_color[fa.bodies[0].states == 2]
    uv = uv[np.isfinite(uv).all(1)].astype(int)
    inside = (uv[:, 0] >= 0) & (uv[:, 0] < 640) & (uv[:, 1] >= 0) & (uv[:, 1] < 360)
    u, v = uv[inside, 0], uv[inside, 1]
    changed = np.abs(fa.color[v, u].astype(int) - a.background[v, u].astype(int)).sum(-1) > 40
    assert changed.mean() > 0.7


def test_bad_scene_arguments() -> None:
    with pytest.raises(ValueError, match="max_people"):
        SimulatedScene(max_people=0)
    with pytest.raises(ValueError, match="fps"):
        SimulatedScene(fps=0)


def test_bodies_carry_the_scenes_ground_truth() -> None:
    from core.timeline import NO_ACTION

    scene = SimulatedScene(seed=5, max_people=2, color=False)
    seen = set()
    for frame, truth in run(scene, 40.0):
        by_id = {t.tracking_id: t for t in truth if t.tracking_id is not None}
        for body in frame.bodies:
            expected = by_id[body.tracking_id].action or NO_ACTION
            assert body.truth == expected
            seen.add(body.truth)
    assert NO_ACTION in seen and len(seen - {NO_ACTION}) >= 2 and seen <= {*CLASS_NAMES, NO_ACTION}


def test_a_scene_performs_the_actions_it_is_asked_for() -> None:
    """An extra class (never drawn by default) is performed when named; the default draws stay as they
    were, so the demo model's room and training clips do not change."""
    from core.timeline import NO_ACTION
    from simulation.actions import EXTRA_CLASSES

    assert "raise_both_arms" not in CLASS_NAMES and [a.name for a in EXTRA_CLASSES] == ["raise_both_arms"]
    scene = SimulatedScene(seed=3, max_people=1, color=False, actions=("raise_both_arms",))
    frames = run(scene, 14.0)
    seen = {body.truth for frame, _ in frames for body in frame.bodies}
    assert seen == {"raise_both_arms", NO_ACTION}
    raised = [body for frame, _ in frames for body in frame.bodies if body.truth == "raise_both_arms"]
    # Both hands (joints 7 and 11) above the head (joint 3) for part of the action (y is up).
    above = [b for b in raised if b.joints[7, 1] > b.joints[3, 1] and b.joints[11, 1] > b.joints[3, 1]]
    assert len(above) > 0.3 * len(raised)
    default = run(SimulatedScene(seed=4, max_people=2, color=False), 20.0)
    named = run(SimulatedScene(seed=4, max_people=2, color=False, actions=CLASS_NAMES), 20.0)
    for (a, _), (b, _) in zip(default, named, strict=True):
        assert [x.truth for x in a.bodies] == [x.truth for x in b.bodies]
        assert all(np.array_equal(x.joints, y.joints) for x, y in zip(a.bodies, b.bodies, strict=True))
    with pytest.raises(ValueError, match="unknown simulated action 'juggle'"):
        SimulatedScene(actions=("juggle",))
    with pytest.raises(ValueError, match="add stand_up"):
        SimulatedScene(actions=("sit_down", "kick"))
    with pytest.raises(ValueError, match="starts standing"):
        SimulatedScene(actions=("stand_up",))


def test_idle_time_in_the_room_is_not_motionless() -> None:
    """Between actions people hold cups and phones, touch their faces, walk about and stand together."""
    from core.timeline import NO_ACTION

    scene = SimulatedScene(seed=3, max_people=2, color=False)
    holding, face, together, activities = 0, 0, 0, set()
    for frame, truth in run(scene, 150.0):
        activities |= {t.activity for t in truth}
        by_id = {t.tracking_id: t for t in truth if t.tracking_id is not None}
        for body in frame.bodies:
            if body.truth != NO_ACTION:
                continue
            person = by_id[body.tracking_id]
            for side, hand in ((0, 7), (1, 11)):
                if person.holding[side] is not None:
                    holding += 1
                    assert body.joints[3, 1] - body.joints[hand, 1] > 0.15  # a held object is not at the face
                elif np.linalg.norm(body.joints[hand] - body.joints[3]) < 0.2:
                    face += 1
        if len(truth) == 2 and math.dist(truth[0].position, truth[1].position) < 1.3:
            together += 1
    assert holding > 30 * 20 and face > 10 and together > 30 * 10
    assert {"idle", "talking", "walking", "action"} <= activities
