"""core/room.py: depth -> points, colouring through the camera, the floor from feet, room coordinates,
field of view, bone tubes and the rendering camera -- all without a renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.room import (
    FloorPlane,
    RoomFrame,
    ViewCamera,
    bone_segments,
    clip_to_floor,
    depth_points,
    field_of_view_scenery,
    fit_floor,
    floor_grid,
    foot_positions,
    frustum_corners,
    frustum_segments,
    overview_camera,
    part_centre,
    point_colours,
    tube_mesh,
)
from core.skeleton import KINECT_V2
from recordings.clip import open_recording

DEPTH = ColorCamera(fx=368.2, fy=367.4, cx=256.3, cy=208.2, width=512, height=424)


def test_depth_points_unproject_every_reading_through_the_depth_camera() -> None:
    depth = np.full((424, 512), 2000, np.uint16)
    depth[0, 0] = 0  # no reading
    depth[10, 20] = 300  # nearer than the sensor measures
    points, pixels = depth_points(depth, DEPTH)
    assert len(points) == 424 * 512 - 2
    assert np.allclose(points[:, 2], 2.0)
    # Extent of a wall 2 m away: the image corners through the pinhole.
    assert points[:, 0].min() == pytest.approx((0 - 256.3) * 2 / 368.2, abs=1e-5)
    assert points[:, 0].max() == pytest.approx((511 - 256.3) * 2 / 368.2, abs=1e-5)
    assert points[:, 1].max() == pytest.approx(208.2 * 2 / 367.4, abs=1e-5)
    back, _ = DEPTH.project(points)
    assert np.abs(back - pixels).max() < 1e-3
    coarse, coarse_pixels = depth_points(depth, DEPTH, step=4)
    assert len(coarse) == 106 * 128 - 1 and (coarse_pixels % 4 == 0).all()
    with pytest.raises(ValueError, match="depth image is 100x424, the depth camera is 512x424"):
        depth_points(np.zeros((424, 100), np.uint16), DEPTH)


def test_point_colours_sample_the_colour_image_where_the_colour_camera_sees() -> None:
    image = np.zeros((1080, 1920, 3), np.uint8)
    image[:, :960] = (0, 0, 255)  # BGR red on the left
    image[:, 960:] = (255, 0, 0)  # blue on the right
    points = np.array(
        [
            [-0.5, 0.0, 2.0],  # u = cx + fx (x + tx) / z < 960: red
            [0.5, 0.0, 2.0],  # blue
            [3.0, 0.0, 1.0],  # beyond the colour camera's view
            [0.0, 0.0, -1.0],  # behind it
        ],
        np.float32,
    )
    rgb, seen = point_colours(points, image, DEFAULT_CAMERA)
    assert seen.tolist() == [True, True, False, False]
    assert rgb[0].tolist() == [1.0, 0.0, 0.0] and rgb[1].tolist() == [0.0, 0.0, 1.0]
    assert rgb[2].tolist() == [0.0, 0.0, 0.0]
    # A half-size recording uses the camera scaled to it: the same colours.
    small, small_seen = point_colours(points, image[::2, ::2], DEFAULT_CAMERA)
    assert np.array_equal(small, rgb) and np.array_equal(small_seen, seen)


def _pitched_floor(pitch_deg: float, height: float, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Camera-space points of a floor `height` below a sensor pitched down by pitch_deg, at room
    positions x (right) / y (forward)."""
    pitch = np.radians(pitch_deg)
    # Room (right, forward, up) -> camera (left, up, forward) for a sensor tilted down by `pitch`.
    right = np.array([-1.0, 0.0, 0.0])
    forward = np.array([0.0, np.sin(pitch), np.cos(pitch)])
    up = np.array([0.0, np.cos(pitch), -np.sin(pitch)])
    return xs[:, None] * right + ys[:, None] * forward - height * up


