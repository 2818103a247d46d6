"""Speed of `python -m recordings view --3d`: building each frame's geometry and rendering it off screen.

    python -m benchmarks.view3d_speed                  # 60 frames, 1280x720, depth every 2nd pixel
    python -m benchmarks.view3d_speed --depth-step 1 --frames 120 --width 1920

The recording is a Kinect Studio file written by tests/xef_writer.py: 1080p colour, a depth stream
seeing a floor and a wall (all 217,088 depth pixels read), two people. Prints milliseconds per frame
for the first pass over the bodies (floor fit), for building the geometry (point cloud from depth,
colour through the camera, bone tubes) and for rendering + reading the picture back through open3d
(a hidden window where $DISPLAY is set, EGL otherwise). No target is set by the issue; the figures
say how fast `--out` writes a video and how smoothly the window plays.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

from xef_writer import room_depth, sample_recording  # noqa: E402

from core.camera import DEPTH_CAMERA  # noqa: E402
from recordings import view3d  # noqa: E402
from recordings.argument_types import integer_in  # noqa: E402
from recordings.clip import open_recording  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.view3d_speed",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=integer_in(1), default=60)
    parser.add_argument("--width", type=integer_in(1), default=1280)
    parser.add_argument("--depth-step", type=integer_in(1), default=2)
    args = parser.parse_args()
    config = view3d.View3DConfig(
        width=args.width, height=round(args.width * 9 / 16), depth_step=args.depth_step
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "room.xef"
        camera = DEPTH_CAMERA
        depth = room_depth(camera.fx, camera.fy, camera.cx, camera.cy)
        sample_recording(path, frames=args.frames, depth_mm=depth)
        started = time.perf_counter()
        room_survey = view3d.survey(path, config)
        survey_s = time.perf_counter() - started
        view = view3d.overview_camera(room_survey.room, room_survey.focus, width=config.width,
                                      height=config.height)
        renderer = view3d.Renderer3D(room_survey.room, view, config, visible=False)
        read_ms, build_ms, render_ms, points = [], [], [], 0
        try:
            with open_recording(path) as recording:
                builder = view3d.scene_builder(recording, room_survey.room, config)
                frames = recording.frames()
                while True:
                    started = time.perf_counter()
                    frame = next(frames, None)
                    if frame is None:
                        break
                    decoded = time.perf_counter()
                    scene = builder.build(frame)
                    built = time.perf_counter()
                    renderer.show(scene)
                    renderer.capture()
                    rendered = time.perf_counter()
                    read_ms.append((decoded - started) * 1000)
                    build_ms.append((built - decoded) * 1000)
                    render_ms.append((rendered - built) * 1000)
                    points = len(scene.points)
        finally:
            renderer.close()
    # The first frame includes one-off set-up (shader compilation, buffers): reported apart.
    print(f"view --3d off screen, {args.frames} frames, {config.width}x{config.height}, depth step "
          f"{args.depth_step} ({points} points), display: {os.environ.get('DISPLAY') or 'none (EGL)'}")
    print(f"  survey (floor from the feet): {survey_s * 1000:.0f} ms")
    for name, values in (("read + decode colour (YUY2 1080p)", read_ms), ("build geometry", build_ms),
                         ("render + read back", render_ms)):
        rest = np.array(values[1:])
        print(f"  {name:<34} first {values[0]:7.1f} ms, then median {np.median(rest):6.1f} ms, "
              f"p95 {np.percentile(rest, 95):6.1f} ms")
    total = np.median(np.array(read_ms[1:]) + np.array(build_ms[1:]) + np.array(render_ms[1:]))
    print(f"  per frame: {total:.1f} ms median -> {1000 / total:.1f} frames/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
