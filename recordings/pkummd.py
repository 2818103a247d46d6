"""PKU-MMD (phase 1): continuous Kinect v2 skeleton sequences with labelled action intervals.

Files (the release's layout; ../shared/data/pkummd/README.md)::

    skeletons/NNNN-V.txt       one line per frame (30 fps): 150 numbers = 2 bodies x 25 joints x
                               (x, y, z), Kinect v2 camera space in metres, Kinect v2 joint order; an
                               absent body is all zeros. No tracking ids, states or colour pixels.
                               `.txt.xz` and `.txt.gz` copies are read alike.
    labels/NNNN-V.txt          one line per action instance: label,start_frame,end_frame,confidence
                               (label 1..51 of actions.txt; frames 0-based, inclusive; confidence
                               0, 1 or 2 = how clear the boundaries are)
    actions.txt                label<TAB>name, labels 1..51 in order
    splits/cross-subject.txt   "Training videos:" then a comma-separated list of NNNN-V,
    splits/cross-view.txt      "Validataion videos:" (sic) then another list

NNNN is the performance (one take of the actors' script), V the view: L, M or R, three Kinects
filming the same performance at once.

As a replay (`PkuMmdRecording`, what `recordings.clip.open_recording` returns for these files):

    line i  ->  Frame(timestamp i / 30 s, no colour, index i)
    body slot m (0, 1) present (not all zeros)  ->  Body with a tracking id, joints, states Tracked
                (2) where a joint is non-zero, colour pixels projected with the default colour camera
                (for drawing only: there is no video), and `truth` = the scene's label at that frame
                (the interval covering it, NO_ACTION where none does): PKU-MMD labels the scene, not
                a person, so both people carry the same truth.

Tracking ids. The file keeps each body in a fixed slot, with no id. A Kinect gives a body an id when
it starts tracking it and never gives the same id to anybody else; a person it loses and finds
again comes back with a new id. The slots do the same here: the first body in slot 0 is id 1, in
slot 1 id 2; a slot that goes empty and is filled again gets the next unused id (3, 4, ...), and so
does a slot whose body moves more than `NEW_BODY_STEP_M` across the floor between two frames (no
one walks 15 m/s: the release put another person in that slot; it happens where the sensor lost
both people for a moment and found them in the other order).

Labels become a `core.timeline.Timeline` of scene-wide intervals (person None): frames [start, end]
(inclusive) are the seconds [start / 30, (end + 1) / 30), named by actions.txt. Errors -- a label
outside actions.txt, a reversed interval, an interval past the last frame, a malformed line -- name
the file and the line.
"""

from __future__ import annotations

import gzip
import logging
import lzma
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from core.camera import DEFAULT_CAMERA, KINECT_FPS, ColorCamera
from core.frame import Body, Frame
from core.skeleton import KINECT_V2, NOT_TRACKED, SENSOR_REACH_M, TRACKED, implausible_joints, why_implausible
from core.timeline import NO_ACTION, Interval, Timeline, TimelineError
from recordings.recording import RecordingInfo

log = logging.getLogger(__name__)

PKUMMD_FPS = KINECT_FPS
NUM_BODIES = 2
NUM_JOINTS = KINECT_V2.num_joints
VALUES_PER_FRAME = NUM_BODIES * NUM_JOINTS * 3
SEQUENCE_SUFFIXES = (".txt", ".txt.xz", ".txt.gz")
VIEWS = ("L", "M", "R")
# A body's SpineMid moving further than this across the floor (x, z) between two frames at 30 fps
# (15 m/s) is another person in the same slot. In the 190 shared sequences 99.9% of steps are under
# 0.09 m and the few of 0.25-0.48 m are tracking noise (the body comes back to where it was); the steps
# of 0.56-2.5 m are slot switches, mostly at the frame where the other slot fills again after both
# people were lost for a moment.
NEW_BODY_STEP_M = 0.5

