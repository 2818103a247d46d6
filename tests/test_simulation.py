from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from core.glimpse import PARTS as GLIMPSE_PARTS
from simulation import CLASSES, PARTS, ObjectKind, SimulationConfig, class_index, generate_clip
from simulation.actions import wave
from simulation.clip import RENDER_CAMERA, Placement
from simulation.figure import draw_figure
from simulation.idle import ArmIdle, idle_arm_start
from simulation.motion import (
    ELBOW,
    HAND,
    LEFT,
    RIGHT,
    SHOULDER,
    WRIST,
    BodyShape,
    Choreography,
    Postures,
    pose_body,
)
from simulation.room import SensorPose
from simulation.tracker import TrackerModel

HAND_LEFT, HAND_RIGHT = 7, 11
SHOULDER_LEFT, SHOULDER_RIGHT = 4, 8


def clip_of(name: str, seed: int, **config: object):
    return generate_clip(class_index(name), np.random.default_rng(seed), SimulationConfig(**config))


def _limbs_moved_from(clip, frame: int) -> np.ndarray:
    """Per frame, how far (m) the furthest joint but the head and neck is from where it was at `frame`,
    relative to the spine base: the sway moves it a few cm, an action tens of cm."""
    joints = clip.true_joints[:, 0].astype(np.float64)
    limbs = np.delete(joints - joints[:, :1], [2, 3], axis=1)
    return np.linalg.norm(limbs - limbs[frame], axis=-1).max(axis=1)


@pytest.mark.parametrize("name", ["wave_left", "wave_right", "drink_right", "kick", "sit_down"])
def test_the_labelled_interval_is_where_the_body_performs_the_action(name: str) -> None:
    # The sidecar's action interval trains the idle time around it as no_action: it must be the time
    # the body moves for the action, not some other time (before it, and after it, only the head turns).
    for seed in range(4):
        clip = clip_of(name, seed)
        interval, times = clip.action_interval, clip.timestamps
        assert 0.2 <= interval.start < interval.end < times[-1] - 0.15
        from_first, from_last = _limbs_moved_from(clip, 0), _limbs_moved_from(clip, -1)
        assert from_first[times < interval.start].max() < 0.07
        assert from_last[times > interval.end].max() < 0.07
        if name.startswith("wave"):
            # A wave is quick at both ends: the arm leaves its rest at once and is back at the end.
            departs = times[np.argmax(from_first > 0.1)]
            arrives = times[len(times) - 1 - np.argmax(from_last[::-1] > 0.1)]
            assert interval.start <= departs <= interval.start + 0.25, (seed, interval, departs)
            assert interval.end - 0.25 <= arrives <= interval.end, (seed, interval, arrives)


def test_the_class_table_names_an_unambiguous_part_for_each_class() -> None:
    assert PARTS == GLIMPSE_PARTS
    assert len(CLASSES) >= 8 and len({a.name for a in CLASSES}) == len(CLASSES)
    for action in CLASSES:
        assert action.focus in PARTS
        if action.acting_side is None:
            assert action.focus == "full_body"
        else:
            assert action.focus == ("left_hand" if action.acting_side == LEFT else "right_hand")
            assert action.name.endswith("_left" if action.acting_side == LEFT else "_right")
    assert {a.focus for a in CLASSES} == set(PARTS)
    with pytest.raises(ValueError, match="unknown simulated action 'juggle'"):
        class_index("juggle")


def test_a_clip_is_determined_by_the_seed() -> None:
    a, b = clip_of("drink_left", 11), clip_of("drink_left", 11)
    other = clip_of("drink_left", 12)
    np.testing.assert_array_equal(a.joints, b.joints)
    np.testing.assert_array_equal(a.states, b.states)
    np.testing.assert_array_equal(a.timestamps, b.timestamps)
    assert a.body_ids == b.body_ids and a.details == b.details
    # Frames do not depend on the order they are drawn in.
    late_first = b.frames[len(b.frames) - 1], b.frames[0]
    np.testing.assert_array_equal(a.frames[0], late_first[1])
    np.testing.assert_array_equal(a.frames[len(a.frames) - 1], late_first[0])
    assert a.joints.shape != other.joints.shape or not np.array_equal(a.joints, other.joints)


