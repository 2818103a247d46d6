"""How well the camera model reproduces the colour pixels the Kinect stored with its joints.

    python -m benchmarks.projection_error [--skeletons DIR] [--refit]

For every NTU RGB+D .skeleton file (default ../shared/data/ntu/skeletons), over its tracked joints:
the error of DEFAULT_CAMERA and of the factory intrinsics, of a camera fitted on that clip alone, and
of a camera fitted on another clip from the same setup and camera position (calibrate once per sensor,
reuse it). --refit fits one camera on all files pooled and prints it as a DEFAULT_CAMERA line.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from core.camera import DEFAULT_CAMERA, FACTORY_CAMERA, ColorCamera, fit_camera, projection_error
from core.skeleton import TRACKED
from recordings.ntu import read_skeleton
from recordings.ntu_samples import SampleName

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


def summary(error: np.ndarray) -> str:
    return f"{np.median(error):6.2f} {np.percentile(error, 95):6.2f} {error.max():7.2f}"


def camera_line(camera: ColorCamera) -> str:
    return (f"ColorCamera(fx={camera.fx:.2f}, fy={camera.fy:.2f}, cx={camera.cx:.2f}, cy={camera.cy:.2f}, "
            f"tx={camera.tx:.5f}, ty={camera.ty:.5f})")


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.projection_error",
                                     description=(__doc__ or "").partition("\n")[0])
    parser.add_argument("--skeletons", type=Path, default=SHARED_DATA / "ntu" / "skeletons")
    parser.add_argument("--refit", action="store_true", help="fit one camera on all files and print it")
    args = parser.parse_args()
    paths = sorted(args.skeletons.glob("*.skeleton"))
    if not paths:
        raise SystemExit(f"no .skeleton files in {args.skeletons}")

    clips: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for path in paths:
        arrays = read_skeleton(path).arrays(max_bodies=6)
        tracked = arrays.states == TRACKED
        clips[path.stem] = (arrays.xyz[tracked].astype(np.float64), arrays.color[tracked].astype(np.float64))
    fitted = {name: fit_camera(xyz, uv) for name, (xyz, uv) in clips.items()}
    # The first clip of each setup + camera position calibrates the others from that sensor.
    sensor_of = {name: (SampleName.parse(name).setup, SampleName.parse(name).camera) for name in clips}
    reference: dict[tuple[int, int], str] = {}
    for name in clips:
        reference.setdefault(sensor_of[name], name)

    print("pixel error over tracked joints: median p95 max (factory: its median alone)")
    print(f"{'clip':22s} {'joints':>6s} | {'default camera':>21s} | {'factory':>7s} | "
          f"{'fitted on the clip':>21s} | {'same sensor, other clip':>23s} | fitted camera")
    columns: dict[str, list[np.ndarray]] = {"default": [], "factory": [], "clip": [], "sensor": []}
    for name, (xyz, uv) in clips.items():
        default = projection_error(DEFAULT_CAMERA, xyz, uv)
        factory = projection_error(FACTORY_CAMERA, xyz, uv)
        own = projection_error(fitted[name], xyz, uv)
        ref = reference[sensor_of[name]]
        sensor = projection_error(fitted[ref], xyz, uv) if ref != name else None
        for key, values in (("default", default), ("factory", factory), ("clip", own), ("sensor", sensor)):
            if values is not None:
                columns[key].append(values)
        sensor_text = f"{summary(sensor)} " + ref[:8] if sensor is not None else "(reference)".rjust(23)
        print(f"{name:22s} {len(xyz):6d} | {summary(default)} | {np.median(factory):7.2f} | {summary(own)} | "
              f"{sensor_text:>23s} | {camera_line(fitted[name])}")
    pooled = {key: np.concatenate(values) for key, values in columns.items() if values}
    print(f"{'all clips':22s} {len(pooled['default']):6d} | {summary(pooled['default'])} | "
          f"{np.median(pooled['factory']):7.2f} | {summary(pooled['clip'])} | "
          + (summary(pooled["sensor"]) if "sensor" in pooled else ""))

    by_camera: dict[int, list[np.ndarray]] = {}
    for name, (xyz, uv) in clips.items():
        by_camera.setdefault(sensor_of[name][1], []).append(projection_error(DEFAULT_CAMERA, xyz, uv))
    for camera_id, errors in sorted(by_camera.items()):
        print(f"default camera, camera position C{camera_id:03d}: {summary(np.concatenate(errors))}")
    print(f"DEFAULT_CAMERA = {camera_line(DEFAULT_CAMERA)}")

    if args.refit:
        xyz = np.concatenate([c[0] for c in clips.values()])
        uv = np.concatenate([c[1] for c in clips.values()])
        pooled = fit_camera(xyz, uv)
        print(f"refit on all clips: {summary(projection_error(pooled, xyz, uv))}")
        print(f"DEFAULT_CAMERA = {camera_line(pooled)}")


if __name__ == "__main__":
    main()
