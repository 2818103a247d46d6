"""Teaching the demo model a new action, the way a site would, in the simulated room — with figures.

    python -m benchmarks.site_finetune --out runs/site_demo            # ~1 h on 2 shared cores

Every step runs the project's own command line, as a site runs it (README, "Teaching the system a
new action"):

    record    python -m live --headless --source sim --sim-actions raise_both_arms --people 1 --seed S
              --record --label raise_both_arms --record-dir OUT/site --duration 15     (20 clips, real time)
    mark      python -m recordings label CLIP --class raise_both_arms --from A --to B ...  per clip: where
              the action is. A person would read A and B off `python -m recordings view`; here they come
              from the simulator's ground truth for the same seed (the only stand-in for that person),
              checked against the recorded skeleton frame by frame
    rehearse  python -m recordings synth --out OUT/rehearse --clips-per-class 20    clips of the ten old
              classes, each action marked, so that fine-tuning keeps them (and idle time as no_action)
    finetune  python -m training finetune --from BASE --clips OUT/site --rehearse OUT/rehearse
              --out OUT/run --threads 1                                              (timed: wall clock)
    held out  10 more clips recorded and marked the same way (other seeds)          -> OUT/heldout
              python -m recordings synth ... --seed 12 (20 per old class)           -> OUT/heldout_old
    evaluate  python -m training evaluate: the new class on OUT/heldout (every window, and each marked
              action as a clip), the old classes on OUT/heldout_old (every window, each scored within its
              marked action) before and after; and
              python -m training evaluate --stream on OUT/heldout and on simulated rooms with and
              without the new action, before and after

A skeleton-only base (`--base training/checkpoints/pku_interactions.pt`, the default model on real
sources) is taught the same way, with real data for its old classes: PKU-MMD training sequences
converted as rehearsal (`python -m recordings convert`, --rehearse-sequences of them) instead of synth
clips, and its own validation sequences (M view, recorded in the checkpoint: selection data for the
base, never trained on) to check its old classes with `evaluate --stream` before and after
(`--pkummd DIR`, default ../shared/data/pkummd); no simulated rooms (the simulator performs none of its
interactions).

Figures are printed and written to OUT/figures.json. Each step is skipped when its output is there
already, so an interrupted run continues (delete a folder to redo its step).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from core.timeline import NO_ACTION, intervals_from_labels  # noqa: E402
from recordings.argument_types import existing_file, integer_in, positive_float  # noqa: E402
from recordings.clip import find_clips, read_sidecar  # noqa: E402
from recordings.ntu import read_skeleton  # noqa: E402

NEW_CLASS = "raise_both_arms"  # the simulator's name for it, so that simulated streams score it too
FIRST_TRAIN_SEED, FIRST_HELDOUT_SEED = 100, 200


def run(command: list[str], log: Path | None = None) -> float:
    """Run one command line of the project (python -m ...); returns its wall time in seconds."""
    started = time.monotonic()
    print("$ python " + " ".join(command), flush=True)
    with open(log, "w", encoding="utf-8") if log else open(os.devnull, "w") as sink:
        result = subprocess.run([sys.executable, *command], cwd=REPO_ROOT, stdout=sink if log else None,
                                stderr=subprocess.STDOUT if log else None)
    if result.returncode != 0:
        where = f"; see {log}" if log else ""
        raise SystemExit(f"failed ({result.returncode}): {' '.join(command)}{where}")
    return time.monotonic() - started


def record(folder: Path, seeds: range, seconds: float, base: Path, logs: Path) -> None:
    """One clip per seed through python -m live --record --label (one run, one session, each)."""
    done = len(find_clips(folder)) if folder.is_dir() else 0
    for seed in list(seeds)[done:]:
        name = f"record_{folder.name}_{seed}"
        try:
            _record_one(folder, seed, seconds, base, logs, name)
        except SystemExit:
            # A run that dies after its clip is finalised (seen once: an abort at interpreter exit on a
            # machine loaded 5x over) still recorded the clip; anything else stops the benchmark.
            log = (logs / f"{name}.log").read_text(encoding="utf-8")
            if len(find_clips(folder)) != done + 1 or "[live] recordings:" not in log:
                raise
            print(f"warning: {name} exited abnormally after finalising its clip (see {logs / name}.log)")
        done += 1


def _record_one(folder: Path, seed: int, seconds: float, base: Path, logs: Path, name: str) -> None:
    run(["-m", "live", "--headless", "--source", "sim", "--sim-actions", NEW_CLASS, "--people", "1",
         "--seed", str(seed), "--record", "--label", NEW_CLASS, "--record-dir", str(folder),
         "--duration", str(seconds), "--checkpoint", str(base), "--threads", "1",
         "--output", str(logs / f"{name}.jsonl")], logs / f"{name}.log")


def truth_intervals(clip: Path, seed: int) -> list[tuple[float, float]]:
    """Where the simulated person raises both arms in a recorded clip: the scene's truth for its seed,
    after checking that the recording shows that scene (the same skeleton at the same instants)."""
    from simulation.scene import SimulatedScene

    sidecar = read_sidecar(clip.with_suffix(".json"))
    skeleton = read_skeleton(clip)
    scene = SimulatedScene(seed=seed, max_people=1, actions=(NEW_CLASS,), color=False)
    last = int(round(sidecar.timestamps[-1] * scene.fps))
    frames = [scene.next_frame() for _ in range(last + 31)]
    # The first recorded frame is the scene's first, unless the capture started late: find the offset.
    offset = None
    for shift in range(31):
        ok = True
        for k in range(0, len(sidecar.timestamps), max(1, len(sidecar.timestamps) // 20)):
            index = int(round(sidecar.timestamps[k] * scene.fps)) + shift
            bodies, recorded = frames[index].bodies, skeleton.frames[k]
            if len(bodies) != len(recorded) or any(
                not np.allclose(b.joints, r.xyz, atol=1e-3) for b, r in zip(bodies, recorded, strict=True)
            ):
                ok = False
                break
        if ok:
            offset = shift
            break
    if offset is None:
        raise SystemExit(f"{clip}: the recording does not match the simulated scene of seed {seed}")
    times = np.array([f.timestamp for f in frames[offset:]]) - frames[offset].timestamp
    labels, last = [], NO_ACTION
    for frame in frames[offset:]:
        last = frame.bodies[0].truth if frame.bodies else last  # a frame the tracker missed: as before
        labels.append(last)
    end = float(sidecar.timestamps[-1])
    # As a person marks: one interval per performance, not per tracker hiccup of a frame or two.
    spans: list[list[float]] = []
    for interval in intervals_from_labels(times, labels):
        if spans and interval.start - spans[-1][1] < 0.3:
            spans[-1][1] = interval.end
        else:
            spans.append([interval.start, interval.end])
    return [(start, min(stop, end)) for start, stop in spans if start < end - 0.3 and stop - start >= 0.3]


def mark(folder: Path, seeds: range, logs: Path) -> None:
    """python -m recordings label for every clip not marked yet."""
    clips = find_clips(folder)
    for seed, paths in zip(seeds, clips, strict=False):
        sidecar = read_sidecar(paths.sidecar)
        if sidecar.timeline is not None:
            continue
        spans = truth_intervals(paths.skeleton, seed)
        if not spans:
            # A site would not keep such a clip; here it stays, labelled as a whole, and trains (or is
            # scored) as the action throughout: said, so that a figure is read with it in mind.
            print(f"WARNING: {paths.name}: the action does not occur in this clip; it stays labelled as a "
                  f"whole, as the action (use longer clips, --seconds)")
            continue
        command = ["-m", "recordings", "label", str(paths.skeleton), "--class", NEW_CLASS]
        for start, end in spans:
            command += ["--from", f"{start:.2f}", "--to", f"{end:.2f}"]
        run(command, logs / f"label_{paths.name}.log")


def results(folder: Path) -> dict:
    return json.loads((folder / "results.json").read_text(encoding="utf-8"))


def per_class(report: dict) -> dict[str, dict]:
    """A clip evaluation's per-class rows by class name."""
    return {row["class"]: row for row in report["per_class"]}


