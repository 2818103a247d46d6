"""PKU-MMD (phase 1) as a training dataset: continuous two-person sequences with no_action between.

    root/skeletons/NNNN-V.txt[.xz|.gz] + root/labels/NNNN-V.txt + root/actions.txt + root/splits/
      (recordings/pkummd.py reads them)
    --> one continuous Clip per sequence (30 fps, 2 bodies, its labels as a scene-wide Timeline), twice:
        as recorded and with the two body slots swapped (live decides for each person with that person
        as body 0 and the nearest other as body 1, and PKU-MMD labels the scene, not a person: both
        people of an interaction carry its label)

Classes: the 8 interactions of actions.txt in label order (giving something, handshaking, hugging,
kicking, pat on back, point finger, punching/slapping, pushing), then `no_action`, last. A sequence
whose labels include any other class (the single-person daily-action sequences of the full release)
is left out: its actions would have to be called background.

Protocols (`data.protocol`), from the release's split files:
    xsub   cross-subject: training side = splits/cross-subject.txt "Training videos"
    xview  cross-view: training side = the L and R views, test = the M views
    all    every sequence is on the training side
Validation is drawn from the training side **by actors** (`data.pkummd_hold_out`), never by view: the
three views of one performance are the same people doing the same thing at the same moment, so a
validation view whose other views trained would measure memory, not recognition. Nor by performance
alone: the interaction performances come in pairs numbered NNN5 and NNN6, and each pair is the same two
people (the median lengths of 12 bones of both bodies, in the shared copy's M views: 0.017-0.085 m
apart within a pair, median 0.04, against 0.14 m between two performances at random). So what is held
out whole is the ten a performance is numbered in (0001-0010, 0011-0020, ...), a proxy: PKU-MMD
publishes no subject ids, and an actor may come back in another ten. `data.test_fraction` holds out
further tens as a test set where the protocol's own test side is absent from the folder (the shared
copy holds the cross-subject training side only): figures on them were never used for any choice.
Both draws are seeded by `data.split_seed`; test first, then validation. Held out by performance
(`pkummd_hold_out: performance`, the committed models' split), 7 of the 10 test performances had their
pair in training.
"""

from __future__ import annotations

import functools
import logging
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from tqdm import tqdm

from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, Timeline
from recordings.pkummd import (
    INTERACTION_LABELS,
    PKUMMD_ACTIONS,
    PKUMMD_FPS,
    VIEWS,
    PkuMmdError,
    SequenceName,
    check_bodies_for_labels,
    check_label_numbers,
    find_label_file,
    label_timeline,
    read_actions,
    read_labels,
    read_sequence,
    read_split,
    sequence_folder,
    sequence_paths,
    sequence_stem,
)
from training.config import DataConfig
from training.data import Clip, ClipSource, DatasetError, Splits, check_dataset_folder, fit_bodies

log = logging.getLogger(__name__)

PROTOCOL_FILES = {"xsub": "cross-subject.txt", "xview": "cross-view.txt"}
PROTOCOLS = (*PROTOCOL_FILES, "all")


def interaction_classes(actions: tuple[str, ...] = PKUMMD_ACTIONS) -> list[str]:
    """The model's classes: the 8 interactions in label order, then NO_ACTION."""
    return [actions[label - 1] for label in INTERACTION_LABELS] + [NO_ACTION]


PKUMMD_CLASSES = tuple(interaction_classes())


@functools.cache
def _joints(path: Path) -> np.ndarray:
    """A sequence's joints, read once per process (both body orders share the array)."""
    try:
        joints = read_sequence(path)
    except PkuMmdError as error:  # it names the file and line
        raise DatasetError(str(error)) from None
    joints.flags.writeable = False
    return joints


@dataclass(frozen=True)
class SequenceLoad:
    """ClipSource.load of one sequence (picklable for DataLoader workers): its joints, with the body
    slots swapped when `swapped`, and its timeline."""

    path: Path
    name: str
    timeline: Timeline
    max_bodies: int
    swapped: bool = False

    def __call__(self, with_crops: bool) -> Clip:
        if with_crops:
            raise DatasetError(f"PKU-MMD sequence {self.name}: skeletons only (the shared copy has no video)")
        joints = _joints(self.path)
        if self.swapped:
            joints = joints[:, ::-1]
        joints = fit_bodies(joints, self.max_bodies)
        timestamps = np.arange(len(joints), dtype=np.float64) / PKUMMD_FPS
        return Clip(self.name, -1, timestamps, joints, timeline=self.timeline)


def sequence_files(root: Path) -> dict[str, Path]:
    """Sequence name -> file, for every NNNN-V.txt / .txt.xz / .txt.gz under root/skeletons (or root)."""
    folder = sequence_folder(root)
    found: dict[str, Path] = {}
    for path in sequence_paths(root):
        name = sequence_stem(path)
        if name in found:
            raise DatasetError(f"{folder}: sequence {name} twice ({found[name].name} and {path.name})")
        found[name] = path
    if not found:
        raise DatasetError(f"{folder}: no PKU-MMD sequences (NNNN-V.txt, .txt.xz or .txt.gz)")
    return found


