"""Record any live source into a clip in the NTU RGB+D layout, crash-safe.

A finished clip is up to four files in the output folder, named by an NTU-style sample name
(SsssCcccPpppRrrrAaaa, the action id from the site's label map):

    S001C001P001R001A121.skeleton     NTU text format: frame count, then per frame the bodies
    S001C001P001R001A121_rgb.avi      MJPG video, frame i = skeleton frame i (absent for skeleton-only
                                      sources)
    S001C001P001R001A121_depth.bin    the depth stream, when frames carry depth (recordings/depth.py:
                                      PNG-16 per frame, frame index and time kept; absent otherwise)
    S001C001P001R001A121.json         sidecar: label, per-frame timestamps, calibration, source,
                                      software version, the depth file (see `SIDECAR_FORMAT`), and
                                      optionally the labelled action intervals

While recording, everything goes to S..A121.partial/ next to them, written incrementally:
`skeleton.txt` (the .skeleton body without its frame-count header, which is not known yet),
`rgb.avi` (MJPG chunks appended as they come, recordings/avi.py; its index is added at the end),
`depth.bin` (depth records appended as they come) and `frames.jsonl` (a header line, then one line
per frame, and one line per action interval marked while recording). All of them are flushed and
fsync'd at least every `sync_interval_s` (1 s), so a crash or power cut loses at most the last second.
`close()` turns the partial folder into the final files (each written to a temporary name, then
`os.replace`d, the sidecar last) and removes it. After a crash, `recover_partial_recordings(DIR)` --
`python -m recordings recover DIR` -- does the same with whatever reached the disk, keeping the frames
present in the skeleton, video and frame list (and the depth records of those frames that are whole).
A recorder holds its partial folder's `recording.lock` until the folder is gone (released by the system
if the process dies), so recovery tells a crashed recording from one another program is still writing
and leaves the latter alone.

The recorder checks free disk space before it starts (`LowDiskSpaceError`) and at every sync; when the
space falls below `min_free_bytes` it finalises the clip so far and stops: `write` then returns False
and `stopped_reason` says why.

The sidecar's `intervals` (optional; format_version 1 readers that predate it ignore it): the action
intervals of the clip, as `core.timeline.Timeline.to_json()` writes them and `Timeline.from_json` reads
them back -- a list of {"start": s, "end": s, "label": name[, "person": id]}, [start, end) in the same
seconds as "timestamps" (0 = the first frame), "person" the body id in the .skeleton (the tracking id)
or absent for a label of the whole scene. A clip replayed (recordings.clip) gives its bodies the truth
these intervals say. The recorder writes them when given a timeline (`python -m recordings convert`
of a labelled PKU-MMD sequence does).

Labels: a clip is named by the class it is recorded for (`label`, the site's label map gives the
A-number) and its sidecar says so ("label", "action_id": the whole clip shows that action). Where an
action starts and ends can be marked while recording (`add_interval`, from any thread; stream times
of the frames): the sidecar then holds them as "intervals" (core.timeline JSON, seconds from the
clip's first frame; person = a tracking id, or absent for whoever is in view), and everything
outside them is background. The S of the name is the recording session (`ClipNaming.setup`, also the
sidecar's "session"): training holds clips out for validation by session, so near-identical clips of
one sitting never land on both sides (`next_session` gives the next free one).

Parts: an AVI holds 4 GiB (some 10 minutes of a Kinect's 1080p colour), and a clip without video is
finalised whole in memory, so the app's recording goes on clip after clip, each of at most 10 minutes
(`part_full`, live.pipeline), each clip a part of one recording: the sidecar's
"recording" ({"id", "part"[, "went_on"]}, `RecordingPart`) links them, and where any part has marks, the
parts without any are background (recordings.clip.parts_between_marks).

NTU fields the core Frame does not carry are written as: body id = tracking id; orientations,
clipped edges, hand states, lean and restricted flags 0; body tracking state 2; depthX/depthY
projected with `DEPTH_CAMERA` (a pinhole fitted to NTU's own depth coordinates); colour pixels the
Frame's `joints_color`, written 0 0 where unmappable (NaN) since NTU readers expect numbers.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import logging
import math
import os
import re
import shutil
import struct
import threading
import time
import unicodedata
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, BinaryIO

import numpy as np

from core.atomic import replace_atomically, sync_directory
from core.camera import DEFAULT_CAMERA, DEPTH_CAMERA, ColorCamera
from core.frame import Body, Frame
from core.locks import lock_exclusive
from core.package_files import NOTHING_MADE_BEFORE, running_software
from core.privacy import PrivacyMode
from core.skeleton import implausible_joints
from core.timeline import Interval, Timeline, frame_period_s
from core.wording import disk_amount
from recordings.argument_types import as_typed
from recordings.avi import MAX_AVI_BYTES, AviError, MjpegAviWriter, finalize_avi
from recordings.depth import DEPTH_HEIGHT, DEPTH_WIDTH, FORMAT_NAME, DepthWriter, finalize_depth
from recordings.depth import VERSION as DEPTH_VERSION
from recordings.labels import LabelMap
from recordings.ntu import NtuBody, SkeletonFile, format_skeleton
from recordings.ntu_samples import SampleName
from recordings.recording import mean_fps

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "where-to-focus clip"
SIDECAR_VERSION = 1
PARTIAL_SUFFIX = ".partial"
PARTIAL_LOCK = "recording.lock"  # in the partial folder, held by the recorder writing it


@dataclass(frozen=True)
class RecordingPart:
    """A clip's place in a recording that goes on clip after clip as each one's video fills: the sidecar's
    "recording" (see the module docstring)."""

    recording: str  # the recording's id, the same in each of its parts
    number: int  # which part, from 1
    went_on: str | None = None  # the next part's sample name, where this one was full (Recorder.part_full)

    def to_json(self) -> dict:
        out: dict = {"id": self.recording, "part": self.number}
        if self.went_on is not None:
            out["went_on"] = self.went_on
        return out

    @classmethod
    def from_json(cls, raw: object) -> RecordingPart | None:
        """The part a sidecar's "recording" says, None where it says none (a clip recorded before parts
        were, converted, or edited into something else)."""
        if not isinstance(raw, dict):
            return None
        identity, number, went_on = raw.get("id"), raw.get("part"), raw.get("went_on")
        if not isinstance(identity, str) or not isinstance(number, int) or isinstance(number, bool) \
                or number < 1:
            return None
        return cls(identity, number, went_on if isinstance(went_on, str) else None)


# The room a video keeps for one more frame (a large 1080p JPEG is under 1 MB).
VIDEO_FRAME_ROOM = 4 * 1024**2
# A part of the app's recording lasts at most this long, video or not: finishing a part reads its
# skeleton whole into memory (two people: 300 MB in 45 minutes, a day's 10 GB, more than the stop's 30 s
# to write again), and training reads a clip whole. 10 minutes is about what a 1080p video's 4 GiB hold.
MAX_PART_S = 600.0

# Any name that is safe as a file stem on every system: a clip need not be named SsssCccc... (`--name
# room`). Not a Windows device name, whatever its case or suffix: CON.skeleton opens the console there.
_FILE_STEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_WINDOWS_DEVICE = re.compile(r"^(con|prn|aux|nul|com\d|lpt\d)(\..*)?$", re.IGNORECASE)


def why_not_a_sample_name(name: str) -> str | None:
    """Why `name` cannot name a clip's files, or None."""
    if not _FILE_STEM.match(name):
        return (f"sample name {name!r} must start with an ASCII letter or digit, followed by ASCII letters, "
                f"digits, '_', '-' or '.'")
    if _WINDOWS_DEVICE.match(name):
        return f"sample name {name!r} is a device on Windows (CON, PRN, AUX, NUL, COM1, LPT1, ...)"
    return None


