"""The demo's simulated clips (simulation/): generated per class and seed, prepared like recorded video.

    simulated_tasks(per_class, seed) -> SimulatedClipTask list; prepare_simulated_clip renders and crops
    one (the `prepare_one` of training.prepare.prepare_cache)
    cache_splits(data): a prepared cache that names its classes is a dataset of its own
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.glimpse import crop_frame, part_boxes
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION
from simulation.actions import CLASS_NAMES
from simulation.clip import generate_clip
from training.cache import (
    CacheSettings,
    cache_sources,
    crop_frame_indices,
    read_index,
    read_settings,
    write_clip,
)
from training.config import DataConfig
from training.data import ClipSource, DatasetError, Splits, hold_out


@dataclass(frozen=True)
class SimulatedClipTask:
    """One generated clip: the class and the seed decide everything (simulation.clip)."""

    name: str
    label: int
    seed: int
    group: dict

    @property
    def source(self) -> str:
        """Stored with the prepared clip (training.prepare.source_stamp): names repeat from run to run
        (test_drink_0000), and a clip of another seed must be generated again, not reused."""
        return json.dumps({"seed": self.seed})


def prepare_simulated_clip(task: SimulatedClipTask, settings: CacheSettings, cache: Path) -> dict:
    """Generate, render and crop one clip exactly as `prepare` crops a recorded video."""
    clip = generate_clip(task.label, np.random.default_rng(task.seed))
    bodies = settings.max_bodies
    joints = np.zeros((clip.num_frames, bodies, 25, 3), np.float32)
    states = np.zeros((clip.num_frames, bodies, 25), np.int8)
    color = np.zeros((clip.num_frames, bodies, 25, 2), np.float32)
    joints[:, :1], states[:, :1] = clip.joints, clip.states
    color[:, :1] = np.nan_to_num(clip.joints_color)
    chosen = crop_frame_indices(clip.timestamps, settings.crop_fps)
    boxes = part_boxes(
        clip.joints[:, 0],
        clip.states[:, 0],
        clip.camera,
        KINECT_V2,
        settings.glimpse,
        joints_color=clip.joints_color[:, 0],
        timestamps=clip.timestamps,
    )
    crops = np.stack(
        [crop_frame(clip.frames[int(i)], boxes[:, int(i)], settings.glimpse) for i in chosen], axis=1
    )
    write_clip(
        cache,
        task.name,
        {
            "timestamps": clip.timestamps,
            "joints": joints,
            "states": states,
            "color": color,
            "crop_timestamps": clip.timestamps[chosen],
            "label": np.int64(task.label),
            "body_ids": np.zeros(bodies, np.uint64),
            "source": np.array(task.source),
        },
        crops,
    )
    return {
        "name": task.name,
        "label": task.label,
        "frames": clip.num_frames,
        "crop_frames": len(chosen),
        "seconds": float(clip.timestamps[-1]),
        "group": task.group,
    }


def simulated_tasks(per_class: int, seed: int, prefix: str) -> list[SimulatedClipTask]:
    seeds = np.random.default_rng(seed).integers(0, 2**62, size=(len(CLASS_NAMES), per_class))
    return [
        SimulatedClipTask(f"{prefix}_{name}_{i:04d}", k, int(seeds[k, i]), {"class": name})
        for k, name in enumerate(CLASS_NAMES)
        for i in range(per_class)
    ]


def cache_splits(data: DataConfig) -> Splits:
    """A prepared cache that is a dataset of its own (class names in cache.json): the demo's simulated
    clips or streams. Every clip trains (minus validation); another cache of the same classes is the
    test set.

    Continuous sequences (label -1 in the index, a timeline in each clip: the simulated streams) need
    the class no_action; their validation holds out whole scenes (`group["scene"]`), so that no room,
    person or moment of a validation scene is trained on."""
    folder = data.root
    settings = read_settings(folder)
    if not settings.class_names:
        raise DatasetError(f"{folder}: this cache does not name its classes; use its dataset's own loader")
    entries = read_index(folder)
    labels = {e["name"]: int(e["label"]) for e in entries}
    continuous = [n for n, label in labels.items() if label < 0]
    if continuous and len(continuous) != len(labels):
        raise DatasetError(f"{folder}: holds both continuous sequences ({continuous[0]}, ...) and trimmed "
                           "clips; a cache holds one kind")
    bad = [n for n, label in labels.items() if not -1 <= label < len(settings.class_names)]
    if bad or (not continuous and any(label < 0 for label in labels.values())):
        raise DatasetError(
            f"{folder}: clips {bad[:3]} have labels outside the {len(settings.class_names)} classes"
        )
    if continuous and NO_ACTION not in settings.class_names:
        raise DatasetError(f"{folder}: continuous sequences need the class {NO_ACTION!r} in cache.json")
    pool = cache_sources(folder, entries, labels)
    if continuous:
        train, validation = hold_out_scenes(pool, data.validation_fraction, data.split_seed)
    else:
        train, validation = hold_out(pool, data.validation_fraction, data.split_seed)
    glimpse = None if settings.skeleton_only else settings.glimpse
    return Splits(
        train,
        validation,
        pool,
        list(settings.class_names),
        KINECT_V2,
        has_rgb=glimpse is not None,
        glimpse=glimpse,
        crop_parts=() if settings.skeleton_only else settings.parts,
        continuous=bool(continuous),
    )


def hold_out_scenes(
    pool: list[ClipSource], fraction: float, seed: int
) -> tuple[list[ClipSource], list[ClipSource]]:
    """(train, validation): `fraction` of the scenes (at least one when there are two or more) with
    every sequence cut from them, drawn reproducibly from `seed`."""
    scenes = sorted({int(s.group.get("scene", k)) for k, s in enumerate(pool)})
    count = int(round(fraction * len(scenes)))
    if fraction > 0 and len(scenes) >= 2:
        count = max(count, 1)
    held = set(np.random.default_rng(seed).permutation(scenes)[:count].tolist())
    train = [s for k, s in enumerate(pool) if int(s.group.get("scene", k)) not in held]
    validation = [s for k, s in enumerate(pool) if int(s.group.get("scene", k)) in held]
    return train, validation
