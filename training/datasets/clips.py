"""A site's own recorded clips: NTU layout (recordings/clip.py) plus the site's label map.

    ROOT/**/<name>.skeleton, <name>_rgb.avi, <name>.json (sidecar: label, timestamps, calibration)
    ROOT/labels.txt (or data.label_map): A121<TAB>patient fell ...

Each clip's class is its sidecar's action id (or label name), else the A-number of its sample name;
a clip whose class is not in the label map is an error that names the clip and the map — a wrong
label must never train silently. Protocol "all": every clip trains, `validation_fraction` of each
class held out; evaluate other clips (another session, another room) with `--data` and `--subset all`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.skeleton import KINECT_V2
from recordings.clip import find_clips, read_sidecar
from recordings.labels import LABEL_MAP_FILENAME, LabelMap, read_label_map
from recordings.ntu import SampleName, read_skeleton
from training.cache import cache_sources, read_index, read_settings
from training.config import DataConfig
from training.data import NTU_FPS, Clip, ClipSource, ClipTask, DatasetError, Splits, hold_out


def label_map_for(root: str | Path, label_map: str | None) -> tuple[Path, LabelMap]:
    path = Path(label_map) if label_map else Path(root) / LABEL_MAP_FILENAME
    if not path.is_file():
        raise DatasetError(f"label map {path} not found (set data.label_map / --label-map)")
    return path, read_label_map(path, site=False)


def clip_action_id(skeleton: Path, sidecar: Path | None, labels: LabelMap, map_path: Path) -> int:
    """The clip's action id, checked against the label map."""
    action = None
    if sidecar is not None:
        info = read_sidecar(sidecar)
        if info.action_id is not None:
            action = int(info.action_id)
        elif info.label is not None:
            try:
                action = labels.action_id(info.label)
            except KeyError as exc:
                raise DatasetError(
                    f"{sidecar}: label {info.label!r} is not in the label map {map_path}"
                ) from exc
    if action is None:
        try:
            action = SampleName.parse(skeleton.name).action
        except ValueError as exc:
            raise DatasetError(f"{skeleton}: no sidecar label and no NTU-style sample name ({exc})") from exc
    if action not in labels:
        raise DatasetError(
            f"{sidecar or skeleton}: action A{action:03d} is not in the label map {map_path} "
            f"(which has {', '.join(f'A{a:03d}' for a in labels.action_ids[:10])})"
        )
    return action


def clip_prepare_tasks(root: str | Path, label_map: str | None = None) -> list[ClipTask]:
    map_path, labels = label_map_for(root, label_map)
    clips = find_clips(root)
    if not clips:
        raise DatasetError(f"{root}: no clips (*.skeleton) found")
    tasks = []
    for paths in clips:
        action = clip_action_id(paths.skeleton, paths.sidecar, labels, map_path)
        tasks.append(
            ClipTask(
                name=paths.name,
                label=labels.class_index(action),
                skeleton=paths.skeleton,
                video=paths.video,
                sidecar=paths.sidecar,
                group={"action_id": action},
            )
        )
    return tasks


class RecordedClip:
    """Loads one clip's skeleton (and sidecar timestamps) on demand; picklable for loader workers."""

    def __init__(self, task: ClipTask, max_bodies: int) -> None:
        self.task, self.max_bodies = task, max_bodies

    def __call__(self, with_crops: bool) -> Clip:
        if with_crops:
            raise DatasetError(
                f"{self.task.skeleton}: crops need a prepared cache (python -m training prepare)"
            )
        arrays = read_skeleton(self.task.skeleton).arrays(self.max_bodies)
        if self.task.sidecar is not None:
            timestamps = read_sidecar(self.task.sidecar).timestamps
        else:
            timestamps = np.arange(len(arrays.xyz), dtype=np.float64) / NTU_FPS
        return Clip(self.task.name, self.task.label, timestamps - timestamps[0], arrays.xyz, arrays.states)


def clip_splits(data: DataConfig) -> Splits:
    if data.protocol not in ("all", "xview"):
        raise DatasetError(f"dataset 'clips' has protocol 'all', not {data.protocol!r}")
    root = Path(data.root)
    map_path, labels = label_map_for(root, data.label_map or None)
    glimpse, crop_parts = None, ()
    if data.cache:
        settings = read_settings(data.cache)
        entries = read_index(data.cache)
        index = {}
        for entry in entries:
            action = int(entry["group"]["action_id"])
            if action not in labels:
                raise DatasetError(
                    f"{data.cache}: clip {entry['name']} has action A{action:03d}, not in {map_path}"
                )
            index[entry["name"]] = labels.class_index(action)
        pool = cache_sources(data.cache, entries, index)
        glimpse = None if settings.skeleton_only else settings.glimpse
        crop_parts = () if settings.skeleton_only else settings.parts
    else:
        pool = [
            ClipSource(t.name, t.label, RecordedClip(t, data.max_bodies), t.group)
            for t in clip_prepare_tasks(root, data.label_map or None)
        ]
    if not pool:
        raise DatasetError(f"{data.cache or root}: no clips")
    train, validation = hold_out(pool, data.validation_fraction, data.split_seed)
    return Splits(
        train,
        validation,
        [],
        labels.class_names,
        KINECT_V2,
        has_rgb=glimpse is not None,
        glimpse=glimpse,
        crop_parts=crop_parts,
    )