def sample_name_from(text: str) -> str:
    """A sample name made from a file's name ("Zimmer 4 Sturz.xef" -> Zimmer_4_Sturz, "Übung" -> Ubung):
    accents dropped, anything else not allowed made '_'. A name in another script (転倒.xef) keeps what
    is left of it and a short hash of the whole: two such files are two clips, not "already exists"."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", plain).strip("_.-")
    if not text.isascii() and not re.search(r"[A-Za-z]", name):
        digest = hashlib.sha1(text.encode("utf-8", "surrogateescape")).hexdigest()[:8]
        name = "_".join(["clip", *filter(None, [name]), digest])
    return name if why_not_a_sample_name(name) is None else f"clip_{name}".rstrip("_")


class RecorderError(RuntimeError):
    pass


class LowDiskSpaceError(RecorderError):
    pass


# What a recording's own trouble raises (its disk, its files, a frame it cannot take, a name or label it
# refuses): said in one line. Anything else out of a recording is a defect of ours: said with its traceback.
RECORDING_ERRORS = (OSError, ValueError, RecorderError)


@dataclass(frozen=True)
class ClipNaming:
    """The S, C and P parts of generated sample names; R counts up past the clips already there.

    S is the recording session (a sitting: the same people, clothes, light and camera placement)."""

    setup: int = 1
    camera: int = 1
    performer: int = 1


@dataclass(frozen=True)
class RecorderConfig:
    fps: float = 30.0  # the AVI's rate while recording; finalising sets the rate the frames came at
    jpeg_quality: int = 90
    record_video: bool = True  # False: skeleton + sidecar only, even when frames carry colour
    # Depth frames (Frame.depth) into <name>_depth.bin when frames carry them. Whether a frame may
    # carry depth at all is the privacy mode's call, made before the recorder (live/capture.py).
    record_depth: bool = True
    min_free_bytes: int = 2_000_000_000  # said in GB (1e9 bytes), as --min-free-gb takes it
    sync_interval_s: float = 1.0
    naming: ClipNaming = field(default_factory=ClipNaming)


@dataclass(frozen=True)
class ClipFiles:
    """The files of one finished clip (video None for skeleton-only clips)."""

    skeleton: Path
    sidecar: Path
    video: Path | None
    frame_count: int
    depth: Path | None = None  # <name>_depth.bin, None when no frame carried depth


# Interval times are stored to 0.1 ms (core.timeline.Interval.to_json): one that ends where the clip ends
# reads back up to that much past it.
STORED_TIME_SLACK_S = 1e-3


def labelled_length_s(timestamps: np.ndarray) -> float:
    """How far a clip's labels may reach: first to last frame, and the last frame's own period."""
    if not len(timestamps):
        return 0.0
    return float(timestamps[-1] - timestamps[0]) + frame_period_s(timestamps)


# The files and folder a clip's name is given to: a name any of them holds is taken (a sidecar or a video
# left behind after its skeleton was deleted would be overwritten).
CLIP_SUFFIXES = (".skeleton", ".json", "_rgb.avi", "_depth.bin", PARTIAL_SUFFIX)


def free_sample_name(out_dir: Path, stem: str) -> str:
    """`stem`, or `stem_2`, `stem_3`, ... where a clip (finished or partial, or a file of one left behind)
    has it already: an unlabelled clip is named by the local second it starts, which comes round again
    (r pressed twice within a second, the hour repeated when summer time ends, a clock set back)."""
    name, number = stem, 1
    while any((out_dir / f"{name}{suffix}").exists() for suffix in CLIP_SUFFIXES):
        number += 1
        name = f"{stem}_{number}"
    return name


def next_sample_name(out_dir: Path, action_id: int, naming: ClipNaming = ClipNaming()) -> str:
    """S..C..P..R..A.. with the first replication number not yet used in out_dir (finished or partial)."""

    def name(replication: int) -> str:
        return str(SampleName(naming.setup, naming.camera, naming.performer, replication, action_id))

    for replication in range(1, 1000):
        candidate = name(replication)
        if not any((out_dir / (candidate + suffix)).exists() for suffix in CLIP_SUFFIXES):
            return candidate
    raise RecorderError(
        f"{out_dir}: replications R001-R999 of {name(0)[:12]}...A{action_id:03d} are all taken"
    )


def clip_session(name: str, sidecar: dict | None) -> int | None:
    """A clip's recording session: the sidecar's "session", else the S of an NTU-style name."""
    if sidecar is not None and isinstance(sidecar.get("session"), int):
        return int(sidecar["session"])
    try:
        return SampleName.parse(name).setup
    except ValueError:
        return None


def _naming_of(sample_name: str, naming: ClipNaming) -> ClipNaming:
    """The session, camera and performer a clip is recorded with: its name's when it is NTU-style, else
    naming's (an unlabelled clip's name is its time: the sidecar keeps them for `recordings export`)."""
    try:
        name = SampleName.parse(sample_name)
    except ValueError:
        return naming
    return ClipNaming(setup=name.setup, camera=name.camera, performer=name.performer)


def next_session(out_dir: Path | str) -> int:
    """One more than the highest session of the clips (finished or partial) in `out_dir`; 1 if none."""
    from recordings.clip import ClipError, read_sidecar_header  # (that module builds on this one)

    out_dir = Path(out_dir)
    highest = 0
    if out_dir.is_dir():
        for path in out_dir.iterdir():
            name = path.name
            sidecar = None
            if name.endswith(".json"):
                # Its session, not its frames' times (a room's start read a share's whole month); a newer
                # version's too (rooms of a shared folder upgraded one by one must not reuse its session).
                try:
                    sidecar = read_sidecar_header(path, any_version=True)
                except (OSError, ClipError):
                    sidecar = None
                stem = name[: -len(".json")]
            elif name.endswith(PARTIAL_SUFFIX):
                stem = name[: -len(PARTIAL_SUFFIX)]
            elif name.endswith(".skeleton"):
                stem = name[: -len(".skeleton")]
            else:
                continue
            session = clip_session(stem, sidecar if isinstance(sidecar, dict) else None)
            highest = max(highest, session or 0)
    if highest >= 999:
        raise RecorderError(f"{out_dir}: sessions S001-S999 are all taken; record into another folder")
    return highest + 1


# ---- NTU text blocks --------------------------------------------------------------------------------


def _significant(values: np.ndarray) -> list[list[float]]:
    # Sensor values are float32: 7 significant digits keep them exactly enough and the text as short
    # as NTU's own files (repr of a float32 widened to float64 would take ~18 digits).
    return [[float(f"{v:.7g}") for v in row] for row in values.tolist()]


def ntu_body(body: Body, depth_camera: ColorCamera = DEPTH_CAMERA) -> NtuBody:
    """A core Body in the NTU record: fields the Frame does not carry are 0, body tracking state 2."""
    joints = np.asarray(body.joints, dtype=np.float64)
    unknown = implausible_joints(joints)  # (a glitch past the sensor's reach too: readers refuse those)
    joints = np.where(unknown[:, None], 0.0, joints)
    depth_uv, _ = depth_camera.project(joints)
    color_uv = np.asarray(body.joints_color, dtype=np.float64)
    table = np.zeros((len(joints), 12))
    table[:, 0:3] = joints
    table[:, 3:5] = np.where(np.isfinite(depth_uv), depth_uv, 0.0)
    table[:, 5:7] = np.where(np.isfinite(color_uv), color_uv, 0.0)
    # A joint with no position is written at 0 0 0 as not tracked, which is how readers take it.
    table[:, 11] = np.where(unknown, 0, np.asarray(body.states).clip(0, 2))
    return NtuBody(int(body.tracking_id), 0, 0, 0, 0, 0, 0, 0.0, 0.0, 2, np.array(_significant(table)))


def format_frame(bodies: Iterable[Body], depth_camera: ColorCamera = DEPTH_CAMERA) -> bytes:
    """One frame of a .skeleton file (LF line endings): body count, then each body's lines."""
    text = format_skeleton(SkeletonFile(None, [[ntu_body(b, depth_camera) for b in bodies]]), "\n")
    return text[text.index(b"\n") + 1 :]  # drop the file's frame count: the partial file has none


