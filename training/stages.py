"""Algorithm 1 as training stages, one linear loop for all of them.

    parts      step 2  each part's I3D on its own crops (loss on every part's classification: through the
                       classifier of F where the network has one that reads summed features, see
                       core.model.network)
    pose       step 3  the pose stream (LSTM, or the graph network with a loss per input stream) classifies
                       skeleton windows; with `distill.teacher`, also towards that trained model's class
                       distribution on each window (`_teacher`)
    attention  step 5  parts + LSTM + attention head + classifier, jointly, N1 epochs; the first
                       `epochs.attention_frozen_parts` of them with the part I3Ds held
    finetune   step 6  as attention with the LSTM frozen, N2 epochs (at `optim.finetune_lr` if set)
    all        the stages the network has, in this order, each from the previous one's best checkpoint
    head               attention head + classifier alone, from a trained network (`--init`): where
                       fine-tuning on a site's few clips starts, before `finetune` (training/finetune.py)

Run folder (`out`):  <out>/<stage>/ config.yaml  metrics.jsonl  best.pt  last.pt  state.pt
`best.pt` is a model checkpoint (core.model.checkpoint: the network, its config, class names and
preprocessing); `state.pt` holds what resuming needs (optimiser, scheduler, scaler, RNG, counters).
A stage that finds an unfinished `state.pt` continues after its last completed epoch, and a finished one
is not trained again (given more epochs than it ended at, not by early stopping, it continues), unless the
state was written for other inputs (`stage_inputs`: data files, labels, classes, settings, starting
weights): then it is refused, saying what changed, until --restart trains it from the start.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
import warnings
from collections.abc import Callable, Collection
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler
from tqdm import tqdm

from core.atomic import UNFINISHED_NAME, remove_leftovers, replace_atomically
from core.engines.metadata import file_sha256
from core.locks import lock_exclusive
from core.model.checkpoint import (
    Preprocessing,
    load_checkpoint,
    read_i3d_weights,
    save_atomically,
    save_checkpoint,
)
from core.model.loss import LossWeights, distillation_loss, p_i3d_loss, view_consistency_loss
from core.model.network import PartAttentionNetwork, Stage
from core.model.profiles import Aggregation, NetworkConfig
from core.package_files import bundled, software_commit, software_version
from core.window import WindowSpec
from core.wording import first_few
from training import distributed
from training.ablations import network_config
from training.config import DataConfig, TrainConfig, config_to_dict, recorded_data, write_config
from training.data import DatasetError, Splits, ignore_sigterm
from training.datasets import build_splits
from training.datasets.clips import TAUGHT_HERE, learnt_from, names_learnt, run_folder, taught_here
from training.evaluation import Predictions, predict, topk_accuracy
from training.windows import Augmentation, WindowDataset, window_datasets

# CLI name of each stage, Algorithm 1's in its order, then the first stage of fine-tuning on few clips.
STAGE_NAMES: dict[str, Stage] = {
    "parts": Stage.PARTS,
    "pose": Stage.POSE,
    "attention": Stage.JOINT,
    "finetune": Stage.FINETUNE,
    "head": Stage.HEAD,
}


class StageError(RuntimeError):
    """A stage that cannot start as asked (missing previous checkpoint, incompatible network)."""


class Diverged(StageError):
    """A stage whose weights stopped being finite numbers (a loss gone NaN): it stops before saving them."""


def stages_for(config: NetworkConfig) -> list[str]:
    """The stages of Algorithm 1 this network has, in order."""
    aggregation = config.aggregation
    stages = []
    if config.parts:
        stages.append("parts")
    if aggregation.uses_pose:
        stages.append("pose")
    if config.parts and aggregation is not Aggregation.SINGLE:
        stages.append("attention")
    if aggregation is Aggregation.ATTENTION:
        stages.append("finetune")
    return stages


def needs_crops(stage: str) -> bool:
    return stage != "pose"


class StageObjective(nn.Module):
    """What one stage computes from a batch, as a module so DistributedDataParallel sees the forward.

    Returns (logits, attention): logits (B, C), or (B, P, C) for `parts` (one classification per part),
    or (B, S, C) for `pose` (one per input stream of the pose network; S = 1 for the LSTM).
    """

    def __init__(self, network: PartAttentionNetwork, stage: str) -> None:
        super().__init__()
        self.network = network
        self.stage = stage

    def forward(
        self, crops: torch.Tensor | None, skeleton: torch.Tensor | None, pose_features: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.stage == "parts":
            logits = self.network.part_logits(crops)
            return logits, logits.new_zeros(logits.shape[0], 0)
        if self.stage == "pose":
            if pose_features:  # (B, H) in place of the attention: what the consistency term compares
                logits, hidden = self.network.pose.stream_outputs(skeleton)
                return logits, hidden.mean(1)
            logits = self.network.pose.stream_logits(skeleton)
            return logits, logits.new_zeros(logits.shape[0], 0)
        if self.training and self.network.config.pose_fusion:
            # (B, 2, C): the attention branch and the pose branch, each with its own loss (stage_loss).
            # Trained only on their mixture, one branch learns to lean on the other: fine-tuned on a
            # site's clips, the crops' branch called a whole room "fall_down" while the skeleton's said
            # no_action, and the mixture's p(fall_down) near 0.5 passed the 0.4 threshold (false alerts).
            # Validation (eval mode) judges the mixture, as the app uses it.
            return self.network.branch_logits(crops, skeleton)
        return self.network(crops, skeleton)


def stage_loss(
    network: PartAttentionNetwork,
    stage: str,
    logits: torch.Tensor,
    attention: torch.Tensor,
    labels: torch.Tensor,
    config: TrainConfig,
    teacher_logits: torch.Tensor | None = None,
) -> torch.Tensor:
    """Cross-entropy of the stage's output + Eq. 5's penalties where the stage has them; in the pose
    stage with a teacher (`distill`), the cross-entropy mixed with the distillation term.

    Eq. 5: CE + lambda1 * sum_k (1 - alpha_k)^2 + lambda2 * ||W||^2, with W the weight matrices the
    stage trains among the layers the paper adds (attention head, classifier; the pose classifier in
    the pose stage). The printed equation lacks the CE's minus sign; this is the usual cross-entropy.
    """
    logits = logits.float()
    lambdas = LossWeights(attention=config.optim.attention_weight, weight=config.optim.weight_decay)
    if stage == "parts":
        parts = logits.shape[1]
        weights = network.part_classifier_weights()
        # Each part's own Eq. 5 (no attention yet), summed: every I3D gets the gradient of its own loss
        # only, as if trained alone.
        flat = logits.flatten(0, 1)
        no_attention = flat.new_ones(flat.shape[0], 1)
        terms = p_i3d_loss(flat, labels.repeat_interleave(parts), no_attention, weights, lambdas)
        return terms.cross_entropy * parts + lambdas.weight * terms.weight_penalty
    if stage == "pose":
        # Each input stream's own loss, summed (the LSTM has one stream): the streams share no weights,
        # so each learns as if trained alone, and their averaged logits are an ensemble.
        streams = logits.shape[1]
        flat = logits.flatten(0, 1)
        repeated = labels.repeat_interleave(streams)
        lambdas = LossWeights(attention=0.0, weight=config.optim.weight_decay)
        terms = p_i3d_loss(
            flat, repeated, flat.new_ones(flat.shape[0], 1), network.pose.classifier_weights(), lambdas
        )
        cross_entropy = terms.cross_entropy
        if config.optim.label_smoothing > 0:  # Eq. 5 with the cross-entropy against smoothed targets
            cross_entropy = F.cross_entropy(flat, repeated, label_smoothing=config.optim.label_smoothing)
        if teacher_logits is not None:  # every stream learns the teacher's distribution beside the labels
            soft = distillation_loss(
                flat, teacher_logits.float().repeat_interleave(streams, dim=0), config.distill.temperature
            )
            cross_entropy = (1 - config.distill.weight) * cross_entropy + config.distill.weight * soft
        return cross_entropy * streams + lambdas.weight * terms.weight_penalty
    weights = [w for w in network.regularised_weights() if w.requires_grad]
    if attention.shape[1] <= 1:  # a single part: no attention to regularise
        attention = logits.new_ones(logits.shape[0], 1)
    smoothing = config.optim.label_smoothing
    pose_branch = None
    if logits.dim() == 3:  # pose_fusion: Eq. 5 on the attention branch, the pose stage's loss on the other
        logits, pose_branch = logits[:, 0], logits[:, 1]
    terms = p_i3d_loss(logits, labels, attention.float(), weights, lambdas)
    total = terms.total
    if smoothing > 0:  # Eq. 5 with the cross-entropy term against smoothed targets
        total = total - terms.cross_entropy + F.cross_entropy(logits, labels, label_smoothing=smoothing)
    if pose_branch is not None:
        total = total + F.cross_entropy(pose_branch, labels, label_smoothing=smoothing)
    return total


def _to_device(
    batch: dict[str, Any], device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor, torch.Tensor]:
    crops = batch.get("crops")
    if crops is not None:
        crops = crops.to(device, non_blocking=True).float()
    return (
        crops,
        batch["skeleton"].to(device, non_blocking=True),
        batch["label"].to(device, non_blocking=True),
    )


@dataclass
class StageResult:
    best_checkpoint: Path
    best_validation_top1: float
    epochs_run: int
    network: PartAttentionNetwork | None = None  # the weights at the end of the run (not the best ones)
    scored_on: str = "validation"  # "training" where there were no validation clips (the figure flatters)


_CLAIMED_RUNS: dict[Path, IO[str]] = {}


def claim_run(run: Path) -> None:
    """One command trains a run folder at a time: two would interleave their epochs in metrics.jsonl and
    overwrite each other's checkpoints and state. The lock is held until this process ends (the system
    lets go of it after a crash too); the stages of one command share it."""
    run = run.resolve()
    if run in _CLAIMED_RUNS:
        return
    run.mkdir(parents=True, exist_ok=True)
    handle = open(run / "run.lock", "a+", encoding="utf-8")  # noqa: SIM115 - held until the process ends
    try:
        lock_exclusive(handle)
    except OSError:
        try:
            handle.seek(0)
            holder = handle.read().strip() or "a process"
        except OSError:  # Windows: its lock is mandatory, the locked byte cannot be read either
            holder = "a process"
        handle.close()
        raise StageError(f"{run} is being trained by another command ({holder}): wait for it to finish, or "
                         "choose another --out") from None
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()}\n")
    handle.flush()
    _CLAIMED_RUNS[run] = handle
    _remove_unfinished_writes(run)


# The files a training command writes in its run folder (the run's model.pt: finetune) and their stage
# folders, whose temporary files only it writes there (an export or an ensemble written into the run, which
# holds no run lock, writes others: .best.onnx.<pid>-<hex>.partial).
_RUN_FILES = ("best.pt", "last.pt", "state.pt", "metrics.jsonl", "model.pt")


def _remove_unfinished_writes(run: Path) -> None:
    """Remove, said, what writes of a training command that a kill or power cut interrupted left in a run
    folder this process has just claimed (so no other training command writes in it): write_then_rename's
    temporary files of the run's own files, and those of versions before it (`best.pt.partial`,
    `state.tmp`, `.model.pt.<hex>.tmp`). A stage's checkpoint is megabytes to gigabytes, and nothing else
    ever removed them."""
    stages = [run / stage for stage in STAGE_NAMES]  # not an evaluation's folder, which may be writing
    left = [path for folder in (run, *stages) for name in _RUN_FILES
            for path in folder.glob(f".{name}.*.partial") if UNFINISHED_NAME.fullmatch(path.name)]
    left += [*run.glob(".model.pt.*.tmp")]
    left += [path for folder in stages for path in (*folder.glob("*.pt.partial"), folder / "state.tmp")
             if path.is_file()]
    files, size = remove_leftovers(left)
    if files:
        print(f"removed {files} unfinished file(s) ({size / 1e6:.1f} MB) an interrupted run left in {run}")


def previous_checkpoint(out: Path, stage: str, network_stages: list[str]) -> Path | None:
    """The best checkpoint of the stage before `stage` among the network's stages, if it is required."""
    position = network_stages.index(stage)
    if position == 0:
        return None
    return out / network_stages[position - 1] / "best.pt"


