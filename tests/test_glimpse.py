from __future__ import annotations

import numpy as np
import pytest

from core.camera import DEFAULT_CAMERA
from core.glimpse import PARTS, GlimpseConfig, WindowCrops, crop_frame, crop_window, part_boxes
from core.skeleton import INFERRED, KINECT_V2, NOT_TRACKED, TRACKED

CAMERA = DEFAULT_CAMERA
STILL = GlimpseConfig(smoothing_s=0.0)
LEFT_HAND, LEFT_WRIST, LEFT_ELBOW = KINECT_V2.left_hand

# A person standing upright, metres from the spine base (x to the camera's left, y up).
_POSE = {
    "SpineBase": (0, 0), "SpineMid": (0, 0.3), "Neck": (0, 0.6), "Head": (0, 0.75),
    "ShoulderLeft": (0.18, 0.55), "ElbowLeft": (0.25, 0.3), "WristLeft": (0.28, 0.1),
    "HandLeft": (0.29, 0.03), "ShoulderRight": (-0.18, 0.55), "ElbowRight": (-0.25, 0.3),
    "WristRight": (-0.28, 0.1), "HandRight": (-0.29, 0.03), "HipLeft": (0.1, -0.05), "KneeLeft": (0.1, -0.45),
    "AnkleLeft": (0.1, -0.85), "FootLeft": (0.1, -0.9), "HipRight": (-0.1, -0.05), "KneeRight": (-0.1, -0.45),
    "AnkleRight": (-0.1, -0.85), "FootRight": (-0.1, -0.9), "SpineShoulder": (0, 0.55),
    "HandTipLeft": (0.3, -0.05), "ThumbLeft": (0.26, 0.02), "HandTipRight": (-0.3, -0.05),
    "ThumbRight": (-0.26, 0.02),
}
POSE = np.array([(*_POSE[name], 0.0) for name in KINECT_V2.joint_names])


