"""NTU RGB+D sample names (SsssCcccPpppRrrrAaaa), the class names of NTU RGB+D 60 and 120, and the standard
evaluation protocols with their lists of missing samples. The class-name files (``A001<TAB>drink water``)
are read by `recordings.labels.read_label_map(path, site=False)`, the one parser of that format.
"""

from __future__ import annotations

import enum
import os
import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from pathlib import Path

# ---------------------------------------------------------------------------------------- sample names

_SAMPLE_NAME = re.compile(r"S(\d{3})C(\d{3})P(\d{3})R(\d{3})A(\d{3})(?!\d)")


@dataclass(frozen=True, order=True)
class SampleName:
    """SsssCcccPpppRrrrAaaa: setup, camera, performer (subject), replication, action (A-number)."""

    setup: int
    camera: int
    performer: int
    replication: int
    action: int

    def __post_init__(self) -> None:
        # Each part is written in three digits: a number outside them makes a name nothing reads back.
        for part in ("setup", "camera", "performer", "replication", "action"):
            if not 0 <= getattr(self, part) <= 999:
                raise ValueError(f"sample name: {part} {getattr(self, part)} is outside 0-999")

    @classmethod
    def parse(cls, name: str | os.PathLike) -> SampleName:
        """From a name or a path, suffixes allowed: ``.../S001C001P001R001A001_rgb.avi``."""
        text = os.fspath(name)
        base = re.split(r"[\\/]", text)[-1]
        match = _SAMPLE_NAME.match(base)
        if match is None:
            raise ValueError(
                f"{text!r}: expected an NTU sample name SsssCcccPpppRrrrAaaa, e.g. S001C002P003R002A013"
            )
        return cls(*(int(group) for group in match.groups()))

    def __str__(self) -> str:
        return (
            f"S{self.setup:03d}C{self.camera:03d}P{self.performer:03d}"
            f"R{self.replication:03d}A{self.action:03d}"
        )

    @property
    def label(self) -> int:
        """0-based class index (A001 -> 0)."""
        return self.action - 1

    @property
    def skeleton_filename(self) -> str:
        return f"{self}.skeleton"

    @property
    def rgb_filename(self) -> str:
        return f"{self}_rgb.avi"


# ----------------------------------------------------------------------------------------- class names

NTU120_CLASSES: tuple[str, ...] = (
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "reach into pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person’s stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person’s ear",
    "exchange things with other person",
    "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
)
NTU60_CLASSES: tuple[str, ...] = NTU120_CLASSES[:60]  # NTU RGB+D 120 extends the 60 classes
# The mutual actions (A050-A060, A106-A120): two people, the subject first in the file.
NTU_MUTUAL_ACTIONS = frozenset(NTU120_CLASSES[49:60] + NTU120_CLASSES[105:120])


# ------------------------------------------------------------------------------------------- protocols


class Protocol(enum.Enum):
    """The standard NTU RGB+D evaluation protocols."""

    cross_subject_60 = "cross_subject_60"
    cross_view_60 = "cross_view_60"
    cross_subject_120 = "cross_subject_120"
    cross_setup_120 = "cross_setup_120"

    @property
    def num_classes(self) -> int:
        return 60 if self in (Protocol.cross_subject_60, Protocol.cross_view_60) else 120


# Official training sets (Shahroudy et al. CVPR 2016; Liu et al. TPAMI 2020); everything else is test.
NTU60_TRAINING_SUBJECTS = frozenset(
    {1, 2, 4, 5, 8, 9, 13, 14, 15, 16, 17, 18, 19, 25, 27, 28, 31, 34, 35, 38}
)  # fmt: skip
NTU60_TRAINING_CAMERAS = frozenset({2, 3})
NTU120_TRAINING_SUBJECTS = NTU60_TRAINING_SUBJECTS | frozenset(
    {45, 46, 47, 49, 50, 52, 53, 54, 55, 56, 57, 58, 59, 70, 74, 78, 80, 81, 82, 83, 84, 85, 86, 89, 91, 92,
     93, 94, 95, 97, 98, 100, 103}
)  # fmt: skip
NTU120_TRAINING_SETUPS = frozenset(range(2, 33, 2))  # even setup ids
# What each dataset holds: (setups, cameras, performers, actions).
_NTU60_RANGES = (range(1, 18), range(1, 4), range(1, 41), range(1, 61))
_NTU120_RANGES = (range(1, 33), range(1, 4), range(1, 107), range(1, 121))


def in_protocol(name: SampleName, protocol: Protocol) -> bool:
    """Whether the sample belongs to the protocol's dataset (NTU60 protocols skip NTU120-only samples)."""
    ranges = _NTU60_RANGES if protocol.num_classes == 60 else _NTU120_RANGES
    values = (name.setup, name.camera, name.performer, name.action)
    return all(value in allowed for value, allowed in zip(values, ranges, strict=True))


def is_training_sample(name: SampleName, protocol: Protocol) -> bool:
    """True for the protocol's training set, False for its test set."""
    if not in_protocol(name, protocol):
        raise ValueError(f"{name} is not a sample of the {protocol.value} protocol's dataset")
    if protocol is Protocol.cross_subject_60:
        return name.performer in NTU60_TRAINING_SUBJECTS
    if protocol is Protocol.cross_view_60:
        return name.camera in NTU60_TRAINING_CAMERAS
    if protocol is Protocol.cross_subject_120:
        return name.performer in NTU120_TRAINING_SUBJECTS
    return name.setup in NTU120_TRAINING_SETUPS


def split_samples(
    names: Iterable[SampleName], protocol: Protocol, excluded: Collection[str] = ()
) -> tuple[list[SampleName], list[SampleName]]:
    """(training, test) samples; samples outside the protocol's dataset or in `excluded` are left out."""
    training: list[SampleName] = []
    test: list[SampleName] = []
    for name in names:
        if str(name) in excluded or not in_protocol(name, protocol):
            continue
        (training if is_training_sample(name, protocol) else test).append(name)
    return training, test


def read_missing_samples(path: str | os.PathLike) -> set[str]:
    """Names from an official missing-skeleton list (3-line header ``N of the captured samples ...``).

    A header-less list (only names, as mmaction2 ships it) is read too; with a header, its count
    must match the names found.
    """
    path = Path(path)
    lines = path.read_text(encoding="utf-8").splitlines()
    stated = None
    start = 0
    if lines and not _SAMPLE_NAME.fullmatch(lines[0].strip()):
        header = re.match(r"(\d+) of the captured samples", lines[0])
        if header is None:
            raise ValueError(
                f"{path}, line 1: expected 'N of the captured samples ...' or a sample name, got {lines[0]!r}"
            )
        stated, start = int(header.group(1)), 3
    names = set()
    for number, line in enumerate(lines[start:], start=start + 1):
        name = line.strip()
        if not name:
            continue
        if not _SAMPLE_NAME.fullmatch(name):
            raise ValueError(
                f"{path}, line {number}: expected a sample name SsssCcccPpppRrrrAaaa, got {line!r}"
            )
        names.add(name)
    if stated is not None and stated != len(names):
        raise ValueError(
            f"{path}: the header says {stated} samples, the list holds {len(names)} distinct names"
        )
    return names