def test_clip_arrays_have_the_project_shapes_and_timestamps_at_the_frame_rate() -> None:
    clip = clip_of("kick", 3)
    frames = clip.num_frames
    assert clip.joints.shape == (frames, 1, 25, 3) and clip.joints.dtype == np.float32
    assert clip.states.shape == (frames, 1, 25) and clip.states.dtype == np.int8
    assert clip.joints_color.shape == (frames, 1, 25, 2) and clip.present.shape == (frames, 1)
    np.testing.assert_allclose(np.diff(clip.timestamps), 1 / 30)
    assert len(clip.frames) == frames
    image = clip.frames[0]
    assert image.shape == (360, 640, 3) and image.dtype == np.uint8
    assert clip.camera == RENDER_CAMERA and (clip.camera.width, clip.camera.height) == (640, 360)


@pytest.mark.parametrize("name", ["wave_right", "sit_down", "fall_down"])
def test_every_joint_of_every_frame_is_inside_the_rendered_image(name: str) -> None:
    clip = clip_of(name, 5)
    uv, valid = clip.camera.project(clip.true_joints)
    assert valid.all()
    assert (uv[..., 0] >= 0).all() and (uv[..., 0] < 640).all()
    assert (uv[..., 1] >= 0).all() and (uv[..., 1] < 360).all()
    # The skeleton's colour pixels are the projection of the reported joints into the same image.
    present = clip.present[:, 0]
    expected, _ = clip.camera.project(clip.joints[present, 0])
    np.testing.assert_allclose(clip.joints_color[present, 0], expected, atol=1e-3)
    assert 1.5 <= clip.details["distance_m"] <= 4.5


def test_the_tracker_reports_noise_inferred_and_lost_joints_like_a_kinect() -> None:
    clip = clip_of("fall_down", 8)
    states = clip.states[clip.present[:, 0], 0]
    assert set(np.unique(states)) <= {0, 1, 2}
    assert (states == 2).mean() > 0.75  # mostly tracked
    assert (states == 1).any()  # some inferred (hand tips, feet, occluded joints, the body on the floor)
    error = np.linalg.norm(clip.joints - clip.true_joints, axis=-1)[clip.present[:, 0], 0]
    tracked_error = float(np.median(error[states == 2]))
    assert 0.002 < tracked_error < 0.03
    # Without faults every joint is tracked, and only the noise remains.
    perfect = clip_of("fall_down", 8, tracker=TrackerModel(faults=0.0))
    assert (perfect.states == 2).all() and perfect.present.all()


def _arm_travel(clip, joint: int) -> float:
    """How far a joint moves relative to the spine (so whole-body motion does not count), metres."""
    present = clip.present[:, 0]
    relative = clip.true_joints[present, 0, joint] - clip.true_joints[present, 0, 1]
    return float(np.linalg.norm(np.diff(relative, axis=0), axis=-1).sum())


@pytest.mark.parametrize("seed", [1, 2])
def test_one_hand_actions_move_that_hand_more_than_the_other(seed: int) -> None:
    for action in CLASSES:
        if action.acting_side is None:
            continue
        clip = generate_clip(CLASSES.index(action), np.random.default_rng(seed))
        acting = HAND_LEFT if action.acting_side == LEFT else HAND_RIGHT
        other = HAND_RIGHT if action.acting_side == LEFT else HAND_LEFT
        assert _arm_travel(clip, acting) > 2.0 * _arm_travel(clip, other), action.name


def _posed(start: dict, times: np.ndarray, script=None):
    shape = BodyShape()
    body = Postures(shape)
    choreography = Choreography(start)
    if script is not None:
        script(choreography, body)
    return shape, pose_body(shape, choreography.evaluate(times))


def test_handedness_a_person_facing_the_sensor_raising_the_left_hand_moves_joint_7_up() -> None:
    shape = BodyShape()
    body = Postures(shape)
    times = np.linspace(0, 3, 31)
    start = body.standing_start()
    _, local = _posed(start, times, lambda c, b: wave(c, b, 0.2, np.random.default_rng(0), 1.0, side=LEFT))
    sensor = SensorPose(1.0, 0.0)
    placement = Placement(0.0, 3.0, math.atan2(0.0, 3.0), sensor)  # straight in front, facing the sensor
    rotation, translation = placement.local_to_camera(len(times))
    camera = local.transformed(rotation, translation).joints
    # Facing the sensor, the person's left is the sensor's right: smaller camera X, smaller colour u
    # (the Kinect's colour image is mirrored), as NTU's ShoulderLeft is left of ShoulderRight.
    assert camera[0, SHOULDER_LEFT, 0] < camera[0, SHOULDER_RIGHT, 0]
    assert camera[0, HAND_LEFT, 0] < camera[0, HAND_RIGHT, 0]
    u, _ = RENDER_CAMERA.project(camera[0, [SHOULDER_LEFT, SHOULDER_RIGHT]])
    assert u[0, 0] < u[1, 0]
    assert camera[:, HAND_LEFT, 1].max() - camera[0, HAND_LEFT, 1] > 0.6  # joint 7 goes up above the head
    assert camera[:, HAND_LEFT, 1].max() > camera[0, 3, 1]
    assert np.ptp(camera[:, HAND_RIGHT, 1]) < 0.05  # the right hand stays down