# Fields that say how the same weights are combined, not which weights there are: a checkpoint trained
# without them seeds a stage with them (e.g. the joint stage with pose_fusion from a plain pose stage).
WEIGHTLESS_FIELDS = ("pose_mirror_average", "pose_fusion")


def check_compatible(
    found: NetworkConfig, expected: NetworkConfig, path: Path, *, ignore_classes: bool = False
) -> None:
    """A checkpoint can seed a stage only if it is the same network (same profile, classes, layout);
    with `ignore_classes` the class count may differ (fine-tuning on a site's own classes)."""
    a, b = found.to_dict(), expected.to_dict()
    ignored = (*WEIGHTLESS_FIELDS, "num_classes") if ignore_classes else WEIGHTLESS_FIELDS
    differing = {k: (a[k], b[k]) for k in a if a[k] != b[k] and k not in ignored}
    if differing:
        details = ", ".join(
            f"{k}: checkpoint {v[0]!r} vs config {v[1]!r}" for k, v in sorted(differing.items())
        )
        hint = ""
        # The usual reason: a model of other classes to start from. Not where the network differs too: the
        # setting would take the classes, and the same refusal follow without the hint.
        if set(differing) == {"num_classes"}:
            hint = ("; --init from a model of other classes takes --set model.init_new_classes=true, which "
                    "keeps the rows of the classes it knows by name and starts the others fresh")
        raise StageError(f"{path} is a different network than this run's config ({details}){hint}")


def class_rows(old_names: list[str], new_names: list[str]) -> list[int]:
    """For each new class, the row of the same-named old class in a classifier (-1: a new class)."""
    return [old_names.index(name) if name in old_names else -1 for name in new_names]


def load_matching(
    network: nn.Module,
    state: dict[str, torch.Tensor],
    rows: list[int] | None = None,
    class_sized: Collection[str] = (),
) -> list[str]:
    """Load `state` into `network`. Tensors whose shape differs are class-sized (classifiers of another
    class count), and so are those named in `class_sized` (for a checkpoint of as many classes but other
    ones, where the shapes cannot tell): with `rows` (for each of the network's classes, the row in
    `state` of the same class, or -1; see `class_rows`) the known classes' rows are copied and only new
    classes' rows keep their fresh initialisation; without, the whole tensor stays fresh. Returns the
    names of the class-sized tensors. Missing or unexpected names, or tensors that differ in more than
    the class count, are errors."""
    own = network.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        raise StageError(f"checkpoint weights do not fit: missing {missing[:5]}, unexpected {unexpected[:5]}")
    resized = [k for k, v in state.items() if v.shape != own[k].shape or k in class_sized]
    merged = dict(state)
    for name in resized:
        old, new = state[name], own[name]
        if rows is None:
            merged[name] = new
            continue
        if old.shape[1:] != new.shape[1:] or len(rows) != new.shape[0]:
            raise StageError(f"checkpoint tensor {name} is {tuple(old.shape)}, the network's "
                             f"{tuple(new.shape)}: not a classifier of another class count")
        copied = new.clone()
        for row, source in enumerate(rows):
            if source >= 0:
                copied[row] = old[source]
        merged[name] = copied
    network.load_state_dict(merged)
    return resized


