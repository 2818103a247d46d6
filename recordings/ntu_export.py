"""`python -m recordings export DIR OUT`: the site's labelled clips as NTU RGB+D samples for other tools.

A clip the app records is one take: it may last hours, hold several actions marked as intervals, and be
named `live_<time>` until labelled. The tools researchers train on NTU RGB+D with (2s-AGCN and MS-G3D's
`ntu_gendata.py`, mmaction2's `gen_ntu_rgbd_raw.py`, CTR-GCN's `get_raw_skes_data.py`, NTU's own
`txt2npy.py`) expect what NTU ships instead: one action per file, its class in the name
(SsssCcccPpppRrrrAaaa), at most 300 frames (they pad every sample into a 300-frame array and fail on a
longer one), someone in view, at most four bodies a frame, and a body id that, once gone, does not come
back (CTR-GCN lays a body's frames out one after another from its first). So each labelled action
becomes its own file here:

    clip (sidecar intervals, or the clip's own class) --> frames inside [start, end), read a range at a
    time --> at NTU's 30 fps (at_ntu_rate: a .skeleton has no times) --> pieces of at most max_frames
    --> body ids renewed after a gap, the four bodies most in view
    --> OUT/.export.partial/nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton (and nturgb+d_rgb/
    SsssCcccPpppRrrrAaaa_rgb.avi: the same frames of the clip's video) --> OUT/ at the end, with
    OUT/classes.txt and OUT/samples.tsv (which clip and seconds each sample came from)

The samples are in folders of their own, named as in NTU's release: those tools take every file of the
folder they are given for a sample, and failed on classes.txt.

S, C and P are the clip's own where its name is NTU-style, else its sidecar's (the session, camera and
performer it was recorded with; C 1 and P 0 for a clip recorded before the sidecar kept them); R counts
the samples of one S, C, P and A. A clip's colour video is cut with it, frame i of the sample's
`_rgb.avi` its frame i, as in NTU's own samples: a video the recorder wrote by copying the JPEGs of those
frames (no second compression), NTU's own video of a whole sample as it is, any other decoded and written
as MJPG. Whoever an interval names (`--person`), the sample keeps the bodies in view, as NTU's files do.
An export stopped midway leaves only OUT/.export.partial, which the next export into OUT clears.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
import re
import shutil
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from core.locks import held
from recordings.avi import AviError, MjpegAviWriter, RecordedAvi, finalize_avi, missing_bytes
from recordings.clip import (
    EXPORT_CLASSES,
    EXPORT_INDEX,
    EXPORT_SKELETONS,
    EXPORT_STAGING,
    EXPORT_VIDEOS,
    NTU_FPS,
    ClipError,
    ClipPaths,
    find_clips,
    frames_within,
    parts_between_marks_in,
    read_sidecar,
)
from recordings.labelling import label_map_path
from recordings.labels import LabelMap, LabelMapError, ntu_label_map, read_label_map, write_label_map
from recordings.ntu import (
    NtuBody,
    SkeletonFile,
    SkeletonFormatError,
    frame_count,
    parse_skeleton,
    write_skeleton,
)
from recordings.ntu_samples import NTU120_CLASSES, SampleName
from recordings.ntu_video import RgbVideo
from recordings.recorder import complete_frame_blocks

MAX_FRAMES = 300  # NTU RGB+D's longest samples; the tools above allocate this many frames per sample
MAX_BODIES = 4  # NTU's txt2npy keeps four bodies a frame and raises on a fifth (the trainers use two)
LOCK = ".export.lock"  # held while an export writes into OUT


@dataclass(frozen=True)
class ExportedSample:
    """One file written: its name and where in which clip it came from."""

    name: SampleName
    clip: str  # the clip's path under DIR, without suffix
    start_s: float  # its first frame's time in the clip
    end_s: float  # start_s and its frames at 30 fps
    frames: int  # at 30 fps (a dark room's 15 fps frames each twice)
    label: str
    video: bool  # whether its _rgb.avi was written too


@dataclass(frozen=True)
class _Action:
    start_s: float
    end_s: float
    label: str
    action_id: int | None = None  # known from an NTU clip's own name; else looked up by label


class _FrameBlocks:
    """A .skeleton's frames, parsed a range at a time: a take of hours parsed whole takes about 14 times
    its size in memory, its bytes and their frame offsets once."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A last line without its newline, or blank lines after it, are allowed (read_skeleton takes them).
        self.data = path.read_bytes().rstrip() + b"\n"
        header_end = self.data.find(b"\n") + 1
        try:
            count = int(self.data[:header_end])
        except ValueError:
            raise SkeletonFormatError(path, 1, f"expected the frame count, got {self.data[:20]!r}") from None
        ends = complete_frame_blocks(io.BytesIO(self.data[header_end:]), str(path))
        if len(ends) != count:
            raise SkeletonFormatError(path, 1, f"says {count} frames but {len(ends)} whole frames follow")
        self.starts = [header_end] + [header_end + end for end in ends]
        self.num_frames = count

    def frames(self, first: int, stop: int) -> list[list[NtuBody]]:
        """Frames first..stop-1."""
        block = b"%d\n" % (stop - first) + self.data[self.starts[first]:self.starts[stop]]
        try:
            return parse_skeleton(block).frames
        except SkeletonFormatError as error:  # said of the range: its lines and frames counted as the file's
            line = self.data[:self.starts[first]].count(b"\n") + error.line - 1
            what = str(error).split(f"line {error.line}: ", 1)[-1]
            what = re.sub(r"\bframe (\d+)", lambda m: f"frame {first + int(m.group(1))}", what)
            raise SkeletonFormatError(self.path, line, what) from None