def pkummd_sequences(root: Path, base: Path, count: int) -> tuple[list[Path], list[Path]]:
    """PKU-MMD sequences for a skeleton-only base trained on them: `count` of those it trained on
    (rehearsal: none of its validation or test sequences, whose figures would then flatter it), and the M
    view of those it held out (its validation sequences, recorded in the checkpoint: checking the old
    classes)."""
    from core.model.checkpoint import load_checkpoint

    extra = load_checkpoint(base).extra
    held_out = sorted(set(extra.get("validation_clips") or []))
    trained = sorted(set(extra.get("trained_clips") or []))
    if not held_out or not trained:
        raise SystemExit(f"{base}: records no {'validation' if not held_out else 'training'} sequences "
                         "(validation_clips / trained_clips)")
    present = [n for n in trained if (root / "skeletons" / f"{n}.txt.xz").is_file()]
    performances = sorted({n[:4] for n in held_out})
    check = [root / "skeletons" / f"{p}-M.txt.xz" for p in performances]
    return [root / "skeletons" / f"{n}.txt.xz" for n in present[:count]], [p for p in check if p.is_file()]


def convert(sequences: list[Path], folder: Path, logs: Path) -> None:
    """python -m recordings convert for each sequence not converted yet (its classes join labels.txt)."""
    for sequence in sequences:
        name = sequence.name.split(".")[0]
        if not (folder / f"{name}.skeleton").is_file():
            run(["-m", "recordings", "convert", str(sequence), str(folder)], logs / f"convert_{name}.log")


