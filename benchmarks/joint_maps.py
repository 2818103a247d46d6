"""How well a Kinect v2 body mapped to Kinect v1 (core/joint_maps.py) looks like a Kinect v1 body.

    python -m benchmarks.joint_maps [--data ../shared/data]

Reads N-UCLA (Kinect v1) and PKU-MMD (Kinect v2) skeletons, prints the spine proportions of each
sensor (in shoulder widths, the one torso measure both trackers place alike) and, for candidate
v2 -> v1 spine maps, how far the median position of each joint after the v1 normalisation
(core.skeleton.normalize_window, one frame at a time) lies from v1's own: the mean over the 20 joints,
in spine lengths. The committed map is the last row.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from core.joint_maps import KINECT_V2_TO_V1, JointMap, renamed
from core.skeleton import KINECT_V1, KINECT_V2, normalize_window
from recordings.argument_types import existing_path
from recordings.pkummd import body_present, read_sequence

HIP = {"HipCenter": (("SpineBase", 1.0),)}
CANDIDATES = {
    "rename (SpineMid -> Spine, SpineShoulder -> ShoulderCenter)": {
        **HIP, "Spine": (("SpineMid", 1.0),), "ShoulderCenter": (("SpineShoulder", 1.0),)},
    "SpineMid -> Spine, Neck -> ShoulderCenter": {
        **HIP, "Spine": (("SpineMid", 1.0),), "ShoulderCenter": (("Neck", 1.0),)},
    "Spine at 1/4 SpineBase..SpineMid (v1's height), SpineShoulder": {
        **HIP, "Spine": (("SpineBase", 0.75), ("SpineMid", 0.25)),
        "ShoulderCenter": (("SpineShoulder", 1.0),)},
}


def _normalised_frames(frames: np.ndarray, layout) -> np.ndarray:
    return np.stack([normalize_window(f[None, None], None, layout)[0, 0] for f in frames])


def _length(frames: np.ndarray, a: int, b: int) -> np.ndarray:
    return np.linalg.norm(frames[:, a] - frames[:, b], axis=1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.joint_maps",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=existing_path, default=Path("../shared/data"))
    args = parser.parse_args(argv)
    nucla = sorted((args.data / "nucla" / "all_sqe").glob("*.json"))
    pku = sorted((args.data / "pkummd" / "skeletons").glob("*.txt*"))
    if not nucla or not pku:
        raise SystemExit(f"needs N-UCLA and PKU-MMD under {args.data}")
    # Every 2nd N-UCLA sequence and every 6th PKU-MMD one, every 5th frame: a few thousand frames each.
    v1 = np.concatenate(
        [np.asarray(json.loads(p.read_bytes())["skeletons"], np.float32)[::5] for p in nucla[::2]]
    )
    v2_parts = []
    for path in pku[::6]:
        joints = read_sequence(path)
        v2_parts.append(joints[body_present(joints)][::5])
    v2 = np.concatenate(v2_parts)
    print(f"Kinect v1: {len(v1)} frames of {len(nucla[::2])} N-UCLA sequences; Kinect v2: {len(v2)} bodies "
          f"of {len(pku[::6])} PKU-MMD sequences\n")

    v1_width = _length(v1, 4, 8)
    v2_width = _length(v2, 4, 8)
    above = lambda f, j, w: np.median((f[:, j, 1] - (f[:, 4, 1] + f[:, 8, 1]) / 2) / w)  # noqa: E731
    print("proportions, median, in shoulder widths:")
    print(f"  v1 HipCenter -> Spine {np.median(_length(v1, 0, 1) / v1_width):.2f}, Spine -> ShoulderCenter "
          f"{np.median(_length(v1, 1, 2) / v1_width):.2f}, ShoulderCenter above the shoulders "
          f"{above(v1, 2, v1_width):.2f}")
    print(f"  v2 SpineBase -> SpineMid {np.median(_length(v2, 0, 1) / v2_width):.2f}, SpineMid -> "
          f"SpineShoulder {np.median(_length(v2, 1, 20) / v2_width):.2f}, SpineShoulder / Neck above the "
          f"shoulders "
          f"{above(v2, 20, v2_width):.2f} / {above(v2, 2, v2_width):.2f}\n")

    reference = np.median(_normalised_frames(v1, KINECT_V1), axis=0)
    rows = [(label, JointMap(KINECT_V2, KINECT_V1, renamed(KINECT_V1, **special)))
            for label, special in CANDIDATES.items()]
    rows.append(("committed: core.joint_maps.KINECT_V2_TO_V1", KINECT_V2_TO_V1))
    print("v2 -> v1 map                                                      mean / worst joint distance")
    for label, candidate in rows:
        mapped, _ = candidate.apply(v2)
        normalised = _normalised_frames(mapped, KINECT_V1)
        distance = np.linalg.norm(np.median(normalised, axis=0) - reference, axis=1)
        print(f"  {label:<64} {distance.mean():.2f} / {distance.max():.2f} "
              f"({KINECT_V1.joint_names[int(distance.argmax())]})")


if __name__ == "__main__":
    main()
