"""NTU RGB+D ``.skeleton`` files, read and written. Sample names, class names and protocols:
`recordings.ntu_samples`; the RGB videos: `recordings.ntu_video`.

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

Of the joint values only x y z are checked (`core.skeleton.implausible_joints`: NaN, infinity, behind the
sensor or past its reach is an error naming the line and joint). The others are kept as written, NaN,
infinity and 1e30 included, on purpose: depthX/depthY and the orientations serve only to write the file
again, and colorX/colorY that no camera gives (the SDK's mapper itself gives -infinity for a point it cannot
map) are taken as unmapped where they are used (`core.camera.believable_pixels`: the joint is projected
with the camera model instead).

Parsing (56,880 files for training) takes one ``split`` of the whole text and index arithmetic. The
line structure is checked without splitting line by line: the whitespace between tokens, with the tokens
deleted (``bytes.translate``), must equal the whitespace that the counts in the file imply. Any file that
fails a check is parsed again line by line, which either accepts it (irregular but valid whitespace) or
raises `SkeletonFormatError` with the file, the 1-based line and what was expected there.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.skeleton import KINECT_V2, implausible_joints, why_implausible
from recordings.ntu_samples import SampleName

JOINT_COUNT = KINECT_V2.num_joints  # per body, in the SDK's JointType order
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


def frame_count(path: str | os.PathLike) -> int:
    """The frame count a .skeleton's first line gives, read without parsing the frames (a listing of
    thousands of clips, a dataset's index), checked against the file's size: each frame takes a line at
    least. SkeletonFormatError where it cannot be right."""
    with open(path, "rb") as f:
        first = f.readline().strip()
    try:
        count = int(first)
    except ValueError:
        raise SkeletonFormatError(path, 1, f"expected the frame count, got {first[:20]!r}") from None
    size = os.path.getsize(path)
    if count < 0 or 2 * count > size:
        raise SkeletonFormatError(path, 1, f"a frame count of {count} cannot be right for a file of {size} "
                                           "bytes")
    return count


def read_skeleton(path: str | os.PathLike) -> SkeletonFile:
    """Read a ``.skeleton`` file (CRLF or LF). Raises `SkeletonFormatError` for malformed files."""
    path = Path(path)
    if path.is_dir():  # read_bytes said only "[Errno 21] Is a directory"
        raise IsADirectoryError(f"{path}: a folder; name one of its .skeleton files")
    if path.exists() and not path.is_file():  # a FIFO or a device: read_bytes waited for ever
        raise SkeletonFormatError(path, 1, "not a regular file")
    return parse_skeleton(path.read_bytes(), path)


def parse_skeleton(data: bytes, path: str | os.PathLike | None = None) -> SkeletonFile:
    """Parse the bytes of a ``.skeleton`` file; `path`, where they came from, is kept and named in errors."""
    try:
        frames = _parse_regular(data)
    except _NotRegular:
        frames = _parse_lines(data, "<bytes>" if path is None else path)
    _refuse_implausible_joints(frames, "<bytes>" if path is None else path)
    first_line_end = data.find(b"\n")
    line_ending = "\r\n" if first_line_end > 0 and data[first_line_end - 1] == 13 else "\n"
    return SkeletonFile(path=None if path is None else Path(path), frames=frames, line_ending=line_ending)


def _refuse_implausible_joints(frames: list[list[NtuBody]], path: str | os.PathLike) -> None:
    """A joint no sensor could have measured (`core.skeleton.implausible_joints`) is damage: refused with
    its line, as the format's other faults are."""
    bodies = [body for bodies in frames for body in bodies]
    if not bodies:
        return
    bad = implausible_joints(np.stack([body.xyz for body in bodies]))
    if not bad.any():
        return
    first_body, joint = (int(i) for i in np.argwhere(bad)[0])
    line, seen = 2, 0  # the frame count's line, then per frame: its body count, 27 lines per body
    for t, frame_bodies in enumerate(frames):
        if seen + len(frame_bodies) > first_body:
            b = first_body - seen
            joint_line = line + 1 + 27 * b + 2 + joint
            raise SkeletonFormatError(
                path, joint_line,
                f"frame {t + 1}, body {b + 1}, joint {joint + 1} ({KINECT_V2.joint_names[joint]}): "
                f"{why_implausible(bodies[first_body].xyz[joint])}",
            )
        seen += len(frame_bodies)
        line += 1 + 27 * len(frame_bodies)


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