def complete_frame_blocks(body: BinaryIO, source: str = "skeleton.txt", limit: int | None = None) -> array:
    """Byte offsets, from where `body` stands, just after each complete frame block of a partial skeleton
    body, read a line at a time (a recording of hours is GBs); at most `limit` of them. Stops at the first
    incomplete or malformed block: the tail a crash cut short."""
    ends = array("q")
    pos = 0

    def line() -> str | None:
        nonlocal pos
        raw = body.readline()
        if not raw.endswith(b"\n"):
            return None
        pos += len(raw)
        return raw.decode("ascii", errors="replace").strip()

    try:
        while limit is None or len(ends) < limit:
            count = line()
            if count is None:
                break
            for _ in range(int(count)):
                info = line()
                joints = line()
                if info is None or joints is None or len(info.split()) != 10:
                    raise ValueError
                for _ in range(int(joints)):
                    joint = line()
                    if joint is None or len(joint.split()) != 12:
                        raise ValueError
            ends.append(pos)
    except ValueError:
        log.warning(
            "%s: malformed frame block at byte %d; keeping the %d frames before it",
            source,
            ends[-1] if ends else 0,
            len(ends),
        )
    return ends


# ---- the recorder -----------------------------------------------------------------------------------


def _now() -> str:
    # The recording PC's local time with its offset: the day a clip was recorded is the room's, on any
    # machine that reads it later (in UTC, 00:30 in Berlin was the day before for an erasure run in UTC).
    return _dt.datetime.now().astimezone().isoformat(timespec="seconds")


def started_on_room_clock(header: dict) -> _dt.datetime:
    """A recording's start (its header's or sidecar's "started_at") as the room's clock read it: in its own
    offset where the header names its time zone (this version writes the recording PC's local time, and
    its zone: a room on UTC writes +00:00 too), else in this machine's local time (earlier versions wrote
    UTC). ValueError where it says no time."""
    stamp = _dt.datetime.fromisoformat(str(header.get("started_at")))
    return stamp if "time_zone" in header else stamp.astimezone()


