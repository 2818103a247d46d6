"""The types every dataset shares: clips, their sources, preparation tasks and splits.

    dataset folder --(training.datasets.<name>)--> ClipSource list (name, label, load())
    ClipSource.load() --> Clip: timestamps, skeleton (N, M, J, 3), optional crops (P, Nc, S, S, 3)
    Splits: train / validation / test ClipSources of a protocol, the class names and the skeleton layout
    ClipTask: one recorded clip (skeleton, video, sidecar) for `python -m training prepare`

The windows cut from clips (what the network sees) are training/windows.py.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.glimpse import GlimpseConfig
from core.skeleton import SkeletonLayout
from core.timeline import NO_ACTION, Timeline


class DatasetError(ValueError):
    """A dataset folder, file or label that cannot be used as asked."""


def names_the_simulator(data: str | Path) -> bool:
    """Whether --data is the simulated room ("sim:seed=7,minutes=60"), not a folder or file (one named
    "simroom" was taken for the simulator)."""
    return str(data) == "sim" or str(data).startswith("sim:")


def check_dataset_folder(root: Path, dataset: str, given_by: str = "--data") -> None:
    """Raise DatasetError where `root` is no folder: absent, or a file (one of the dataset's, given in
    its folder's place)."""
    if not root.is_dir():
        what = "is a file, not a folder" if root.exists() else "does not exist"
        raise DatasetError(f"{dataset} folder {root} {what} (give the dataset's folder with {given_by})")


@dataclass
class Clip:
    """One recorded action — or a continuous sequence of several with background between them — as a
    skeleton stream with timestamps and, once prepared, its part crops."""

    name: str
    label: int  # 0-based class index of a trimmed clip; -1 for a continuous sequence (see `timeline`)
    timestamps: np.ndarray  # float64 (N,) seconds
    joints: np.ndarray  # float32 (N, M, J, 3) camera metres, zeros where a body is absent
    states: np.ndarray | None = None  # int8 (N, M, J) or None (every non-zero joint counts as tracked)
    crops: np.ndarray | None = None  # uint8 (P, Nc, S, S, 3) RGB, possibly a read-only memmap
    crop_timestamps: np.ndarray | None = None  # float64 (Nc,) seconds of the crop frames
    # A continuous sequence: its action intervals in the clip's seconds (everything else is no_action).
    # None for a trimmed clip, which is `label` from start to end.
    timeline: Timeline | None = None

    def __post_init__(self) -> None:
        n = len(self.timestamps)
        if n == 0:
            raise DatasetError(f"clip {self.name}: no frames")
        if self.joints.ndim != 4 or self.joints.shape[0] != n or self.joints.shape[-1] != 3:
            raise DatasetError(
                f"clip {self.name}: joints shaped {self.joints.shape}, expected ({n}, M, J, 3) to match "
                f"{n} timestamps"
            )
        if self.crops is not None:
            if self.crop_timestamps is None or self.crops.shape[1] != len(self.crop_timestamps):
                raise DatasetError(f"clip {self.name}: crops {self.crops.shape} without matching timestamps")


@dataclass
class ClipSource:
    """A clip known by name and label whose arrays are read only when needed (56,880 NTU clips do not
    fit in memory with their crops)."""

    name: str
    label: int
    load: Callable[[bool], Clip]  # load(with_crops) -> Clip
    group: dict[str, int] = field(default_factory=dict)  # subject / view / setup ... for splits


def stratified_split(labels: Sequence[int], fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (kept, held_out): `fraction` of each class held out at random (at least one per class
    when the class has two or more clips), reproducible from the seed."""
    if not 0 <= fraction < 1:
        raise ValueError(f"held-out fraction must be in [0, 1), got {fraction}")
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    held: list[int] = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        rng.shuffle(members)
        count = int(round(fraction * len(members)))
        if fraction > 0 and len(members) >= 2:
            count = max(count, 1)
        held.extend(members[:count].tolist())
    held_out = np.array(sorted(held), dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(labels)), held_out)
    return kept, held_out


@dataclass
class Splits:
    train: list[ClipSource]
    validation: list[ClipSource]
    test: list[ClipSource]
    class_names: list[str]
    layout: SkeletonLayout
    has_rgb: bool  # whether crops can be loaded (a prepared cache)
    glimpse: GlimpseConfig | None = None  # how the cached crops were cut (None: no crops)
    crop_parts: tuple[str, ...] = ()  # the cached crop tracks, in order
    # Continuous sequences (PKU-MMD, simulated streams): windows are taken all along each clip and
    # labelled by its timeline, and `class_names` holds core.timeline.NO_ACTION (last, by convention).
    continuous: bool = False
    # Clips of the folder the protocol neither trains nor tests on (N-UCLA: views in neither list);
    # only `subset("all")` reads them.
    unused: list[ClipSource] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.continuous and NO_ACTION not in self.class_names:
            raise DatasetError(f"continuous sequences need the background class {NO_ACTION!r} among the "
                               f"classes, got {self.class_names[:5]}...")

    def part_index(self, parts: tuple[str, ...], crop_size: int) -> list[int]:
        """Positions of the network's parts among the cached crop tracks (checked: sizes and parts)."""
        if self.glimpse is None:
            raise DatasetError("this dataset has no prepared crops (run `python -m training prepare`)")
        if self.glimpse.crop_size != crop_size:
            raise DatasetError(
                f"the prepared crops are {self.glimpse.crop_size} px, the network takes {crop_size} "
                "px: prepare with --crop-size matching the model profile"
            )
        missing = [p for p in parts if p not in self.crop_parts]
        if missing:
            raise DatasetError(
                f"the prepared crops hold {self.crop_parts}; the network also needs {missing} "
                "(prepare again with --full-image for the full-image ablation)"
            )
        return [self.crop_parts.index(p) for p in parts]

    def subset(self, name: str) -> list[ClipSource]:
        """'train' | 'validation' | 'test' | 'all' (every clip of the dataset folder)."""
        if name == "all":
            return [*self.train, *self.validation, *self.test, *self.unused]
        if name not in ("train", "validation", "test"):
            raise ValueError(f"unknown subset {name!r}; expected train, validation, test or all")
        return getattr(self, name)


def hold_out(pool: list[ClipSource], fraction: float, seed: int) -> tuple[list[ClipSource], list[ClipSource]]:
    """(kept, held out): `fraction` of each class's clips at random. Only for datasets where a clip is
    a performance of its own; where one performance is recorded by several cameras, use
    `hold_out_performances`."""
    kept, held = stratified_split([s.label for s in pool], fraction, seed)
    return [pool[i] for i in kept], [pool[i] for i in held]


def hold_out_performances(
    pool: list[ClipSource], fraction: float, seed: int, performance: Callable[[ClipSource], Hashable]
) -> tuple[list[ClipSource], list[ClipSource]]:
    """(kept, held out): `fraction` of each class's performances at random, each with all its clips.

    `performance(clip)` names the event a clip shows (N-UCLA: action, subject, episode). A clip-level
    draw would hold out one camera's view of a performance and train on another's: validation would
    then measure recognition of performances already seen, and early stopping would pick epochs that
    memorise them. Keys must be sortable (the draw is reproducible from the seed alone)."""
    labels: dict[Hashable, int] = {}
    for source in pool:
        key = performance(source)
        if labels.setdefault(key, source.label) != source.label:
            raise DatasetError(f"performance {key} has clips of two classes (e.g. {source.name})")
    keys = sorted(labels)
    _, held = stratified_split([labels[k] for k in keys], fraction, seed)
    held_keys = {keys[i] for i in held}
    return (
        [s for s in pool if performance(s) not in held_keys],
        [s for s in pool if performance(s) in held_keys],
    )


@dataclass(frozen=True)
class ClipTask:
    """One recorded clip to prepare (NTU or ours): its files, its class and its groups (subject, view ...)
    for the splits. `training.prepare.prepare_clip` turns it into a cache entry."""

    name: str
    label: int  # 0-based class index, or -1 when the split assigns it later
    skeleton: Path
    video: Path | None
    sidecar: Path | None
    group: dict


def ignore_sigterm(worker_id: int) -> None:
    """A DataLoader worker's start (worker_init_fn): SIGTERM is left to the main process. A stop sent to
    the whole process group (systemd, Slurm's scancel, kill -TERM -PGID) reaches the workers too, and a
    worker it killed made the main process fail with "DataLoader worker is killed by signal" instead of
    stopping as on Ctrl-C; the main process shuts its workers down on its way out, and a worker leaves
    by itself once the main process is gone."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def fit_bodies(skeleton: np.ndarray, num_bodies: int) -> np.ndarray:
    """(T, M, J, 3) -> (T, num_bodies, J, 3): extra bodies dropped (sources order them most active
    first), missing ones zero-filled."""
    t, m, j, _ = skeleton.shape
    if m == num_bodies:
        return skeleton
    if m > num_bodies:
        return skeleton[:, :num_bodies]
    out = np.zeros((t, num_bodies, j, 3), dtype=skeleton.dtype)
    out[:, :m] = skeleton
    return out
