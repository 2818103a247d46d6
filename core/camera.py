"""Kinect v2 camera space (metres) -> colour-image pixels.

The SDK's CoordinateMapper does this on Windows; recordings that carry only camera-space joints need
a model. A pinhole with a shift along x and y (the colour camera sits beside the depth camera)
reproduces the mapper to a fraction of a pixel for one sensor:

    u = cx + fx * (x + tx) / z          (Kinect X points to the sensor's left; the colour image is
    v = cy - fy * (y + ty) / z           mirrored, so u grows with x. Y is up, v grows downward.)

Each Kinect has its own factory calibration, so `DEFAULT_CAMERA` is only a consensus; `fit_camera`
recovers a sensor's own parameters from any clip that stores both coordinates (NTU `colorX/colorY`,
or the mapper's output in our own recordings).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

import numpy as np

# The Kinect v2's streams: colour and bodies at 30 fps (NTU RGB+D, PKU-MMD and our recordings with them);
# in low light the colour drops to 15 fps while the bodies stay at 30.
KINECT_FPS = 30.0
LOW_LIGHT_FPS = 15.0

# Points closer than this (or behind the camera) have no image position: the Kinect measures from
# 0.5 m, and dividing by a z near zero would send them to +-infinity.
MIN_DEPTH_M = 0.01

# No camera a clip or checkpoint names has a side this long (the Kinect v2's colour image is 1920 x 1080);
# a larger width or height is a damaged value, not an image size.
MAX_IMAGE_SIDE = 16384


@dataclass(frozen=True)
class ColorCamera:
    """Pinhole model of the Kinect v2 colour camera, in camera-space metres and colour pixels."""

    fx: float
    fy: float
    cx: float
    cy: float
    tx: float = 0.0
    ty: float = 0.0
    width: int = 1920
    height: int = 1080

    @property
    def focal(self) -> float:
        """Mean focal length in pixels: the pixels per metre at 1 m depth, for square boxes."""
        return 0.5 * (self.fx + self.fy)

    def project(self, xyz: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Camera-space points (..., 3) -> (uv float32 (..., 2), valid bool (...)).

        A point is valid when it is finite and at least MIN_DEPTH_M in front of the camera; invalid
        points get NaN pixels. Valid points outside the image keep their (out-of-range) pixels.
        """
        xyz = np.asarray(xyz, dtype=np.float64)
        if xyz.shape[-1:] != (3,):
            raise ValueError(f"project expects points shaped (..., 3), got {xyz.shape}")
        x, y, z = xyz[..., 0], xyz[..., 1], xyz[..., 2]
        valid = np.isfinite(xyz).all(-1) & (np.nan_to_num(z, nan=0.0) > MIN_DEPTH_M)
        safe_z = np.where(valid, z, 1.0)
        uv = np.stack(
            [self.cx + self.fx * (x + self.tx) / safe_z, self.cy - self.fy * (y + self.ty) / safe_z], axis=-1
        )
        uv[~valid] = np.nan
        return uv.astype(np.float32), valid

    def unproject(self, uv: np.ndarray, z: np.ndarray) -> np.ndarray:
        """Pixels (..., 2) at depth z (...) -> camera-space points float32 (..., 3); inverse of project."""
        uv = np.asarray(uv, dtype=np.float64)
        z = np.asarray(z, dtype=np.float64)
        x = (uv[..., 0] - self.cx) * z / self.fx - self.tx
        y = -(uv[..., 1] - self.cy) * z / self.fy - self.ty
        return np.stack([x, y, np.broadcast_to(z, x.shape)], axis=-1).astype(np.float32)

    def scaled(self, width: int, height: int) -> ColorCamera:
        """The same camera for an image resized to width x height (e.g. a half-resolution recording)."""
        sx, sy = width / self.width, height / self.height
        return replace(self, fx=self.fx * sx, fy=self.fy * sy, cx=self.cx * sx, cy=self.cy * sy,
                       width=width, height=height)

    def to_dict(self) -> dict[str, float | int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "camera dict") -> ColorCamera:
        """Inverse of to_dict; `source` names the file or checkpoint in error messages."""
        if not isinstance(data, dict):
            raise ValueError(f"{source}: expected a mapping of camera parameters, got {type(data).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - names)
        missing = sorted({"fx", "fy", "cx", "cy"} - set(data))
        if unknown or missing:
            raise ValueError(f"{source}: camera parameters: unknown keys {unknown}, missing keys {missing}")
        values: dict[str, float | int] = {}
        for key, value in data.items():
            try:
                number = float(value)
            except (TypeError, ValueError, OverflowError) as error:
                raise ValueError(
                    f"{source}: camera parameter {key!r} must be a number, got {value!r}"
                ) from error
            # NaN or infinity would project every joint to NaN or infinity: a broken replay, not an error.
            if not math.isfinite(number):
                raise ValueError(f"{source}: camera parameter {key!r} must be a finite number, got {value!r}")
            if key in ("width", "height"):
                if not (number.is_integer() and 0 < number <= MAX_IMAGE_SIDE):
                    raise ValueError(f"{source}: camera {key} must be a whole number of pixels from 1 to "
                                     f"{MAX_IMAGE_SIDE}, got {value!r}")
                number = int(number)
            elif key in ("fx", "fy") and number <= 0:
                raise ValueError(
                    f"{source}: camera parameter {key!r} (a focal length) must be > 0, got {value!r}"
                )
            values[key] = number
        return cls(**values)


def believable_pixels(pixels: np.ndarray, camera: ColorCamera) -> np.ndarray:
    """(..., 2) colour pixels a sensor or a file gives for joints -> (...) bool: finite, and within an
    image's size of `camera`'s image on every side. A joint out of the colour camera's view maps a little
    past its edge (the depth camera sees some 70 pixels higher); one a glitch or a damaged file put at
    1e30 or -3000 would make crops thousands of pixels wide and a face blur miss the face, so such a
    pixel is taken as unmapped (the camera model's projection is used instead)."""
    pixels = np.asarray(pixels, dtype=np.float64)
    finite = np.isfinite(pixels).all(-1)
    x, y = np.nan_to_num(pixels[..., 0]), np.nan_to_num(pixels[..., 1])
    inside = (np.abs(x - camera.width / 2) <= 1.5 * camera.width) & (
        np.abs(y - camera.height / 2) <= 1.5 * camera.height)
    return finite & inside


def projection_error(camera: ColorCamera, xyz: np.ndarray, uv: np.ndarray) -> np.ndarray:
    """Distance in pixels (...) between camera.project(xyz (..., 3)) and uv (..., 2); NaN where either
    side is missing (point not projectable, or uv not finite)."""
    predicted, _ = camera.project(xyz)
    difference = predicted.astype(np.float64) - np.asarray(uv, dtype=np.float64)
    return np.hypot(difference[..., 0], difference[..., 1])


def _solve_axis(inverse_depth: np.ndarray, ratio: np.ndarray, pixel: np.ndarray) -> np.ndarray:
    """Least squares for pixel = c + f * ratio + g / z; returns (c, f, g). Drops the shift term g when
    all depths are (nearly) equal, where it cannot be told apart from the offset c."""
    design = np.stack([np.ones_like(ratio), ratio, inverse_depth], axis=1)
    singular = np.linalg.svd(design / np.linalg.norm(design, axis=0), compute_uv=False)
    if singular[-1] < 1e-6 * singular[0]:
        coef, *_ = np.linalg.lstsq(design[:, :2], pixel, rcond=None)
        return np.array([coef[0], coef[1], 0.0])
    coef, *_ = np.linalg.lstsq(design, pixel, rcond=None)
    return coef


def fit_camera(
    xyz: np.ndarray,
    uv: np.ndarray,
    valid: np.ndarray | None = None,
    *,
    width: int = 1920,
    height: int = 1080,
    outlier_rounds: int = 3,
    min_outlier_px: float = 2.0,
) -> ColorCamera:
    """Fit a ColorCamera to matching camera-space points xyz (..., 3) and colour pixels uv (..., 2).

    Each axis is linear in its unknowns (u = cx + fx * x/z + fx*tx / z), so it is solved by least
    squares in pixel units. Then up to `outlier_rounds` times, points further than
    max(3 x median error, min_outlier_px) are dropped and the fit is redone: mis-tracked joints, and
    clips from another sensor when several are pooled, would otherwise pull the whole fit.
    `valid` (...) restricts the points used (e.g. tracked joints only); non-finite values, points at
    z <= MIN_DEPTH_M and all-zero points or pixels (NTU's absent or unmapped joints) are always left out.
    """
    xyz = np.asarray(xyz, dtype=np.float64)
    uv = np.asarray(uv, dtype=np.float64)
    if xyz.shape[-1:] != (3,) or uv.shape[-1:] != (2,) or xyz.shape[:-1] != uv.shape[:-1]:
        raise ValueError(f"fit_camera needs xyz (..., 3) and uv (..., 2) of matching shape, got {xyz.shape}, "
                         f"{uv.shape}")
    xyz, uv = xyz.reshape(-1, 3), uv.reshape(-1, 2)
    use = np.isfinite(xyz).all(1) & np.isfinite(uv).all(1) & (np.abs(xyz).sum(1) > 0) & (uv != 0).any(1)
    use &= np.where(np.isfinite(xyz[:, 2]), xyz[:, 2], 0.0) > MIN_DEPTH_M
    if valid is not None:
        valid = np.asarray(valid, dtype=bool)
        if valid.size != len(xyz):
            raise ValueError(f"valid mask has {valid.size} entries for {len(xyz)} points")
        use &= valid.reshape(-1)
    if use.sum() < 3:
        raise ValueError(f"fit_camera needs at least 3 usable point pairs, got {int(use.sum())}")
    xyz, uv = xyz[use], uv[use]
    inverse_depth = 1.0 / xyz[:, 2]
    ratio_x, ratio_y = xyz[:, 0] * inverse_depth, xyz[:, 1] * inverse_depth

    def fit(inliers: np.ndarray) -> ColorCamera:
        cu, fu, gu = _solve_axis(inverse_depth[inliers], ratio_x[inliers], uv[inliers, 0])
        cv, fv, gv = _solve_axis(inverse_depth[inliers], ratio_y[inliers], uv[inliers, 1])
        # v = cy - fy * y/z - fy*ty / z: the fitted slope is -fy.
        if not (fu > 0 and fv < 0):
            raise ValueError(f"fit_camera: the points give no usable focal length (u slope {fu:.4g}, "
                             f"v slope {fv:.4g}); are xyz and uv paired, and spread over the view?")
        return ColorCamera(fx=float(fu), fy=float(-fv), cx=float(cu), cy=float(cv), tx=float(gu / fu),
                           ty=float(gv / fv), width=width, height=height)

    inliers = np.ones(len(xyz), dtype=bool)
    camera = fit(inliers)
    for _ in range(outlier_rounds):
        error = projection_error(camera, xyz, uv)
        keep = error <= max(3.0 * float(np.median(error)), min_outlier_px)
        if keep.sum() < 3 or np.array_equal(keep, inliers):
            break
        inliers = keep
        camera = fit(inliers)
    return camera


# Fitted with fit_camera on every tracked joint of the ten NTU RGB+D .skeleton files in
# ../shared/data/ntu/skeletons (`python -m benchmarks.projection_error --refit` prints these numbers).
# The outlier rejection settles on the sensor that recorded 8 of the 10 clips (sub-pixel there); the
# other sensor (S001C003, S003C001) is ~30 px off vertically. Per-sensor fits remove that.
DEFAULT_CAMERA = ColorCamera(fx=1059.10, fy=1055.73, cx=959.15, cy=569.22, tx=0.05698, ty=0.00602)

# The Kinect v2 depth camera (512 x 424), fitted with fit_camera to depthX/depthY of every tracked joint
# in the ten NTU RGB+D .skeleton files in ../shared/data/ntu (23,619 joints): median error 0.18 px, p95
# 6.6 px.
DEPTH_CAMERA = ColorCamera(fx=368.2, fy=367.4, cx=256.3, cy=208.2, width=512, height=424)

# The colour camera's nominal intrinsics, with no shift: ~30 px off NTU's stored pixels (for comparison).
FACTORY_CAMERA = ColorCamera(fx=1081.37, fy=1081.37, cx=959.5, cy=539.5)