def export_clips(directory: Path | str, out: Path | str, max_frames: int = MAX_FRAMES,
                 labels: Path | str | None = None, video: bool = True,
                 progress: Callable[[ExportedSample], None] | None = None,
                 ) -> tuple[list[ExportedSample], list[str]]:
    """Write every labelled action of the clips under `directory` into `out` as NTU samples, with the
    same frames of each clip's colour video unless `video` is False, calling `progress` with each sample
    as it is written (a site's folder may take minutes).

    Returns the samples written and one line for each clip or action not exported and why (the rest are
    exported all the same). `out` must hold no .skeleton yet: a second export into it would mix two
    numberings of R."""
    directory, out = Path(directory), Path(out)
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if not directory.is_dir():
        raise ClipError(f"{directory}: not a directory (give the folder the clips are in)")
    clips = find_clips(directory)
    if not clips:
        raise ClipError(f"{directory}: no clips (*.skeleton) found")
    out.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as lock:
        try:  # a second export into OUT would take the first one's files
            lock.enter_context(held(out / LOCK, timeout_s=0))
        except TimeoutError:  # only the lock's: a share's own timeout while writing is said as itself
            raise ClipError(f"{out}: another export is writing into it; wait for it, or export elsewhere"
                            ) from None
        if any(out.glob("*.skeleton")) or any((out / EXPORT_SKELETONS).glob("*.skeleton")):
            raise ClipError(f"{out}: already holds .skeleton files; export into an empty or new folder")
        try:
            return _write_samples(clips, directory, out, max_frames, labels, video, progress)
        except OSError:  # a full disk, most likely (or a clip unreadable midway): what it wrote, given back
            shutil.rmtree(out / EXPORT_STAGING, ignore_errors=True)
            raise


