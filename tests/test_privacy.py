"""Face boxes and blurring (core/privacy.py): the face region really is blurred, the rest is not."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.camera import DEFAULT_CAMERA, DEPTH_CAMERA
from core.frame import Body
from core.privacy import (
    FACE_BOX_M,
    PrivacyMode,
    blur_faces,
    blur_regions,
    face_box,
    face_boxes,
    hide_depth_faces,
)

CAMERA = DEFAULT_CAMERA.scaled(640, 360)


def person(head: tuple[float, float, float], *, color_pixels: bool = True, tracking_id: int = 1) -> Body:
    joints = np.zeros((25, 3), np.float32)
    joints[:] = (head[0], head[1] - 0.8, head[2])  # the rest of the body somewhere below
    joints[3] = head
    joints[2] = (head[0], head[1] - 0.2, head[2])
    uv, _ = CAMERA.project(joints)
    if not color_pixels:
        uv[:] = np.nan
    return Body(tracking_id, joints, np.full(25, 2, np.int8), uv)


def texture(shape=(360, 640, 3), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, shape, dtype=np.uint8)


def detail(image: np.ndarray) -> float:
    """Mean absolute difference between horizontal neighbours: high for texture, ~0 when blurred."""
    return float(np.abs(np.diff(image.astype(np.int16), axis=1)).mean())


def test_face_box_is_centred_on_the_head_and_sized_by_depth():
    near, far = face_box(person((0.0, 0.3, 2.0)), CAMERA), face_box(person((0.0, 0.3, 4.0)), CAMERA)
    head_pixel, _ = CAMERA.project(np.array([0.0, 0.3, 2.0]))
    assert (near[:2] + near[2:]) / 2 == pytest.approx(head_pixel, abs=0.01)
    side_near, side_far = near[2] - near[0], far[2] - far[0]
    assert side_near == pytest.approx(FACE_BOX_M * CAMERA.focal / 2.0)
    assert side_near == pytest.approx(2 * side_far)  # twice as far: half the size


def test_face_box_prefers_the_sensors_own_colour_pixel():
    body = person((0.0, 0.3, 2.0))
    body.joints_color[3] = (100.0, 50.0)  # the SDK's mapper disagrees with the camera model
    box = face_box(body, CAMERA)
    assert (box[:2] + box[2:]) / 2 == pytest.approx((100.0, 50.0))
    body.joints_color[3] = np.nan  # unmappable: the camera model places it
    projected, _ = CAMERA.project(body.joints[3])
    assert (face_box(body, CAMERA)[:2] + face_box(body, CAMERA)[2:]) / 2 == pytest.approx(projected, abs=0.01)
    # A glitch's pixel far off the image: the blur missed the face (no box at all in the image).
    for glitch in ((1e30, 50.0), (-3000.0, 50.0)):
        body.joints_color[3] = glitch
        box = face_box(body, CAMERA)
        assert (box[:2] + box[2:]) / 2 == pytest.approx(projected, abs=0.01)


def test_without_a_head_the_neck_places_a_larger_box_then_the_shoulders_then_there_is_none():
    body = person((0.0, 0.3, 2.0))
    body.joints[3] = 0.0
    box = face_box(body, CAMERA)
    neck, _ = CAMERA.project(body.joints[2])
    assert box is not None and (box[:2] + box[2:]) / 2 == pytest.approx(neck, abs=0.01)
    assert box[2] - box[0] > FACE_BOX_M * CAMERA.focal / 2.0
    # Head and neck 0 0 0, the rest tracked (a replay of NTU's files): her face was left sharp.
    body.joints[20] = (0.0, -0.05, 2.0)  # the spine at the shoulders, 35 cm below where the head was
    body.joints_color[20] = CAMERA.project(body.joints[20])[0]
    body.joints[2] = 0.0
    box = face_box(body, CAMERA)
    head, _ = CAMERA.project(np.array([0.0, 0.3, 2.0]))
    assert box is not None and box[0] < head[0] < box[2] and box[1] < head[1] < box[3]
    body.joints[[4, 8, 20]] = 0.0  # nothing of the upper body: no face to place
    assert face_box(body, CAMERA) is None


def test_a_head_the_sensor_does_not_track_gives_way_to_a_tracked_neck():
    # Its position kept from frames ago, far from where she is now: her face went unblurred.
    body = person((0.0, 0.3, 2.0))
    body.joints[3] = (-1.0, 0.5, 2.0)
    body.joints_color[3] = CAMERA.project(body.joints[3])[0]
    body.states[3] = 0
    neck, _ = CAMERA.project(body.joints[2])
    box = face_box(body, CAMERA)
    assert box is not None and (box[:2] + box[2:]) / 2 == pytest.approx(neck, abs=0.01)
    body.states[:] = 0  # nothing tracked: the head's position is better than no box
    box = face_box(body, CAMERA)
    assert (box[:2] + box[2:]) / 2 == pytest.approx(body.joints_color[3], abs=0.01)


def test_a_head_with_no_usable_depth_gives_way_to_the_neck():
    # A damaged or mis-fitted frame: a head at the sensor's own plane or behind it has no size there.
    for depth in (0.0, -1.5, 0.01):
        body = person((0.0, 0.3, 2.0))
        body.joints[3] = (0.1, 0.3, depth)
        box = face_box(body, CAMERA)
        neck, _ = CAMERA.project(body.joints[2])
        assert box is not None and np.isfinite(box).all(), depth
        assert (box[:2] + box[2:]) / 2 == pytest.approx(neck, abs=0.01)


def test_blur_faces_blurs_the_face_and_leaves_everything_else_untouched():
    image = texture()
    original = image.copy()
    bodies = [person((-0.5, 0.3, 2.0)), person((0.6, 0.2, 3.5), color_pixels=False, tracking_id=2)]
    out = blur_faces(image, bodies, CAMERA)
    assert np.array_equal(image, original)  # pure: the input is not changed
    boxes = face_boxes(bodies, CAMERA, image.shape[:2])
    assert len(boxes) == 2
    outside = np.ones(image.shape[:2], bool)
    for x0, y0, x1, y1 in boxes:
        outside[y0:y1, x0:x1] = False
        face_before, face_after = original[y0:y1, x0:x1], out[y0:y1, x0:x1]
        assert detail(face_before) > 50 and detail(face_after) < 0.1 * detail(face_before)
        # Nothing of the texture is left at the scale of a face's features (a 4-pixel grid).
        assert np.corrcoef(face_before[::4, ::4].ravel(), face_after[::4, ::4].ravel())[0, 1] < 0.2
    assert np.array_equal(out[outside], original[outside])


def _room_with_a_face(centre: np.ndarray, face_mm: float, radius_px: float, seed: int) -> np.ndarray:
    """A depth image: a wall at 4 m, a face of relief +-40 mm at `face_mm` around pixel `centre`, and
    pixels the sensor could not read (0) on the face's edge."""
    rng = np.random.default_rng(seed)
    depth = rng.integers(3990, 4010, (424, 512)).astype(np.uint16)
    v, u = np.mgrid[:424, :512]
    distance = np.hypot(u - centre[0], v - centre[1])
    face = distance <= radius_px
    depth[face] = (face_mm + rng.integers(-40, 41, face.sum())).astype(np.uint16)
    depth[(distance > radius_px) & (distance <= radius_px + 2) & (rng.random(depth.shape) < 0.5)] = 0
    return depth


