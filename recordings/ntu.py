"""NTU RGB+D: ``.skeleton`` files (read and write), sample names, class names, protocols, RGB videos.

A ``.skeleton`` file is text, one record per line (CRLF in the official release, LF in some copies)::

    frameCount
    per frame:   bodyCount                                   (0..6)
    per body:    bodyID clipedEdges handLeftConfidence handLeftState handRightConfidence
                 handRightState isResticted leanX leanY trackingState
                 jointCount                                  (25)
    per joint:   x y z depthX depthY colorX colorY orientationW orientationX orientationY orientationZ
                 trackingState

bodyID is the Kinect's 64-bit tracking id; it is kept as an exact Python int (a float64 would round it).
Joint values are read as float64 and written with ``repr`` (plus the file's own spelling of integers and
exponents, ``0`` and ``1.5E-05``), so write -> read gives the same values bit for bit (NaN stays NaN)
and a file read and written again comes out byte for byte as it was.

Parsing (56,880 files for training) takes one ``split`` of the whole text and index arithmetic. The
line structure is checked without splitting line by line: the whitespace between tokens, with the tokens
deleted (``bytes.translate``), must equal the whitespace that the counts in the file imply. Any file that
fails a check is parsed again line by line, which either accepts it (irregular but valid whitespace) or
raises `SkeletonFormatError` with the file, the 1-based line and what was expected there.
"""

from __future__ import annotations

import enum
import errno
import math
import os
import re
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

JOINT_COUNT = 25
MAX_BODIES = 6  # the Kinect v2 tracks at most six people
# Field names as the NTU release spells them (its typos included), in file order.
BODY_FIELDS = (
    "bodyID", "clipedEdges", "handLeftConfidence", "handLeftState", "handRightConfidence",
    "handRightState", "isResticted", "leanX", "leanY", "trackingState",
)  # fmt: skip
JOINT_FIELDS = (
    "x", "y", "z", "depthX", "depthY", "colorX", "colorY",
    "orientationW", "orientationX", "orientationY", "orientationZ", "trackingState",
)  # fmt: skip
_JOINT_STATE_COLUMN = 11
_BODY_FLOAT_FIELDS = (7, 8)  # leanX, leanY; every other body field is an integer
_BODY_ID_LIMIT = 2**64


class SkeletonFormatError(ValueError):
    """A ``.skeleton`` file that does not follow the format; says where and what was expected."""

    def __init__(self, path: str | os.PathLike, line: int, message: str) -> None:
        super().__init__(f"{path}, line {line}: {message}")
        self.path = str(path)
        self.line = line


@dataclass(eq=False)
class NtuBody:
    """One body in one frame, every field of the file kept."""

    body_id: int  # Kinect tracking id, unsigned 64-bit, exact
    clipped_edges: int
    hand_left_confidence: int
    hand_left_state: int
    hand_right_confidence: int
    hand_right_state: int
    is_restricted: int
    lean_x: float
    lean_y: float
    tracking_state: int
    joints: np.ndarray  # float64 (25, 12), columns as JOINT_FIELDS

    @property
    def xyz(self) -> np.ndarray:
        """Camera-space joint positions, metres, float64 (25, 3)."""
        return self.joints[:, 0:3]

    @property
    def color(self) -> np.ndarray:
        """Joint positions in the 1920x1080 colour image, pixels, float64 (25, 2)."""
        return self.joints[:, 5:7]

    @property
    def states(self) -> np.ndarray:
        """Joint tracking states, int8 (25,): 0 NotTracked, 1 Inferred, 2 Tracked."""
        return self.joints[:, _JOINT_STATE_COLUMN].astype(np.int8)

    def body_fields(self) -> tuple[int | float, ...]:
        """The ten body-line values in file order."""
        return (
            self.body_id, self.clipped_edges, self.hand_left_confidence, self.hand_left_state,
            self.hand_right_confidence, self.hand_right_state, self.is_restricted,
            self.lean_x, self.lean_y, self.tracking_state,
        )  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NtuBody):
            return NotImplemented
        return all(map(_same_value, self.body_fields(), other.body_fields())) and np.array_equal(
            self.joints, other.joints, equal_nan=True
        )


def _same_value(a: float, b: float) -> bool:
    return a == b or (a != a and b != b)  # NaN equals NaN: a NaN read back is the same value