def _write_samples(clips: list[ClipPaths], directory: Path, out: Path, max_frames: int,
                   labels: Path | str | None, video: bool,
                   progress: Callable[[ExportedSample], None] | None,
                   ) -> tuple[list[ExportedSample], list[str]]:
    staging = out / EXPORT_STAGING
    shutil.rmtree(staging, ignore_errors=True)  # what an export stopped midway left
    for folder in (staging / EXPORT_SKELETONS, staging / EXPORT_VIDEOS):
        folder.mkdir(parents=True)
    written: list[ExportedSample] = []
    problems: list[str] = []
    name_of: dict[int, str] = {}  # action id -> class name, as exported so far
    id_of: dict[str, int] = {}  # and back: one name under two ids would be two classes to the tools
    replications: dict[tuple[int, int, int, int], int] = {}
    between_marks, unknown = parts_between_marks_in(clip.skeleton for clip in clips)
    problems.extend(unknown)  # (exported all the same: as its class throughout)
    for clip in clips:
        try:
            base, actions, timestamps, names = _clip_actions(clip, labels, between_marks)
            blocks = _FrameBlocks(clip.skeleton) if actions else None
        except (ClipError, SkeletonFormatError, LabelMapError, KeyError, ValueError, OSError) as error:
            problems.append(str(error.args[0] if isinstance(error, KeyError) and error.args else error))
            continue
        if blocks is not None and blocks.num_frames != len(timestamps):
            problems.append(f"{clip.skeleton}: {blocks.num_frames} frames but its sidecar times "
                            f"{len(timestamps)}; not exported")
            continue
        period = float(np.median(np.diff(timestamps))) if len(timestamps) > 1 else 1.0 / NTU_FPS
        colour = None
        if blocks is not None and video and clip.video is not None:
            try:
                colour = _ClipVideo(clip.video, blocks.num_frames)
            except (ValueError, OSError) as error:  # an AviError is a ValueError
                problems.append(f"{error}; its samples are exported without their video")
        with colour if colour is not None else contextlib.nullcontext():
            for action in actions:
                where = f"{clip.skeleton}: {action.label!r} from {action.start_s:.2f} s"
                try:
                    action_id = action.action_id or names.action_id(action.label)
                    class_name = NTU120_CLASSES[action_id - 1] if action.action_id else names.name(action_id)
                except KeyError as error:
                    site_map = label_map_path(clip, labels)
                    # A clip moved out of its folder into a sub-folder left its labels.txt behind.
                    missing = "" if site_map.is_file() else (
                        f" (there is no {site_map} to number its site classes: --labels names the map)")
                    problems.append(f"{where}: {error.args[0] if error.args else error}{missing}")
                    continue
                if class_name in NTU120_CLASSES:
                    # A site class of NTU's very name ("handshaking", A128 in a converted PKU-MMD folder's
                    # labels.txt) is NTU's class to the tools, which know a class by its A-number (A058).
                    action_id = NTU120_CLASSES.index(class_name) + 1
                # Each folder's labels.txt numbers its own classes from A121: two folders' maps may give
                # one number to two classes, or two numbers to one.
                clash = None
                if name_of.get(action_id, class_name) != class_name:
                    clash = f"A{action_id:03d} is {name_of[action_id]!r}"
                elif id_of.get(class_name, action_id) != action_id:
                    clash = f"{class_name!r} is A{id_of[class_name]:03d}"
                if clash is not None:
                    problems.append(f"{where}: A{action_id:03d} {class_name!r} here, but {clash} in a "
                                    "clip exported before it; export the folders separately, or give them "
                                    "one label map (--labels), into a new folder (this one keeps what is "
                                    "exported now)")
                    continue
                inside = np.flatnonzero(frames_within(timestamps, action.start_s, action.end_s))
                if not len(inside):
                    problems.append(f"{where}: holds no frame of the clip; not exported")
                    continue
                # A .skeleton has no times: every reader takes its frames as 30 a second (NTU's rate),
                # so a dark room's 15 fps played at twice its speed. The action's frames as NTU's rate
                # shows them, each one repeated while it is the latest.
                shown, shown_at = at_ntu_rate(timestamps, inside, period)
                key = (base.setup, base.camera, base.performer, action_id)
                pieces = math.ceil(len(shown) / max_frames)
                for piece, at in zip(np.array_split(shown, pieces), np.array_split(shown_at, pieces),
                                     strict=True):
                    start_s, end_s = float(at[0]), float(at[-1]) + 1 / NTU_FPS
                    if replications.get(key, 0) == 999:
                        problems.append(f"{where}: R is at 999 (three digits) for S{key[0]:03d}"
                                        f"C{key[1]:03d}P{key[2]:03d}...A{action_id:03d}; its pieces from "
                                        f"{start_s:.2f} s on are not exported")
                        break
                    try:
                        read = blocks.frames(int(piece[0]), int(piece[-1]) + 1)
                        frames = [read[i - piece[0]] for i in piece]
                    except SkeletonFormatError as error:
                        problems.append(f"{error} (the piece {start_s:.2f}-{end_s:.2f} s not exported)")
                        continue
                    if not any(frames):
                        problems.append(f"{clip.skeleton}: nobody in view at {start_s:.2f}-{end_s:.2f} s "
                                        f"({class_name}); not exported")
                        continue
                    replications[key] = replications.get(key, 0) + 1
                    name = replace(base, replication=replications[key], action=action_id)
                    video_problem = _write_sample(staging, name, bodies_as_ntu_has_them(frames), colour,
                                                  piece.tolist())
                    with_video = colour is not None and video_problem is None
                    if video_problem is not None:  # one line, not one per piece, for a video that will not do
                        problems.append(f"{video_problem}; {name} and the clip's later samples are exported "
                                        "without their video")
                        colour = None
                    clip_name = clip.skeleton.relative_to(directory).with_suffix("").as_posix()
                    written.append(ExportedSample(name, clip_name, start_s, end_s, len(piece), class_name,
                                                  with_video))
                    if progress is not None:
                        progress(written[-1])
                    name_of[action_id], id_of[class_name] = class_name, action_id
    if written:
        write_label_map(staging / EXPORT_CLASSES, LabelMap(name_of),
                        header=f"the classes of the samples exported from {directory}")
        with open(staging / EXPORT_INDEX, "w", encoding="utf-8", newline="") as index:
            rows = csv.writer(index, delimiter="\t", lineterminator="\n")  # quotes a tab in a class name
            rows.writerow(["sample", "class", "clip", "start_s", "end_s", "frames"])
            rows.writerows([s.name, s.label, s.clip, f"{s.start_s:.3f}", f"{s.end_s:.3f}", s.frames]
                           for s in written)
    for path in sorted(p for p in staging.rglob("*") if p.is_file()):
        target = out / path.relative_to(staging)
        target.parent.mkdir(exist_ok=True)
        os.replace(path, target)
    shutil.rmtree(staging)
    return written, problems


