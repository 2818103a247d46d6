from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core.camera import (
    DEFAULT_CAMERA,
    FACTORY_CAMERA,
    ColorCamera,
    fit_camera,
    projection_error,
)

CAMERA = ColorCamera(fx=1060.0, fy=1050.0, cx=960.0, cy=570.0, tx=0.05, ty=0.01)


def scene_points(rng: np.random.Generator, count: int, near: float = 1.0, far: float = 4.5) -> np.ndarray:
    """Points spread through the colour camera's view, at depths near..far."""
    z = rng.uniform(near, far, count)
    x = rng.uniform(-0.8, 0.8, count) * z
    y = rng.uniform(-0.5, 0.5, count) * z
    return np.stack([x, y, z], axis=1)


def test_project_follows_the_pinhole_formula() -> None:
    uv, valid = CAMERA.project(np.array([0.3, -0.2, 2.0]))
    assert valid
    assert uv == pytest.approx([960 + 1060 * 0.35 / 2.0, 570 + 1050 * 0.19 / 2.0], abs=1e-3)
    assert uv.dtype == np.float32


def test_project_keeps_leading_shape_and_checks_the_last_axis() -> None:
    points = scene_points(np.random.default_rng(0), 2 * 3 * 25).reshape(2, 3, 25, 3)
    uv, valid = CAMERA.project(points)
    assert uv.shape == (2, 3, 25, 2) and valid.shape == (2, 3, 25) and valid.all()
    with pytest.raises(ValueError, match=r"\(\.\.\., 3\)"):
        CAMERA.project(np.zeros((4, 2)))


def test_unprojectable_points_are_masked_without_warnings() -> None:
    points = np.array([
        [0.1, 0.1, 0.0],  # on the camera plane
        [0.1, 0.1, -1.0],  # behind the camera
        [np.nan, 0.1, 2.0],
        [0.1, 0.1, np.nan],
        [np.inf, 0.0, 2.0],
        [0.1, 0.1, 2.0],  # the one valid point
    ])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        uv, valid = CAMERA.project(points)
    assert valid.tolist() == [False] * 5 + [True]
    assert np.isnan(uv[:5]).all() and np.isfinite(uv[5]).all()


def test_points_outside_the_image_stay_valid() -> None:
    uv, valid = CAMERA.project(np.array([5.0, 0.0, 1.0]))
    assert valid and uv[0] > CAMERA.width


def test_unproject_inverts_project() -> None:
    points = scene_points(np.random.default_rng(1), 50)
    uv, _ = CAMERA.project(points)
    assert np.allclose(CAMERA.unproject(uv, points[:, 2]), points, atol=1e-3)


@settings(max_examples=30, deadline=None)
@given(
    fx=st.floats(900, 1200), fy=st.floats(900, 1200), cx=st.floats(900, 1020), cy=st.floats(500, 600),
    tx=st.floats(-0.1, 0.1), ty=st.floats(-0.05, 0.05), seed=st.integers(0, 2**31 - 1),
)
def test_fit_recovers_the_parameters_of_synthetic_data(fx, fy, cx, cy, tx, ty, seed) -> None:
    truth = ColorCamera(fx=fx, fy=fy, cx=cx, cy=cy, tx=tx, ty=ty)
    points = scene_points(np.random.default_rng(seed), 200)
    uv, _ = truth.project(points)
    fitted = fit_camera(points, uv)
    for name in ("fx", "fy", "cx", "cy"):
        assert getattr(fitted, name) == pytest.approx(getattr(truth, name), rel=1e-3)
    assert fitted.tx == pytest.approx(tx, abs=1e-3) and fitted.ty == pytest.approx(ty, abs=1e-3)


def test_fit_ignores_outliers_and_unusable_points() -> None:
    rng = np.random.default_rng(2)
    points = scene_points(rng, 400)
    uv, _ = CAMERA.project(points)
    uv = uv + rng.normal(0, 0.3, uv.shape)  # sub-pixel noise, like the SDK's mapper
    uv[:60] += rng.uniform(40, 120, (60, 2)) * rng.choice([-1, 1], (60, 2))  # mis-tracked joints
    uv[60:70] = np.inf  # the SDK mapper's "unmappable"
    points[70:75] = 0.0  # NTU's absent joints
    uv[75:80] = 0.0  # NTU's unmapped joints
    fitted = fit_camera(points, uv)
    error = projection_error(fitted, points[80:], uv[80:])
    assert np.median(error) < 0.5
    assert fitted.fx == pytest.approx(CAMERA.fx, rel=2e-3) and fitted.cy == pytest.approx(CAMERA.cy, abs=2)