def preprocessing_for(config: TrainConfig, splits: Splits, net: NetworkConfig) -> Preprocessing:
    return Preprocessing.matching(
        net, layout=splits.layout.name, duration_s=config.window.duration_s, glimpse=splits.glimpse
    )


def train_stage(
    config: TrainConfig,
    stage: str,
    *,
    init: str | Path | None = None,
    restart: bool = False,
    process: distributed.Process | None = None,
    splits: Splits | None = None,
) -> StageResult:
    """Run one stage of Algorithm 1 to completion (or early stop); returns its best checkpoint.

    Setup (`_stage_network`: the network, seeded from the previous stage or --init; `_Optimisation`;
    `_stage_data`), resume from `state.pt` if a run was interrupted, then per epoch: train
    (`_train_epoch`), validate, save (`_save_epoch`)."""
    process = process or distributed.start(config.device)
    splits = splits or build_splits(config.data)
    net_config, network_stages = _stage_plan(config, stage, splits)
    epochs = getattr(config.epochs, stage)
    if epochs < 1:  # before anything is written: a "finished" stage with no best.pt would block reruns
        raise StageError(f"epochs.{stage} is {epochs}: the {stage} stage needs at least one epoch")
    out = Path(config.out) / stage
    state_path = out / "state.pt"

    torch.manual_seed(config.seed)
    # The weights it starts from: --init, or the previous stage's best.pt. They are among its inputs too (a
    # pose stage trained again must not leave an attention stage resumed or "finished" on the old one).
    seed_path = Path(init) if init else previous_checkpoint(Path(config.out), stage, network_stages)
    network, pretrained, seed = _stage_network(config, stage, net_config, network_stages, splits, init,
                                               seed_path, process)
    seed_trained = names_learnt(seed, run_folder(config.data))
    splits = validation_not_learnt(config.data, splits, seed, seed_path,
                                   lambda line: print(f"[{stage}] {line}") if process.is_main else None)
    # The teacher checked now, its random draws (its network's initialisation) undone: it is loaded again
    # below, where a taught run has always drawn them, so that the committed models' commands reproduce.
    with torch.random.fork_rng(devices=[]):
        _, teacher_trained = _teacher(config, stage, splits, preprocessing_for(config, splits, net_config),
                                      process)
    # Claimed once the starting weights and the teacher are read (they only read): an --init or a teacher
    # that is missing, no checkpoint or does not fit leaves no run folder and lock behind, and --restart
    # does not empty the run's metrics before it fails; the run's state is read and written after it.
    if process.is_main:
        claim_run(Path(config.out))
    objective: nn.Module = StageObjective(network, stage)
    if process.distributed:
        device_ids = [process.device.index] if process.device.type == "cuda" else None
        objective = DistributedDataParallel(objective, device_ids=device_ids)
        # The I3Ds' 1x1x1 convolutions get gradients whose strides differ from the bucket's only along
        # their size-1 dimensions (the same memory layout): PyTorch warns of a slowdown there is not.
        warnings.filterwarnings("ignore", message="Grad strides do not match bucket view strides")
    optimisation = _Optimisation.for_stage(network, stage, config, process, pretrained)
    train_set, validation_set, sampler, loader = _stage_data(config, stage, splits, net_config, process)

    scored_on = "validation" if splits.validation else "training"  # without validation clips: flattering
    inputs = stage_inputs(config, splits, seed_path)
    progress = _Progress(inputs=inputs_fingerprint(inputs), summary=inputs_summary(inputs),
                         processes=process.world_size)
    resumed = None
    if state_path.is_file() and not restart:
        accepted = (progress.inputs, legacy_inputs_fingerprint(inputs))
        resumed = _resume(state_path, network, optimisation, accepted, process.world_size)
        if resumed is None:  # its best.pt may be somebody's result: replaced only when asked to
            before = _read_state(state_path).get("inputs_summary")
            changed = what_changed(before, progress.summary)
            raise StageError(f"{out} holds a {stage} run for other data, labels, settings or starting "
                             f"weights{f' ({changed})' if changed else ''}: --restart trains it again in its "
                             "place, or choose another --out")
    elif not restart and (out / "best.pt").is_file():  # state.pt deleted to save space, or not copied
        raise StageError(f"{out} holds a {stage} model (best.pt) but not the state.pt that would resume or "
                         "check its run: --restart trains it again in its place, or choose another --out")
    if resumed is not None:
        retimed = files_retimed(resumed.summary, progress.summary)
        if retimed and process.is_main:
            print(f"note: {' and '.join(retimed)}: the same files and sizes as when this run began, other "
                  "modification times (a copy?); resumed as the same data, --restart if their contents "
                  "changed")
        resumed.summary = progress.summary
        progress = resumed
        stopped_early = progress.bad_epochs >= config.optim.early_stop_patience
        if progress.finished and progress.epoch < epochs and not stopped_early:
            progress.finished = False  # it ended at its epoch count: more epochs continue it
        if progress.finished:
            if process.is_main:
                print(f"[{stage}] already finished ({state_path}); --restart to train it again")
            return StageResult(out / "best.pt", progress.best_top1, progress.epoch, scored_on=scored_on)
        if process.is_main:
            print(f"[{stage}] resuming after epoch {progress.epoch} "
                  f"(best validation top-1 {progress.best_top1:.4f})")
            if progress.processes != process.world_size:  # (a finished stage given more epochs too)
                print(f"note: {state_path} was trained by {progress.processes} process(es) and resumes with "
                      f"{process.world_size}: the total batch changes from here on (torchrun "
                      "--nproc_per_node as before keeps it)")
        progress.processes = process.world_size  # (saved with the state from here on)
        if process.distributed or process.device.type == "cuda":
            # state.pt holds rank 0's CPU generator only: restored on every rank it gave them all the same
            # dropout noise, and the GPU's generator restarted at the run's seed (epoch 1's noise again).
            # Seeded by rank and epoch instead; bitwise the same resume is a one-process CPU run's.
            torch.manual_seed(config.seed * 1000 + process.rank + 1 + 1_000_003 * progress.epoch)
    else:
        # Different dropout noise per rank; the weights themselves are broadcast by DDP from rank 0.
        torch.manual_seed(config.seed * 1000 + process.rank + 1)
    # A --restart over a run replaces its record with its first epoch's files, not before: stopped sooner,
    # it left the earlier run's checkpoints under its own settings and an emptied history.
    replacing = restart and any((out / name).is_file() for name in _RUN_FILES)
    if process.is_main and not replacing:  # only once it trains: a refused or finished rerun leaves the
        _begin_record(out, config, progress.epoch if resumed is not None else 0)  # run's record as it was

    described = {
        "class_names": splits.class_names,
        "preprocessing": preprocessing_for(config, splits, net_config),
        "extra": {
            "stage": stage,
            "dataset": config.data.dataset,
            "protocol": config.data.protocol,
            "validation_clips": [s.name for s in splits.validation],
            # What it learnt from, by name, its starting weights' (--init, a fine-tune's base) and its
            # teacher's included: an evaluation whose test split is drawn again from another folder (other
            # performances, another draw) can tell when it holds these (training.evaluate).
            "trained_clips": sorted({s.name for s in splits.train} | seed_trained | teacher_trained),
            # Where, for a site's clips, whose names are not the dataset's own: their folder, as resolved
            # here (training.datasets.clips.learnt_from).
            "data_folder": run_folder(config.data),
            # What fine-tuning on this folder taught its starting weights (a stage with --init after it,
            # each stage of a fine-tune), kept for the next round's warnings (training/finetune.py).
            TAUGHT_HERE: [n for n in taught_here(seed, run_folder(config.data)) if n in splits.class_names],
            "train_config": config_to_dict(config),
            "init": str(init) if init else "",  # --init: the network this one started from (provenance)
            "software": software_record(),
        },
        "decisions": config.decisions,
    }
    teacher, _ = _teacher(config, stage, splits, described["preprocessing"], process)
    if process.is_main:
        train_names, validation_names = {s.name for s in splits.train}, {s.name for s in splits.validation}
        orders = ""
        if (len(train_names), len(validation_names)) != (len(splits.train), len(splits.validation)):
            # PKU-MMD reads each sequence once per body order (training/datasets/pkummd.py): "284 training
            # clips" read as twice the sequences there are.
            orders = f" ({len(train_names)} / {len(validation_names)} recordings, each in both body orders)"
        print(
            f"[{stage}] {len(splits.train)} training / {len(splits.validation)} validation clips{orders}, "
            f"{sum(p.numel() for p in optimisation.trainable):,} trainable parameters, device "
            f"{process.device}, {process.world_size} process(es)"
        )
        # Not one scale: the first sums each stream's (or part's) loss and adds Eq. 5's penalties, so that a
        # 3-stream pose network's 6.2 beside a val loss of 1.5 read as a run gone wrong.
        print(f"[{stage}] each epoch: train objective = each input stream's (or part's) cross-entropy "
              "summed, plus penalties; val loss = cross-entropy alone, averaged: not one scale")
        if not splits.validation:
            print(f"[{stage}] no validation clips: validating on the training clips, so best.pt is the epoch "
                  "that fits them best (hold some out: data.validation_fraction)")
    start_epoch = epoch = progress.epoch
    for epoch in range(start_epoch, epochs):
        started = time.monotonic()
        sampler.set_epoch(epoch)
        train_set.set_epoch(epoch)
        train_loss, train_top1 = _train_epoch(objective, network, loader, optimisation, config, stage,
                                              epoch, process, teacher)
        # A loss gone NaN ran every epoch left on NaN weights and ended as a normal run, last.pt and state.pt
        # NaN (a resume carried on from them). Mixed precision skips a step whose gradients overflow, so
        # the weights, not the loss, say it; batch norm's running statistics too (they move without a step).
        if not all(bool(torch.isfinite(value).all()) for value in network.state_dict().values()
                   if value.is_floating_point()):
            kept = (f"best.pt (validation top-1 {progress.best_top1:.3f}) and the state after epoch {epoch} "
                    f"are kept in {out}" if progress.best_top1 >= 0 else "no epoch was saved")
            raise Diverged(f"[{stage}] epoch {epoch + 1}: the weights are no longer finite (train objective "
                           f"{train_loss:.4g}): stopped before saving them; {kept}. A lower learning rate "
                           "(optim.lr) or gradient clipping (optim.grad_clip) with --restart trains it again")
        predictions = predict(objective, network, validation_set, config, process, stage=stage)
        validation = _validation_metrics(predictions, stage)
        optimisation.scheduler.step(validation["top1"])
        improved = progress.judge(validation)
        progress.epoch = epoch + 1
        progress.finished = progress.bad_epochs >= config.optim.early_stop_patience or epoch + 1 >= epochs
        record = {
            "stage": stage,
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "train_top1": train_top1,
            **{f"val_{k}": v for k, v in validation.items()},
            "lr": max(group["lr"] for group in optimisation.optimizer.param_groups),  # the full rate
            "seconds": round(time.monotonic() - started, 2),
        }
        if process.is_main:
            if replacing:  # the earlier run's state first: a crash now leaves no state of another run's
                state_path.unlink(missing_ok=True)
                _begin_record(out, config, 0)
                replacing = False
            _save_epoch(out, network, optimisation, progress, record, validation, improved, described, epochs)
        distributed.barrier(process)
        if progress.bad_epochs >= config.optim.early_stop_patience:
            if process.is_main:
                print(f"[{stage}] early stop: no validation improvement for {progress.bad_epochs} epochs")
            break
    if process.is_main and epochs <= start_epoch:
        progress.epoch, progress.finished = epoch, True
        _save_state(state_path, network, optimisation, progress)
    return StageResult(out / "best.pt", progress.best_top1, epoch + 1, network, scored_on=scored_on)


