"""Cross-view accuracy inside N-UCLA views 1-2: the honest proxy for the view-3 test we do not have.

    python -m benchmarks.nucla_crossview [--configs training/configs/nucla_lstm.yaml
                                          training/configs/nucla_gcn.yaml] [--seeds 0 1 2]
                                         [--out runs/crossview] [--set augment.shear=0.3 --tag shear]
                                         [--ensemble] [--init PRETRAINED.pt --tag NAME]
                                         [--subject-folds 1,2,3 4,5,6 7,8,9,10]

For each config, each direction (train view 1 -> test all of view 2, and view 2 -> view 1) and each
seed: `python -m training pose` with the config's settings and those views (early stopping on 10% of
the training view's performances), then the best checkpoint evaluated on every clip of the other view.
One line per run, then a table of means, sample standard deviations and ranges, and the command that
reproduces it (with the --set overrides, e.g. the epoch cap). Runs one after another
on one thread (a 2-core machine shared with other work); a run whose `result.json` exists is read, not
repeated, so an interrupted sweep continues where it stopped. Training and evaluation logs go to
`<out>/<tag>/<direction>/seed<N>/log.txt`. `--ensemble` adds a row per config: in each direction, the
seeds' best checkpoints joined into one (`python -m training ensemble`, class distributions averaged)
and scored on the same clips, which is what a committed ensemble of those seeds is measured by.
`--init` starts every run from a pretrained network of other classes (e.g. the PKU-MMD one of
training/configs/nucla_pretrain_pku.yaml): its weights, with a fresh classifier for N-UCLA's classes.
`--subject-folds` holds the tested subjects out of training too, fold by fold: each seed and direction
trains once per fold (that fold's subjects tested, the others trained and validated on) and its top-1 is
over the test view's clips of every fold together, so all of the folds' subjects are tested instead of
one draw of three (~150 clips a direction, whose runs spread 3-5 points).

Why not the random 10% of views 1-2: N-UCLA's three cameras filmed every performance at once, so a
clip-level draw tests on performances whose other view was trained on. Training on one view and
testing on the other is what the standard protocol (train views 1+2, test view 3) asks of a model.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import shlex
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from recordings.argument_types import existing_path, integer_in
from training.config import load_config, recorded_data
from training.ensemble import build_ensemble
from training.evaluate import evaluate
from training.stages import train_stage

DIRECTIONS = ((1, 2), (2, 1))


@dataclass(frozen=True)
class Run:
    tag: str
    train_view: int
    test_view: int
    seed: int
    top1: float  # on every clip of the test view
    validation_top1: float  # on the held-out performances of the training view (chose the epoch)
    epochs: int
    seconds: float

    @property
    def direction(self) -> str:
        return f"v{self.train_view}->v{self.test_view}"


def for_views(overrides: list[str], train_view: int, test_view: int) -> list[str]:
    """`--set` values with {train_view} / {test_view} filled in (e.g. a distillation teacher each way)."""
    views = {"{train_view}": str(train_view), "{test_view}": str(test_view)}
    filled = []
    for override in overrides:
        for placeholder, view in views.items():
            override = override.replace(placeholder, view)
        filled.append(override)
    return filled


def run_folder(out: Path, tag: str, train_view: int, test_view: int, seed: int) -> Path:
    return out / tag / f"v{train_view}_to_v{test_view}" / f"seed{seed}"


def run_one(
    config_path: Path, overrides: list[str], tag: str, train_view: int, test_view: int, seed: int, out: Path,
    init: Path | None = None,
) -> Run:
    folder = run_folder(out, tag, train_view, test_view, seed)
    result_path = folder / "result.json"
    if result_path.is_file():
        return Run(**json.loads(result_path.read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    config = load_config(
        config_path,
        [
            *for_views(overrides, train_view, test_view),
            f"data.nucla_train_views=[{train_view}]",
            f"data.nucla_test_views=[{test_view}]",
            f"seed={seed}",
            f"out={folder}",
            "progress=false",
        ],
    )
    started = time.monotonic()
    # Minutes a run, said nowhere else on the console: where its epochs can be followed.
    print(f"{tag} view {train_view} -> {test_view} seed {seed}: training (its epochs: {folder / 'log.txt'})",
          flush=True)
    with open(folder / "log.txt", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        trained = train_stage(config, "pose", restart=True, init=init)
        report = evaluate(
            trained.best_checkpoint, data=config.data.root, subset="test", out=folder / "eval", progress=False
        )
    run = Run(
        tag=tag,
        train_view=train_view,
        test_view=test_view,
        seed=seed,
        top1=report.top1,
        validation_top1=trained.best_validation_top1,
        epochs=trained.epochs_run,
        seconds=round(time.monotonic() - started, 1),
    )
    result_path.write_text(json.dumps(run.__dict__, indent=1), encoding="utf-8")
    return run


def folds_run(
    config_path: Path, overrides: list[str], tag: str, train_view: int, test_view: int, seed: int, out: Path,
    folds: list[list[int]], init: Path | None = None,
) -> Run:
    """One seed and direction over subject folds: a run per fold (its subjects tested, never trained on),
    scored on the test view's clips of all the folds together."""
    runs, correct, clips = [], 0.0, 0
    for fold in folds:
        fold_tag = f"{tag}/subjects" + "-".join(str(s) for s in fold)  # a folder per fold under the tag's
        fold_overrides = [*overrides, f"data.nucla_test_subjects=[{', '.join(str(s) for s in fold)}]"]
        run = run_one(config_path, fold_overrides, fold_tag, train_view, test_view, seed, out, init)
        results = run_folder(out, fold_tag, train_view, test_view, seed) / "eval" / "results.json"
        confusion = json.loads(results.read_text(encoding="utf-8"))["confusion"]
        runs.append(run)
        correct += sum(confusion[k][k] for k in range(len(confusion)))
        clips += sum(sum(row) for row in confusion)
    return Run(
        tag=tag,
        train_view=train_view,
        test_view=test_view,
        seed=seed,
        top1=correct / clips,
        validation_top1=statistics.fmean(r.validation_top1 for r in runs),
        epochs=round(statistics.fmean(r.epochs for r in runs)),
        seconds=round(sum(r.seconds for r in runs), 1),
    )


