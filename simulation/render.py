"""Colour frames of simulated people, drawn through the same `ColorCamera` that maps their joints.

    room (floor, walls, posters, chairs) --ray cast once per camera--> background (H, W, 3) BGR
    per frame: people far -> near, each a depth-sorted list of shaded primitives
        capsules (limbs), polygon (torso), ellipses (head, hair, face), held cup / phone
    + floor shadow, then sensor noise (a random window of a noise bank: no per-frame random draws)

Everything is projected with `camera.project`, the same model `core.glimpse` uses to find the parts,
so a hand's crop holds the drawn hand. Rendering at 1920x1080 is slow and not needed for 112-pixel
crops: clips are drawn with `DEFAULT_CAMERA.scaled(640, 360)` (focal lengths and centre scaled by
1/3), and the joints' colour pixels are given in that image.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.camera import ColorCamera
from simulation.actions import ObjectKind
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

Color = tuple[int, int, int]  # BGR


# ------------------------------------------------------------------------------------------ the sensor


@dataclass(frozen=True)
class SensorPose:
    """Where the Kinect stands in the room: `height` m above the floor, tilted down by `tilt` radians."""

    height: float
    tilt: float

    @property
    def rotation(self) -> np.ndarray:
        """Room -> camera rotation (rows: the camera's x, y, z axes in room coordinates)."""
        c, s = math.cos(self.tilt), math.sin(self.tilt)
        return np.array([[1.0, 0.0, 0.0], [0.0, c, s], [0.0, -s, c]])

    @property
    def origin(self) -> np.ndarray:
        return np.array([0.0, self.height, 0.0])

    def room_to_camera(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points) - self.origin) @ self.rotation.T

    def camera_to_room(self, points: np.ndarray) -> np.ndarray:
        return np.asarray(points) @ self.rotation + self.origin

    def floor_normal(self) -> np.ndarray:
        """The room's up direction in camera space."""
        return self.rotation @ np.array([0.0, 1.0, 0.0])


# --------------------------------------------------------------------------------------- appearances

SKIN_TONES: tuple[Color, ...] = (
    (189, 214, 241),
    (160, 192, 228),
    (128, 166, 212),
    (98, 136, 189),
    (70, 100, 150),
    (50, 72, 110),
)
HAIR_COLORS: tuple[Color, ...] = ((20, 20, 25), (30, 45, 70), (40, 80, 130), (120, 170, 210), (150, 150, 150))
# Cups are light or brightly coloured, phones dark: the difference a hand crop has to see.
CUP_COLORS: tuple[Color, ...] = (
    (240, 240, 240),
    (40, 200, 240),
    (50, 60, 215),
    (40, 140, 245),
    (235, 190, 120),
    (150, 225, 150),
)
PHONE_COLORS: tuple[Color, ...] = ((22, 22, 24), (55, 55, 60), (70, 35, 20), (40, 40, 40))


def _random_cloth(
    rng: np.random.Generator, value: tuple[float, float], saturation: tuple[int, int] = (40, 230)
) -> Color:
    hsv = np.uint8([[[rng.integers(0, 180), rng.integers(*saturation), int(rng.uniform(*value))]]])
    return tuple(int(c) for c in cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)[0, 0])  # type: ignore[return-value]


@dataclass(frozen=True)
class Look:
    """How a simulated person looks: colours and limb thickness."""

    skin: Color
    hair: Color
    shirt: Color
    trousers: Color
    shoes: Color
    long_sleeves: bool
    girth: float  # limb and torso thickness factor

    @classmethod
    def random(cls, rng: np.random.Generator) -> Look:
        return cls(
            skin=SKIN_TONES[int(rng.integers(len(SKIN_TONES)))],
            hair=HAIR_COLORS[int(rng.integers(len(HAIR_COLORS)))],
            shirt=_random_cloth(rng, (60, 245)),
            trousers=_random_cloth(rng, (35, 170)),
            shoes=_random_cloth(rng, (20, 90)),
            long_sleeves=bool(rng.random() < 0.5),
            girth=float(rng.uniform(0.85, 1.25)),
        )


@dataclass(frozen=True)
class HeldObject:
    kind: ObjectKind
    color: Color

    @classmethod
    def random(cls, kind: ObjectKind, rng: np.random.Generator) -> HeldObject:
        palette = CUP_COLORS if kind is ObjectKind.CUP else PHONE_COLORS
        return cls(kind, palette[int(rng.integers(len(palette)))])