def test_fit_floor_recovers_a_pitched_floor_despite_lifted_and_wrong_feet() -> None:
    rng = np.random.default_rng(3)
    xs, ys = rng.uniform(-1.5, 1.5, 400), rng.uniform(1.0, 4.0, 400)
    feet = _pitched_floor(20.0, 1.8, xs, ys) + rng.normal(0, 0.01, (400, 3))
    lifted = _pitched_floor(20.0, 1.8 - 0.25, xs[:60], ys[:60])  # swinging feet, 25 cm up
    on_bed = _pitched_floor(20.0, 1.8 - 0.55, rng.uniform(1, 2, 40), rng.uniform(2, 3, 40))
    floor = fit_floor(np.concatenate([feet, lifted, on_bed]))
    assert floor is not None and floor.spread_axes == 2
    expected_normal = np.array([0.0, np.cos(np.radians(20)), -np.sin(np.radians(20))])
    assert np.degrees(np.arccos(floor.normal @ expected_normal)) < 0.5
    assert floor.height_m == pytest.approx(1.8, abs=0.01)
    assert floor.tilt_deg() == pytest.approx(20.0, abs=0.5)
    assert floor.inliers == pytest.approx(400, abs=8)
    assert np.median(np.abs(floor.distance(feet))) < 0.01


def test_fit_floor_levels_what_the_feet_cannot_tell() -> None:
    rng = np.random.default_rng(4)
    # One person standing still: their feet fix the height, not the tilt.
    standing = np.array([[0.1, -1.1, 2.5], [-0.1, -1.1, 2.5]]) + rng.normal(0, 0.01, (80, 2, 3))
    floor = fit_floor(standing.reshape(-1, 3))
    assert floor is not None and floor.spread_axes == 0
    assert floor.normal.tolist() == [0.0, 1.0, 0.0] and floor.height_m == pytest.approx(1.1, abs=0.01)
    # Walking along a line towards a pitched sensor: the slope along the line is measured, the roll
    # across it comes from `up`.
    ys = rng.uniform(1.0, 4.0, 200)
    line = _pitched_floor(15.0, 1.5, rng.normal(0, 0.05, 200), ys) + rng.normal(0, 0.01, (200, 3))
    floor = fit_floor(line)
    assert floor is not None and floor.spread_axes == 1
    assert floor.tilt_deg() == pytest.approx(15.0, abs=1.0) and abs(floor.normal[0]) < 0.01
    assert floor.height_m == pytest.approx(1.5, abs=0.02)
    # Two people standing on a level floor, each tracker's feet a few cm off: noise, not a tilt.
    two = np.concatenate([
        np.array([-0.9, -1.0, 3.0]) + rng.normal(0, 0.015, (60, 3)),
        np.array([0.9, -0.97, 3.4]) + rng.normal(0, 0.015, (60, 3)),
    ])
    floor = fit_floor(two)
    assert floor is not None and floor.tilt_deg() == 0.0
    assert fit_floor(standing.reshape(-1, 3)[:5]) is None


def test_foot_positions_keep_tracked_feet_only() -> None:
    level = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]])  # room z up is camera y up
    joints, states = _body((0, 0, 1), (0, 0, 1), (0, 0, 1), (0.0, 3.0, 0.9), level, np.random.default_rng(0))
    joints, states = np.stack([joints, joints]), np.stack([states, states])
    assert len(foot_positions(joints, states, KINECT_V2)) == 4
    states[0, 15] = 1  # inferred left foot
    joints[1, 19] = 0  # absent right foot
    assert len(foot_positions(joints, states, KINECT_V2)) == 2


def test_room_frame_puts_the_floor_at_zero_and_the_sensor_above_it() -> None:
    floor = FloorPlane(np.array([0.0, np.cos(0.3), -np.sin(0.3)]), 1.6, 100, 2)
    room = RoomFrame.from_floor(floor)
    assert np.allclose(room.rotation @ room.rotation.T, np.eye(3), atol=1e-9)
    assert np.linalg.det(room.rotation) == pytest.approx(1.0)  # no mirror
    assert room.sensor_position.tolist() == pytest.approx([0.0, 0.0, 1.6])
    on_floor = _pitched_floor(np.degrees(0.3), 1.6, np.array([0.7, -0.4]), np.array([2.0, 3.0]))
    assert room.to_room(on_floor) == pytest.approx(np.array([[0.7, 2.0, 0.0], [-0.4, 3.0, 0.0]]), abs=1e-5)
    # Camera space X is the sensor's left: seen from behind the sensor that is room -x.
    left = room.to_room(np.array([1.0, 0.0, 2.0]))
    ahead = room.to_room(np.array([0.0, 0.0, 2.0]))
    assert left[0] < ahead[0] == pytest.approx(0.0, abs=1e-6) and ahead[1] > 0
    unknown = RoomFrame.from_floor(None)
    assert unknown.to_room(np.array([1.0, 2.0, 3.0])).tolist() == [-1.0, 3.0, 2.0]