def pkummd_sources(root: str | Path, max_bodies: int = 2) -> list[ClipSource]:
    """Both body orders of every labelled interaction sequence under `root`, sorted by name. Reads the
    label files (small) now and the sequences on first load."""
    root = Path(root)
    check_dataset_folder(root, "PKU-MMD")
    actions_path = root / "actions.txt"
    actions = read_actions(actions_path) if actions_path.is_file() else PKUMMD_ACTIONS
    if tuple(interaction_classes(actions)) != PKUMMD_CLASSES:
        raise DatasetError(f"{actions_path}: does not name the 8 interaction classes as the release does "
                           f"(labels {', '.join(map(str, INTERACTION_LABELS))})")
    sources: list[ClipSource] = []
    unlabelled, other = [], []
    files = sequence_files(root)
    # Each sequence is decompressed once here for its frame count (190 take 15-80 s): a bar where a
    # terminal watches (disable=None), one line in logs and pipes (it was 15 s of silence there).
    reading = tqdm(files.items(), total=len(files), desc="reading PKU-MMD", unit="sequence", leave=False,
                   disable=None)
    if reading.disable:
        print(f"reading {len(files)} PKU-MMD sequence{'' if len(files) == 1 else 's'} under {root}",
              file=sys.stderr, flush=True)
    for name, path in reading:
        labels_path = find_label_file(path)
        if labels_path is None:
            unlabelled.append(name)
            continue
        try:  # a damaged label file: its error names the file and line
            instances = read_labels(labels_path)
            check_label_numbers(instances, actions, str(labels_path))  # a typo is an error, not "other"
            if any(i.label not in INTERACTION_LABELS for i in instances):
                other.append(name)
                continue
            joints = _joints(path)  # read once here; the loads reuse it
            timeline = label_timeline(instances, actions, frame_count=len(joints), source=str(labels_path))
            check_bodies_for_labels(joints, timeline, path)
        except PkuMmdError as error:
            raise DatasetError(str(error)) from None
        parsed = SequenceName.parse(name)
        group = {"performance": parsed.performance, "actors": actors_of(parsed.performance),
                 "view": VIEWS.index(parsed.view)}
        for swapped in (False, True):
            load = SequenceLoad(path, name, timeline, max_bodies, swapped)
            sources.append(ClipSource(name, -1, load, {**group, "swapped": int(swapped)}))
    if unlabelled:
        log.warning("PKU-MMD: %d sequences without a label file left out (e.g. %s)", len(unlabelled),
                 unlabelled[0])
    if other:
        log.warning("PKU-MMD: %d sequences with classes other than the 8 interactions left out (e.g. %s)",
                 len(other), other[0])
    if not sources:
        raise DatasetError(f"{root}: no labelled interaction sequences (labels/NNNN-V.txt beside skeletons/)")
    return sources


def actors_of(performance: int) -> int:
    """The ten a performance is numbered in (0001-0010 -> 0, 0011-0020 -> 1, ...): its actors' (see the
    module docstring)."""
    return (performance - 1) // 10


def draw_performances(performances: list[int], fraction: float, seed: int) -> set[int]:
    """`fraction` of the performances, or of the groups of actors (at least one when fraction > 0 and
    there are two or more)."""
    if not 0 <= fraction < 1:
        raise DatasetError(f"held-out fraction must be in [0, 1), got {fraction}")
    count = int(round(fraction * len(performances)))
    if fraction > 0 and len(performances) >= 2:
        count = max(count, 1)
    rng = np.random.default_rng(seed)
    return set(rng.choice(sorted(performances), size=count, replace=False).tolist()) if count else set()


def pkummd_splits(data: DataConfig) -> Splits:
    """Train / validation / test of `data.protocol`, validation (and test, with `data.test_fraction`)
    held out by performance from the protocol's training side; see the module docstring."""
    if data.protocol not in PROTOCOLS:
        raise DatasetError(f"PKU-MMD protocol {data.protocol!r}; expected one of {', '.join(PROTOCOLS)}")
    root = Path(data.root)
    sources = pkummd_sources(root, data.max_bodies)
    if data.protocol == "all":
        training_side = {s.name for s in sources}
    else:
        split_path = root / "splits" / PROTOCOL_FILES[data.protocol]
        if not split_path.is_file():
            raise DatasetError(f"{split_path}: the {data.protocol} protocol's split file is missing")
        training_side = set(read_split(split_path).train)
    pool = [s for s in sources if s.name in training_side]
    test = [s for s in sources if s.name not in training_side]
    if not pool:
        raise DatasetError(f"{root}: none of its sequences is on the {data.protocol} training side")
    if data.validation_fraction + data.test_fraction >= 1:
        raise DatasetError(f"data.validation_fraction ({data.validation_fraction}) and data.test_fraction "
                           f"({data.test_fraction}) leave no performance to train on: their sum must be < 1")
    unit = "actors" if data.pkummd_hold_out == "actors" else "performance"
    units = sorted({s.group[unit] for s in pool})
    held_test = draw_performances(units, data.test_fraction, data.split_seed)
    rest = [u for u in units if u not in held_test]
    held_validation = draw_performances(rest, data.validation_fraction / max(1.0 - data.test_fraction, 1e-9),
                                        data.split_seed + 1)
    train = [s for s in pool if s.group[unit] not in held_test | held_validation]
    validation = [s for s in pool if s.group[unit] in held_validation]
    test += [s for s in pool if s.group[unit] in held_test]
    if not train:
        raise DatasetError(f"{root}: every performance was held out; lower the held-out fractions")

    def performances(sources: list[ClipSource]) -> list[int]:
        return sorted({s.group["performance"] for s in sources})

    log.info("PKU-MMD %s: %d training, %d validation, %d test sequences, held out by %s (validation "
             "performances %s, test performances %s)", data.protocol, len(train) // 2, len(validation) // 2,
             len(test) // 2, unit, performances(validation),
             performances([s for s in pool if s.group[unit] in held_test]))
    return Splits(train, validation, test, list(PKUMMD_CLASSES), KINECT_V2, has_rgb=False, continuous=True)