def _stage_plan(config: TrainConfig, stage: str, splits: Splits) -> tuple[NetworkConfig, list[str]]:
    """The network this run trains and its stages, once the stage is known to make sense for the data."""
    if stage not in STAGE_NAMES:
        raise StageError(f"unknown stage {stage!r}; expected one of {list(STAGE_NAMES)}")
    if not splits.train:
        nucla = config.data.dataset == "nucla"
        views = f" from training views {config.data.nucla_train_views}" if nucla else ""
        raise DatasetError(
            f"{config.data.root}: no {config.data.dataset} training clips{views} "
            f"(protocol {config.data.protocol!r})"
        )
    net_config = network_config(config, len(splits.class_names), splits.layout, splits.class_names)
    network_stages = stages_for(net_config)
    if stage == "head" and "finetune" in network_stages:
        network_stages = ["head", *network_stages]  # the head of a trained network (needs --init)
    if stage not in network_stages:
        raise StageError(
            f"a {net_config.aggregation.value!r} network has no {stage!r} stage; "
            f"its stages are {network_stages}"
        )
    if needs_crops(stage) and not splits.has_rgb:
        raise DatasetError(
            f"stage {stage!r} needs part crops, but dataset {config.data.dataset!r} "
            f"at {config.data.root} has "
            "none prepared: run `python -m training prepare` and set data.cache"
        )
    return net_config, network_stages


def _stage_network(
    config: TrainConfig,
    stage: str,
    net_config: NetworkConfig,
    network_stages: list[str],
    splits: Splits,
    init: str | Path | None,
    seed_path: Path | None,
    process: distributed.Process,
) -> tuple[PartAttentionNetwork, set[str], dict[str, Any]]:
    """The network at the start of the stage: `seed_path`'s weights (the previous stage's best, or
    --init's; None: public I3D weights for the first RGB stage), with this stage's parameters trainable,
    on the device; the names of the parameters --init gave (empty without --init; not the classifier
    rows of new classes); and what the seed's checkpoint records of its training (`extra`: the clips
    its weights learnt from, the data it was given)."""
    network = PartAttentionNetwork(net_config)
    pretrained: set[str] = set()
    seed: dict[str, Any] = {}
    if seed_path is not None:
        if not seed_path.is_file():  # --init's own file, or the stage before's best, not made yet
            raise StageError(
                f"--init {seed_path}: {'a folder, not a' if seed_path.is_dir() else 'no such'} checkpoint "
                "file" if init else
                f"stage {stage!r} starts from {seed_path}, which does not exist: run stage "
                f"{network_stages[network_stages.index(stage) - 1]!r} first or pass --init CHECKPOINT"
            )
        loaded = load_checkpoint(seed_path)
        seed = loaded.extra
        new_classes = bool(init) and config.model.init_new_classes
        check_compatible(loaded.model.config, net_config, seed_path, ignore_classes=new_classes)
        # Classes the checkpoint knows keep their classifier rows (matched by name); new ones start fresh.
        rows = class_rows(loaded.class_names, list(splits.class_names)) if new_classes else None
        class_sized: set[str] = set()
        same_count = len(loaded.class_names) == net_config.num_classes
        if rows is not None and same_count and rows != list(range(net_config.num_classes)):
            # As many classes as the checkpoint's but not the same ones, where shapes cannot tell: a network
            # of one class more shows which tensors are class-sized, so that their rows follow the names.
            grown = PartAttentionNetwork(replace(net_config, num_classes=net_config.num_classes + 1))
            shapes = {k: v.shape for k, v in grown.state_dict().items()}
            class_sized = {k for k, v in network.state_dict().items() if shapes[k] != v.shape}
        resized = load_matching(network, loaded.model.state_dict(), rows, class_sized)
        if init:
            pretrained = {name for name, _ in network.named_parameters()} - set(resized)
        if process.is_main:
            count = len(splits.class_names)
            kept = sum(r >= 0 for r in rows) if rows is not None else 0
            print(f"[{stage}] starts from {seed_path}" + (
                f": {', '.join(resized)} resized to {count} classes: rows of {kept} known classes copied, "
                f"{count - kept} start fresh" if resized else ""))
        if pretrained and config.optim.init_lr_scale != 1.0 and process.is_main:
            print(f"[{stage}] its weights learn at {config.optim.init_lr_scale} x the learning rate "
                  "(optim.init_lr_scale)")
    elif config.model.i3d_weights and needs_crops(stage):  # the first RGB stage: Algorithm 1 step 1
        reports = network.load_pretrained_i3d(
            read_i3d_weights(config.model.i3d_weights), source=config.model.i3d_weights
        )
        if process.is_main:
            print(f"[{stage}] I3D weights from {config.model.i3d_weights}: {reports[0]}")
    elif needs_crops(stage) and process.is_main:  # said, not refused: no weights can be had on some sites
        print(f"[{stage}] the I3Ds start from random weights: Algorithm 1 starts them from ImageNet/Kinetics "
              "weights (--set model.i3d_weights=PATH), which the paper's RGB figures need")
    network.set_stage(STAGE_NAMES[stage])
    return network.to(process.device), pretrained, seed