def ensemble_run(
    config_path: Path, overrides: list[str], tag: str, train_view: int, test_view: int, seeds: list[int],
    out: Path,
) -> Run:
    """The seeds' runs of one direction averaged: one checkpoint of them all, scored on the test view."""
    direction = out / tag / f"v{train_view}_to_v{test_view}"
    folder = direction / ("ensemble_seeds" + "-".join(str(s) for s in seeds))
    result_path = folder / "result.json"
    if result_path.is_file():
        return Run(**json.loads(result_path.read_text(encoding="utf-8")))
    folder.mkdir(parents=True, exist_ok=True)
    data_root = load_config(config_path, for_views(overrides, train_view, test_view)).data.root
    started = time.monotonic()
    members = [direction / f"seed{seed}" / "pose" / "best.pt" for seed in seeds]
    with open(folder / "log.txt", "w", encoding="utf-8") as log, contextlib.redirect_stdout(log):
        # Its own file, made again from the same members where a run stopped before its result.
        checkpoint = build_ensemble(members, folder / "ensemble.pt", overwrite=True)
        report = evaluate(checkpoint, data=data_root, subset="test", out=folder / "eval", progress=False)
    run = Run(
        tag=f"{tag}, seeds {'+'.join(str(s) for s in seeds)} averaged",
        train_view=train_view,
        test_view=test_view,
        seed=-1,  # not one seed: the members' mean
        top1=report.top1,
        validation_top1=float("nan"),  # the members chose their epochs; the mean chose nothing
        epochs=0,
        seconds=round(time.monotonic() - started, 1),
    )
    result_path.write_text(json.dumps(run.__dict__, indent=1), encoding="utf-8")
    return run


def summary(values: list[float]) -> str:
    """'mean ± sd (min-max)' in percent; the sd is the sample one (n - 1)."""
    percent = [100 * v for v in values]
    mean = statistics.fmean(percent)
    if len(percent) < 2:
        return f"{mean:.1f}"
    return f"{mean:.1f} ± {statistics.stdev(percent):.1f} ({min(percent):.1f}-{max(percent):.1f})"