def test_frustum_far_corners_are_the_image_corners() -> None:
    segments = frustum_segments(DEPTH, 0.5, 4.5)
    assert segments.shape == (12, 2, 3)
    far = segments[4:8, 0]
    assert np.allclose(far[:, 2], 4.5)
    uv, _ = DEPTH.project(far)
    assert np.allclose(uv, [[0, 0], [512, 0], [512, 424], [0, 424]], atol=1e-3)
    near = segments[:4, 0]
    assert np.allclose(near[:, 2], 0.5)


def test_bone_segments_leave_out_absent_joints() -> None:
    joints = np.random.default_rng(0).uniform(-1, 1, (25, 3)).astype(np.float32)
    states = np.full(25, 2, np.int8)
    assert bone_segments(joints, states, KINECT_V2).shape == (24, 2, 3)
    states[7] = 0  # HandLeft not tracked: WristLeft-HandLeft and HandLeft-HandTipLeft go
    joints[3] = 0  # Head absent (NTU writes zeros): Neck-Head goes
    segments = bone_segments(joints, states, KINECT_V2)
    assert segments.shape == (21, 2, 3)
    assert not np.isin(joints[7], segments).all()
    assert bone_segments(joints, np.zeros(25, np.int8), KINECT_V2).shape == (0, 2, 3)


def test_part_centres() -> None:
    joints = np.arange(75, dtype=np.float32).reshape(25, 3) + 1
    states = np.full(25, 2, np.int8)
    assert part_centre("right_hand", joints, states, KINECT_V2).tolist() == joints[11].tolist()
    states[11] = 0
    assert part_centre("right_hand", joints, states, KINECT_V2).tolist() == joints[10].tolist()
    assert np.allclose(part_centre("full_body", joints, states, KINECT_V2), joints[states > 0].mean(0))
    assert part_centre("left_hand", joints, np.zeros(25, np.int8), KINECT_V2) is None
    with pytest.raises(ValueError, match="unknown part 'head'"):
        part_centre("head", joints, states, KINECT_V2)


def test_tube_mesh_surrounds_each_segment_at_the_radius() -> None:
    segments = np.array([[[0, 0, 0], [0, 0, 1]], [[1, 1, 1], [2, 1, 1]]], np.float32)
    vertices, triangles = tube_mesh(segments, 0.05, sides=6)
    assert vertices.shape == (2 * 2 * 6, 3) and triangles.shape == (2 * 2 * 6, 3)
    assert triangles.min() == 0 and triangles.max() == len(vertices) - 1
    first = vertices[:12]
    assert np.allclose(np.hypot(first[:, 0], first[:, 1]), 0.05, atol=1e-6)
    assert sorted(set(np.round(first[:, 2], 6))) == [0.0, 1.0]
    second = vertices[12:]
    assert np.allclose(np.hypot(second[:, 1] - 1, second[:, 2] - 1), 0.05, atol=1e-6)
    assert tube_mesh(np.zeros((0, 2, 3)), 0.05)[0].shape == (0, 3)


def test_floor_grid_lines_lie_on_the_floor() -> None:
    grid = floor_grid((-1.0, 1.0), (0.0, 2.0), 1.0)
    assert grid.shape == (6, 2, 3) and (grid[..., 2] == 0).all()


def test_view_camera_projects_like_a_look_at_pinhole() -> None:
    view = ViewCamera(eye=(0.0, -3.0, 1.0), target=(0.0, 2.0, 1.0), width=640, height=480, fov_deg=60)
    rotation = view.extrinsic()[:3, :3]
    assert np.allclose(rotation @ rotation.T, np.eye(3)) and np.linalg.det(rotation) == pytest.approx(1)
    (centre, right, above, behind), in_front = view.project(
        np.array([[0, 2, 1], [1, 2, 1], [0, 2, 2], [0, -4, 1]], np.float64)
    )
    assert centre == pytest.approx([319.5, 239.5])
    assert right[0] == pytest.approx(319.5 + view.focal * 1 / 5) and right[1] == pytest.approx(239.5)
    assert above[1] == pytest.approx(239.5 - view.focal * 1 / 5)
    assert in_front.tolist() == [True, True, True, False] and np.isnan(behind).all()
    assert view.focal == pytest.approx(240 / np.tan(np.radians(30)))


