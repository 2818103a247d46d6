"""Simulated people drawn through the same `ColorCamera` that maps their joints.

    make_figure    a posed body (camera space, T frames) -> Figure: joints and the extra points its
                   drawing needs (torso outline, face, held cup / phone, floor shadow), projected once
    draw_figure    one frame of a Figure into a BGR image: a depth-sorted list of shaded primitives
                   (capsules for limbs, a polygon torso, ellipses for head, hair and face, the objects)

Everything is projected with `camera.project`, the same model `core.glimpse` uses to find the parts,
so a hand's crop holds the drawn hand. Rendering at 1920x1080 is slow and not needed for 112-pixel
crops: clips are drawn with `DEFAULT_CAMERA.scaled(640, 360)` (focal lengths and centre scaled by
1/3), and the joints' colour pixels are given in that image.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from core.camera import ColorCamera
from simulation.actions import ObjectKind
from simulation.appearance import Color, HeldObject, Lighting, Look
from simulation.motion import (
    ANKLE,
    ELBOW,
    FOOT,
    HAND,
    HAND_TIP,
    HEAD,
    HIP,
    KNEE,
    NECK,
    SHOULDER,
    SIDES,
    SPINE_BASE,
    SPINE_MID,
    SPINE_SHOULDER,
    THUMB,
    WRIST,
    Kinematics,
)
from simulation.room import SensorPose, pixel

# Limb capsules: (joint a, joint b, radius m, what it is dressed in).
# Limb capsules: (joint a, joint b, radius m, what it is dressed in).
_SHIRT, _TROUSERS, _SKIN, _SHOES, _SLEEVE = range(5)
_LIMBS: tuple[tuple[int, int, float, int], ...] = tuple(
    item
    for side in SIDES
    for item in (
        (SHOULDER[side], ELBOW[side], 0.05, _SHIRT),
        (ELBOW[side], WRIST[side], 0.04, _SLEEVE),
        (WRIST[side], HAND_TIP[side], 0.036, _SKIN),
        (WRIST[side], THUMB[side], 0.014, _SKIN),
        (HIP[side], KNEE[side], 0.078, _TROUSERS),
        (KNEE[side], ANKLE[side], 0.058, _TROUSERS),
        (ANKLE[side], FOOT[side], 0.045, _SHOES),
    )
)


@dataclass
class Figure:
    """One person's drawing data for a run of frames, projected once for all of them."""

    look: Look
    kinematics: Kinematics  # camera space
    held: tuple[HeldObject | None, HeldObject | None]
    uv: np.ndarray  # (T, 25, 2) joints
    extra: dict[str, np.ndarray]  # name -> (T, K, 3) camera-space points
    extra_uv: dict[str, np.ndarray]  # name -> (T, K, 2)

    @property
    def num_frames(self) -> int:
        return len(self.uv)


