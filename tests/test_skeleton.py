from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.camera import DEFAULT_CAMERA
from core.skeleton import KINECT_V1, KINECT_V2, layout_by_name, normalize_window, view_transform


def test_layouts_are_trees_rooted_at_the_spine_base():
    for layout in (KINECT_V2, KINECT_V1):
        assert len(layout.parents) == layout.num_joints
        assert layout.parents.count(-1) == 1
        assert len(layout.bones) == layout.num_joints - 1
        for joint in range(layout.num_joints):  # every joint reaches the root without a cycle
            seen = set()
            while joint != -1:
                assert joint not in seen
                seen.add(joint)
                joint = layout.parents[joint]
    assert KINECT_V2.num_joints == 25 and KINECT_V1.num_joints == 20
    assert KINECT_V2.joint_names[KINECT_V2.left_hand[0]] == "HandLeft"
    assert KINECT_V1.joint_names[KINECT_V1.right_hand[0]] == "HandRight"
    assert layout_by_name("kinect_v1") is KINECT_V1
    with pytest.raises(ValueError, match="unknown skeleton layout"):
        layout_by_name("openpose")


def random_rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    if np.linalg.det(q) < 0:
        q[:, 0] = -q[:, 0]
    return q


def standing_person(rng: np.random.Generator, frames: int = 12) -> np.ndarray:
    """A plausible Kinect v2 body in camera space (about 2.5 m away), with a little motion."""
    base = np.zeros((25, 3))
    base[[0, 1, 20, 2, 3]] = [[0, 0, 0], [0, 0.3, 0], [0, 0.55, 0], [0, 0.62, 0], [0, 0.75, 0]]
    base[[4, 5, 6, 7, 21, 22]] = [[0.2, 0.52, 0], [0.25, 0.25, 0], [0.27, 0.02, 0], [0.28, -0.05, 0],
                                   [0.28, -0.1, 0], [0.26, -0.05, 0.02]]
    base[[8, 9, 10, 11, 23, 24]] = base[[4, 5, 6, 7, 21, 22]] * [-1, 1, 1]
    base[[12, 13, 14, 15]] = [[0.1, -0.05, 0], [0.1, -0.5, 0], [0.1, -0.9, 0], [0.1, -0.95, 0.1]]
    base[[16, 17, 18, 19]] = base[[12, 13, 14, 15]] * [-1, 1, 1]
    motion = rng.normal(scale=0.02, size=(frames, 25, 3))
    return base[None] + motion + np.array([0.3, 0.1, 2.5])


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_normalisation_is_invariant_to_rigid_motion(seed):
    rng = np.random.default_rng(seed)
    body = standing_person(rng)
    joints = np.zeros((len(body), 2, 25, 3))
    joints[:, 0] = body
    rotation, shift = random_rotation(rng), rng.normal(scale=2.0, size=3)
    moved = joints.copy()
    moved[:, 0] = body @ rotation.T + shift
    a = normalize_window(joints, None, KINECT_V2)
    b = normalize_window(moved, None, KINECT_V2)
    np.testing.assert_allclose(a, b, atol=1e-4)
    assert np.all(b[:, 1] == 0), "the absent second body stays exactly zero"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_transform_has_orthonormal_axes_and_puts_the_spine_at_the_origin(seed):
    rng = np.random.default_rng(seed)
    body = standing_person(rng) @ random_rotation(rng).T
    transform = view_transform(body, None, KINECT_V2)
    np.testing.assert_allclose(transform.rotation @ transform.rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(transform.rotation) == pytest.approx(1.0)
    normalised = transform.apply(body)
    np.testing.assert_allclose(normalised[:, KINECT_V2.origin].mean(0), 0, atol=1e-5)
    # y runs up the spine, x from the right shoulder to the left one, spine length is the unit.
    spine = normalised[:, KINECT_V2.spine_top].mean(0) - normalised[:, KINECT_V2.origin].mean(0)
    np.testing.assert_allclose(spine, [0, 1, 0], atol=1e-5)
    left, right = KINECT_V2.shoulder_left, KINECT_V2.shoulder_right
    shoulders = normalised[:, left].mean(0) - normalised[:, right].mean(0)
    assert shoulders[0] > 0 and abs(shoulders[1]) < 0.3


def test_untracked_joints_and_empty_frames_do_not_move_the_frame_of_reference():
    rng = np.random.default_rng(0)
    body = standing_person(rng, frames=10)
    joints = np.zeros((10, 2, 25, 3))
    joints[:, 0] = body
    states = np.full((10, 2, 25), 2, dtype=np.int8)
    states[:, 1] = 0
    clean = normalize_window(joints, states, KINECT_V2)

    damaged, damaged_states = joints.copy(), states.copy()
    damaged[3, 0] = 0.0  # a frame where the body was lost
    damaged_states[3, 0] = 0
    damaged[5, 0, 4] = [9.0, 9.0, 9.0]  # garbage at a NotTracked shoulder
    damaged_states[5, 0, 4] = 0
    damaged[6, 0, 11] = np.nan
    out = normalize_window(damaged, damaged_states, KINECT_V2)
    assert np.all(out[3, 0] == 0) and np.all(out[5, 0, 4] == 0) and np.all(out[6, 0, 11] == 0)
    keep = np.ones(out.shape[:3], bool)
    keep[3, 0], keep[5, 0, 4], keep[6, 0, 11] = False, False, False
    keep[:, 1] = False
    # Dropping one noisy frame of ten moves the mean origin by a centimetre or so; the 9 m garbage
    # shoulder, had it counted, would move everything by metres.
    np.testing.assert_allclose(out[keep], clean[keep], atol=0.1)
    assert np.isfinite(out).all()
    unmasked = normalize_window(np.nan_to_num(damaged), None, KINECT_V2)
    assert np.abs(unmasked[keep] - clean[keep]).max() > 0.5


def test_all_zero_window_stays_zero():
    out = normalize_window(np.zeros((5, 2, 25, 3)), None, KINECT_V2)
    assert out.dtype == np.float32 and not out.any()


def test_wrong_joint_count_names_the_layout():
    with pytest.raises(ValueError, match="kinect_v2"):
        normalize_window(np.zeros((5, 1, 20, 3)), None, KINECT_V2)


def test_real_kinect_v2_capture_normalises_to_an_upright_body(shared_data):
    lines = (shared_data / "kinect_v2_csv" / "Ges01_wavehand.csv").read_text().strip().splitlines()
    rows = np.array([[float(v) for v in line.strip().rstrip(",").split(",")] for line in lines])
    values = rows[:, 1:].reshape(len(rows), 25, 4)
    joints, states = values[..., :3][:, None], values[..., 3].astype(np.int8)[:, None]
    out = normalize_window(joints, states, KINECT_V2)
    head_height = out[:, 0, KINECT_V2.head, 1].mean()
    foot_height = out[:, 0, [15, 19], 1].mean()
    assert 1.0 < head_height < 2.5 and foot_height < -2.0
    assert abs(out[:, 0, KINECT_V2.origin].mean(0)).max() < 0.05


def test_real_ntu_bodies_with_axis_joints_inferred_for_a_while_keep_the_axes_of_their_tracked_frames(
    shared_data,
):
    """Two real NTU performances whose spine or shoulder joints are inferred for part of some 2 s windows:
    the axes from the whole window stay within 6 degrees of those from its frames with all four tracked
    (15 degrees off before, when each axis was the difference of two separately weighted means)."""
    from recordings.ntu import read_skeleton

    layout = KINECT_V2
    axis_joints = [layout.origin, layout.spine_top, layout.shoulder_left, layout.shoulder_right]
    turns = []
    for name in ("S001C003P008R002A058", "S001C001P001R001A050"):
        clip = read_skeleton(shared_data / "ntu" / "skeletons" / f"{name}.skeleton").arrays(2)
        joints, states = clip.xyz[:, 0].astype(np.float64), clip.states[:, 0]
        for start in range(0, len(joints) - 60, 10):
            window, window_states = joints[start : start + 60], states[start : start + 60]
            tracked = (window_states[:, axis_joints] == 2).all(1)
            if tracked.sum() < 10 or tracked.all():
                continue
            truth = view_transform(window[tracked], window_states[tracked], layout).rotation
            axes = view_transform(window, window_states, layout).rotation
            turns.append(np.degrees(np.arccos(np.clip((np.trace(axes @ truth.T) - 1) / 2, -1, 1))))
    assert len(turns) >= 3 and max(turns) < 6.0, turns


def test_real_nucla_sequence_normalises_with_the_kinect_v1_layout(shared_data):
    sample = json.loads((shared_data / "nucla" / "all_sqe" / "a01_s01_e00_v01.json").read_text())
    joints = np.asarray(sample["skeletons"], dtype=np.float64)[:, None]
    out = normalize_window(joints, None, KINECT_V1)
    assert out.shape == joints.shape
    assert out[:, 0, KINECT_V1.head, 1].mean() > 1.0
    assert out[:, 0, KINECT_V1.shoulder_left, 0].mean() > 0 > out[:, 0, KINECT_V1.shoulder_right, 0].mean()


def test_an_inferred_shoulder_tilts_the_view_a_quarter_as_much_as_a_tracked_one():
    """The Kinect's guesses for hidden joints are often centimetres off: an inferred joint counts at a
    quarter of a tracked one in the axes."""
    layout = KINECT_V2
    joints = standing_person(np.random.default_rng(0), frames=4)
    shoulder = layout.shoulder_left
    joints[:2, shoulder, 2] += 0.3  # half the frames put the left shoulder 30 cm off, towards the camera
    states = np.full(joints.shape[:2], 2, np.int8)

    def tilt(states: np.ndarray) -> float:
        axes = view_transform(joints, states, layout).rotation
        flat = view_transform(joints[2:], None, layout).rotation  # the frames without the error
        return float(np.degrees(np.arccos(np.clip(axes[0] @ flat[0], -1, 1))))

    tracked = tilt(states)
    states[:2, shoulder] = 1  # the same error, on frames where the shoulder was inferred
    inferred = tilt(states)
    assert tracked > 1.0 and inferred < 0.5 * tracked


def test_a_person_walking_past_stays_upright_when_a_spine_or_shoulder_joint_is_inferred_for_a_while():
    """Axes from the difference of two joints' means, each weighted by its own states: walking 0.75 m/s
    across, the spine top inferred for the second half of the window tilted the body 43 degrees (its
    head 1.80 -> 0.95: a fall to the network), and a shoulder inferred while walking towards the sensor
    turned it 33 degrees."""
    layout = KINECT_V2
    frames = 20
    walk = np.linspace(0, 1.5, frames)[:, None]  # metres over the 2 s window
    upright = view_transform(standing_person(np.random.default_rng(0), frames), None, layout).rotation
    for joint, direction in ((layout.spine_top, [1.0, 0, 0]), (layout.shoulder_right, [0, 0, -1.0])):
        joints = standing_person(np.random.default_rng(0), frames) + walk[:, None] * direction
        states = np.full(joints.shape[:2], 2, np.int8)
        states[frames // 2 :, joint] = 1
        axes = view_transform(joints, states, layout).rotation
        turned = np.degrees(np.arccos(np.clip(np.sum(axes * upright, 1), -1, 1)))
        assert turned.max() < 2.0, (layout.joint_names[joint], turned)


def test_an_axis_whose_two_joints_are_never_seen_together_comes_from_their_means():
    # Spine top and middle tracked on alternate frames: no frame has both, and the axis fell back to the
    # camera's up and a standard size, for this person lying along the camera's x.
    layout = KINECT_V2
    joints = standing_person(np.random.default_rng(0), 10)[..., [1, 0, 2]]  # lying: the spine along x
    states = np.full(joints.shape[:2], 2, np.int8)
    states[::2, layout.spine_top] = 0
    states[1::2, layout.origin] = 0
    transform = view_transform(joints, states, layout)
    spine = np.linalg.norm(joints[1::2, layout.spine_top].mean(0) - joints[::2, layout.origin].mean(0))
    assert abs(transform.rotation[1] @ [1.0, 0, 0]) > 0.99
    assert transform.scale == pytest.approx(1 / spine, 0.01)  # its own size, not a standard one


def test_a_window_without_its_spine_keeps_a_persons_size():
    """A blanket or a bed rail over the chest: with the spine's top (or its middle) not tracked in the
    whole window, the scale was 1 / (1 m), the body 4-5 times smaller to the network than in every other
    window. The layout's typical spine length stands in."""
    body = standing_person(np.random.default_rng(1))  # spine 0.25 m
    states = np.full(body.shape[:2], 2, np.int8)
    whole = view_transform(body, states, KINECT_V2).scale
    for hidden in (KINECT_V2.spine_top, KINECT_V2.origin):
        covered = states.copy()
        covered[:, hidden] = 0
        assert view_transform(body, covered, KINECT_V2).scale == pytest.approx(whole, rel=0.15), hidden


@pytest.mark.parametrize("layout", [KINECT_V2, KINECT_V1])
def test_the_mirror_swaps_every_left_joint_with_its_right_and_is_its_own_inverse(layout) -> None:
    order = layout.mirror_order
    assert [order[i] for i in order] == list(range(layout.num_joints))
    for i, name in enumerate(layout.joint_names):
        expected = name.replace("Left", "Right") if "Left" in name else name.replace("Right", "Left")
        assert layout.joint_names[order[i]] == expected
    assert order[layout.index("HandLeft")] == layout.index("HandRight")


def test_a_joint_nearer_than_a_kinect_measures_is_kept_in_a_sensors_body_and_read_in_a_file() -> None:
    """Real recordings hold such joints (PKU-MMD 0016-M: a head at 0.23 m): dropped, a face there was no
    longer blurred. Only crops leave them out (core.glimpse)."""
    from core.frame import Body
    from core.privacy import face_box
    from core.skeleton import implausible_joints, without_implausible

    joints = np.tile(np.array([0.1, 0.2, 0.62], np.float32), (25, 1))
    joints[[2, 3, 4, 8, 20]] = (0.0, 0.3, 0.25)  # head, neck and shoulders leaning in
    states = np.full(25, 2, np.int8)
    kept, kept_states, dropped = without_implausible(joints, states)
    assert not dropped.any() and (kept == joints).all() and (kept_states == states).all()
    assert not implausible_joints(joints).any()  # a file with such a frame is read
    body = Body(1, kept, kept_states, np.full((25, 2), np.nan, np.float32))
    assert face_box(body, DEFAULT_CAMERA) is not None  # blurred


def test_a_body_is_where_its_spine_is_or_else_where_the_joints_it_has_are() -> None:
    from core.skeleton import body_centre

    joints = np.zeros((25, 3), np.float32)
    assert (body_centre(joints) == 0).all()  # nobody
    joints[3] = (1.0, 0.5, 3.0)
    joints[7] = (1.2, 0.0, 3.0)
    assert body_centre(joints) == pytest.approx((1.1, 0.25, 3.0))
    joints[KINECT_V2.origin] = (0.9, 0.0, 2.9)
    assert body_centre(joints) == pytest.approx((0.9, 0.0, 2.9))
