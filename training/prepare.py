"""`python -m training prepare`: decode every clip once into the cache (training/cache.py).

    python -m training prepare --dataset ntu60 --root /data/nturgbd --out /data/cache/ntu60_112 \
        --workers 16 [--crop-size 112] [--crop-fps 10] [--full-image] [--skeleton-only] [--limit N]

Per clip: read the .skeleton (bodies matched by id, the most active kept), take timestamps from the
sidecar (our clips) or 1/30 s apart (NTU), fit the colour camera to the clip's own joint pixels, size
and smooth part boxes over the clip (core.glimpse), decode the video once and keep the crops of the
frames nearest to `crop_fps` instants. Parallel worker processes, a progress bar, already prepared
clips skipped (resumable), unreadable clips listed in failed.txt with the reason and never fatal.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import sys
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from core.atomic import replace_atomically
from core.camera import DEFAULT_CAMERA, ColorCamera, fit_camera
from core.glimpse import PARTS, GlimpseConfig, crop_frame, part_boxes
from core.model.checkpoint import Preprocessing
from core.skeleton import KINECT_V2
from core.wording import first_few
from recordings.argument_types import existing_file, integer_in, output_folder, positive_float
from recordings.atomic import say_if_others_can_read
from recordings.clip import NTU_FPS, color_pixel_scale, other_shape, read_sidecar
from recordings.ntu import MAX_BODIES, read_skeleton
from recordings.ntu_video import RgbVideo
from training.cache import (
    FULL_IMAGE_PART,
    UNREADABLE_CLIP,
    CacheSettings,
    NobodyInView,
    clip_paths,
    crop_frame_indices,
    is_nobody_in_view,
    open_cache_folder,
    read_settings,
    write_clip,
    write_if_changed,
)
from training.config import DataConfig
from training.data import ClipTask, DatasetError
from training.datasets import prepare_tasks
from training.datasets.clips import clip_prepare_tasks

# Clips whose video and skeleton frame counts differ by more than this are refused: frame i of one
# would no longer show frame i of the other. NTU has a few off-by-one videos, which are kept.
MAX_FRAME_MISMATCH = 3


def clip_camera(xyz: np.ndarray, color: np.ndarray, states: np.ndarray) -> ColorCamera:
    """The colour camera fitted to the clip's tracked joints (NTU stores both 3D and pixel positions);
    the Kinect's typical calibration when too few joints are usable."""
    usable = (
        (states >= 2) & (np.abs(xyz).sum(-1) > 0) & np.isfinite(color).all(-1) & (np.abs(color).sum(-1) > 0)
    )
    if usable.sum() < 20:
        return DEFAULT_CAMERA
    try:
        return fit_camera(xyz[usable], color[usable])
    except (ValueError, np.linalg.LinAlgError):
        return DEFAULT_CAMERA


def full_image_crop(frame: np.ndarray, size: int) -> np.ndarray:
    """The whole frame letterboxed into size x size, RGB (the "full image" ablation's input)."""
    h, w = frame.shape[:2]
    scale = size / max(h, w)
    resized = cv2.resize(
        frame, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA
    )
    out = np.zeros((size, size, 3), np.uint8)
    y, x = (size - resized.shape[0]) // 2, (size - resized.shape[1]) // 2
    out[y : y + resized.shape[0], x : x + resized.shape[1]] = resized[..., ::-1]
    return out


def source_stamp(task: Any) -> str | None:
    """Name, size and modification time of the files a clip is prepared from (its skeleton and video),
    stored with the clip: an entry is reused only for the same files, because clip names repeat — every
    new recordings folder starts again at S001C001P001R001A121, and a deleted clip's name goes to the
    next recording. A generated clip (the demo's) has no files: what it is generated from instead."""
    files = [getattr(task, role, None) for role in ("skeleton", "video")]
    if files[0] is None:
        return getattr(task, "source", None)  # SimulatedClipTask.source: its seed
    stats = [(Path(f).name, Path(f).stat().st_size, Path(f).stat().st_mtime_ns) if f else None for f in files]
    return json.dumps(stats)