def make_figure(
    look: Look,
    kinematics: Kinematics,
    held: tuple[HeldObject | None, HeldObject | None],
    camera: ColorCamera,
    sensor: SensorPose,
) -> Figure:
    """Project a posed body (camera space, (T, ...)) and the extra points its drawing needs."""
    j = kinematics.joints
    up = kinematics.upper_axes[..., 1]
    head_up, head_forward = kinematics.head_axes[..., 1], kinematics.head_axes[..., 2]
    head_left = kinematics.head_axes[..., 0]
    upper_left = kinematics.upper_axes[..., 0]
    pelvis_left = kinematics.pelvis_axes[..., 0]
    g = look.girth
    extra: dict[str, np.ndarray] = {
        "torso": np.stack(
            [
                j[:, SHOULDER[0]] + 0.05 * g * upper_left + 0.03 * up,
                j[:, SHOULDER[1]] - 0.05 * g * upper_left + 0.03 * up,
                j[:, SPINE_MID] - 0.15 * g * upper_left,
                j[:, HIP[1]] - 0.07 * g * pelvis_left,
                j[:, HIP[0]] + 0.07 * g * pelvis_left,
                j[:, SPINE_MID] + 0.15 * g * upper_left,
            ],
            1,
        ),
        "head": np.stack(
            [
                j[:, HEAD] + 0.02 * head_up,  # hair
                j[:, HEAD] + 0.045 * head_forward - 0.02 * head_up,  # face
                j[:, HEAD] + 0.1 * head_forward + 0.03 * head_left + 0.01 * head_up,  # eyes
                j[:, HEAD] + 0.1 * head_forward - 0.03 * head_left + 0.01 * head_up,
                j[:, HEAD] + 0.095 * head_forward - 0.05 * head_up,  # mouth
                j[:, HEAD] + 0.1 * head_up,  # top, for the on-screen head size
            ],
            1,
        ),
    }
    for side in SIDES:
        item = held[side]
        if item is None:
            continue
        fingers, axis = kinematics.hand_axes[:, side, :, 0], kinematics.hand_axes[:, side, :, 1]
        # The object sits where the fingers close, across its axis (a cup's, or a phone's long side).
        grip = fingers - np.sum(fingers * axis, -1, keepdims=True) * axis
        grip = grip / np.maximum(np.linalg.norm(grip, axis=-1, keepdims=True), 1e-6)
        hand = j[:, HAND[side]]
        if item.kind is ObjectKind.CUP:
            centre = hand + 0.03 * grip
            extra[f"object{side}"] = np.stack(
                [centre - 0.055 * axis, centre + 0.055 * axis, centre + 0.05 * grip], 1
            )
        else:
            centre = hand + 0.015 * grip + 0.02 * axis
            half_long, half_wide = 0.078 * axis, 0.037 * np.cross(axis, grip)
            depth = 0.005 * grip
            corners = [
                centre + a * half_long + b * half_wide + c * depth
                for a in (-1, 1)
                for b in (-1, 1)
                for c in (-1, 1)
            ]
            extra[f"object{side}"] = np.stack(corners, 1)
    # The shadow: the pelvis dropped onto the floor, and two axes on the floor around it.
    normal = sensor.floor_normal()
    floor_point = sensor.room_to_camera(np.zeros(3))
    centre = 0.5 * (j[:, ANKLE[0]] + j[:, ANKLE[1]]) * 0.5 + 0.5 * j[:, SPINE_BASE]
    centre = centre - ((centre - floor_point) @ normal)[:, None] * normal
    across = np.cross(normal, [0.0, 0.0, 1.0])
    across /= np.linalg.norm(across)
    along = np.cross(across, normal)
    spread = np.linalg.norm(
        (j[:, HEAD] - j[:, SPINE_BASE]) - ((j[:, HEAD] - j[:, SPINE_BASE]) @ normal)[:, None] * normal, axis=1
    )[:, None]
    extra["shadow"] = np.stack([centre, centre + (0.35 + 0.5 * spread) * across, centre + 0.25 * along], 1)

    uv, _ = camera.project(j)
    extra_uv = {name: camera.project(points)[0] for name, points in extra.items()}
    return Figure(look, kinematics, held, uv, extra, extra_uv)