def test_ntu_subjects_facing_the_camera_have_the_same_handedness(shared_data) -> None:
    from recordings.ntu import read_skeleton

    body = read_skeleton(shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton").frames[0][0]
    assert body.xyz[SHOULDER_LEFT, 0] < body.xyz[SHOULDER_RIGHT, 0]
    assert body.color[SHOULDER_LEFT, 0] < body.color[SHOULDER_RIGHT, 0]
    # Our placement of a person facing the sensor gives the same order (see the test above).


def test_inverse_kinematics_keeps_bone_lengths_in_every_frame() -> None:
    clip = clip_of("phone_right", 4)
    joints = clip.true_joints[:, 0].astype(np.float64)
    for side in (LEFT, RIGHT):
        upper = np.linalg.norm(joints[:, ELBOW[side]] - joints[:, SHOULDER[side]], axis=-1)
        lower = np.linalg.norm(joints[:, WRIST[side]] - joints[:, ELBOW[side]], axis=-1)
        assert np.ptp(upper) < 1e-4 and np.ptp(lower) < 1e-4


def _object_pixels(clip, frame_index: int) -> np.ndarray:
    """Pixels the held objects change in one frame (drawn with and without them)."""
    figure = clip.frames.figures[0]
    bare = replace(figure, held=(None, None))
    with_objects = clip.frames.background.copy()
    without = clip.frames.background.copy()
    draw_figure(with_objects, figure, frame_index, clip.camera, clip.frames.lighting)
    draw_figure(without, bare, frame_index, clip.camera, clip.frames.lighting)
    return np.abs(with_objects.astype(int) - without.astype(int)).sum(-1) > 30


@pytest.mark.parametrize("name, hand", [("drink_right", HAND_RIGHT), ("phone_left", HAND_LEFT)])
def test_the_held_object_is_drawn_at_the_acting_hand(name: str, hand: int) -> None:
    clip = clip_of(name, 21, distractor_probability=0.0)
    side = 0 if hand == HAND_LEFT else 1
    assert clip.held[side] == (ObjectKind.CUP if name.startswith("drink") else ObjectKind.PHONE)
    assert clip.held[1 - side] is None
    seen = 0
    for index in np.linspace(0, clip.num_frames - 1, 8).astype(int):
        changed = _object_pixels(clip, index)
        if changed.sum() < 5:
            continue  # hidden behind the hand or the head in this frame
        seen += 1
        rows, cols = np.nonzero(changed)
        hand_uv, _ = clip.camera.project(clip.true_joints[index, 0, hand])
        depth = float(clip.true_joints[index, 0, hand, 2])
        reach = 0.2 * clip.camera.focal / depth  # every changed pixel within 20 cm of the hand joint
        distance = np.hypot(cols - hand_uv[0], rows - hand_uv[1])
        assert distance.max() < reach, (index, distance.max(), reach)
    assert seen >= 4


def test_low_light_clips_run_at_15_fps_and_are_darker() -> None:
    dark = clip_of("wave_left", 6, low_light_probability=1.0)
    bright = clip_of("wave_left", 6)
    assert dark.low_light and dark.fps == 15.0
    np.testing.assert_allclose(np.diff(dark.timestamps), 1 / 15)
    assert dark.frames[0].mean() < 0.6 * bright.frames[0].mean()


def test_idle_arm_postures_and_bad_configs() -> None:
    body = Postures(BodyShape())
    start = body.standing_start()
    idle_arm_start(body, RIGHT, ArmIdle.HIP, start)
    assert start["wrist"][RIGHT][0] < 0 < start["wrist"][LEFT][0]  # mirrored to the person's right
    _, kinematics = _posed(start, np.zeros(1))
    assert kinematics.joints[0, HAND[RIGHT], 1] > kinematics.joints[0, HAND[LEFT], 1]
    with pytest.raises(ValueError, match="distance_m"):
        SimulationConfig(distance_m=(4.0, 2.0))
    with pytest.raises(ValueError, match="class index 10 out of range"):
        generate_clip(10, np.random.default_rng(0))