# The 51 classes of the release (actions.txt), used when a folder has no actions.txt of its own.
PKUMMD_ACTIONS = (
    "bow", "brushing hair", "brushing teeth", "check time (from watch)", "cheer up", "clapping",
    "cross hands in front (say stop)", "drink water", "drop", "eat meal/snack", "falling",
    "giving something to other person", "hand waving", "handshaking", "hopping (one foot jumping)",
    "hugging other person", "jump up", "kicking other person", "kicking something",
    "make a phone call/answer phone", "pat on back of other person", "pickup",
    "playing with phone/tablet", "point finger at the other person", "pointing to something with finger",
    "punching/slapping other person", "pushing other person", "put on a hat/cap",
    "put something inside pocket", "reading", "rub two hands together", "salute", "sitting down",
    "standing up", "take off a hat/cap", "take off glasses", "take off jacket",
    "take out something from pocket", "taking a selfie", "tear up paper", "throw",
    "touch back (backache)", "touch chest (stomachache/heart pain)", "touch head (headache)",
    "touch neck (neckache)", "typing on a keyboard", "use a fan (with hand or paper)/feeling warm",
    "wear jacket", "wear on glasses", "wipe face", "writing",
)
# The two-person interactions (1-based labels), each performed once per interaction sequence.
INTERACTION_LABELS = (12, 14, 16, 18, 21, 24, 26, 27)
INTERACTIONS = tuple(PKUMMD_ACTIONS[label - 1] for label in INTERACTION_LABELS)

_NAME = re.compile(r"^(\d{4})-([LMR])$")


class PkuMmdError(ValueError):
    """A PKU-MMD file that does not follow the format; says which file, which line and what is wrong."""

    def __init__(self, path: str | Path, line: int | None, message: str) -> None:
        where = f"{path}, line {line}" if line is not None else str(path)
        super().__init__(f"{where}: {message}")
        self.path = str(path)
        self.line = line


@dataclass(frozen=True, order=True)
class SequenceName:
    """NNNN-V: performance NNNN seen from view V (L, M or R)."""

    performance: int
    view: str

    @classmethod
    def parse(cls, name: str) -> SequenceName:
        match = _NAME.match(name)
        if match is None:
            raise ValueError(f"PKU-MMD sequence name {name!r} does not match NNNN-V (V = L, M or R)")
        return cls(int(match.group(1)), match.group(2))

    def __str__(self) -> str:
        return f"{self.performance:04d}-{self.view}"


def is_sequence_path(path: str | Path) -> bool:
    """Whether a path is named like a sequence file (NNNN-V.txt, .txt.xz or .txt.gz)."""
    try:
        SequenceName.parse(sequence_stem(path))
    except ValueError:
        return False
    return True


def sequence_folder(root: str | Path) -> Path:
    """Where a PKU-MMD folder keeps its sequences: root/skeletons as the release lays them out, else root."""
    root = Path(root)
    return root / "skeletons" if (root / "skeletons").is_dir() else root


def sequence_paths(root: str | Path) -> list[Path]:
    """The sequence files (NNNN-V.txt, .txt.xz, .txt.gz) of `sequence_folder(root)`, sorted."""
    folder = sequence_folder(root)
    return sorted(p for p in folder.iterdir() if is_sequence_path(p)) if folder.is_dir() else []


def sequence_stem(path: str | Path) -> str:
    """'0005-L' for .../0005-L.txt, .txt.xz or .txt.gz (the name unchanged for anything else)."""
    name = Path(path).name
    for suffix in SEQUENCE_SUFFIXES:  # none ends another
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def open_text(path: str | Path, encoding: str = "ascii") -> IO[str]:
    """A text file, decompressed on the fly when it ends in .xz or .gz."""
    path = Path(path)
    if path.name.endswith(".xz"):
        return lzma.open(path, "rt", encoding=encoding, newline="")
    if path.name.endswith(".gz"):
        return gzip.open(path, "rt", encoding=encoding, newline="")
    return open(path, encoding=encoding, newline="")  # noqa: SIM115 - the caller closes it


# The release's longest sequence is 3.9 MB of text: a file of more is not one, and read whole (a 22 KB .xz
# can hold gigabytes of it) it took the memory of the computer that watches the rooms.
MAX_TEXT_CHARACTERS = 256 * 2**20


def _read_text(path: Path) -> str:
    """The file's text, ASCII; a byte order mark before it (Notepad's "UTF-8 with BOM") is let go."""
    if path.is_dir():
        raise IsADirectoryError(f"{path}: a folder; name one of its files (NNNN-V.txt)")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such file")
    try:
        with open_text(path, "utf-8-sig") as f:
            text = f.read(MAX_TEXT_CHARACTERS + 1)
    except UnicodeDecodeError as error:
        line = 1 + error.object[: error.start].count(b"\n") if isinstance(error.object, bytes) else None
        raise PkuMmdError(path, line, "not ASCII text") from None
    except (lzma.LZMAError, gzip.BadGzipFile, EOFError) as error:
        raise PkuMmdError(path, None, f"cannot decompress ({error})") from None
    if len(text) > MAX_TEXT_CHARACTERS:
        raise PkuMmdError(path, None, f"more than {MAX_TEXT_CHARACTERS // 2**20} MB of text (decompressed): "
                                      "not a PKU-MMD file (the release's longest sequence is 4 MB)")
    if not text.isascii():
        first = next(i for i, character in enumerate(text) if not character.isascii())
        raise PkuMmdError(path, 1 + text[:first].count("\n"), "not ASCII text")
    return text


