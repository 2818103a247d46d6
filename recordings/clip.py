"""Clips in the NTU layout (ours and NTU's) and .xef files, replayed as streams of core Frames.

A clip is `<name>.skeleton`, optionally `<name>_rgb.avi` (frame i = skeleton frame i) and optionally
`<name>.json`, the sidecar the recorder writes (label, per-frame timestamps, calibration, source,
software version, and `<name>_depth.bin` when the clip has depth: recordings/depth.py). Without a
sidecar -- NTU's own clips -- frames are 1/30 s apart.

`open_recording(path)` is the one entry point for replay: a .xef file, a .skeleton, a sidecar, a
video or a folder holding one clip, or a PKU-MMD sequence (`NNNN-V.txt`, `.txt.xz`, `.txt.gz`;
recordings/pkummd.py) all give a `Recording` (recordings/recording.py) with `.info` (frame count,
duration, fps), `.frames()` and `.timeline` (labelled intervals, or None). Pacing (real time, as fast as
possible, looping) is the live source's business.

The sidecar's optional `intervals` (see recordings/recorder.py) become the clip's `timeline`, and every
body of every frame then carries `truth`: the label of the interval covering that instant (for that
body's id, or scene-wide), NO_ACTION between them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.camera import DEFAULT_CAMERA, DEPTH_CAMERA, KINECT_FPS, ColorCamera
from core.frame import Body, Frame
from core.timeline import Interval, Timeline, TimelineError
from core.wording import first_few
from recordings import xef
from recordings.argument_types import as_typed
from recordings.depth import DepthFile, DepthFormatError
from recordings.ntu import NtuBody, read_skeleton
from recordings.ntu_samples import SampleName
from recordings.ntu_video import RgbVideo
from recordings.pkummd import PkuMmdRecording, is_sequence_path
from recordings.recorder import (
    PARTIAL_SUFFIX,
    SIDECAR_FORMAT,
    SIDECAR_VERSION,
    STORED_TIME_SLACK_S,
    RecordingPart,
    labelled_length_s,
)
from recordings.recording import Recording, RecordingInfo, mean_fps

__all__ = ["ClipError", "ClipPaths", "ClipRecording", "PkuMmdRecording", "Recording", "RecordingInfo",
           "Sidecar", "XefRecording", "clip_paths", "color_pixel_scale", "find_clips", "frame_body",
           "is_export", "is_export_samples", "open_recording", "other_shape", "read_sidecar"]

log = logging.getLogger(__name__)

NTU_FPS = KINECT_FPS  # the NTU layout's skeleton files carry no times: frames are 1/30 s apart
# A sidecar keeps interval times to 0.1 ms, frames their stamps to 1 us: the frame that starts an interval
# may be stamped a hair before it. Half a millisecond is far below any frame period.
TRUTH_TOLERANCE_S = 5e-4


def frames_within(timestamps: np.ndarray, start: float, end: float) -> np.ndarray:
    """Which frames (seconds from the clip's first) an interval [start, end) of a sidecar holds, as a
    replay labels them (TRUTH_TOLERANCE_S): one rule for replay, training's cut, export and `label`,
    where 12 of a converted PKU-MMD folder's 24 intervals lost their first frame or took one after."""
    stamps = np.asarray(timestamps, dtype=np.float64) + TRUTH_TOLERANCE_S
    return (stamps >= start) & (stamps < end)


# A live sensor's frames are passed over while it is paused and none come while it is unplugged, so a
# recording keeps gaps as long as a pause (a weekend, left paused); a week between two frames is damaged
# times, which a replay would sit out.
MAX_FRAME_GAP_S = 7 * 24 * 3600.0


class ClipError(ValueError):
    """A clip whose files are missing or disagree; the message names the file."""


class DamagedIntervals(ClipError):
    """A sidecar's intervals that do not read (an edit by hand): said with the way to label it again."""


@dataclass(frozen=True)
class ClipPaths:
    skeleton: Path
    video: Path | None
    sidecar: Path | None

    @property
    def name(self) -> str:
        return self.skeleton.name[: -len(".skeleton")]


def _paths_for(skeleton: Path) -> ClipPaths:
    name = skeleton.name[: -len(".skeleton")]
    video = skeleton.with_name(f"{name}_rgb.avi")
    folder = skeleton.absolute().parent  # ("." has no name)
    if not video.is_file() and folder.name.casefold() == EXPORT_SKELETONS:  # NTU's release's layout (export)
        video = folder.parent / EXPORT_VIDEOS / f"{name}_rgb.avi"
    sidecar = skeleton.with_name(f"{name}.json")
    return ClipPaths(skeleton, video if video.is_file() else None, sidecar if sidecar.is_file() else None)


# `python -m recordings export` writes NTU samples cut from clips, with this index and their classes beside
# them, first into the staging folder. An export is not clips: below the clips' folder, list counted each
# action twice, and training took its samples beside the clips they were cut from (in the other split, too).
EXPORT_INDEX = "samples.tsv"
EXPORT_CLASSES = "classes.txt"  # not labels.txt: it may hold NTU's own ids, which a site's map may not
EXPORT_STAGING = ".export.partial"
# The samples in folders of their own, named as NTU's release names them: those tools take every file of
# the folder they are given for a sample (2s-AGCN's gendata read "classes.txt" as one, and failed on it).
EXPORT_SKELETONS = "nturgb+d_skeletons"
EXPORT_VIDEOS = "nturgb+d_rgb"


def find_clips(directory: Path | str) -> list[ClipPaths]:
    """Every finished clip under a directory (recursively), sorted by path; an export's samples are not
    clips. One whose partial folder is still there is being finished (its skeleton is put in place before
    its sidecar), or its finishing was interrupted (`recover` completes it): `list`, `export` and
    training took it without its sidecar."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: not a directory")
    return [_paths_for(p) for p in sorted(directory.rglob("*.skeleton"))
            if p.is_file() and not p.with_name(p.name[: -len(".skeleton")] + PARTIAL_SUFFIX).is_dir()
            and not is_export_samples(p.parent) and EXPORT_STAGING not in p.relative_to(directory).parts]


def is_export(folder: Path) -> bool:
    """Whether `folder` is a finished export (its samples in EXPORT_SKELETONS; beside the index in one
    made before that)."""
    return (folder / EXPORT_INDEX).is_file() and (folder / EXPORT_CLASSES).is_file()


def is_export_samples(folder: Path) -> bool:
    """Whether `folder` holds a finished export's .skeleton samples: its EXPORT_SKELETONS, or the export
    itself where it was made before them (a clip put in an export's folder since is a clip)."""
    folder = Path(folder).absolute()  # "." (run inside it) has no name
    if folder.name.casefold() == EXPORT_SKELETONS and is_export(folder.parent):
        return True
    return is_export(folder) and not (folder / EXPORT_SKELETONS).is_dir()


def clip_paths(path: Path | str) -> ClipPaths:
    """The clip a path names: its .skeleton, _rgb.avi or .json, or a folder holding exactly one clip."""
    path = Path(path)
    if path.name.endswith(PARTIAL_SUFFIX) and path.is_dir():  # a recording's folder while it is being made
        clip = path.name[: -len(PARTIAL_SUFFIX)] + ".skeleton"
        raise ClipError(f"{path}: a recording still being made, or interrupted: its clip is {clip} once it "
                        "finishes (python -m recordings recover finishes an interrupted one)")
    if path.is_dir():
        clips = [_paths_for(p) for p in sorted(path.glob("*.skeleton"))]
        if len(clips) != 1:
            # A folder of recordings is the usual slip (a dataset's root): say what a source can be.
            raise ClipError(
                f"{path}: expected a folder with one clip (*.skeleton), found {len(clips)}; "
                "name one recording file instead (a .skeleton, a .xef, a PKU-MMD NNNN-V.txt[.xz|.gz])"
            )
        return clips[0]
    name = path.name
    for suffix in (".skeleton", "_rgb.avi", ".json"):
        if name.endswith(suffix):
            skeleton = path.with_name(name[: -len(suffix)] + ".skeleton")
            videos = path.absolute().parent
            if not skeleton.is_file() and videos.name.casefold() == EXPORT_VIDEOS:  # NTU's release's layout
                skeleton = videos.parent / EXPORT_SKELETONS / skeleton.name
            if not skeleton.is_file() and re.fullmatch(r"a\d\d_s\d\d_e\d\d_v\d\d\.json", name):
                raise ClipError(f"{path}: an N-UCLA sequence (Kinect v1 joints, no times or colour), "
                                "which is not replayed; python -m training evaluate --data FOLDER scores "
                                "N-UCLA models on such files")
            partial = skeleton.with_suffix(PARTIAL_SUFFIX)
            if not skeleton.is_file() and partial.is_dir():
                raise ClipError(f"{path}: still being recorded, or its recording was interrupted "
                                f"({partial.name}): it is there once it finishes (python -m recordings "
                                "recover finishes an interrupted one)")
            if not skeleton.is_file():
                raise ClipError(f"{path}: no skeleton file {skeleton.name} next to it")
            return _paths_for(skeleton)
    if not path.exists():  # a typo is no wrong format
        raise ClipError(f"{path}: no such file or folder")
    what = ""
    if path.suffix.lower() == ".csv":
        what = "a .csv (a Kinect v2 body capture, say) is not a format this reads; "
    elif name.lower().endswith(".skeleton.txt"):  # as some copies of NTU RGB+D publish them
        what = f"an NTU skeleton file with .txt added: rename it {name[:-4]}; "
    raise ClipError(f"{path}: {what}expected a recording: a .xef, a PKU-MMD NNNN-V.txt[.xz|.gz], or an "
                    "NTU-layout clip's .skeleton, _rgb.avi or .json (or its folder)")


@dataclass
class Sidecar:
    """The recorder's JSON sidecar, checked."""

    path: Path
    sample_name: str
    label: str | None
    action_id: int | None
    timestamps: np.ndarray  # float64 (T,) seconds from the first frame
    camera: ColorCamera | None
    source: str
    software_version: str
    missing_color_frames: list[int]
    raw: dict = field(repr=False)
    # "intervals": where in the clip each action happens ([{"start", "end", "label"[, "person"]}],
    # seconds from the first frame), for clips that hold more than one action or background; None when
    # the sidecar has none (the whole clip is `label`).
    timeline: Timeline | None = None
    depth_file: Path | None = None  # the clip's depth stream ("depth": {"file": ...}), None without one
    depth_camera: ColorCamera = DEPTH_CAMERA  # "calibration": {"depth_camera": ...}


def recording_part(sidecar: Sidecar) -> RecordingPart | None:
    """Which part of a recording a clip is, as its sidecar says ("recording"), or None (a clip recorded
    before parts were, or converted)."""
    return RecordingPart.from_json(sidecar.raw.get("recording"))


def parts_between_marks(sidecars: Iterable[Sidecar]) -> tuple[set[Path], list[str]]:
    """(the sidecars (their paths) of the parts of a marked recording that have no marks of their own,
    what cannot be told for want of parts). A recording whose clip filled went on in a next clip, its
    next part (recording_part), and where any of its parts has marks (intervals), they say where the
    actions are: a part without marks is the time between them, background. Taken as a clip of the
    recording's class throughout, such a part trained ten minutes in bed as "patient fell". Where none of
    a recording's parts among `sidecars` has marks and some of its parts are not among them (moved,
    deleted: a gap in the numbers, or a last part that filled), whether it had marks cannot be
    told, which is said."""
    recordings: dict[str, list[tuple[RecordingPart, Sidecar]]] = {}
    for sidecar in sidecars:
        if (part := recording_part(sidecar)) is not None:
            recordings.setdefault(part.recording, []).append((part, sidecar))
    between, unknown = set(), []
    for parts in recordings.values():
        parts.sort(key=lambda pair: pair[0].number)
        marked = [s.timeline is not None and bool(s.timeline.intervals) for _, s in parts]
        if any(marked):
            between.update(s.path for (_, s), has_marks in zip(parts, marked, strict=True) if not has_marks)
            continue
        last = parts[-1][0]
        expected = range(1, last.number + 1 + (last.went_on is not None))
        missing = sorted(set(expected) - {part.number for part, _ in parts})
        if missing:
            here = list(dict.fromkeys(f"{s.path.stem} (part {part.number})" for part, s in parts))
            folders = ", ".join(dict.fromkeys(str(s.path.parent) for _, s in parts))  # (a copy: two)
            unknown.append(
                f"{folders}: parts {', '.join(map(str, missing))} of the recording whose parts here are "
                f"{first_few(here, 3)} are not among these clips (moved, or deleted?): these have no marks, "
                f"and are read as their class throughout; if the missing parts had the recording's marks, "
                f"put them back beside these")
    return between, unknown


RECORDING_FIELD_WITHIN = 16384  # bytes of a sidecar that hold its "recording" (its header's fields)


def recording_parts_beside(sidecar_path: Path) -> tuple[RecordingPart, list[Sidecar]] | None:
    """The clip's part of its long recording, and the parts of that recording in its folder (itself among
    them), read; None for a clip that is no part of one."""
    if (part := recording_part(read_sidecar(sidecar_path))) is None:
        return None
    parts = []
    for path in sorted(sidecar_path.parent.glob("*.json")):
        with contextlib.suppress(ClipError, OSError):
            with open(path, "rb") as file:  # "recording" comes before the frames' times: only the start read
                head = file.read(RECORDING_FIELD_WITHIN)
            if part.recording.encode() in head:
                sidecar = read_sidecar(path)
                if (other := recording_part(sidecar)) is not None and other.recording == part.recording:
                    parts.append(sidecar)
    return part, parts


def parts_between_marks_in(clips: Iterable[Path]) -> tuple[set[Path], list[str]]:
    """`parts_between_marks` of the clips (.skeleton paths) whose sidecars read (a damaged one is said
    where its clip is read)."""
    sidecars = []
    for clip in clips:
        if clip.suffix == ".skeleton" and clip.with_suffix(".json").is_file():
            with contextlib.suppress(ClipError, OSError):
                sidecars.append(read_sidecar(clip.with_suffix(".json")))
    return parts_between_marks(sidecars)


def _sidecar_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")  # a BOM (Notepad's) is no damage
    except UnicodeDecodeError as error:
        raise ClipError(f"{path}: byte {error.start}: not UTF-8 text (a clip sidecar is JSON)") from None


def _sidecar_object(path: Path, text: str, any_version: bool = False) -> dict:
    """A sidecar's text as its JSON object, its format (and, unless `any_version`, its version) checked
    (ClipError naming the file otherwise)."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ClipError(f"{path}: line {error.lineno} column {error.colno}: not valid JSON: {error.msg} "
                        f"(cut short, or edited by hand?)") from None
    if not isinstance(raw, dict) or raw.get("format") != SIDECAR_FORMAT:
        raise ClipError(f'{path}: expected a clip sidecar with "format": "{SIDECAR_FORMAT}"')
    version = raw.get("format_version", SIDECAR_VERSION)
    if not any_version and (not isinstance(version, int) or version > SIDECAR_VERSION):
        raise ClipError(
            f"{path}: sidecar format_version {version!r}; this reader knows versions up to {SIDECAR_VERSION}"
        )
    return raw


# How the recorder writes a sidecar's per-frame times (json.dumps: key, ": ", the list).
_TIMESTAMPS = '"timestamps": ['


def read_sidecar_header(path: Path | str, *, any_version: bool = False) -> dict:
    """A sidecar's JSON object without its "timestamps" (ClipError for what is not a sidecar; OSError),
    for scans of a whole folder that need its room, times and session, not its frames: a 10-minute
    clip's 18,000 times are most of its bytes and of the time JSON takes to read it (`erase` of a share
    holding 100 rooms' month read 6,000 sidecars in 26 s). Their list holds numbers only, so the first
    "]" after it ends it (a quote inside a JSON string is escaped: no string holds that key's text).
    `any_version`: a newer version's sidecar too (its header read as far as this version knows it)."""
    path = Path(path)
    text = _sidecar_text(path)
    start = text.find(_TIMESTAMPS)
    end = text.find("]", start) if start >= 0 else -1
    if end >= 0:  # else written otherwise (by hand, compactly): read whole
        text = f"{text[:start]}{_TIMESTAMPS}]{text[end + 1:]}"
    raw = _sidecar_object(path, text, any_version)
    raw.pop("timestamps", None)
    return raw


def read_sidecar(path: Path | str, *, intervals: bool = True) -> Sidecar:
    path = Path(path)
    raw = _sidecar_object(path, _sidecar_text(path))
    try:
        timestamps = np.asarray(raw["timestamps"], dtype=np.float64)
    except (KeyError, TypeError, ValueError):
        raise ClipError(f'{path}: expected "timestamps": a list of seconds, one per frame') from None
    if timestamps.ndim != 1 or not np.isfinite(timestamps).all() or np.any(np.diff(timestamps) < 0):
        raise ClipError(f'{path}: "timestamps" must be a flat list of finite, non-decreasing seconds')
    if len(timestamps) and timestamps[0] != 0:  # the recorder writes seconds from the first frame
        raise ClipError(f'{path}: "timestamps" start at {timestamps[0]:g} s; they are seconds from the first '
                        f"frame, so the first must be 0")
    gaps = np.diff(timestamps)
    if len(gaps) and gaps.max() > MAX_FRAME_GAP_S:
        frame = int(np.argmax(gaps)) + 1
        raise ClipError(f'{path}: "timestamps": frame {frame} is {gaps.max():g} s after the frame before; no '
                        f"recording goes {MAX_FRAME_GAP_S / 86400:g} days without a frame (damaged times?)")
    frame_count = raw.get("frame_count", len(timestamps))
    if not isinstance(frame_count, (int, float)) or isinstance(frame_count, bool):
        # "120" written as text (a hand edit) equals no count: quoting it alone read "is '120' but there
        # are 120 timestamps", a contradiction; say that the kind of value is what is wrong.
        kind = {str: "text", list: "a list", dict: "a JSON object", bool: "true or false"}.get(
            type(frame_count), "null")
        raise ClipError(
            f'{path}: "frame_count" is {frame_count!r} but there are {len(timestamps)} timestamps: '
            f"it is {kind}, and must be a number of frames ({len(timestamps)}, without quotes)"
        )
    if frame_count != len(timestamps):
        raise ClipError(
            f'{path}: "frame_count" is {frame_count} but there are {len(timestamps)} timestamps'
        )
    for key in ("calibration", "software"):
        if not isinstance(raw.get(key, {}), dict):
            raise ClipError(f'{path}: "{key}" must be a JSON object, got {type(raw[key]).__name__}')
    camera_dict = raw.get("calibration", {}).get("color_camera")
    camera = ColorCamera.from_dict(camera_dict, str(path)) if camera_dict is not None else None
    depth_camera_dict = raw.get("calibration", {}).get("depth_camera")
    depth_camera = (
        DEPTH_CAMERA if depth_camera_dict is None else ColorCamera.from_dict(depth_camera_dict, str(path))
    )
    depth_file = None
    if raw.get("depth") is not None:
        depth = raw["depth"]
        if not isinstance(depth, dict) or not isinstance(depth.get("file"), str) or "/" in depth["file"]:
            raise ClipError(
                f'{path}: "depth" must be {{"file": "<name>_depth.bin", ...}} naming a file beside it'
            )
        depth_file = path.with_name(depth["file"])
    timeline = None
    if intervals and raw.get("intervals") is not None:  # (not: read to clear them, DamagedIntervals)
        end = labelled_length_s(timestamps) + STORED_TIME_SLACK_S if len(timestamps) else 0.0
        try:
            timeline = Timeline.from_json(raw["intervals"], duration=end, source=str(path))
        except TimelineError as error:
            clip = path.with_suffix(".skeleton")
            raise DamagedIntervals(f"{error}; python -m recordings label {clip} --clear removes the "
                                   "clip's intervals, to label it again") from None
    for key, kind, what in (("label", str, "a class name"), ("action_id", int, "an A-number (121)"),
                            ("missing_color_frames", list, "a list of frame numbers")):
        value = raw.get(key)
        if value is not None and (not isinstance(value, kind) or isinstance(value, bool)):
            raise ClipError(f'{path}: "{key}" must be {what} or null, got {value!r}')
    for n, frame in enumerate(raw.get("missing_color_frames") or [], start=1):
        if not isinstance(frame, int) or isinstance(frame, bool) or not 0 <= frame < len(timestamps):
            raise ClipError(f'{path}: "missing_color_frames" entry {n} is {frame!r}, not a frame of the clip '
                            f"(whole numbers 0 to {len(timestamps) - 1})")
    return Sidecar(
        path=path,
        sample_name=str(raw.get("sample_name", path.stem)),
        label=raw.get("label"),
        action_id=raw.get("action_id"),
        timestamps=timestamps,
        camera=camera,
        source=str(raw.get("source", "unknown")),
        software_version=str(raw.get("software", {}).get("version", "unknown")),
        missing_color_frames=list(raw.get("missing_color_frames") or []),
        raw=raw,
        timeline=timeline,
        depth_file=depth_file,
        depth_camera=depth_camera,
    )


def body_ids(frames: list[list[NtuBody]]) -> list[int]:
    """The tracking ids of a clip's bodies (an NTU file's frames), sorted."""
    return sorted({body.body_id for bodies in frames for body in bodies})


def labelling_nobody(timeline: Timeline, ids: list[int]) -> list[tuple[int, Interval]]:
    """(number, as `recordings label --list` gives it; interval) of the intervals that name a person none
    of the clip's bodies `ids` is: they label nobody (a replay's truth and a streaming evaluation give
    nobody that action). `recordings label --person` refuses such an id since 2026-12-04; a clip
    labelled before keeps what it was given."""
    return [(n, interval) for n, interval in enumerate(timeline.intervals, start=1)
            if interval.person is not None and interval.person not in ids]


def frame_body(body: NtuBody, color_scale: tuple[float, float] = (1.0, 1.0)) -> Body:
    """An NTU body as a core Body; colour pixels stored as 0 0 (unmappable) become NaN, the others scaled
    by `color_scale` onto the video's frames (`color_pixel_scale`)."""
    color = body.color.astype(np.float32)
    color[(color == 0).all(axis=1)] = np.nan
    return Body(int(body.body_id), body.xyz.astype(np.float32), body.states, color * np.float32(color_scale))


def _recorded_size(camera: ColorCamera | None) -> tuple[int, int]:
    """The frames a .skeleton's colour pixels are in: its sidecar's camera's, else the Kinect's (NTU's)."""
    camera = camera or DEFAULT_CAMERA
    return camera.width, camera.height


def color_pixel_scale(
    skeleton: Path, camera: ColorCamera | None, video: RgbVideo
) -> tuple[float, float] | None:
    """(x, y) factors from the skeleton file's colour pixels to the video's. A .skeleton gives each joint's
    pixel in the frames it was recorded with (the sidecar's camera; NTU's: the Kinect's 1920x1080), and
    NTU's videos are often shared resized: unscaled, every crop and drawn joint lands elsewhere (a
    960x540 copy gave black hand crops, trained on and decided on without a word). None for a video of
    another shape (cut): no scale puts the joints on its people (`other_shape` says so)."""
    recorded = _recorded_size(camera)
    if (video.width, video.height) == recorded or min(video.width, video.height) <= 0:
        return 1.0, 1.0
    sx, sy = video.width / recorded[0], video.height / recorded[1]
    return (sx, sy) if abs(sx / sy - 1) <= 0.01 else None


def other_shape(skeleton: Path, camera: ColorCamera | None, video: RgbVideo) -> str:
    """Why `color_pixel_scale` found no scale, naming both files and sizes."""
    recorded = _recorded_size(camera)
    return (f"{video.path}: {video.width}x{video.height} frames, but {skeleton.name} places its joints in "
            f"{recorded[0]}x{recorded[1]} ones (a video cut to another shape?)")


class ClipRecording:
    """An NTU-layout clip as Frames: skeleton frame i, video frame i, sidecar timestamp i, and the depth
    image nearest in time when the clip has a depth file (`depth` False: not read)."""

    def __init__(
        self, path: Path | str, *, color: bool = True, video: Path | str | None = None, depth: bool = True
    ) -> None:
        self.paths = clip_paths(path)
        if video is not None:  # NTU's release keeps the videos in another folder
            self.paths = ClipPaths(self.paths.skeleton, Path(video), self.paths.sidecar)
        self.skeleton = read_skeleton(self.paths.skeleton)
        self.sidecar = read_sidecar(self.paths.sidecar) if self.paths.sidecar is not None else None
        count = self.skeleton.num_frames
        if self.sidecar is not None:
            if len(self.sidecar.timestamps) != count:
                raise ClipError(
                    f"{self.paths.sidecar}: {len(self.sidecar.timestamps)} timestamps for the "
                    f"{count} frames of {self.paths.skeleton.name}"
                )
            self.timestamps = self.sidecar.timestamps
        else:
            self.timestamps = np.arange(count, dtype=np.float64) / NTU_FPS
        self.video = RgbVideo(self.paths.video) if color and self.paths.video is not None else None
        camera = self.sidecar.camera if self.sidecar is not None else None
        self._color_scale = (1.0, 1.0)
        if self.video is not None:
            scale = color_pixel_scale(self.paths.skeleton, camera, self.video)
            if scale is None:  # replayed all the same: the picture is still worth seeing
                log.warning("%s: its joints are drawn and cropped where the recorded frames had them, which "
                            "may miss its people", other_shape(self.paths.skeleton, camera, self.video))
            self._color_scale = scale or self._color_scale
        self._said_cut_short = False
        named_for = self.paths.video.name.removesuffix("_rgb.avi") if self.video is not None else None
        if video is not None and named_for not in (None, Path(video).name, self.paths.name):
            log.warning("%s is named for the clip %s, not %s: its pictures may be of another take",
                        video, named_for, self.paths.name)  # another sample's, by NTU's naming
        if self.video is not None and len(self.video) != count:
            log.warning(
                "%s has %d frames, %s has %d: frames past the shorter one have %s",
                self.paths.video,
                len(self.video),
                self.paths.skeleton.name,
                count,
                "no colour" if len(self.video) < count else "no video frame",
            )
        self.depth: DepthFile | None = None
        self.depth_damage: str | None = None  # what of the depth file is lost, said by `info` too
        self._said_bad_depth = False
        depth_file = self.sidecar.depth_file if self.sidecar is not None else None
        if depth and depth_file is not None:
            if depth_file.is_file():
                # Depth is the extra of a clip: damage costs the frames it holds, not the clip (its
                # skeleton and video replay, `info` describes it).
                self.depth = DepthFile(depth_file, strict=False)
                recorded = (self.sidecar.raw.get("depth") or {}).get("frames")
                recorded = recorded if type(recorded) is int else None  # noqa: E721 - not a bool
                if self.depth.damage is not None or (recorded is not None and recorded > len(self.depth)):
                    of = f" of its {recorded}" if recorded is not None else ""
                    self.depth_damage = (f"{self.depth.damage or depth_file}: {len(self.depth)}{of} depth "
                                         f"frames readable; the rest of the clip replays without depth")
                    log.warning("%s", self.depth_damage)
            else:
                log.warning("%s names the depth file %s, which is missing: replaying without depth",
                            self.paths.sidecar, depth_file.name)
        label, action_id = None, None
        if self.sidecar is not None:
            label, action_id = self.sidecar.label, self.sidecar.action_id
        else:
            try:
                action_id = SampleName.parse(self.paths.name).action
            except ValueError:
                pass
        duration = float(self.timestamps[-1] - self.timestamps[0]) if count else 0.0
        # Where the sidecar says when each action happens, replayed bodies carry it (Body.truth).
        self.timeline: Timeline | None = self.sidecar.timeline if self.sidecar is not None else None
        if self.timeline is not None and (nobody := labelling_nobody(self.timeline,
                                                                     ids := body_ids(self.skeleton.frames))):
            log.warning("%s: interval(s) %s name a person none of its bodies is (its bodies: %s): they label "
                        "nobody. python -m recordings label %s --list shows them; --remove N, then --class "
                        "NAME --from S --to S --person ID", self.paths.sidecar,
                        ", ".join(f"{n} ({i.label}, person {i.person})" for n, i in nobody),
                        ", ".join(map(str, ids)) or "none", as_typed(self.paths.skeleton))
        self.info = RecordingInfo(
            path=self.paths.skeleton,
            kind="clip",
            frame_count=count,
            duration_s=duration,
            fps=mean_fps(self.timestamps),
            color_size=None if self.video is None else (self.video.width, self.video.height),
            label=label,
            action_id=action_id,
        )

    def frames(self, first: int = 0) -> Iterator[Frame]:
        """The clip's frames from frame `first` on (the marking window's jumps)."""
        images = self.video.frames_from(first) if self.video is not None else None
        # Frames the sensor gave no colour for hold a repeated image in the video (frame i stays frame i):
        # replayed without colour, as they were recorded.
        without_colour = set(self.sidecar.missing_color_frames) if self.sidecar is not None else set()
        start = float(self.timestamps[0]) if len(self.timestamps) else 0.0
        for i in range(first, len(self.skeleton.frames)):
            bodies, timestamp = self.skeleton.frames[i], self.timestamps[i]
            image = None
            if images is not None:
                try:
                    image = next(images)
                except (StopIteration, ValueError):
                    images = None  # the video ended early: the remaining frames have no colour
                    promised = self.video is not None and i < min(len(self.video), len(self.skeleton.frames))
                    if promised and not self._said_cut_short:
                        # Its header promised more: damaged or cut short, and the user should know (once:
                        # the marking window's jumps replay from later frames).
                        self._said_cut_short = True
                        said = (f"only {i} of its {len(self.video)} frames decode" if i > first else
                                f"its frames from {i} on do not decode, of {len(self.video)} announced")
                        log.warning("%s: %s (damaged or cut short): the rest of %s replays without colour",
                                    self.paths.video, said, self.paths.skeleton.name)
            if i in without_colour:
                image = None
            people = [frame_body(b, self._color_scale) for b in bodies]
            if self.timeline is not None:  # (TRUTH_TOLERANCE_S: frames_within's rule, frame by frame)
                at = float(timestamp) - start + TRUTH_TOLERANCE_S
                for body in people:
                    body.truth = self.timeline.label_at(at, body.tracking_id)
            depth = self._depth_at(float(timestamp) - start)
            yield Frame(timestamp=float(timestamp), color=image, bodies=people, index=i, depth=depth)

    def _depth_at(self, clip_time: float) -> np.ndarray | None:
        """The depth image nearest `clip_time`; None where there is none, or its record is damaged (said
        once: a bad image costs its frame, not the replay)."""
        if self.depth is None:
            return None
        try:
            return self.depth.nearest(clip_time)
        except DepthFormatError as error:
            if not self._said_bad_depth:
                self._said_bad_depth = True
                log.warning("%s: that frame, and any other whose depth image is damaged, replays without "
                            "depth", error)
            return None

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def body_summary(self) -> tuple[int, int]:
        """(most bodies in one frame, distinct body ids)."""
        most = max((len(bodies) for bodies in self.skeleton.frames), default=0)
        ids = {b.body_id for bodies in self.skeleton.frames for b in bodies}
        return most, len(ids)

    def close(self) -> None:
        if self.video is not None:
            self.video.close()
        if self.depth is not None:
            self.depth.close()

    def __enter__(self) -> ClipRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class XefRecording:
    """A Kinect Studio .xef file as Frames (colour + nearest body and depth frames; XefReader.frames)."""

    def __init__(
        self,
        path: Path | str,
        *,
        color: bool = True,
        camera: ColorCamera = DEFAULT_CAMERA,
        depth: bool = True,
    ) -> None:
        self.reader = xef.XefReader(path)
        self.camera = camera
        self.depth = depth
        self.color = color and self.reader.stream(xef.COLOR) is not None
        times = self.reader.frame_times_s(self.color)
        self.timestamps = times
        self.frames_from = self.reader.frames_from(self.color)
        if self.reader.frames_without_colour(self.color):  # a model that crops RGB sees black crops there
            log.info("%s: frames from the %s", self.reader.path.name, self.frames_from)
        self.info = RecordingInfo(
            path=self.reader.path,
            kind="xef",
            frame_count=len(times),
            duration_s=float(times[-1] - times[0]) if len(times) else 0.0,
            fps=mean_fps(times),
            color_size=(xef.COLOR_WIDTH, xef.COLOR_HEIGHT) if self.color else None,
        )
        self.timeline: Timeline | None = None  # Kinect Studio files carry no labels

    def frames(self) -> Iterator[Frame]:
        return self.reader.frames(self.camera, color=self.color, depth=self.depth)

    def __iter__(self) -> Iterator[Frame]:
        return self.frames()

    def body_summary(self) -> tuple[int, int]:
        """(most bodies in one frame, distinct tracking ids), over every body frame before any damage."""
        body = self.reader.stream(xef.BODY)
        most, ids = 0, set()
        if body is not None:
            events = self.reader.events(body.index)
            while True:
                try:
                    event = next(events)
                except (StopIteration, xef.XefFormatError):
                    break
                bodies = self.reader.body_frame(event).bodies
                most = max(most, len(bodies))
                ids.update(b.tracking_id for b in bodies)
        return most, len(ids)

    def close(self) -> None:
        self.reader.close()

    def __enter__(self) -> XefRecording:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_recording(
    path: Path | str,
    *,
    color: bool = True,
    camera: ColorCamera = DEFAULT_CAMERA,
    video: Path | str | None = None,
    depth: bool = True,
) -> ClipRecording | XefRecording | PkuMmdRecording:
    """A .xef file, an NTU-layout clip (its .skeleton, _rgb.avi, .json or folder) or a PKU-MMD sequence
    (NNNN-V.txt / .txt.xz / .txt.gz), ready to replay.

    `color=False` skips decoding colour (skeleton-only replay). `camera` projects .xef and PKU-MMD joints
    to colour pixels (clips store their own pixel coordinates). `video` gives a clip's _rgb.avi when it
    is not next to the .skeleton (NTU's release keeps them in separate folders). A PKU-MMD sequence's labels
    are found where `recordings.pkummd.find_label_file` looks. `depth=False`
    leaves Frame.depth None (no depth decoded; PKU-MMD sequences here have none).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such file or folder")
    if path.suffix.lower() == ".xef":
        if video is not None:
            raise ValueError(f"{path}: a .xef file carries its own colour stream; drop the video argument")
        return XefRecording(path, color=color, camera=camera, depth=depth)
    if path.is_file() and is_sequence_path(path):
        if video is not None:
            raise ValueError(f"{path}: PKU-MMD here is skeleton only; drop the video argument")
        return PkuMmdRecording(path, camera=camera)
    return ClipRecording(path, color=color, video=video, depth=depth)