def _capsule(
    image: np.ndarray, a: np.ndarray, b: np.ndarray, width: float, color: Color, outline: Color, light: Color
) -> None:
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        return
    thickness = max(1, int(round(width)))
    pa, pb = pixel(a), pixel(b)
    cv2.line(image, pa, pb, outline, thickness + 2, cv2.LINE_AA)
    cv2.line(image, pa, pb, color, thickness, cv2.LINE_AA)
    if thickness >= 4:
        # A highlight towards the light (upper left of the image).
        offset = max(1, thickness // 4)
        cv2.line(
            image,
            (pa[0] - offset, pa[1] - offset // 2),
            (pb[0] - offset, pb[1] - offset // 2),
            light,
            max(1, thickness // 3),
            cv2.LINE_AA,
        )


def draw_figure(
    image: np.ndarray, figure: Figure, index: int, camera: ColorCamera, lighting: Lighting
) -> None:
    """Draw frame `index` of a figure into a BGR image (in place), nearest primitives last."""
    look = figure.look
    j = figure.kinematics.joints[index]
    uv = figure.uv[index]
    focal = camera.focal
    g = look.girth
    shade = lighting.shade
    palette = {
        _SHIRT: look.shirt,
        _TROUSERS: look.trousers,
        _SKIN: look.skin,
        _SHOES: look.shoes,
        _SLEEVE: look.shirt if look.long_sleeves else look.skin,
    }
    drawn = {k: (shade(c), shade(c, 0.55), shade(c, 1.25)) for k, c in palette.items()}
    hair = (shade(look.hair), shade(look.hair, 0.6), shade(look.hair, 1.3))

    _shadow(image, figure, index, focal)

    items: list[tuple[float, int, object]] = []  # (depth, order, drawing closure)

    def add(depth: float, draw: object) -> None:
        items.append((depth, len(items), draw))

    for a, b, radius, dress in _LIMBS:
        depth = 0.5 * (j[a, 2] + j[b, 2])
        if depth <= 0.05:
            continue
        width = 2 * radius * (g if dress != _SKIN else 1.0) * focal / depth
        colors = drawn[dress]
        add(depth, lambda a=a, b=b, width=width, colors=colors: _capsule(image, uv[a], uv[b], width, *colors))

    torso_uv = figure.extra_uv["torso"][index]
    torso_depth = float(np.mean(j[[SPINE_BASE, SPINE_MID, SPINE_SHOULDER, SHOULDER[0], SHOULDER[1]], 2]))
    if np.isfinite(torso_uv).all() and torso_depth > 0.05:
        spine_width = 0.24 * g * focal / torso_depth
        hips_width = 0.19 * g * focal / torso_depth
        shirt, trousers = drawn[_SHIRT], drawn[_TROUSERS]

        def draw_torso() -> None:
            _capsule(image, uv[HIP[0]], uv[HIP[1]], hips_width, *trousers)
            polygon = np.round(torso_uv * 16).astype(np.int32)
            cv2.fillPoly(image, [polygon], shirt[0], cv2.LINE_AA, 4)
            cv2.polylines(image, [polygon], True, shirt[1], 1, cv2.LINE_AA, 4)
            _capsule(image, uv[SPINE_MID], uv[SPINE_SHOULDER], spine_width * 0.85, *shirt)
            _capsule(image, uv[SPINE_BASE], uv[SPINE_MID], spine_width * 0.8, *shirt)

        add(torso_depth + 0.05, draw_torso)
        neck_width = 0.1 * focal / torso_depth
        skin = drawn[_SKIN]
        add(torso_depth + 0.02, lambda: _capsule(image, uv[SPINE_SHOULDER], uv[NECK], neck_width, *skin))

    head_uv = figure.extra_uv["head"][index]
    head_depth = float(j[HEAD, 2])
    if np.isfinite(head_uv).all() and head_depth > 0.05:
        radius = 0.1 * focal / head_depth
        facing = -float(figure.kinematics.head_axes[index][:, 2] @ (j[HEAD] / np.linalg.norm(j[HEAD])))
        skin = drawn[_SKIN]

        def draw_head() -> None:
            centre = pixel(head_uv[0])
            axes = (max(1, int(radius * 0.95)), max(1, int(radius * 1.12)))
            cv2.ellipse(image, centre, (axes[0] + 1, axes[1] + 1), 0, 0, 360, hair[1], -1, cv2.LINE_AA)
            cv2.ellipse(image, centre, axes, 0, 0, 360, hair[0], -1, cv2.LINE_AA)
            if facing > -0.2:
                # The face: a skin ellipse that slides off-centre as the head turns away.
                face_axes = (
                    max(1, int(radius * 0.8 * (0.55 + 0.45 * max(facing, 0.0)))),
                    max(1, int(radius * 0.9)),
                )
                cv2.ellipse(image, pixel(head_uv[1]), face_axes, 0, 0, 360, skin[0], -1, cv2.LINE_AA)
                if facing > 0.35 and radius > 6:
                    eye = max(1, int(radius * 0.09))
                    for k in (2, 3):
                        cv2.circle(image, pixel(head_uv[k]), eye, (40, 30, 30), -1, cv2.LINE_AA)
                    cv2.circle(image, pixel(head_uv[4]), eye, (70, 60, 120), -1, cv2.LINE_AA)

        add(head_depth, draw_head)

    for side in SIDES:
        item = figure.held[side]
        if item is None:
            continue
        points = figure.extra[f"object{side}"][index]
        points_uv = figure.extra_uv[f"object{side}"][index]
        depth = float(points[:, 2].mean()) - 0.02
        if depth <= 0.05 or not np.isfinite(points_uv).all():
            continue
        if item.kind is ObjectKind.CUP:
            width = 0.08 * focal / depth
            add(depth, lambda p=points_uv, w=width, c=item.color: _draw_cup(image, p, w, c, lighting))
        else:
            add(depth, lambda p=points, q=points_uv, c=item.color: _draw_phone(image, p, q, c, lighting))

    for _, _, draw in sorted(items, key=lambda item: (-item[0], item[1])):
        draw()  # type: ignore[operator]


def _shadow(image: np.ndarray, figure: Figure, index: int, focal: float) -> None:
    """A soft dark ellipse on the floor under the body (drawn and blurred at a quarter of the size)."""
    points = figure.extra_uv["shadow"][index]
    if not np.isfinite(points).all():
        return
    centre = points[0]
    a = float(np.linalg.norm(points[1] - centre))
    b = float(np.linalg.norm(points[2] - centre))
    if a < 2 or b < 1:
        return
    height, width = image.shape[:2]
    sigma = max(1.0, b / 3)
    # The blurred edge reaches 3 sigma past the ellipse: the region must include it, or it shows as a box.
    pad_x, pad_y = a + 3 * sigma + 2, b + 3 * sigma + 2
    x0, x1 = int(max(centre[0] - pad_x, 0)), int(min(centre[0] + pad_x, width))
    y0, y1 = int(max(centre[1] - pad_y, 0)), int(min(centre[1] + pad_y, height))
    if x1 - x0 < 4 or y1 - y0 < 4:
        return
    small = (max(1, (x1 - x0) // 4), max(1, (y1 - y0) // 4))
    mask = np.zeros((small[1], small[0]), np.uint8)
    cv2.ellipse(
        mask,
        (int((centre[0] - x0) / 4), int((centre[1] - y0) / 4)),
        (max(1, int(a / 4)), max(1, int(b / 4))),
        0,
        0,
        360,
        90,
        -1,
    )
    mask = cv2.GaussianBlur(mask, (0, 0), max(0.5, sigma / 4))
    mask = cv2.resize(mask, (x1 - x0, y1 - y0), interpolation=cv2.INTER_LINEAR)
    roi = image[y0:y1, x0:x1]
    # Darken by up to 35 %: roi * (255 - mask) / 255 with mask <= 90.
    cv2.multiply(roi, cv2.merge([255 - mask] * 3), dst=roi, scale=1 / 255)


def _draw_cup(image: np.ndarray, points: np.ndarray, width: float, color: Color, lighting: Lighting) -> None:
    bottom, top, handle = points
    body = lighting.shade(color)
    thickness = max(2, int(round(width)))
    cv2.line(image, pixel(bottom), pixel(top), lighting.shade(color, 0.6), thickness + 2, cv2.LINE_4)
    cv2.line(image, pixel(bottom), pixel(top), body, thickness, cv2.LINE_4)
    cv2.circle(image, pixel(handle), max(1, thickness // 3), body, max(1, thickness // 6), cv2.LINE_AA)
    # The rim, darker inside.
    cv2.circle(image, pixel(top), max(1, thickness // 2), lighting.shade(color, 0.45), -1, cv2.LINE_AA)


def _draw_phone(
    image: np.ndarray, corners: np.ndarray, corners_uv: np.ndarray, color: Color, lighting: Lighting
) -> None:
    # Corners ordered (long, wide, thick) in {-1, +1}^3; faces of the flat box, back to front.
    faces = ((0, 2, 6, 4), (1, 3, 7, 5), (0, 1, 5, 4), (2, 3, 7, 6), (0, 1, 3, 2), (4, 5, 7, 6))
    body = lighting.shade(color)
    screen = lighting.shade((120, 90, 60), 1.0)
    order = sorted(range(len(faces)), key=lambda k: -float(corners[list(faces[k]), 2].mean()))
    for k in order:
        polygon = np.round(corners_uv[list(faces[k])] * 16).astype(np.int32)
        cv2.fillConvexPoly(image, polygon, screen if k == 1 else body, cv2.LINE_AA, 4)
        cv2.polylines(image, [polygon], True, lighting.shade(color, 2.0), 1, cv2.LINE_AA, 4)