@dataclass(eq=False)
class SkeletonArrays:
    """A clip as dense arrays, bodies in fixed slots (the model's skeleton input before normalisation)."""

    xyz: np.ndarray  # float32 (T, M, 25, 3) camera metres, zeros where the slot's body is absent
    color: np.ndarray  # float32 (T, M, 25, 2) colour pixels, zeros where absent
    states: np.ndarray  # int8 (T, M, 25), 0 (NotTracked) where absent
    body_ids: np.ndarray  # uint64 (M,) the body id in each slot, 0 for an unused slot
    present: np.ndarray  # bool (T, M) whether the slot's body is in that frame


@dataclass
class SkeletonFile:
    """A whole ``.skeleton`` file: ``frames[t]`` lists the bodies of frame t (possibly none)."""

    path: Path | None
    frames: list[list[NtuBody]]
    line_ending: str = "\r\n"  # the official release uses CRLF; kept so a rewrite matches the source

    @property
    def num_frames(self) -> int:
        return len(self.frames)

    @property
    def sample_name(self) -> SampleName:
        if self.path is None:
            raise ValueError("this skeleton has no path, so no sample name")
        return SampleName.parse(self.path)

    def arrays(self, max_bodies: int = 2) -> SkeletonArrays:
        """Bodies matched across frames by body id; the `max_bodies` most active kept, most active first.

        Activity (motion energy) is the sum over the 75 joint coordinates of their variance across the
        frames in which the body appears: a chair or coat mistaken for a body barely moves and is dropped
        first. (CTR-GCN's NTU preprocessing pools all joints into one variance per axis, which also grows
        with how spread out a pose is; per-joint variance measures movement only.) Ties keep the order
        of first appearance; a body seen in one frame only has energy 0.
        """
        if max_bodies < 1:
            raise ValueError(f"max_bodies must be at least 1, got {max_bodies}")
        tracks: dict[int, list[tuple[int, NtuBody]]] = {}
        for t, bodies in enumerate(self.frames):
            ids = [body.body_id for body in bodies]
            if len(set(ids)) != len(ids):
                raise ValueError(
                    f"{self.path}: frame {t + 1} holds the same body id twice ({ids}); "
                    "bodies cannot be matched across frames"
                )
            for body in bodies:
                tracks.setdefault(body.body_id, []).append((t, body))

        joints = {bid: np.stack([body.joints for _, body in track]) for bid, track in tracks.items()}
        energy = {bid: _motion_energy(stack[:, :, 0:3]) for bid, stack in joints.items()}
        kept = sorted(tracks, key=lambda bid: -energy[bid])[:max_bodies]  # stable: ties keep first seen

        num_frames = len(self.frames)
        xyz = np.zeros((num_frames, max_bodies, JOINT_COUNT, 3), np.float32)
        color = np.zeros((num_frames, max_bodies, JOINT_COUNT, 2), np.float32)
        states = np.zeros((num_frames, max_bodies, JOINT_COUNT), np.int8)
        present = np.zeros((num_frames, max_bodies), bool)
        body_ids = np.zeros(max_bodies, np.uint64)
        for slot, bid in enumerate(kept):
            frames = [t for t, _ in tracks[bid]]
            stack = joints[bid]
            xyz[frames, slot] = stack[:, :, 0:3]
            color[frames, slot] = stack[:, :, 5:7]
            states[frames, slot] = stack[:, :, _JOINT_STATE_COLUMN]
            present[frames, slot] = True
            body_ids[slot] = bid
        return SkeletonArrays(xyz=xyz, color=color, states=states, body_ids=body_ids, present=present)


def _motion_energy(xyz: np.ndarray) -> float:
    energy = float(np.var(xyz, axis=0).sum())
    return energy if math.isfinite(energy) else -math.inf  # a NaN must not scramble the ranking


# --------------------------------------------------------------------------------------------- reading

_WHITESPACE = b" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"  # what str.split() splits ASCII text on
_NOT_WHITESPACE = bytes(sorted(set(range(256)) - set(_WHITESPACE)))
# Whitespace a regular file has between the tokens of one body: 10 body fields on a line, the joint
# count alone on a line, then 25 lines of 12 numbers.
_BODY_SEPARATORS = b" " * 9 + b"\n" + b"\n" + (b" " * 11 + b"\n") * JOINT_COUNT


_EMPTY_JOINTS = np.zeros((0, 12))  # placeholder until the joints of the whole file are converted


class _NotRegular(Exception):
    """The fast parser cannot vouch for this file; the line parser decides."""


def read_skeleton(path: str | os.PathLike) -> SkeletonFile:
    """Read a ``.skeleton`` file (CRLF or LF). Raises `SkeletonFormatError` for malformed files."""
    path = Path(path)
    return parse_skeleton(path.read_bytes(), path)