def standing(frames: int, depth: float, x: float = 0.0, sway: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """A (T, 25, 3) person at `depth` metres walking sideways by `sway` metres; all joints tracked."""
    joints = np.repeat(POSE[None], frames, axis=0) + np.array([x, 0.0, depth])
    joints[:, :, 0] += sway * np.linspace(0, 1, frames)[:, None]
    return joints.astype(np.float32), np.full((frames, 25), TRACKED, np.int8)


def test_boxes_are_square_in_part_order_and_centred_on_the_projected_hands() -> None:
    joints, states = standing(6, 3.0, sway=0.4)
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    assert boxes.shape == (len(PARTS), 6, 4) and boxes.dtype == np.float32
    assert np.array_equal(boxes[..., 2], boxes[..., 3])
    for part, chain in ((0, KINECT_V2.left_hand), (1, KINECT_V2.right_hand)):
        projected, _ = CAMERA.project(joints[:, chain[0]])
        assert np.allclose(boxes[part, :, :2], projected, atol=1e-2)


def test_hand_box_side_scales_with_one_over_depth() -> None:
    near = part_boxes(*standing(4, 1.5), CAMERA, KINECT_V2, STILL)
    far = part_boxes(*standing(4, 4.5), CAMERA, KINECT_V2, STILL)
    assert near[0, :, 2] == pytest.approx(STILL.hand_size_m * CAMERA.focal / 1.5, rel=1e-4)
    assert near[0, 0, 2] / far[0, 0, 2] == pytest.approx(3.0, rel=1e-4)
    assert near[2, 0, 2] / far[2, 0, 2] == pytest.approx(3.0, rel=1e-3)  # the body box too


def test_hand_box_is_sized_at_the_hand_depth_not_the_body_depth() -> None:
    # A hand reaching towards the camera looks bigger than the body it belongs to: its box follows the
    # hand's own depth (moving the whole body cannot tell the two apart).
    joints, states = standing(4, 3.0)
    joints[:, LEFT_HAND, 2] = 1.5
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    assert boxes[0, :, 2] == pytest.approx(STILL.hand_size_m * CAMERA.focal / 1.5, rel=1e-4)
    assert boxes[1, :, 2] == pytest.approx(STILL.hand_size_m * CAMERA.focal / 3.0, rel=1e-4)


def test_a_body_with_one_usable_joint_still_gets_a_body_sized_box() -> None:
    # One joint spans no extent: the body box falls back to body_min_size_m at that joint's depth
    # rather than a zero-size box (a black crop).
    joints, states = standing(3, 2.0)
    states[:] = NOT_TRACKED
    states[:, KINECT_V2.index("Head")] = TRACKED
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    head, _ = CAMERA.project(joints[:, KINECT_V2.index("Head")])
    assert np.allclose(boxes[2, :, :2], head, atol=1e-2)
    assert boxes[2, :, 2] == pytest.approx(STILL.body_min_size_m * CAMERA.focal / 2.0, rel=1e-4)
    assert np.array_equal(boxes[2, :, 2], boxes[2, :, 3])


def test_body_box_holds_every_joint_with_a_margin() -> None:
    joints, states = standing(3, 2.5)
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    uv, _ = CAMERA.project(joints)
    cx, cy, side, _ = boxes[2, 0]
    assert (np.abs(uv[0, :, 0] - cx) < side / 2 * 0.95).all()
    assert (np.abs(uv[0, :, 1] - cy) < side / 2 * 0.95).all()
    height = uv[0, :, 1].max() - uv[0, :, 1].min()
    assert side == pytest.approx(height * (1 + 2 * STILL.body_margin), rel=1e-3)


def test_lost_hand_falls_back_to_wrist_then_elbow() -> None:
    joints, states = standing(4, 3.0)
    states[0, LEFT_HAND] = NOT_TRACKED  # -> wrist
    states[1, LEFT_HAND] = INFERRED  # an inferred hand still beats a tracked wrist
    states[2, [LEFT_HAND, LEFT_WRIST]] = NOT_TRACKED, INFERRED  # -> inferred wrist before tracked elbow
    states[3, [LEFT_HAND, LEFT_WRIST]] = NOT_TRACKED  # -> elbow
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    uv, _ = CAMERA.project(joints)
    expected = [LEFT_WRIST, LEFT_HAND, LEFT_WRIST, LEFT_ELBOW]
    assert np.allclose(boxes[0, :, :2], uv[np.arange(4), expected], atol=1e-2)
    elbow_side = STILL.hand_size_m * CAMERA.focal / joints[3, LEFT_ELBOW, 2]
    assert boxes[0, 3, 2] == pytest.approx(elbow_side, rel=1e-4)


def test_frames_without_the_hand_take_the_last_then_the_next_good_frame() -> None:
    joints, states = standing(6, 3.0, sway=0.5)
    states[np.ix_([0, 1, 4, 5], KINECT_V2.left_hand)] = NOT_TRACKED
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    assert np.allclose(boxes[0, [0, 1]], boxes[0, 2])  # start: the next good frame
    assert np.allclose(boxes[0, [4, 5]], boxes[0, 3])  # afterwards: the last good frame
    assert not np.allclose(boxes[0, 2], boxes[0, 3])  # the good frames themselves follow the sway


def test_hand_never_seen_sits_on_the_body_and_an_absent_body_gives_black_crops() -> None:
    joints, states = standing(3, 3.0)
    states[:, list(KINECT_V2.left_hand)] = NOT_TRACKED
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    assert np.allclose(boxes[0, :, :2], boxes[2, :, :2])
    assert np.isfinite(boxes).all()
    # A hand's size at the body's depth (3 m): what the hand would measure there, not the body's box.
    assert boxes[0, :, 2] == pytest.approx(STILL.hand_size_m * CAMERA.focal / 3.0, rel=1e-3)

    nobody, never = np.zeros((3, 25, 3), np.float32), np.zeros((3, 25), np.int8)
    absent = part_boxes(nobody, never, CAMERA, KINECT_V2, STILL)
    assert np.isnan(absent).all()
    frames = np.full((3, 1080, 1920, 3), 200, np.uint8)
    assert not crop_window(frames, absent, STILL).any()


def test_points_behind_the_camera_or_nan_do_not_crash() -> None:
    joints, states = standing(4, 3.0)
    joints[1, LEFT_HAND] = np.nan
    joints[2, LEFT_HAND, 2] = -1.0
    joints[3, LEFT_HAND, 2] = 0.0
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    assert np.isfinite(boxes).all()
    uv, _ = CAMERA.project(joints[1:, LEFT_WRIST])
    assert np.allclose(boxes[0, 1:, :2], uv, atol=1e-2)


def test_sensor_colour_pixels_are_preferred_over_the_model() -> None:
    joints, states = standing(3, 3.0)
    uv, _ = CAMERA.project(joints)
    sensor = uv + np.float32(12.0)
    sensor[1, LEFT_HAND] = np.inf  # unmappable for the SDK: the camera model fills in
    sensor[2, LEFT_HAND] = 0.0  # what NTU's files hold for a joint they could not map
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, STILL, joints_color=sensor)
    assert np.allclose(boxes[0, 0, :2], sensor[0, LEFT_HAND], atol=1e-2)
    assert np.allclose(boxes[0, 1:, :2], uv[1:, LEFT_HAND], atol=1e-2)