@dataclass
class _Optimisation:
    """What changes the weights: Adam over the stage's trainable parameters, the plateau schedule, and
    the scaler of mixed precision (CUDA only)."""

    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.ReduceLROnPlateau
    scaler: torch.amp.GradScaler
    trainable: list[nn.Parameter]
    part_parameters: list[nn.Parameter]  # held in the attention stage's first epochs
    use_amp: bool

    @classmethod
    def for_stage(
        cls,
        network: PartAttentionNetwork,
        stage: str,
        config: TrainConfig,
        process: distributed.Process,
        pretrained: set[str] | None = None,
    ) -> _Optimisation:
        """`pretrained`: names of parameters --init gave, which learn at lr x optim.init_lr_scale."""
        named = [(name, p) for name, p in network.named_parameters() if p.requires_grad]
        trainable = [p for _, p in named]
        lr = config.optim.lr
        if stage == "finetune" and config.optim.finetune_lr is not None:
            lr = config.optim.finetune_lr
        scale = config.optim.init_lr_scale
        if scale != 1.0 and pretrained:
            # Two groups, the plateau schedule scales both: the pretrained weights keep their ratio.
            groups = [
                {"params": [p for name, p in named if name in pretrained], "lr": lr * scale},
                {"params": [p for name, p in named if name not in pretrained], "lr": lr},
            ]
            optimizer = torch.optim.Adam([g for g in groups if g["params"]], lr=lr)
        else:
            optimizer = torch.optim.Adam(trainable, lr=lr)
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="max", factor=config.optim.plateau_factor, patience=config.optim.plateau_patience
        )
        use_amp = config.optim.amp and process.device.type == "cuda"
        return cls(optimizer, scheduler, torch.amp.GradScaler("cuda", enabled=use_amp), trainable,
                   [p for p in network.parts.parameters() if p.requires_grad], use_amp)


def validation_not_learnt(data: DataConfig, splits: Splits, seed: dict[str, Any], seed_path: Path | None,
                          say: Callable[[str], object]) -> Splits:
    """`splits`, its validation holding nothing that weights whose checkpoint records `seed` (its extra)
    learnt: validation, early stopping and best.pt would judge the network on what it knows. A site's
    clips (a fine-tune's rehearsal folders of the base's own training clips, a grown folder whose
    held-out sessions are drawn again) train instead, with the rest of their session (its near-copies;
    in a folder of one session, split by clip, alone); another dataset's are refused: those weights
    come from another split."""
    learnt = learnt_from(seed, run_folder(data))
    seen = [source.name for source in splits.validation if learnt(source.name)]
    if not seen:
        return splits
    if data.dataset != "clips":
        raise StageError(
            f"{seed_path}: it trained on {len(seen)} of this run's {len(splits.validation)} validation "
            f"clips ({first_few(seen, 3)}), so validation would score what it learnt: start from weights "
            f"trained on this split (the same data settings: {', '.join(SPLIT_SETTINGS)}), or from another "
            "dataset's")
    sessions = {(s.group["folder"], s.group["session"]) for s in splits.validation if learnt(s.name)}
    sessions_of: dict[int, set[int]] = {}  # per folder
    for source in splits.train + splits.validation:
        sessions_of.setdefault(source.group["folder"], set()).add(source.group["session"])
    moved = [s for s in splits.validation if learnt(s.name) or (
        len(sessions_of[s.group["folder"]]) > 1 and (s.group["folder"], s.group["session"]) in sessions)]
    say(f"{len(moved)} validation clip(s) of {len(sessions)} session(s) train instead: {seed_path.name} "
        f"learnt {len(seen)} of them ({first_few(seen, 3)}), and what it learnt does not measure it")
    return replace(splits, train=[*splits.train, *moved],
                   validation=[s for s in splits.validation if s not in moved])


def _teacher(
    config: TrainConfig,
    stage: str,
    splits: Splits,
    preprocessing: Preprocessing,
    process: distributed.Process,
) -> tuple[nn.Module | None, set[str]]:
    """In the pose stage, the pose stream of `distill.teacher`, frozen on the device, and the clips it
    learnt from (its `trained_clips`); else None and none.

    Its mirror averaging is not used: training windows are mirrored at random already, and it would
    double the teacher's cost per batch. The teacher must have been trained on this run's split, or the
    student would learn the validation windows from it and early stopping would judge on seen data."""
    if not config.distill.teacher or stage != "pose":  # the other stages (`all` runs them too) go untaught
        return None, set()
    path = bundled(config.distill.teacher)  # the README's training/checkpoints/..._x3.pt from any folder
    # Its network's random initialisation, then overwritten by its weights, must not draw from the run's
    # random stream: a resumed run drew after restoring it and shifted every later dropout mask.
    with torch.random.fork_rng(devices=[]):
        teacher = load_checkpoint(path)
    if teacher.config.aggregation is not Aggregation.POSE:
        raise StageError(f"{path}: the teacher must be a pose-only network, got aggregation "
                         f"{teacher.config.aggregation.value!r}")
    validation = [clip.name for clip in splits.validation]
    comparisons = [
        ("classes", list(teacher.class_names), list(splits.class_names)),
        ("preprocessing", teacher.preprocessing, preprocessing),
        ("validation clips", teacher.extra.get("validation_clips"), validation),
    ]
    recorded = teacher.extra.get("train_config")
    if isinstance(recorded, dict) and isinstance(recorded.get("data"), dict):
        # The clips alone do not tell two splits apart when neither holds any out (validation_fraction
        # 0): a teacher trained on this run's test views or subjects would then pass.
        theirs = {k: recorded_data(recorded["data"])[k] for k in SPLIT_SETTINGS}
        comparisons.append(("split settings", theirs, {k: getattr(config.data, k) for k in SPLIT_SETTINGS}))
    for what, theirs, ours in comparisons:
        if theirs != ours:
            shown = f"{theirs!r} vs this run's {ours!r}"
            if isinstance(theirs, list) and isinstance(ours, list) and set(theirs) != set(ours):
                # Clip lists are long, with each name twice (both body orders): what differs, not all of it.
                mine, yours = sorted(set(theirs) - set(ours)), sorted(set(ours) - set(theirs))
                shown = f"{len(mine)} only the teacher's {mine[:5]}, {len(yours)} only this run's {yours[:5]}"
            raise StageError(f"{path}: the teacher's {what} differ from this run's: "
                             f"{shown if len(shown) < 300 else shown[:300] + '...'}")
    # Its validation clips are this run's, yet it may have learnt some (from its own --init's weights).
    here = run_folder(config.data)
    trained, learnt = names_learnt(teacher.extra, here), learnt_from(teacher.extra, here)
    if seen := [name for name in validation if learnt(name)]:
        raise StageError(f"{path}: the teacher learnt {len(seen)} of this run's validation clips "
                         f"({first_few(seen, 3)}; its --init's training set?), which the student would "
                         "learn from it")
    pose = teacher.model.pose.eval().to(process.device)
    pose.requires_grad_(False)
    return pose, trained