def _lines(text: str) -> list[str]:
    """The file's lines without line endings; blank lines at the end are dropped."""
    lines = text.splitlines()
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


# ---- sequences --------------------------------------------------------------------------------------


def read_sequence(path: str | Path) -> np.ndarray:
    """A sequence file -> joints float32 (T, 2, 25, 3), zeros where a body is absent."""
    path = Path(path)
    lines = _lines(_read_text(path))
    if not lines:
        raise PkuMmdError(path, None, "no frames (an empty file)")
    try:  # the fast path: every line well formed
        with np.errstate(over="ignore"):  # a number past float32's range reads as inf: the slow path says so
            values = np.array(" ".join(lines).split(), dtype=np.float32)
    except ValueError:
        values = None
    if values is not None and values.size == VALUES_PER_FRAME * len(lines) and np.isfinite(values).all():
        if {len(line.split()) for line in lines} == {VALUES_PER_FRAME}:
            return _measurable(values.reshape(len(lines), NUM_BODIES, NUM_JOINTS, 3), path)
    for number, line in enumerate(lines, start=1):  # find the first bad line, and say what is wrong
        tokens = line.split()
        if len(tokens) != VALUES_PER_FRAME:
            hint = ""
            if "," in line:
                hint = " (commas: is this a label file? --source takes the skeleton sequence)"
            raise PkuMmdError(
                path, number,
                f"expected {VALUES_PER_FRAME} numbers (2 bodies x 25 joints x 3), got {len(tokens)}{hint}",
            )
        for k, token in enumerate(tokens):
            try:
                value = float(token)
            except ValueError:
                raise PkuMmdError(path, number, f"value {k + 1} is {token[:20]!r}, not a number") from None
            if not np.isfinite(value):
                raise PkuMmdError(path, number, f"value {k + 1} is {token!r}; coordinates must be finite")
            if abs(value) > SENSOR_REACH_M:  # (past float32's range too: the fast path read it as inf)
                raise PkuMmdError(path, number, f"value {k + 1} is {token!r} m, beyond any sensor's reach "
                                  f"({SENSOR_REACH_M:g} m)")
    raise AssertionError(f"{path}: fast and slow parses disagree")  # pragma: no cover


def _measurable(joints: np.ndarray, path: Path) -> np.ndarray:
    """`joints`, refused where one is no point a sensor could have measured (`implausible_joints`)."""
    bad = np.argwhere(implausible_joints(joints))
    if len(bad):
        t, m, j = (int(i) for i in bad[0])
        raise PkuMmdError(path, t + 1, f"body {m + 1}, joint {j + 1} ({KINECT_V2.joint_names[j]}): "
                          f"{why_implausible(joints[t, m, j])}")
    return joints


def body_present(joints: np.ndarray) -> np.ndarray:
    """(T, M, J, 3) -> (T, M) bool: the body slot holds somebody (not all zeros)."""
    return np.abs(joints).sum(axis=(-2, -1)) > 0


def check_bodies_for_labels(joints: np.ndarray, timeline: Timeline, path: Path) -> None:
    """Labelled actions in a sequence with nobody in any frame: a damaged or wrong file, refused (replayed,
    its truth would be about no one; as training data, windows of nothing labelled as actions)."""
    if timeline.intervals and not body_present(joints).any():
        raise PkuMmdError(path, None, f"no body in any frame, yet {len(timeline.intervals)} labelled actions")


def body_tracking_ids(joints: np.ndarray, step_m: float = NEW_BODY_STEP_M) -> np.ndarray:
    """(T, M, J, 3) -> (T, M) int64 tracking ids, 0 where the slot is empty (see the module docstring:
    slot m's first body is m + 1; re-acquired or switched bodies take the next unused id)."""
    present = body_present(joints)
    frames, slots = present.shape
    ids = np.zeros((frames, slots), dtype=np.int64)
    current = [0] * slots  # the id in each slot now, 0 while it is empty
    seen = [False] * slots
    next_id = slots + 1
    for t in range(frames):
        for m in range(slots):
            if not present[t, m]:
                current[m] = 0
            elif not seen[m]:
                current[m], seen[m] = m + 1, True
            elif current[m] == 0 or _stepped(joints, t, m, step_m):
                current[m], next_id = next_id, next_id + 1  # found again, or another person in the slot
            ids[t, m] = current[m]
    return ids


