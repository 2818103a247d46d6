"""Privacy: what of the colour image a mode keeps, where a tracked person's face is, and blurring it.

    PrivacyMode.OFF       colour kept, shown and recorded as the sensor gave it
    PrivacyMode.BLUR      every tracked person's face blurred in the colour image itself, before
                          anything shows, crops or records it, and hidden in the depth image recorded
    PrivacyMode.SKELETON  no colour shown or recorded; held in memory only when the model crops it

    Body --head joint (else neck, else shoulders: a larger box)--> centre: the sensor's own colour
         pixel (joints_color), else the camera model's
         --head depth z--> side = FACE_BOX_M * focal / z pixels (a fixed size in metres, so a face
                           far away gets a small box and one close by a large one)
    image --face boxes--> each box averaged down to FACE_CELLS x FACE_CELLS cells, then smoothed
    depth --the same boxes, placed through the depth camera--> each box read as no measurement (0)

Averaging down first throws the detail away: a plain Gaussian blur keeps enough of a face for
deblurring to bring part of it back. Only people the sensor tracks have a head joint, so only their
faces can be found: somebody the tracker has not picked up (entering the room, lying in bed, half out
of view) is not blurred. A site that must never show a face uses SKELETON.

Pure functions, no state: live/capture.py applies them on the capture thread.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence

import cv2
import numpy as np

from core.camera import DEPTH_CAMERA, MIN_DEPTH_M, ColorCamera, believable_pixels
from core.frame import Body
from core.skeleton import KINECT_V2

# A head is about 0.25 m tall with hair; the box adds room for the head joint's error and for the
# head moving between the body frame and the colour exposure (6 cm at 2 m/s over one frame).
FACE_BOX_M = 0.36
# Without a head joint (or with one the sensor does not track) the box sits on the neck and is made
# larger: it must still hold the face.
NECK_BOX_M = 0.6
# Without a neck either (both untracked, or dropped as implausible, while the rest is tracked: a replay
# of NTU's or PKU-MMD's 0 0 0 joints showed her face sharp), on the shoulders: a metre across holds a face
# whichever way the body leans or lies.
SHOULDERS_BOX_M = 1.0
FACE_CELLS = 6  # cells across a blurred face: a blob, nothing a person could be recognised by
HEAD, NECK, SPINE_SHOULDER, SHOULDER_LEFT, SHOULDER_RIGHT = (
    KINECT_V2.index(name) for name in ("Head", "Neck", "SpineShoulder", "ShoulderLeft", "ShoulderRight"))
# Where a face is looked for, in order, and the box's side there.
FACE_PLACES = ((HEAD, FACE_BOX_M), (NECK, NECK_BOX_M), (SPINE_SHOULDER, SHOULDERS_BOX_M),
               (SHOULDER_LEFT, SHOULDERS_BOX_M), (SHOULDER_RIGHT, SHOULDERS_BOX_M))


class PrivacyMode(enum.Enum):
    OFF = "off"
    BLUR = "blur"
    SKELETON = "skeleton"

    @property
    def shows_color(self) -> bool:
        """Whether colour images may be shown, kept for display, or recorded."""
        return self is not PrivacyMode.SKELETON


def _has_position(point: np.ndarray) -> bool:
    return bool(np.isfinite(point).all() and np.abs(point).sum() > 0 and point[2] > MIN_DEPTH_M)


def face_box(body: Body, camera: ColorCamera, sensor_pixels: bool = True) -> np.ndarray | None:
    """The face box (x0, y0, x1, y1) float in pixels of `camera`'s image, or None when the body has
    no position of head, neck or shoulders (FACE_PLACES). Not clipped to the image. `sensor_pixels`:
    centred on the sensor's own colour pixel of the joint where it has one (a colour image); False for
    another image (depth), where the joint is projected through `camera`.

    Joints the sensor tracks or infers come first: a head it does not track can keep a position from
    frames ago (the SDK reports one), and the face was blurred there while the tracked neck showed where
    it is. A not-tracked joint's position is still better than no box."""
    states = np.asarray(body.states)
    places = sorted(FACE_PLACES, key=lambda place: place[0] < len(states) and states[place[0]] == 0)
    for joint, size_m in places:
        if joint >= len(body.joints):
            continue
        point = np.asarray(body.joints[joint], np.float64)
        if not _has_position(point):
            continue
        centre = None
        if sensor_pixels and joint < len(body.joints_color):
            centre = np.asarray(body.joints_color[joint], np.float64)
        if centre is None or not believable_pixels(centre, camera):  # none, or a glitch's far off the image
            projected, valid = camera.project(point)
            if not valid:
                continue
            centre = projected.astype(np.float64)
        half = 0.5 * size_m * camera.focal / point[2]
        return np.array([centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half])
    return None


