"""From a DataConfig to the clips of each split: train, validation (early stopping), test (the protocol's).

    nucla   views `nucla_train_views` -> train + validation; views `nucla_test_views` -> test
    ntu60   xsub / xview, ntu120 xsub / xset (official lists), missing-skeleton samples excluded
    clips   our recordings: everything is train + validation unless the label map marks test clips

Validation is `validation_fraction` of each class of the training clips, drawn with `split_seed`, so
runs with different training seeds share one split (and a checkpoint records which clips it held out).
"""

from __future__ import annotations

from dataclasses import dataclass

from core.glimpse import GlimpseConfig
from core.skeleton import KINECT_V1, KINECT_V2, SkeletonLayout
from training.config import DataConfig
from training.data import ClipSource, DatasetError, stratified_split


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
        """'train' | 'validation' | 'test' | 'all' (every clip of the dataset)."""
        if name == "all":
            return [*self.train, *self.validation, *self.test]
        if name not in ("train", "validation", "test"):
            raise ValueError(f"unknown subset {name!r}; expected train, validation, test or all")
        return getattr(self, name)


def hold_out(pool: list[ClipSource], fraction: float, seed: int) -> tuple[list[ClipSource], list[ClipSource]]:
    kept, held = stratified_split([s.label for s in pool], fraction, seed)
    return [pool[i] for i in kept], [pool[i] for i in held]


def build_splits(data: DataConfig) -> Splits:
    """The clips of every split for `data` (reads the dataset's index; crops stay on disk)."""
    if data.dataset == "nucla":
        from training.nucla import NUCLA_CLASS_NAMES, nucla_sources

        everything = nucla_sources(data.root, views=None, fps=data.nucla_fps)
        pool = [s for s in everything if s.group["view"] in data.nucla_train_views]
        test = [s for s in everything if s.group["view"] in data.nucla_test_views]
        if not pool:
            raise DatasetError(
                f"{data.root}: no N-UCLA sequences from training views {data.nucla_train_views}"
            )
        train, validation = hold_out(pool, data.validation_fraction, data.split_seed)
        return Splits(train, validation, test, list(NUCLA_CLASS_NAMES), KINECT_V1, has_rgb=False)
    if data.dataset in ("ntu60", "ntu120"):
        from training.ntu_data import ntu_splits

        return ntu_splits(data)
    if data.dataset == "clips":
        from training.own_clips import clip_splits

        return clip_splits(data)
    if data.dataset == "simulated":
        return cache_splits(data)
    raise DatasetError(f"unknown dataset {data.dataset!r}; expected nucla, ntu60, ntu120, clips or simulated")


def cache_splits(data: DataConfig) -> Splits:
    """A prepared cache that is a dataset of its own (class names in cache.json): the demo's simulated
    clips. Every clip trains (minus validation); another cache of the same classes is the test set."""
    from training.cache import cache_sources, read_index, read_settings

    folder = data.root
    settings = read_settings(folder)
    if not settings.class_names:
        raise DatasetError(f"{folder}: this cache does not name its classes; use its dataset's own loader")
    entries = read_index(folder)
    labels = {e["name"]: int(e["label"]) for e in entries}
    bad = [n for n, label in labels.items() if not 0 <= label < len(settings.class_names)]
    if bad:
        raise DatasetError(
            f"{folder}: clips {bad[:3]} have labels outside the {len(settings.class_names)} classes"
        )
    pool = cache_sources(folder, entries, labels)
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
    )


def layout_for(dataset: str) -> SkeletonLayout:
    return KINECT_V1 if dataset == "nucla" else KINECT_V2