def _stepped(joints: np.ndarray, t: int, m: int, step_m: float) -> bool:
    spine = 1  # SpineMid
    move = joints[t, m, spine, [0, 2]] - joints[t - 1, m, spine, [0, 2]]
    return float(np.hypot(*move)) > step_m


# ---- labels -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelInstance:
    """One line of a label file (frames 0-based, inclusive)."""

    label: int  # 1-based, into actions.txt
    start_frame: int
    end_frame: int
    confidence: int
    line: int  # where it was read, for messages


def read_labels(path: str | Path) -> list[LabelInstance]:
    """A label file -> its instances in file order (format checked; ranges are checked against a
    sequence by `label_timeline`)."""
    path = Path(path)
    instances = []
    for number, line in enumerate(_lines(_read_text(path)), start=1):
        if not line.strip():
            raise PkuMmdError(path, number, "blank line; expected label,start_frame,end_frame,confidence")
        fields = [f.strip() for f in line.split(",")]
        if len(fields) != 4:
            raise PkuMmdError(
                path, number, f"expected 4 comma-separated fields (label,start_frame,end_frame,confidence), "
                              f"got {len(fields)}: {line[:60]!r}",
            )
        try:
            label, start, end, confidence = (int(f) for f in fields)
        except ValueError:
            raise PkuMmdError(path, number, f"fields must be whole numbers, got {line[:60]!r}") from None
        if start < 0:
            raise PkuMmdError(path, number, f"start frame {start} is negative (frames count from 0)")
        if end < start:
            raise PkuMmdError(
                path, number, f"reversed interval: ends at frame {end}, before it starts ({start})"
            )
        if confidence not in (0, 1, 2):
            raise PkuMmdError(path, number, f"confidence {confidence}; expected 0, 1 or 2")
        instances.append(LabelInstance(label, start, end, confidence, number))
    if not instances:  # read as "no action throughout", it would teach the whole sequence as background
        raise PkuMmdError(path, None, "no actions (an empty file); every PKU-MMD label file has some")
    return instances


def read_actions(path: str | Path) -> tuple[str, ...]:
    """actions.txt -> class names, index = label - 1 (labels must run 1, 2, 3, ... in order; the release's
    file must have all its 51)."""
    path = Path(path)
    names = []
    for number, line in enumerate(_lines(_read_text(path)), start=1):
        label, sep, name = line.partition("\t")
        name = name.strip()
        if not sep or not name:
            raise PkuMmdError(path, number, f"expected label<TAB>name, got {line[:60]!r}")
        if label.strip() != str(number):
            raise PkuMmdError(path, number, f"label {label.strip()!r} out of order; expected {number}")
        if not name.isprintable():
            raise PkuMmdError(path, number, f"class name {name!r} has a control character (damaged?)")
        names.append(name)
    if not names:
        raise PkuMmdError(path, None, "no classes")
    # Names as the release's as far as they go (the last perhaps cut: "hands" of "handshaking") are the
    # release's file cut short: read as it was, a label past the cut was blamed on its label file.
    count = len(names)
    if count < len(PKUMMD_ACTIONS) and names[:-1] == list(PKUMMD_ACTIONS[: count - 1]) and (
            PKUMMD_ACTIONS[count - 1].startswith(names[-1])):
        raise PkuMmdError(path, count, f"the release's class list cut short: it ends at {names[-1]!r}, class "
                                       f"{count} of its {len(PKUMMD_ACTIONS)}")
    return tuple(names)


def check_label_numbers(instances: Sequence[LabelInstance], actions: Sequence[str], source: str) -> None:
    """PkuMmdError (file and line) for a label outside actions.txt."""
    for instance in instances:
        if not 1 <= instance.label <= len(actions):
            raise PkuMmdError(
                source, instance.line,
                f"label {instance.label} is outside actions.txt (1..{len(actions)})",
            )