def parse_skeleton(data: bytes, path: str | os.PathLike | None = None) -> SkeletonFile:
    """Parse the bytes of a ``.skeleton`` file; `path`, where they came from, is kept and named in errors."""
    try:
        frames = _parse_regular(data)
    except _NotRegular:
        frames = _parse_lines(data, "<bytes>" if path is None else path)
    first_line_end = data.find(b"\n")
    line_ending = "\r\n" if first_line_end > 0 and data[first_line_end - 1] == 13 else "\n"
    return SkeletonFile(path=None if path is None else Path(path), frames=frames, line_ending=line_ending)


def _parse_regular(data: bytes) -> list[list[NtuBody]]:
    """Fast path: one split, index arithmetic, line structure checked through the separators."""
    core = data.rstrip(_WHITESPACE)  # trailing newline (and blank lines) at the end are allowed
    if not core or b"_" in core:  # float() would take "1_0" as 10; the line parser rejects it
        raise _NotRegular
    separators = core.translate(None, _NOT_WHITESPACE).replace(b"\r\n", b"\n")
    try:
        tokens = core.decode("ascii").split()
        values = np.fromiter(map(float, tokens), np.float64, len(tokens))
        num_frames = int(tokens[0])
        position = 1
        frames: list[list[NtuBody]] = []
        joint_starts: list[int] = []
        expected_separators = [b"\n"]
        for _ in range(num_frames):
            num_bodies = int(tokens[position])
            if not 0 <= num_bodies <= MAX_BODIES:
                raise _NotRegular
            position += 1
            bodies = []
            for _ in range(num_bodies):
                f = tokens[position : position + 10]
                if int(tokens[position + 10]) != JOINT_COUNT:
                    raise _NotRegular
                body_id = int(f[0])
                if not 0 <= body_id < _BODY_ID_LIMIT:
                    raise _NotRegular
                ints = map(int, f[1:7])  # clipedEdges .. isResticted
                bodies.append(NtuBody(body_id, *ints, float(f[7]), float(f[8]), int(f[9]), _EMPTY_JOINTS))
                joint_starts.append(position + 11)
                position += 11 + JOINT_COUNT * 12
            frames.append(bodies)
            expected_separators.append(b"\n" + _BODY_SEPARATORS * num_bodies)
    except (ValueError, IndexError, UnicodeDecodeError) as error:
        raise _NotRegular from error
    # A line holds at most (its whitespace characters + 1) tokens. `separators` is the file's whitespace
    # in order, so when it equals what the counts imply no line holds more tokens than the format puts
    # there; with the total equal as well, every line holds exactly its count. One comparison checks
    # every line without splitting the text line by line.
    if position != len(tokens) or separators != b"".join(expected_separators)[:-1]:
        raise _NotRegular

    index = np.asarray(joint_starts, np.int64)[:, None] + np.arange(JOINT_COUNT * 12)
    joints = values[index].reshape(-1, JOINT_COUNT, 12)
    if not np.isin(joints[:, :, _JOINT_STATE_COLUMN], (0.0, 1.0, 2.0)).all():
        raise _NotRegular
    all_bodies = [body for bodies in frames for body in bodies]
    for body, body_joints in zip(all_bodies, joints, strict=True):
        body.joints = body_joints
    return frames


class _LineReader:
    """Line-by-line reading with line numbers, for the reference parser."""

    def __init__(self, data: bytes, path: str | os.PathLike) -> None:
        self.path = path
        try:
            text = data.decode("ascii")
        except UnicodeDecodeError as error:
            line = data.count(b"\n", 0, error.start) + 1
            raise SkeletonFormatError(
                path, line, f"expected ASCII text, got byte 0x{data[error.start]:02x}"
            ) from None
        self.lines = text.split("\n")
        self.end = len(self.lines)
        while self.end and not self.lines[self.end - 1].strip():
            self.end -= 1  # trailing blank lines end the file
        self.next_line = 0  # 0-based index of the next line to read

    def error(self, message: str) -> SkeletonFormatError:
        """An error at the line read last."""
        return SkeletonFormatError(self.path, self.next_line, message)

    def fields(self, count: int, what: str) -> list[str]:
        expected = f"expected {count} number{'s' if count > 1 else ''} for {what}"
        if self.next_line >= self.end:
            raise SkeletonFormatError(self.path, self.next_line + 1, f"{expected}, got end of file")
        fields = self.lines[self.next_line].split()
        self.next_line += 1
        if len(fields) != count:
            raise self.error(f"{expected}, got {len(fields)}")
        return fields

    def integer(self, token: str, what: str) -> int:
        if not re.fullmatch(r"[+-]?[0-9]+", token):
            raise self.error(f"expected an integer for {what}, got {token!r}")
        return int(token)

    def number(self, token: str, what: str) -> float:
        try:
            if "_" in token:
                raise ValueError(token)
            return float(token)
        except ValueError:
            raise self.error(f"expected a number for {what}, got {token!r}") from None