def test_overview_camera_sees_the_sensor_and_the_focus() -> None:
    room = RoomFrame.from_floor(FloorPlane(np.array([0.0, 1.0, 0.0]), 1.2, 10, 0))
    view = overview_camera(room, np.array([0.0, 3.0, 1.0]), width=800, height=450)
    pixels, in_front = view.project(np.stack([room.sensor_position, np.array([0.0, 3.0, 1.0])]))
    assert in_front.all()
    assert ((pixels >= 0) & (pixels < [800, 450])).all()


def _ntu_feet(path: Path) -> np.ndarray:
    with open_recording(path, color=False) as clip:
        return np.concatenate(
            [foot_positions(b.joints, b.states, KINECT_V2) for f in clip.frames() for b in f.bodies]
        )


def test_floor_from_real_ntu_feet_agrees_across_clips_of_one_camera(shared_data: Path) -> None:
    """Three NTU clips from camera S001C001 (one person drinking, one reading, two people fighting):
    the sensor's height over the floor found from each clip's feet agrees, and the feet stand on it."""
    skeletons = shared_data / "ntu" / "skeletons"
    heights = []
    for name in ("S001C001P001R001A001", "S001C001P001R001A011", "S001C001P001R001A050"):
        feet = _ntu_feet(skeletons / f"{name}.skeleton")
        floor = fit_floor(feet)
        assert floor is not None, name
        assert floor.inliers >= 0.7 * len(feet), name
        assert np.median(np.abs(floor.distance(feet))) < 0.02, name
        heights.append(floor.height_m)
    assert max(heights) - min(heights) < 0.03
    assert 0.3 < np.mean(heights) < 2.5


def test_a_sensor_pitched_down_at_real_people_is_levelled_by_their_spines(shared_data: Path) -> None:
    """NTU's sensors look down at the room, and a person standing still spreads no feet to fit a tilt: the
    floor was levelled to the sensor's own up, so people leaned 15-18 degrees towards it and a second
    person floated 0.8 m up. Their spines say where up is."""
    from core.room import body_up, standing_spines

    skeletons = shared_data / "ntu" / "skeletons"
    for name in ("S001C001P001R001A001", "S001C001P001R001A011", "S002C001P003R001A003"):
        with open_recording(skeletons / f"{name}.skeleton", color=False) as clip:
            bodies = [b for f in clip.frames() for b in f.bodies]
        feet = np.concatenate([foot_positions(b.joints, b.states, KINECT_V2) for b in bodies])
        spines = np.concatenate([standing_spines(b.joints, b.states, KINECT_V2) for b in bodies])
        up = body_up(spines)
        floor = fit_floor(feet, up=up)
        assert floor is not None and 12 < floor.tilt_deg() < 20, name
        room = RoomFrame.from_floor(floor)
        lean = np.degrees(np.arccos(np.median(spines @ room.rotation[2])))  # room z in camera space
        assert lean < 5, name  # was 15-18 levelled to the sensor
        assert np.median(np.abs(floor.distance(feet))) < 0.03, name
        assert 1.2 < floor.height_m < 2.0, name  # NTU's cameras: about 1.7 m up
    # Few spines, or ones within a few degrees of the sensor's up (a level sensor), leave its up alone.
    assert np.array_equal(body_up(spines[:10]), [0.0, 1.0, 0.0])
    tipped = np.array([[0.0, np.cos(np.radians(4)), -np.sin(np.radians(4))]] * 40)
    assert np.array_equal(body_up(tipped), [0.0, 1.0, 0.0])
    lying = np.array([[0.0, np.cos(np.radians(60)), -np.sin(np.radians(60))]] * 40)
    assert np.array_equal(body_up(lying), [0.0, 1.0, 0.0])


Direction = tuple[float, float, float]


