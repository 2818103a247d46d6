"""What a hand crop sees of the legs, per simulated action: a clue to where the attention sends kicks.

    python -m benchmarks.hand_box_legs [--clips 20] [--seed 7] [--checkpoint training/checkpoints/demo.pt]

The demo model's attention sends kicks to the right hand's crop, not the full body's (issue 12).
For each class, over `--clips` generated clips, this prints the fraction of frames in which a leg point
(a foot or ankle; a knee or the middle of a thigh) lies inside each hand box, during the action and in
the idle time around it. Boxes are those the checkpoint's own crops use (its `preprocessing.glimpse`:
hand side in metres, body floor), placed by `core.glimpse.part_boxes` from the sensor's joints, as in
training. It needs no model run: it shows where the legs are in the crops, not what the network reads.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np

from core.glimpse import PARTS, part_boxes
from core.model.checkpoint import load_checkpoint
from core.model.profiles import Aggregation
from core.skeleton import KINECT_V2
from recordings.argument_types import existing_path, integer_in
from simulation import CLASSES, generate_clip

FEET = [KINECT_V2.index(n) for n in ("AnkleLeft", "FootLeft", "AnkleRight", "FootRight")]
HIPS = [KINECT_V2.index(n) for n in ("HipLeft", "HipRight")]
KNEES = [KINECT_V2.index(n) for n in ("KneeLeft", "KneeRight")]  # in the order of HIPS: thigh = mean of both


def inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """(T,) whether any of points (T, K, 2) lies in the box of each frame (T, 4: cx, cy, w, h)."""
    centre, size = boxes[:, None, :2], boxes[:, None, 2:]
    return (np.abs(points - centre) < size / 2).all(-1).any(-1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.hand_box_legs",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clips", type=integer_in(1), default=20, help="clips per class")
    parser.add_argument("--seed", type=integer_in(0), default=7)
    parser.add_argument("--checkpoint", type=existing_path, default="training/checkpoints/demo.pt",
                        help="whose crop settings")
    args = parser.parse_args(argv)
    checkpoint = load_checkpoint(args.checkpoint)
    if checkpoint.config.aggregation is Aggregation.POSE:  # its boxes would be a table of crops never cut
        print(f"python -m benchmarks.hand_box_legs: error: {args.checkpoint}: a skeleton-only model cuts no "
              "crops; give one that does (training/checkpoints/demo.pt)", file=sys.stderr)
        return 2
    glimpse = checkpoint.preprocessing.glimpse
    print(f"hand boxes {glimpse.hand_size_m:.2f} m, body box >= {glimpse.body_min_size_m:.1f} m, "
          f"{glimpse.crop_size} px crops ({args.checkpoint}); {args.clips} clips per class, seed {args.seed}")
    print("fraction of frames with a leg point inside the hand box, during the action / in the idle time "
          "around it")
    print(f"{'class':<13}{'part':<12}{'foot':>14}{'knee, thigh':>16}")
    rng = np.random.default_rng(args.seed)
    for index, action in enumerate(CLASSES):
        rows = {part: [] for part in PARTS[:2]}
        for _ in range(args.clips):
            clip = generate_clip(index, rng)
            interval = clip.action_interval
            acting = (clip.timestamps >= interval.start) & (clip.timestamps <= interval.end)
            pixels = clip.joints_color[:, 0]
            boxes = part_boxes(clip.joints[:, 0], clip.states[:, 0], clip.camera, KINECT_V2, glimpse,
                               pixels, clip.timestamps)
            thighs = (pixels[:, HIPS] + pixels[:, KNEES]) / 2
            upper = np.concatenate([pixels[:, KNEES], thighs], axis=1)
            for p, part in enumerate(PARTS[:2]):
                foot, leg = inside(pixels[:, FEET], boxes[p]), inside(upper, boxes[p])
                rows[part].append([foot[acting].mean(), foot[~acting].mean(), leg[acting].mean(),
                                   leg[~acting].mean()])
        for part, values in rows.items():
            m = np.nanmean(np.array(values, dtype=np.float64), axis=0)
            print(f"{action.name:<13}{part:<12}{m[0]:7.2f} / {m[1]:4.2f}{m[2]:9.2f} / {m[3]:4.2f}")
    return 0


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.hand_box_legs")
