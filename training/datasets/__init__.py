"""Every dataset the trainer reads, one module each, behind one dispatch table.

    ntu.py        NTU RGB+D 60 / 120 (official folders or a prepared cache; xsub, xview, xset)
    nucla.py      Northwestern-UCLA (Kinect v1, 20 joints; cross-view)
    clips.py      a site's own recordings (NTU layout + its labels.txt)
    simulated.py  the demo's generated clips (a prepared cache that names its classes)

    build_splits(DataConfig) -> training.data.Splits      (training, evaluation)
    prepare_tasks(dataset, root, ...) -> ClipTask list     (`python -m training prepare`)

`DataConfig.dataset` is a name from a YAML file or the command line; `SPLITS` maps it to the module
that reads it.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from training.config import DataConfig
from training.data import ClipTask, DatasetError, Splits
from training.datasets import clips, ntu, nucla, simulated

SPLITS: dict[str, Callable[[DataConfig], Splits]] = {
    "nucla": nucla.nucla_splits,
    "ntu60": ntu.ntu_splits,
    "ntu120": ntu.ntu_splits,
    "clips": clips.clip_splits,
    "simulated": simulated.cache_splits,
}
# The datasets `prepare` cuts crops for (recorded video); N-UCLA and the simulator have their own paths.
PREPARED = ("ntu60", "ntu120", "clips")


def build_splits(data: DataConfig) -> Splits:
    """The clips of every split for `data` (reads the dataset's index; crops stay on disk)."""
    if data.dataset not in SPLITS:
        raise DatasetError(f"unknown dataset {data.dataset!r}; expected one of {', '.join(SPLITS)}")
    return SPLITS[data.dataset](data)


def prepare_tasks(
    dataset: str, root: str | Path, *, rgb: bool = True, label_map: str | None = None
) -> list[ClipTask]:
    """The recorded clips of a dataset folder, for `python -m training prepare`."""
    if dataset in ("ntu60", "ntu120"):
        return ntu.ntu_prepare_tasks(root, dataset, rgb=rgb)
    if dataset == "clips":
        return clips.clip_prepare_tasks(root, label_map)
    raise DatasetError(f"`prepare` reads {', '.join(PREPARED)}; not {dataset!r}")
