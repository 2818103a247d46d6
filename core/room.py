"""Room geometry for the 3D views: depth images as point clouds, the floor from the skeletons' feet,
room coordinates, the sensor's field of view, bones as tubes, and the look-at camera they are drawn
through. Pure numpy: nothing here knows a renderer, a thread or a file format.

    depth (424, 512) mm --depth camera (pinhole, mirrored like colour)--> points (N, 3) camera space
    points --colour camera (ColorCamera.project)--> colour pixel --nearest BGR--> point colours
    foot joints over a recording --RANSAC (3 feet) + least squares on the inliers, levelled to the
        bodies' up (their spines) where the feet cannot carry a tilt--> floor plane (FloorTracker: the
        same over a live stream, refitted as it goes)
    floor plane --> SensorMounting: the sensor's height above the floor, its pitch and roll
    floor plane --> RoomFrame: metres, x right and y forward as seen from behind the sensor, z up,
                    origin on the floor below the sensor
    room points --ViewCamera (look-at pinhole, OpenCV axes)--> pixels of the rendered image

Kinect camera space (metres, X to the sensor's left, Y up, Z forward) is right-handed, and so is the
room frame, so a skeleton is never mirrored on the way.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.camera import MIN_DEPTH_M, ColorCamera
from core.frame import Body
from core.skeleton import INFERRED, SkeletonLayout

# The Kinect v2 measures depth from 0.5 m; bodies are tracked out to ~4.5 m (readings go to ~8 m).
DEPTH_RANGE_M = (0.5, 4.5)
CAMERA_UP = (0.0, 1.0, 0.0)  # camera-space up for a sensor mounted upright
FLOOR_TOLERANCE_M = 0.04  # how far a tracked foot on the floor scatters from it
LEVEL_WITHIN_DEG = 5.0  # people lean forward a few degrees: spines this close to the sensor's up say level


# ---- depth -> points -----------------------------------------------------------------------------


def depth_points(
    depth_mm: np.ndarray,
    camera: ColorCamera,
    *,
    near_m: float = DEPTH_RANGE_M[0],
    far_m: float = 8.0,
    step: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """A depth image (H, W) in millimetres -> (points float32 (N, 3) camera space, pixels int32 (N, 2)).

    `camera` is the depth camera's pinhole (the same form as the colour camera's: u grows with x, v
    shrinks with y; its size must match the image). Pixels reading 0 (no measurement) or outside
    [near_m, far_m] give no point. `step` keeps every step-th pixel in both directions.
    """
    depth_mm = np.asarray(depth_mm)
    if depth_mm.ndim != 2:
        raise ValueError(f"depth_points expects one depth image (H, W), got shape {depth_mm.shape}")
    if depth_mm.shape != (camera.height, camera.width):
        raise ValueError(
            f"depth image is {depth_mm.shape[1]}x{depth_mm.shape[0]}, the depth camera is "
            f"{camera.width}x{camera.height}"
        )
    if step < 1:
        raise ValueError(f"step must be >= 1, got {step}")
    sampled = depth_mm[::step, ::step]
    v, u = np.nonzero((sampled >= near_m * 1000.0) & (sampled <= far_m * 1000.0))
    z = sampled[v, u].astype(np.float64) / 1000.0
    pixels = np.stack([u * step, v * step], axis=1).astype(np.int32)
    return camera.unproject(pixels, z), pixels


def point_colours(
    points: np.ndarray, image_bgr: np.ndarray, camera: ColorCamera
) -> tuple[np.ndarray, np.ndarray]:
    """Colour camera-space points (N, 3) from a BGR image -> (rgb float32 (N, 3) in [0, 1], seen (N,)).

    Each point takes the colour of the nearest pixel it projects to through `camera` (rescaled to the
    image's size). Points the colour camera does not see (outside its narrower view, or behind it)
    get `seen` False and black.
    """
    points = np.asarray(points, dtype=np.float32).reshape(-1, 3)
    height, width = image_bgr.shape[:2]
    if (camera.width, camera.height) != (width, height):
        camera = camera.scaled(width, height)
    uv, valid = camera.project(points)
    pixel = np.floor(np.nan_to_num(uv, nan=-1.0) + 0.5).astype(np.int64)
    seen = valid & (pixel[:, 0] >= 0) & (pixel[:, 0] < width) & (pixel[:, 1] >= 0) & (pixel[:, 1] < height)
    rgb = np.zeros((len(points), 3), np.float32)
    rgb[seen] = image_bgr[pixel[seen, 1], pixel[seen, 0], ::-1] / np.float32(255.0)
    return rgb, seen


# ---- the floor ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FloorPlane:
    """The floor in camera space: normal . p + height_m = 0 for points on it (the Kinect's own
    floorClipPlane convention: the normal points up, height_m is the sensor's height above the floor)."""

    normal: np.ndarray  # float64 (3,) unit
    height_m: float
    inliers: int  # foot positions within the fit's tolerance of the plane
    # How many in-floor directions the feet spread along far enough to fix the tilt: 2 = fitted,
    # 1 = slope along the feet's line only (across it from `up`), 0 = levelled to `up`.
    spread_axes: int

    def distance(self, points: np.ndarray) -> np.ndarray:
        """Signed height (...) of camera-space points (..., 3) above the floor, metres."""
        return np.asarray(points, dtype=np.float64) @ self.normal + self.height_m

    def tilt_deg(self, up: np.ndarray | tuple[float, float, float] = CAMERA_UP) -> float:
        """Angle between the floor's normal and the sensor's up: how far the sensor is pitched / rolled."""
        cosine = float(np.clip(self.normal @ _unit(np.asarray(up, np.float64)), -1.0, 1.0))
        return float(np.degrees(np.arccos(cosine)))


def foot_positions(
    joints: np.ndarray,
    states: np.ndarray,
    layout: SkeletonLayout,
    up: np.ndarray | tuple[float, float, float] = CAMERA_UP,
    max_lean_deg: float = 45.0,
    max_leg_deg: float = 50.0,
) -> np.ndarray:
    """Feet that may stand on the floor, of bodies (..., J, 3) with states (..., J) -> float32 (N, 3).

    Only TRACKED feet: an inferred foot is the tracker's guess, often through the floor. Only the feet of
    an upright body, below it: its spine (base to top, tracked or inferred) within `max_lean_deg` of `up`
    (the room's, `body_up`) and the foot within `max_leg_deg` of straight down from the spine's base. A
    patient lying in bed, or sitting up in it with the legs stretched out, has tracked feet on the
    mattress, and fitted to them the floor was the bed's: `fit_floor` takes the lowest level many feet
    agree on, and a patient alone in bed outnumbers the staff's feet. Seated on a chair, feet drawn in
    are kept. With the sensor's own up (nobody has stood in view yet), a sensor pitched 30 degrees or
    more can still take a patient sitting up in bed, facing it, for upright."""
    base, top = _spine_ends(layout)
    feet = [layout.index("FootLeft"), layout.index("FootRight")]
    up = _unit(np.asarray(up, dtype=np.float64))
    joints = np.asarray(joints, dtype=np.float32).reshape(-1, layout.num_joints, 3)
    states = np.asarray(states).reshape(-1, layout.num_joints)
    found = joints[:, feet]
    spine = (joints[:, top] - joints[:, base]).astype(np.float64)
    legs = (joints[:, None, base] - found).astype(np.float64)  # (F, 2, 3) each foot to the spine's base
    spine_length, leg_length = np.linalg.norm(spine, axis=1), np.linalg.norm(legs, axis=2)
    upright = ((states[:, [base, top]] >= INFERRED).all(1) & (spine_length > 0.1)
               & (spine @ up >= np.cos(np.radians(max_lean_deg)) * spine_length))
    below = (leg_length > 0.1) & (legs @ up >= np.cos(np.radians(max_leg_deg)) * leg_length)
    usable = ((states[:, feet] > INFERRED) & np.isfinite(found).all(2) & (np.abs(found).sum(2) > 0)
              & upright[:, None] & below)
    return found[usable]


def _spine_ends(layout: SkeletonLayout) -> tuple[int, int]:
    """SpineBase and SpineShoulder (Kinect v1: HipCenter and ShoulderCenter)."""
    names = ("SpineBase", "SpineShoulder") if "SpineBase" in layout.joint_names else ("HipCenter",
                                                                                       "ShoulderCenter")
    return layout.index(names[0]), layout.index(names[1])


def standing_spines(
    joints: np.ndarray,
    states: np.ndarray,
    layout: SkeletonLayout,
    max_bend_deg: float = 20.0,
    max_knee_deg: float = 35.0,
) -> np.ndarray:
    """Unit vectors float64 (N, 3) from SpineBase to SpineShoulder (Kinect v1: HipCenter to
    ShoulderCenter) of bodies (..., J, 3) with states (..., J) that stand: spine, hips, knees and ankles
    tracked, the knees straight (thigh and shin within `max_knee_deg`) and the legs (mid-ankle to mid-hip)
    within `max_bend_deg` of the spine's direction. Up, as standing people show it (`body_up`): one
    sitting up in bed, or reclined in a chair with the feet tucked under it, has a spine at any slant and
    bent knees, and is left out."""
    base, top = _spine_ends(layout)
    hips, knees, ankles = ([layout.index(f"{part}{side}") for side in ("Left", "Right")]
                           for part in ("Hip", "Knee", "Ankle"))
    joints = np.asarray(joints, dtype=np.float64).reshape(-1, layout.num_joints, 3)
    states = np.asarray(states).reshape(-1, layout.num_joints)
    tracked = (states[:, [base, top, *hips, *knees, *ankles]] > INFERRED).all(1)
    tracked &= np.isfinite(joints).all((1, 2))
    hip, knee, ankle = (joints[:, side].mean(1) for side in (hips, knees, ankles))
    segments = {"spine": joints[:, top] - joints[:, base], "legs": hip - ankle, "thigh": hip - knee,
                "shin": knee - ankle}
    lengths = {name: np.linalg.norm(vector, axis=1) for name, vector in segments.items()}
    tracked &= np.all([length > 0.1 for length in lengths.values()], axis=0)
    unit = {name: segments[name][tracked] / lengths[name][tracked, None] for name in segments}

    def within(a: str, b: str, degrees: float) -> np.ndarray:
        return (unit[a] * unit[b]).sum(1) >= np.cos(np.radians(degrees))

    return unit["spine"][within("spine", "legs", max_bend_deg) & within("thigh", "shin", max_knee_deg)]


# Standing poses (`upright_spines`) it takes to say where the room's up is (`body_up`).
MIN_SPINES = 30


def upright_spines(spines: np.ndarray, max_pitch_deg: float = 45.0) -> np.ndarray:
    """The spine directions (N, 3) within `max_pitch_deg` of the sensor's up: `body_up` says why."""
    spines = np.asarray(spines, dtype=np.float64).reshape(-1, 3)
    return spines[spines @ np.asarray(CAMERA_UP, np.float64) >= np.cos(np.radians(max_pitch_deg))]


def body_up(
    spines: np.ndarray,
    *,
    min_spines: int = MIN_SPINES,
    max_pitch_deg: float = 45.0,
    level_within_deg: float = LEVEL_WITHIN_DEG,
) -> np.ndarray:
    """The room's up in camera space as standing people show it (`standing_spines` over a recording), for
    `fit_floor`'s `up`: their spines are near vertical whatever the sensor's pitch. A sensor pitched down
    at the room (NTU's, 10-30 degrees) sees feet that rarely spread enough to fit a tilt, and a floor
    levelled to the sensor's own up put people leaning towards it, a second person 0.8 m in the air.
    Spines more than `max_pitch_deg` from the sensor's up are left out: a person lying flat has legs in
    line with the spine too, and with the sensor pitched less than 45 degrees a lying spine is always
    further than that. The median of the rest; the sensor's up (CAMERA_UP) where that is within
    `level_within_deg` of it (people lean forward a few degrees: a level sensor stays level) or fewer than
    `min_spines` spines are known."""
    camera_up = np.asarray(CAMERA_UP, np.float64)
    spines = upright_spines(spines, max_pitch_deg)
    if len(spines) < min_spines:
        return camera_up
    up = _unit(np.median(spines, axis=0))
    if up @ camera_up >= np.cos(np.radians(level_within_deg)):
        return camera_up
    return up


def fit_floor(
    feet: np.ndarray,
    *,
    up: np.ndarray | tuple[float, float, float] = CAMERA_UP,
    tolerance_m: float = FLOOR_TOLERANCE_M,
    max_tilt_deg: float = 50.0,
    min_spread_m: float = 0.2,
    max_gap_m: float = 0.5,
    tilt_evidence: float = 1.25,
    min_inliers: int = 10,
    iterations: int = 300,
    max_scored: int = 4000,
    seed: int = 0,
) -> FloorPlane | None:
    """Fit the floor to foot positions (N, 3) in camera space; None with fewer than `min_inliers` feet
    that agree on a plane.

    Two models compete. Level: the floor is perpendicular to `up` (the sensor mounted level), at the
    lowest height that many feet agree on (nothing stands below the floor; feet above it stood on a
    step or a bed, or were tracked too high). Tilted: RANSAC over triples of feet, tilted at most
    `max_tilt_deg` from `up`. Tracked feet scatter by several centimetres, so a tilted plane also fits
    noise: it is taken only when `tilt_evidence` times as many feet lie on it as on the level one (a
    sensor pitched down at a room, where a level plane meets only a strip of the feet), and only when
    its inliers, fitted by least squares, spread far enough to carry a tilt: at least `min_spread_m`
    (standard deviation) along a direction, with no gap wider than `max_gap_m` (two people standing
    still are two clumps of feet, and the slope between them is only their trackers' disagreement).
    A tilt is fitted in both floor directions, or along the feet's line only, one person walking
    towards the sensor, with the roll across it taken from `up` (FloorPlane.spread_axes). Candidates
    are scored on at most `max_scored` feet (a random subset of a long recording's).
    """
    feet = np.asarray(feet, dtype=np.float64).reshape(-1, 3)
    feet = feet[np.isfinite(feet).all(1)]
    up = _unit(np.asarray(up, dtype=np.float64))
    if len(feet) < max(3, min_inliers):
        return None
    rng = np.random.default_rng(seed)
    scored = feet if len(feet) <= max_scored else feet[rng.choice(len(feet), max_scored, replace=False)]

    heights = scored @ up
    level_counts = (np.abs(heights[:, None] - heights[None, :]) <= tolerance_m).sum(1)
    # Nothing stands below the floor: of the levels many feet agree on (at least half as many as on the
    # best), the lowest. Feet above it stood on a step, a bed, or were tracked too high.
    supported = level_counts >= 0.5 * level_counts.max()
    level_height = heights[supported].min()
    level_inliers = np.abs(feet @ up - level_height) <= tolerance_m

    triples = rng.integers(0, len(scored), size=(iterations, 3))
    a, b, c = scored[triples[:, 0]], scored[triples[:, 1]], scored[triples[:, 2]]
    normals = np.cross(b - a, c - a)
    area = np.linalg.norm(normals, axis=1)
    # A triple of nearly collinear feet gives a normal that is mostly noise.
    usable = area > (0.5 * min_spread_m) ** 2
    normals = normals[usable] / area[usable, None]
    normals *= np.where(normals @ up < 0, -1.0, 1.0)[:, None]
    keep = normals @ up >= np.cos(np.radians(max_tilt_deg))
    normals, anchors = normals[keep], a[usable][keep]
    if len(normals):
        offsets = -(normals * anchors).sum(1)
        counts = (np.abs(normals @ scored.T + offsets[:, None]) <= tolerance_m).sum(1)
        best = int(np.argmax(counts))
        if counts[best] >= tilt_evidence * level_counts.max():
            tilted = _refine(feet, np.abs(feet @ normals[best] + offsets[best]) <= tolerance_m, up,
                             tolerance_m, min_spread_m, max_gap_m, min_inliers)
            # Kept only where the feet spread enough to carry a tilt; else the level model stands.
            if tilted is not None and tilted.spread_axes > 0:
                return tilted
    return _refine(feet, level_inliers, up, tolerance_m, np.inf, max_gap_m, min_inliers)


def _refine(
    feet: np.ndarray,
    inliers: np.ndarray,
    up: np.ndarray,
    tolerance_m: float,
    min_spread_m: float,
    max_gap_m: float,
    min_inliers: int,
) -> FloorPlane | None:
    """Least squares on the inliers, then the inliers re-selected with the refined plane, a few times."""
    plane: FloorPlane | None = None
    for _ in range(3):
        if inliers.sum() < max(3, min_inliers):
            return plane
        plane = _least_squares_floor(feet[inliers], up, min_spread_m, max_gap_m)
        refined = np.abs(plane.distance(feet)) <= tolerance_m
        if np.array_equal(refined, inliers):
            break
        inliers = refined
    return plane


def _least_squares_floor(
    points: np.ndarray, up: np.ndarray, min_spread_m: float, max_gap_m: float
) -> FloorPlane:
    centre = points.mean(0)
    _, singular, axes = np.linalg.svd(points - centre, full_matrices=False)
    spread = singular / np.sqrt(len(points))  # standard deviation along each principal axis

    def spread_along(k: int) -> bool:
        # Far enough, and covered without a wide gap: two people standing still are two clumps of feet,
        # and the slope between the clumps is only their trackers' disagreement.
        along = np.sort((points - centre) @ axes[k])
        return spread[k] >= min_spread_m and float(np.diff(along).max(initial=0.0)) <= max_gap_m

    if spread_along(0) and spread_along(1):
        normal, spread_axes = axes[2], 2
    elif spread_along(0):
        # Tilt known along the feet's line only: the unit vector closest to `up` that is perpendicular
        # to that line.
        normal, spread_axes = up - (up @ axes[0]) * axes[0], 1
    else:
        normal, spread_axes = up, 0
    normal = _unit(normal)
    if normal @ up < 0:
        normal = -normal
    # The median keeps a few feet at the tolerance's edge from moving the floor.
    height = -float(np.median(points @ normal))
    return FloorPlane(normal=normal, height_m=height, inliers=len(points), spread_axes=spread_axes)


def _unit(vector: np.ndarray) -> np.ndarray:
    norm = float(np.linalg.norm(vector))
    if norm == 0.0:
        raise ValueError("a direction of length zero")
    return vector / norm


# ---- the floor over a stream ------------------------------------------------------------------------


# A new floor fit replaces the shown one only when it moved this much: a room that jumps every second
# would be harder to read than one a centimetre off.
FLOOR_MOVE_M = 0.02
FLOOR_TURN_DEG = 1.0
# A fit of the other model (a floor level to the bodies' up, or one tilted along the feet) replaces the
# shown floor only where it holds this many times as many of the feet: the two models can take turns on
# the same feet, and on PKU-MMD 0005-L the floor swung 4-5 degrees about them nine times in 50 s. A fit of
# the same model moves it as before (a lower floor than a step's, a sensor re-aimed).
FLOOR_BETTER_FIT = 1.1
# The sensor is taken as level while the standing spines lean within LEVEL_WITHIN_DEG of its up, and once
# LEVEL_CALL_SPINES of them (10 s of one person standing) have made the call, it changes only this far past
# that bound either way (level until 6 degrees, pitched until 4): on PKU-MMD 0066-L their median sat at 5
# degrees and the floor tipped 5 degrees and back eight times in 45 s. Held from the first 30 spines, a
# wrong first call on a sensor pitched 5.5 degrees held for good (1 of the test's 20 draws, 16 of 200).
LEVEL_BAND_DEG = 1.0
LEVEL_CALL_SPINES = 300


class FloorTracker:
    """The floor as a live stream shows it: feet and standing spines of the frames seen so far, kept in a
    bounded sample, and the floor refitted to them every `refit_frames` frames. A refit replaces the floor
    only where it moved (FLOOR_MOVE_M, FLOOR_TURN_DEG) and, where it is the other model, fits clearly
    better (FLOOR_BETTER_FIT). Used by the window's 3D panel and the headless run's mounting report."""

    def __init__(
        self, layout: SkeletonLayout, *, feet_kept: int = 900, refit_frames: int = 30, min_feet: int = 30
    ) -> None:
        self.layout = layout
        self.feet: deque[np.ndarray] = deque(maxlen=feet_kept)  # the latest feet of upright people
        self.spines: deque[np.ndarray] = deque(maxlen=feet_kept)  # and spine directions (the bodies' up)
        self.refit_frames = refit_frames
        self.min_feet = min_feet
        self.floor: FloorPlane | None = None
        self.up = np.asarray(CAMERA_UP, np.float64)  # the room's up as the spines so far show it
        self._level: bool | None = None  # whether body_up last called the sensor level (None: no call held)
        self._frames = 0

    def observe(self, bodies: Sequence[Body]) -> bool:
        """Take the bodies of one frame; refit the floor every `refit_frames` frames. True when the floor
        changed."""
        for body in bodies:
            self.feet.extend(foot_positions(body.joints, body.states, self.layout, self.up))
            self.spines.extend(standing_spines(body.joints, body.states, self.layout))
        self._frames += 1
        if self._frames % self.refit_frames:
            return False
        spines = np.array(self.spines)
        standing = len(upright_spines(spines))
        band = 0.0 if self._level is None else LEVEL_BAND_DEG if self._level else -LEVEL_BAND_DEG
        self.up = body_up(spines, level_within_deg=LEVEL_WITHIN_DEG + band)
        if standing >= LEVEL_CALL_SPINES:  # a call the band may hold from now on
            self._level = bool(np.array_equal(self.up, CAMERA_UP))
        if len(self.feet) < self.min_feet or standing < MIN_SPINES:
            # Until that many standing poses say where up is, body_up answers the sensor's own: a floor
            # levelled to it was shown as measured ("tilted 0 deg", people 0.3-0.7 m in the air) on a
            # short replay of a sensor pitched 30 degrees down. "Floor not found yet" says what is known.
            return False
        feet = np.array(self.feet)
        floor = fit_floor(feet, up=self.up, min_inliers=self.min_feet // 2)
        shown = self.floor
        if floor is None or not _moved(shown, floor):
            return False
        other_model = shown is not None and floor.spread_axes != shown.spread_axes
        if other_model and not _fits_better(floor, shown, feet):
            return False
        self.floor = floor
        return True

    @property
    def settled(self) -> bool:
        """Whether enough people have stood in view (LEVEL_CALL_SPINES) for the sensor's pitch to be called
        for good: before that, a sensor pitched about LEVEL_WITHIN_DEG can be taken for level and back."""
        return self._level is not None


def _fits_better(new: FloorPlane, shown: FloorPlane, feet: np.ndarray) -> bool:
    """Whether `new` holds clearly more of `feet` than the floor shown now."""
    def held(floor: FloorPlane) -> int:
        return int((np.abs(floor.distance(feet)) <= FLOOR_TOLERANCE_M).sum())

    return held(new) > FLOOR_BETTER_FIT * held(shown)


def _moved(old: FloorPlane | None, new: FloorPlane) -> bool:
    if old is None:
        return True
    turn = np.degrees(np.arccos(np.clip(old.normal @ new.normal, -1.0, 1.0)))
    return abs(old.height_m - new.height_m) > FLOOR_MOVE_M or turn > FLOOR_TURN_DEG


@dataclass(frozen=True)
class SensorMounting:
    """How the sensor is mounted, as the floor it sees says: its height above the floor, how far it looks
    down (pitch) and how far it leans to one side about its line of sight (roll)."""

    height_m: float
    pitch_deg: float  # > 0: looking down
    roll_deg: float  # > 0: its right side lower, as seen from behind it

    @classmethod
    def of(cls, floor: FloorPlane) -> SensorMounting:
        # The floor's normal is the room's up in camera space (X to the sensor's left, Y up, Z forward): a
        # sensor pitched down by a sees it as (0, cos a, -sin a); one whose right side is lower leans its
        # left side (+X) up.
        x, y, z = (float(value) for value in floor.normal)
        pitch = np.degrees(np.arctan2(-z, y))
        roll = np.degrees(np.arcsin(np.clip(x, -1.0, 1.0)))
        return cls(float(floor.height_m), float(pitch), float(roll))

    def text(self, *, say_level: bool = True) -> str:
        """"2.10 m above the floor, looking 28 deg down, level side to side" (without its last part where
        `say_level` is False, the 3D panel's caption, and the sensor is level side to side)."""
        pitch = round(self.pitch_deg)
        looks = ("looking straight ahead" if pitch == 0
                 else f"looking {abs(pitch)} deg {'down' if pitch > 0 else 'up'}")
        roll = round(self.roll_deg)
        level = abs(roll) < MOUNTING_LEVEL_ROLL_DEG
        low = "right" if roll > 0 else "left"
        side = "level side to side" if level else f"its {low} side {abs(roll)} deg low"
        said = f"{self.height_m:.2f} m above the floor, {looks}"
        return f"{said}, {side}" if say_level or not level else said


# A roll this small is a sensor level side to side (a spirit level's reading, not the fit's noise).
MOUNTING_LEVEL_ROLL_DEG = 2


# ---- room coordinates -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RoomFrame:
    """Room coordinates: metres, x to the right and y forward as seen from behind the sensor, z up.

    With a floor the origin is the floor point below the sensor (z is height above the floor, y runs
    along the floor in the sensor's viewing direction); without one the frame is the sensor's own,
    turned to z up, with its origin at the sensor.
    """

    rotation: np.ndarray  # float64 (3, 3): rows are room x, y, z in camera space
    sensor_height_m: float  # the sensor's room z (0 without a floor)
    floor: FloorPlane | None

    @classmethod
    def from_floor(
        cls, floor: FloorPlane | None, up: np.ndarray | tuple[float, float, float] = CAMERA_UP
    ) -> RoomFrame:
        room_up = floor.normal if floor is not None else _unit(np.asarray(up, dtype=np.float64))
        # Forward = the sensor's optical axis laid flat on the floor (a pitched sensor still faces
        # "into the room"); right = forward x up keeps the frame right-handed.
        axis = np.array([0.0, 0.0, 1.0])
        forward = axis - (axis @ room_up) * room_up
        if np.linalg.norm(forward) < 1e-6:  # a sensor looking straight down: any forward will do
            forward = np.array([0.0, -1.0, 0.0]) - room_up[1] * room_up
        forward = _unit(forward)
        right = np.cross(forward, room_up)
        height = floor.height_m if floor is not None else 0.0
        return cls(np.stack([right, forward, room_up]), float(height), floor)

    def to_room(self, points: np.ndarray) -> np.ndarray:
        """Camera-space points (..., 3) -> room points (..., 3), float32."""
        # float32 throughout: a depth image is 217,088 points, and float64 matrix products of that size
        # were ten times slower here (BLAS); float32 keeps far below a millimetre at room scale.
        room = np.asarray(points, dtype=np.float32) @ self.rotation.T.astype(np.float32)
        room[..., 2] += np.float32(self.sensor_height_m)
        return room

    @property
    def sensor_position(self) -> np.ndarray:
        return np.array([0.0, 0.0, self.sensor_height_m], dtype=np.float32)


# ---- what to draw ---------------------------------------------------------------------------------


def present_joints(joints: np.ndarray, states: np.ndarray) -> np.ndarray:
    """(J,) True where a joint is tracked or inferred, finite, and not the all-zero 'absent' marker."""
    joints = np.asarray(joints)
    return (np.asarray(states) >= INFERRED) & np.isfinite(joints).all(-1) & (np.abs(joints).sum(-1) > 0)


def bone_segments(joints: np.ndarray, states: np.ndarray, layout: SkeletonLayout) -> np.ndarray:
    """One body's bones whose two joints are both present -> float32 (B, 2, 3), in joints' coordinates."""
    present = present_joints(joints, states)
    bones = np.array([(p, c) for p, c in layout.bones if present[p] and present[c]], dtype=np.int64)
    if not len(bones):
        return np.zeros((0, 2, 3), np.float32)
    return np.asarray(joints, dtype=np.float32)[bones]


def part_centre(
    part: str, joints: np.ndarray, states: np.ndarray, layout: SkeletonLayout
) -> np.ndarray | None:
    """Where a glimpse part is on one body (the first present joint of a hand's chain, the mean of the
    present joints for the full body), or None when none of its joints is present."""
    present = present_joints(joints, states)
    joints = np.asarray(joints, dtype=np.float32)
    if part == "full_body":
        return joints[present].mean(0) if present.any() else None
    chain = {"left_hand": layout.left_hand, "right_hand": layout.right_hand}.get(part)
    if chain is None:
        raise ValueError(f"unknown part {part!r}: expected left_hand, right_hand or full_body")
    for j in chain:
        if present[j]:
            return joints[j]
    return None


def frustum_corners(camera: ColorCamera, depth_m: float) -> np.ndarray:
    """The four image corners (top-left, top-right, bottom-right, bottom-left) seen at `depth_m`:
    float64 (4, 3) in camera space."""
    corners_uv = np.array(
        [[0, 0], [camera.width, 0], [camera.width, camera.height], [0, camera.height]], dtype=np.float64
    )
    return camera.unproject(corners_uv, np.full(4, depth_m))


def frustum_segments(
    camera: ColorCamera, near_m: float = DEPTH_RANGE_M[0], far_m: float = DEPTH_RANGE_M[1]
) -> np.ndarray:
    """The camera's field of view between near_m and far_m as 12 line segments float32 (12, 2, 3) in
    camera space: the near and far rectangles, and the four edges joining them."""
    near = frustum_corners(camera, near_m)
    far = frustum_corners(camera, far_m)
    ring = [(i, (i + 1) % 4) for i in range(4)]
    segments = [(near[a], near[b]) for a, b in ring] + [(far[a], far[b]) for a, b in ring]
    segments += [(near[i], far[i]) for i in range(4)]
    return np.array(segments, dtype=np.float32)


def clip_to_floor(segments: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Segments (S, 2, 3) in room coordinates -> (their parts above the floor (K, 2, 3), the outline
    where the segments' convex hull meets the floor (M, 2, 3)).

    For a field of view: what lies below the floor is not seen, and the outline is the patch of floor
    the sensor sees. Both are float32; the outline is empty when the segments do not cross the floor.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 3)
    a, b = segments[:, 0], segments[:, 1]
    za, zb = a[:, 2], b[:, 2]
    crosses = (za < 0) != (zb < 0)
    t = np.where(crosses, za / np.where(crosses, za - zb, 1.0), 0.0)
    meet = a + t[:, None] * (b - a)
    kept = []
    for s in range(len(segments)):
        if za[s] >= 0 and zb[s] >= 0:
            kept.append(segments[s])
        elif crosses[s]:
            kept.append(np.stack([a[s] if za[s] >= 0 else b[s], meet[s]]))
    outline = np.zeros((0, 2, 3))
    corners = meet[crosses]
    if len(corners) >= 3:
        # A plane cuts a convex solid in a convex polygon: order its corners by angle around the centre.
        centre = corners.mean(0)
        order = np.argsort(np.arctan2(corners[:, 1] - centre[1], corners[:, 0] - centre[0]))
        ring = corners[order]
        outline = np.stack([ring, np.roll(ring, -1, axis=0)], axis=1)
        outline[..., 2] = 0.0
    above = np.array(kept).reshape(-1, 2, 3)
    return above.astype(np.float32), outline.astype(np.float32)


def floor_grid(
    x_range: tuple[float, float], y_range: tuple[float, float], spacing_m: float = 0.5
) -> np.ndarray:
    """Lines of a grid on the room floor (z = 0) -> float32 (S, 2, 3) room coordinates."""
    xs = np.arange(np.ceil(x_range[0] / spacing_m), np.floor(x_range[1] / spacing_m) + 1) * spacing_m
    ys = np.arange(np.ceil(y_range[0] / spacing_m), np.floor(y_range[1] / spacing_m) + 1) * spacing_m
    segments = [((x, y_range[0], 0.0), (x, y_range[1], 0.0)) for x in xs]
    segments += [((x_range[0], y, 0.0), (x_range[1], y, 0.0)) for y in ys]
    return np.array(segments, dtype=np.float32).reshape(-1, 2, 3)


def field_of_view_scenery(
    room: RoomFrame,
    camera: ColorCamera,
    depth_range_m: tuple[float, float] = DEPTH_RANGE_M,
    grid_spacing_m: float = 0.5,
) -> tuple[np.ndarray, np.ndarray]:
    """What the 3D views draw around the people: (the camera's field of view with a small cross where
    the sensor is, a floor grid), each float32 (S, 2, 3) in room coordinates.

    With a floor the field of view stops at it (its outline there is the patch of floor the sensor
    sees) and the grid covers the floor out to the far corners of the view (at least 1 m each side and
    ahead); without one the whole field of view is drawn and the grid is empty. The field of view starts
    at the sensor's near limit (0.5 m): without the cross, how far people stand from it was a guess.
    """
    sensor = room.sensor_position
    cross = np.array([[sensor - d, sensor + d] for d in np.eye(3) * 0.08], dtype=np.float32)
    frustum = room.to_room(frustum_segments(camera, *depth_range_m))
    if room.floor is None:
        return np.concatenate([frustum, cross]), np.zeros((0, 2, 3), np.float32)
    above, outline = clip_to_floor(frustum)
    far = room.to_room(frustum_corners(camera, depth_range_m[1]))
    x_range = (float(min(far[:, 0].min(), -1.0)), float(max(far[:, 0].max(), 1.0)))
    y_range = (0.0, float(max(far[:, 1].max(), 1.0)))
    return np.concatenate([above, outline, cross]), floor_grid(x_range, y_range, grid_spacing_m)


def tube_mesh(segments: np.ndarray, radius: float, sides: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Line segments (S, 2, 3) -> an open tube around each: (vertices float32 (S * 2 * sides, 3),
    triangles int32 (S * 2 * sides, 3)). Vertices of segment s are s * 2 * sides onwards, so a colour
    per segment is `np.repeat(colours, 2 * sides, axis=0)`.

    Renderers draw lines one pixel wide whatever is asked of them (core-profile OpenGL), too thin to
    read a skeleton from across a room; tubes keep their size in metres.
    """
    segments = np.asarray(segments, dtype=np.float64).reshape(-1, 2, 3)
    count = len(segments)
    if count == 0:
        return np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int32)
    start, end = segments[:, 0], segments[:, 1]
    axis = end - start
    length = np.linalg.norm(axis, axis=1, keepdims=True)
    axis = np.where(length > 0, axis / np.maximum(length, 1e-12), np.array([0.0, 0.0, 1.0]))
    # Any vector not parallel to the axis gives the first ring direction.
    helper = np.where(np.abs(axis[:, :1]) < 0.9, np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]]))
    u = np.cross(axis, helper)
    u /= np.linalg.norm(u, axis=1, keepdims=True)
    v = np.cross(axis, u)
    angles = 2 * np.pi * np.arange(sides) / sides
    ring = radius * (np.cos(angles)[None, :, None] * u[:, None] + np.sin(angles)[None, :, None] * v[:, None])
    vertices = np.concatenate([start[:, None] + ring, end[:, None] + ring], axis=1)  # (S, 2*sides, 3)
    k = np.arange(sides)
    k1 = (k + 1) % sides
    # Two triangles per side between ring vertex k (start) / sides + k (end).
    quad = np.concatenate(
        [np.stack([k, k1, sides + k], 1), np.stack([k1, sides + k1, sides + k], 1)], axis=0
    )
    triangles = (quad[None] + (2 * sides * np.arange(count))[:, None, None]).reshape(-1, 3)
    return vertices.reshape(-1, 3).astype(np.float32), triangles.astype(np.int32)


# ---- the rendering camera -------------------------------------------------------------------------


@dataclass(frozen=True)
class ViewCamera:
    """A pinhole looking from `eye` at `target` (room coordinates), for rendering a width x height image.

    Axes follow OpenCV (x right, y down, z forward), the convention open3d's pinhole parameters use;
    `fov_deg` is the vertical field of view. The principal point is the image centre (w / 2 - 0.5,
    h / 2 - 0.5), as open3d's legacy renderer requires.
    """

    eye: tuple[float, float, float]
    target: tuple[float, float, float]
    up: tuple[float, float, float] = (0.0, 0.0, 1.0)
    width: int = 1280
    height: int = 720
    fov_deg: float = 60.0

    @property
    def focal(self) -> float:
        return 0.5 * self.height / np.tan(np.radians(self.fov_deg) / 2)

    def intrinsic(self) -> np.ndarray:
        """K (3, 3), float64."""
        return np.array(
            [
                [self.focal, 0.0, self.width / 2 - 0.5],
                [0.0, self.focal, self.height / 2 - 0.5],
                [0.0, 0.0, 1.0],
            ]
        )

    def extrinsic(self) -> np.ndarray:
        """World (room) -> camera transform (4, 4), float64."""
        eye, target = np.asarray(self.eye, np.float64), np.asarray(self.target, np.float64)
        forward = _unit(target - eye)
        right = np.cross(forward, np.asarray(self.up, np.float64))
        if np.linalg.norm(right) < 1e-9:
            raise ValueError(f"view camera looks along its up vector {self.up}")
        right = _unit(right)
        down = np.cross(forward, right)
        rotation = np.stack([right, down, forward])
        transform = np.eye(4)
        transform[:3, :3] = rotation
        transform[:3, 3] = -rotation @ eye
        return transform

    def project(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Room points (..., 3) -> (pixels float64 (..., 2), in_front bool (...)); NaN where behind."""
        points = np.asarray(points, dtype=np.float64)
        extrinsic = self.extrinsic()
        camera = points @ extrinsic[:3, :3].T + extrinsic[:3, 3]
        in_front = camera[..., 2] > MIN_DEPTH_M
        z = np.where(in_front, camera[..., 2], 1.0)
        k = self.intrinsic()
        u = k[0, 0] * camera[..., 0] / z + k[0, 2]
        v = k[1, 1] * camera[..., 1] / z + k[1, 2]
        pixels = np.stack([u, v], axis=-1)
        pixels[~in_front] = np.nan
        return pixels, in_front


def overview_camera(
    room: RoomFrame, focus: np.ndarray | None = None, *, width: int = 1280, height: int = 720
) -> ViewCamera:
    """The default view: from behind, above and a little to the right of the sensor, looking at `focus`
    (room coordinates; default 2.5 m in front of the sensor, 1 m up), so the sensor's field of view,
    the floor and the people are all in the picture."""
    if focus is None:
        focus = np.array([0.0, 2.5, 1.0])
    sensor = room.sensor_position.astype(np.float64)
    eye = sensor + np.array([1.0, -1.6, 1.2])
    return ViewCamera(
        eye=tuple(float(v) for v in eye),
        target=tuple(float(v) for v in np.asarray(focus, np.float64)),
        width=width,
        height=height,
        fov_deg=55.0,
    )