def face_boxes(bodies: Sequence[Body], camera: ColorCamera, shape: tuple[int, int],
               sensor_pixels: bool = True) -> np.ndarray:
    """Face boxes of every body, clipped to an image of `shape` (height, width): int (N, 4) x0, y0, x1,
    y1 (exclusive ends); boxes wholly outside the image are left out. `sensor_pixels`: see face_box."""
    height, width = shape
    boxes = []
    for body in bodies:
        box = face_box(body, camera, sensor_pixels)
        if box is None:
            continue
        x0, y0 = max(int(np.floor(box[0])), 0), max(int(np.floor(box[1])), 0)
        x1, y1 = min(int(np.ceil(box[2])), width), min(int(np.ceil(box[3])), height)
        if x1 > x0 and y1 > y0:
            boxes.append((x0, y0, x1, y1))
    return np.array(boxes, np.int64).reshape(-1, 4)


def blur_regions(image: np.ndarray, boxes: np.ndarray, cells: int = FACE_CELLS) -> np.ndarray:
    """A copy of `image` (H, W, C) uint8 with each box (x0, y0, x1, y1) averaged down to `cells` cells
    across and smoothed back up. `image` itself is never changed; with no boxes it is returned as is."""
    if len(boxes) == 0:
        return image
    out = np.array(image, copy=True, order="C")
    for x0, y0, x1, y1 in np.asarray(boxes, np.int64):
        region = out[y0:y1, x0:x1]
        if region.size == 0:
            continue
        coarse = cv2.resize(region, (min(cells, region.shape[1]), min(cells, region.shape[0])),
                            interpolation=cv2.INTER_AREA)
        smooth = cv2.resize(coarse, (region.shape[1], region.shape[0]), interpolation=cv2.INTER_LINEAR)
        region[...] = smooth.reshape(region.shape)
    return out


def blur_faces(image: np.ndarray, bodies: Sequence[Body], camera: ColorCamera) -> np.ndarray:
    """`image` with the face of every body in `bodies` blurred (a copy when any face is in view).

    `camera` must describe this image (its width and height): it places faces whose joints have no
    colour pixel and turns depth into box size.
    """
    return blur_regions(image, face_boxes(bodies, camera, image.shape[:2]))


def hide_depth_faces(depth: np.ndarray, bodies: Sequence[Body]) -> np.ndarray:
    """A depth image (H, W) uint16 mm of the Kinect's depth camera with every body's face box read as no
    measurement (0; a copy when any face is in view): close to the sensor, depth shows a face's relief,
    and in profile its outline. Averaged down as colour is, the face was mixed with the wall behind it
    and the unread pixels into surfaces nobody stood at (a smear from the head back to the wall);
    flattened to the head joint's depth, a joint tracked 0.35 m off left the face as it was. The joints
    are in the depth camera's own space, so they project straight into it."""
    camera = DEPTH_CAMERA.scaled(depth.shape[1], depth.shape[0])
    boxes = face_boxes(bodies, camera, depth.shape[:2], sensor_pixels=False)
    if len(boxes) == 0:
        return depth
    out = np.array(depth, copy=True, order="C")
    for x0, y0, x1, y1 in boxes:
        out[y0:y1, x0:x1] = 0
    return out