HELD_FRAMES = 6  # a frame repeated for at most 0.2 s at 30 fps: a dark room's frame and the next two lost


def at_ntu_rate(timestamps: np.ndarray, inside: np.ndarray, period: float) -> tuple[np.ndarray, np.ndarray]:
    """The clip's frames `inside` (consecutive) at NTU's 30 fps, and the time of each: every 1/30 s from
    the first one's time to the last one's end, the frame shown then (the latest, a half period's jitter
    allowed). A 30 fps take is kept frame for frame, each frame of a dark room's 15 fps is there twice,
    frames a slow disk dropped are filled by their neighbour (up to HELD_FRAMES); a longer gap (the sensor
    unplugged) is left out, not one pose frozen for seconds. The last frame lasts as long as the one
    before it in the clip (a clip's only frame, `period`), at most a 15 fps frame."""
    times = timestamps[inside]
    last = inside[-1]
    if last > 0:
        last_lasts = float(timestamps[last] - timestamps[last - 1])
    else:
        last_lasts = float(timestamps[1] - timestamps[0]) if len(timestamps) > 1 else period
    last_lasts = min(last_lasts, 1 / 15)
    count = max(1, round((float(times[-1] - times[0]) + last_lasts) * NTU_FPS))
    grid = times[0] + np.arange(count) / NTU_FPS
    latest = np.searchsorted(times, grid + 0.5 / NTU_FPS, side="right") - 1
    held = np.round((grid - times[latest]) * NTU_FPS) < HELD_FRAMES
    return inside[latest[held]], grid[held]