def _parse_lines(data: bytes, path: str | os.PathLike) -> list[list[NtuBody]]:
    """Reference parser: slower, exact error messages, tolerant of irregular whitespace."""
    reader = _LineReader(data, path)
    (token,) = reader.fields(1, "the frame count")
    num_frames = reader.integer(token, "the frame count")
    if num_frames < 0:
        raise reader.error(f"expected a frame count of at least 0, got {num_frames}")
    frames = []
    for f in range(1, num_frames + 1):
        (token,) = reader.fields(1, f"the body count of frame {f}")
        num_bodies = reader.integer(token, f"the body count of frame {f}")
        if not 0 <= num_bodies <= MAX_BODIES:
            raise reader.error(f"expected a body count of 0..{MAX_BODIES} for frame {f}, got {num_bodies}")
        bodies = []
        for b in range(1, num_bodies + 1):
            where = f"body {b} in frame {f}"
            tokens = reader.fields(10, f"the body fields of {where}")
            fields: list[int | float] = [
                reader.number(token, f"{name} of {where}")
                if i in _BODY_FLOAT_FIELDS
                else reader.integer(token, f"{name} of {where}")
                for i, (name, token) in enumerate(zip(BODY_FIELDS, tokens, strict=True))
            ]
            if not 0 <= fields[0] < _BODY_ID_LIMIT:
                raise reader.error(f"expected a bodyID in 0..2**64-1 for {where}, got {fields[0]}")
            (token,) = reader.fields(1, f"the joint count of {where}")
            joint_count = reader.integer(token, f"the joint count of {where}")
            if joint_count != JOINT_COUNT:
                raise reader.error(f"expected {JOINT_COUNT} joints for {where}, got {joint_count}")
            joints = np.empty((JOINT_COUNT, 12))
            for j in range(JOINT_COUNT):
                joint = f"joint {j + 1} of {where}"
                row = reader.fields(12, joint)
                for k, (name, token) in enumerate(zip(JOINT_FIELDS, row, strict=True)):
                    joints[j, k] = reader.number(token, f"{name} of {joint}")
                if joints[j, _JOINT_STATE_COLUMN] not in (0.0, 1.0, 2.0):
                    raise reader.error(f"expected a trackingState of 0, 1 or 2 for {joint}, got {row[-1]!r}")
            bodies.append(NtuBody(*fields, joints=joints))  # type: ignore[arg-type]
        frames.append(bodies)
    if reader.next_line < reader.end:
        reader.next_line += 1
        extra = reader.lines[reader.next_line - 1].strip()[:40]
        raise reader.error(f"expected end of file after {num_frames} frames, got {extra!r}")
    return frames


# --------------------------------------------------------------------------------------------- writing


def format_skeleton(skeleton: SkeletonFile, line_ending: str | None = None) -> bytes:
    """The file text of `skeleton`, with its own line ending unless one is given."""
    lines = [str(len(skeleton.frames))]
    for t, bodies in enumerate(skeleton.frames):
        if len(bodies) > MAX_BODIES:
            raise ValueError(
                f"frame {t + 1} has {len(bodies)} bodies; a .skeleton frame holds 0..{MAX_BODIES}"
            )
        lines.append(str(len(bodies)))
        for body in bodies:
            if body.joints.shape != (JOINT_COUNT, 12):
                raise ValueError(
                    f"body {body.body_id} in frame {t + 1}: joints must be ({JOINT_COUNT}, 12), "
                    f"got {body.joints.shape}"
                )
            fields = body.body_fields()
            if not 0 <= fields[0] < _BODY_ID_LIMIT:
                raise ValueError(f"frame {t + 1}: bodyID {fields[0]} is not an unsigned 64-bit integer")
            lines.append(
                " ".join(
                    _format_number(value)
                    if i in _BODY_FLOAT_FIELDS
                    else _format_integer(value, BODY_FIELDS[i])
                    for i, value in enumerate(fields)
                )
            )
            lines.append(str(JOINT_COUNT))
            lines.extend(" ".join(map(_format_number, row)) for row in body.joints.tolist())
    ending = skeleton.line_ending if line_ending is None else line_ending
    return (ending.join(lines) + ending).encode("ascii")


def write_skeleton(path: str | os.PathLike, skeleton: SkeletonFile, line_ending: str | None = None) -> None:
    """Write `skeleton` as a ``.skeleton`` file that `read_skeleton` reads back to identical values."""
    Path(path).write_bytes(format_skeleton(skeleton, line_ending))