def label_timeline(
    instances: Sequence[LabelInstance],
    actions: Sequence[str],
    *,
    frame_count: int,
    source: str,
    fps: float = PKUMMD_FPS,
) -> Timeline:
    """Label instances -> a Timeline of scene-wide intervals in seconds: frames [start, end] are
    [start / fps, (end + 1) / fps). Checked against `actions` and the sequence's `frame_count`."""
    check_label_numbers(instances, actions, source)
    for instance in instances:
        if instance.end_frame >= frame_count:
            raise PkuMmdError(
                source, instance.line,
                f"interval ends at frame {instance.end_frame}, past the end of the sequence "
                f"({frame_count} frames, the last is {frame_count - 1})",
            )
    intervals = [
        Interval(i.start_frame / fps, (i.end_frame + 1) / fps, actions[i.label - 1]) for i in instances
    ]
    try:
        return Timeline.checked(
            intervals, classes=actions, duration=frame_count / fps, source=source,
            lines=[i.line for i in instances],
        )
    except TimelineError as error:  # overlapping instances: already says file and line
        raise PkuMmdError(source, None, str(error).split(": ", 1)[1]) from None


# ---- splits -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Split:
    """One official protocol: the sequence names (NNNN-V) on each side."""

    train: tuple[str, ...]
    validation: tuple[str, ...]  # the release calls the held-out side "validation"; papers test on it


_SPLIT_HEADERS = {"training videos": "train", "validation videos": "validation",
                  "validataion videos": "validation"}  # the release spells it "Validataion"


def read_split(path: str | Path) -> Split:
    """splits/cross-subject.txt or cross-view.txt -> the two lists of sequence names."""
    path = Path(path)
    sides: dict[str, list[str]] = {}
    side: str | None = None
    for number, line in enumerate(_lines(_read_text(path)), start=1):
        text = line.strip()
        if not text:
            continue
        header = text.rstrip(":").strip().lower()
        if header in _SPLIT_HEADERS:
            side = _SPLIT_HEADERS[header]
            if side in sides:
                raise PkuMmdError(path, number, f"a second {text!r} list")
            sides[side] = []
            continue
        if side is None:
            raise PkuMmdError(path, number, f"expected 'Training videos:' first, got {text[:40]!r}")
        for name in (n.strip() for n in text.split(",")):
            if not name:
                continue
            try:
                SequenceName.parse(name)
            except ValueError as error:
                raise PkuMmdError(path, number, str(error)) from None
            sides[side].append(name)
    missing = [s for s in ("train", "validation") if s not in sides]
    if missing:
        raise PkuMmdError(path, None, f"no {' and no '.join(missing)} list ('Training videos:' / "
                                      f"'Validation videos:' headers)")
    both = set(sides["train"]) & set(sides["validation"])
    if both:
        raise PkuMmdError(path, None, f"{len(both)} sequences on both sides, e.g. {sorted(both)[0]}")
    return Split(tuple(sides["train"]), tuple(sides["validation"]))


# ---- finding a sequence's companions ----------------------------------------------------------------


def label_file_candidates(sequence: str | Path) -> list[Path]:
    """Where a sequence's label file may be, in the order looked at: a `labels/` folder beside the
    sequence, `../labels/` (the release's layout: skeletons/ and labels/ side by side), or the
    release's own folder name `../Train_Label_PKU_final/`. (Not the same folder: the label file has
    the sequence's own name, NNNN-V.txt.)"""
    sequence = Path(sequence).absolute()  # "0005-L.txt" run inside skeletons/: its parent's parent is ..
    name = sequence_stem(sequence) + ".txt"
    folder = sequence.parent
    return [folder / "labels" / name, folder.parent / "labels" / name,
            folder.parent / "Train_Label_PKU_final" / name]


def find_label_file(sequence: str | Path) -> Path | None:
    return next((p for p in label_file_candidates(sequence) if p.is_file()), None)


def is_skeleton_sequence(path: Path) -> bool:
    """A skeleton sequence, not its label file (named alike, NNNN-V.txt, in labels/). The label file found
    is an absolute path, whatever `path` is."""
    return is_sequence_path(path) and find_label_file(path) != path.absolute()


def find_actions_file(sequence_or_folder: str | Path) -> Path | None:
    """actions.txt in the folder itself, or one or two levels up (the dataset's root)."""
    start = Path(sequence_or_folder).absolute()  # "." or a bare file name: its parents are real folders
    folder = start if start.is_dir() else start.parent
    for candidate in (folder, folder.parent, folder.parent.parent):
        if (candidate / "actions.txt").is_file():
            return candidate / "actions.txt"
    return None


# ---- replay -----------------------------------------------------------------------------------------