class Recorder:
    """Record Frames into a clip; see the module docstring for the files and guarantees.

    >>> with Recorder("site_clips", label="patient fell", label_map=site_labels, source="kinect") as rec:
    ...     for frame in source:
    ...         if not rec.write(frame):
    ...             break                      # stopped: rec.stopped_reason says why (low disk space)
    """

    def __init__(
        self,
        out_dir: Path | str,
        *,
        label: str | int | None = None,
        label_map: LabelMap | None = None,
        sample_name: str | None = None,
        free_name_from: str | None = None,
        camera: ColorCamera = DEFAULT_CAMERA,
        source: str = "unknown",
        config: RecorderConfig = RecorderConfig(),
        privacy: PrivacyMode | None = None,
        timeline: Timeline | None = None,
        room: str | None = None,
        part_of: RecordingPart | None = None,
    ) -> None:
        """`timeline`: labelled intervals of the clip, in seconds from its first frame, written to the
        sidecar's "intervals" (known before recording starts: a conversion of a labelled sequence).
        `room`: where the sensor is (live's --room), in the sidecar: clips of several rooms in one folder
        say whose they are. `part_of`: which part of a recording that goes on clip after clip this clip
        is (live), the sidecar's "recording". The clip is named
        `sample_name`; else `free_name_from` (a stem: the first free of stem, stem_2, ...), else
        S..C..P..R..A.. of `label` (the next free replication). Those two are taken as the recording
        starts: a name another recorder takes meanwhile (a second station on the folder) gives the next
        one."""
        self.out_dir = Path(out_dir)
        self.config = config
        self.camera = camera
        self.label: str | None = None
        self.action_id: int | None = None
        if label is not None:
            if label_map is None:
                raise ValueError("a label needs the site's label map (recordings.labels.read_label_map)")
            self.action_id = label_map.action_id(label)
            self.label = label_map.name(self.action_id)
        for given in (sample_name, free_name_from):
            if given is not None and (why := why_not_a_sample_name(given)) is not None:
                raise ValueError(why)  # before the folder is made: a refused name leaves nothing behind
        self.out_dir.mkdir(parents=True, exist_ok=True)
        if sample_name is None and free_name_from is None and self.action_id is None:
            raise ValueError("give a label (to name the clip S..C..P..R..A..), free_name_from or a "
                             "sample_name")

        def free_name() -> str:
            if free_name_from is not None:
                return free_sample_name(self.out_dir, free_name_from)
            return next_sample_name(self.out_dir, self.action_id, config.naming)

        chosen_here = sample_name is None
        sample_name = free_name() if sample_name is None else sample_name
        self.sample_name = sample_name
        self.partial_dir = self.out_dir / (sample_name + PARTIAL_SUFFIX)
        # A name chosen here was free as it was chosen; one taken since is passed over below, at the mkdir.
        named = () if chosen_here else (self.partial_dir, self.out_dir / f"{sample_name}.skeleton")
        taken = [p for p in named if p.exists()]
        if taken and taken[0] == self.partial_dir:  # recover finishes it (or says what to do)
            converted = interrupted_conversion(self.partial_dir)
            raise RecorderError(
                f"{taken[0]} already exists: {converted}" if converted is not None else
                f"{taken[0]} already exists: a recording of that name was interrupted; python -m recordings "
                f"recover {as_typed(self.out_dir)} finalises it, or choose another sample name"
            )
        if taken:  # a finished clip is never written over
            raise RecorderError(f"{taken[0]} already exists; choose another sample name (convert: --name)")
        self._check_disk_space(starting=True)
        if left := interrupted_recordings(self.out_dir):
            more = f" and {len(left) - 3} more" if len(left) > 3 else ""
            named = ", ".join(p.name for p in left[:3]) + more
            log.warning("%s: %d recording(s) a crash interrupted (%s); python -m recordings recover %s "
                        "finalises them", self.out_dir, len(left), named, as_typed(self.out_dir))

        naming = _naming_of(sample_name, config.naming)
        header = {
            "format": SIDECAR_FORMAT,
            "format_version": SIDECAR_VERSION,
            "sample_name": sample_name,
            "label": self.label,
            "action_id": self.action_id,
            "session": naming.setup,
            "camera": naming.camera,
            "performer": naming.performer,
            "source": source,
            # live's --privacy when the clip was recorded (off / blur / skeleton)
            "privacy": privacy.value if privacy is not None else None,
            # With a checkout's commit: an editable install's version is its install's.
            "software": dict(running_software()),
            "calibration": {"color_camera": camera.to_dict(), "depth_camera": DEPTH_CAMERA.to_dict()},
            "started_at": _now(),
            "time_zone": _dt.datetime.now().astimezone().tzname(),  # started_at is this zone's time
            "config": {"fps": config.fps, "jpeg_quality": config.jpeg_quality},
        }
        if room is not None:
            header["room"] = room
        if time.time() < NOTHING_MADE_BEFORE:
            log.warning("%s: the clock reads %s, before this software existed: the clip is dated wrong, and "
                        "erasing by age (--older-than) leaves it; is the machine's time synchronised?",
                        self.out_dir / sample_name, header["started_at"])
        self.part_of = part_of
        if part_of is not None:
            header["recording"] = part_of.to_json()
        self._went_on_in: str | None = None  # the next part's name, once this one is full (part_full)
        self._full_because: str | None = None  # part_full's words when it went on in the next
        if timeline is not None:
            # In the header line, so a clip recovered after a crash keeps its intervals too.
            header["intervals"] = timeline.to_json()
        self._video: MjpegAviWriter | None = None
        self._depth: DepthWriter | None = None
        self._intervals_lock = threading.Lock()
        self._pending_intervals: list[Interval] = []  # stream times, not yet in frames.jsonl
        self._sealed = False  # finishing: no more marks (under _intervals_lock)
        self._unfinished: RecorderError | None = None  # finishing failed; the partial folder is kept
        self._first_timestamp: float | None = None
        self._last_timestamp: float | None = None
        self._last_sync = time.monotonic()
        self.frame_count = 0
        self.stopped_reason: str | None = None
        self.disk_free: int | None = None  # bytes free on the clip's disk at the last check (each sync)
        self.files: ClipFiles | None = None

        while True:
            try:
                self.partial_dir.mkdir()
                break
            except FileExistsError:
                # Another recorder took the name since it was chosen: two stations recording one class into
                # one folder picked the same replication, and the second stopped (live with it).
                again = free_name() if chosen_here else self.sample_name
                if again == self.sample_name:  # given by the caller, or something in the way (a bad link)
                    raise RecorderError(f"{self.partial_dir} is in the way: another recording of that name "
                                        "started meanwhile, or it is no folder; choose another sample "
                                        "name") from None
                self.sample_name = header["sample_name"] = again
                self.partial_dir = self.out_dir / (again + PARTIAL_SUFFIX)
        opened: list[IO[bytes]] = []
        try:
            self._lock = _hold_partial(self.partial_dir, create=True)
            opened.append(self._lock)
            self._skeleton = open(self.partial_dir / "skeleton.txt", "wb")  # noqa: SIM115 - closed in close()
            opened.append(self._skeleton)
            self._frames = open(self.partial_dir / "frames.jsonl", "wb")  # noqa: SIM115
            opened.append(self._frames)
            self._frames.write(json.dumps(header).encode() + b"\n")
            self._sync()
        except BaseException:  # nothing recorded yet: no half-made folder left for `recover` to report
            for file in opened:
                # Closing flushes the header, which a full disk refuses again: that must not keep the
                # folder, which `recover` could never finish (no header line), from going.
                with contextlib.suppress(OSError):
                    file.close()
            shutil.rmtree(self.partial_dir, ignore_errors=True)
            raise

    def _check_disk_space(self, starting: bool = False) -> str | None:
        free = self.disk_free = shutil.disk_usage(self.out_dir).free
        if free >= self.config.min_free_bytes:
            return None
        message = (
            f"low disk space in {self.out_dir}: {disk_amount(free)} free, the recorder keeps at least "
            f"{disk_amount(self.config.min_free_bytes)}"
        )
        if starting:
            raise LowDiskSpaceError(f"cannot start recording: {message}")
        return message

    @property
    def recording(self) -> bool:
        return self.files is None and self._unfinished is None

    def went_on_in(self, sample_name: str, full_because: str) -> None:
        """This part is full (`full_because`: `part_full` when that was decided) and its recording goes on
        in the clip `sample_name` (`part_of`'s next part): kept in its sidecar ("recording": "went_on"; a
        crash keeps it too), so that a missing next part is known to be missing. On the writer's thread,
        before close()."""
        self._went_on_in, self._full_because = sample_name, full_because
        self._frames.write(json.dumps({"went_on": sample_name}).encode() + b"\n")

    def add_interval(self, start: float, end: float, label: str, person: int | None = None) -> None:
        """Mark an action between two stream times (the timestamps of the frames written). Safe from
        any thread: the writer puts it into the partial files with its next frame, so a crash keeps it.
        Times before the first or after the last frame are cut to the clip when it is finalised."""
        if not (end > start):
            raise ValueError(f"{self.sample_name}: an interval must end after it starts, got {start}-{end}")
        if not label:
            raise ValueError(f"{self.sample_name}: an interval needs a label")
        with self._intervals_lock:
            if self._sealed:  # it would never be written: said, not dropped
                raise RecorderError(f"{self.sample_name}: the recording has ended "
                                    f"({self.stopped_reason or 'closed'}); {label!r} was not marked")
            self._pending_intervals.append(Interval(float(start), float(end), label, person))

    @property
    def video_full(self) -> bool:
        """The video has no room for another frame (an AVI holds 4 GiB: some 10 minutes of a Kinect's
        1080p colour): the next write stops the recording, unless its writer goes on in a new clip first
        (live.capture.RecordingSink)."""
        return self._video is not None and self._video.bytes_written + VIDEO_FRAME_ROOM > MAX_AVI_BYTES

    @property
    def part_full(self) -> str | None:
        """Why this clip, as a part of a longer recording, should go on in the next part before another frame
        (live.capture.RecordingSink): its video is full, or it has lasted MAX_PART_S. None while it is not."""
        if self.video_full:
            return "its video was full (4 GiB)"
        # Within a millisecond: 18,000 frame periods at 30 fps summed to just under 600 s, and parts
        # took one or two frames more, varying.
        lasted = None if self._first_timestamp is None else self._last_timestamp - self._first_timestamp
        if lasted is not None and lasted >= MAX_PART_S - STORED_TIME_SLACK_S:
            return f"it was {MAX_PART_S:g} s long"
        return None

    @property
    def first_timestamp(self) -> float | None:
        """Stream time of the clip's first frame (its 0 s), None before one is written."""
        return self._first_timestamp

    def _write_intervals(self) -> None:
        """Pending intervals -> frames.jsonl lines in clip seconds (writer's thread; needs a first frame)."""
        with self._intervals_lock:
            pending, self._pending_intervals = self._pending_intervals, []
        for interval in pending:
            first = self._first_timestamp
            shifted = Interval(round(interval.start - first, 6), round(interval.end - first, 6),
                               interval.label, interval.person)
            self._frames.write(json.dumps({"interval": shifted.to_json()}).encode() + b"\n")

    def write(self, frame: Frame) -> bool:
        """Append one frame. Returns False once the recorder has stopped (closed, low disk space, AVI
        size limit): later frames are dropped and `stopped_reason` says why."""
        if not self.recording:
            return False
        if self._last_timestamp is not None and frame.timestamp < self._last_timestamp:
            raise ValueError(
                f"{self.sample_name}: frame {self.frame_count} has timestamp {frame.timestamp} "
                f"before the previous frame's {self._last_timestamp}"
            )
        if self.frame_count == 0:
            self._first_timestamp = frame.timestamp
        if self._video is None and self.config.record_video and frame.color is not None:
            # At the first frame with colour, which need not be the first frame (a Kinect Studio file's
            # body stream may start before its colour stream): frame i of the video stays frame i of the
            # skeleton, so the frames before it show this image, marked "color": false.
            height, width = frame.color.shape[:2]
            self._video = MjpegAviWriter(
                self.partial_dir / "rgb.avi", width, height, self.config.fps, self.config.jpeg_quality
            )
            for i in range(self.frame_count):
                self._video.write(frame.color if i == 0 else None)  # None repeats: one JPEG encoding
        if self._video is not None:
            if self.video_full:
                self._stop("the video reached the AVI size limit (4 GiB)")
                return False
            self._video.write(frame.color)
        clip_time = round(frame.timestamp - self._first_timestamp, 6)
        if self.config.record_depth and frame.depth is not None:
            if self._depth is None:  # at the first frame with depth: a sensor's first ticks may have none
                self._depth = DepthWriter(self.partial_dir / "depth.bin")
            self._depth.write(self.frame_count, clip_time, frame.depth)
        self._skeleton.write(format_frame(frame.bodies))
        record = {"t": clip_time}
        if self.config.record_video and frame.color is None:
            record["color"] = False  # the video repeats the previous (or, before any, the first) image here
        self._frames.write(json.dumps(record).encode() + b"\n")
        self._last_timestamp = frame.timestamp
        self.frame_count += 1
        if self._pending_intervals:  # read without the lock: a mark seen a frame late is still written
            self._write_intervals()
        if time.monotonic() - self._last_sync >= self.config.sync_interval_s:
            self._sync()
            reason = self._check_disk_space()
            if reason is not None:
                self._stop(reason)
                return False
        return True

    def _sync(self) -> None:
        for f in (self._skeleton, self._frames):
            f.flush()
            os.fsync(f.fileno())
        if self._video is not None:
            self._video.sync()
        if self._depth is not None:
            self._depth.sync()
        self._last_sync = time.monotonic()

    def _stop(self, reason: str) -> None:
        log.warning("%s: recording stopped after %d frames: %s", self.sample_name, self.frame_count, reason)
        self.stopped_reason = reason
        self._finish(reason)

    def _finish(self, reason: str) -> ClipFiles:
        with self._intervals_lock:
            self._sealed = True
        try:
            if self.frame_count:
                self._write_intervals()
            self._sync()
            for f in (self._skeleton, self._frames):
                f.close()
            if self._video is not None:
                self._video.close()
            if self._depth is not None:
                self._depth.close()
            self.files = finalize_partial(self.partial_dir, stopped=reason, recovering=False, lock=self._lock)
        except (OSError, RecorderError) as error:  # a full or vanished disk, a damaged partial file
            # What reached the disk stays in the partial folder; its files and lock are let go so that
            # `recordings recover` can finalise it (a held lock would make it a running recording).
            for file in (self._skeleton, self._frames, self._video, self._depth, self._lock):
                if file is not None:
                    with contextlib.suppress(OSError):
                        file.close()
            self._unfinished = RecorderError(
                f"{self.partial_dir}: finalising the recording failed ({error}); the frames that reached the "
                f"disk are kept there: python -m recordings recover {as_typed(self.out_dir)} finalises them")
            raise self._unfinished from error
        return self.files

    def discard(self, *, frames_kept_elsewhere: bool = False) -> None:
        """Give up a recording: its files closed, its partial folder removed. Only one that has written no
        frame, unless `frames_kept_elsewhere` (a conversion cut short: its source file still holds them)."""
        if self.frame_count and not frames_kept_elsewhere:
            raise RecorderError(f"{self.partial_dir}: {self.frame_count} frames written; close() keeps them")
        for file in (self._skeleton, self._frames, self._video, self._depth):
            if file is not None:
                with contextlib.suppress(OSError):  # a full disk fails the flush: the folder goes anyway
                    file.close()
        # frames.jsonl first, while the folder is still held: a removal cut short (the process ending)
        # leaves no folder that `partial_recordings` takes for an interrupted recording.
        with contextlib.suppress(OSError):
            (self.partial_dir / "frames.jsonl").unlink(missing_ok=True)
        if self._lock is not None:
            with contextlib.suppress(OSError):
                self._lock.close()
        shutil.rmtree(self.partial_dir, ignore_errors=True)

    def close(self) -> ClipFiles:
        """Finalise the clip (idempotent) and return its files."""
        if self._unfinished is not None:
            raise self._unfinished
        if self.files is None:
            self._finish("closed" if self._went_on_in is None else
                         f"{self._full_because}: the recording went on in {self._went_on_in}")
        assert self.files is not None
        return self.files

    def __enter__(self) -> Recorder:
        return self

    def __exit__(self, *exc: object) -> None:
        # Keep what was recorded even when the caller failed: the frames so far are a valid clip.
        self.close()