def _format_number(value: float) -> str:
    # repr is the shortest text that reads back to the same float64; the release writes integral
    # values without ".0" and exponents as "E-05", so do the same and a rewrite matches the source.
    text = repr(float(value))
    if text.endswith(".0"):
        return text[:-2]
    return text.replace("e", "E")


def _format_integer(value: int | float, name: str) -> str:
    if int(value) != value:
        raise ValueError(f"{name} must be an integer, got {value!r}")
    return str(int(value))


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


def read_class_names(path: str | os.PathLike) -> list[str]:
    """Class names from an ``A001<TAB>drink water`` file (``#`` comments and blank lines skipped)."""
    path = Path(path)
    names = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        code, tab, name = line.partition("\t")
        expected = f"A{len(names) + 1:03d}"
        if code != expected or not tab or not name.strip():
            raise ValueError(f"{path}, line {number}: expected '{expected}<TAB>class name', got {line!r}")
        names.append(name.strip())
    if not names:
        raise ValueError(f"{path}: expected lines 'A001<TAB>class name', found none")
    return names


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


# ----------------------------------------------------------------------------------------------- video


class RgbVideo:
    """An NTU ``_rgb.avi`` (1920x1080, 30 fps) read frame by frame as BGR uint8 (H, W, 3).

    ``len()`` is the frame count the container announces; iterating decodes from the first frame and
    raises if the video ends before that count. One pass at a time per object.
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(errno.ENOENT, "RGB video not found", str(self.path))
        self._capture: cv2.VideoCapture | None = self._open()
        self._position = 0  # frames decoded by the current capture
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS))
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frame_count = int(round(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)))
        if self.frame_count <= 0:  # no usable count in the container: count by decoding once
            self.frame_count = sum(1 for _ in self._decode())

    def _open(self) -> cv2.VideoCapture:
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            capture.release()
            raise ValueError(f"{self.path}: OpenCV cannot open this file as a video")
        return capture

    def _decode(self) -> Iterator[np.ndarray]:
        if self._capture is None:
            raise ValueError(f"{self.path}: the video is closed")
        if self._position:
            # Seeking H.264 by frame number is not frame-exact in every OpenCV build; reopening is.
            self._capture.release()
            self._capture = self._open()
            self._position = 0
        while True:
            ok, frame = self._capture.read()
            if not ok:
                return
            self._position += 1
            yield frame

    def __len__(self) -> int:
        return self.frame_count

    def __iter__(self) -> Iterator[np.ndarray]:
        decoded = 0
        for frame in self._decode():
            yield frame
            decoded += 1
            if decoded == self.frame_count:
                return
        raise ValueError(f"{self.path}: decoded {decoded} frames, the container announces {self.frame_count}")

    def read_frames(self, indices: Sequence[int]) -> list[np.ndarray]:
        """The frames at `indices` (any order, repeats allowed), decoded in one pass from the start."""
        wanted = set(indices)
        bad = [i for i in wanted if not 0 <= i < self.frame_count]
        if bad:
            raise IndexError(f"{self.path}: frame indices {sorted(bad)} outside 0..{self.frame_count - 1}")
        found: dict[int, np.ndarray] = {}
        for index, frame in enumerate(self):
            if index in wanted:
                found[index] = frame
                if len(found) == len(wanted):
                    break
        return [found[i] for i in indices]

    def close(self) -> None:
        if self._capture is not None:
            self._capture.release()
            self._capture = None

    def __enter__(self) -> RgbVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class FrameCountMismatchError(ValueError):
    """A skeleton file and its video have different frame counts, so frame i no longer pairs with frame i."""


class AlignedFrame(NamedTuple):
    index: int
    bodies: list[NtuBody]
    image: np.ndarray  # BGR uint8 (H, W, 3)


def aligned_frames(
    skeleton: SkeletonFile, video: RgbVideo, *, allow_mismatch: bool = False
) -> Iterator[AlignedFrame]:
    """Pairs skeleton frame i with video frame i.

    Different frame counts raise `FrameCountMismatchError` at once, unless `allow_mismatch`, which pairs
    the first min(counts) frames.
    """
    if skeleton.num_frames != len(video) and not allow_mismatch:
        raise FrameCountMismatchError(
            f"{skeleton.path} has {skeleton.num_frames} skeleton frames but {video.path} has {len(video)} "
            "video frames; they cannot be paired frame by frame"
        )
    return (
        AlignedFrame(index, bodies, image)
        for index, (bodies, image) in enumerate(zip(skeleton.frames, video, strict=False))
    )
