"""The glimpse sensor: square part boxes from a body's joints, and the crops they cut from colour frames.

    joints (T, J, 3) metres ---project / sensor's own colour pixels---> centres (pixels)
    depth z of each part ------- metric size * focal / z -------------> sides (pixels)
    missing joints: hand -> wrist -> elbow, then last / next good frame, then body centre
    Gaussian smoothing of centres and sides over the window ---------> boxes (P, T, 4)
    boxes + frames (T, H, W, 3) BGR ---slice, resize, pad with zeros---> crops (P, T, S, S, 3) RGB

Boxes are sized in metres and projected through the part's depth, so a hand crop frames the hand at
1.5 m as at 4.5 m (a person 3-4 m away is only ~350-450 px tall in the 1920x1080 image). Boxes that leave
the image are padded with black, never shifted: a shifted crop would move the hand off centre exactly
when it nears the edge of the view.

Box format throughout: float32 (cx, cy, w, h) in colour pixels, w == h; NaN where the body is absent
from the whole window (its crops are black).
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from core.camera import MIN_DEPTH_M, ColorCamera, believable_pixels
from core.skeleton import INFERRED, NEAREST_MEASURED_M, SkeletonLayout

PARTS = ("left_hand", "right_hand", "full_body")
PART_NAMES = {"left_hand": "left hand", "right_hand": "right hand", "full_body": "full body"}  # for people
# Where the whole names have no room (three attention bars in a narrow panel, labels of a crowd).
PART_SHORT_NAMES = {"left_hand": "L hand", "right_hand": "R hand", "full_body": "body"}


@dataclass(frozen=True)
class GlimpseConfig:
    """How part boxes are sized and smoothed, and the crop resolution (the model profile decides it)."""

    crop_size: int = 112
    hand_size_m: float = 0.30  # side of a hand box, metres at the hand's depth
    body_margin: float = 0.12  # added on each side of the body's joint extent, as a fraction of it
    body_min_size_m: float = 1.0  # floor on the body box side, for bodies with few joints visible
    # Gaussian sigma in seconds, not frames: training smooths boxes over whole 30 fps clips while live
    # smooths a window resampled to ~10 fps, and both must see the same steadiness. 0 turns it off.
    smoothing_s: float = 0.05

    def __post_init__(self) -> None:
        if self.crop_size < 1 or self.hand_size_m <= 0 or self.body_margin < 0 or self.body_min_size_m < 0:
            raise ValueError(f"invalid glimpse config {self}")
        if self.smoothing_s < 0:
            raise ValueError(f"smoothing_s must be >= 0, got {self.smoothing_s}")


def _joint_pixels(
    joints: np.ndarray, states: np.ndarray | None, camera: ColorCamera, joints_color: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """(pixels (T, J, 2), usable (T, J)) for the joints of one body over a window."""
    uv, projectable = camera.project(joints)
    present = np.isfinite(joints).all(-1) & (np.abs(np.nan_to_num(joints)).sum(-1) > 0) & projectable
    present &= np.nan_to_num(joints[..., 2]) >= NEAREST_MEASURED_M
    if states is not None:
        # Inferred joints count: the Kinect infers an occluded hand next to its wrist (within ~0.2 m on
        # the NTU clips), and the hand joint is still the better centre for a hand crop than the wrist.
        present &= states >= INFERRED
    if joints_color is not None:
        # The sensor's own mapping (NTU colorX/colorY, the SDK mapper live) is exact for its unit; the
        # model only fills in where the mapper gave nothing: +-inf from the SDK, NaN from our sources,
        # and (0, 0) where NTU's tools wrote zeros for a joint they could not map.
        joints_color = np.asarray(joints_color, dtype=np.float64)
        sensor = believable_pixels(joints_color, camera) & (joints_color != 0).any(-1)
        uv = np.where(sensor[..., None], joints_color, uv)
    usable = present & np.isfinite(uv).all(-1)
    return uv.astype(np.float64), usable


def _fill_gaps(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """Fill frames where `found` (T,) is False with the last good frame, or the next one at the start."""
    if not found.any():
        return values
    index = np.where(found, np.arange(len(found)), -1)
    index = np.maximum.accumulate(index)
    first = int(np.argmax(found))
    index[index < 0] = first
    return values[index]


def _smooth(boxes: np.ndarray, timestamps: np.ndarray, sigma_s: float) -> np.ndarray:
    """Gaussian smoothing in time along axis 1 (frames) of (P, T, 4), renormalised at the window's ends."""
    frames = boxes.shape[1]
    if sigma_s <= 0 or frames < 2:
        return boxes
    offset = (timestamps[:, None] - timestamps[None, :]) / sigma_s
    weights = np.exp(-0.5 * offset**2)
    weights /= weights.sum(1, keepdims=True)
    return np.einsum("ts,psk->ptk", weights, boxes)