class RecordingInProgress(RecorderError):
    """A partial folder that a running recorder (this process or another) is still writing."""


def _hold_partial(partial_dir: Path, create: bool) -> IO[bytes]:
    """The partial folder's lock file, held until closed; RecordingInProgress when a recorder holds it,
    FileNotFoundError when it has none and `create` is False (a check must not make one in a folder its
    recorder is removing)."""
    handle = open(partial_dir / PARTIAL_LOCK, "a+b" if create else "rb")  # noqa: SIM115 - the caller closes it
    try:
        lock_exclusive(handle)
    except OSError:
        handle.close()
        raise RecordingInProgress(f"{partial_dir}: a running recording is writing it (not interrupted)"
                                  ) from None
    return handle


# The sidecar sources `recordings convert` gives its clips (xef.CONVERTED_SOURCE + name, "pkummd:" + name).
CONVERTED_PREFIXES = ("xef:", "pkummd:")

# How the sidecar "source" of a clip `recordings synth` made begins: nobody's room.
SIMULATED_SOURCE = "simulated"


def made_not_recorded(source: object) -> bool:
    """Whether a sidecar's "source" says the clip was made (by the simulator, or a conversion of a research
    dataset or a Kinect Studio file) rather than recorded by the app in a room."""
    return str(source or "").startswith((SIMULATED_SOURCE, *CONVERTED_PREFIXES))