class PkuMmdRecording:
    """One sequence (and its labels, when found) as Frames; see the module docstring.

    `labels`: the label file (default: found by `find_label_file`; none found = no timeline and
    `truth` None). `actions`: actions.txt (default: found by `find_actions_file`, else the release's
    51 names). `camera` projects joints to colour pixels for drawing (there is no video).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        labels: str | Path | None = None,
        actions: str | Path | None = None,
        camera: ColorCamera = DEFAULT_CAMERA,
    ) -> None:
        self.path = Path(path)
        self.name = sequence_stem(self.path)
        self.camera = camera
        self.joints = read_sequence(self.path)
        self.tracking_ids = body_tracking_ids(self.joints)
        count = len(self.joints)
        self.timestamps = np.arange(count, dtype=np.float64) / PKUMMD_FPS
        actions_path = Path(actions) if actions is not None else find_actions_file(self.path)
        self.actions_path = actions_path
        self.actions = read_actions(actions_path) if actions_path is not None else PKUMMD_ACTIONS
        self.labels_path = Path(labels) if labels is not None else find_label_file(self.path)
        self.timeline: Timeline | None = None
        if self.labels_path is not None:
            if not self.labels_path.is_file():
                raise FileNotFoundError(f"{self.labels_path}: no such label file")
            self.timeline = label_timeline(
                read_labels(self.labels_path), self.actions, frame_count=count, source=str(self.labels_path)
            )
            check_bodies_for_labels(self.joints, self.timeline, self.path)
        else:
            log.info("%s: no label file (looked in %s): frames carry no truth", self.path,
                     ", ".join(str(p.parent) for p in label_file_candidates(self.path)))
        self.info = RecordingInfo(
            path=self.path,
            kind="pkummd",
            frame_count=count,
            duration_s=float(self.timestamps[-1]),
            fps=PKUMMD_FPS,
            color_size=None,
        )

    def frame_truth(self) -> list[str | None]:
        """The scene's label at every frame (NO_ACTION between actions), or None per frame without labels."""
        if self.timeline is None:
            return [None] * len(self.timestamps)
        return [self.timeline.label_at(float(t)) for t in self.timestamps]

    def frames(self) -> Iterator[Frame]:
        truth = self.frame_truth()
        present = body_present(self.joints)
        # The whole sequence at once (a replay is per frame): states, and pixels (NaN where untracked).
        states = np.where(np.abs(self.joints).sum(-1) > 0, TRACKED, NOT_TRACKED).astype(np.int8)
        colors, _ = self.camera.project(self.joints)
        colors[states == NOT_TRACKED] = np.nan
        for i, timestamp in enumerate(self.timestamps):
            bodies = []
            for m in range(NUM_BODIES):
                if not present[i, m]:
                    continue
                # Copies: a Body is the consumer's to keep, not a view into the sequence.
                bodies.append(Body(int(self.tracking_ids[i, m]), self.joints[i, m].copy(),
                                   states[i, m].copy(), colors[i, m].copy(), truth[i]))
            yield Frame(timestamp=float(timestamp), color=None, bodies=bodies, index=i)

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def body_summary(self) -> tuple[int, int]:
        """(most bodies in one frame, distinct tracking ids)."""
        most = int(body_present(self.joints).sum(1).max(initial=0))
        return most, len(np.unique(self.tracking_ids[self.tracking_ids > 0]))

    def close(self) -> None:
        pass  # everything was read at open

    def __enter__(self) -> PkuMmdRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def describe(recording: PkuMmdRecording) -> list[str]:
    """Lines for `python -m recordings info`."""
    info = recording.info
    most, ids = recording.body_summary()
    lines = [
        f"{recording.path}: PKU-MMD sequence {recording.name}, skeleton only (no colour)",
        f"duration {info.duration_s:.2f} s, {info.frame_count} frames, {info.fps:.0f} fps; bodies: up to "
        f"{most} at once, {ids} tracking ids (assigned per body slot)",
    ]
    timeline = recording.timeline
    if timeline is None:
        lines.append("labels: none found (looked in " +
                     ", ".join(str(p.parent) for p in label_file_candidates(recording.path)) + ")")
        return lines
    covered = sum(i.duration for i in timeline.intervals)
    total = info.frame_count / PKUMMD_FPS
    lines.append(f"labels: {recording.labels_path}, {len(timeline.intervals)} intervals covering "
                 f"{covered:.1f} s ({100 * covered / total:.0f}%; the rest is {NO_ACTION})")
    for interval in timeline.intervals:
        lines.append(f"  {interval.start:7.2f} - {interval.end:7.2f} s  {interval.label}")
    return lines