def stream_figures(folder: Path) -> dict:
    scores = results(folder)
    return {key: scores.get(key) for key in ("frame_accuracy", "frame_accuracy_now", "map_50",
                                             "instances_recognised", "instances", "false_events_per_hour",
                                             "median_delay_s")}  # fmt: skip


def skeleton_only(base: Path) -> bool:
    from core.model.checkpoint import load_checkpoint
    from core.model.profiles import Aggregation

    return load_checkpoint(base).config.aggregation is Aggregation.POSE


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.site_finetune", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("runs/site_demo"))
    parser.add_argument("--base", type=existing_file,
                        default=REPO_ROOT / "training" / "checkpoints" / "demo.pt")
    parser.add_argument("--seconds", type=positive_float, default=15.0, help="length of each recorded clip")
    parser.add_argument("--clips", type=integer_in(1), default=20, help="clips of the new action to train on")
    parser.add_argument("--heldout-clips", type=integer_in(1), default=10, help="clips of it to test on")
    parser.add_argument("--rehearse-per-class", type=integer_in(1), default=20)
    parser.add_argument("--heldout-per-class", type=integer_in(1), default=20,
                        help="test clips per old class")
    parser.add_argument("--stream-minutes", type=positive_float, default=10.0,
                        help="each simulated room's length")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="passed to python -m training finetune")
    parser.add_argument("--pkummd", type=Path, default=REPO_ROOT.parent / "shared" / "data" / "pkummd",
                        help="the PKU-MMD release, for a skeleton-only base")
    parser.add_argument("--rehearse-sequences", type=integer_in(1), default=15,
                        help="PKU-MMD training sequences to rehearse a skeleton-only base's classes with")
    args = parser.parse_args(argv)
    base = args.base.resolve()
    pose_base = skeleton_only(base)
    if pose_base and not (args.pkummd / "skeletons").is_dir():  # before minutes of recording, not after
        raise SystemExit(f"--pkummd {args.pkummd}: no skeletons folder; a skeleton-only base ({base.name}) "
                         "rehearses its classes on the PKU-MMD release")
    out = args.out.resolve()
    logs = out / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    figures: dict = {"base": str(base)}
    started = time.monotonic()

    train_seeds = range(FIRST_TRAIN_SEED, FIRST_TRAIN_SEED + args.clips)
    heldout_seeds = range(FIRST_HELDOUT_SEED, FIRST_HELDOUT_SEED + args.heldout_clips)
    record(out / "site", train_seeds, args.seconds, base, logs)
    mark(out / "site", train_seeds, logs)
    record(out / "heldout", heldout_seeds, args.seconds, base, logs)
    mark(out / "heldout", heldout_seeds, logs)
    figures["recording_s"] = round(time.monotonic() - started)
    if pose_base:
        rehearsal, check = pkummd_sequences(args.pkummd, base, args.rehearse_sequences)
        convert(rehearsal, out / "rehearse", logs)
        convert(check, out / "heldout_old", logs)
        figures["rehearsal_sequences"] = [p.name.split(".")[0] for p in rehearsal]
        figures["old_class_sequences"] = [p.name.split(".")[0] for p in check]
    synthetic = ((out / "rehearse", 11, args.rehearse_per_class),
                 (out / "heldout_old", 12, args.heldout_per_class))
    for folder, seed, count in () if pose_base else synthetic:
        if not (folder / "simulation.json").is_file():
            run(["-m", "recordings", "synth", "--out", str(folder), "--clips-per-class", str(count),
                 "--seed", str(seed), "--workers", "1"], logs / f"synth_{folder.name}.log")

    model = out / "run" / "model.pt"
    if not model.is_file():
        figures["finetune_wall_s"] = round(run(
            ["-m", "training", "finetune", "--from", str(base), "--clips", str(out / "site"), "--rehearse",
             str(out / "rehearse"), "--out", str(out / "run"), "--threads", "1", "--no-progress",
             *[a for o in args.overrides for a in ("--set", o)]], logs / "finetune.log"), 1)
        (out / "finetune_wall_s.txt").write_text(str(figures["finetune_wall_s"]), encoding="utf-8")
    else:
        figures["finetune_wall_s"] = float((out / "finetune_wall_s.txt").read_text(encoding="utf-8"))

    evaluations = out / "eval"
    if pose_base:
        return _skeleton_only_figures(figures, base, model, out, evaluations, logs)
    checks = {
        "base_old": ["--checkpoint", str(base), "--dataset", "clips", "--data", str(out / "heldout_old")],
        "tuned_old": ["--checkpoint", str(model), "--data", str(out / "heldout_old")],
        "tuned_new": ["--checkpoint", str(model), "--data", str(out / "heldout")],
    }
    for name, options in checks.items():
        if not (evaluations / name / "results.json").is_file():
            run(["-m", "training", "evaluate", *options, "--subset", "all", "--out", str(evaluations / name),
                 "--threads", "1"], logs / f"evaluate_{name}.log")
    rooms = {
        "stream_new_heldout": (model, str(out / "heldout")),
        "stream_base_room": (base, f"sim:seed=31,minutes={args.stream_minutes:g},people=2"),
        "stream_tuned_room": (model, f"sim:seed=31,minutes={args.stream_minutes:g},people=2"),
        "stream_tuned_room_new": (model, f"sim:seed=32,minutes={args.stream_minutes:g},people=2,"
                                         f"actions=default+{NEW_CLASS}"),
    }
    for name, (checkpoint, data) in rooms.items():
        if not (evaluations / name / "results.json").is_file():
            run(["-m", "training", "evaluate", "--stream", "--checkpoint", str(checkpoint), "--data", data,
                 "--out", str(evaluations / name), "--threads", "1"], logs / f"evaluate_{name}.log")

    base_old, tuned_old = results(evaluations / "base_old"), results(evaluations / "tuned_old")
    before, after = per_class(base_old), per_class(tuned_old)
    new = per_class(results(evaluations / "tuned_new"))
    old_names = [c for c, row in before.items() if c != NO_ACTION and row["clips"]]
    figures.update({
        "new_class_recall_heldout": new[NEW_CLASS]["top1"],
        "new_class_heldout_items": new[NEW_CLASS]["clips"],
        "heldout_no_action_accuracy": new.get(NO_ACTION, {}).get("top1"),
        "old_classes_before": float(np.mean([before[c]["top1"] for c in old_names])),
        "old_classes_after": float(np.mean([after[c]["top1"] for c in old_names])),
        "old_per_class": {c: {"before": before[c]["top1"], "after": after[c]["top1"]} for c in old_names},
    })
    for name in rooms:
        scores = results(evaluations / name)
        figures[name] = {key: scores.get(key) for key in (
            "frame_accuracy", "frame_accuracy_now", "map_50", "instances_recognised", "instances",
            "false_events_per_hour", "median_delay_s")}
        if NEW_CLASS in scores.get("per_class", {}):
            figures[name]["new_class"] = {k: scores["per_class"][NEW_CLASS][k]
                                          for k in ("instances", "recall_50", "precision_50", "f1_50")}
    (out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(json.dumps(figures, indent=1))
    return 0


def _skeleton_only_figures(figures: dict, base: Path, model: Path, out: Path, evaluations: Path,
                           logs: Path) -> int:
    """The new class on the held-out clips (windows, and streaming), the old classes streamed on the
    base's validation sequences before and after."""
    checks = {
        "tuned_new": ["--checkpoint", str(model), "--data", str(out / "heldout"), "--subset", "all"],
        "stream_new_heldout": ["--stream", "--checkpoint", str(model), "--data", str(out / "heldout")],
        "stream_base_old": ["--stream", "--checkpoint", str(base), "--data", str(out / "heldout_old")],
        "stream_tuned_old": ["--stream", "--checkpoint", str(model), "--data", str(out / "heldout_old")],
    }
    for name, options in checks.items():
        if not (evaluations / name / "results.json").is_file():
            run(["-m", "training", "evaluate", *options, "--out", str(evaluations / name), "--threads", "1"],
                logs / f"evaluate_{name}.log")
    new = per_class(results(evaluations / "tuned_new"))
    figures.update({
        "new_class_recall_heldout": new[NEW_CLASS]["top1"],
        "new_class_heldout_items": new[NEW_CLASS]["clips"],
        "heldout_no_action_accuracy": new.get(NO_ACTION, {}).get("top1"),
        **{name: stream_figures(evaluations / name) for name in list(checks)[1:]},
    })
    (out / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.site_finetune")
