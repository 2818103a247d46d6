"""Clip-level evaluation: 5 windows per clip, logits averaged (as the paper tests), and its reports.

python -m training evaluate --checkpoint CKPT --data DIR [--subset test|validation|train|all]
    prints top-1 / top-5 and per-class accuracy; writes confusion.png, attention.png (mean attention
    per class and part, the paper's Fig. 4) and results.json into --out, or beside the checkpoint
    (`default_results_dir`)
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from core.atomic import write_then_rename
from core.package_files import output_folder_beside
from recordings.atomic import why_not_writable
from recordings.labels import columns_of, in_columns
from recordings.picture_text import put_text, text_size, write_image
from training import distributed
from training.data import DatasetError, ignore_sigterm, names_the_simulator

if TYPE_CHECKING:
    from training.config import TrainConfig
    from training.windows import WindowDataset


@dataclass
class Predictions:
    """Per clip: averaged logits (N, C) — or (N, P, C) for the parts stage —, labels (N,), mean
    attention over the clip's windows (N, P), clip indices into the dataset (N,)."""

    logits: np.ndarray
    labels: np.ndarray
    attention: np.ndarray
    clips: np.ndarray


def default_results_dir(checkpoint: Path, *what: str, data: str | Path) -> Path:
    """Where an evaluation of `checkpoint` writes without --out: beside it (in runs/ for a model bundled
    with an installed copy: core.package_files.output_folder_beside), named after the checkpoint file,
    what was evaluated and the data (its folder's name and a short hash of where it is, or of the
    simulator's settings), so that checkpoints sharing a folder (best.pt and last.pt of a run, the bundled
    models of training/checkpoints), different subsets and different data never overwrite or mix each
    other's results (nor, for RGB models, share a crop cache between clips of the same name)."""
    text = str(data)
    simulated = names_the_simulator(text)
    where = text if simulated else str(Path(text).resolve())
    name = "sim" if simulated else Path(where).name or "data"
    # surrogateescape: a folder named in another encoding (Latin-1 on an old share) is bytes Python keeps
    # as surrogates, which UTF-8 alone refuses; every other name hashes as it always has.
    tag = f"{name}-{hashlib.sha1(where.encode('utf-8', 'surrogateescape')).hexdigest()[:6]}"
    return output_folder_beside(checkpoint) / "_".join(["eval", checkpoint.stem, *what, tag])


def writable_folder(folder: Path) -> Path:
    """`folder` once a file could be written in it: an evaluation checks before it spends minutes
    scoring, not after (the bundled checkpoints, beside which results go by default, may sit in a
    read-only install). Nothing is made here: a run refused for its data leaves no empty folder."""
    if (why := why_not_writable(folder)) is not None:
        raise DatasetError(f"{folder}: the results cannot be written there ({why}); --out names another "
                           "folder")
    return folder


# What an evaluation folder can hold, as said in a refusal: `python -m training evaluate`'s three kinds.
EVALUATION_KINDS = {
    "clips": "a clip evaluation (`evaluate`)",
    "stream": "a stream evaluation (`evaluate --stream`)",
    "rescore": "a rescored stream run (`evaluate --rescore`)",
}


def evaluation_in(folder: Path) -> tuple[str, dict] | None:
    """What evaluation `folder` holds, and its results.json (empty where it has none or cannot be read):
    a kind of EVALUATION_KINDS, "unknown" for a results.json none of them wrote, or None for nothing.
    A stream run's decisions/*.jsonl count without their results.json: they are the run itself."""
    path = folder / "results.json"
    if path.exists():
        try:
            results = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "unknown", {}
        if not isinstance(results, dict):
            return "unknown", {}
        if "rescored_from" in results:  # before "stream": a rescoring writes a stream run's keys too
            return "rescore", results
        if "truth" in results or "frame_accuracy" in results:
            return "stream", results
        if "top1" in results:
            return "clips", results
        return "unknown", results
    if any((folder / "decisions").glob("*.jsonl")):
        return "stream", {}
    return None


