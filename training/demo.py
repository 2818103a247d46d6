"""`python -m training demo --out DIR`: the whole training side on a CPU, on simulated room streams.

    simulate + cut   S rooms of M minutes, two people at a time (simulation.scene, seeds from --seed):
                     each tracked person's continuous sequence with its part crops (cut as live's worker
                     cuts them) and its timeline of actions -> DIR/train_cache; whole rooms are held out
                     for validation and early stopping
                     N cut clips per class (simulation.clip, seed --seed + 1) -> DIR/test_cache, for the
                     attention check
    train            parts -> pose -> attention -> finetune (Algorithm 1) into DIR/run, `demo` profile, on
                     windows along the sequences (training.windows.StreamWindowDataset: each window takes
                     the action covering half of it, else no_action; classes balanced per epoch)
    evaluate         the finetuned checkpoint on the cut clips: top-1, per-class accuracy and mean attention
                     per class and part (table + DIR/eval/attention.png, confusion.png)

The classes are the ten simulated actions (simulation/actions.py), each with a known informative part
(drink / phone / wave with the left or the right hand, and four whole-body actions), and no_action
last: everything people do between actions (simulation/idle.py). A model whose attention works weighs
the acting hand for the first six and the full body for the rest.

The network is the `demo` profile (core.model.profiles: 32 px crops, I3D at 1/8 width, 10 frames,
LSTM 64) so that everything runs on two CPU cores (about 35 minutes of wall time on shared cores, 14
of them CPU); the figures and the commands that measure them on streams are in
training/checkpoints/README.md.
"""

from __future__ import annotations

import argparse
import os
import time
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.engines import MAX_PEOPLE
from core.glimpse import PARTS, GlimpseConfig
from core.model.profiles import demo
from core.timeline import NO_ACTION
from recordings.argument_types import integer_in, output_folder, positive_float
from simulation.actions import CLASS_NAMES, CLASSES
from training.cache import CacheSettings
from training.datasets.simulated import prepare_simulated_clip, simulated_tasks
from training.datasets.simulated_streams import prepare_streams, stream_tasks
from training.prepare import prepare_cache

if TYPE_CHECKING:
    from training.evaluation import Report

# The model's classes: the simulated actions, then the background (by convention last).
DEMO_CLASSES = (*CLASS_NAMES, NO_ACTION)
DEMO_WINDOW_S = 2.0
# Training windows end on a grid this far apart along each sequence (jittered by up to half of it, so
# every offset is drawn); an epoch holds about one window per grid step of every action.
DEMO_STRIDE_S = 1.0
DEMO_BACKGROUND_RATIO = 2.0
# lambda1 of Eq. 5 for this dataset (the paper sets it per dataset: 1e-5 NTU, 1e-4 N-UCLA). With the
# paper's values the attention here saturates to one part within the first epochs, and as the pose
# LSTM already knows the class, any part that tells a class from the others routed to the same part
# will do: standing up went to the right hand (its crop sees the rise too). A larger penalty on
# (1 - alpha_k)^2 keeps the weights soft while the part I3Ds and the attention learn together, so
# every part keeps receiving gradient and the part that is informative for a class ends up leading.
DEMO_ATTENTION_WEIGHT = 0.1
# Part boxes (core.glimpse.GlimpseConfig). Hands 0.20 m instead of 0.30 m: a hand crop shows the hand
# and what it holds rather than the limbs and room around it — at 0.30 m the hand crops also saw a
# person rise or sit down, and stand-up or kick went to a hand in some seeds. The body box at least
# 2.2 m: sitting, standing and lying people keep one scale, so the posture change shows in the
# full-body crop instead of being zoomed away (the box otherwise shrinks to a seated person).
DEMO_HAND_SIZE_M = 0.20
DEMO_BODY_MIN_SIZE_M = 2.2
# The pose classifier's say in the output (NetworkConfig.pose_fusion): half, each branch trained on its
# own loss. The classifier of the paper reads only the crops, and a kick is a few pixels of the 32 px
# body crop in one or two of the 10 frames: without the skeleton's own classification the model never
# detected a kick on streams (F1 0.0) and decided falls late (training/checkpoints/README.md).
DEMO_POSE_FUSION = 0.5
# Events and alerts from a probability smoothed over 0.25 s reaching 0.45, events lasting while it stays
# at or above 0.3 (the app: 0.5 s, 0.6, events ending at 0.6). Chosen on the tuning room
# (sim:seed=101,minutes=15: 16 falls) by no false fall alert first, then falls caught, then mAP, then
# fewer false events: 0.25 s with 0.35, 0.4, or 0.45 with events lasting down to 0.3, catches all 16
# falls without a false alert at the best mAP (98.4%), 0.45 with the fewest false events (38.5 an hour
# against 49 at 0.4). Written into the checkpoint (DecisionSettings), so live uses it, and into its
# training config, so a site's fine-tuned model inherits it.
DEMO_SMOOTHING_S = 0.25
DEMO_THRESHOLD = 0.45
DEMO_END_THRESHOLD = 0.3


