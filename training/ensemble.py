"""`python -m training ensemble`: separately trained pose-only checkpoints joined into one file.

    python -m training ensemble runs/a/pose/best.pt runs/b/pose/best.pt runs/c/pose/best.pt \
        --out runs/abc.pt [--smoothing 0.25 --threshold 0.6 --end-threshold 0.3]

The result is an ordinary checkpoint whose network holds the members side by side
(`NetworkConfig.pose_members`, core/model/ensemble.py) and averages their class distributions, so the
app, `evaluate` and `export` take it as they take any pose-only model.

The members must be the same network (config, classes, preprocessing) trained on the same split:
the same data record and, where they have one, the same held-out validation clips. Otherwise an
ensemble scored on "its" validation clips would be scored partly on training data. Mirror averaging
(`pose_mirror_average`, inference only) is the first member's. The decisions (smoothing, thresholds)
chosen for one member do not carry over to the mean of several, so the file gets only the ones given
here.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from core.model.checkpoint import (
    Checkpoint,
    CheckpointError,
    DecisionSettings,
    load_checkpoint,
    save_checkpoint,
)
from core.model.network import PartAttentionNetwork
from core.model.profiles import Aggregation
from recordings.argument_types import probability, replaced_file, smoothing_seconds
from training.config import recorded_data
from training.datasets.clips import TAUGHT_HERE, recorded_folder


def add_ensemble_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("members", nargs="+", help="pose-only checkpoints of one network, trained apart")
    parser.add_argument("--out", required=True, type=replaced_file, help="the ensemble checkpoint to write")
    parser.add_argument("--overwrite", action="store_true", help="replace a file already at --out")
    parser.add_argument("--smoothing", type=smoothing_seconds,
                        help="decision smoothing (s, 0 to 10) to record for the ensemble")
    parser.add_argument("--threshold", type=probability, help="event threshold to record")
    parser.add_argument("--end-threshold", type=probability, help="end threshold (hysteresis) to record")


def run_ensemble(args: argparse.Namespace) -> int:
    try:
        decisions = DecisionSettings.given(args.smoothing, args.threshold, args.end_threshold)
    except ValueError as error:
        raise CheckpointError(f"--smoothing / --threshold / --end-threshold: {error}") from error
    path = build_ensemble([Path(m) for m in args.members], Path(args.out), decisions=decisions,
                          overwrite=args.overwrite)
    print(f"wrote {path}: {len(args.members)} members")
    return 0


def build_ensemble(members: list[Path], out: Path, *, decisions: DecisionSettings | None = None,
                   overwrite: bool = False) -> Path:
    """Check that `members` may be averaged (see the module docstring) and write them as one file; a file
    already at `out` is replaced only with `overwrite`."""
    if len(members) < 2:
        raise CheckpointError(f"an ensemble needs at least 2 member checkpoints, got {len(members)}")
    seen: dict[Path, Path] = {}
    for path in members:
        if path.resolve() in seen:
            raise CheckpointError(f"{path}: given twice (as {seen[path.resolve()]} too): a member averaged "
                                  "with itself only weighs it double")
        seen[path.resolve()] = path
    # Checked before anything is read or written: the ensemble must not replace one of its members.
    if out.resolve() in seen:
        raise CheckpointError(f"--out {out}: one of the members; write the ensemble to a file of its own")
    if out.is_dir():
        raise CheckpointError(f"--out {out}: a folder; give the file to write, e.g. {out / 'ensemble.pt'}")
    if out.suffix.lower() != ".pt":  # --out notes.txt replaced the notes with a checkpoint
        raise CheckpointError(f"--out {out}: the file written is a checkpoint and its name must end in .pt "
                              "(nothing written)")
    loaded = [load_checkpoint(path) for path in members]
    copies: dict[str, Path] = {}
    for path, member in zip(members, loaded, strict=True):  # a copy under another name is the same member
        if member.sha256 in copies:
            raise CheckpointError(f"{path}: the same file as {copies[member.sha256]} (a copy): a member "
                                  "averaged with itself only weighs it double")
        copies[member.sha256] = path
    first, first_path = loaded[0], members[0]
    for path, member in zip(members, loaded, strict=True):
        if member.config.aggregation is not Aggregation.POSE or member.config.pose_members != 1:
            raise CheckpointError(
                f"{path}: members must be single pose-only networks (aggregation 'pose', pose_members 1), "
                f"got aggregation {member.config.aggregation.value!r} with {member.config.pose_members} "
                "pose streams"
            )
        for what, theirs, ours in (
            ("network", _architecture(member), _architecture(first)),
            ("classes", member.class_names, first.class_names),
            ("preprocessing", member.preprocessing, first.preprocessing),
            ("training data", _data_record(member), _data_record(first)),
            ("validation clips", member.extra.get("validation_clips"), first.extra.get("validation_clips")),
            # The same data settings (a relative root) trained in two folders are two sites' clips.
            ("folder of clips", recorded_folder(member.extra), recorded_folder(first.extra)),
        ):
            if theirs != ours:
                raise CheckpointError(
                    f"{path} differs from {first_path} in its {what}: {_difference(theirs, ours)}"
                )

    config = dataclasses.replace(first.config, pose_members=len(loaded))
    network = PartAttentionNetwork(config)
    for member, checkpoint in zip(network.pose.members, loaded, strict=True):
        member.load_state_dict(checkpoint.model.pose.state_dict())
    extra: dict[str, Any] = {
        key: first.extra[key] for key in ("stage", "dataset", "protocol", "validation_clips", "train_config")
        if key in first.extra
    }
    extra["data_folder"] = recorded_folder(first.extra)  # the members', checked the same
    recorded = [member.extra["trained_clips"] for member in loaded if "trained_clips" in member.extra]
    if recorded:  # what any of them learnt (--init's too), as far as they say
        extra["trained_clips"] = sorted(set().union(*recorded))
    # (Of one folder, checked above.)
    extra[TAUGHT_HERE] = sorted(set().union(*(member.extra.get(TAUGHT_HERE) or [] for member in loaded)))
    decisions = decisions or DecisionSettings()
    if "train_config" in extra:  # what a model fine-tuned from this one inherits (training/finetune.py)
        extra["train_config"] = {**extra["train_config"], "decisions": dataclasses.asdict(decisions)}
    extra["ensemble_members"] = [
        {"file": str(path), **{k: v for k, v in member.extra.items() if k != "validation_clips"}}
        for path, member in zip(members, loaded, strict=True)
    ]
    # Said after what is wrong with the members. Given a run's best.pt, it replaced that run's weights
    # without a word, and the run's state.pt, which says the stage is finished, then started its next stage
    # from the ensemble.
    if out.exists() and not overwrite:
        raise CheckpointError(f"--out {out}: already there; --overwrite replaces it, or name another file "
                              "(nothing written)")
    save_checkpoint(out, network, class_names=first.class_names, preprocessing=first.preprocessing,
                    extra=extra, decisions=decisions)
    return out


def _architecture(checkpoint: Checkpoint) -> dict[str, Any]:
    """The network's config without the inference-only switches a member may have been saved with."""
    return dataclasses.asdict(dataclasses.replace(checkpoint.config, pose_mirror_average=False))


def _data_record(checkpoint: Checkpoint) -> Any:
    """The recorded data config, a key a checkpoint lacks as it was when it trained (recorded_data: else
    it could never join newer ones)."""
    recorded = checkpoint.extra.get("train_config")
    data = recorded.get("data") if isinstance(recorded, dict) else None
    return recorded_data(data) if isinstance(data, dict) else None


def _difference(theirs: Any, ours: Any) -> str:
    if isinstance(theirs, dict) and isinstance(ours, dict):
        keys = sorted(k for k in set(theirs) | set(ours) if theirs.get(k) != ours.get(k))
        return "; ".join(f"{k}: {theirs.get(k)!r} vs {ours.get(k)!r}" for k in keys[:5])
    text = f"{theirs!r} vs {ours!r}"
    return text if len(text) < 300 else text[:300] + "..."
