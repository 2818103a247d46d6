"""The prepared cache: every clip decoded once into part crops and skeleton arrays.

Decoding 1080p H.264 is the bottleneck of RGB training (NTU RGB+D: ~1.3 TB of video); `prepare`
does it once. Layout of a cache folder::

    cache.json                 settings (dataset, glimpse, crop rate, parts, bodies) — checked on reuse
    clips/<name>.npz           timestamps (N,), joints (N, M, 25, 3), states (N, M, 25), color (N, M, 25, 2),
                               crop_timestamps (Nc,), label, body_ids            (small, read whole)
                               [timeline: JSON text of a continuous sequence's intervals]
    clips/<name>.crops.npy     uint8 (P, Nc, S, S, 3) RGB part crops             (memory-mapped)
    index.json                 [{name, label, frames, crop_frames, seconds}] of every prepared clip
    failed.txt                 name <TAB> reason, for clips that could not be read

A clip counts as prepared once its .npz exists: the crops are written first and both files go
through a temporary name + rename, so an interrupted run leaves no half-written clip behind.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.atomic import remove_leftovers, replace_atomically, write_then_rename
from core.glimpse import PARTS, GlimpseConfig
from core.timeline import Timeline
from recordings.atomic import killed_writes
from training.data import Clip, ClipSource, DatasetError

CACHE_FORMAT = "where-to-focus.cache"
CACHE_VERSION = 1
FULL_IMAGE_PART = "full_image"


@dataclass(frozen=True)
class CacheSettings:
    dataset: str  # ntu60 | ntu120 | clips | nucla
    glimpse: GlimpseConfig = field(default_factory=GlimpseConfig)
    crop_fps: float = 10.0  # crops kept per second of video (windows sample 20 frames / 2 s = 10 fps)
    parts: tuple[str, ...] = PARTS  # + "full_image" for the full-image ablation
    max_bodies: int = 2
    skeleton_only: bool = False
    class_names: tuple[str, ...] = ()  # for caches that are their own dataset (the demo's simulated clips)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["parts"] = list(self.parts)
        d["class_names"] = list(self.class_names)
        return {"format": CACHE_FORMAT, "version": CACHE_VERSION, **d}

    @classmethod
    def from_dict(cls, d: dict[str, Any], source: str) -> CacheSettings:
        if d.get("format") != CACHE_FORMAT:
            raise DatasetError(
                f"{source}: not a prepared cache (format {d.get('format')!r}, expected {CACHE_FORMAT!r})"
            )
        if d.get("version", 0) > CACHE_VERSION:
            raise DatasetError(
                f"{source}: cache version {d.get('version')} is newer than this code ({CACHE_VERSION})"
            )
        try:
            return cls(
                dataset=d["dataset"],
                glimpse=GlimpseConfig(**d["glimpse"]),
                crop_fps=float(d["crop_fps"]),
                parts=tuple(d["parts"]),
                max_bodies=int(d["max_bodies"]),
                skeleton_only=bool(d["skeleton_only"]),
                class_names=tuple(d.get("class_names", ())),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DatasetError(f"{source}: invalid cache settings ({exc!r})") from exc


def clip_paths(cache: Path, name: str) -> tuple[Path, Path]:
    return cache / "clips" / f"{name}.npz", cache / "clips" / f"{name}.crops.npy"


def read_settings(cache: str | Path) -> CacheSettings:
    path = Path(cache) / "cache.json"
    if Path(cache).is_file():
        # "no such folder" of a file that is there (cache.json itself, or an archive of the cache) read as a
        # typo in the name: say what it is, and which folder was expected.
        named = Path(cache).name == "cache.json"
        inside = f"; give the folder it is in, {Path(cache).parent}" if named else ""
        raise DatasetError(f"{cache}: a file, not a folder (expected a cache folder written by `python -m "
                           f"training prepare`, holding cache.json){inside}")
    if not Path(cache).is_dir():
        raise DatasetError(f"{cache}: no such folder (a cache written by `python -m training prepare`)")
    if not path.is_file():
        hint = ""
        if any(Path(cache).glob("*.skeleton")):
            hint = "; it holds recordings: evaluate them with --dataset clips"
        raise DatasetError(f"{cache}: no cache.json — not a folder written by `python -m training prepare`"
                           f"{hint}")
    try:
        return CacheSettings.from_dict(json.loads(path.read_text(encoding="utf-8")), str(path))
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}: line {exc.lineno}: not valid JSON ({exc.msg})") from exc


class NobodyInView(DatasetError):
    """A clip in which nobody is ever in view: nothing to learn from (a patient out of the room for a whole
    part of a long recording), left out of a site's clips rather than refused (failed.txt names it so)."""


def is_nobody_in_view(reason: str) -> bool:
    """Whether a failed.txt reason is `NobodyInView`'s (training.prepare writes "Name: message")."""
    return reason.startswith(f"{NobodyInView.__name__}: ")


def clips_with_nobody(cache: str | Path) -> set[str]:
    """The clips `prepare` found nobody in (failed.txt), by name."""
    path = Path(cache) / "failed.txt"
    if not path.is_file():
        return set()
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    return {name for name, _, reason in (line.partition("\t") for line in lines) if is_nobody_in_view(reason)}


def read_index(cache: str | Path) -> list[dict[str, Any]]:
    path = Path(cache) / "index.json"
    if not path.is_file():
        raise DatasetError(f"{cache}: no index.json — `prepare` did not finish; run it again to complete it")
    return json.loads(path.read_text(encoding="utf-8"))


