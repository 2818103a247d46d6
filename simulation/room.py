"""The room around the sensor: where the Kinect stands, walls, floor, posters and chairs, drawn once.

    SensorPose          the sensor's height and downward tilt (room <-> camera space)
    Room.random         a box-shaped room: wall and floor colours, floor pattern, posters
    paint_background    one ray per pixel through the colour camera -> the empty room, BGR (H, W, 3)
    draw_chair          a chair's seat, back and legs as shaded boxes and lines
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from core.camera import ColorCamera
from simulation.appearance import Color, Lighting, random_cloth


def pixel(uv: np.ndarray) -> tuple[int, int]:
    """A sub-pixel position as OpenCV's integer point."""
    return int(round(float(uv[0]))), int(round(float(uv[1])))


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
                    random_cloth(rng, (60, 240)),
                )
            )
        # Painted walls and floors are mostly muted; clothes (Look) are not.
        return cls(
            back_wall_z=back,
            left_wall_x=left,
            right_wall_x=right,
            ceiling=float(rng.uniform(2.5, 3.0)),
            wall=random_cloth(rng, (150, 235), (0, 90)),
            side_wall=random_cloth(rng, (140, 220), (0, 90)),
            floor=random_cloth(rng, (60, 170), (10, 150)),
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
            cv2.line(image, pixel(a), pixel(b), lighting.shade(chair.color, 0.6), thickness, cv2.LINE_AA)
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