def software_record() -> dict[str, Any]:
    """What trained a checkpoint, for whoever reproduces it: this code's version and commit (with
    "+changes" where tracked files had uncommitted changes; new files are not looked for, as a run folder
    inside the checkout would always count), torch and numpy, and the CPU threads (results are bitwise
    the same on one thread only)."""
    return {"version": software_version(), "commit": software_commit(), "torch": str(torch.__version__),
            "numpy": np.__version__, "threads": torch.get_num_threads()}


# What decides which clips a run trains, validates and tests on (training/config.py DataConfig).
SPLIT_SETTINGS = ("dataset", "protocol", "validation_fraction", "test_fraction", "split_seed",
                  "pkummd_hold_out", "nucla_train_views", "nucla_test_views", "nucla_test_subjects")


def _stage_data(
    config: TrainConfig, stage: str, splits: Splits, net_config: NetworkConfig, process: distributed.Process
) -> tuple[WindowDataset, WindowDataset, DistributedSampler, DataLoader]:
    """Training and validation windows, and the loader (each rank its share) of the training ones."""
    augmentation = Augmentation(**asdict(config.augment))  # the same fields, by name
    train_set, validation_set = window_datasets(
        splits,
        WindowSpec(config.window.duration_s, net_config.num_frames),
        net_config.num_bodies,
        window=config.window,
        augmentation=augmentation,
        with_crops=needs_crops(stage),
        part_index=splits.part_index(net_config.parts, net_config.crop_size) if needs_crops(stage) else None,
        seed=config.seed,
        twins=stage == "pose" and config.consistency.weight > 0,
    )
    sampler = DistributedSampler(
        train_set,
        num_replicas=process.world_size,
        rank=process.rank,
        shuffle=True,
        seed=config.seed,
        drop_last=process.distributed,
    )
    loader = DataLoader(
        train_set,
        batch_size=config.optim.batch_size,
        sampler=sampler,
        num_workers=config.workers,
        pin_memory=process.device.type == "cuda",
        # Kept from epoch to epoch (spawned workers, on Windows, take seconds to start and get the whole
        # preloaded dataset again); they read the epoch from shared memory (WindowDataset.set_epoch).
        persistent_workers=config.workers > 0,
        # A short last batch is dropped only where a whole one is left: compared with this rank's share,
        # not the whole set (100 windows on 4 GPUs with batches of 32 left every rank no batch at all, and
        # the run "trained" on nothing, its best.pt the untouched weights).
        drop_last=len(sampler) > config.optim.batch_size,
        worker_init_fn=ignore_sigterm,
        # Its own generator for the workers' base seed: drawn from the global stream it came once (kept
        # workers) or every epoch (none), so the worker count and a resume shifted every dropout mask
        # after it. The windows themselves do not depend on it (WindowDataset draws from the seed).
        generator=torch.Generator().manual_seed(config.seed),
    )
    if len(loader) == 0:  # fewer windows than processes: nothing to learn from on this rank
        raise DatasetError(f"{stage}: {len(train_set)} training windows an epoch for {process.world_size} "
                           "processes, and each needs at least one: use fewer processes or more clips")
    return train_set, validation_set, sampler, loader


@dataclass
class _Progress:
    """Where a stage stands after its last completed epoch (saved in state.pt with the optimiser)."""

    epoch: int = 0
    best_top1: float = -1.0
    best_loss: float = math.inf
    bad_epochs: int = 0  # epochs since validation last improved
    finished: bool = False
    inputs: str = ""  # inputs_fingerprint of what the stage learns from: a rerun on other inputs starts over
    summary: dict[str, Any] = field(default_factory=dict)  # inputs_summary: what changed, when refused
    processes: int = 1  # how many trained it (torchrun): the total batch is per process x this

    def judge(self, validation: dict[str, float]) -> bool:
        """Count one more epoch's validation; True if it is the best so far (ties: the lower loss)."""
        improved = validation["top1"] > self.best_top1 or (
            validation["top1"] == self.best_top1 and validation["loss"] < self.best_loss
        )
        if improved:
            self.best_top1, self.best_loss, self.bad_epochs = validation["top1"], validation["loss"], 0
        else:
            self.bad_epochs += 1
        return improved


def _train_epoch(
    objective: nn.Module,
    network: PartAttentionNetwork,
    loader: DataLoader,
    optimisation: _Optimisation,
    config: TrainConfig,
    stage: str,
    epoch: int,
    process: distributed.Process,
    teacher: nn.Module | None = None,
) -> tuple[float, float]:
    """One pass over the training loader (or `max_steps_per_epoch` batches); (mean loss, top-1)."""
    objective.train()
    network.train()
    parts_frozen = stage == "attention" and epoch < config.epochs.attention_frozen_parts
    if parts_frozen:
        network.parts.eval()  # batch-norm statistics stay those of step 2 as well
    total_loss, correct, seen = 0.0, 0.0, 0
    steps = len(loader) if config.max_steps_per_epoch <= 0 else min(len(loader), config.max_steps_per_epoch)
    bar = tqdm(
        loader,
        total=steps,
        desc=f"{stage} {epoch + 1}/{getattr(config.epochs, stage)}",
        leave=False,
        disable=not (config.progress and process.is_main),
    )
    optimizer, scaler = optimisation.optimizer, optimisation.scaler
    for step, batch in enumerate(bar):
        if step >= steps:
            break
        crops, skeleton, labels = _to_device(batch, process.device)
        twin = batch.get("twin_skeleton")
        consistency = None
        amp = optimisation.use_amp
        with torch.autocast(device_type=process.device.type, dtype=torch.float16, enabled=amp):
            if twin is None:
                logits, attention = objective(crops, skeleton)
            else:  # the pose stage with camera twins: both halves of one batch, each with its label
                skeleton = torch.cat([skeleton, twin.to(process.device, non_blocking=True)])
                labels = torch.cat([labels, labels])
                logits, features = objective(crops, skeleton, pose_features=True)
                consistency = view_consistency_loss(*features.float().chunk(2))
                attention = logits.new_zeros(logits.shape[0], 0)
        teacher_logits = None
        if teacher is not None:
            with torch.no_grad():
                teacher_logits, _ = teacher(skeleton)
        loss = stage_loss(network, stage, logits, attention, labels, config, teacher_logits)
        if consistency is not None:
            loss = loss + config.consistency.weight * consistency
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        if parts_frozen:
            for parameter in optimisation.part_parameters:
                parameter.grad = None  # Adam leaves a parameter without a gradient untouched
        if config.optim.grad_clip > 0:
            scaler.unscale_(optimizer)
            torch.nn.utils.clip_grad_norm_(optimisation.trainable, config.optim.grad_clip)
        scaler.step(optimizer)
        scaler.update()
        total_loss += float(loss.detach()) * len(labels)
        hits = logits.detach().argmax(-1) == (labels[:, None] if logits.dim() == 3 else labels)
        correct += float(hits.float().mean(-1).sum() if hits.dim() == 2 else hits.sum())
        seen += len(labels)
        bar.set_postfix(loss=f"{total_loss / seen:.3f}", acc=f"{correct / seen:.3f}")
    bar.close()
    # Under torchrun over every rank's batches (the log and metrics.jsonl had rank 0's share alone).
    total_loss, correct, seen = distributed.sum_over_ranks(process, total_loss, correct, seen)
    return total_loss / max(seen, 1), correct / max(seen, 1)