def part_boxes(
    joints: np.ndarray,
    states: np.ndarray | None,
    camera: ColorCamera,
    layout: SkeletonLayout,
    config: GlimpseConfig,
    joints_color: np.ndarray | None = None,
    timestamps: np.ndarray | None = None,
) -> np.ndarray:
    """Square boxes of PARTS for one body over a window: float32 (P, T, 4) as (cx, cy, w, h) pixels.

    joints: (T, J, 3) camera metres (zeros where absent); states: (T, J) tracking states or None;
    joints_color: optional (T, J, 2) colour pixels from the sensor itself, preferred over projecting.
    timestamps: (T,) seconds of the frames, for smoothing in time; None means consecutive 30 fps frames.
    Hands centre on the first usable (tracked or inferred) joint of layout.left_hand / right_hand
    (hand, wrist, elbow), side = hand_size_m at that joint's depth. The body box spans the usable
    joints plus body_margin, at least body_min_size_m at their mean depth. Frames where a part has no
    usable joint take the last good frame (the next one at the window's start); a hand never seen in
    the window sits on the body centre. A body absent from the whole window gives NaN boxes.
    """
    joints = np.asarray(joints, dtype=np.float64)
    frames, num_joints = joints.shape[:2] if joints.ndim == 3 else (0, 0)
    if joints.ndim != 3 or joints.shape[2] != 3 or num_joints != layout.num_joints:
        raise ValueError(
            f"part_boxes expects joints (T, {layout.num_joints}, 3) for layout {layout.name}, "
            f"got {joints.shape}"
        )
    if states is not None and np.shape(states) != (frames, num_joints):
        raise ValueError(f"states shape {np.shape(states)} does not match joints {joints.shape[:2]}")
    if joints_color is not None and np.shape(joints_color) != (frames, num_joints, 2):
        raise ValueError(
            f"joints_color shape {np.shape(joints_color)} does not match joints {joints.shape[:2]}"
        )
    uv, usable = _joint_pixels(joints, states, camera, joints_color)
    depth = joints[..., 2]
    focal = camera.focal
    boxes = np.full((len(PARTS), frames, 4), np.nan)

    # Full body: extent of the usable joints.
    count = usable.sum(1)
    body_found = count > 0
    u = np.where(usable, uv[..., 0], np.nan)
    v = np.where(usable, uv[..., 1], np.nan)
    with np.errstate(invalid="ignore", divide="ignore"):
        u0, u1 = np.fmin.reduce(u, axis=1), np.fmax.reduce(u, axis=1)
        v0, v1 = np.fmin.reduce(v, axis=1), np.fmax.reduce(v, axis=1)
        body_depth = np.where(usable, depth, 0.0).sum(1) / count
    extent = np.maximum(u1 - u0, v1 - v0) * (1.0 + 2.0 * config.body_margin)
    body_side = np.maximum(extent, config.body_min_size_m * focal / np.maximum(body_depth, MIN_DEPTH_M))
    body = np.stack([(u0 + u1) / 2, (v0 + v1) / 2, body_side, body_side], axis=1)
    body = _fill_gaps(body, body_found)
    body_depth = _fill_gaps(body_depth, body_found)
    boxes[2] = body

    for part, chain in enumerate((layout.left_hand, layout.right_hand)):
        chain = np.asarray(chain)
        cost = np.where(usable[:, chain], np.arange(len(chain), dtype=np.float64), np.inf)
        best = chain[np.argmin(cost, axis=1)]
        found = np.isfinite(cost.min(1))
        rows = np.arange(frames)
        side = config.hand_size_m * focal / np.maximum(depth[rows, best], MIN_DEPTH_M)
        hand = np.stack([uv[rows, best, 0], uv[rows, best, 1], side, side], axis=1)
        if found.any():
            hand = _fill_gaps(hand, found)
        else:
            side = config.hand_size_m * focal / np.maximum(body_depth, MIN_DEPTH_M)
            hand = np.stack([body[:, 0], body[:, 1], side, side], axis=1)
        boxes[part] = hand

    if timestamps is None:
        timestamps = np.arange(frames) / 30.0
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.shape != (frames,):
        raise ValueError(f"timestamps shape {timestamps.shape} does not match {frames} frames")
    return _smooth(boxes, timestamps, config.smoothing_s).astype(np.float32)