def test_depth_faces_are_hidden_where_the_joints_project_into_the_depth_camera():
    """Close to the sensor a depth image shows a face's relief. The body's colour pixels say nothing about
    the depth image: its face boxes come from projecting the joints through the depth camera. Averaged
    down as colour is, the face was mixed with the wall and the unread pixels (a smear of surfaces from
    the head back to the wall, points half a metre from the sensor); the box now reads as no
    measurement, so nothing of the face or its outline is kept and nothing is invented."""
    near = person((-0.3, 0.3, 1.2))  # colour pixels of a 640x360 image, nowhere near its depth pixels
    centre, _ = DEPTH_CAMERA.project(near.joints[3])
    depth = _room_with_a_face(centre, 1200.0, 0.09 * DEPTH_CAMERA.focal / 1.2, seed=1)
    original = depth.copy()
    out = hide_depth_faces(depth, [near])
    assert np.array_equal(depth, original) and out.dtype == np.uint16
    (x0, y0, x1, y1), = face_boxes([near], DEPTH_CAMERA, depth.shape, sensor_pixels=False)
    face = np.abs(original.astype(int) - 1200) <= 40
    inside = np.zeros(depth.shape, bool)
    inside[y0:y1, x0:x1] = True
    assert face.sum() > 400 and inside[face].all() and (out[inside] == 0).all()
    assert np.array_equal(out[~inside], original[~inside])  # the rest as it was
    assert hide_depth_faces(depth, []) is depth