@dataclass(frozen=True)
class Lighting:
    """Exposure and colour cast of the whole image, and the sensor's noise."""

    gain: float
    white_balance: tuple[float, float, float]  # B, G, R multipliers
    noise_sigma: float  # grey levels

    @classmethod
    def random(cls, rng: np.random.Generator, low_light: bool) -> Lighting:
        if low_light:
            return cls(
                float(rng.uniform(0.3, 0.45)),
                tuple(rng.uniform(0.85, 1.1, 3)),  # type: ignore[arg-type]
                float(rng.uniform(6.0, 10.0)),
            )
        return cls(
            float(rng.uniform(0.8, 1.15)),
            tuple(rng.uniform(0.88, 1.12, 3)),  # type: ignore[arg-type]
            float(rng.uniform(1.5, 4.0)),
        )

    def shade(self, color: Color, factor: float = 1.0) -> Color:
        return tuple(  # type: ignore[return-value]
            int(min(255.0, c * factor * self.gain * w))
            for c, w in zip(color, self.white_balance, strict=True)
        )


# ------------------------------------------------------------------------------------------- the room


@dataclass(frozen=True)
class Chair:
    """A chair in room coordinates: the seat's front edge centre at (x, z), facing `heading` (radians,
    as a person's heading: 0 faces the sensor)."""

    x: float
    z: float
    heading: float
    seat_height: float
    color: Color

    def corners(self) -> dict[str, np.ndarray]:
        """3-D boxes (8 corners each, room coordinates) and legs (pairs of points)."""
        c, s = math.cos(self.heading), math.sin(self.heading)
        # Chair local frame like a person's: x left, y up, z forward (the way a sitter faces).
        to_room = np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]]) @ np.diag([-1.0, 1.0, -1.0])

        def box(x0: float, x1: float, y0: float, y1: float, z0: float, z1: float) -> np.ndarray:
            local = np.array([[x, y, z] for x in (x0, x1) for y in (y0, y1) for z in (z0, z1)])
            return local @ to_room.T + np.array([self.x, 0.0, self.z])

        h, w, d = self.seat_height, 0.22, 0.44
        return {
            "seat": box(-w, w, h - 0.05, h, -d, 0.0),
            "back": box(-w, w, h, h + 0.45, -d, -d + 0.04),
            "legs": box(-w + 0.02, w - 0.02, 0.0, h - 0.05, -d + 0.02, -0.02),
        }


@dataclass(frozen=True)
class Room:
    """A box-shaped room around the sensor (which stands against the front wall)."""

    back_wall_z: float
    left_wall_x: float  # > 0 (room x points to the sensor's left)
    right_wall_x: float  # < 0
    ceiling: float
    wall: Color
    side_wall: Color
    floor: Color
    floor_pattern: int  # 0 plain, 1 planks, 2 tiles
    posters: tuple[tuple[float, float, float, float, Color], ...]  # x0, x1, y0, y1 on the back wall
    chairs: tuple[Chair, ...] = ()

    @classmethod
    def random(cls, rng: np.random.Generator) -> Room:
        back = float(rng.uniform(5.2, 7.5))
        left, right = float(rng.uniform(2.6, 4.0)), -float(rng.uniform(2.6, 4.0))
        posters = []
        for _ in range(int(rng.integers(0, 4))):
            x0 = float(rng.uniform(right + 0.3, left - 1.3))
            y0 = float(rng.uniform(0.8, 1.6))
            posters.append(
                (
                    x0,
                    x0 + float(rng.uniform(0.4, 1.2)),
                    y0,
                    y0 + float(rng.uniform(0.3, 0.9)),
                    _random_cloth(rng, (60, 240)),
                )
            )
        # Painted walls and floors are mostly muted; clothes (Look) are not.
        return cls(
            back_wall_z=back,
            left_wall_x=left,
            right_wall_x=right,
            ceiling=float(rng.uniform(2.5, 3.0)),
            wall=_random_cloth(rng, (150, 235), (0, 90)),
            side_wall=_random_cloth(rng, (140, 220), (0, 90)),
            floor=_random_cloth(rng, (60, 170), (10, 150)),
            floor_pattern=int(rng.integers(0, 3)),
            posters=tuple(posters),
        )


