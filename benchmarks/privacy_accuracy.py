"""What `--privacy blur` costs in accuracy: the same simulated room through the app's pipeline twice,
colour as rendered and with every tracked face blurred, scored per decision.

    python -m benchmarks.privacy_accuracy [--seed 9] [--minutes 3] [--checkpoint training/checkpoints/demo.pt]

Runs training.streaming.evaluate_stream (lockstep: every hop decided, as a real-time run on an idle
machine) once per mode on `sim:seed=S,minutes=M` and prints frame accuracy (truth at the window
centre), mAP@0.5 and the recall of every class, side by side. Actions done at the face (drinking,
eating, a phone call) are the ones blurring can hurt: the hand and the object in front of the face
are blurred with it. Outputs go to runs/privacy_accuracy/{off,blur}/.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from core.privacy import PrivacyMode
from recordings.argument_types import existing_path, integer_in, positive_float
from training.streaming import evaluate_stream

REPO_ROOT = Path(__file__).resolve().parents[1]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.privacy_accuracy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seed", type=integer_in(0), default=9)
    parser.add_argument("--minutes", type=positive_float, default=3.0)
    parser.add_argument("--checkpoint", type=existing_path,
                        default=REPO_ROOT / "training" / "checkpoints" / "demo.pt")
    parser.add_argument("--threads", type=integer_in(1), default=1)
    parser.add_argument("--out", type=Path, default=Path("runs") / "privacy_accuracy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data = f"sim:seed={args.seed},minutes={args.minutes:g}"
    runs = {}
    for mode in (PrivacyMode.OFF, PrivacyMode.BLUR):
        runs[mode] = evaluate_stream(args.checkpoint, data, out=args.out / mode.value, engine="onnxruntime",
                                     threads=args.threads, progress=False, privacy=mode).scores
    off, blur = runs[PrivacyMode.OFF], runs[PrivacyMode.BLUR]

    def pct(value: float | None) -> str:
        return "   n/a" if value is None else f"{100 * value:5.1f}%"

    print(f"\n{args.checkpoint.name} on {data}: --privacy off vs blur")
    print(f"{'':24s} {'off':>7s} {'blur':>7s}")
    print(f"{'frame accuracy':24s} {pct(off.frame_accuracy):>7s} {pct(blur.frame_accuracy):>7s}")
    print(f"{'mAP@0.5':24s} {pct(off.map_50):>7s} {pct(blur.map_50):>7s}")
    print(f"{'decisions':24s} {off.decisions:7d} {blur.decisions:7d}")
    for name in sorted(off.per_class):
        recall_off = off.per_class[name].get("recall_50")
        recall_blur = blur.per_class.get(name, {}).get("recall_50")
        print(f"{'recall@0.5 ' + name:24s} {pct(recall_off):>7s} {pct(recall_blur):>7s}")


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.privacy_accuracy")