def _save_epoch(
    out: Path,
    network: PartAttentionNetwork,
    optimisation: _Optimisation,
    progress: _Progress,
    record: dict[str, Any],
    validation: dict[str, float],
    improved: bool,
    described: dict[str, Any],
    epochs: int,
) -> None:
    """After an epoch (main process): last.pt (and best.pt if it improved), a line of metrics.jsonl and
    of the console, and state.pt last, so a crash never leaves a state ahead of the checkpoints."""
    extra = {**described["extra"], "epoch": record["epoch"], "validation": validation}
    described = {**described, "extra": extra}
    for name in ("best.pt", "last.pt") if improved else ("last.pt",):
        save_checkpoint(out / name, network, **described)
    with open(out / "metrics.jsonl", "a", encoding="utf-8") as log:
        log.write(json.dumps(record) + "\n")
    # How long the epochs left take at this one's pace (an early stop ends sooner): a log or --no-progress
    # has no bar's ETA, and a line every few minutes said nothing of when the stage ends.
    epochs_left = epochs - record["epoch"]
    left_s = epochs_left * record["seconds"]
    left = (f"~{left_s / 3600:.1f} h left" if left_s >= 7200
            else f"~{left_s / 60:.0f} min left" if left_s >= 60 else f"~{left_s:.0f} s left")
    left = f" | {left}" if epochs_left else ""
    print(
        f"[{record['stage']}] epoch {record['epoch']}/{epochs} train objective {record['train_loss']:.4f} "
        f"top-1 {record['train_top1']:.3f} | val loss {validation['loss']:.4f} top-1 "
        f"{validation['top1']:.3f} top-5 {validation['top5']:.3f} | lr {record['lr']:.2e} "
        f"| {record['seconds']:.1f}s{' *' if improved else ''}{left}",
        flush=True,
    )
    _save_state(out / "state.pt", network, optimisation, progress)


def _begin_record(out: Path, config: TrainConfig, epoch: int) -> None:
    """The run's settings in config.yaml, and metrics.jsonl's lines up to `epoch` (where it goes on)."""
    out.mkdir(parents=True, exist_ok=True)
    write_config(config, out / "config.yaml")
    _metrics_up_to(out / "metrics.jsonl", epoch)


def _metrics_up_to(path: Path, epoch: int) -> None:
    """Keep metrics.jsonl's lines of the epochs the run goes on from (none: a --restart, or a first run):
    a restart appended its epochs 1, 2 after the old run's 1, 2, 3, and an interrupt after an epoch's line
    but before its state.pt had that epoch trained and logged twice."""
    if not path.is_file():
        return
    kept = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # a line cut by a crash
            continue
        if isinstance(record, dict) and isinstance(record.get("epoch"), int) and record["epoch"] <= epoch:
            kept.append(line + "\n")
    replace_atomically(path, "".join(kept).encode())


def _validation_metrics(predictions: Predictions, stage: str) -> dict[str, float]:
    logits = torch.from_numpy(predictions.logits)
    labels = torch.from_numpy(predictions.labels)
    stream_metrics = {}
    if stage == "pose":  # (N, S, C): judged as the network classifies, on the streams' mean logits
        if logits.shape[1] > 1:
            stream_metrics = {
                f"stream{k}_top1": topk_accuracy(logits[:, k], labels, 1) for k in range(logits.shape[1])
            }
        logits = logits.mean(1)
    if stage == "parts":  # (N, P, C): report the mean over parts, and each part
        per_part = [topk_accuracy(logits[:, k], labels, 1) for k in range(logits.shape[1])]
        loss = float(np.mean([F.cross_entropy(logits[:, k], labels).item() for k in range(logits.shape[1])]))
        metrics = {
            "loss": loss,
            "top1": float(np.mean(per_part)),
            "top5": float(np.mean([topk_accuracy(logits[:, k], labels, 5) for k in range(logits.shape[1])])),
        }
        metrics.update({f"part{k}_top1": v for k, v in enumerate(per_part)})
        return metrics
    metrics = {
        "loss": float(F.cross_entropy(logits, labels)),
        "top1": topk_accuracy(logits, labels, 1),
        "top5": topk_accuracy(logits, labels, 5),
    }
    if predictions.attention.shape[1] > 1:
        metrics.update({f"attention{k}": float(v) for k, v in enumerate(predictions.attention.mean(0))})
    return {**metrics, **stream_metrics}


def _read_state(path: Path) -> dict[str, Any]:
    try:
        # Tensors, numbers, strings and containers only (as checkpoints are read): a run folder is shared
        # and handed on, and unpickling anything more runs whatever code a planted state.pt names.
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # a copy cut short, a damaged disk: torch's message names no file
        raise StageError(f"{path}: the run's saved state cannot be read ({type(error).__name__}); --restart "
                         "trains the stage again from its start") from error


def _save_state(path: Path, network: nn.Module, optimisation: _Optimisation, progress: _Progress) -> None:
    state = {
        "network": network.state_dict(),
        "optimizer": optimisation.optimizer.state_dict(),
        "scheduler": optimisation.scheduler.state_dict(),
        "scaler": optimisation.scaler.state_dict(),
        "torch_rng": torch.get_rng_state(),
        "epoch": progress.epoch,
        "best_top1": progress.best_top1,
        "best_loss": progress.best_loss,
        "bad_epochs": progress.bad_epochs,
        "finished": progress.finished,
        "inputs": progress.inputs,
        "inputs_summary": progress.summary,
        "processes": progress.processes,
    }
    save_atomically(state, path)  # an interrupted save leaves the last state whole


def _resume(
    path: Path, network: nn.Module, optimisation: _Optimisation, accepted: tuple[str, ...], processes: int
) -> _Progress | None:
    """Restore what `_save_state` wrote (weights, optimiser, schedule, scaler, RNG); its progress, with the
    summary of the inputs it was saved for. None (nothing restored) when its inputs' fingerprint is not one
    of `accepted` (this run's first): relabelled clips, new classes, changed settings or another starting
    checkpoint must be learnt, not answered by the old weights. (States written before the fingerprint
    existed are taken as they are.)"""
    state = _read_state(path)
    inputs = accepted[0]
    if state.get("inputs", inputs) not in accepted:
        return None
    progress = _Progress(state["epoch"], state["best_top1"], state["best_loss"], state["bad_epochs"],
                         bool(state.get("finished")), inputs, state.get("inputs_summary") or {},
                         processes=state.get("processes", processes))  # those that trained it so far
    # Restored even when finished: given more epochs, a stage that ended at its epoch count continues.
    network.load_state_dict(state["network"])
    optimisation.optimizer.load_state_dict(state["optimizer"])
    optimisation.scheduler.load_state_dict(state["scheduler"])
    optimisation.scaler.load_state_dict(state["scaler"])
    torch.set_rng_state(state["torch_rng"])
    return progress


# Settings that say how a run goes, not what it learns: changing them resumes a stage rather than
# restarting it (more epochs continue a finished stage).
RUN_CONTROL = ("out", "progress", "workers", "device", "epochs", "decisions")


# Settings that say where the inputs lie, not what they hold: a copy of the same files elsewhere (a cluster
# job's scratch disk, a symlink, a moved folder) resumes the run. Their files are compared instead.
INPUT_LOCATIONS = {"data": ("root", "rehearse", "cache", "label_map"), "distill": ("teacher",)}


