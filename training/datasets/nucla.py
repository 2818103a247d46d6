"""Northwestern-UCLA Multiview Action 3D (N-UCLA): skeleton sequences from three Kinect v1 views.

Files are the widely used preprocessed JSON sequences (`all_sqe/aAA_sSS_eEE_vVV.json`):
`{"file_name": "a01_s01_e00_v01", "skeletons": [T][20][3] metres, "label": 1..10}` — one body,
20 Kinect v1 joints, no tracking states, no timestamps.

Frame rate. The files carry no timestamps and the dataset paper gives no rate. The data say about
15 fps, not the Kinect's nominal 30: while walking (a04) the hip moves a median 6.4 cm per frame
(1 m/s at 15.5 fps), "stand up" lasts a median 21 frames (1.4 s at 15 fps, an implausible 0.7 s at
30) and "donning" 88 frames (5.9 s). We therefore time frames at `NUCLA_FPS` = 15; windows are
defined in seconds, so this only sets what "a 3-second window" means for this dataset.

Protocol (cross-view, Wang et al. CVPR 2014): train on views 1+2, test on view 3. Every performance
(action, subject, episode) was recorded by the three cameras at once, so the validation clips are held
out by performance, never by clip: a clip-level draw trains on the other view of a validation clip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.skeleton import KINECT_V1, implausible_joints, why_implausible
from training.config import DataConfig
from training.data import Clip, ClipSource, DatasetError, Splits, check_dataset_folder, hold_out_performances

NUCLA_FPS = 15.0
NUCLA_NUM_JOINTS = 20
# (file action code, 1-based label, name) — from nucla_class_names.txt; kept here so a folder of JSON
# files alone (e.g. a user's view-3 folder) can be read.
NUCLA_ACTIONS = (
    ("a01", 1, "pick up with one hand"),
    ("a02", 2, "pick up with two hands"),
    ("a03", 3, "drop trash"),
    ("a04", 4, "walk around"),
    ("a05", 5, "sit down"),
    ("a06", 6, "stand up"),
    ("a08", 7, "donning"),
    ("a09", 8, "doffing"),
    ("a11", 9, "throw"),
    ("a12", 10, "carry"),
)
NUCLA_CLASS_NAMES = tuple(name for _, _, name in NUCLA_ACTIONS)
_CODE_TO_LABEL = {code: label for code, label, _ in NUCLA_ACTIONS}
_NAME = re.compile(r"^a(\d\d)_s(\d\d)_e(\d\d)_v(\d\d)$")


@dataclass(frozen=True)
class NuclaName:
    action: int  # file action code (1..12, not all used)
    subject: int
    episode: int
    view: int

    @classmethod
    def parse(cls, name: str) -> NuclaName:
        match = _NAME.match(name)
        if match is None:
            raise DatasetError(f"N-UCLA sample name {name!r} does not match aAA_sSS_eEE_vVV")
        return cls(*(int(g) for g in match.groups()))

    @property
    def label(self) -> int:
        """0-based class index."""
        code = f"a{self.action:02d}"
        if code not in _CODE_TO_LABEL:
            raise DatasetError(
                f"N-UCLA action code {code} is not one of the 10 classes {sorted(_CODE_TO_LABEL)}"
            )
        return _CODE_TO_LABEL[code] - 1


def read_nucla_sequence(path: str | Path) -> tuple[NuclaName, np.ndarray]:
    """One JSON sequence -> (name, joints float32 (T, 20, 3)). Checks the label against the file name."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read N-UCLA JSON ({exc})") from exc
    if not isinstance(data, dict) or "skeletons" not in data:
        raise DatasetError(f"{path}: expected an object with 'file_name', 'skeletons' and 'label'")
    name = NuclaName.parse(str(data.get("file_name", path.stem)))
    try:
        joints = np.asarray(data["skeletons"], dtype=np.float32)
    except (TypeError, ValueError) as exc:
        raise DatasetError(f"{path}: 'skeletons' is not a [T][20][3] array of numbers ({exc})") from exc
    if joints.ndim != 3 or joints.shape[1:] != (NUCLA_NUM_JOINTS, 3) or len(joints) == 0:
        raise DatasetError(f"{path}: 'skeletons' shaped {joints.shape}, expected (T>=1, 20, 3)")
    if len(bad := np.argwhere(implausible_joints(joints))):
        t, j = (int(i) for i in bad[0])
        raise DatasetError(f"{path}: 'skeletons' frame {t + 1}, joint {j + 1} ({KINECT_V1.joint_names[j]}): "
                           f"{why_implausible(joints[t, j])}")
    if "label" in data and (not isinstance(data["label"], int) or isinstance(data["label"], bool)):
        raise DatasetError(f"{path}: 'label' must be the class number (1-10), got {data['label']!r}")
    if "label" in data and data["label"] - 1 != name.label:
        raise DatasetError(
            f"{path}: label {data['label']} disagrees with action code a{name.action:02d} "
            f"(expected {name.label + 1})"
        )
    return name, joints


def _sequence_folder(root: Path) -> Path:
    check_dataset_folder(root, "N-UCLA")
    nested = root / "all_sqe"
    folder = nested if nested.is_dir() else root
    if not any(folder.glob("a*_s*_e*_v*.json")):
        raise DatasetError(f"{folder}: no N-UCLA sequences (aAA_sSS_eEE_vVV.json) found")
    return folder