def _write_sample(staging: Path, name: SampleName, frames: list[list[NtuBody]], colour: _ClipVideo | None,
                  shown: list[int]) -> str | None:
    """The sample's .skeleton, and its _rgb.avi (the clip's video frames `shown`, at 30 fps) when `colour`
    is given; why its video was not written, if it was not. An OSError (a full disk) names the file it
    hit."""
    path = staging / EXPORT_SKELETONS / f"{name}.skeleton"
    try:
        write_skeleton(path, SkeletonFile(None, frames, line_ending="\r\n"))
        if colour is None:
            return None
        path = staging / EXPORT_VIDEOS / f"{name}_rgb.avi"
        try:
            colour.cut(path, shown)
        except ValueError as error:  # a frame that does not decode (AviError too)
            path.unlink(missing_ok=True)
            return str(error)
    except OSError as error:
        if error.filename is None:  # a write that found the disk full says no file
            error.filename = str(path)
        raise
    return None


class _ClipVideo:
    """A clip's colour video, cut into its samples' `_rgb.avi`: frame i of it goes with frame i of the
    clip's skeleton, which the recorder keeps and NTU's own samples have.

    The recorder's MJPG is cut by copying JPEGs (recordings.avi.RecordedAvi). Any other video (NTU's own
    H.264) is decoded, on from piece to piece (RgbVideo.frames_from: decoding from the start for each
    piece took 26 s for 18 pieces of a 3-minute take, against 2 s for one pass)."""

    def __init__(self, path: Path, skeleton_frames: int) -> None:
        self.path = path
        self._video: RgbVideo | None = None
        try:
            self.recorded: RecordedAvi | None = RecordedAvi(path)
            self.frame_count = len(self.recorded)
        except AviError:  # not the recorder's
            self.recorded = None
            # A copy cut short still counts every frame in its header: copied whole, it would be taken
            # for the sample's video, its last frames missing.
            if missing := missing_bytes(path):
                raise ValueError(f"{path}: cut short, {missing:,} bytes missing at its end") from None
            self._video = RgbVideo(path)
            self.frame_count = len(self._video)
        # Longer is fine (frame i is still frame i); shorter would leave the last skeleton frames without
        # their picture.
        if self.frame_count < skeleton_frames:
            self.close()
            raise ValueError(f"{path}: {self.frame_count} frames, its skeleton {skeleton_frames}")

    def cut(self, out: Path, shown: list[int]) -> None:
        """Frames `shown` (ascending, a frame repeated as at_ntu_rate repeats it) as the video `out`, at
        NTU's 30 fps."""
        if self.recorded is not None:
            self.recorded.cut(out, shown, fps=NTU_FPS)
            return
        assert self._video is not None
        if shown == list(range(self.frame_count)):
            shutil.copyfile(self.path, out)  # a whole NTU sample's video, as NTU encoded it
            return
        repeats = Counter(shown)
        writer = MjpegAviWriter(out, self._video.width, self._video.height, NTU_FPS)
        try:  # on from where the last piece stopped; from the start for an earlier one (two people's)
            for index, image in enumerate(self._video.frames_from(shown[0]), start=shown[0]):
                for _ in range(repeats[index]):
                    writer.write(image)
                if index == shown[-1]:
                    break
        finally:
            writer.close()
        finalize_avi(out)

    def close(self) -> None:
        if self._video is not None:
            self._video.close()

    def __enter__(self) -> _ClipVideo:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _clip_actions(clip: ClipPaths, labels: Path | str | None, between_marks: set[Path]
                  ) -> tuple[SampleName, list[_Action], np.ndarray, LabelMap]:
    """The clip's S, C and P, its labelled actions, its frame times and the classes its labels name.
    `between_marks`: sidecars of the parts of marked recordings without marks (parts_between_marks),
    which hold no action."""
    try:
        own = SampleName.parse(clip.name)
    except ValueError:
        own = None
    names = ntu_label_map(list(NTU120_CLASSES))
    site_map = label_map_path(clip, labels)
    if site_map.is_file():
        names = names.merged(read_label_map(site_map))
    if clip.sidecar is None:  # NTU's own clip, or a site's copied without it: 30 fps, the class in its name
        if own is None or own.action not in names:  # A121 and on: as `list` does, the site's labels.txt
            raise ClipError(f"{clip.skeleton}: no sidecar, and no class in its name that NTU RGB+D or "
                            f"{site_map} has, so no class to export it under (python -m recordings label "
                            "gives it one)")
        times = np.arange(frame_count(clip.skeleton)) / NTU_FPS
        action = (_Action(0.0, math.inf, f"A{own.action:03d}", action_id=own.action)
                  if own.action <= len(NTU120_CLASSES) else _Action(0.0, math.inf, names.name(own.action)))
        return replace(own, replication=0, action=0), [action], times, names
    sidecar = read_sidecar(clip.sidecar)
    times = sidecar.timestamps - (sidecar.timestamps[0] if len(sidecar.timestamps) else 0.0)
    if sidecar.timeline is not None and sidecar.timeline.intervals:
        actions = [_Action(i.start, i.end, i.label) for i in sidecar.timeline.intervals]
    elif sidecar.path in between_marks:  # the time between its recording's marks, in its other parts
        actions = []
    elif sidecar.label is not None or sidecar.action_id is not None:
        label = sidecar.label if sidecar.label is not None else f"A{sidecar.action_id:03d}"
        actions = [_Action(0.0, math.inf, label)]
    else:
        actions = []  # not labelled yet: nothing to export
    if own is not None:
        base = replace(own, replication=0, action=0)
    else:  # named by its time: the sidecar's (clips recorded before it kept camera and performer: 1 and 0)
        base = SampleName(setup=_name_part(sidecar.raw, "session", 1),
                          camera=_name_part(sidecar.raw, "camera", 1),
                          performer=_name_part(sidecar.raw, "performer", 0), replication=0, action=0)
    return base, actions, times, names