def format_table(runs: list[Run]) -> str:
    tags = list(dict.fromkeys(r.tag for r in runs))
    lines = [
        "| setting | v1->v2 top-1 % (per seed) | v1->v2 mean ± sd (range) | v2->v1 top-1 % (per seed) "
        "| v2->v1 mean ± sd (range) | both directions |",
        "|---|---|---|---|---|---|",
    ]
    for tag in tags:
        cells = []
        for train_view, test_view in DIRECTIONS:
            mine = [
                r for r in runs if r.tag == tag and (r.train_view, r.test_view) == (train_view, test_view)
            ]
            mine.sort(key=lambda r: r.seed)
            cells.append(" / ".join(f"{100 * r.top1:.1f}" for r in mine) or "-")
            cells.append(summary([r.top1 for r in mine]) if mine else "-")
        mine = [r for r in runs if r.tag == tag]
        # Over both directions only when both ran: one direction alone is already in its own column.
        both = summary([r.top1 for r in mine]) if len({r.direction for r in mine}) == len(DIRECTIONS) else "-"
        lines.append(f"| {tag} | {' | '.join(cells)} | {both} |")
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.nucla_crossview", description=(__doc__ or "").partition("\n")[0]
    )
    parser.add_argument(
        "--configs",
        nargs="+",
        type=existing_path,
        default=[Path("training/configs/nucla_lstm.yaml"), Path("training/configs/nucla_gcn.yaml")],
        help="training configs to compare (each row of the table; tag = file name without .yaml)",
    )
    parser.add_argument("--seeds", nargs="+", type=integer_in(0), default=[0, 1, 2])
    parser.add_argument("--out", type=Path, default=Path("runs/crossview"))
    parser.add_argument("--data", type=existing_path, help="N-UCLA folder (default: the config's data.root)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="config override for every run (repeatable); give the variant a --tag. {train_view} and "
        "{test_view} in a value become the run's views, e.g. a teacher per direction: "
        "distill.teacher=runs/crossview/nucla_gcn/v{train_view}_to_v{test_view}/ensemble_seeds0-1-2/ensemble.pt",
    )
    parser.add_argument("--tag", help="row name when one config is run with --set overrides")
    parser.add_argument(
        "--directions",
        nargs="+",
        choices=["1to2", "2to1"],
        default=["1to2", "2to1"],
        help="which cross-view directions to run",
    )
    parser.add_argument(
        "--ensemble",
        action="store_true",
        help="also score, per config and direction, the seeds' checkpoints averaged as one ensemble",
    )
    parser.add_argument(
        "--init",
        type=existing_path,
        help="pretrained checkpoint (other classes) every run starts from; its classifier starts fresh",
    )
    parser.add_argument(
        "--subject-folds",
        nargs="+",
        metavar="S,S,...",
        help="disjoint groups of subjects, each tested in turn with none of its subjects trained on "
        "(e.g. 1,2,3 4,5,6 7,8,9,10); a run's top-1 is over all of their clips",
    )
    parser.add_argument("--threads", type=integer_in(1), default=1,
                        help="torch threads (1 on a shared machine)")
    args = parser.parse_args(argv)
    if args.subject_folds:
        try:
            args.subject_folds = [[int(s) for s in fold.split(",")] for fold in args.subject_folds]
        except ValueError:
            parser.error(f"--subject-folds takes comma-separated subject numbers, got {args.subject_folds}")
        every = [s for fold in args.subject_folds for s in fold]
        if len(every) != len(set(every)):
            parser.error(f"--subject-folds must not share subjects: {args.subject_folds}")
        if args.ensemble:
            parser.error("--ensemble scores one test set per direction; --subject-folds makes several")
    if args.tag and len(args.configs) != 1:
        parser.error("--tag names one config's row; pass one --configs file with it")
    if args.init and not args.tag:
        # Runs are found again by their folder, named after the tag: without one, pretrained runs would
        # be mixed up with the config's runs from scratch.
        parser.error("--init needs a --tag naming its runs (e.g. --tag gcn_pku12)")
    seen = _nucla_views_seen(args.init) if args.init else []
    tested = sorted({test for train, test in DIRECTIONS if f"{train}to{test}" in args.directions} & set(seen))
    if tested:
        # Started from a network that trained on the view a run tests on, the run scores clips it has seen.
        parser.error(f"--init {args.init}: it was trained on N-UCLA views {seen}, and view(s) {tested} are "
                     "tested here; start from a network that never saw them (e.g. pretrained on PKU-MMD)")
    return args


def _nucla_views_seen(checkpoint: Path) -> list[int]:
    """The N-UCLA views a checkpoint's recorded training data held (none for other datasets)."""
    from core.model import load_checkpoint

    recorded = load_checkpoint(checkpoint).extra.get("train_config")
    data = recorded.get("data") if isinstance(recorded, dict) else None
    if not isinstance(data, dict):
        return []
    data = recorded_data(data)  # a key an older checkpoint lacks: as it trained
    return sorted(data["nucla_train_views"]) if data["dataset"] == "nucla" else []


def main(argv: list[str] | None = None) -> list[Run]:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = list(args.overrides) + ([f"data.root={args.data}"] if args.data else [])
    if args.init:
        # The pretrained network knows other classes: keep its weights, give N-UCLA's classes fresh rows.
        overrides.append("model.init_new_classes=true")
    directions = [d for d in DIRECTIONS if f"{d[0]}to{d[1]}" in args.directions]
    runs = []
    for config_path in args.configs:
        tag = args.tag or config_path.stem
        for train_view, test_view in directions:
            for seed in args.seeds:
                if args.subject_folds:
                    run = folds_run(config_path, overrides, tag, train_view, test_view, seed, args.out,
                                    args.subject_folds, args.init)
                else:
                    run = run_one(config_path, overrides, tag, train_view, test_view, seed, args.out,
                                  args.init)
                runs.append(run)
                print(
                    f"{tag} {run.direction} seed {seed}: top-1 {100 * run.top1:.1f}% "
                    f"(validation {100 * run.validation_top1:.1f}%, {run.epochs} epochs, "
                    f"{run.seconds:.0f} s)",
                    flush=True,
                )
            if args.ensemble and len(args.seeds) > 1:
                run = ensemble_run(config_path, overrides, tag, train_view, test_view, args.seeds, args.out)
                runs.append(run)
                print(f"{run.tag} {run.direction}: top-1 {100 * run.top1:.1f}%", flush=True)
    print()
    print(format_table(runs))
    # The table is quoted in READMEs: the command (epoch cap and other overrides included) goes with it.
    given = sys.argv[1:] if argv is None else argv
    print(f"\ncommand: python -m benchmarks.nucla_crossview {shlex.join(given)}")
    return runs


if __name__ == "__main__":
    from recordings.argument_types import run_command
    from training.data import DatasetError

    run_command(main, "python -m benchmarks.nucla_crossview", errors=(DatasetError,))