def paint_background(
    room: Room, sensor: SensorPose, camera: ColorCamera, lighting: Lighting, rng: np.random.Generator
) -> np.ndarray:
    """The empty room as the colour camera sees it: BGR uint8 (camera.height, camera.width, 3), one ray
    per pixel (the slowest step of a short clip, ~20 ms at 640x360)."""
    height, width = camera.height, camera.width
    u, v = np.meshgrid(np.arange(width, dtype=np.float32), np.arange(height, dtype=np.float32))
    direction = np.stack([(u - camera.cx) / camera.fx, -(v - camera.cy) / camera.fy, np.ones_like(u)], -1)
    rotation = sensor.rotation.astype(np.float32)
    ray = direction @ rotation  # camera -> room (rows of `rotation` are the camera axes)
    eye = sensor.camera_to_room(np.array([-camera.tx, -camera.ty, 0.0])).astype(np.float32)
    with np.errstate(divide="ignore", invalid="ignore"):
        hits = np.stack(
            [
                np.where(ray[..., 1] < 0, -eye[1] / ray[..., 1], np.inf),  # floor
                np.where(ray[..., 1] > 0, (room.ceiling - eye[1]) / ray[..., 1], np.inf),  # ceiling
                np.where(ray[..., 2] > 0, (room.back_wall_z - eye[2]) / ray[..., 2], np.inf),  # back wall
                np.where(ray[..., 0] > 0, (room.left_wall_x - eye[0]) / ray[..., 0], np.inf),  # left wall
                np.where(ray[..., 0] < 0, (room.right_wall_x - eye[0]) / ray[..., 0], np.inf),  # right wall
            ]
        )
    hits = np.where(hits > 0, hits, np.inf)
    surface = np.argmin(hits, axis=0).astype(np.int32)
    distance = np.take_along_axis(hits, surface[None], 0)[0]
    point = eye + ray * distance[..., None]
    x, y, z = point[..., 0], point[..., 1], point[..., 2]

    # Each pixel's colour is a palette entry: 0 floor, 1 ceiling, 2 back wall, 3-4 side walls (a little
    # darker), 5 skirting board, 6.. posters.
    palette = [
        room.floor,
        (225, 225, 225),
        room.wall,
        *[tuple(0.85 * c for c in room.side_wall)] * 2,
        (60, 60, 60),
        *[p[4] for p in room.posters],
    ]
    code = surface.copy()
    code[(surface >= 2) & (y < 0.09)] = 5
    for k, (x0, x1, y0, y1, _) in enumerate(room.posters):
        code[(surface == 2) & (x >= x0) & (x <= x1) & (y >= y0) & (y <= y1)] = 6 + k
    image = np.asarray(palette, np.float32)[code]
    # A ceiling light above the middle of the room; surfaces darken with distance from it.
    light = np.array([0.0, room.ceiling, 0.5 * room.back_wall_z], np.float32)
    brightness = 0.7 + 0.45 * np.exp(-np.sum((point - light) ** 2, -1) / np.float32(18.0))
    if room.floor_pattern == 1:  # planks along z, each a slightly different shade
        pattern = 0.9 + 0.1 * np.sin(np.floor(x / np.float32(0.18)) * np.float32(12.9898)) ** 2
        brightness = np.where(surface == 0, brightness * pattern, brightness)
    elif room.floor_pattern == 2:  # tiles
        tile = (np.floor(x / np.float32(0.5)) + np.floor(z / np.float32(0.5))) % 2
        brightness = np.where(surface == 0, brightness * (0.93 + 0.07 * tile), brightness)
    # Lens vignetting.
    radius = ((u - camera.width / 2) / camera.width) ** 2 + ((v - camera.height / 2) / camera.height) ** 2
    brightness *= 1.0 - 0.5 * radius
    tint = np.asarray(lighting.white_balance, np.float32) * np.float32(lighting.gain)
    image *= brightness[..., None] * tint
    image += rng.normal(0, 2.0, 3).astype(np.float32)
    image = np.clip(image, 0, 255).astype(np.uint8)
    for chair in room.chairs:
        draw_chair(image, chair, sensor, camera, lighting)
    return image