def _name_part(sidecar: dict, key: str, default: int) -> int:
    """A part of a sample name the sidecar keeps, if it is one (three digits), else `default`."""
    value = sidecar.get(key)
    valid = isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= 999
    return value if valid else default


def bodies_as_ntu_has_them(frames: list[list[NtuBody]]) -> list[list[NtuBody]]:
    """At most MAX_BODIES a frame, the bodies most in view, each id one unbroken run of frames. The four
    are chosen before ids are renewed: a person lost for a frame is still one person, most in view."""
    return _renew_ids_after_gaps(_most_seen_bodies(frames, MAX_BODIES))


def _renew_ids_after_gaps(frames: list[list[NtuBody]]) -> list[list[NtuBody]]:
    """The frames with a body that comes back after missing frames given a new id from then on, as a
    Kinect gives a body it finds again (the simulator, and a track kept through a dropout, keep theirs)."""
    next_id = 1 + max((body.body_id for bodies in frames for body in bodies), default=0)
    last_seen: dict[int, int] = {}
    renamed: dict[int, int] = {}
    out = []
    for t, bodies in enumerate(frames):
        kept = []
        for body in bodies:
            if body.body_id in last_seen and last_seen[body.body_id] != t - 1:
                renamed[body.body_id], next_id = next_id, next_id + 1
            last_seen[body.body_id] = t
            new_id = renamed.get(body.body_id, body.body_id)
            kept.append(body if new_id == body.body_id else replace(body, body_id=new_id))
        out.append(kept)
    return out


def _most_seen_bodies(frames: list[list[NtuBody]], most: int) -> list[list[NtuBody]]:
    """Only the `most` bodies in view for the most frames (the first seen of equals) in every frame."""
    seen: dict[int, int] = {}
    for bodies in frames:
        for body in bodies:
            seen[body.body_id] = seen.get(body.body_id, 0) + 1
    kept = set(sorted(seen, key=lambda body_id: -seen[body_id])[:most])  # stable: ties keep first seen
    return [[body for body in bodies if body.body_id in kept] for bodies in frames]
