"""How fast the simulated Kinect makes data, on one core.

    python -m benchmarks.simulation_speed [--clips 30] [--seed 0] [--scene-seconds 20]

Prints frames per second for
  skeleton            generate_clip alone (choreography, kinematics, placement, tracker, the room's
                      background; no frame drawn)
  skeleton + render   every frame of each clip drawn at 640x360
    + write clips     and written as an NTU-layout clip (JPEG-in-AVI, .skeleton, sidecar) by the recorder
  scene               SimulatedScene.next_frame (1-3 people, drawn), and its slowest frame
Clips cycle through all classes. Each figure is given by wall clock and by the process's CPU time: on a
shared machine the wall clock includes waiting for a core, the CPU time is closer to the code's cost.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from recordings.argument_types import integer_in, positive_float
from recordings.synthetic import sample_name, simulated_label_map, write_clip
from simulation import CLASSES, SimClip, SimulationConfig, generate_clip
from simulation.scene import SimulatedScene


def timed(label: str, work: Callable[[], int]) -> float:
    """Run work() (which returns a frame count); print and return frames per CPU second."""
    wall, cpu = time.perf_counter(), time.process_time()
    count = work()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(
        f"{label:<20}{count / wall:7.0f} frames/s wall {count / cpu:7.0f} frames/s CPU "
        f"({cpu * 1e3 / count:.2f} ms CPU per frame)"
    )
    return count / cpu


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.simulation_speed",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--clips", type=integer_in(1), default=30)
    parser.add_argument("--seed", type=integer_in(0), default=0)
    parser.add_argument("--scene-seconds", type=positive_float, default=20.0)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, as the target says
    config = SimulationConfig()
    print(
        f"render size {config.camera.width}x{config.camera.height}, {args.clips} clips, "
        f"load average {os.getloadavg()[0]:.1f}"
    )

    def clips() -> Iterator[tuple[int, SimClip]]:
        for k in range(args.clips):
            yield k, generate_clip(k % len(CLASSES), np.random.default_rng([args.seed, k]), config)

    def skeleton_only() -> int:
        return sum(clip.num_frames for _, clip in clips())

    def rendered() -> int:
        return sum(1 for _, clip in clips() for _ in clip.frames)

    def written() -> int:
        frames = 0
        with tempfile.TemporaryDirectory() as folder:
            for k, clip in clips():
                write_clip(
                    clip, Path(folder), sample_name(clip.label, k, args.seed), simulated_label_map(), "bench"
                )
                frames += clip.num_frames
        return frames

    generate_clip(0, np.random.default_rng(0), config)  # warm up imports and caches
    frames = skeleton_only()
    timed("skeleton", skeleton_only)
    timed("skeleton + render", rendered)
    write_fps = timed("  + write clips", written)

    scene = SimulatedScene(seed=args.seed)
    count = int(args.scene_seconds * scene.fps)
    slowest, people = 0.0, 0

    def scene_frames() -> int:
        nonlocal slowest, people
        for _ in range(count):
            before = time.perf_counter()
            frame = scene.next_frame()
            slowest = max(slowest, time.perf_counter() - before)
            people += len(frame.bodies)
        return count

    timed("scene", scene_frames)
    print(
        f"scene: slowest frame {slowest * 1e3:.1f} ms wall (a new segment), "
        f"{people / count:.1f} bodies per frame"
    )
    total = 1000 * frames / args.clips
    print(
        f"a 1,000-clip set (~{total:.0f} frames) takes ~{total / write_fps / 60:.1f} min of CPU on one core"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
