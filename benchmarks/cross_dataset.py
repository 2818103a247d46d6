"""A model on real NTU RGB+D recordings of the interactions PKU-MMD also has: another lab, other people,
other cameras. Each clip is replayed through the app itself (`python -m live --headless --fast`) and
its decisions summarised.

    python -m benchmarks.cross_dataset [--checkpoint training/checkpoints/pku_interactions.pt]
                                       [--data ../shared/data/ntu/skeletons] [--json out.json]
    python -m benchmarks.cross_dataset --checkpoint training/checkpoints/nucla_pose.pt \
                                       --sources ../shared/data/ntu/skeletons/*.skeleton ...

Per clip: the decisions (every hop, every person), the clip's top-1 (the class with the highest mean
probability over all its decisions; a decision's top-k probabilities, the rest counted as 0), the share
of decisions whose own top-1 is the expected class, and the most frequent top-1. NTU clips are cut to
the action (1.4-2.5 s): the app decides once a person has `min_coverage` (80%) of a window of history,
so a clip shorter than that gets no decision at all, which the table says.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

from core.atomic import replace_atomically
from recordings.argument_types import existing_path, integer_in, json_file

REPO = Path(__file__).resolve().parents[1]
# NTU action -> the PKU-MMD class of the same interaction.
EXPECTED = {
    50: "punching/slapping other person",
    54: "point finger at the other person",
    55: "hugging other person",
    58: "handshaking",
}
CLIPS = (
    "S001C001P001R001A050",
    "S017C003P020R002A054",
    "S017C003P020R002A055",
    "S001C003P008R002A058",
    "S017C003P020R002A058",
)


def run_clip(path: Path, checkpoint: Path, threads: int) -> tuple[list[dict], str]:
    """The JSON lines `python -m live --headless --fast` prints for one clip, and its stderr."""
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(path), "--checkpoint", str(checkpoint), "--headless",
         "--fast", "--threads", str(threads)],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"{path.name}: python -m live failed:\n{result.stderr}")
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()], result.stderr


def expected_class(name: str) -> str | None:
    """The PKU-MMD class an NTU clip shows (by its action number), None for anything else."""
    try:
        return EXPECTED.get(int(name[-3:])) if name[-4] == "A" else None
    except (ValueError, IndexError):
        return None


def model_classes(checkpoint: Path) -> tuple[str, ...]:
    if checkpoint.suffix.lower() == ".onnx":
        from core.engines import read_onnx_metadata

        return tuple(read_onnx_metadata(checkpoint).class_names)
    from core.model.checkpoint import load_checkpoint

    return tuple(load_checkpoint(checkpoint).class_names)


def summarise(name: str, decisions: list[dict], classes: tuple[str, ...]) -> dict:
    expected = expected_class(name)
    expected = expected if expected in classes else None  # a model without the class is not judged
    row: dict = {"clip": name, "expected": expected, "decisions": len(decisions),
                 "people": len({d["person"] for d in decisions})}
    if not decisions:
        return {**row, "top1": None, "top1_p": None, "share_expected": None, "most_frequent": None}
    totals: Counter[str] = Counter()
    for decision in decisions:
        for entry in decision["topk"]:
            totals[entry["class"]] += entry["p"]
    top1, mass = totals.most_common(1)[0]
    firsts = Counter(d["topk"][0]["class"] for d in decisions)
    share = None if expected is None else firsts[expected] / len(decisions)
    return {**row, "top1": top1, "top1_p": mass / len(decisions), "share_expected": share,
            "most_frequent": firsts.most_common(1)[0][0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.cross_dataset",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--checkpoint", type=existing_path,
                        default=REPO / "training" / "checkpoints" / "pku_interactions.pt")
    parser.add_argument("--data", type=existing_path,
                        default=REPO.parent / "shared" / "data" / "ntu" / "skeletons")
    parser.add_argument("--sources", type=Path, nargs="+",
                        help="recordings to run instead of the NTU interaction clips (any --source of live)")
    parser.add_argument("--threads", type=integer_in(1), default=1)
    parser.add_argument("--json", type=json_file, help="also write the rows here (a .json file)")
    args = parser.parse_args(argv)
    paths = args.sources or [args.data / f"{name}.skeleton" for name in CLIPS]
    classes = model_classes(args.checkpoint)
    rows = []
    missing = [path for path in paths if not path.is_file()]
    if len(missing) == len(paths):  # a wrong --data: an empty table and exit 0 would hide it
        raise FileNotFoundError(f"none of the {len(paths)} recordings found (e.g. {missing[0]}); point "
                                "--data at the NTU skeletons folder, or give --sources")
    for path in paths:
        if path in missing:
            print(f"{path}: not found, skipped", file=sys.stderr)
            continue
        decisions, _ = run_clip(path, args.checkpoint, args.threads)
        name = path.name.split(".")[0]
        rows.append(summarise(name, decisions, classes))
        print(f"  {name}: {len(decisions)} decisions", file=sys.stderr, flush=True)
    print(f"{args.checkpoint.name} (python -m live --headless --fast: default hop, smoothing, threshold)\n")
    print("| recording | expected | decisions | top-1 over the recording (mean p) | decisions with the "
          "expected top-1 | most frequent top-1 |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        expected = row["expected"] or "-"
        if row["top1"] is None:
            print(f"| {row['clip']} | {expected} | 0: shorter than the history a decision needs | - | - "
                  f"| - |")
            continue
        mark = "**" if row["top1"] == row["expected"] else ""
        share = "-" if row["share_expected"] is None else f"{100 * row['share_expected']:.0f}%"
        print(f"| {row['clip']} | {expected} | {row['decisions']} ({row['people']} people) | "
              f"{mark}{row['top1']}{mark} ({row['top1_p']:.2f}) | {share} | {row['most_frequent']} |")
    judged = [r for r in rows if r["expected"] is not None]
    if judged:
        right = sum(r["top1"] == r["expected"] for r in judged)
        print(f"\ntop-1 over the clip right on {right} of {len(judged)} clips")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        replace_atomically(args.json, json.dumps(rows, indent=1).encode("utf-8"))
    return 0


if __name__ == "__main__":
    from recordings.argument_types import run_command

    run_command(main, "python -m benchmarks.cross_dataset")