def draw_chair(
    image: np.ndarray, chair: Chair, sensor: SensorPose, camera: ColorCamera, lighting: Lighting
) -> None:
    parts = chair.corners()
    faces = ((0, 1, 3, 2), (4, 5, 7, 6), (0, 1, 5, 4), (2, 3, 7, 6), (0, 2, 6, 4), (1, 3, 7, 5))
    legs = sensor.room_to_camera(parts["legs"])
    leg_uv, _ = camera.project(legs)
    thickness = max(1, int(round(0.035 * camera.focal / max(float(legs[:, 2].mean()), 0.5))))
    for i in (0, 1, 4, 5):  # the four verticals: corners at y0 -> y1
        a, b = leg_uv[i], leg_uv[i + 2]
        if np.isfinite(a).all() and np.isfinite(b).all():
            cv2.line(image, _pt(a), _pt(b), lighting.shade(chair.color, 0.6), thickness, cv2.LINE_AA)
    polygons = []
    for name, shade in (("back", 0.85), ("seat", 1.0)):
        corners = sensor.room_to_camera(parts[name])
        uv, valid = camera.project(corners)
        if not valid.all():
            continue
        for k, face in enumerate(faces):
            depth = float(corners[list(face), 2].mean())
            polygons.append((depth, uv[list(face)], lighting.shade(chair.color, shade * (0.75 + 0.05 * k))))
    for _, uv, color in sorted(polygons, key=lambda p: -p[0]):
        cv2.fillConvexPoly(image, np.round(uv * 16).astype(np.int32), color, cv2.LINE_AA, 4)


# ---------------------------------------------------------------------------------------- the people


def _pt(uv: np.ndarray) -> tuple[int, int]:
    return int(round(float(uv[0]))), int(round(float(uv[1])))


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
    pa, pb = _pt(a), _pt(b)
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
            centre = _pt(head_uv[0])
            axes = (max(1, int(radius * 0.95)), max(1, int(radius * 1.12)))
            cv2.ellipse(image, centre, (axes[0] + 1, axes[1] + 1), 0, 0, 360, hair[1], -1, cv2.LINE_AA)
            cv2.ellipse(image, centre, axes, 0, 0, 360, hair[0], -1, cv2.LINE_AA)
            if facing > -0.2:
                # The face: a skin ellipse that slides off-centre as the head turns away.
                face_axes = (
                    max(1, int(radius * 0.8 * (0.55 + 0.45 * max(facing, 0.0)))),
                    max(1, int(radius * 0.9)),
                )
                cv2.ellipse(image, _pt(head_uv[1]), face_axes, 0, 0, 360, skin[0], -1, cv2.LINE_AA)
                if facing > 0.35 and radius > 6:
                    eye = max(1, int(radius * 0.09))
                    for k in (2, 3):
                        cv2.circle(image, _pt(head_uv[k]), eye, (40, 30, 30), -1, cv2.LINE_AA)
                    cv2.circle(image, _pt(head_uv[4]), eye, (70, 60, 120), -1, cv2.LINE_AA)

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
    cv2.line(image, _pt(bottom), _pt(top), lighting.shade(color, 0.6), thickness + 2, cv2.LINE_4)
    cv2.line(image, _pt(bottom), _pt(top), body, thickness, cv2.LINE_4)
    cv2.circle(image, _pt(handle), max(1, thickness // 3), body, max(1, thickness // 6), cv2.LINE_AA)
    # The rim, darker inside.
    cv2.circle(image, _pt(top), max(1, thickness // 2), lighting.shade(color, 0.45), -1, cv2.LINE_AA)


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


# ---------------------------------------------------------------------------------------- sensor noise


@functools.lru_cache(maxsize=4)
def _unit_noise(height: int, width: int) -> np.ndarray:
    """Standard normal noise (H, W, 3) float32, the same in every process: drawn once, scaled per clip,
    and shifted per frame (a fresh draw per clip cost more than drawing the clip's background)."""
    noise = np.random.default_rng(20190107).standard_normal((height, width, 3), dtype=np.float32)
    noise.flags.writeable = False
    return noise


class NoiseBank:
    """Sensor noise for any number of frames from one random draw: each frame takes a different window
    of a larger noise image (drawing fresh Gaussian noise for every 640x360 frame would cost more than
    the drawing itself)."""

    MARGIN = 48

    def __init__(self, height: int, width: int, sigma: float, rng: np.random.Generator) -> None:
        noise = _unit_noise(height + self.MARGIN, width + self.MARGIN) * np.float32(sigma)
        self._positive = np.clip(noise, 0, 255).astype(np.uint8)
        self._negative = np.clip(-noise, 0, 255).astype(np.uint8)
        self._shape = (height, width)
        self._offsets = rng.integers(0, self.MARGIN + 1, size=(64, 2))

    def apply(self, image: np.ndarray, index: int) -> None:
        """Add frame `index`'s noise to image in place (saturating)."""
        height, width = self._shape
        dy, dx = self._offsets[index % len(self._offsets)]
        window = (slice(dy, dy + height), slice(dx, dx + width))
        cv2.add(image, self._positive[window], dst=image)
        cv2.subtract(image, self._negative[window], dst=image)