def test_a_sensor_pixel_far_off_the_image_or_a_joint_nearer_than_a_kinect_measures_places_no_crop() -> None:
    """A glitch's colorX of 1e30 on one frame's hand made hand and body boxes 1e29 pixels wide for a second
    (the smoothing spread it), and a hand 3 cm from the sensor a box 10,000 pixels wide: black crops, with
    no sign of it. Such a pixel is taken as unmapped (the camera model places the joint), such a joint as
    absent (the wrist places the hand)."""
    joints, states = standing(5, 3.0)
    uv, _ = CAMERA.project(joints)
    sensor = uv.copy()
    sensor[2, LEFT_HAND] = (1e30, 500.0)
    sensor[3, LEFT_HAND] = (-3000.0, 500.0)
    config = GlimpseConfig()  # smoothed, as live and training crop
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, config, joints_color=sensor)
    modelled = part_boxes(joints, states, CAMERA, KINECT_V2, config, joints_color=uv)
    assert np.allclose(boxes, modelled, atol=1e-2)
    sensor[2, LEFT_HAND] = (2500.0, -80.0)  # out of the colour camera's view, as a real joint maps: kept
    kept = part_boxes(joints, states, CAMERA, KINECT_V2, STILL, joints_color=sensor)
    assert np.allclose(kept[0, 2, :2], (2500.0, -80.0), atol=1e-2)
    near = joints.copy()
    near[:, LEFT_HAND] = (0.0, 0.0, 0.03)
    boxes = part_boxes(near, states, CAMERA, KINECT_V2, STILL)
    assert np.allclose(boxes[0, :, 2], STILL.hand_size_m * CAMERA.focal / 3.0, rtol=1e-3)  # at the wrist
    assert (boxes[2, :, 2] < 1000).all()


def test_smoothing_damps_jitter_and_keeps_steady_boxes() -> None:
    joints, states = standing(20, 3.0)
    joints[1::2, LEFT_HAND, 0] += 0.05  # 5 cm frame-to-frame jitter
    raw = part_boxes(joints, states, CAMERA, KINECT_V2, STILL)
    smooth = part_boxes(joints, states, CAMERA, KINECT_V2, GlimpseConfig(smoothing_s=1/30))
    assert np.abs(np.diff(smooth[0, :, 0])).max() < 0.2 * np.abs(np.diff(raw[0, :, 0])).max()
    assert np.allclose(smooth[1], raw[1], atol=1e-2)  # the steady right hand does not move


def test_smoothing_is_in_seconds_so_a_resampled_window_sees_the_same_boxes() -> None:
    joints, states = standing(60, 3.0)
    wave = 0.2 * np.sin(np.arange(60) / 30 * 2 * np.pi)  # a 1 Hz hand wave
    joints[:, LEFT_HAND, 0] += wave
    config = GlimpseConfig(smoothing_s=0.1)
    full = part_boxes(joints, states, CAMERA, KINECT_V2, config, timestamps=np.arange(60) / 30)
    every_third = np.arange(0, 60, 3)
    window = part_boxes(joints[every_third], states[every_third], CAMERA, KINECT_V2, config,
                        timestamps=every_third / 30)
    inner = slice(3, -3)  # away from the window's ends, where the Gaussian is cut
    hand_px = full[0, every_third, 2].mean()
    assert np.abs(window[0, inner, 0] - full[0, every_third][inner, 0]).max() < 0.1 * hand_px


def test_part_boxes_rejects_wrong_shapes() -> None:
    joints, states = standing(3, 3.0)
    with pytest.raises(ValueError, match=r"\(T, 25, 3\)"):
        part_boxes(joints[:, :20], states[:, :20], CAMERA, KINECT_V2, STILL)
    with pytest.raises(ValueError, match="states shape"):
        part_boxes(joints, states[:2], CAMERA, KINECT_V2, STILL)


def marked_frame() -> np.ndarray:
    """A grey 1080p BGR frame with a pure blue 40x40 square centred at (1000, 500)."""
    frame = np.full((1080, 1920, 3), 128, np.uint8)
    frame[480:520, 980:1020] = (255, 0, 0)
    return frame