def _good_points(rng: np.random.Generator, count: int) -> tuple[np.ndarray, np.ndarray]:
    points = scene_points(rng, count)
    uv, _ = CAMERA.project(points)
    return points, uv + rng.normal(0, 0.3, uv.shape)


def _fits_the_good_points(fitted: ColorCamera, points: np.ndarray, uv: np.ndarray) -> None:
    assert np.median(projection_error(fitted, points, uv)) < 0.5
    assert fitted.fx == pytest.approx(CAMERA.fx, rel=2e-3) and fitted.fy == pytest.approx(CAMERA.fy, rel=2e-3)
    assert fitted.cx == pytest.approx(CAMERA.cx, abs=1) and fitted.cy == pytest.approx(CAMERA.cy, abs=1)


def test_fit_leaves_out_unmapped_pixels_even_when_they_outnumber_the_good_points() -> None:
    # NTU stores (0, 0) for joints it could not map to colour. More of them than good points would make
    # them the median, so outlier rejection cannot save the fit: only leaving them out does.
    rng = np.random.default_rng(5)
    points, uv = _good_points(rng, 200)
    unmapped = scene_points(rng, 300)
    fitted = fit_camera(np.concatenate([points, unmapped]), np.concatenate([uv, np.zeros((300, 2))]))
    _fits_the_good_points(fitted, points, uv)


def test_fit_leaves_out_points_at_or_behind_the_camera_even_when_they_outnumber_the_good_points() -> None:
    # A depth of 0 or below (a lost or sign-flipped reading) cannot be projected; with more of them
    # than good points outlier rejection cannot save the fit, so they must be left out up front.
    rng = np.random.default_rng(6)
    points, uv = _good_points(rng, 200)
    flipped = scene_points(rng, 300)
    flipped_uv, _ = CAMERA.project(flipped)
    flipped[:, 2] *= -1.0
    flipped[:10, 2] = 0.0
    flipped[10:20, 2] = 0.005  # in front, but under MIN_DEPTH_M
    fitted = fit_camera(np.concatenate([points, flipped]), np.concatenate([uv, flipped_uv]))
    _fits_the_good_points(fitted, points, uv)


def test_fit_drops_moderate_outliers_three_times_the_median_error_away() -> None:
    # Joints mis-tracked by a few pixels, all the same way (a hand smeared along its motion), are
    # 10-30x the sub-pixel median error: the 3x rule drops them; a loose rule would keep them and
    # shift the centre.
    rng = np.random.default_rng(7)
    points, uv = _good_points(rng, 300)
    smeared, smeared_uv = _good_points(rng, 60)
    smeared_uv[:, 0] += rng.uniform(8, 15, 60)
    fitted = fit_camera(np.concatenate([points, smeared]), np.concatenate([uv, smeared_uv]))
    _fits_the_good_points(fitted, points, uv)
    assert fitted.cx == pytest.approx(CAMERA.cx, abs=0.5)


def test_fit_uses_only_points_the_mask_allows() -> None:
    rng = np.random.default_rng(3)
    points = scene_points(rng, 100)
    uv, _ = CAMERA.project(points)
    uv[50:] += 300  # garbage where the mask says "not tracked"
    mask = np.arange(100) < 50
    fitted = fit_camera(points, uv, valid=mask, outlier_rounds=0)
    assert np.nanmax(projection_error(fitted, points[:50], uv[:50])) < 1e-2


def test_fit_at_a_single_depth_still_predicts_that_depth() -> None:
    # All points at one z: the shift cannot be separated from the centre, so it is folded into it.
    points = scene_points(np.random.default_rng(4), 100)
    points[:, 2] = 3.0
    uv, _ = CAMERA.project(points)
    fitted = fit_camera(points, uv)
    assert fitted.tx == 0.0
    assert np.nanmax(projection_error(fitted, points, uv)) < 1e-2