def _pixel_box(box: np.ndarray) -> tuple[int, int, int, int] | None:
    """The pixels a (cx, cy, w, h) box cuts: its corner and sides rounded, (x0, y0, w, h); None where
    there is no box (a black crop). Boxes with the same pixel box cut the same crop."""
    if not np.isfinite(box).all() or box[2] < 1 or box[3] < 1:
        return None
    box_w, box_h = int(round(float(box[2]))), int(round(float(box[3])))
    return int(round(float(box[0]) - box_w / 2)), int(round(float(box[1]) - box_h / 2)), box_w, box_h


def _crop_into(out: np.ndarray, frame: np.ndarray, box: np.ndarray) -> None:
    """Cut one (cx, cy, w, h) box from a BGR frame into out (S, S, 3), black outside the image."""
    pixels = _pixel_box(box)
    if pixels is None:
        return
    x0, y0, box_w, box_h = pixels
    height, width = frame.shape[:2]
    size_y, size_x = out.shape[:2]
    xa, xb = max(x0, 0), min(x0 + box_w, width)
    ya, yb = max(y0, 0), min(y0 + box_h, height)
    if xa >= xb or ya >= yb:
        return
    scale_x, scale_y = size_x / box_w, size_y / box_h
    # Where the visible part of the box lands in the crop; the rest stays black (padding, not shifting).
    dxa, dxb = int(round((xa - x0) * scale_x)), int(round((xb - x0) * scale_x))
    dya, dyb = int(round((ya - y0) * scale_y)), int(round((yb - y0) * scale_y))
    if dxa >= dxb or dya >= dyb:
        return
    source = frame[ya:yb, xa:xb]
    target = (dxb - dxa, dyb - dya)
    # Shrinking a 471 px body box to 112 px needs an area filter (bilinear aliases), but OpenCV's area
    # filter is slow except for exact halving (~0.5 ms vs ~0.05 ms for that box). So: halve while the
    # crop is still over twice the target (dropping an odd last row/column, under half an output
    # pixel), then bilinear for the remaining factor < 2. Within ~1.5 grey levels of the exact area
    # filter on the NTU clip, at a fifth of its time.
    while source.shape[1] >= 2 * target[0] and source.shape[0] >= 2 * target[1]:
        half_h, half_w = source.shape[0] // 2, source.shape[1] // 2
        source = cv2.resize(source[:2 * half_h, :2 * half_w], (half_w, half_h), interpolation=cv2.INTER_AREA)
    out[dya:dyb, dxa:dxb] = cv2.resize(source, target, interpolation=cv2.INTER_LINEAR)


def _bgr_to_rgb(crops: np.ndarray) -> np.ndarray:
    """Swap channels of (..., S, S, 3) crops in place (cv2 on one flat view: numpy's [..., ::-1]
    copy costs more than the crops themselves)."""
    if crops.size == 0:
        return crops
    size = crops.shape[-2]
    flat = crops.reshape(-1, size, 3)
    cv2.cvtColor(flat, cv2.COLOR_BGR2RGB, dst=flat)
    return crops


def _check_frame(frame: np.ndarray) -> None:
    if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
        raise ValueError(f"expected a BGR uint8 frame (H, W, 3), got {frame.dtype} {frame.shape}")