def replaced_note(kind: str, earlier: dict | None) -> str:
    """What an evaluation of `kind` writing where `earlier` (check_out_holds's answer) was says it
    replaces, for its "wrote" line: another checkpoint's figures (or this one's before retraining) go."""
    if kind == "rescore" and earlier and "rescored_from" in earlier:  # named by the stream run it rescored
        of = earlier["rescored_from"]
    elif kind != "rescore" and earlier and "checkpoint" in earlier:
        of = Path(earlier["checkpoint"]).name + (f" on {earlier['data']}" if earlier.get("data") else "")
    else:
        return ""
    return f" (replacing {EVALUATION_KINDS[kind]} of {of} written there before)"


def check_out_holds(folder: Path, kind: str) -> dict | None:
    """Refuse `folder` as the --out of an evaluation of `kind` when it holds another kind of evaluation
    (or a results.json none wrote): its results.json would be replaced, and a stream run's decisions left
    beside results that are not theirs (a later --rescore would score them against another run's truth).
    Checked before anything is computed. The same kind is the same evaluation run again (a checkpoint
    re-evaluated after retraining): allowed, and its results.json is returned ({} for a stream run's
    decisions/ without one). None: the folder holds no evaluation."""
    held = evaluation_in(folder)
    if held is None:
        return None
    what, results = held
    if what == kind:
        return results
    if what == "unknown":
        holds = "a results.json that no evaluation wrote (or that cannot be read)"
    elif what == "rescore":
        holds = f"{EVALUATION_KINDS[what]} of {results['rescored_from']}"
    elif "checkpoint" in results:
        holds = f"{EVALUATION_KINDS[what]} of {Path(results['checkpoint']).name} on {results.get('data')}"
    else:  # a stream run's decisions without their results.json
        holds = f"the decisions/ of {EVALUATION_KINDS[what]}"
    raise DatasetError(f"{folder} holds {holds}: {EVALUATION_KINDS[kind]} there would replace it. Give "
                       f"another --out, or remove {folder} first if it is no longer wanted")


def topk_accuracy(logits: torch.Tensor | np.ndarray, labels: torch.Tensor | np.ndarray, k: int) -> float:
    logits = torch.as_tensor(logits)
    labels = torch.as_tensor(labels)
    if len(labels) == 0:
        return float("nan")
    k = min(k, logits.shape[-1])
    top = logits.topk(k, dim=-1).indices
    return float((top == labels[:, None]).any(-1).float().mean())