def stage_inputs(config: TrainConfig, splits: Splits, init: str | Path | None) -> dict[str, Any]:
    """What a stage learns from: the settings (less RUN_CONTROL and INPUT_LOCATIONS), the classes, the split,
    and each input's files ("files": data folders by their files' names within them and sizes; the label
    map, --init and the teacher by their bytes' sha256) and the files' modification times ("times": said
    when only they changed, not refused, for a copy has new ones). Stat-only for folders: 57,000 NTU files
    take about a second. "legacy": what states saved before INPUT_LOCATIONS were fingerprinted from."""
    settings = {k: v for k, v in config_to_dict(config).items() if k not in RUN_CONTROL}
    # Which clips are held out is the split's, compared below: a run folder from before the setting (any
    # dataset's) resumes where its split is the same.
    settings["data"] = {k: v for k, v in settings["data"].items() if k != "pkummd_hold_out"}
    legacy: dict[str, Any] = {"settings": settings, "files": []}  # every file's path, size and time
    settings = {**settings, **{section: {k: v for k, v in settings[section].items()
                                         if k not in keys or not _names_files(v)}
                               for section, keys in INPUT_LOCATIONS.items()}}
    data = config.data
    teacher = bundled(config.distill.teacher) if config.distill.teacher else None  # as _teacher reads it
    given = {"data.root": data.root, **{f"data.rehearse[{i}]": r for i, r in enumerate(data.rehearse)},
             "data.cache": data.cache, "data.label_map": data.label_map, "--init": init,
             "distill.teacher": teacher}
    # Data folders are read less what the run writes itself (its states, checkpoints, crop cache); the
    # starting weights even there (the previous stage's best.pt: retrained, the next stage follows).
    run = Path(config.out).absolute()
    files: dict[str, Any] = {}
    times: dict[str, list[tuple[str, int]]] = {}
    for role, where in given.items():
        path = Path(where).absolute() if where else None
        weights = not role.startswith("data.")
        if path is None or not path.exists() or (not weights and (path == run or run in path.parents)):
            continue  # "", a simulated source ("sim:..."), or the run's own cache
        if weights and path.is_dir():
            continue
        found = [path] if path.is_file() else sorted(f for f in path.rglob("*")
                                                     if f.is_file() and run not in f.parents)
        stats = [(f, f.stat()) for f in found]
        legacy["files"] += [(str(Path(where)) if weights else str(f), stat.st_size, stat.st_mtime_ns)
                            for f, stat in stats]
        if path.is_file():  # one file: its bytes (a checkpoint retrained is the same size)
            files[role], times[role] = file_sha256(path), [("", stats[0][1].st_mtime_ns)]
        else:
            files[role] = [(f.relative_to(path).as_posix(), stat.st_size) for f, stat in stats]
            times[role] = [(f.relative_to(path).as_posix(), stat.st_mtime_ns) for f, stat in stats]
    split = {name: [(s.name, s.label) for s in getattr(splits, name)] for name in ("train", "validation")}
    return {"settings": settings, "classes": splits.class_names, "split": split, "files": files,
            "times": times, "legacy": legacy}


def _names_files(value: Any) -> bool:
    """Whether a location setting names something on disk ("" and a simulated source, "sim:...", do not)."""
    values = value if isinstance(value, list) else [value]
    return bool(values) and all(isinstance(v, str) and v and Path(v).exists() for v in values)


def inputs_fingerprint(inputs: dict[str, Any]) -> str:
    """A digest of `stage_inputs` less the files' times: a state written for other inputs is not resumed."""
    compared = {k: v for k, v in inputs.items() if k not in ("times", "legacy")}
    return hashlib.sha256(json.dumps(compared, sort_keys=True, default=str).encode()).hexdigest()


def legacy_inputs_fingerprint(inputs: dict[str, Any]) -> str:
    """The fingerprint states saved before INPUT_LOCATIONS hold (every file by its path, size and time; the
    locations among the settings): a run begun then resumes."""
    legacy = {**inputs["legacy"], "classes": inputs["classes"], "split": inputs["split"]}
    return hashlib.sha256(json.dumps(legacy, sort_keys=True, default=str).encode()).hexdigest()


def inputs_summary(inputs: dict[str, Any]) -> dict[str, Any]:
    """Kept in state.pt to say what changed when a rerun is refused: the settings, and a digest of each
    other part and of each input's files and times (the file list of a large dataset is megabytes)."""
    def digest(value: Any) -> str:
        return inputs_fingerprint({"value": value})

    return {"settings": json.loads(json.dumps(inputs["settings"], default=str)),
            # As states saved before INPUT_LOCATIONS digest them: a refusal of one says only what changed.
            **{part: inputs_fingerprint({part: inputs[part]}) for part in ("classes", "split")},
            "files": {role: digest(value) for role, value in inputs["files"].items()},
            "times": {role: digest(value) for role, value in inputs["times"].items()},
            # What a state saved before INPUT_LOCATIONS holds as "files", for what_changed to compare.
            "legacy_files": inputs_fingerprint({"files": inputs["legacy"]["files"]})}


def files_retimed(before: dict[str, Any], now: dict[str, Any]) -> list[str]:
    """The inputs whose files are the same but their modification times not, between two summaries."""
    old_files, old_times = before.get("files"), before.get("times") or {}
    if not isinstance(old_files, dict):  # saved before INPUT_LOCATIONS
        return []
    return [_input_name(role) for role in sorted(now["times"]) if old_files.get(role) == now["files"][role]
            and old_times.get(role) not in (None, now["times"][role])]


def _input_name(role: str) -> str:
    if role in ("--init", "distill.teacher"):
        return f"the {role} checkpoint"
    return "the label map (data.label_map)" if role == "data.label_map" else f"the files in {role}"


def what_changed(before: dict[str, Any] | None, now: dict[str, Any]) -> str:
    """'optim.lr 0.001 -> 0.0003; the data files' between two `inputs_summary`s ('' when unknown)."""
    if not before:
        return ""

    def flat(settings: dict, prefix: str = "") -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in settings.items():
            nested = isinstance(value, dict)
            out.update(flat(value, f"{prefix}{key}.") if nested else {f"{prefix}{key}": value})
        return out

    old, new = flat(before["settings"]), flat(now["settings"])
    # A location set on one side only is a state saved before INPUT_LOCATIONS: its files say the rest.
    locations = {f"{section}.{key}" for section, keys in INPUT_LOCATIONS.items() for key in keys}
    changes = [f"{key} {old.get(key)!r} -> {new.get(key)!r}" for key in sorted(old.keys() | new.keys())
               if old.get(key) != new.get(key) and (key not in locations or (key in old and key in new))]
    names = {"classes": "the classes", "split": "the split"}
    changes += [names[part] for part in names if before.get(part) != now.get(part)]
    old_files = before.get("files")
    if isinstance(old_files, dict):
        changes += [_input_name(role) for role in sorted(old_files.keys() | now["files"].keys())
                    if old_files.get(role) != now["files"].get(role)]
    elif old_files != now["legacy_files"]:
        changes.append("the data files or starting weights")
    return "; ".join(changes)


def train_all(
    config: TrainConfig,
    *,
    restart: bool = False,
    stages: list[str] | None = None,
    init: str | Path | None = None,
) -> list[StageResult]:
    """The network's stages in order (or the given ones), each from the previous one's best checkpoint."""
    process = distributed.start(config.device)
    splits = build_splits(config.data)
    net_config = network_config(config, len(splits.class_names), splits.layout, splits.class_names)
    results = []
    for i, stage in enumerate(stages or stages_for(net_config)):
        results.append(
            train_stage(
                config, stage, restart=restart, process=process, splits=splits, init=init if i == 0 else None
            )
        )
    return results