def prepare_clip(task: ClipTask, settings: CacheSettings, cache: Path) -> dict:
    """Read, crop and store one clip. Raises on anything unreadable (the caller records it)."""
    stamp = source_stamp(task)  # before reading: a file replaced meanwhile is prepared again next time
    skeleton = read_skeleton(task.skeleton)
    arrays = skeleton.arrays(settings.max_bodies)
    if not arrays.present.any():
        raise NobodyInView(f"{task.skeleton}: nobody in view in any of its {skeleton.num_frames} frames")
    count = skeleton.num_frames
    camera = None
    if task.sidecar is not None:
        sidecar = read_sidecar(task.sidecar)
        if len(sidecar.timestamps) != count:
            raise DatasetError(
                f"{task.sidecar}: {len(sidecar.timestamps)} timestamps for {count} skeleton frames"
            )
        timestamps = sidecar.timestamps - sidecar.timestamps[0]
        camera = sidecar.camera
    else:
        timestamps = np.arange(count, dtype=np.float64) / NTU_FPS
    color = arrays.color.copy()
    color[(color == 0).all(-1)] = np.nan  # NTU writes 0 0 for joints it could not map
    crops = None
    chosen = crop_frame_indices(timestamps, settings.crop_fps)
    if not settings.skeleton_only:
        if task.video is None:
            mode = read_sidecar(task.sidecar).raw.get("privacy") if task.sidecar is not None else None
            if mode == "skeleton":  # kept no image on purpose: re-recording with video is the site's call
                raise DatasetError(f"{task.skeleton}: recorded under --privacy skeleton, so it kept no "
                                   "video, which this model's RGB crops need: record with --privacy blur "
                                   "(faces blurred) where the site allows it, or train a skeleton-only model")
            raise DatasetError(f"{task.skeleton}: no RGB video found for this clip")
        camera = camera or clip_camera(arrays.xyz[:, 0], color[:, 0], arrays.states[:, 0])
        size = settings.glimpse.crop_size
        with RgbVideo(task.video) as video:
            # The joints' pixels are the recorded frames'; a video shared resized needs them scaled.
            scale = color_pixel_scale(task.skeleton, camera, video)
            if scale is None:  # crops cut where no joint is would be trained on as the action's
                raise DatasetError(f"{other_shape(task.skeleton, camera, video)}: its crops would miss its "
                                   "people; use the video as recorded (resized whole is fine)")
            color *= scale
            camera = camera.scaled(video.width, video.height)
            boxes = part_boxes(
                arrays.xyz[:, 0],
                arrays.states[:, 0],
                camera,
                KINECT_V2,
                settings.glimpse,
                joints_color=color[:, 0],
                timestamps=timestamps,
            )
            if abs(len(video) - count) > MAX_FRAME_MISMATCH:
                raise DatasetError(f"{task.video}: {len(video)} video frames for {count} skeleton frames")
            chosen = chosen[chosen < min(len(video), count)]
            if len(chosen) == 0:
                raise DatasetError(f"{task.video}: no frames to crop ({len(video)} video, {count} skeleton)")
            crops = np.zeros((len(settings.parts), len(chosen), size, size, 3), np.uint8)
            body_parts = [PARTS.index(p) for p in settings.parts if p != FULL_IMAGE_PART]
            # Only the chosen frames: of the recorder's videos only they are decoded (a third at 10 fps).
            for k, (index, frame) in enumerate(video.frames_at([int(i) for i in chosen])):
                crops[: len(body_parts), k] = crop_frame(frame, boxes[body_parts, index], settings.glimpse)
                if FULL_IMAGE_PART in settings.parts:
                    crops[settings.parts.index(FULL_IMAGE_PART), k] = full_image_crop(frame, size)
    write_clip(
        cache,
        task.name,
        {
            "timestamps": timestamps,
            "joints": arrays.xyz,
            "states": arrays.states,
            "color": arrays.color,
            "crop_timestamps": timestamps[chosen],
            "label": np.int64(task.label),
            "body_ids": arrays.body_ids.astype(np.uint64),
            "source": np.array(stamp),
        },
        crops,
    )
    return {
        "name": task.name,
        "label": task.label,
        "frames": count,
        "crop_frames": int(len(chosen)),
        "seconds": float(timestamps[-1]),
        "group": task.group,
    }


# How one task becomes a cache entry: `prepare_clip` for recorded clips; the demo passes its own for the
# clips it generates. A module-level function, so worker processes can unpickle it.
PrepareOne = Callable[[Any, CacheSettings, Path], dict]


def _work(job: tuple[Any, CacheSettings, Path, PrepareOne]) -> tuple[str, dict | None, str | None]:
    task, settings, cache, prepare_one = job
    try:
        return task.name, prepare_one(task, settings, cache), None
    except Exception as exc:  # every failure is reported per clip; the run goes on
        reason = f"{type(exc).__name__}: {exc}".replace("\n", " ")
        if not isinstance(exc, (ValueError, OSError, DatasetError)):
            reason += " | " + traceback.format_exc(limit=3).replace("\n", " ")
        return task.name, None, reason


