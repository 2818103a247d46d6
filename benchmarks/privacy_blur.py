"""Time what `--privacy blur` adds to the capture thread per frame, and why the Kinect sources convert
their BGRA images once into contiguous BGR.

    python -m benchmarks.privacy_blur [--repeats 50] [--people 2]

Times, on a random image with `--people` tracked faces 2-3.5 m away: `core.privacy.blur_faces` at the
simulator's 640x360 and at the Kinect's 1920x1080 (contiguous BGR, as the sources now give it), the
one-off BGRA -> BGR conversion, and copying a 1080p BGR *view* of a BGRA image (what the ring did with
Kinect frames before). Prints minimum, median and 90th percentile in milliseconds (on a shared machine
the minimum is the cost of the code; the others show the load).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.frame import Body
from core.privacy import blur_faces
from recordings.argument_types import integer_in


def timed(function: Callable[[], object], repeats: int) -> str:
    function()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    return f"min {np.min(times):7.2f}  median {np.median(times):7.2f}  p90 {np.percentile(times, 90):7.2f} ms"


def people(count: int, camera: ColorCamera) -> list[Body]:
    bodies = []
    for i in range(count):
        joints = np.zeros((25, 3), np.float32)
        joints[:] = (-0.8 + 0.6 * i, -0.3, 2.0 + 0.5 * i)
        joints[3] = (-0.8 + 0.6 * i, 0.5, 2.0 + 0.5 * i)
        uv, _ = camera.project(joints)
        bodies.append(Body(i + 1, joints, np.full(25, 2, np.int8), uv))
    return bodies


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.privacy_blur", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=integer_in(1), default=50)
    parser.add_argument("--people", type=integer_in(1), default=2)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    small_camera = DEFAULT_CAMERA.scaled(640, 360)
    small = rng.integers(0, 256, (360, 640, 3), dtype=np.uint8)
    bgra = rng.integers(0, 256, (1080, 1920, 4), dtype=np.uint8)
    bgr = cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)
    ring_slot = np.empty_like(bgr)
    small_people, large_people = people(args.people, small_camera), people(args.people, DEFAULT_CAMERA)
    rows = [
        ("blur_faces 640x360", lambda: blur_faces(small, small_people, small_camera)),
        ("blur_faces 1920x1080", lambda: blur_faces(bgr, large_people, DEFAULT_CAMERA)),
        ("BGRA -> BGR (cvtColor)", lambda: cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR)),
        ("ring copy, contiguous BGR", lambda: np.copyto(ring_slot, bgr)),
        ("ring copy, BGR view of BGRA", lambda: np.copyto(ring_slot, bgra[..., :3])),
    ]
    print(f"{args.people} people, {args.repeats} repeats")
    for name, function in rows:
        print(f"{name:28s} {timed(function, args.repeats)}")


if __name__ == "__main__":
    main()