def _body(spine: Direction, thigh: Direction, shin: Direction, hips: Direction, to_camera: np.ndarray,
          rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Joints (25, 3) in camera space of a body whose spine (base to shoulder), thighs (knee to hip) and
    shins (ankle to knee) point along the given room directions (x right, y forward, z up) from its hips,
    and their states (those joints tracked)."""
    joints, states = np.zeros((25, 3)), np.zeros(25, np.int8)
    spine, thigh, shin = (np.asarray(v, float) / np.linalg.norm(v) for v in (spine, thigh, shin))
    hips = np.asarray(hips, float)
    for side in (np.array([-0.1, 0.0, 0.0]), np.array([0.1, 0.0, 0.0])):
        name = "Left" if side[0] < 0 else "Right"
        ankle = hips + side - 0.4 * thigh - 0.4 * shin
        for part, point in (("Hip", hips + side), ("Knee", hips + side - 0.4 * thigh), ("Ankle", ankle),
                            ("Foot", ankle + 0.1 * np.cross(shin, (1.0, 0.0, 0.0)))):  # toes ahead
            joints[KINECT_V2.index(part + name)] = point
    joints[KINECT_V2.index("SpineBase")] = hips + 0.05 * spine
    joints[KINECT_V2.index("SpineShoulder")] = hips + 0.5 * spine
    used = np.abs(joints).sum(1) > 0
    joints[used] += rng.normal(0, 0.01, (used.sum(), 3))
    states[used] = 2
    return joints @ to_camera.T, states


def test_people_in_bed_or_sitting_do_not_tip_the_room() -> None:
    """A patient lies in bed for hours under a sensor pitched down at the room: spines alone took the bed
    for the floor's up (87 degrees off at a 45 degree pitch; 47 with the bed's head raised), and a visitor
    sitting back with the feet under the seat 15."""
    from core.room import body_up, standing_spines

    rng = np.random.default_rng(3)
    raised = (0, np.cos(np.radians(40)), np.sin(np.radians(40)))
    kinds = {  # spine, thigh, shin (room directions, pointing up the body), where the hips are
        "standing": ((0, 0.05, 1), (0, 0, 1), (0, 0, 1), (0.0, 3.0, 0.9)),
        "lying flat, head away": ((0, 1, 0), (0, 1, 0), (0, 1, 0), (0.8, 3.0, 0.6)),
        "sitting up in bed": (raised, (0, 1, 0), (0, 1, 0), (0.8, 3.0, 0.6)),
        # On a high seat, knees forward and down, feet drawn back under it: hip to ankle 0.55 m, in line
        # with the spine leaning back.
        "sitting back, feet under the seat": ((0, 0.26, 0.97), (0, 0.9, 0.44), (0, -0.5, 0.87),
                                              (-0.8, 2.5, 0.7)),
    }
    for pitch in (20.0, 40.0):
        t = np.radians(pitch)
        # Columns: room x, y, z in camera space (x right as the sensor sees, y up, z forward), pitched down.
        to_camera = np.array([[1.0, 0.0, 0.0], [0.0, np.sin(t), np.cos(t)], [0.0, np.cos(t), -np.sin(t)]]).T
        true_up = to_camera @ np.array([0.0, 0.0, 1.0])
        spines = {kind: np.concatenate([standing_spines(*_body(*kinds[kind], to_camera, rng), KINECT_V2)
                                        for _ in range(100)]) for kind in kinds}
        everyone = np.concatenate([spines["standing"][:30], *(spines[k] for k in kinds if k != "standing")])
        assert np.degrees(np.arccos(body_up(everyone) @ true_up)) < 3, pitch
        # Nobody standing: the sensor's own up, as before. Sitting, the knees bend; lying flat, the legs
        # are straight and in line, and the spine too far from the sensor's up.
        assert len(spines["sitting up in bed"]) == len(spines["sitting back, feet under the seat"]) == 0
        nobody = np.concatenate([spines[k] for k in kinds if k != "standing"])
        assert np.array_equal(body_up(nobody), [0.0, 1.0, 0.0])
        # Nor the floor: the feet on the mattress are not the floor's (it was fitted to them, 0.6 m up,
        # the patient in bed outnumbering the staff's feet); those on the floor are.
        up = body_up(everyone)
        feet = {kind: np.concatenate([foot_positions(*_body(*kinds[kind], to_camera, rng), KINECT_V2, up)
                                      for _ in range(100)]) for kind in kinds}
        assert len(feet["lying flat, head away"]) == len(feet["sitting up in bed"]) == 0
        assert len(feet["standing"]) == len(feet["sitting back, feet under the seat"]) == 200


def test_clip_to_floor_keeps_what_is_above_and_outlines_the_cut() -> None:
    # A pyramid from a point 1 m up to a square 2 m below it: the floor cuts it half-way.
    apex = np.array([0.0, 0.0, 1.0])
    base = np.array([[-1, 1, -1], [1, 1, -1], [1, 3, -1], [-1, 3, -1]], np.float64)
    edges = [[base[i], base[(i + 1) % 4]] for i in range(4)]
    segments = np.array([[apex, corner] for corner in base] + edges)
    above, outline = clip_to_floor(segments)
    assert above.shape == (4, 2, 3) and (above[..., 2] >= 0).all()
    assert np.allclose(above[:, 1], apex + (base - apex) / 2)
    assert outline.shape == (4, 2, 3) and (outline[..., 2] == 0).all()
    corners = {tuple(np.round(p, 6)) for p in outline[:, 0, :2]}
    assert corners == {(-0.5, 0.5), (0.5, 0.5), (0.5, 1.5), (-0.5, 1.5)}
    assert np.allclose(outline[:, 1], np.roll(outline[:, 0], -1, axis=0))  # a closed ring
    flying = segments + np.array([0.0, 0.0, 5.0])
    kept, none = clip_to_floor(flying)
    assert len(kept) == 8 and len(none) == 0


def test_field_of_view_scenery_stops_at_the_floor_and_grids_what_the_sensor_sees() -> None:
    # A sensor 1.6 m up, pitched 15 degrees down, over a level floor.
    rng = np.random.default_rng(5)
    floor = fit_floor(_pitched_floor(15.0, 1.6, rng.uniform(-1.5, 1.5, 200), rng.uniform(1.0, 4.0, 200)))
    assert floor is not None
    room = RoomFrame.from_floor(floor)
    field_of_view, grid = field_of_view_scenery(room, DEPTH)
    assert field_of_view.dtype == grid.dtype == np.float32
    assert (field_of_view[..., 2] >= -1e-5).all()  # nothing below the floor
    assert np.isclose(field_of_view[..., 2], 0.0, atol=1e-5).any()  # the outline on the floor
    assert len(grid) and np.allclose(grid[..., 2], 0.0)
    far = room.to_room(frustum_corners(DEPTH, 4.5))
    assert np.allclose(far, room.to_room(frustum_segments(DEPTH, 0.5, 4.5)[4:8, 0]), atol=1e-6)
    # The grid reaches out to the far corners of the view (on the 0.5 m lattice), and 1 m at least.
    assert grid[..., 0].min() <= min(far[:, 0].min() + 0.5, -1.0) and grid[..., 0].max() >= 1.0
    assert grid[..., 1].min() == 0.0 and grid[..., 1].max() >= far[:, 1].max() - 0.5
    # A cross where the sensor is: the field of view starts at 0.5 m, and people's distance was a guess.
    cross = field_of_view[-3:]
    assert np.allclose(cross.mean(1), [0.0, 0.0, room.sensor_height_m], atol=1e-6)
    assert np.allclose(np.linalg.norm(cross[:, 1] - cross[:, 0], axis=1), 0.16)
    unknown = RoomFrame.from_floor(None)
    whole, no_grid = field_of_view_scenery(unknown, DEPTH)
    assert np.allclose(whole[:-3], unknown.to_room(frustum_segments(DEPTH))) and no_grid.shape == (0, 2, 3)


def test_the_live_3d_panel_does_not_import_the_recorder() -> None:
    """The depth camera is a core constant: the GUI panel does not pull in the recorder for it."""
    import subprocess
    import sys

    code = ("import sys, live.room3d; "
            "print('recordings.recorder' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          cwd=Path(__file__).resolve().parents[1], env={**__import__("os").environ,
                                                                        "QT_QPA_PLATFORM": "offscreen"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