class ConversionInterrupted(RecorderError):
    """A conversion's partial folder, which recovery leaves: its source converts again, whole."""


def interrupted_conversion(partial_dir: Path, *, held: bool = False) -> str | None:
    """What to do with `partial_dir` where it is an interrupted conversion (`recordings convert`), else
    None (also for one running now). Its source holds every frame, so it is not finished as a shorter
    clip, which list and training took as whole; but a conversion whose clip is being put in place (its
    skeleton, then its sidecar) lost only its finishing, which recovery completes as any recording's.
    `held`: the caller holds the folder's lock (recovery), so it is not checked."""
    name = partial_dir.name[: -len(PARTIAL_SUFFIX)]
    try:
        with open(partial_dir / "frames.jsonl", "rb") as frames:
            source = str(json.loads(frames.readline()).get("source", ""))
    except (OSError, ValueError, AttributeError):
        return None
    finishing = any((partial_dir.parent / f"{name}{suffix}").exists() for suffix in (".json", ".skeleton"))
    if not source.startswith(CONVERTED_PREFIXES) or finishing:
        return None
    if not held:  # a conversion running now is not to be removed
        try:
            _hold_partial(partial_dir, create=False).close()
        except RecordingInProgress:
            return None
        except OSError:  # no lock file (a version before it), or another user's: as interrupted
            pass
    return (f"an interrupted conversion of {source.split(':', 1)[1]}: remove {partial_dir.name} and convert "
            "the source again")


def finalize_partial(
    partial_dir: Path | str, stopped: str = "recovered after an interruption", *, recovering: bool = True,
    lock: IO[bytes] | None = None,
) -> ClipFiles:
    """Turn a recorder's partial folder into the final clip files, keeping the frames present in all of
    its files, then remove the folder. Used by Recorder.close (`recovering` False, `lock` its held
    lock) and by recovery after a crash (the lock is taken here: RecordingInProgress when a running
    recorder holds it; each depth image's CRC is then checked too)."""
    partial_dir = Path(partial_dir)
    if not partial_dir.name.endswith(PARTIAL_SUFFIX):
        raise ValueError(f"{partial_dir}: not a recorder's partial folder (*{PARTIAL_SUFFIX})")
    if lock is not None:
        return _finalize_locked(partial_dir, stopped, recovering, lock)
    if not partial_dir.is_dir():
        raise RecorderError(f"{partial_dir}: no such partial folder")
    try:
        lock = _hold_partial(partial_dir, create=False)
    except FileNotFoundError:  # a folder left by a version before the lock
        lock = _hold_partial(partial_dir, create=True)
    return _finalize_locked(partial_dir, stopped, recovering, lock)