def test_a_face_at_the_edge_is_clipped_and_one_outside_is_skipped():
    image = texture()
    at_edge = person((-1.75, 0.3, 2.0))  # head pixel near the left edge
    behind = person((0.0, 0.3, -1.0), color_pixels=False)  # behind the camera: no box
    boxes = face_boxes([at_edge, behind], CAMERA, image.shape[:2])
    assert len(boxes) == 1 and boxes[0][0] == 0 and boxes[0][2] > 0
    out = blur_faces(image, [at_edge, behind], CAMERA)
    x0, y0, x1, y1 = boxes[0]
    assert detail(out[y0:y1, x0:x1]) < 0.1 * detail(image[y0:y1, x0:x1])


def test_no_faces_returns_the_image_itself_and_views_are_accepted():
    image = texture()
    assert blur_faces(image, [], CAMERA) is image
    bgra = np.dstack([texture(), np.full((360, 640), 255, np.uint8)])
    out = blur_regions(bgra[..., :3], np.array([[10, 10, 50, 50]]))
    assert out.flags.c_contiguous and out.shape == (360, 640, 3)
    assert detail(out[10:50, 10:50]) < 0.1 * detail(bgra[10:50, 10:50, :3])


def test_modes_say_whether_colour_may_be_shown():
    assert PrivacyMode("off").shows_color and PrivacyMode("blur").shows_color
    assert not PrivacyMode("skeleton").shows_color


def test_depth_faces_are_hidden_around_the_sensors_own_depth_pixel_of_the_head(shared_data: Path) -> None:
    """Checked against the sensor rather than the projection under test: NTU's files keep each joint's
    pixel in the depth image as the Kinect mapped it (depthX, depthY)."""
    from recordings.ntu import read_skeleton

    skeleton = read_skeleton(shared_data / "ntu" / "skeletons" / "S001C001P001R001A001.skeleton")
    for frame in skeleton.frames[::20]:
        ntu = frame[0]
        body = Body(ntu.body_id, ntu.joints[:, :3].astype(np.float32), np.full(25, 2, np.int8),
                    ntu.joints[:, 5:7].astype(np.float32))
        u, v = np.round(ntu.joints[3, 3:5]).astype(int)  # the sensor's own depth pixel of the head
        depth = _room_with_a_face((u, v), float(ntu.joints[3, 2]) * 1000, 6, seed=2)
        out = hide_depth_faces(depth, [body])
        assert (out[v - 6:v + 7, u - 6:u + 7] == 0).all(), (u, v)


def test_the_pixel_box_covers_the_whole_face_box_rounding_outwards():
    """A face box's edges fall between pixels: the blurred pixels are those it touches at all, so no row
    or column of the face is left sharp at a fractional edge."""
    body = person((0.0, 0.3, 2.0))
    body.joints_color[3] = (100.3, 50.6)  # edges at fractions of a pixel
    box = face_box(body, CAMERA)
    (x0, y0, x1, y1), = face_boxes([body], CAMERA, (360, 640))
    assert (x0, y0) == (int(np.floor(box[0])), int(np.floor(box[1])))
    assert (x1, y1) == (int(np.ceil(box[2])), int(np.ceil(box[3])))
    assert x1 > box[2] and y1 > box[3] and x0 < box[0] and y0 < box[1]