def test_fit_rejects_too_few_or_mismatched_points() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        fit_camera(np.array([[0.1, 0.1, 2.0], [np.nan, 0, 1]]), np.array([[900.0, 500.0], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="matching shape"):
        fit_camera(np.zeros((5, 3)), np.zeros((4, 2)))


def test_dict_round_trip_through_json() -> None:
    restored = ColorCamera.from_dict(json.loads(json.dumps(CAMERA.to_dict())))
    assert restored == CAMERA


def test_from_dict_names_the_source_and_the_problem() -> None:
    with pytest.raises(ValueError, match=r"clip\.json.*missing keys \['fy'\]"):
        ColorCamera.from_dict({"fx": 1.0, "cx": 1.0, "cy": 1.0}, source="clip.json")
    with pytest.raises(ValueError, match=r"unknown keys \['focal'\]"):
        ColorCamera.from_dict({**CAMERA.to_dict(), "focal": 3})
    with pytest.raises(ValueError, match="'fx' must be a number"):
        ColorCamera.from_dict({**CAMERA.to_dict(), "fx": "wide"})
    with pytest.raises(ValueError, match=r"'fx' \(a focal length\) must be > 0, got -5"):
        ColorCamera.from_dict({**CAMERA.to_dict(), "fx": -5})


def test_from_dict_refuses_values_no_camera_has() -> None:
    """A damaged sidecar's camera made every joint's pixel NaN or infinite, and its image size was cut to
    a whole number or taken at 1e308, with no word said."""
    for key, value, message in (
        ("fx", float("inf"), "'fx' must be a finite number, got inf"),
        ("cx", float("nan"), "'cx' must be a finite number, got nan"),
        ("tx", float("inf"), "'tx' must be a finite number, got inf"),
        ("width", 640.9, "width must be a whole number of pixels from 1 to 16384, got 640.9"),
        ("height", 1e308, "height must be a whole number of pixels from 1 to 16384, got 1e+308"),
        ("width", 0, "width must be a whole number of pixels from 1 to 16384, got 0"),
    ):
        with pytest.raises(ValueError) as error:
            ColorCamera.from_dict({**CAMERA.to_dict(), key: value}, source="clip.json")
        assert str(error.value).startswith("clip.json: ") and message in str(error.value)
    assert ColorCamera.from_dict({**CAMERA.to_dict(), "width": 960.0}).width == 960  # a whole number


def test_scaled_camera_projects_into_the_resized_image() -> None:
    points = scene_points(np.random.default_rng(5), 20)
    half = CAMERA.scaled(960, 540)
    assert np.allclose(half.project(points)[0], CAMERA.project(points)[0] / 2, atol=1e-3)
    assert (half.width, half.height) == (960, 540)


def ntu_tracked_joints(shared_data) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    from recordings.ntu import read_skeleton

    clips = {}
    for path in sorted((shared_data / "ntu" / "skeletons").glob("*.skeleton")):
        arrays = read_skeleton(path).arrays(max_bodies=4)
        tracked = arrays.states == 2
        clips[path.stem] = (arrays.xyz[tracked], arrays.color[tracked])
    assert len(clips) == 10
    return clips


def test_default_camera_reproduces_ntu_colour_pixels(shared_data) -> None:
    clips = ntu_tracked_joints(shared_data)
    xyz = np.concatenate([c[0] for c in clips.values()])
    uv = np.concatenate([c[1] for c in clips.values()])
    error = projection_error(DEFAULT_CAMERA, xyz, uv)
    assert len(error) > 20_000 and np.isfinite(error).all()
    assert np.median(error) <= 6.0
    # The factory intrinsics are the baseline a calibration has to beat.
    assert np.median(projection_error(FACTORY_CAMERA, xyz, uv)) > 3 * np.median(error)
    # x grows to the image's right: a camera with the opposite sign is hundreds of pixels off.
    mirrored = ColorCamera(**{**DEFAULT_CAMERA.to_dict(), "fx": -DEFAULT_CAMERA.fx})
    assert np.median(projection_error(mirrored, xyz, uv)) > 100


def test_per_clip_fit_is_sub_pixel(shared_data) -> None:
    for name, (xyz, uv) in ntu_tracked_joints(shared_data).items():
        fitted = fit_camera(xyz, uv)
        error = projection_error(fitted, xyz, uv)
        assert np.median(error) < 1.0, name
        assert np.percentile(error, 95) < 2.0, name


def test_fit_rejects_unpaired_points() -> None:
    rng = np.random.default_rng(6)
    points = scene_points(rng, 50)
    uv, _ = CAMERA.project(points)
    with pytest.raises(ValueError, match="no usable focal length"):
        fit_camera(points, uv[:, ::-1] * np.array([-1.0, 1.0]), outlier_rounds=0)