def nucla_clip(name: str, label: int, joints: np.ndarray, fps: float = NUCLA_FPS) -> Clip:
    timestamps = np.arange(len(joints), dtype=np.float64) / fps
    return Clip(name=name, label=label, timestamps=timestamps, joints=joints[:, None])


def nucla_sources(
    root: str | Path, views: Sequence[int] | None = None, fps: float = NUCLA_FPS
) -> list[ClipSource]:
    """All sequences of `root` (the folder holding all_sqe/, or a folder of the JSON files themselves)
    whose view is in `views` (None: all), sorted by name, read into memory."""
    folder = _sequence_folder(Path(root))
    sources = []
    for path in sorted(folder.glob("a*_s*_e*_v*.json")):
        name, joints = read_nucla_sequence(path)
        if views is not None and name.view not in views:
            continue
        clip = nucla_clip(path.stem, name.label, joints, fps)
        sources.append(
            ClipSource(
                name=path.stem,
                label=name.label,
                load=SkeletonOnly(clip),
                group={"subject": name.subject, "view": name.view, "episode": name.episode},
            )
        )
    if not sources:
        raise DatasetError(f"{folder}: no N-UCLA sequences from view(s) {list(views or [])}")
    return sources


class SkeletonOnly:
    """A clip held in memory that has no RGB (picklable, for DataLoader workers)."""

    def __init__(self, clip: Clip) -> None:
        self.clip = clip

    def __call__(self, with_crops: bool) -> Clip:
        if with_crops:
            raise DatasetError(
                f"N-UCLA clip {self.clip.name}: only skeletons are read here; the RGB stages need N-UCLA's "
                "videos, which this loader does not read"
            )
        return self.clip


def performance(source: ClipSource) -> tuple[int, int, int]:
    """The event a sequence shows, whichever camera saw it: (class, subject, episode)."""
    return source.label, source.group["subject"], source.group["episode"]


SIT_DOWN, STAND_UP = NUCLA_CLASS_NAMES.index("sit down"), NUCLA_CLASS_NAMES.index("stand up")
HIP_CHANGE_M = 0.05  # the hip moves 0.2-0.3 m in either action; less is tracking noise


def hip_rise(joints: np.ndarray) -> float:
    """Metres the hip centre rises (camera y, up) from a clip's first fifth to its last: (T, M, J, 3)."""
    hip = joints[:, 0, KINECT_V1.index("HipCenter"), 1]
    fifth = max(1, len(hip) // 5)
    return float(hip[-fifth:].mean() - hip[:fifth].mean())


def moves_against_label(source: ClipSource) -> bool:
    """A "sit down" clip whose hip centre ends higher than it began, or a "stand up" whose hip ends
    lower (by more than HIP_CHANGE_M): the two labels physics can check. No model that has learnt which
    way sitting goes can classify such a clip right (13 clips of views 1-2, 10 of them subject 4's
    view-2 clips; see benchmarks/nucla_views.py)."""
    if source.label not in (SIT_DOWN, STAND_UP):
        return False
    rise = hip_rise(source.load(False).joints)
    return rise > HIP_CHANGE_M if source.label == SIT_DOWN else rise < -HIP_CHANGE_M


def nucla_splits(data: DataConfig) -> Splits:
    """Views `nucla_train_views` -> train + validation (`validation_fraction` of each class's
    performances, with all their training views); `nucla_test_views` -> test; other views -> unused.
    `nucla_test_subjects` (when given): those subjects only in test, never in train or validation.
    `nucla_drop_contradicted`: clips that move against their label (moves_against_label) are left out
    of train and validation (the test is kept as it is: it stands for a camera we cannot check).

    A folder without training views (e.g. view 3 alone, for evaluation) gives empty train and
    validation lists; training refuses those (training.stages)."""
    if data.protocol != "xview":  # the views are chosen by nucla_train_views / nucla_test_views
        raise DatasetError(f"N-UCLA has protocol 'xview' (its views: data.nucla_train_views, "
                           f"data.nucla_test_views), not {data.protocol!r}")
    held_subjects = set(data.nucla_test_subjects)
    if (shared := sorted(set(data.nucla_train_views) & set(data.nucla_test_views))) and not held_subjects:
        # The same clips would train and test (and views of one performance are the same event anyway).
        raise DatasetError(f"data.nucla_train_views and data.nucla_test_views share view(s) {shared}: its "
                           "clips would be trained on and tested; test other views, or hold subjects out "
                           "with data.nucla_test_subjects")
    everything = nucla_sources(data.root, views=None, fps=data.nucla_fps)
    present = {s.group["subject"] for s in everything}
    if missing := sorted(held_subjects - present):  # else nobody held out and nobody tested, without a word
        raise DatasetError(f"data.nucla_test_subjects: no clips of subject(s) {missing} in {data.root} (its "
                           f"subjects: {sorted(present)})")

    def tested(s: ClipSource) -> bool:
        held = not held_subjects or s.group["subject"] in held_subjects
        return s.group["view"] in data.nucla_test_views and held

    pool = [
        s
        for s in everything
        if s.group["view"] in data.nucla_train_views and s.group["subject"] not in held_subjects
    ]
    if data.nucla_drop_contradicted:
        pool = [s for s in pool if not moves_against_label(s)]
    test = [s for s in everything if tested(s)]
    in_pool = {id(s) for s in pool}
    unused = [s for s in everything if not tested(s) and id(s) not in in_pool]
    train, validation = hold_out_performances(pool, data.validation_fraction, data.split_seed, performance)
    return Splits(train, validation, test, list(NUCLA_CLASS_NAMES), KINECT_V1, has_rgb=False, unused=unused)