def crop_frame(frame_bgr: np.ndarray | None, boxes_t: np.ndarray, config: GlimpseConfig) -> np.ndarray:
    """Crops of one frame: boxes_t (P, 4) -> uint8 (P, S, S, 3) RGB. A missing frame (None) or NaN box
    gives black crops."""
    boxes_t = np.asarray(boxes_t, dtype=np.float32)
    if boxes_t.ndim != 2 or boxes_t.shape[1] != 4:
        raise ValueError(f"crop_frame expects boxes (P, 4), got {boxes_t.shape}")
    size = config.crop_size
    out = np.zeros((len(boxes_t), size, size, 3), dtype=np.uint8)
    if frame_bgr is None:
        return out
    _check_frame(frame_bgr)
    for part, box in enumerate(boxes_t):
        _crop_into(out[part], frame_bgr, box)
    return _bgr_to_rgb(out)


def crop_window(
    frames: np.ndarray | Sequence[np.ndarray | None], boxes: np.ndarray, config: GlimpseConfig
) -> np.ndarray:
    """Crops of a window: frames (T, H, W, 3) BGR uint8 (or a list, None for a frame without colour),
    boxes (P, T, 4) -> uint8 (P, T, S, S, 3) RGB. The same as crop_frame on each frame."""
    boxes = np.asarray(boxes, dtype=np.float32)
    if boxes.ndim != 3 or boxes.shape[2] != 4 or boxes.shape[1] != len(frames):
        raise ValueError(f"crop_window expects boxes (P, {len(frames)}, 4) for {len(frames)} frames, "
                         f"got {boxes.shape}")
    size = config.crop_size
    out = np.zeros((boxes.shape[0], len(frames), size, size, 3), dtype=np.uint8)
    for t, frame in enumerate(frames):
        if frame is None:
            continue
        _check_frame(frame)
        for part in range(boxes.shape[0]):
            _crop_into(out[part, t], frame, boxes[part, t])
    return _bgr_to_rgb(out)


class WindowCrops:
    """crop_window for one person's sliding window, hop after hop, cutting only what changed.

    Consecutive windows share most of their frames (a 2 s window of 20 samples moved by a 0.2 s hop
    shares 18), and a crop depends only on the pixels its box rounds to: a part's crop is cut again only
    for a frame not seen before or where that part's box moved by a pixel (smoothing still settles the
    newest boxes; a moving hand's box does not move the body's). The crops are identical to
    crop_window's. Frames are named by a key that stays with one frame's pixels (the ring's sequence
    number); crops of frames that left the window are let go.
    """

    def __init__(self, config: GlimpseConfig) -> None:
        self.config = config
        self._held: dict[Hashable, tuple[tuple, np.ndarray]] = {}  # key -> (pixel boxes, crops (P, S, S, 3))

    def cut(self, keys: Sequence[Hashable], frames: Sequence[np.ndarray | None], boxes: np.ndarray,
            out: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
        """keys and frames (T,) of the window, boxes (P, T, 4) -> uint8 (P, T, S, S, 3) RGB, in `out`
        where given (a batch's slot: no copy)."""
        boxes = np.asarray(boxes, dtype=np.float32)
        if boxes.ndim != 3 or boxes.shape[2] != 4 or not boxes.shape[1] == len(frames) == len(keys):
            raise ValueError(f"WindowCrops.cut expects boxes (P, {len(frames)}, 4) for {len(frames)} frames "
                             f"and {len(keys)} keys, got {boxes.shape}")
        size = self.config.crop_size
        shape = (boxes.shape[0], len(frames), size, size, 3)
        if out is None:
            out = np.empty(shape, dtype=np.uint8)
        elif out.shape != shape or out.dtype != np.uint8:
            raise ValueError(f"WindowCrops.cut: out must be uint8 {shape}, got {out.dtype} {out.shape}")
        held: dict[Hashable, tuple[tuple, np.ndarray]] = {}
        for t, key in enumerate(keys):
            pixels = tuple(_pixel_box(box) for box in boxes[:, t])
            before = held.get(key) or self._held.get(key)
            if before is None:
                crops = crop_frame(frames[t], boxes[:, t], self.config)
            else:
                crops = before[1]
                moved = [part for part, (now, then) in enumerate(zip(pixels, before[0], strict=True))
                         if now != then]  # fmt: skip
                if moved:  # a hand's box moved: its crop alone is cut again, not the body's
                    crops = crops.copy()  # not in place: a cut that fails later leaves the kept crops whole
                    crops[moved] = crop_frame(frames[t], boxes[moved, t], self.config)
            held[key] = (pixels, crops)
            out[:, t] = crops
        self._held = held
        return out
