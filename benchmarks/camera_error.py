"""How far apart two cameras put one person's joints at one moment, and what `augment.bone_turn_deg` does.

    python -m benchmarks.camera_error [--config training/configs/nucla_pretrain_pku.yaml] [--data DIR]
                                      [--windows 400] [--degrees 15]

PKU-MMD filmed every performance with three cameras at once. Each of `--windows` windows, drawn as
training draws them (class-balanced, from every sequence of the folder; normalised, no augmentation
or jitter), is paired with the same person at the same moment seen by another camera
(`training/windows.py` `camera_twins`, as `consistency.weight` pairs them), and the two normalised
bodies are compared joint by joint: the median distance in spine lengths, how much of the difference
stays the same over the window, and how fast the rest changes (autocorrelation between frames).
Then the same windows with their bones turned by `turn_bones` at `--degrees`, the top of
`augment.bone_turn_deg`'s range, against themselves: the error the augmentation adds, per joint, to set
beside the cameras'. `augment.noise` (0.01, independent per frame) is far below both.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Any

import numpy as np

from core.window import WindowSpec
from recordings.argument_types import existing_path, float_in, integer_in
from training.config import load_config
from training.datasets import build_splits
from training.windows import StreamWindowDataset, turn_bones

LAGS = (1, 2, 4, 8)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.camera_error", description=(__doc__ or "").partition("\n")[0]
    )
    parser.add_argument("--config", type=Path, default=Path("training/configs/nucla_pretrain_pku.yaml"))
    parser.add_argument("--data", type=existing_path, help="PKU-MMD folder (default: the config's data.root)")
    parser.add_argument("--windows", type=integer_in(1), default=400,
                        help="training windows to pair (at random)")
    parser.add_argument("--degrees", type=float_in(0, 180), default=15.0,
                        help="bone turn to compare (the range's top)")
    parser.add_argument("--seed", type=integer_in(0), default=0)
    args = parser.parse_args(argv)

    config = load_config(args.config)
    data = config.data if args.data is None else dataclasses.replace(config.data, root=str(args.data))
    splits = build_splits(data)
    # Every sequence, sampled as training samples them (class-balanced) but without augmentation or
    # jitter: what differs between a window and its twin is the camera.
    windows = StreamWindowDataset(
        splits.subset("all"),
        WindowSpec(config.window.duration_s, config.window.num_frames),
        splits.layout,
        1,
        splits.class_names,
        train=True,
        stride_s=config.window.stride_s,
        background_ratio=config.window.background_ratio,
        action_fraction=config.window.action_fraction,
        seed=args.seed,
        twins=True,
    )
    rng = np.random.default_rng(args.seed)
    anchors, twins = [], []
    print(f"pairing {min(args.windows, len(windows))} windows with their camera twins", file=sys.stderr,
          flush=True)
    for index in rng.choice(len(windows), min(args.windows, len(windows)), replace=False):
        item = windows[int(index)]
        anchor, twin = item["skeleton"].numpy()[:, 0], item["twin_skeleton"].numpy()[:, 0]
        if np.abs(anchor).sum() > 0 and np.abs(twin).sum() > 0 and not np.array_equal(anchor, twin):
            anchors.append(anchor)
            twins.append(twin)
    if not anchors:
        raise SystemExit(f"{args.config}: no window has a camera twin")
    anchors_array, twins_array = np.stack(anchors), np.stack(twins)  # (N, T, J, 3)
    layout = splits.layout
    turned = np.stack([
        turn_bones(a[:, None], np.abs(a[:, None]).sum(-1) > 0, layout, args.degrees, rng)[:, 0]
        for a in anchors_array
    ])
    cameras = _describe(twins_array - anchors_array)
    augmented = _describe(turned - anchors_array)

    print(f"{len(anchors)} windows of {args.config} with a camera twin; distances in spine lengths, "
          f"median over windows of each joint's mean over the window's {anchors_array.shape[1]} frames")
    print(f"| joint | two cameras | bones turned {args.degrees:g} deg |")
    print("|---|---|---|")
    for j, name in enumerate(layout.joint_names):
        print(f"| {name} | {cameras['per_joint'][j]:.2f} | {augmented['per_joint'][j]:.2f} |")
    for label, described in (("two cameras", cameras), (f"bones turned {args.degrees:g} deg", augmented)):
        lags = ", ".join(
            f"{lag} frames {value:.2f}" for lag, value in zip(LAGS, described["autocorrelation"], strict=True)
        )
        print(f"{label}: steady over the window {100 * described['steady_share']:.0f}% of the squared "
              f"difference; the rest's autocorrelation {lags}")
    return {"windows": len(anchors), "cameras": cameras, "bone_turns": augmented, "degrees": args.degrees}


def _describe(difference: np.ndarray) -> dict[str, Any]:
    """difference (N, T, J, 3) between two versions of the same windows."""
    per_joint = np.median(np.linalg.norm(difference, axis=-1).mean(1), axis=0)
    steady = difference.mean(1, keepdims=True)
    moving = difference - steady
    total = float((difference**2).sum())
    autocorrelation = [float((moving[:, :-lag] * moving[:, lag:]).sum() / (moving**2).sum()) for lag in LAGS]
    return {
        "per_joint": per_joint.tolist(),
        "steady_share": float((np.broadcast_to(steady, difference.shape) ** 2).sum() / total),
        "autocorrelation": autocorrelation,
    }


if __name__ == "__main__":
    from recordings.argument_types import run_command
    from training.data import DatasetError

    run_command(main, "python -m benchmarks.camera_error", errors=(DatasetError,))
