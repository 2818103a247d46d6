"""How N-UCLA's views differ after normalisation: what a view-change augmentation has to mimic.

    python -m benchmarks.nucla_views [--data ../shared/data/nucla]

Every performance (action, subject, episode) filmed by views 1 and 2 is normalised per view
(core.skeleton.normalize_window over the whole clip, resampled to 20 frames) and the view-2 body is
fitted to the view-1 body by a rotation and a scale (orthogonal Procrustes over all joints and
frames), once as labelled and once with view 1's left and right joints swapped. Printed: how often
the side-swapped fit is the better one (the Kinect tracking a person seen from behind as if facing
it) and the rotation left about the vertical axis, the tilt and the scale between the views.

Then the labels the motion contradicts, for the two classes physics can check: a "sit down" clip whose
hip centre ends higher than it began, or a "stand up" whose hip ends lower (by more than
`HIP_CHANGE_M`, camera height), counted per view and per subject. Such a clip cannot be classified
right by a model that has learnt which way sitting goes, whichever camera it comes from.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

import numpy as np

from core.skeleton import KINECT_V1, normalize_window
from recordings.argument_types import existing_path
from training.datasets.nucla import (
    HIP_CHANGE_M,
    SIT_DOWN,
    STAND_UP,
    moves_against_label,
    nucla_sources,
    performance,
)

FRAMES = 20


def fit(source: np.ndarray, target: np.ndarray) -> tuple[np.ndarray, float, float]:
    """target ~ scale * R @ source over (N, 3) points: (R, scale, mean distance left)."""
    u, singular, vt = np.linalg.svd(target.T @ source)
    d = np.diag([1.0, 1.0, np.sign(np.linalg.det(u @ vt))])  # a rotation, never a reflection
    rotation = u @ d @ vt
    scale = float((singular * np.diag(d)).sum() / (source**2).sum())
    residual = float(np.linalg.norm(target - scale * source @ rotation.T, axis=-1).mean())
    return rotation, scale, residual


def angles(rotation: np.ndarray) -> tuple[float, float]:
    """(yaw about the vertical, tilt of the vertical axis) in degrees."""
    yaw = np.degrees(np.arctan2(rotation[0, 2], rotation[2, 2]))
    tilt = np.degrees(np.arccos(np.clip(rotation[1, 1], -1.0, 1.0)))
    return float(yaw), float(tilt)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nucla_views", description=(__doc__ or "").partition("\n")[0]
    )
    parser.add_argument("--data", type=existing_path, default=Path("../shared/data/nucla"))
    args = parser.parse_args(argv)
    by_performance: dict[tuple[int, int, int], dict[int, np.ndarray]] = {}
    against_label: dict[tuple[int, int], list[str]] = {}  # (view, subject) -> clip names
    checked: dict[int, int] = {}  # view -> sit down and stand up clips
    for source in nucla_sources(args.data):
        clip = source.load(False)
        if source.label in (SIT_DOWN, STAND_UP):
            view = source.group["view"]
            checked[view] = checked.get(view, 0) + 1
            if moves_against_label(source):
                against_label.setdefault((view, source.group["subject"]), []).append(source.name)
        frames = np.linspace(0, len(clip.timestamps) - 1, FRAMES).round().astype(int)
        body = normalize_window(clip.joints[frames], None, KINECT_V1)[:, 0]
        by_performance.setdefault(performance(source), {})[source.group["view"]] = body
    order = np.array(KINECT_V1.mirror_order)
    swapped, yaws, tilts, scales = [], [], [], []
    for views in by_performance.values():
        if 1 not in views or 2 not in views:
            continue
        first, second = views[1], views[2].reshape(-1, 3)
        plain = fit(first.reshape(-1, 3), second)
        sides = fit(first[:, order].reshape(-1, 3), second)
        better = sides if sides[2] < plain[2] else plain
        swapped.append(sides[2] < plain[2])
        yaw, tilt = angles(better[0])
        yaws.append(abs(yaw))
        tilts.append(tilt)
        scales.append(better[1])
    swapped_share = float(np.mean(swapped))
    yaw_plain = np.asarray(yaws)[~np.asarray(swapped)]
    yaw_swapped = np.asarray(yaws)[np.asarray(swapped)]
    print(f"performances seen by views 1 and 2: {len(swapped)}")
    print(f"side-swapped fit better (back-view error in one view): {100 * swapped_share:.1f}%")
    print(
        "rotation about the vertical, |yaw| p50 / p90: "
        f"as labelled {np.percentile(yaw_plain, 50):.0f} / {np.percentile(yaw_plain, 90):.0f} deg; "
        f"side-swapped {np.percentile(yaw_swapped, 50):.0f} / {np.percentile(yaw_swapped, 90):.0f} deg"
    )
    print(f"tilt p50 / p90: {np.percentile(tilts, 50):.0f} / {np.percentile(tilts, 90):.0f} deg")
    print(f"scale p10 / p50 / p90: {' / '.join(f'{v:.2f}' for v in np.percentile(scales, [10, 50, 90]))}")
    print(f"sit down / stand up clips whose hip moves against the label by more than {HIP_CHANGE_M} m:")
    for view in sorted(checked):
        mine = {k: v for k, v in against_label.items() if k[0] == view}
        count = sum(len(v) for v in mine.values())
        by_subject = ", ".join(f"subject {s}: {len(v)}" for (_, s), v in sorted(mine.items()))
        print(f"  view {view}: {count} of {checked[view]}" + (f" ({by_subject})" if by_subject else ""))
    return {
        "swapped_share": swapped_share,
        "performances": float(len(swapped)),
        "against_label": [name for names in against_label.values() for name in names],
    }


if __name__ == "__main__":
    from recordings.argument_types import run_command
    from training.data import DatasetError

    run_command(main, "python -m benchmarks.nucla_views", errors=(DatasetError,))