def _entry_from_npz(cache: Path, task: ClipTask) -> dict | None:
    """The index entry of a clip already in the cache; None when it must be prepared (again): absent,
    unreadable (its crops too: a power cut may cut either short), or prepared from other files of the
    same name (`source_stamp`)."""
    npz_path, crops_path = clip_paths(cache, task.name)
    if not npz_path.is_file():
        return None
    try:
        stamp = source_stamp(task)
        with np.load(npz_path) as data:
            if stamp is not None and ("source" not in data or str(data["source"]) != stamp):
                return None  # another recording of that name, or a clip prepared before stamps were kept
            entry = {
                "name": task.name,
                "label": int(data["label"]),
                "frames": int(len(data["timestamps"])),
                "crop_frames": int(len(data["crop_timestamps"])),
                "seconds": float(data["timestamps"][-1]),
                "group": task.group,
            }
        if crops_path.is_file() and np.load(crops_path, mmap_mode="r").shape[1] != entry["crop_frames"]:
            return None
        return entry
    except (*UNREADABLE_CLIP, KeyError, IndexError):
        return None  # unreadable leftover (or a source file gone: preparing says which): prepare it again


def prepare_cache(
    tasks: Sequence[Any],
    settings: CacheSettings,
    cache: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
    prepare_one: PrepareOne = prepare_clip,
) -> tuple[list[dict], list[tuple[str, str]]]:
    """Prepare every task (anything with a `name`) not yet in the cache with `prepare_one`; write
    index.json and failed.txt. Returns (index, failed)."""
    cache = Path(cache)
    open_cache_folder(cache)
    settings_path = cache / "cache.json"
    if settings_path.is_file():
        existing = read_settings(cache)
        if existing != settings:
            raise DatasetError(
                f"{cache} was prepared with other settings ({existing}); "
                "use another folder or the same options"
            )
    else:
        # Whole or not at all: another prepare into this cache may be reading it.
        replace_atomically(settings_path, json.dumps(settings.to_dict(), indent=1).encode())
    index: list[dict] = []
    todo: list[ClipTask] = []
    replaced = 0
    for task in tasks:
        entry = _entry_from_npz(cache, task)
        if entry is not None:
            index.append(entry)
        else:
            todo.append(task)
            replaced += clip_paths(cache, task.name)[0].is_file()
    if replaced:
        print(f"{replaced} clip(s) in {cache} were prepared from other files of the same name (or by an "
              "older version): preparing them again")
    if todo and settings.dataset == "clips" and not settings.skeleton_only:  # a site's clips: its people
        say_if_others_can_read(f"the crops prepared in {cache} (the people of the site's clips)")
    failed: list[tuple[str, str]] = []
    started = time.monotonic()
    jobs = [(task, settings, cache, prepare_one) for task in todo]
    bar = tqdm(total=len(jobs), desc="prepare", unit="clip", disable=not progress)
    if workers > 1 and len(jobs) > 1:
        # fork would copy a parent that may hold CUDA/OpenMP state; spawn starts clean workers.
        with multiprocessing.get_context("spawn").Pool(workers) as pool:
            for name, entry, reason in pool.imap_unordered(_work, jobs, chunksize=4):
                _collect(name, entry, reason, index, failed, bar)
    else:
        for job in jobs:
            _collect(*_work(job), index, failed, bar)
    bar.close()
    index.sort(key=lambda e: e["name"])
    # Rewritten only when they change: a training run's inputs include the cache's files, and a run
    # resumed with nothing new to prepare must see the same inputs (training.stages.stage_inputs).
    write_if_changed(cache / "index.json", json.dumps(index))
    write_if_changed(cache / "failed.txt", "".join(f"{name}\t{reason}\n" for name, reason in sorted(failed)))
    print(
        f"prepared {len(todo) - len(failed)} clips in {time.monotonic() - started:.0f} s, "
        f"{len(tasks) - len(todo)} already there, {len(failed)} failed"
        + (f" (see {cache / 'failed.txt'})" if failed else "")
        + f"; cache {cache} holds {len(index)} clips"
    )
    return index, failed


def _collect(name: str, entry: dict | None, reason: str | None, index: list, failed: list, bar: tqdm) -> None:
    if entry is not None:
        index.append(entry)
    else:
        failed.append((name, reason or "unknown error"))
        bar.write(f"skipped {name}: {reason}")
    bar.update(1)