def demo_settings() -> CacheSettings:
    """How the demo's crops are cut (live cuts them the same way: the checkpoint carries the glimpse)."""
    glimpse = replace(
        GlimpseConfig(),
        crop_size=demo(len(DEMO_CLASSES)).crop_size,
        hand_size_m=DEMO_HAND_SIZE_M,
        body_min_size_m=DEMO_BODY_MIN_SIZE_M,
    )
    return CacheSettings(
        dataset="simulated",
        glimpse=glimpse,
        crop_fps=10.0,
        parts=PARTS,
        max_bodies=1,
        class_names=DEMO_CLASSES,
    )


def demo_overrides(out: Path, train_cache: Path, epochs_scale: float = 1.0, workers: int = 0) -> list[str]:
    def epochs(n: int) -> int:
        return max(1, round(n * epochs_scale))

    return [
        "data.dataset=simulated",
        f"data.root={train_cache}",
        "data.protocol=all",
        "data.validation_fraction=0.1",
        "data.max_bodies=1",
        "model.profile=demo",
        "model.ablation=none",
        f"window.duration_s={DEMO_WINDOW_S}",
        f"window.num_frames={demo().num_frames}",
        "window.jitter=0.3",
        f"window.stride_s={DEMO_STRIDE_S}",
        f"window.background_ratio={DEMO_BACKGROUND_RATIO}",
        "augment.rotate_deg=15",
        "augment.scale=0.1",
        "augment.noise=0.005",
        "optim.batch_size=16",
        "optim.lr=1e-3",
        "optim.finetune_lr=2.5e-4",  # about where step 5's plateau schedule brings the rate by its end
        f"optim.attention_weight={DEMO_ATTENTION_WEIGHT}",
        "optim.plateau_patience=2",
        "optim.early_stop_patience=4",
        f"model.overrides={{pose_fusion: {DEMO_POSE_FUSION}}}",
        f"decisions.smoothing_s={DEMO_SMOOTHING_S}",
        f"decisions.threshold={DEMO_THRESHOLD}",
        f"decisions.end_threshold={DEMO_END_THRESHOLD}",
        f"epochs.parts={epochs(5)}",
        f"epochs.pose={epochs(15)}",
        f"epochs.attention={epochs(8)}",
        # The attention first learns which part already tells each class apart (the parts as step 2
        # left them), before the parts adapt to wherever it looks early on.
        f"epochs.attention_frozen_parts={epochs(1)}",
        f"epochs.finetune={epochs(3)}",
        f"out={out / 'run'}",
        "device=cpu",
        f"workers={workers}",
    ]


