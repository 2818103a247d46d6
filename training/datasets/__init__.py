"""Every dataset the trainer reads, one module each, behind one dispatch table.

    ntu.py        NTU RGB+D 60 / 120 (official folders or a prepared cache; xsub, xview, xset)
    nucla.py      Northwestern-UCLA (Kinect v1, 20 joints; cross-view)
    clips.py      a site's own recordings (NTU layout + its labels.txt)
    simulated.py  the demo's generated clips (a prepared cache that names its classes)
    simulated_streams.py  the demo's simulated room streams, cut into one sequence per person (the
                  demo adds them to its training cache)
    pkummd.py     PKU-MMD continuous two-person sequences (Kinect v2, skeletons only, with no_action)

    build_splits(DataConfig) -> training.data.Splits      (training, evaluation)
    prepare_tasks(dataset, root, ...) -> ClipTask list     (`python -m training prepare`)

`DataConfig.dataset` is a name from a YAML file or the command line; `SPLITS` maps it to the module
that reads it. `DataConfig.layout` other than the dataset's own maps every clip's skeletons to that
layout (core.joint_maps: Kinect v2 data for a Kinect v1 model).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from core.joint_maps import JointMap, joint_map
from core.skeleton import layout_by_name
from training.config import DataConfig
from training.data import Clip, ClipSource, ClipTask, DatasetError, Splits
from training.datasets import clips, ntu, nucla, pkummd, simulated

SPLITS: dict[str, Callable[[DataConfig], Splits]] = {
    "nucla": nucla.nucla_splits,
    "ntu60": ntu.ntu_splits,
    "ntu120": ntu.ntu_splits,
    "clips": clips.clip_splits,
    "simulated": simulated.cache_splits,
    "pkummd": pkummd.pkummd_splits,
}
# The datasets `prepare` cuts crops for (recorded video); N-UCLA and the simulator have their own paths.
PREPARED = ("ntu60", "ntu120", "clips")


def build_splits(data: DataConfig) -> Splits:
    """The clips of every split for `data` (reads the dataset's index; crops stay on disk), in the
    layout `data.layout` asks for."""
    if data.dataset not in SPLITS:
        raise DatasetError(f"unknown dataset {data.dataset!r}; expected one of {', '.join(SPLITS)}")
    splits = SPLITS[data.dataset](data)
    if not data.layout or data.layout == splits.layout.name:
        return splits
    try:
        mapping = joint_map(splits.layout, layout_by_name(data.layout))
    except ValueError as error:
        raise DatasetError(f"data.layout: {error}") from None
    assert mapping is not None

    def mapped(sources: list[ClipSource]) -> list[ClipSource]:
        return [dataclasses.replace(s, load=MappedLoad(s.load, mapping)) for s in sources]

    return dataclasses.replace(splits, train=mapped(splits.train), validation=mapped(splits.validation),
                               test=mapped(splits.test), layout=mapping.target)


@dataclass(frozen=True)
class MappedLoad:
    """A ClipSource's load with its skeletons mapped to another layout (picklable for DataLoader workers).
    Part crops were cut from the source layout's joints and stay as they are."""

    load: Callable[[bool], Clip]
    mapping: JointMap

    def __call__(self, with_crops: bool) -> Clip:
        clip = self.load(with_crops)
        joints, states = self.mapping.apply(clip.joints, clip.states)
        return dataclasses.replace(clip, joints=joints, states=states)


def prepare_tasks(
    dataset: str, root: str | Path, *, rgb: bool = True, label_map: str | None = None, missing_list: str = ""
) -> list[ClipTask]:
    """The recorded clips of a dataset folder, for `python -m training prepare`."""
    if dataset in ("ntu60", "ntu120"):
        return ntu.ntu_prepare_tasks(root, dataset, rgb=rgb, missing_list=missing_list)
    if dataset == "clips":
        return clips.clip_prepare_tasks(root, label_map)
    raise DatasetError(f"`prepare` reads {', '.join(PREPARED)}; not {dataset!r}")