def prepare_clip_crops(
    data: DataConfig,
    preprocessing: Preprocessing,
    cache: str | Path,
    *,
    workers: int = 1,
    progress: bool = True,
) -> Path:
    """Crops of a clips dataset (data.root and data.rehearse) cut the way a model's `preprocessing` says
    (crop size, part boxes, parts, bodies) into `cache` (resumable). Refuses to go on when a clip fails."""
    tasks = clip_prepare_tasks(data.root, data.label_map or None, data.rehearse)
    settings = CacheSettings(
        dataset="clips",
        glimpse=preprocessing.glimpse,
        parts=tuple(preprocessing.parts),
        max_bodies=preprocessing.num_bodies,
        skeleton_only=not preprocessing.parts,
    )
    _, failed = prepare_cache(tasks, settings, cache, workers=workers, progress=progress)
    nobody = [name for name, reason in failed if is_nobody_in_view(reason)]
    if nobody:  # left out by the datasets (clips_with_nobody); the others are damage
        print(f"{len(nobody)} clip(s) with nobody in view, left out: {first_few(nobody, 3)}")
    failed = [(name, reason) for name, reason in failed if not is_nobody_in_view(reason)]
    if failed:
        listed = "; ".join(f"{name}: {reason}" for name, reason in failed[:3])
        raise DatasetError(f"{len(failed)} clip(s) could not be prepared ({listed}); fix or remove them")
    return Path(cache)


def add_prepare_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", required=True, choices=("ntu60", "ntu120", "clips"),
                        help="NTU RGB+D 60 or 120 (skeletons and videos), or a site's recorded clips")
    parser.add_argument(
        "--root",
        "--data",  # as the training commands name the dataset folder
        dest="root",
        required=True,
        help="dataset folder (NTU: holds nturgb+d_skeletons/ and "
        "nturgb+d_rgb/; clips: the recordings folder)",
    )
    parser.add_argument("--out", required=True, type=output_folder,
                        help="cache folder to write (resumable)")
    parser.add_argument("--labels", "--label-map", dest="label_map",
                        help="clips: the site's label map file, as --labels of live and recordings "
                             "(default: ROOT/labels.txt)")
    parser.add_argument("--missing-list", type=existing_file,
                        help="NTU: the official list of samples with missing skeletons, left out (default: "
                             "the one in ROOT or beside it)")
    parser.add_argument("--workers", type=integer_in(1), default=max(1, (os.cpu_count() or 2) - 1),
                        help="processes decoding clips (default: the cores but one)")
    # Crops are cut from the 1080-pixel-high colour frame: a larger side adds no detail, only memory.
    parser.add_argument("--crop-size", type=integer_in(1, 1080), default=112,
                        help="pixels; must match the model profile's crop_size (paper 224, lite 96; "
                             "default: 112)")
    parser.add_argument("--crop-fps", type=positive_float, default=10.0,
                        help="crops kept per second of video (default: 10)")
    parser.add_argument("--hand-size", type=positive_float, default=GlimpseConfig.hand_size_m,
                        help=f"hand box side, m (default: {GlimpseConfig.hand_size_m})")
    # A skeleton-only cache stores no image, so there is no whole frame to store either.
    images = parser.add_mutually_exclusive_group()
    images.add_argument("--full-image", action="store_true", help="also store the whole frame (ablation)")
    images.add_argument("--skeleton-only", action="store_true", help="skeletons only (pose stage), no video")
    parser.add_argument("--max-bodies", type=integer_in(1, MAX_BODIES), default=2,
                        help="bodies kept per frame, the most active first (default: 2)")
    parser.add_argument("--limit", type=integer_in(0), default=0,
                        help="prepare only the first N clips (a trial run; default: 0, every clip)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars (logs only)")


def run_prepare(args: argparse.Namespace) -> int:
    tasks = prepare_tasks(args.dataset, args.root, rgb=not args.skeleton_only, label_map=args.label_map,
                          missing_list=str(args.missing_list or ""))
    if args.limit:  # the first N, and those prepared before: a trial run into a full cache left 2 of its 10
        # Only those that can be taken as they are: a stale one past N is not N's to prepare again.
        reusable = [t for t in tasks[args.limit:] if _entry_from_npz(Path(args.out), t) is not None]
        tasks = tasks[: args.limit] + reusable
    parts = PARTS + ((FULL_IMAGE_PART,) if args.full_image else ())
    glimpse = replace(GlimpseConfig(), crop_size=args.crop_size, hand_size_m=args.hand_size)
    settings = CacheSettings(
        dataset=args.dataset,
        glimpse=glimpse,
        crop_fps=args.crop_fps,
        parts=parts,
        max_bodies=args.max_bodies,
        skeleton_only=args.skeleton_only,
    )
    _, failed = prepare_cache(tasks, settings, args.out, workers=args.workers, progress=not args.no_progress)
    if failed and len(failed) == len(tasks):
        print(f"error: no clip of {args.root} could be prepared", file=sys.stderr)
        return 1
    return 0