def _finalize_locked(partial_dir: Path, stopped: str, recovering: bool, lock: IO[bytes]) -> ClipFiles:
    try:
        files = _finalize(partial_dir, stopped, recovering)
    except BaseException:
        lock.close()
        raise
    # The frames' files are gone by now: a recovery that takes the lock between these lines finds
    # nothing to finalise (no header line) and writes nothing.
    lock.close()
    # A check may hold the lock file open for a moment (Windows then refuses to delete it): whatever is
    # left of the folder goes with it, never the clip.
    shutil.rmtree(partial_dir, ignore_errors=True)
    sync_directory(partial_dir.parent)
    return files


def _complete_lines(path: Path) -> Iterator[bytes]:
    """The newline-terminated lines of `path`, read one at a time (none if it is missing): the last one a
    crash cut short has no newline."""
    try:
        lines = open(path, "rb")  # noqa: SIM115 - closed when the lines run out
    except FileNotFoundError:
        return
    with lines:
        yield from (line for line in lines if line.endswith(b"\n"))


def _frame_records(lines: Iterator[bytes], frames_path: Path
                   ) -> tuple[dict, array, list[int], str | None, list[Interval]]:
    """What frames.jsonl's lines say: (its header, each frame's time, the frames whose colour the video
    lacks, the next part where this one was full (Recorder.went_on_in), the intervals marked: the header's
    (a converted labelled sequence) and those marked while recording, in seconds from the clip's first
    frame). The frames are read up to a damaged line."""
    first = next(lines, None)
    if first is None:
        raise RecorderError(f"{frames_path}: no header line; the recording never started writing")
    try:
        header = json.loads(first)
    except json.JSONDecodeError as error:
        raise RecorderError(f"{frames_path}: line 1: header is not JSON: {error}") from None
    times, colourless, went_on = array("d"), [], None
    marked = [_header_interval(entry, frames_path) for entry in header.get("intervals") or []]
    for number, line in enumerate(lines, start=2):
        try:
            record = json.loads(line)
            if "interval" in record:
                marked.append(Interval.from_json(record["interval"]))
                continue
            if "went_on" in record:
                went_on = str(record["went_on"])
                continue
            times.append(float(record["t"]))
            if record.get("color") is False:
                colourless.append(len(times) - 1)
        except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
            log.warning("%s: line %d is damaged; keeping the %d frames before it", frames_path, number,
                        len(times))
            break
    return header, times, colourless, went_on, marked


def _finalize(partial_dir: Path, stopped: str, recovering: bool) -> ClipFiles:
    # Every file is read a line or a block at a time: a partial folder an older version left (one clip of
    # a day's recording, GBs of skeleton) is recovered in bounded memory as a part of 10 minutes is.
    name = partial_dir.name[: -len(PARTIAL_SUFFIX)]
    out_dir = partial_dir.parent
    frames_path = partial_dir / "frames.jsonl"
    if recovering and (converted := interrupted_conversion(partial_dir, held=True)) is not None:
        raise ConversionInterrupted(f"{partial_dir}: {converted}")
    with contextlib.closing(_complete_lines(frames_path)) as lines:  # closed on every way out (Windows)
        header, times, colourless, went_on, marked = _frame_records(lines, frames_path)
    skeleton_part = partial_dir / "skeleton.txt"
    block_ends = array("q")
    if skeleton_part.exists():
        with open(skeleton_part, "rb") as body:
            block_ends = complete_frame_blocks(body, str(skeleton_part), limit=len(times))
    count = min(len(times), len(block_ends))

    # A finalisation interrupted after it moved the video or the depth into place (Ctrl-C, a crash): the
    # file under the clip's name is this clip's, finalised already, and is taken from there -- where the
    # move left its mark (`_moving`), never an older file of the same name.
    video_part = _part_or_moved(partial_dir / "rgb.avi", out_dir / f"{name}_rgb.avi")
    video_path: Path | None = None
    width = height = None
    # The video plays at the rate the frames came (15 fps in a dark room; the writer's header said 30). A
    # rate no camera has (frames stamped within a microsecond, whose rate no header holds) keeps the
    # writer's.
    rate = mean_fps(np.frombuffer(times, np.float64)[:count])
    if not 0.01 <= rate <= 1000.0:
        rate = header.get("config", {}).get("fps", 30.0)
    if video_part.exists():
        try:
            count = finalize_avi(video_part, max_frames=count, fps=rate)
        except AviError as error:
            raise RecorderError(str(error)) from None
        with open(video_part, "rb") as f:
            f.seek(64)
            width, height = struct.unpack("<II", f.read(8))
        video_path = out_dir / f"{name}_rgb.avi"

    skeleton_path = out_dir / f"{name}.skeleton"
    body_length = block_ends[count - 1] if count else 0

    def write_skeleton(out: BinaryIO) -> None:  # the frame count, then the body's first `count` blocks
        out.write(b"%d\n" % count)
        if body_length:
            with open(skeleton_part, "rb") as body:
                _copy_bytes(body, out, body_length)

    replace_atomically(skeleton_path, write_skeleton)
    if video_path is not None:
        _moving(partial_dir / "rgb.avi")
        os.replace(video_part, video_path)
    depth_part = _part_or_moved(partial_dir / "depth.bin", out_dir / f"{name}_depth.bin")
    depth_path: Path | None = None
    depth_frames = 0
    if depth_part.exists():
        depth_path = out_dir / f"{name}_depth.bin"
        _moving(partial_dir / "depth.bin")
        depth_frames = finalize_depth(depth_part, depth_path, count, check_images=recovering)
        if not depth_frames:
            depth_path = None

    timestamps = times[:count].tolist()
    sidecar = dict(header)
    sidecar.pop("config", None)
    sidecar.pop("intervals", None)  # only the fitted ones below: raw ones may reach past a short clip's end
    if went_on is not None and (part := RecordingPart.from_json(sidecar.get("recording"))) is not None:
        sidecar["recording"] = replace(part, went_on=went_on).to_json()
    sidecar.update(
        frame_count=count,
        duration_s=round(timestamps[-1] - timestamps[0], 6) if count else 0.0,
        timestamps=timestamps,
        missing_color_frames=[i for i in colourless if i < count]
        if video_path is not None else [],  # without a video no frame has colour: nothing to list
        skeleton=skeleton_path.name,
        video=None
        if video_path is None
        else {
            "file": video_path.name,
            "codec": "MJPG",
            "fps": round(rate, 3),
            "width": width,
            "height": height,
        },
        depth=None
        if depth_path is None
        else {
            "file": depth_path.name,
            "format": FORMAT_NAME,
            "format_version": DEPTH_VERSION,
            "encoding": "PNG-16 per frame, millimetres",
            "width": DEPTH_WIDTH,
            "height": DEPTH_HEIGHT,
            "frames": depth_frames,  # calibration.depth_camera projects its pixels
        },
        finished_at=_now(),
        stopped=stopped,
    )
    if marked:
        end = labelled_length_s(np.asarray(timestamps, np.float64))
        intervals = fit_intervals(marked, end, str(frames_path))
        if intervals:
            checked = Timeline.checked(intervals, duration=end, source=str(frames_path))
            sidecar["intervals"] = checked.to_json()
    sidecar_path = out_dir / f"{name}.json"
    replace_atomically(sidecar_path, json.dumps(sidecar, indent=1).encode() + b"\n")
    # The header first: a recovery after a crash in this loop finds nothing to finalise, not frames.jsonl
    # beside a skeleton.txt already gone (0 frames, written over the finished clip).
    (partial_dir / "frames.jsonl").unlink(missing_ok=True)
    for leftover in partial_dir.iterdir():
        if leftover.name != PARTIAL_LOCK:  # held by the caller: removed once released
            leftover.unlink()
    return ClipFiles(skeleton=skeleton_path, sidecar=sidecar_path, video=video_path, frame_count=count,
                     depth=depth_path)


