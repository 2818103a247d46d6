"""What recording depth costs the recorder's thread and the disk, per frame (recordings/depth.py).

    python -m benchmarks.depth_recording [--repeats 30]

The frame: a room seen through the depth camera (floor 1 m below, wall 4 m ahead; tests/xef_writer.py)
with a person-sized box 2.5 m away, Gaussian noise of 0.5 mm + 1.5 mm per metre of distance (the
Kinect v2's grows with distance) and 3% of pixels without a reading (0). Encodes it as PNG-16 the way
the recorder does (zlib level 1, no row filters) and with libpng's default filters at levels 1, 3 and
6; prints the minimum and median time (ms, one thread) and the bytes per frame (raw: 434,176), and the
MB a minute at 30 fps. No real Kinect frame exists here, so the sizes are an estimate: real frames
have edges and flying pixels, and less noise on near surfaces.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from xef_writer import room_depth  # noqa: E402

from core.camera import DEPTH_CAMERA  # noqa: E402
from recordings.argument_types import integer_in  # noqa: E402
from recordings.depth import PNG_PARAMS  # noqa: E402


def sample_frame(seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    camera = DEPTH_CAMERA
    depth = room_depth(camera.fx, camera.fy, camera.cx, camera.cy, floor_y=-1.0, wall_z=4.0)
    depth = depth.astype(np.float64)
    depth[120:330, 230:300] = 2500.0  # a person, 2.5 m away
    depth += rng.normal(0.0, 1.0, depth.shape) * (0.5 + 1.5 * depth / 1000.0)
    depth[rng.random(depth.shape) < 0.03] = 0.0
    return np.clip(np.round(depth), 0, 65535).astype(np.uint16)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.depth_recording", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=integer_in(1), default=30)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    frame = sample_frame()
    print(f"depth frame 512x424 uint16, raw {frame.nbytes:,} bytes")
    settings = [("recorder: level 1, no filters", PNG_PARAMS)] + [
        (f"level {level}, default filters", [cv2.IMWRITE_PNG_COMPRESSION, level]) for level in (1, 3, 6)
    ]
    for name, params in settings:
        times = []
        for _ in range(args.repeats):
            start = time.perf_counter()
            ok, png = cv2.imencode(".png", frame, params)
            times.append((time.perf_counter() - start) * 1000)
        assert ok and np.array_equal(cv2.imdecode(png, cv2.IMREAD_UNCHANGED), frame)  # lossless
        size = len(png)
        print(f"PNG-16 {name}: encode min {min(times):.2f} ms, median {np.median(times):.2f} ms; "
              f"{size:,} bytes ({frame.nbytes / size:.1f}x smaller), {size * 30 * 60 / 1e6:.0f} MB a minute")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