def test_crop_is_rgb_and_centred_on_its_box() -> None:
    config = GlimpseConfig(crop_size=32)
    crops = crop_frame(marked_frame(), np.array([[1000, 500, 80, 80]], np.float32), config)
    assert crops.shape == (1, 32, 32, 3) and crops.dtype == np.uint8
    assert crops[0, 16, 16].tolist() == [0, 0, 255]  # blue in RGB order
    blue = (crops[0] == (0, 0, 255)).all(-1)
    rows, cols = np.nonzero(blue)
    assert rows.mean() == pytest.approx(15.5, abs=0.6) and cols.mean() == pytest.approx(15.5, abs=0.6)
    assert blue.sum() == pytest.approx(16 * 16, rel=0.15)  # 40 px of an 80 px box = half the crop


def test_box_leaving_the_image_is_padded_not_shifted() -> None:
    config = GlimpseConfig(crop_size=40)
    frame = np.full((100, 200, 3), 90, np.uint8)
    crops = crop_frame(frame, np.array([[0, 50, 40, 40], [195, 98, 40, 40], [-100, 50, 40, 40]]), config)
    assert not crops[0, :, :20].any() and (crops[0, :, 20:] == 90).all()  # left half outside
    assert (crops[1, :22, :25] == 90).all() and not crops[1, 22:].any() and not crops[1, :, 25:].any()
    assert not crops[2].any()  # entirely outside


def test_shrinking_a_crop_averages_instead_of_aliasing() -> None:
    # One-pixel stripes, shrunk 4.2x: an area filter gives even grey, plain bilinear gives stripes.
    frame = np.zeros((600, 600, 3), np.uint8)
    frame[:, ::2] = 255
    crop = crop_frame(frame, np.array([[300, 300, 471, 471]], np.float32), GlimpseConfig(crop_size=112))[0]
    assert np.abs(crop.astype(float) - 127.5).max() < 20


def test_crop_window_matches_crop_frame_and_handles_missing_frames() -> None:
    rng = np.random.default_rng(0)
    frames = [rng.integers(0, 255, (270, 480, 3), np.uint8) for _ in range(3)]
    frames[1] = None
    boxes = np.array([[[100, 100, 60, 60]] * 3, [[400, 200, 30, 30]] * 3, [[240, 135, 300, 300]] * 3],
                     np.float32)
    config = GlimpseConfig(crop_size=24)
    window = crop_window(frames, boxes, config)
    assert window.shape == (3, 3, 24, 24, 3)
    for t in (0, 2):
        assert np.array_equal(window[:, t], crop_frame(frames[t], boxes[:, t], config))
    assert not window[:, 1].any()
    with pytest.raises(ValueError, match="boxes"):
        crop_window(frames, boxes[:, :2], config)
    with pytest.raises(ValueError, match="BGR uint8"):
        crop_frame(frames[0].astype(np.float32), boxes[:, 0], config)


def test_window_crops_hop_after_hop_are_crop_windows_cutting_only_what_changed() -> None:
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 255, (270, 480, 3), np.uint8) for _ in range(12)]
    frames[7] = None  # a frame without colour: black crops, as crop_window gives
    # Boxes drifting by a fraction of a pixel per frame: most round to the same pixels as a hop before.
    t = np.arange(12, dtype=np.float32)[:, None]
    boxes = np.stack([np.hstack([100 + 0.3 * t, 90 + 0.1 * t, 40 + 0 * t, 40 + 0 * t]),
                      np.hstack([300 - 2.2 * t, 150 + 0 * t, 36 + 0.04 * t, 36 + 0.04 * t]),
                      np.full((12, 4), np.nan, np.float32)])  # a part with no box: black
    config = GlimpseConfig(crop_size=24)
    window_crops = WindowCrops(config)
    cut = []
    original = crop_frame

    def counting(*args, **kwargs):
        cut.append(1)
        return original(*args, **kwargs)

    import core.glimpse

    core.glimpse.crop_frame = counting
    try:
        for end in range(6, 13):  # a 6-frame window slid by one frame
            keys = list(range(end - 6, end))
            cut.clear()
            window = [frames[k] for k in keys]
            crops = window_crops.cut(keys, window, boxes[:, end - 6:end])
            assert np.array_equal(crops, crop_window(window, boxes[:, end - 6:end], config))
            if end > 6:
                assert len(cut) < 6  # the new frame, and those whose box moved onto other pixels
    finally:
        core.glimpse.crop_frame = original
    # A frame whose box rounds to the same pixels is not cut again (its crop is kept, whatever frame
    # is passed with its key); one moved by a pixel is, into the slot given.
    other = [np.zeros_like(frames[0])] * 6
    keys = list(range(6, 12))
    assert np.array_equal(window_crops.cut(keys, other, boxes[:, 6:12] + 0.01), crops)
    moved = boxes[:, 6:12].copy()
    moved[0, :, 0] += 1.0
    out = np.full_like(crops, 7)
    assert window_crops.cut(keys, other, moved, out=out) is out
    assert not out[0].any() and np.array_equal(out[1], crops[1]) and not out[2].any()
    with pytest.raises(ValueError, match="3 keys"):
        window_crops.cut(keys[:3], other, moved)