def _copy_bytes(source: BinaryIO, target: BinaryIO, length: int, chunk: int = 1 << 20) -> None:
    """Copy the next `length` bytes of `source` into `target`, a chunk at a time."""
    while length > 0:
        data = source.read(min(chunk, length))
        if not data:
            raise RecorderError(f"{source.name}: shorter than it was a moment ago (changed while finishing?)")
        target.write(data)
        length -= len(data)


def _moving(part: Path) -> None:
    """Mark `part` as being moved out of its partial folder (the mark is synced before the move)."""
    with open(part.with_name(part.name + ".moved"), "wb") as mark:
        os.fsync(mark.fileno())
    sync_directory(part.parent)


def _part_or_moved(part: Path, final: Path) -> Path:
    moved = not part.exists() and part.with_name(part.name + ".moved").exists() and final.exists()
    return final if moved else part


def _header_interval(entry: dict, frames_path: Path) -> Interval:
    try:
        return Interval.from_json(entry)
    except (KeyError, TypeError, ValueError, AttributeError):
        raise RecorderError(
            f"{frames_path}: line 1: header interval {entry!r} is not start/end/label"
        ) from None


def fit_intervals(intervals: list[Interval], duration: float, source: str) -> list[Interval]:
    """Marked intervals cut to [0, duration), in start order, each person's (and the scene-wide ones)
    without overlaps: a later one starts where the earlier one ended; what is left empty is dropped.
    Marks made by hand can be a little off (a key pressed before the recording started, twice)."""
    fitted: list[Interval] = []
    for interval in sorted(intervals, key=lambda i: (i.start, i.end)):
        start, end = max(0.0, interval.start), min(duration, interval.end)
        for earlier in fitted:
            collides = earlier.person is None or interval.person is None or earlier.person == interval.person
            if collides and earlier.end > start:
                start = earlier.end
        # Rounded as the sidecar stores them (and never past the end): what is checked on reading is
        # what was written.
        start, end = round(start, 4), min(round(end, 4), math.floor(duration * 1e4) / 1e4)
        if end - start <= 1e-3:
            log.warning("%s: interval %s %.3f-%.3f s is empty once cut to the clip; dropped", source,
                        interval.label, interval.start, interval.end)
            continue
        fitted.append(Interval(start, end, interval.label, interval.person))
    return fitted


def partial_recordings(directory: Path | str) -> tuple[list[Path], list[Path]]:
    """The *.partial folders in `directory`: (interrupted ones, each a recording `recover` can finalise;
    those a running recorder is writing)."""
    interrupted, running = [], []
    for partial in sorted(Path(directory).glob(f"*{PARTIAL_SUFFIX}")):
        if not partial.is_dir():
            continue
        try:
            _hold_partial(partial, create=False).close()
        except RecordingInProgress:
            running.append(partial)
            continue
        except FileNotFoundError:  # no lock: a version before the lock, or a folder being removed
            pass
        except OSError:  # cannot tell (another user's recording): left alone
            running.append(partial)
            continue
        # Neither: nothing recorded, and its recorder is removing the folder.
        if (partial / "frames.jsonl").is_file() or _finished_beside(partial):
            interrupted.append(partial)
    return interrupted, running


def _finished_beside(partial: Path) -> bool:
    """Whether the clip of `partial` is finished beside it, its frames' record gone: the removal of the
    folder was cut short (a crash, a kill), and only leftovers of the finished clip are in it."""
    name = partial.name[: -len(PARTIAL_SUFFIX)]
    return (not (partial / "frames.jsonl").exists() and (partial.parent / f"{name}.skeleton").is_file()
            and (partial.parent / f"{name}.json").is_file())


def interrupted_recordings(directory: Path | str) -> list[Path]:
    """The *.partial folders a crash left in `directory` (not those a running recorder writes)."""
    return partial_recordings(directory)[0]


def recover_partial_recordings(directory: Path | str) -> list[ClipFiles]:
    """Finalise every interrupted recording (*.partial folder) in a directory; those a running recorder
    writes are left alone."""
    recovered = []
    for partial in interrupted_recordings(directory):
        try:
            recovered.append(finalize_partial(partial))
        except RecordingInProgress:  # a recorder started on that name meanwhile
            log.info("%s: being recorded now; left alone", partial)
        except ConversionInterrupted as error:  # the others are recovered all the same; `recover` says it
            log.info("%s", error)
        except RecorderError:
            if (partial / "frames.jsonl").is_file():
                raise
            if _finished_beside(partial):  # no recorder writes there again: the clip's name is taken
                shutil.rmtree(partial, ignore_errors=True)
                log.info("%s: removed what an interrupted clean-up left of the finished clip", partial)
            else:
                log.info("%s: finished by its recorder meanwhile", partial)
    return recovered
