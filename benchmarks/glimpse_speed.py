"""Time the glimpse sensor on one window of real 1920x1080 frames, as the live path runs it.

    python -m benchmarks.glimpse_speed [--repeats 30] [--sizes 112 224]

Window: 20 frames over 2 s of the NTU clip S001C001P001R001A001 (its RGB video and skeleton, from
../shared/data), 3 parts. Times part_boxes, crop_window, and crop_frame on one frame; prints the
minimum, median and 90th percentile in milliseconds (on a shared machine the minimum is the cost
of the code; the others show the load).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from core.camera import DEFAULT_CAMERA
from core.glimpse import PARTS, GlimpseConfig, crop_frame, crop_window, part_boxes
from core.skeleton import KINECT_V2
from core.window import WindowSpec, window_indices
from recordings.argument_types import existing_path, integer_in
from recordings.ntu import read_skeleton
from recordings.ntu_video import RgbVideo

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
CLIP = "S001C001P001R001A001"


def timed(function: Callable[[], object], repeats: int) -> str:
    function()  # warm up (first-call allocations)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append((time.perf_counter() - start) * 1e3)
    low, middle, high = np.min(times), np.median(times), np.percentile(times, 90)
    return f"min {low:6.2f} ms   median {middle:6.2f} ms   p90 {high:6.2f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.glimpse_speed",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--data", type=existing_path, default=SHARED_DATA / "ntu",
                        help=f"the NTU RGB+D folder: skeletons/{CLIP}.skeleton and rgb/{CLIP}_rgb.avi")
    parser.add_argument("--repeats", type=integer_in(1), default=30)
    parser.add_argument("--sizes", type=integer_in(1), nargs="+", default=[112, 224])
    args = parser.parse_args()

    skeleton, video_path = args.data / "skeletons" / f"{CLIP}.skeleton", args.data / "rgb" / f"{CLIP}_rgb.avi"
    if not skeleton.is_file() or not video_path.is_file():
        parser.error(f"--data {args.data}: not the NTU RGB+D folder (it needs "
                     f"{skeleton.relative_to(args.data)} and {video_path.relative_to(args.data)})")
    arrays = read_skeleton(skeleton).arrays(max_bodies=1)
    spec = WindowSpec()
    timestamps = np.arange(len(arrays.xyz)) / 30.0
    indices = window_indices(timestamps, float(timestamps[-1]), spec)
    with RgbVideo(video_path) as video:
        frames = np.stack(video.read_frames(list(indices)))
    joints, states, color = (a[indices, 0] for a in (arrays.xyz, arrays.states, arrays.color))

    print(f"window: {len(indices)} frames of {frames.shape[2]}x{frames.shape[1]}, parts {PARTS}, "
          f"OpenCV threads {cv2.getNumThreads()}, {os.cpu_count()} CPUs")
    for size in args.sizes:
        config = GlimpseConfig(crop_size=size)
        boxes = part_boxes(joints, states, DEFAULT_CAMERA, KINECT_V2, config)
        sides = np.median(boxes[..., 2], axis=1)
        print(f"S={size}: box sides (px) left hand {sides[0]:.0f}, right hand {sides[1]:.0f}, "
              f"body {sides[2]:.0f}")
        for label, function in cases(joints, states, color, frames, boxes, config):
            print(f"  {label:28s} {timed(function, args.repeats)}")


def cases(
    joints: np.ndarray, states: np.ndarray, color: np.ndarray, frames: np.ndarray, boxes: np.ndarray,
    config: GlimpseConfig,
) -> list[tuple[str, Callable[[], object]]]:
    return [
        ("part_boxes, projected", lambda: part_boxes(joints, states, DEFAULT_CAMERA, KINECT_V2, config)),
        ("part_boxes, sensor pixels",
         lambda: part_boxes(joints, states, DEFAULT_CAMERA, KINECT_V2, config, joints_color=color)),
        (f"crop_window, {len(PARTS)}x{len(frames)} crops", lambda: crop_window(frames, boxes, config)),
        (f"crop_frame, {len(PARTS)} crops", lambda: crop_frame(frames[-1], boxes[:, -1], config)),
    ]


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.glimpse_speed")