def add_demo_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", required=True, type=output_folder,
                        help="folder for the caches, the run and the evaluation")
    parser.add_argument("--scenes", type=integer_in(1), default=28,
                        help="simulated rooms to train on (default: 28)")
    parser.add_argument("--scene-minutes", type=positive_float, default=5.0,
                        help="minutes of each room (default: 5)")
    # The simulated room, as the Kinect, tracks six people at most.
    parser.add_argument("--people", type=integer_in(1, MAX_PEOPLE), default=2,
                        help="people in a room at most (default: 2)")
    parser.add_argument(
        "--test-clips-per-class", type=integer_in(1), default=20,
        help="cut clips per class, for the attention check (default: 20)"
    )
    # numpy's generators take no negative seed.
    parser.add_argument("--seed", type=integer_in(0), default=0,
                        help="the rooms' seed; the cut clips use seed+1 (default: 0)")
    parser.add_argument("--epochs-scale", type=positive_float, default=1.0,
                        help="multiply every stage's epochs (each stage trains at least one; default: 1)")
    parser.add_argument(
        "--workers", type=integer_in(1), default=min(2, os.cpu_count() or 1),
        help="processes simulating rooms (default: 2, or 1 on one core)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a training config key",
    )
    # The run's stages refuse to resume on other data (a room simulated again, another --seed): this is
    # what their message points to. The simulated rooms are kept either way.
    parser.add_argument("--restart", action="store_true",
                        help="train every stage again from the start, in place of the run in OUT/run")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")


def run_demo(args: argparse.Namespace) -> int:
    from training.config import load_config
    from training.evaluate import evaluate
    from training.stages import train_all

    out = Path(args.out)
    started = time.monotonic()
    settings = demo_settings()
    train_cache, test_cache = out / "train_cache", out / "test_cache"
    # The training config, --set included, before minutes of simulating: a bad key or value is said first.
    overrides = demo_overrides(out, train_cache, args.epochs_scale) + list(args.overrides)
    if args.no_progress:
        overrides.append("progress=false")
    config = load_config(None, overrides)
    print(
        f"[demo] simulating {args.scenes} rooms of {args.scene_minutes:g} min ({args.people} people at most) "
        f"and {args.test_clips_per_class} cut clips per class"
    )
    prepare_streams(
        stream_tasks(args.scenes, args.scene_minutes, args.people, args.seed, "room"),
        settings,
        train_cache,
        workers=args.workers,
        progress=not args.no_progress,
    )
    prepare_cache(
        simulated_tasks(args.test_clips_per_class, args.seed + 1, "test"),
        settings,
        test_cache,
        workers=args.workers,
        progress=not args.no_progress,
        prepare_one=prepare_simulated_clip,
    )
    print(f"[demo] data ready after {time.monotonic() - started:.0f} s")
    results = train_all(config, restart=args.restart)
    print(f"[demo] trained after {time.monotonic() - started:.0f} s")
    report = evaluate(
        results[-1].best_checkpoint,
        data=test_cache,
        subset="test",
        out=out / "eval",
        progress=not args.no_progress,
    )
    wrong = misplaced_attention(report)
    print(
        f"[demo] cut clips: top-1 {100 * report.top1:.1f}% in {time.monotonic() - started:.0f} s; attention "
        f"leads with the informative part for {len(CLASSES) - len(wrong)} of {len(CLASSES)} classes"
        + (f" (not: {', '.join(wrong)})" if wrong else "")
    )
    return 0


def misplaced_attention(report: Report) -> list[str]:
    """The action classes whose mean attention on their held-out clips does not lead with their
    informative part (simulation.actions: the acting hand, or the full body for whole-body actions).
    Classes are matched by name; no_action has no informative part."""
    if report.attention_per_class is None:
        raise ValueError("this report has no attention (a model without parts)")
    rows = {name: k for k, (name, _, _) in enumerate(report.per_class)}
    return [
        action.name
        for action in CLASSES
        if int(np.argmax(report.attention_per_class[rows[action.name]])) != report.parts.index(action.focus)
    ]