@torch.no_grad()
def predict(
    objective: nn.Module,
    network: nn.Module,
    dataset: WindowDataset,
    config: TrainConfig | None,
    process: distributed.Process,
    *,
    stage: str = "",
    batch_size: int | None = None,
    workers: int | None = None,
    progress: bool = True,
) -> Predictions:
    """Run every clip's evaluation windows through `objective` and average the logits per clip.

    Each process takes every world_size-th clip; the results are gathered on all processes, so every
    rank reaches the same validation numbers (and the same scheduler / early-stopping decisions).
    """
    objective = distributed.unwrapped_with_rank_0_buffers(objective)
    objective.eval()
    network.eval()
    batch_size = batch_size or (config.optim.batch_size if config else 16)
    workers = workers if workers is not None else (config.workers if config else 0)
    indices = list(range(process.rank, len(dataset), process.world_size))
    subset = torch.utils.data.Subset(dataset, indices)
    # Evaluation items hold W windows each: keep the batch of windows about the training batch size.
    clips_per_batch = max(1, batch_size // max(1, dataset.eval_windows))
    loader = DataLoader(
        subset,
        batch_size=clips_per_batch,
        shuffle=False,
        num_workers=workers,
        pin_memory=process.device.type == "cuda",
        worker_init_fn=ignore_sigterm,
    )
    use_amp = bool(config and config.optim.amp) and process.device.type == "cuda"
    logits_all, labels_all, attention_all, clips_all = [], [], [], []
    bar = tqdm(
        loader,
        desc=f"evaluate {stage}".strip(),
        leave=False,
        disable=not (progress and (config is None or config.progress) and process.is_main),
    )
    for batch in bar:
        skeleton = batch["skeleton"].to(process.device)  # (B, W, T, M, J, 3)
        b, w = skeleton.shape[:2]
        crops = batch.get("crops")
        if crops is not None:
            crops = crops.to(process.device).float().flatten(0, 1)
        with torch.autocast(device_type=process.device.type, dtype=torch.float16, enabled=use_amp):
            logits, attention = objective(crops, skeleton.flatten(0, 1))
        logits_all.append(logits.float().reshape(b, w, *logits.shape[1:]).mean(1).cpu())
        attention_all.append(attention.float().reshape(b, w, -1).mean(1).cpu())
        labels_all.append(batch["label"])
        clips_all.append(batch["clip"])
    bar.close()
    local = (
        torch.cat(logits_all).numpy() if logits_all else np.zeros((0, 0), np.float32),
        torch.cat(labels_all).numpy() if labels_all else np.zeros(0, np.int64),
        torch.cat(attention_all).numpy() if attention_all else np.zeros((0, 0), np.float32),
        torch.cat(clips_all).numpy() if clips_all else np.zeros(0, np.int64),
    )
    parts = [p for p in distributed.gather_objects(process, local) if len(p[3])]
    logits, labels, attention, clips = (np.concatenate([p[i] for p in parts]) for i in range(4))
    order = np.argsort(clips, kind="stable")
    return Predictions(logits[order], labels[order], attention[order], clips[order])


@dataclass
class Report:
    top1: float
    top5: float
    per_class: list[tuple[str, int, float]]  # (name, clips, top-1)
    confusion: np.ndarray  # (C, C) counts, rows = true class
    attention_per_class: np.ndarray | None  # (C, P) mean attention, NaN for classes without clips
    parts: list[str]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON: null where a figure has nothing to count (a class without clips), since NaN is not
        JSON (a browser's JSON.parse and jq refused a results.json that held it)."""
        return {
            "top1": _counted(self.top1),
            "top5": _counted(self.top5),
            "per_class": [{"class": n, "clips": c, "top1": _counted(a)} for n, c, a in self.per_class],
            "confusion": self.confusion.tolist(),
            "parts": self.parts,
            "attention_per_class": None
            if self.attention_per_class is None
            else np.where(np.isnan(self.attention_per_class), None, self.attention_per_class).tolist(),
        }


def _counted(value: float) -> float | None:
    return None if np.isnan(value) else value


def make_report(predictions: Predictions, class_names: list[str], parts: list[str]) -> Report:
    c = len(class_names)
    labels, guesses = predictions.labels, predictions.logits.argmax(-1)
    confusion = np.zeros((c, c), dtype=np.int64)
    np.add.at(confusion, (labels, guesses), 1)
    per_class = []
    for k, name in enumerate(class_names):
        count = int(confusion[k].sum())
        per_class.append((name, count, float(confusion[k, k] / count) if count else float("nan")))
    attention = None
    if predictions.attention.shape[1] > 1:
        attention = np.full((c, predictions.attention.shape[1]), np.nan)
        for k in range(c):
            if (labels == k).any():
                attention[k] = predictions.attention[labels == k].mean(0)
    return Report(
        topk_accuracy(predictions.logits, labels, 1),
        topk_accuracy(predictions.logits, labels, 5),
        per_class,
        confusion,
        attention,
        parts,
    )


def format_report(report: Report, title: str, unit: str = "clips") -> str:
    """`unit`: what one scored item is ("windows" along continuous sequences)."""
    width = max(columns_of(n) for n, _, _ in report.per_class) + 2
    lines = [
        title,
        f"top-1 {100 * report.top1:.2f}%   top-5 {100 * report.top5:.2f}%   "
        f"({int(report.confusion.sum())} {unit})",
        "",
    ]
    header = f"{'class':<{width}}{unit:>8}{'top-1':>9}"
    if report.attention_per_class is not None:
        header += "".join(f"{p:>12}" for p in report.parts)
    lines += [header, "-" * len(header)]
    for k, (name, count, accuracy) in enumerate(report.per_class):
        shown = "" if np.isnan(accuracy) else f"{100 * accuracy:.1f}%"
        row = f"{in_columns(name, width)}{count:>8}{shown:>9}"
        if report.attention_per_class is not None:
            row += "".join(
                f"{v:>12.3f}" if not np.isnan(v) else f"{'':>12}" for v in report.attention_per_class[k]
            )
        lines.append(row)
    return "\n".join(lines)


def _heatmap_png(
    path: Path,
    values: np.ndarray,
    rows: list[str],
    columns: list[str],
    title: str,
    value_format: str,
    vmax: float | None = None,
) -> None:
    """A labelled heat map as PNG, drawn with OpenCV (no plotting library needed at runtime)."""
    cell = 44 if len(columns) <= 12 else max(14, 600 // len(columns))
    scale = 0.4
    left = 12 + max(text_size(r, scale)[0][0] for r in rows)
    top = 40 + max(text_size(c, scale)[0][0] for c in columns)
    height, width = top + cell * len(rows) + 10, left + cell * len(columns) + 10
    title_width = text_size(title, 0.5)[0][0] + 16
    image = np.full((height, max(width, title_width), 3), 255, np.uint8)
    finite = values[np.isfinite(values)]
    vmax = vmax if vmax is not None else (float(finite.max()) if finite.size else 1.0) or 1.0
    shade = np.nan_to_num(np.clip(values / vmax, 0, 1))
    colours = cv2.applyColorMap((255 * shade).astype(np.uint8), cv2.COLORMAP_VIRIDIS)
    for i in range(len(rows)):
        for j in range(len(columns)):
            x0, y0 = left + j * cell, top + i * cell
            colour = (
                (230, 230, 230) if not np.isfinite(values[i, j]) else tuple(int(v) for v in colours[i, j])
            )
            cv2.rectangle(image, (x0, y0), (x0 + cell - 1, y0 + cell - 1), colour, -1)
            if cell >= 30 and np.isfinite(values[i, j]):
                text = format(values[i, j], value_format)
                ink = (0, 0, 0) if shade[i, j] > 0.6 else (255, 255, 255)
                size = text_size(text, 0.35)[0]
                put_text(image, text, (x0 + (cell - size[0]) // 2, y0 + (cell + size[1]) // 2), 0.35, ink)
    for i, name in enumerate(rows):
        size = text_size(name, scale)[0]
        put_text(image, name, (left - 6 - size[0], top + i * cell + (cell + size[1]) // 2), scale, (0, 0, 0))
    # Column names written vertically: draw on a strip, rotate it.
    strip = np.full((cell * len(columns), top - 30, 3), 255, np.uint8)
    for j, name in enumerate(columns):
        put_text(strip, name, (2, j * cell + (cell + 8) // 2), scale, (0, 0, 0))
    rotated = cv2.rotate(strip, cv2.ROTATE_90_COUNTERCLOCKWISE)
    image[30:top, left : left + rotated.shape[1]] = rotated[:, : min(rotated.shape[1], image.shape[1] - left)]
    put_text(image, title, (8, 20), 0.5, (0, 0, 0))
    write_image(Path(path), image)


def write_figures(report: Report, class_names: list[str], out: Path, title: str) -> list[Path]:
    """confusion.png (row-normalised) and, for networks with attention, attention.png (Fig. 4)."""
    out.mkdir(parents=True, exist_ok=True)
    written = []
    rows = report.confusion.sum(1, keepdims=True)
    normalised = np.where(rows > 0, report.confusion / np.maximum(rows, 1), np.nan)
    short = [f"{k + 1} {n[:28]}" for k, n in enumerate(class_names)]
    path = out / "confusion.png"
    _heatmap_png(
        path,
        normalised,
        short,
        [str(k + 1) for k in range(len(class_names))],
        f"{title}: confusion (rows: true class, fraction of its clips)",
        ".2f",
        vmax=1.0,
    )
    written.append(path)
    if report.attention_per_class is not None:
        path = out / "attention.png"
        _heatmap_png(
            path,
            report.attention_per_class,
            short,
            report.parts,
            f"{title}: mean attention per class and part",
            ".2f",
            vmax=1.0,
        )
        written.append(path)
    return written


def save_results(report: Report, path: Path, meta: dict[str, Any]) -> None:
    """Written whole (write_then_rename): a run killed while writing over an earlier evaluation left half a
    results.json, and the next evaluation refused the folder as "not an evaluation's"."""
    text = json.dumps({**meta, **report.to_dict()}, indent=1, allow_nan=False)
    write_then_rename(path, lambda f: f.write(text.encode("utf-8")))
