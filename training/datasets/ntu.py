"""NTU RGB+D 60 / 120 from their official folders, with the standard protocols.

    ROOT/nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton     (also accepted: ROOT/skeletons/, or ROOT itself)
    ROOT/nturgb+d_rgb/SsssCcccPpppRrrrAaaa_rgb.avi            (also accepted: ROOT/rgb/)
    ROOT/NTU_RGBD_samples_with_missing_skeletons.txt          (NTU120: NTU_RGBD120_...; optional)

Protocols: ntu60 xsub (20 training subjects) / xview (cameras 2, 3 train); ntu120 xsub / xset (even
setups train). Samples on the official missing-skeleton lists are excluded — read from the list in
ROOT when present, else from the copy in data.missing_list; a sample whose file holds no body at all
is skipped by `prepare` and reported in failed.txt either way.

Training reads the prepared cache (data.cache), which holds crops and skeletons; without a cache the
skeleton files are parsed directly (enough for the pose stage on small folders and for tests).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from core.skeleton import KINECT_V2
from recordings.clip import NTU_FPS
from recordings.ntu import SkeletonFormatError, read_skeleton
from recordings.ntu_samples import (
    NTU60_CLASSES,
    NTU120_CLASSES,
    Protocol,
    SampleName,
    read_missing_samples,
    split_samples,
)
from training.cache import cache_sources, read_index, read_settings
from training.config import DataConfig
from training.data import (
    Clip,
    ClipSource,
    ClipTask,
    DatasetError,
    Splits,
    check_dataset_folder,
    hold_out_performances,
)

PROTOCOLS = {
    ("ntu60", "xsub"): Protocol.cross_subject_60,
    ("ntu60", "xview"): Protocol.cross_view_60,
    ("ntu120", "xsub"): Protocol.cross_subject_120,
    ("ntu120", "xset"): Protocol.cross_setup_120,
}
MISSING_LISTS = {
    "ntu60": "NTU_RGBD_samples_with_missing_skeletons.txt",
    "ntu120": "NTU_RGBD120_samples_with_missing_skeletons.txt",
}


def skeleton_folder(root: Path) -> Path:
    check_dataset_folder(root, "NTU", "--data, or prepare's --root")
    for candidate in (root / "nturgb+d_skeletons", root / "skeletons", root):
        if candidate.is_dir() and any(candidate.glob("S*.skeleton")):
            return candidate
    raise DatasetError(f"{root}: no .skeleton files in nturgb+d_skeletons/, skeletons/ or the folder itself")


def rgb_folder(root: Path) -> Path | None:
    for candidate in (root / "nturgb+d_rgb", root / "rgb", root):
        if candidate.is_dir() and any(candidate.glob("S*_rgb.avi")):
            return candidate
    return None


def missing_samples(root: Path, dataset: str, missing_list: str = "") -> set[str]:
    """The official list of samples with missing skeletons: `missing_list`, else the one in `root` or
    beside it (an empty set, with a note, when there is none)."""
    if missing_list:
        if not Path(missing_list).is_file():  # a typo left the list out with a note about another file
            raise DatasetError(f"{missing_list}: no such file (the missing-skeleton list asked for)")
        return read_missing_samples(Path(missing_list))
    for path in (root / MISSING_LISTS[dataset], root.parent / MISSING_LISTS[dataset]):
        if path.is_file():
            return read_missing_samples(path)
    print(
        f"note: no {MISSING_LISTS[dataset]} next to {root}; samples without bodies are still skipped when "
        "read, but give the official list (data.missing_list; prepare's --missing-list) to exclude exactly it"
    )
    return set()


def protocol_of(data: DataConfig) -> Protocol:
    key = (data.dataset, data.protocol)
    if key not in PROTOCOLS:
        allowed = [p for d, p in PROTOCOLS if d == data.dataset]
        raise DatasetError(f"dataset {data.dataset} has protocols {allowed}, not {data.protocol!r}")
    return PROTOCOLS[key]


def class_names(dataset: str) -> list[str]:
    return list(NTU60_CLASSES if dataset == "ntu60" else NTU120_CLASSES)


def ntu_prepare_tasks(
    root: str | Path, dataset: str, *, rgb: bool = True, missing_list: str = ""
) -> list[ClipTask]:
    """One task per sample of the dataset, minus the official missing-skeleton samples."""
    root = Path(root)
    skeletons = skeleton_folder(root)
    videos = rgb_folder(root) if rgb else None
    if rgb and videos is None:
        raise DatasetError(
            f"{root}: no RGB videos (nturgb+d_rgb/*_rgb.avi); use --skeleton-only for skeletons"
        )
    excluded = missing_samples(root, dataset, missing_list)
    protocol = Protocol.cross_subject_60 if dataset == "ntu60" else Protocol.cross_subject_120
    names = []
    for path in sorted(skeletons.glob("S*.skeleton")):
        try:
            names.append(SampleName.parse(path.name))
        except ValueError as exc:
            raise DatasetError(f"{path}: {exc}") from exc
    train, test = split_samples(names, protocol, excluded)  # just to filter to the dataset's samples
    tasks = []
    for name in sorted(train + test):
        video = videos / name.rgb_filename if videos is not None else None
        tasks.append(
            ClipTask(
                name=str(name),
                label=name.label,
                skeleton=skeletons / name.skeleton_filename,
                video=video if video is not None and video.is_file() else None,
                sidecar=None,
                group={
                    "setup": name.setup,
                    "camera": name.camera,
                    "performer": name.performer,
                    "replication": name.replication,
                },
            )
        )
    return tasks


class SkeletonFileClip:
    """Loads one .skeleton file on demand (picklable, for DataLoader workers)."""

    def __init__(self, path: Path, label: int, max_bodies: int) -> None:
        self.path, self.label, self.max_bodies = path, label, max_bodies

    def __call__(self, with_crops: bool) -> Clip:
        if with_crops:
            raise DatasetError(f"{self.path}: crops need a prepared cache (python -m training prepare)")
        try:
            arrays = read_skeleton(self.path).arrays(self.max_bodies)
        except SkeletonFormatError as error:  # it names the file and line
            raise DatasetError(str(error)) from None
        if not arrays.present.any():
            raise DatasetError(f"{self.path}: no body in any frame")
        timestamps = np.arange(len(arrays.xyz), dtype=np.float64) / NTU_FPS
        return Clip(self.path.name.split(".")[0], self.label, timestamps, arrays.xyz, arrays.states)


def ntu_splits(data: DataConfig) -> Splits:
    """Train / validation / test of an NTU protocol, from the cache when there is one."""
    protocol = protocol_of(data)
    root = Path(data.root)
    excluded = missing_samples(root, data.dataset, data.missing_list) if root.is_dir() else set()
    glimpse, crop_parts = None, ()
    if data.cache:
        settings = read_settings(data.cache)
        if settings.dataset != data.dataset and not (
            settings.dataset == "ntu120" and data.dataset == "ntu60"
        ):
            raise DatasetError(f"{data.cache} holds {settings.dataset}, the config asks for {data.dataset}")
        entries = {e["name"]: e for e in read_index(data.cache)}
        names = [SampleName.parse(n) for n in entries]
        glimpse = None if settings.skeleton_only else settings.glimpse
        crop_parts = () if settings.skeleton_only else settings.parts
    else:
        folder = skeleton_folder(root)
        paths = {p.name.split(".")[0]: p for p in folder.glob("S*.skeleton")}
        names = [SampleName.parse(n) for n in paths]
    train_names, test_names = split_samples(names, protocol, excluded)
    if not train_names:
        raise DatasetError(f"{data.cache or data.root}: no training samples of protocol {protocol.value}")
    labels = {str(n): n.label for n in [*train_names, *test_names]}

    def sources(selected: list[SampleName]) -> list[ClipSource]:
        if data.cache:
            return cache_sources(data.cache, [entries[str(n)] for n in selected], labels)
        return [
            ClipSource(
                str(n),
                n.label,
                SkeletonFileClip(paths[str(n)], n.label, data.max_bodies),
                {"setup": n.setup, "camera": n.camera, "performer": n.performer},
            )
            for n in selected
        ]

    pool = sources(sorted(train_names))

    def performance(source: ClipSource) -> tuple[int, int, int, int]:
        # NTU's three cameras film each performance at once: its views are held out together.
        name = SampleName.parse(source.name)
        return name.setup, name.performer, name.replication, name.action

    train, validation = hold_out_performances(pool, data.validation_fraction, data.split_seed, performance)
    return Splits(
        train,
        validation,
        sources(sorted(test_names)),
        class_names(data.dataset),
        KINECT_V2,
        has_rgb=glimpse is not None,
        glimpse=glimpse,
        crop_parts=crop_parts,
    )