def test_window_crops_keep_nothing_of_the_slot_they_cut_into_nor_of_a_cut_that_failed() -> None:
    rng = np.random.default_rng(2)
    frames = [rng.integers(0, 255, (270, 480, 3), np.uint8) for _ in range(5)]
    parts = np.array([[100, 90, 40, 40], [300, 150, 36, 36], [240, 135, 200, 200]], np.float32)
    boxes = np.tile(parts[:, None], (1, 5, 1))
    config = GlimpseConfig(crop_size=16)
    keys = [0, 0, 1, 2, 3]  # a window padded at its start repeats its first frame
    window = [frames[k] for k in keys]
    want = crop_window(window, boxes, config)
    window_crops = WindowCrops(config)
    slot = np.empty_like(want)
    window_crops.cut(keys, window, boxes, out=slot)
    assert np.array_equal(slot, want)
    slot[:] = 0  # the engine's batch, reused by the next hop
    assert np.array_equal(window_crops.cut(keys, window, boxes), want)
    # A cut that fails part-way (a float frame after a hand moved) leaves the kept crops as they were.
    moved = boxes.copy()
    moved[0, :, 0] += 7
    with pytest.raises(ValueError, match="BGR uint8"):
        window_crops.cut([*keys, 4], [*window, frames[4].astype(np.float32)],
                         np.concatenate([moved, moved[:, :1]], axis=1))  # fmt: skip
    assert np.array_equal(window_crops.cut(keys, window, boxes), want)


def test_real_clip_hand_boxes_follow_the_sensor_and_scale_with_depth(shared_data) -> None:
    from recordings.ntu import read_skeleton
    from recordings.ntu_video import RgbVideo

    name = "S001C001P001R001A001"
    arrays = read_skeleton(shared_data / "ntu" / "skeletons" / f"{name}.skeleton").arrays(max_bodies=1)
    joints, states, color = arrays.xyz[:, 0], arrays.states[:, 0], arrays.color[:, 0]
    config = GlimpseConfig(crop_size=64)
    boxes = part_boxes(joints, states, CAMERA, KINECT_V2, config, joints_color=color)
    frames = len(joints)
    assert boxes.shape == (3, frames, 4) and np.isfinite(boxes).all()

    # Smoothed hand boxes stay on the sensor's hand pixels (the hand is tracked or inferred throughout);
    # where the Kinect's hand jumps for a frame or two, the smoothed box lags but still holds it.
    for part, hand in ((0, KINECT_V2.left_hand[0]), (1, KINECT_V2.right_hand[0])):
        assert (states[:, hand] > NOT_TRACKED).all()
        offset = boxes[part, :, :2] - color[:, hand]
        assert np.median(np.hypot(*offset.T)) < 3
        assert (np.abs(offset) < boxes[part, :, 2:3] / 2).all()
        side = config.hand_size_m * CAMERA.focal / joints[:, hand, 2]
        assert np.allclose(boxes[part, :, 2], side, rtol=0.03)
    # The camera model puts this clip's boxes within a few pixels of the sensor's own mapping.
    projected = part_boxes(joints, states, CAMERA, KINECT_V2, config)
    assert np.abs(projected[..., :2] - boxes[..., :2]).max() < 8

    # Every box lies inside the image padded by its own size; the body box holds every tracked joint.
    for part in range(3):
        cx, cy, side = boxes[part, :, 0], boxes[part, :, 1], boxes[part, :, 2]
        assert ((cx > -side / 2) & (cx < 1920 + side / 2) & (cy > -side / 2) & (cy < 1080 + side / 2)).all()
    tracked = states == TRACKED
    body = boxes[2][:, None, :]
    inside = (np.abs(color - body[..., :2]) <= body[..., 2:3] / 2).all(-1)
    assert inside[tracked].all()

    chosen = [0, 50, 90]
    with RgbVideo(shared_data / "ntu" / "rgb" / f"{name}_rgb.avi") as video:
        assert len(video) == frames
        images = video.read_frames(chosen)
    crops = crop_window(images, boxes[:, chosen], config)
    assert crops.shape == (3, 3, 64, 64, 3)
    # The body crop is centred on the person (dark shirt), not the pale wall around them.
    centre, border = crops[2, :, 24:40, 28:36].mean(), crops[2, :, :, :6].mean()
    assert centre < border - 60