def write_clip(cache: Path, name: str, arrays: dict[str, np.ndarray], crops: np.ndarray | None) -> None:
    """Crops first, skeleton .npz last (its presence marks the clip done); each via a temporary file of
    this write's own and a rename: two prepares into one cache (two fine-tunes into one --out) wrote one
    `.partial` each, and the second rename found it gone ("could not be prepared" of a good clip)."""
    npz_path, crops_path = clip_paths(cache, name)
    npz_path.parent.mkdir(parents=True, exist_ok=True)
    # Not fsync'd (durable=False): a clip is made again when lost, and four syncs a clip were minutes of
    # a large prepare. A clip a power cut left empty or cut short does not read (UNREADABLE_CLIP), and is
    # prepared again.
    if crops is not None:
        write_then_rename(crops_path, lambda f: np.save(f, crops), durable=False)
    write_then_rename(npz_path, lambda f: np.savez(f, **arrays), durable=False)


# A clip's files are written in seconds to minutes: a temporary one untouched this long was left by a
# prepare killed while writing it (kill -9, a power cut), not one writing now (another prepare into the
# same cache writes its own, each under its own name).
STALE_PARTIAL_S = 24 * 3600.0


def open_cache_folder(cache: Path) -> None:
    """Make the cache folder, and remove `write_then_rename`'s temporary files among its clips untouched
    for STALE_PARTIAL_S (a crop file is hundreds of MB, and nothing else ever removed them), said."""
    cache.mkdir(parents=True, exist_ok=True)
    files, size = remove_leftovers(killed_writes(cache / "clips", STALE_PARTIAL_S))
    if files:
        print(f"removed {files} unfinished file(s) ({size / 1e6:.1f} MB) an interrupted prepare left in "
              f"{cache}")


def write_if_changed(path: Path, text: str) -> None:
    """Write `path` (atomically: another prepare may read it meanwhile) only when its text differs: a
    training run's inputs include the cache's files by size and modification time
    (training.stages.stage_inputs), so a file rewritten unchanged would make a resumed run look as if its
    data had changed."""
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        replace_atomically(path, text.encode("utf-8"))


# What np.load raises for a clip file a crash left empty (EOFError) or cut short (BadZipFile), or damaged.
UNREADABLE_CLIP = (OSError, ValueError, EOFError, zipfile.BadZipFile)


def load_clip(cache: Path, name: str, with_crops: bool) -> Clip:
    """A prepared clip; crops memory-mapped read-only (only the windows' frames are ever read)."""
    npz_path, crops_path = clip_paths(cache, name)
    try:
        with np.load(npz_path) as data:
            arrays = {k: data[k] for k in data.files}
    except UNREADABLE_CLIP as exc:
        raise DatasetError(
            f"{npz_path}: cannot read prepared clip ({exc}); delete it and run prepare again"
        ) from exc
    crops = None
    if with_crops:
        if not crops_path.is_file():
            raise DatasetError(
                f"{crops_path}: no crops for {name} (prepared with --skeleton-only, or no video)"
            )
        try:
            crops = np.load(crops_path, mmap_mode="r")
        except UNREADABLE_CLIP as exc:
            raise DatasetError(  # both: a clip whose .npz is there is taken for prepared
                f"{crops_path}: cannot read prepared crops ({exc}); delete it and {npz_path.name}, and run "
                "prepare again"
            ) from exc
    timeline = None
    if "timeline" in arrays:
        timeline = Timeline.from_json(json.loads(str(arrays["timeline"])), source=str(npz_path))
    return Clip(
        name=name,
        label=int(arrays["label"]),
        timestamps=arrays["timestamps"].astype(np.float64),
        joints=arrays["joints"],
        states=arrays["states"],
        crops=crops,
        crop_timestamps=arrays["crop_timestamps"].astype(np.float64) if with_crops else None,
        timeline=timeline,
    )


def timeline_array(timeline: Timeline) -> np.ndarray:
    """A timeline as `write_clip` stores it (the "timeline" array: its JSON text)."""
    return np.array(json.dumps(timeline.to_json()))


class CachedClip:
    """Loads one prepared clip on demand (picklable, for DataLoader workers). The split decides the
    class index (NTU60 vs 120, a site's label map), not the label stored at prepare time."""

    def __init__(self, cache: Path, name: str, label: int) -> None:
        self.cache, self.name, self.label = cache, name, label

    def __call__(self, with_crops: bool) -> Clip:
        clip = load_clip(self.cache, self.name, with_crops)
        clip.label = self.label
        return clip


def cache_sources(
    cache: str | Path, entries: list[dict[str, Any]], labels: dict[str, int]
) -> list[ClipSource]:
    """Sources for `entries` of a cache index, labelled by `labels[name]`."""
    cache = Path(cache)
    return [
        ClipSource(
            name=e["name"],
            label=labels[e["name"]],
            load=CachedClip(cache, e["name"], labels[e["name"]]),
            group=dict(e.get("group", {})),
        )
        for e in entries
    ]


def crop_frame_indices(timestamps: np.ndarray, crop_fps: float) -> np.ndarray:
    """Frames nearest to instants 1/crop_fps apart over the clip (no repeats)."""
    times = np.arange(timestamps[0], timestamps[-1] + 1e-9, 1.0 / crop_fps)
    right = np.searchsorted(timestamps, times).clip(1, max(len(timestamps) - 1, 1))
    left = right - 1
    if len(timestamps) == 1:
        return np.zeros(1, dtype=np.int64)
    nearer_left = (times - timestamps[left]) <= (timestamps[right] - times)
    return np.unique(np.where(nearer_left, left, right)).astype(np.int64)
