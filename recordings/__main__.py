"""python -m recordings: inspect, convert, list, label, view, recover, export, erase and synthesise
recordings.

    info PATH              streams, duration, frames, bodies (.xef, .skeleton, a clip's files or folder, a
                           PKU-MMD sequence NNNN-V.txt[.xz|.gz] with its labelled intervals)
    convert FILE OUT       a Kinect Studio file -> a clip in the NTU layout (.skeleton + _rgb.avi + .json,
                           + _depth.bin when the file has depth); a PKU-MMD sequence -> .skeleton + .json
                           with its intervals in the sidecar and their classes in OUT/labels.txt
    list DIR               the clips under DIR with labels and durations, and counts per class (--json:
                           a JSON line per clip)
    label CLIP             give a clip its class, or mark where actions happen (--class, --from, --to);
                           --list, --remove N, --clear
    view PATH              play a recording with the skeleton drawn (--out: render to a video or PNGs,
                           --overwrite to replace an earlier render; --3d: the room in 3D through
                           open3d, the viz3d extra: bones, depth point cloud, floor, field of view;
                           with --out off screen); on a clip, keys mark where actions start and end
                           (the window lists them)
    recover DIR            finalise recordings a crash left unfinished (*.partial folders)
    export DIR OUT         each labelled action of the clips under DIR as its own NTU sample
                           (SsssCcccPpppRrrrAaaa.skeleton, at most 300 frames) for other NTU tools
    erase DIR              the clips a room recorded on a day (--room, --day) or named clips (--clip):
                           says what it finds, erases it with --yes (a patient's erasure request)
    synth                  generate simulated Kinect clips in the NTU layout (its options: python -m
                           recordings synth --help)

The .xef reader follows the public, reverse-engineered layout of Kinect Studio files and has not yet
met a real one.
"""

from __future__ import annotations

if __name__ == "__main__":
    # Run as `python -m recordings`: through run_program, which imports this module again under its own
    # name and runs main. SIGTERM (a service manager's or `timeout`'s stop) ends a command as Ctrl-C does,
    # said in one line, during OpenCV's import too; Python's default ended it without a word.
    from recordings.stop_signals import run_program

    raise SystemExit(run_program("python -m recordings", "recordings.__main__"))

import argparse
import contextlib
import datetime as _dt
import errno
import glob
import json
import os
import re
import shutil
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np

from core.atomic import remove_leftovers
from core.camera import DEFAULT_CAMERA
from core.frame import Frame
from core.package_files import NOTHING_MADE_BEFORE
from core.skeleton import KINECT_V2
from core.timeline import Interval
from core.wording import disk_amount, first_few
from recordings import xef
from recordings.argument_types import (
    CommandLineParser,
    as_typed,
    calendar_day,
    existing_file,
    integer_in,
    non_negative_float,
    output_folder,
    positive_float,
    prepare_console,
    why_no_display,
)
from recordings.atomic import killed_writes, say_if_others_can_read, why_not_writable
from recordings.avi import MAX_AVI_BYTES, MjpegAviWriter, finalize_avi, missing_bytes
from recordings.clip import (
    EXPORT_CLASSES,
    EXPORT_INDEX,
    EXPORT_SKELETONS,
    NTU_FPS,
    ClipError,
    ClipPaths,
    ClipRecording,
    Sidecar,
    XefRecording,
    clip_paths,
    find_clips,
    is_export,
    is_export_samples,
    open_recording,
    parts_between_marks,
    read_sidecar,
    recording_part,
    recording_parts_beside,
)
from recordings.labelling import ClipLabels, known_classes, label_command, label_map_path
from recordings.labels import (
    LABEL_MAP_FILENAME,
    LabelMap,
    LabelMapError,
    check_label,
    columns_of,
    ensure_label,
    in_columns,
    ntu_label_map,
    read_label_map,
)
from recordings.ntu import SkeletonFormatError, frame_count
from recordings.ntu_export import MAX_FRAMES, ExportedSample, export_clips
from recordings.ntu_samples import NTU120_CLASSES, SampleName
from recordings.ntu_video import opencv_path_hint
from recordings.picture_text import put_text, write_image
from recordings.pkummd import (
    PkuMmdError,
    PkuMmdRecording,
    SequenceName,
    describe,
    is_sequence_path,
    sequence_paths,
)
from recordings.qt_binding import QtBindingError, check_qt_binding
from recordings.recorder import (
    PARTIAL_SUFFIX,
    ClipNaming,
    Recorder,
    RecorderConfig,
    RecorderError,
    interrupted_conversion,
    labelled_length_s,
    partial_recordings,
    recover_partial_recordings,
    sample_name_from,
    started_on_room_clock,
)

BODY_COLOURS = ((0, 200, 255), (80, 220, 80), (255, 160, 40), (200, 80, 255), (40, 40, 255), (255, 255, 0))


# ---- info -------------------------------------------------------------------------------------------


def _describe_xef(path: Path) -> list[str]:
    with XefRecording(path) as recording:
        reader = recording.reader
        lines = [
            f"{path}: Kinect Studio recording ({'archived' if reader.archived else 'plain'}), "
            f"{reader.size / 1e6:.1f} MB, {reader.event_count} events, {reader.opaque_count} opaque records",
            "streams:",
        ]
        for stream in reader.streams.values():
            lines.append(
                f"  {stream.index:>2}  {stream.kind:<22} {stream.event_count:>7} events  "
                f"tag {stream.tag_size} B{'  compressed' if stream.compressed else ''}  {stream.name!r}"
            )
        info = recording.info
        most, ids = recording.body_summary()
        lines.append(
            f"duration {info.duration_s:.2f} s, {info.frame_count} frames "
            f"({recording.frames_from}, {info.fps:.1f} fps), "
            f"bodies: up to {most} at once, {ids} tracking ids"
        )
        if reader.damage is not None:
            lines.append(f"DAMAGED: {reader.damage} (everything before it is readable)")
    return lines


def _describe_clip(recording: ClipRecording) -> list[str]:
    info, paths = recording.info, recording.paths
    label = info.label or (
        NTU120_CLASSES[info.action_id - 1] if info.action_id and info.action_id <= 120 else None
    )
    most, ids = recording.body_summary()
    video = "no video"
    if recording.video is None and recording.sidecar is None:  # NTU's release keeps videos apart
        video = f"no video beside it (--video gives a {paths.name}_rgb.avi kept elsewhere)"
    if recording.video is not None:
        size = f"{recording.video.width}x{recording.video.height}"
        video = f"video {paths.video.name} {size}, {len(recording.video)} frames (as its header says)"
        if missing := missing_bytes(paths.video):
            video += f"; CUT SHORT: {missing:,} bytes missing at its end, the frames there will not play"
    # As `list` and `label --to end` count it: to the end of its last frame (the sidecar's duration_s is
    # first to last frame).
    length = labelled_length_s(recording.timestamps)
    lines = [
        f"{paths.skeleton}: clip {paths.name}"
        + (f", A{info.action_id:03d}" if info.action_id else "")
        + (f" {label!r}" if label else ""),
        f"duration {length:.2f} s, {info.frame_count} frames, {info.fps:.1f} fps "
        f"({'sidecar timestamps' if recording.sidecar else 'no sidecar: 30 fps assumed'}), {video}",
        f"bodies: up to {most} at once, {ids} body id{'s' if ids != 1 else ''}",
    ]
    if recording.depth is not None:
        depth = recording.depth
        lines.append(f"depth {depth.path.name}: {len(depth)} frames"
                     + (f" {depth.width}x{depth.height} mm" if len(depth) else "")
                     + (f"  DAMAGED: {recording.depth_damage}" if recording.depth_damage else ""))
    if recording.sidecar is not None:
        sidecar = recording.sidecar
        lines.append(
            f"recorded from {sidecar.source!r} with where-to-focus {sidecar.software_version}, "
            f"stopped: {sidecar.raw.get('stopped', '?')}"
        )
        if "session" in sidecar.raw:
            lines.append(f"session {sidecar.raw['session']}")
        if (part := recording_part(sidecar)) is not None and (part.number > 1 or part.went_on):
            went_on = f"; it was full, and it went on in {part.went_on}" if part.went_on else ""
            lines.append(f"part {part.number} of recording {part.recording}{went_on} (where a recording's "
                         "parts have marks, those without any are background: recordings list says)")
    if recording.timeline is not None:
        intervals = recording.timeline.intervals
        lines.append(f"intervals: {len(intervals)} (sidecar)")
        for interval in intervals:
            who = "everybody" if interval.person is None else f"body {interval.person}"
            lines.append(f"  {interval.start:7.2f} - {interval.end:7.2f} s  {interval.label} ({who})")
    return lines


def cmd_info(args: argparse.Namespace) -> int:
    path = Path(args.path)
    if path.suffix.lower() == ".xef":
        print("\n".join(_describe_xef(path)))
        return 0
    if path.is_file() and is_sequence_path(path):
        with PkuMmdRecording(path) as recording:
            print("\n".join(describe(recording)))
        return 0
    if path.is_dir() and len(list(path.glob("*.skeleton"))) != 1:
        clips = find_clips(path)
        if not clips:
            print(_an_export(path) or f"{path}: no clips (*.skeleton) in this folder{_sequences_here(path)}",
                  file=sys.stderr)
            return 1
        for clip in clips:
            with ClipRecording(clip.skeleton, color=True) as recording:
                print("\n".join(_describe_clip(recording)) + "\n")
        return 0
    with ClipRecording(path, video=args.video) as recording:
        print("\n".join(_describe_clip(recording)))
    return 0


# ---- convert ----------------------------------------------------------------------------------------


def _label_map(path: str | None, directory: Path) -> LabelMap | None:
    candidate = Path(path) if path else directory / LABEL_MAP_FILENAME
    if path or candidate.is_file():
        return read_label_map(candidate)
    return None


def cmd_convert(args: argparse.Namespace) -> int:
    source = Path(args.file)
    out_dir = Path(args.out_dir)
    if not source.exists():
        raise ValueError(f"{source}: no such file")
    if is_sequence_path(source):
        return _convert_pkummd(args, source, out_dir)
    if source.suffix.lower() != ".xef":
        # Read as a .xef, another file fails at its signature, which says nothing of what to give.
        ntu = source.suffix == ".skeleton"
        already = " (a .skeleton is the NTU layout already: replay or list it as it is)" if ntu else ""
        if source.name.lower().endswith(".skeleton.txt"):  # as some copies of NTU RGB+D publish them
            already = (f" (an NTU skeleton file with .txt added: rename it {source.name[:-4]}, "
                       "the NTU layout already)")
        raise ValueError(f"{source}: convert takes a Kinect Studio .xef file or a PKU-MMD sequence "
                         f"(NNNN-V.txt, .txt.xz or .txt.gz){already}")
    given = {part: getattr(args, part) for part in ("setup", "camera", "performer")
             if getattr(args, part) is not None}
    sample_name = args.name
    if args.label is None and sample_name is None:
        sample_name = sample_name_from(source.stem)
    if given and sample_name is not None and _is_ntu_name(sample_name):
        raise ValueError(f"{source}: the name {sample_name} says its S, C and P itself; --setup / --camera / "
                         "--performer would be ignored")
    if args.label is not None:
        # As `python -m live --record --label`: a new class joins the site's labels.txt (A121 and up).
        map_path = Path(args.labels) if args.labels else out_dir / LABEL_MAP_FILENAME
        label_map, action_id, added = ensure_label(map_path, args.label)
        if added:
            print(f"new class A{action_id:03d} {label_map.name(action_id)!r} in {map_path}")
    else:
        label_map = _label_map(args.labels, out_dir)
    config = RecorderConfig(
        record_video=not args.no_video,
        record_depth=not args.no_depth,
        min_free_bytes=int((2.0 if args.min_free_gb is None else args.min_free_gb) * 1e9),
        # In the names --label generates, else kept in the sidecar (training's hold-out by session, the
        # export's names). Without --label nor --performer nobody said who performed: P 0, not known.
        naming=ClipNaming(**given) if args.label is not None else ClipNaming(**{"performer": 0, **given}),
    )
    if config.record_video:
        say_if_others_can_read(f"the room's video converted into {as_typed(out_dir)}")
    started = time.perf_counter()
    with XefRecording(source, color=not args.no_video, depth=not args.no_depth) as recording:
        if recording.info.frame_count == 0:
            print(f"error: {source}: no colour or body frames to convert", file=sys.stderr)
            return 2
        recorder = Recorder(
            out_dir,
            label=args.label,
            label_map=label_map,
            sample_name=sample_name,
            camera=DEFAULT_CAMERA,
            source=xef.CONVERTED_SOURCE + source.name,
            config=config,
        )
        error: xef.XefFormatError | None = None

        def frames_before_any_damage() -> Iterator[Frame]:
            nonlocal error
            try:
                yield from recording.frames()
            except xef.XefFormatError as damage:  # the frames before it make a clip; said below
                error = damage

        _convert_frames(recorder, frames_before_any_damage())
    files = recorder.files
    assert files is not None
    elapsed = time.perf_counter() - started
    print(
        f"wrote {files.skeleton}"
        + (f", {files.video.name}" if files.video else "")
        + (f", {files.depth.name}" if files.depth else "")
        + f", {files.sidecar.name}: "
        f"{files.frame_count} frames in {elapsed:.1f} s"
    )
    if recorder.stopped_reason:
        print(f"stopped early: {recorder.stopped_reason}", file=sys.stderr)
        return 1
    if error is not None:
        print(f"the source is damaged; converted the frames before it: {error}", file=sys.stderr)
        return 1
    return 0


def _convert_frames(recorder: Recorder, frames: Iterable[Frame]) -> None:
    """Every frame into `recorder`, then the clip finalised. Cut short (Ctrl-C, SIGTERM, a failure) the
    clip is removed, not kept as if whole: its source still holds every frame, and the same command
    converts it again (a clip kept with the first half only looked complete to list, info and training)."""
    try:
        for frame in frames:
            if not recorder.write(frame):  # stopped by itself (low disk space): kept, said by the caller
                break
    except BaseException as error:
        recorder.discard(frames_kept_elsewhere=True)
        said = (f"{recorder.sample_name}: conversion cut short after {recorder.frame_count} frames; nothing "
                "is kept (the same command converts it again)")
        if isinstance(error, KeyboardInterrupt):  # main says 'interrupted: ' and this, in one line
            raise KeyboardInterrupt(said) from None
        print(said, file=sys.stderr)
        raise
    recorder.close()


def _is_ntu_name(name: str) -> bool:
    try:
        SampleName.parse(name)
    except ValueError:
        return False
    return True


def _convert_pkummd(args: argparse.Namespace, source: Path, out_dir: Path) -> int:
    """A PKU-MMD sequence -> NAME.skeleton + NAME.json (no video), its labels as the sidecar's intervals,
    and their classes in OUT/labels.txt: the folder is then a clips dataset as recorded ones are (training
    --clips / finetune --rehearse, recordings list)."""
    if args.label is not None:
        raise ValueError(f"{source}: a PKU-MMD sequence holds several actions, labelled by its label file; "
                         f"drop --label")
    # Options of a .xef conversion that a sequence has no use for: refused rather than dropped unseen.
    unused = [f"--{option}" for option in ("labels", "setup", "camera", "performer")
              if getattr(args, option) is not None]
    if unused:
        raise ValueError(f"{source}: {', '.join(unused)} name or label a .xef conversion; a PKU-MMD "
                         f"sequence keeps its own name (or --name) and the labels of its label file")
    started = time.perf_counter()
    map_path = out_dir / LABEL_MAP_FILENAME
    with PkuMmdRecording(source) as recording:
        if recording.timeline is None:
            print(f"{source}: no label file found; the clip gets no intervals", file=sys.stderr)
        intervals = recording.timeline.intervals if recording.timeline is not None else ()
        classes = list(dict.fromkeys(interval.label for interval in intervals))  # in order, each once
        for name in classes:  # a labels.txt that cannot take them (NTU ids): said before anything is written
            check_label(map_path, name, similar_ok=True)
        # The view's performance is its session: validation holds out the three views of one together;
        # its views L, M and R are cameras 1-3. Its performers are not numbered: P 0, not known.
        sequence = SequenceName.parse(recording.name)
        naming = ClipNaming(setup=sequence.performance, camera="LMR".index(sequence.view) + 1, performer=0)
        min_free_gb = 0.1 if args.min_free_gb is None else args.min_free_gb  # skeletons only: ~1 MB
        recorder = Recorder(
            out_dir,
            sample_name=args.name or recording.name,
            camera=recording.camera,
            source=f"pkummd:{source.name}",
            config=RecorderConfig(record_video=False, naming=naming, min_free_bytes=int(min_free_gb * 1e9)),
            timeline=recording.timeline,
        )
        try:
            _convert_frames(recorder, recording.frames())
            files = recorder.files
            assert files is not None
            print(f"wrote {files.skeleton}, {files.sidecar.name}: {files.frame_count} frames, "
                  f"{len(intervals)} intervals in {time.perf_counter() - started:.1f} s")
            for name in classes:
                _, action_id, added = ensure_label(map_path, name)
                if added:
                    print(f"new class A{action_id:03d} {name!r} in {map_path}")
        except KeyboardInterrupt:
            # Stopped once the clip was written (its sidecar, written last, is there: the stop came as the
            # clip was being put in place, or after): its classes still go in (a moment; each write whole
            # or not at all). A clip whose classes labels.txt lacked was refused by training, and the same
            # command, the clip being there, refused to convert it again.
            if (out_dir / f"{recorder.sample_name}.json").is_file():
                for name in classes:
                    ensure_label(map_path, name)
                print(f"wrote {out_dir / recorder.sample_name}.skeleton whole, its classes in {map_path}",
                      file=sys.stderr)
            raise
    if recorder.stopped_reason:
        print(f"stopped early: {recorder.stopped_reason}", file=sys.stderr)
        return 1
    return 0


# ---- list -------------------------------------------------------------------------------------------


def _say_unfinished_recordings(directory: Path, what: str) -> int:
    """The recordings in `directory` a crash interrupted, or still being written, which are not `what`;
    how many."""
    left, running = partial_recordings(directory)
    conversions = {p: said for p in left if (said := interrupted_conversion(p)) is not None}
    for said in conversions.values():  # not for recover: their sources convert again
        print(f"{directory}: {said}; not {what}", file=sys.stderr)
    left = [p for p in left if p not in conversions]
    if left:
        interrupted = ", ".join(p.name for p in left)
        print(f"{directory}: {len(left)} recording(s) a crash interrupted ({interrupted}), not {what}: "
              f"python -m recordings recover {as_typed(directory)}", file=sys.stderr)
    if running:
        print(f"{directory}: {len(running)} recording(s) in progress (or another user's, which this one "
              f"cannot check), not {what} until finished ({', '.join(p.name for p in running)})",
              file=sys.stderr)
    return len(conversions) + len(left) + len(running)


def _say_unfinished_below(directory: Path, what: str) -> int:
    """`_say_unfinished_recordings` for `directory` and every folder below it (clips are found in
    subfolders too, and one not yet finished is not among them); how many."""
    folders = sorted({p.parent for p in directory.rglob(f"*{PARTIAL_SUFFIX}") if p.is_dir()})
    return sum(_say_unfinished_recordings(folder, what) for folder in folders)


def _an_export(directory: Path) -> str:
    """What to say of an export's folder, or its samples', which are not clips ("" for any other folder)."""
    if not (is_export(directory) or is_export_samples(directory)):
        return ""
    return (f"{directory}: an export (NTU samples cut from clips for other tools; {_export_index(directory)} "
            f"says which clip each came from), not clips: list, prepare and finetune read the clips; python "
            f"-m recordings info SAMPLE.skeleton describes one sample")


def _an_export_sample(sample: Path) -> str:
    return ("a sample of an export, cut from a clip for other NTU RGB+D tools, which take every file of its "
            f"folder for a sample (a sidecar or labels.txt beside it too): label the clip it was cut from "
            f"({_export_index(Path(sample).parent)} says which)")


def _export_index(folder: Path) -> Path:
    """The samples.tsv of the export that `folder` is, or holds the samples of."""
    folder = Path(folder).absolute()  # ("." has no name)
    return (folder.parent if folder.name.casefold() == EXPORT_SKELETONS else folder) / EXPORT_INDEX


def _sequences_here(directory: Path) -> str:
    """What to do with the PKU-MMD sequences of a folder without clips ("" where it has none): info and
    convert read them one at a time."""
    found = sequence_paths(directory)
    if not found:
        return ""
    return (f"; its {len(found)} PKU-MMD sequence(s) are read one at a time: python -m recordings info "
            f"{as_typed(found[0])}, and convert makes a clip of one (python -m recordings convert FILE OUT)")


def cmd_list(args: argparse.Namespace) -> int:
    directory = Path(args.dir)
    given = read_label_map(args.labels) if args.labels else None  # read first: a bad one stops here
    clips = find_clips(directory)
    _say_unfinished_below(directory, "listed")
    if not clips:
        if sequences := _sequences_here(directory):  # asked to list what it holds: not "nothing", exit 0
            print(f"{directory}: no clips (*.skeleton) found{sequences}", file=sys.stderr)
            return 1
        said = sys.stderr if args.json else sys.stdout  # --json: standard output holds clips' lines only
        if export := _an_export(directory):
            print(export, file=said)
            return 0
        print(f"{directory}: no clips (*.skeleton) found", file=said)
        return 0
    counts: Counter[str] = Counter()  # clips per class
    intervals: Counter[str] = Counter()  # marked intervals per class
    total = 0.0
    background = 0  # parts of marked recordings without marks of their own
    rows = []
    damaged: list[str] = []  # one bad file must not hide the folder's other clips
    bad_maps: list[str] = []
    ntu = ntu_label_map(list(NTU120_CLASSES))
    folder_names: dict[Path, tuple[LabelMap, LabelMap | None]] = {}

    def class_names(clip: ClipPaths) -> tuple[LabelMap, LabelMap | None]:
        """NTU's classes with the site's that the clip's own folder numbers (its labels.txt, as label and
        export read it, or --labels): a parent of several wards' folders has no labels.txt of its own."""
        folder = clip.skeleton.parent
        if folder not in folder_names:
            path, site = label_map_path(clip, args.labels), given
            if site is None and path.is_file():
                try:
                    site = read_label_map(path)
                except LabelMapError as error:  # its clips listed all the same, without site numbers
                    bad_maps.append(str(error))
            folder_names[folder] = (ntu.merged(site) if site is not None else ntu), site  # site ids >= A121
        return folder_names[folder]

    sidecars: dict[Path, Sidecar | ClipError] = {}
    lengths: dict[Path, tuple[int, float]] = {}  # frames, seconds (as training counts them)
    for clip in clips:
        if clip.sidecar is not None:
            try:
                sidecar = read_sidecar(clip.sidecar)
            except ClipError as error:
                sidecars[clip.sidecar] = error
                continue
            lengths[clip.sidecar] = (len(sidecar.timestamps),
                                     labelled_length_s(np.asarray(sidecar.timestamps, np.float64)))
            # Kept without its frames' times: 870 KB a 10-minute clip, and a share of 100 rooms' month
            # took 5 GB at 6,000 clips.
            sidecars[clip.sidecar] = replace(sidecar, timestamps=np.empty(0), raw={
                key: value for key, value in sidecar.raw.items() if key != "timestamps"})
    between_marks, unknown = parts_between_marks(s for s in sidecars.values() if isinstance(s, Sidecar))
    for said in unknown:
        print(f"warning: {said}", file=sys.stderr)
    for clip in clips:
        label, duration, frames, marked = None, None, None, ""
        recorded, room = "-", "-"  # NTU's own clips say neither
        started, marked_classes, between = None, [], False  # for --json
        names, site = class_names(clip)
        if clip.sidecar is not None:
            sidecar = sidecars[clip.sidecar]
            if isinstance(sidecar, ClipError):
                damaged.append(str(sidecar))
                continue
            label, (frames, duration) = sidecar.label, lengths[clip.sidecar]
            # Where and when (the room's local time): a folder rooms share, and what an erasure request names.
            recorded, room = _recorded_at(sidecar.raw), str(sidecar.raw.get("room") or "-")
            with contextlib.suppress(ValueError):
                started = started_on_room_clock(sidecar.raw).isoformat(timespec="seconds")
            action = sidecar.action_id
            if sidecar.timeline is not None and sidecar.timeline.intervals:
                # Intervals say what the clip shows (its whole-clip label no longer does): the clip
                # counts once for each class it holds, and each interval counts as one of them.
                for interval in sidecar.timeline.intervals:
                    intervals[_interval_key(names, site, interval.label)] += 1
                classes = marked_classes = sorted({i.label for i in sidecar.timeline.intervals})
                counts.update(_interval_key(names, site, c) for c in classes)
                count = len(sidecar.timeline.intervals)
                marked = f"  [{count} interval{'s' * (count != 1)}: {', '.join(classes)}]"
            elif sidecar.path in between_marks:  # trained as background, not as its class throughout
                marked = "  [no interval: its recording's marks are in its other parts; background]"
                background += 1
                between = True
        else:
            try:
                action = SampleName.parse(clip.name).action
            except ValueError:
                action = None
            try:
                frames = frame_count(clip.skeleton)
            except (SkeletonFormatError, OSError) as error:
                damaged.append(str(error))
                continue
            duration = frames / NTU_FPS  # NTU's own clips: 30 fps, each frame its 1/30 s (labelled_length_s)
        if label is None and action is not None:  # by its A-number: the site's class, else NTU's
            label = site.names.get(action) if site is not None and action in site else None
            label = label or (NTU120_CLASSES[action - 1] if 1 <= action <= len(NTU120_CLASSES) else None)
        if action is not None:
            key = f"A{action:03d} {label}"
        else:  # a clip labelled before its folder numbered the class
            key = _class_key(names, label) if label is not None else "(unlabelled)"
        if marked and label is None:
            key = "(intervals only)"
        if not marked:
            counts[key] += 1
        total += duration
        name = str(clip.skeleton.relative_to(directory).with_suffix(""))
        if args.json:  # a line a dashboard or a script reads: the room's time with its offset, "/" paths
            print(json.dumps({"clip": Path(name).as_posix(), "class": key, "frames": frames,
                              "seconds": round(duration, 3), "video": bool(clip.video), "started": started,
                              "room": None if room == "-" else room, "intervals": marked_classes,
                              "background": between}, ensure_ascii=False))
        rows.append((name, key, frames, duration, "yes" if clip.video else "no", marked, recorded, room))
    if rows and not args.json:
        width = max(columns_of(r[0]) for r in rows)  # terminal columns: a folder named in CJK takes two each
        rooms = max(columns_of("room"), *(columns_of(r[7]) for r in rows))
        print(f"{in_columns('clip', width)}  {'frames':>6}  {'seconds':>7}  video  {'recorded':<16}  "
              f"{in_columns('room', rooms)}  label")
        for name, key, frames, duration, video, marked, recorded, room in rows:
            print(f"{in_columns(name, width)}  {frames:>6}  {duration:>7.2f}  {video:<5}  {recorded:<16}  "
                  f"{in_columns(room, rooms)}  {key}{marked}")
    if not args.json:
        print(f"\n{len(rows)} clip{'s' * (len(rows) != 1)}, {total / 60:.1f} minutes. Clips per class"
              + (" (and the intervals marked in them):" if intervals else ":"))
        for key, count in sorted(counts.items()):
            n = intervals[key]
            marked_here = f"  ({n} interval{'s' * (n != 1)})" if n else ""
            print(f"  {count:>4}  {key}{marked_here}")
        if background:
            print(f"  {background:>4}  (background: parts of recordings marked in their other parts)")
    if bad_maps:
        print("unreadable label map(s): their folders' clips are listed without their site classes' "
              "numbers", file=sys.stderr)
        for error in bad_maps:
            print(f"  {error}", file=sys.stderr)
    if damaged:
        print(f"{len(damaged)} damaged clip(s), not listed or counted:", file=sys.stderr)
        for error in damaged:
            print(f"  {error}", file=sys.stderr)
    return 1 if damaged or bad_maps else 0


def _recorded_at(sidecar: dict) -> str:
    """A sidecar's "started_at" as the room's local time, '2026-12-03 09:00' ('-' where it has none that
    reads)."""
    try:
        return started_on_room_clock(sidecar).strftime("%Y-%m-%d %H:%M")
    except ValueError:
        return "-"


def _class_key(names: LabelMap, name: str) -> str:
    """How `list` names a class: with its A-number where the label maps know it."""
    try:
        return f"A{names.action_id(name):03d} {name}"
    except KeyError:
        return name


def _interval_key(names: LabelMap, site: LabelMap | None, name: str) -> str:
    """How `list` names an interval's class. Labelling puts every interval's class in the folder's
    labels.txt: one it lacks was renamed or removed there, and training refuses the clip (it was counted
    under NTU's class of that name)."""
    if site is not None and site.named(name) is None:
        return f"{name}  (not in labels.txt: renamed or removed there? training refuses these clips)"
    return _class_key(names, name)


# ---- view -------------------------------------------------------------------------------------------


def draw_skeleton(frame: Frame, caption: str | None = None,
                  size: tuple[int, int] = (1920, 1080)) -> np.ndarray:
    """The frame's colour image (or a dark canvas) with every body's bones and joints drawn, BGR; its
    index, time and `caption` (default: the class its recording's labels give it) printed on it."""
    if frame.color is not None:
        image = frame.color.copy()
    else:
        image = np.full((size[1], size[0], 3), 32, np.uint8)
    scale = max(1, image.shape[0] // 360)
    for n, body in enumerate(frame.bodies):
        colour = BODY_COLOURS[n % len(BODY_COLOURS)]
        uv = body.joints_color
        ok = np.isfinite(uv).all(axis=1) & (body.states > 0)
        points = np.nan_to_num(uv).round().astype(np.int32)
        for parent, child in KINECT_V2.bones:
            if ok[parent] and ok[child]:
                cv2.line(image, tuple(points[parent]), tuple(points[child]), colour, scale, cv2.LINE_AA)
        for j in np.flatnonzero(ok):
            radius = 2 * scale if body.states[j] == 2 else scale
            cv2.circle(image, tuple(points[j]), radius, colour, -1, cv2.LINE_AA)
    if caption is None:
        caption = next((b.truth for b in frame.bodies if b.truth is not None), None)
    said = f"{frame.index}  {frame.timestamp:7.2f} s" + (f"  {caption}" if caption is not None else "")
    put_text(image, said, (10 * scale, 20 * scale), 0.5 * scale, (255, 255, 255), scale)
    return image


def _frames_until(frames: Iterator[Frame], limit: int | None) -> Iterator[Frame]:
    for n, frame in enumerate(frames):
        if limit is not None and n >= limit:
            return
        yield frame


def render_to(frames: Iterator[Frame], out: Path, fps: float, width: int | None) -> int:
    """Write drawn frames where `out` says (see write_images)."""
    return write_images(((frame.index, draw_skeleton(frame)) for frame in frames), out, fps, width)


VIDEO_SUFFIXES = (".avi", ".mp4")  # .avi: the recorder's MJPG writer; .mp4: OpenCV's, MPEG-4 part 2
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")


def _numbered_image(out: Path, number: str, to_folder: bool) -> Path:
    """Image `number` of write_images: OUT/frame_NUMBER.png in a folder, OUT_NUMBER.ext beside an image
    name."""
    return out / f"frame_{number}.png" if to_folder else out.with_name(f"{out.stem}_{number}{out.suffix}")


def write_images(
    images: Iterator[tuple[int, np.ndarray]], out: Path, fps: float, width: int | None = None
) -> int:
    """Write (frame index, BGR image) pairs to a video (OUT.avi / OUT.mp4), to numbered images beside an
    image name (OUT.png -> OUT_000012.png; .jpg likewise) or to numbered PNGs in a folder (no suffix:
    OUT/frame_000012.png); `width` rescales them first. Any other suffix is refused before anything is
    read. Returns the number of frames really written."""
    suffix = out.suffix.lower()
    to_folder = out.is_dir() or not suffix
    if not to_folder and suffix not in VIDEO_SUFFIXES and suffix not in IMAGE_SUFFIXES:
        raise ValueError(f"{out}: --out takes a video (.avi, .mp4), an image name (.png, .jpg: one numbered "
                         f"image per frame) or a folder, not {out.suffix!r}")
    folder = out if to_folder else out.parent
    existing = next((p for p in (folder, *folder.parents) if p.exists()), None)
    if existing is not None and not existing.is_dir():  # mkdir would say "File exists", naming neither
        raise ValueError(f"{out}: {existing} is a file, not a folder")
    folder.mkdir(parents=True, exist_ok=True)
    writer: MjpegAviWriter | cv2.VideoWriter | None = None
    # A video is written beside its name and put in place at the end: an earlier one (--overwrite) stays
    # until there is a new one, and a link at `out` is replaced, not written through into what it names.
    video = out.with_name(f".{out.stem}.partial{out.suffix}")
    count, whole = 0, False  # whole: the render ended as meant (its frames, or the 4 GiB an AVI holds)
    try:
        for index, image in images:
            if width is not None and image.shape[1] != width:
                image = cv2.resize(
                    image,
                    (width, round(image.shape[0] * width / image.shape[1])),
                    interpolation=cv2.INTER_AREA,
                )
            if to_folder or suffix in IMAGE_SUFFIXES:
                path = _numbered_image(out, f"{index:06d}", to_folder)
                try:
                    write_image(path, image)
                except OSError as error:
                    raise OSError(f"{error} ({count} frames written before it)") from None
            else:
                if writer is None:
                    frame_size = (image.shape[1], image.shape[0])
                    if suffix == ".avi":  # opens any path: OpenCV's, on Windows, only the code page's
                        writer = MjpegAviWriter(video, *frame_size, fps)
                    else:
                        writer = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), fps, frame_size)
                        if not writer.isOpened():
                            raise OSError(f"{out}: OpenCV cannot write this video{opencv_path_hint(out)}")
                if (image.shape[1], image.shape[0]) != frame_size:
                    # A frame without colour (a video cut short) is drawn on a canvas of another size:
                    # a video's frames are one size, or the writer drops them without a word.
                    image = cv2.resize(image, frame_size, interpolation=cv2.INTER_AREA)
                if isinstance(writer, MjpegAviWriter) and writer.bytes_written + 4 * 1024**2 > MAX_AVI_BYTES:
                    whole = True
                    raise OSError(f"{out}: an AVI holds at most 4 GiB, reached after {count} frames (they "
                                  "play); render to .mp4 or to images for the rest")
                writer.write(image)
            count += 1
        whole = True
    except KeyboardInterrupt:  # main says 'interrupted: ' and this: a cut render looked like a finished one
        video_out = not to_folder and suffix in VIDEO_SUFFIXES
        earlier = video_out and (out.exists() or out.is_symlink())
        # Its frames in place: images as written; a video as `finally` decides, only where none was there.
        if count and not earlier:
            said = f"the render is incomplete, {count} frame(s) written"
        else:
            said = f"the earlier render is kept; this one stopped after {count} frame(s)" if earlier else \
                "nothing written"
        raise KeyboardInterrupt(f"{out}: {said}") from None
    finally:
        try:
            if isinstance(writer, MjpegAviWriter):
                writer.close()
                finalize_avi(video)  # indexed even when stopped midway: the frames written play
            elif writer is not None:
                writer.release()
        except BaseException:  # a full disk closing it, a second Ctrl-C: no hidden partial file left
            video.unlink(missing_ok=True)
            raise
        # Stopped midway (an error, Ctrl-C), the frames written play, but not in place of an earlier render.
        if writer is not None and count and (whole or not (out.exists() or out.is_symlink())):
            os.replace(video, out)
        else:
            video.unlink(missing_ok=True)
    return count


def prepare_render_out(out: Path, recording_files: Iterable[Path], overwrite: bool) -> None:
    """Refuse a `view --out` that would destroy something: a clip's video (the recording's own, rendered
    into while it was read, or another's: the take was gone), or an earlier render unless `overwrite`
    (ffmpeg asks; a command cannot, and an incident video made for a report was replaced without a word).
    With `overwrite` an earlier render's numbered images are removed first (a render of fewer frames left
    a mixture of the two); a video is replaced by write_images once the new one is written."""
    suffix = out.suffix.lower()
    # A folder that cannot be written was said as "OpenCV cannot write this video" (an MP4), or as a
    # PermissionError naming a frame (images).
    folder = out if out.is_dir() or not suffix else out.parent
    if (why := why_not_writable(folder.absolute())) is not None:
        raise ValueError(f"{out}: cannot be written ({why})")
    if out.is_dir() or not suffix:  # write_images' folder of frame_NNNNNN.png
        earlier = _rendered_images(out, "frame", ".png") if out.is_dir() else []
    elif suffix in IMAGE_SUFFIXES:  # out.png -> out_NNNNNN.png
        earlier = _rendered_images(out.parent, out.stem, out.suffix)
    elif suffix in VIDEO_SUFFIXES and (out.exists() or out.is_symlink()):
        if out.exists() and any(own.exists() and os.path.samefile(out, own) for own in recording_files):
            raise ValueError(f"{out}: is the recording's own video; render to another name")
        clip_video = next((p for p in (out, out.resolve()) if p.name.lower().endswith("_rgb.avi")), None)
        if clip_video is not None:  # NTU's name for a clip's video
            what = "is" if clip_video == out else f"is a link to {clip_video.name},"
            raise ValueError(f"{out}: {what} a clip's video by its name (_rgb.avi); render to another name "
                             "(a render of yours named so: delete it first)")
        earlier = [out]
    else:  # a new video, or a suffix write_images refuses
        return
    if earlier and not overwrite:
        what = "exists" if earlier == [out] else \
            f"holds {len(earlier)} images of an earlier render ({earlier[0].name}, ...)"
        raise ValueError(f"{out}: {what}; --overwrite replaces it, or name another --out")
    for path in earlier:
        if path != out:
            path.unlink()


def _rendered_images(folder: Path, stem: str, suffix: str) -> list[Path]:
    """The images write_images numbers `stem`_NNNNNN`suffix` in `folder` (not a user's fall_2024.png)."""
    numbered = re.compile(re.escape(stem) + r"_\d{6,}" + re.escape(suffix))
    return sorted(p for p in folder.glob(f"{glob.escape(stem)}_*{glob.escape(suffix)}")
                  if numbered.fullmatch(p.name) and p.is_file())


def _view_window(frames: Iterator[Frame], fps: float, title: str, close_at_end: bool = False) -> int:
    """Play in a pyqtgraph window at `fps`; the last frame stays up until the window is closed (or the
    window closes itself with close_at_end). Returns the number of frames shown."""
    import pyqtgraph as pg
    from pyqtgraph.Qt import QtCore

    check_qt_binding()
    app = pg.mkQApp(title)
    window = pg.GraphicsLayoutWidget(title=title)
    view = window.addViewBox(lockAspect=True, invertY=True)
    item = pg.ImageItem(axisOrder="row-major")
    view.addItem(item)
    window.resize(1280, 760)
    window.show()
    shown = 0

    def advance() -> None:
        nonlocal shown
        frame = next(frames, None)
        if frame is None:
            timer.stop()
            if close_at_end:
                window.close()
                app.quit()
            return
        image = draw_skeleton(frame)
        if image.shape[1] > 1280:
            image = cv2.resize(
                image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA
            )
        item.setImage(cv2.cvtColor(image, cv2.COLOR_BGR2RGB), autoLevels=False, levels=(0, 255))
        shown += 1

    timer = QtCore.QTimer()
    timer.timeout.connect(advance)
    timer.start(max(1, round(1000 / fps)) if fps > 0 else 33)
    try:
        app.exec()
    finally:
        # close_at_end asks twice: closing the last window, Qt posts a Quit (quitOnLastWindowClosed), and
        # app.quit() sends one, which ends exec(). The posted one stayed queued: delivered later outside
        # exec() (a processEvents), it set Qt's quit-now flag for the thread, which only exec() clears,
        # and every QEventLoop.exec() after it in the process returned at once (-1): a dialog's, or the
        # waits of a test's next window.
        QtCore.QCoreApplication.removePostedEvents(app, QtCore.QEvent.Type.Quit)
    return shown


def cmd_view(args: argparse.Namespace) -> int:
    if not args.out and not args.three_d and (why := why_no_display()) is not None:
        print(f"error: no display to open the window on ({why}): write the frames with --out DIR (PNGs) "
              "or --out FILE.mp4 instead", file=sys.stderr)
        return 2
    if not args.out and not args.three_d and os.environ.get("QT_QPA_PLATFORM") in ("offscreen", "minimal"):
        # The window would play where nobody sees it, until killed.
        print(f"error: QT_QPA_PLATFORM={os.environ['QT_QPA_PLATFORM']} shows no window: write the frames "
              "with --out DIR (PNGs) or --out FILE.mp4 instead", file=sys.stderr)
        return 2
    # --3d uses colour only to paint depth points: a clip without depth does not decode its video.
    color = not args.no_color and not (args.three_d and not _has_depth(Path(args.path)))
    with open_recording(args.path, color=color, video=args.video, depth=args.three_d) as recording:
        fps = args.fps or recording.info.fps or 30.0
        frames = _frames_until(recording.frames(), args.max_frames)
        if args.three_d:
            from recordings import view3d  # open3d (the viz3d extra) only for --3d

            if args.depth_step < 1:
                raise ValueError(f"--depth-step must be 1 or more, got {args.depth_step}")
            config = view3d.View3DConfig(depth_step=args.depth_step)
            if args.width is not None:  # the picture is rendered at this size, 16:9
                config = replace(config, width=args.width, height=round(args.width * 9 / 16))
            if args.out:
                prepare_render_out(Path(args.out), _files_of(recording), args.overwrite)
                count = write_images(view3d.render_images(recording, frames, config), Path(args.out), fps)
                return _said_written(count, args)
            else:
                view3d.show(recording, frames, fps, config)
        elif args.out:
            prepare_render_out(Path(args.out), _files_of(recording), args.overwrite)
            return _said_written(render_to(frames, Path(args.out), fps, args.width), args)
        elif isinstance(recording, ClipRecording) and not is_export_samples(recording.paths.skeleton.parent):
            return _view_and_mark_clip(recording, frames, fps, args)
        elif isinstance(recording, ClipRecording):  # marks there would be files those tools take for samples
            print(f"{args.path}: played without the marking keys: "
                  f"{_an_export_sample(recording.paths.skeleton)}", file=sys.stderr)
            _view_window(frames, fps, f"{Path(args.path).name} - recordings view")
        else:
            # Marks are saved in a clip's sidecar: a .xef or a PKU-MMD sequence has none until converted.
            print(f"{args.path}: played without the marking keys (marks are saved with a clip): python -m "
                  f"recordings convert {as_typed(args.path)} OUT makes a clip of it to mark", file=sys.stderr)
            _view_window(frames, fps, f"{Path(args.path).name} - recordings view")
    return 0


def _files_of(recording: ClipRecording | XefRecording | PkuMmdRecording) -> list[Path]:
    """The files a recording is read from."""
    if not isinstance(recording, ClipRecording):
        return [recording.info.path]
    depth = recording.sidecar.depth_file if recording.sidecar is not None else None
    paths = recording.paths
    return [p for p in (paths.skeleton, paths.video, paths.sidecar, depth) if p is not None]


def _said_written(count: int, args: argparse.Namespace) -> int:
    """`view --out`'s last line: what was written, or that nothing was (a recording of no frames: it said
    'wrote 0 frames to v.avi', and there was no v.avi)."""
    if not count:
        print(f"error: {args.path}: no frames to render; nothing written to {args.out}", file=sys.stderr)
        return 2
    print(f"wrote {count} frames to {_written_as(Path(args.out))}")
    return 0


def _written_as(out: Path) -> str:
    """What write_images wrote for `out`: the video, or the pattern of its numbered images (it said 'to
    fall.png', a file that does not exist beside fall_000000.png ...)."""
    to_folder = out.is_dir() or not out.suffix
    if to_folder or out.suffix.lower() in IMAGE_SUFFIXES:
        return str(_numbered_image(out, "NNNNNN", to_folder))
    return str(out)


def _has_depth(path: Path) -> bool:
    """Whether a recording may bring depth: a .xef file, or a clip whose sidecar names a depth file."""
    if path.suffix.lower() == ".xef" or not path.exists():
        return True  # (a missing path: open_recording says so)
    if is_sequence_path(path):  # PKU-MMD: skeletons only
        return False
    paths = clip_paths(path)
    return paths.sidecar is not None and read_sidecar(paths.sidecar).depth_file is not None


def _view_and_mark_clip(recording: ClipRecording, frames: Iterator[Frame], fps: float,
                        args: argparse.Namespace) -> int:
    """The clip in a window whose keys mark intervals into its sidecar (recordings/marking.py); 1 when
    the mark open as the window closed could not be saved (it is printed, to be added by hand)."""
    from recordings.marking import view_and_mark  # Qt only for the window

    labels = ClipLabels.open(recording.paths.skeleton, args.labels)
    site = read_label_map(labels.label_map_path) if labels.label_map_path.is_file() else None
    classes = known_classes(site, labels.label, *(i.label for i in labels.intervals))
    start = float(recording.timestamps[0]) if len(recording.timestamps) else 0.0

    def frames_from(index: int) -> Iterator[Frame]:  # a jump: --max-frames still counts from the start
        limit = None if args.max_frames is None else args.max_frames - index
        return _frames_until(recording.frames(index), limit)

    marker = view_and_mark(frames, labels, classes, draw_skeleton, fps,
                           f"{recording.paths.name} - recordings view (1-9 class, s start, e end, d remove, "
                           "u undo)",
                           start_time=start, seek=frames_from,
                           times=recording.timestamps[:args.max_frames] - start)
    if marker.saved or marker.removed:
        removed = f", {marker.removed} removed" if marker.removed else ""
        print(f"{labels.sidecar_path}: {marker.saved} interval(s) marked{removed}")
        print("\n".join(labels.listing()))
        if (parts := _parts_read_now(labels.sidecar_path)) is not None:  # as `label` says it
            print(parts)
    if (lost := marker.lost_at_close) is not None:
        command = label_command(recording.paths.skeleton, lost, args.labels)
        print(f"{labels.sidecar_path}: the mark open when the window closed was {marker.message}\n"
              f"  to add it once that is settled: {command}", file=sys.stderr)
        return 1
    if (unended := marker.unended_at_close) is not None:
        start, label = unended
        command = label_command(recording.paths.skeleton, Interval(start, start + 1.0, label), args.labels)
        print(f"{labels.sidecar_path}: the {label} mark open when the window closed was {marker.message}\n"
              f"  to add it, with its end: {command.rsplit(' --to ', 1)[0]} --to SECONDS", file=sys.stderr)
        return 1
    return 0


# ---- label ------------------------------------------------------------------------------------------


def _seconds(text: str, option: str) -> float | None:
    if option == "--to" and text.strip().lower() == "end":
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{option} {text!r}: expected seconds from the start of the clip") from None
    return value


def cmd_label(args: argparse.Namespace) -> int:
    if is_export_samples((skeleton := clip_paths(args.clip).skeleton).parent):
        raise ValueError(f"{args.clip}: {_an_export_sample(skeleton)}")
    labels = ClipLabels.open(args.clip, args.labels, clearing=args.clear)
    labels.similar_ok = args.new_class
    starts, ends, classes = args.starts or [], args.ends or [], args.class_names or []
    if (starts or ends) and not classes:
        raise ValueError("--from / --to mark an interval of a class: give --class NAME")
    if len(starts) != len(ends):
        raise ValueError(f"give --from and --to in pairs ({len(starts)} --from, {len(ends)} --to)")
    if len(classes) > 1 and len(classes) != len(starts):
        # Each interval its own class, in order; anything else would have to guess which goes where.
        raise ValueError(f"{len(classes)} --class for {len(starts)} --from/--to interval(s): give one "
                         "--class for every interval, or one per interval in the same order")
    done: list[str] = []  # said once saved: a folder that refuses the sidecar has changed nothing
    if args.clear:
        done.append(f"removed {labels.clear()} interval(s)")
    for number in sorted(set(args.remove or []), reverse=True):  # numbers as listed before this command
        removed = labels.remove(number)
        done.append(f"removed interval {number}: {removed.label} {removed.start:.2f}-{removed.end:.2f} s")
    if classes and starts:
        per_interval = classes * len(starts) if len(classes) == 1 else classes
        additions = [(class_name, _seconds(start, "--from") or 0.0, _seconds(end, "--to"))
                     for class_name, start, end in zip(per_interval, starts, ends, strict=True)]
        labels.check_additions(additions, args.person)  # all of them, before labels.txt takes a class
        for class_name, begin, finish in additions:
            interval = labels.add(class_name, begin, finish, args.person)
            done.append(f"added {interval.label} {interval.start:.2f}-{interval.end:.2f} s")
    elif classes:
        done.append(f"the whole clip is {labels.set_whole(classes[0])}")
    for added in labels.added_classes:  # labels.txt is written as a class is added
        print(f"new class {added} in {labels.label_map_path}")
    changed = bool(done)
    if changed:
        saved = labels.save()
        print("\n".join(done))
        print(f"wrote {saved}")
        if (parts := _parts_read_now(labels.sidecar_path)) is not None:
            print(parts)
    if args.list or changed:
        print("\n".join(labels.listing()))
    if not (args.list or changed):
        print("nothing to do: give --class NAME [--from S --to S], --remove N, --clear or --list",
              file=sys.stderr)
        return 2
    return 0


def _parts_read_now(sidecar_path: Path) -> str | None:
    """How the parts of a long recording are read now that one of them was labelled (marks in one part
    make the others' unmarked time background: recordings.clip.parts_between_marks), for a clip that is one of
    several parts; None for any other clip."""
    if (found := recording_parts_beside(sidecar_path)) is None:
        return None
    part, parts = found
    if len(parts) < 2:
        return None
    between, _ = parts_between_marks(parts)  # as training reads them (its warnings are training's to say)
    if between:
        marked = len(parts) - len(between)
        return (f"this clip is part {part.number} of a recording of {len(parts)} parts here; {marked} "
                f"{'has' if marked == 1 else 'have'} marks, so the other {len(between)} are read as "
                f"background (nothing happens there): mark the actions that go on in them too (python -m "
                f"recordings list {as_typed(sidecar_path.parent)} shows which)")
    if all(s.timeline is None or not s.timeline.intervals for s in parts):
        return (f"this clip is part {part.number} of a recording of {len(parts)} parts here, none with "
                "marks: each is read as its class throughout")
    return None  # every part has marks of its own


# ---- recover ----------------------------------------------------------------------------------------


def cmd_recover(args: argparse.Namespace) -> int:
    if not Path(args.dir).is_dir():  # a mistyped path must not read as "nothing to recover"
        print(f"error: {args.dir}: not a directory (give the folder recordings are written to, e.g. "
              "runs/recordings)", file=sys.stderr)
        return 2
    interrupted, running = partial_recordings(args.dir)
    for partial in running:
        print(f"{partial.name}: a running recording is writing it (or another user's); left alone")
    try:
        recovered = recover_partial_recordings(args.dir)
    except PermissionError as error:  # it was the error alone: "[Errno 13] Permission denied: '.../rgb.avi'"
        print(f"error: {error.filename or args.dir}: {error.strerror or error}; recover writes each clip "
              "beside its .partial folder and removes the folder; "
              "run it as the user that recorded them (a service's), or as one that may write there",
              file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno != errno.ENOSPC:
            raise
        # A recording a full disk stopped is finished on that disk: "error: [Errno 28]" said neither where
        # nor what to do. Its partial folder is kept whole for the next try.
        free = shutil.disk_usage(args.dir).free
        print(f"error: {error.filename or args.dir}: no space left on its disk ({disk_amount(free)} free); "
              "recover writes each clip beside its .partial folder (as large as the folder): free some "
              "space and recover again; the .partial folders are kept for that", file=sys.stderr)
        return 2
    if not interrupted:
        # (not "no *.partial folders" just after naming the running ones)
        print(f"{args.dir}: no interrupted recordings" if running else
              f"{args.dir}: no interrupted recordings (*.partial folders)")
    for files in recovered:
        print(
            f"recovered {files.skeleton.name}: {files.frame_count} frames"
            + (f", video {files.video.name}" if files.video else "")
        )
    if leftovers := killed_writes(args.dir):  # (a recover killed while writing a clip leaves one)
        files, size = remove_leftovers(leftovers)
        print(f"removed {files} file(s), {size / 1e6:.1f} MB, that writes killed midway had left "
              f"({first_few([path.name for path in leftovers], 2)})")
    recovered_from = {files.skeleton.stem + PARTIAL_SUFFIX for files in recovered}
    for partial in interrupted:
        if partial.name not in recovered_from and not partial.exists():
            print(f"{partial.name}: its clip is finished (what an interrupted clean-up left is removed)")
        elif partial.name not in recovered_from and (converted := interrupted_conversion(partial)):
            print(f"{partial.name}: {converted}")
    return 0


# ---- export -----------------------------------------------------------------------------------------


def cmd_erase(args: argparse.Namespace) -> int:
    """0: all found erased (or, without --yes, found), or with --older-than nothing that old; 1: nothing
    found, or not all of it erased (a recording being written, a file that could not be removed); 2:
    refused."""
    from recordings.erase import (
        ELSEWHERE,
        Asked,
        ErasedInPart,
        clip_files,
        erase,
        find_recorded,
        rooms_recorded,
    )

    if args.clip and (args.room is not None or args.older_than is not None):
        raise ValueError("erase: --clip NAME names what to erase by itself: not with --room or --older-than")
    if not args.clip and args.room is None and args.older_than is None:
        raise ValueError("erase: say what to erase: --room ROOM (with --day DAY), --older-than DAYS (of "
                         "every room, or of --room ROOM), or --clip NAME")
    if args.day is not None and (args.room is None or args.older_than is not None):
        raise ValueError("erase: --day goes with --room alone (--older-than counts days back from now)")
    directory = Path(args.dir)
    before = None
    if args.older_than is not None:
        if args.older_than > 36500:  # beyond any date a clock shows
            raise ValueError(f"erase: --older-than {args.older_than:g}: more than 100 years")
        if time.time() < NOTHING_MADE_BEFORE:  # a retention timer failing is how the clock's error is seen
            now = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M")
            raise ValueError(f"erase: --older-than: the clock reads {now}, before this software existed: "
                             "no recording's age can be told; set the machine's time (is it synchronised?)")
        before = time.time() - args.older_than * 86400
    asked = Asked(room=args.room, day=args.day, before=before, names=frozenset(args.clip or ()))
    found = find_recorded(directory, asked)
    if args.clip:
        what = ", ".join(args.clip)
    else:
        what = f"room {args.room!r}" if args.room is not None else "any room"
        if args.day is not None:
            what += f" recorded on {args.day}"
        if before is not None:
            ended = _dt.datetime.fromtimestamp(before).astimezone().strftime("%Y-%m-%d %H:%M")
            what += f" ended before {ended} ({args.older_than:g} days ago)"
    for partial in found.being_written:
        print(f"{partial}: being recorded now, not erased: stop its recording (the window's r, or the "
              "service) and erase again")
    for link in found.linked_folders:
        print(f"{link}: a link to {link.resolve()}, not searched: erase there too, giving that folder")
    links = found.links()
    for link in links:
        print(f"{link}: a link to {link.resolve()}: erasing it removes the link, not what it points to: "
              "erase that by hand")
    if found.not_by_age:
        print(f"{len(found.not_by_age)} clip(s) left as they are: made, not recorded in a room (the "
              "simulator's, conversions: training data), or saying no recording time "
              f"({first_few([str(path) for path in found.not_by_age], 2)}); --clip NAME erases one")
    if found.dated_wrong:
        first_day = _dt.datetime.fromtimestamp(NOTHING_MADE_BEFORE, _dt.timezone.utc).date()
        print(f"{len(found.dated_wrong)} recording(s) left as they are: dated before {first_day} or "
              "ahead of now, recorded while the computer's clock was wrong (or it is wrong now), so of an "
              f"age that cannot be told ({first_few([str(path) for path in found.dated_wrong], 2)}); "
              "--clip NAME erases one")
    if not found.clips and not found.leftovers and not found.interrupted:
        if not found.being_written:
            print(f"{directory}: nothing recorded of {what} here")
        if args.room is not None and not found.being_written:
            anything = find_recorded(directory, Asked(room=args.room))
            if not anything.clips and not anything.leftovers and not anything.interrupted:
                # A retention timer with a room's name mistyped passes every day, erasing nothing: said. Not
                # a failure: a room whose every clip an earlier run erased has none either. A patient's
                # erasure by a name typed otherwise is told the names there are.
                rooms = ", ".join(map(repr, rooms_recorded(directory))) or "none"
                print(f"{directory}: no recording of room {args.room!r} at all: all erased, or is its name "
                      f"right? Rooms recorded here: {rooms} (python -m recordings list shows each clip's "
                      "room)")
        # A retention run finding nothing that old has done its job; a request naming a room, a day or a
        # clip that is not there is a mistake to look at.
        return 0 if before is not None and not found.being_written and not found.linked_folders else 1
    for clip in found.clips:
        files = ", ".join(path.name for path in clip_files(clip.skeleton))
        print(f"{clip.skeleton.with_suffix('')}: {files}")
    for sidecar in found.leftovers:
        files = ", ".join(path.name for path in clip_files(sidecar.with_suffix(".skeleton")))
        print(f"{sidecar.with_suffix('')}: what is left of a clip, its skeleton gone: {files}")
    for partial in found.interrupted:
        print(f"{partial}: an interrupted recording")
    summary = (f"{len(found.clips) + len(found.leftovers)} clip(s) and {len(found.interrupted)} interrupted "
               f"recording(s) of {what}")
    if not args.yes:
        print(f"{summary}: nothing erased yet (--yes erases them)")
    else:
        try:
            removed, size = erase(found)
        except ErasedInPart as error:
            print(f"erasing {summary} stopped: {error}", file=sys.stderr)
            return 1
        print(f"erased {summary}: {removed} files and folders, {size / 1e6:.1f} MB")
    for index in sorted({index for index, _ in found.exported}):
        samples = [sample for where, sample in found.exported if where == index]
        print(f"{index.parent}: an export holds {len(samples)} sample(s) cut from them "
              f"({', '.join(samples)}): not erased here; remove that export")
    print(f"not reached by this command: {ELSEWHERE}")
    # Not all of it: what a recorder holds, and what links point to (in folders not searched, or files).
    return 1 if found.being_written or found.linked_folders or links else 0


def cmd_export(args: argparse.Namespace) -> int:
    unfinished = _say_unfinished_below(Path(args.dir), "exported")
    video_said = False

    def say(sample: ExportedSample) -> None:
        nonlocal video_said
        if sample.video and not video_said:  # at the first video: skeleton-only clips (PKU-MMD's) have none
            say_if_others_can_read(f"the clips' video exported into {as_typed(args.out)}")
            video_said = True
        print(f"{sample.name}  {sample.label}  from {sample.clip} {sample.start_s:.2f}-{sample.end_s:.2f} s "
              f"({sample.frames} frames{', with video' if sample.video else ''})", flush=True)

    try:
        written, problems = export_clips(args.dir, args.out, max_frames=args.max_frames, labels=args.labels,
                                         video=not args.no_video, progress=say)
    except OSError as error:  # a full disk, most likely: said with what it means for OUT
        print(f"error: {error}\n{as_typed(args.out)}: the export stopped; none of it is kept there",
              file=sys.stderr)
        return 2
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    if written:  # (the folder those tools are given: they take each of its files for a sample)
        out = Path(args.out)
        print(f"{len(written)} samples in {as_typed(out / EXPORT_SKELETONS)}, as NTU's release has them "
              f"(classes in {as_typed(out / EXPORT_CLASSES)}, where each came from in "
              f"{as_typed(out / EXPORT_INDEX)})")
    else:
        print(f"{args.dir}: no labelled action exported (python -m recordings label, or the marking window "
              "of python -m recordings view, labels clips)")
    return 1 if problems or unfinished else 0


# ---- entry ------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = CommandLineParser(
        prog="python -m recordings", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_version()
    commands = parser.add_subparsers(dest="command", required=True)

    info = commands.add_parser("info", help="streams, duration, frames and bodies of a recording")
    info.add_argument("path", help=".xef file, .skeleton / _rgb.avi / .json of a clip, a folder of clips, "
                      "or a PKU-MMD sequence NNNN-V.txt[.xz|.gz]")
    info.add_argument("--video", help="the clip's _rgb.avi when it is not next to the .skeleton")
    info.set_defaults(run=cmd_info)

    convert = commands.add_parser(
        "convert", help="a .xef file or a PKU-MMD sequence -> a clip in the NTU layout"
    )
    convert.add_argument("file", help="Kinect Studio .xef file, or a PKU-MMD sequence NNNN-V.txt[.xz|.gz]")
    convert.add_argument("out_dir", type=output_folder, help="folder for the clip (created if needed)")
    convert.add_argument(
        "--label", help="class name or A-number from the site's label map: names the clip S..C..P..R..A.."
    )
    convert.add_argument("--labels", help=f"site label map (default: OUT_DIR/{LABEL_MAP_FILENAME})")
    convert.add_argument(
        "--name", help="sample name for the clip (default: from --label, else the file's name)"
    )
    defaults = {"setup": "1", "camera": "1", "performer": "1; without --label 0, not known"}
    for part, letter in (("setup", "S"), ("camera", "C"), ("performer", "P")):
        convert.add_argument(f"--{part}", type=integer_in(1, 999),
                             help=f"{letter} of a .xef's clip: in the name --label generates, else kept in "
                             f"its sidecar for training and recordings export (default {defaults[part]}; "
                             "refused where the name says them itself, SsssCcccPppp...)")
    convert.add_argument("--no-video", action="store_true", help="no _rgb.avi (skeleton, sidecar, depth)")
    convert.add_argument("--no-depth", action="store_true", help="no _depth.bin even when the file has depth")
    convert.add_argument(
        "--min-free-gb", type=non_negative_float, default=None,
        help="stop when free space drops below this (default 2 for a .xef, whose video takes GBs; 0.1 for a "
             "PKU-MMD sequence, skeletons only)"
    )
    convert.set_defaults(run=cmd_convert)

    listing = commands.add_parser(
        "list", help="clips under a folder, with labels, durations, counts per class"
    )
    listing.add_argument("dir", help="the folder of clips (searched below too)")
    listing.add_argument("--labels", type=existing_file,
                         help=f"site label map for every clip (default: the {LABEL_MAP_FILENAME} in each "
                         "clip's folder, as label and export read it)")
    listing.add_argument("--json", action="store_true",
                         help="one JSON line per clip (clip, class, frames, seconds, video, started: the "
                         "room's local time with its offset, room, intervals: their classes, background) "
                         "instead of the table and counts")
    listing.set_defaults(run=cmd_list)

    erasing = commands.add_parser(
        "erase", help="erase the clips recorded in a room (on a day), those older than some days (a "
        "retention rule), or named clips: a patient's erasure request; says what it finds, and erases it "
        "with --yes"
    )
    erasing.add_argument("dir", help="the folder of clips (searched below too)")
    erasing.add_argument("--room", help="the room the clips were recorded in (their sidecar's \"room\")")
    erasing.add_argument("--day", type=calendar_day, help="only the clips recorded that day (YYYY-MM-DD, the "
                         "room's local time; a clip that went on past midnight is both days')")
    erasing.add_argument("--older-than", type=positive_float, metavar="DAYS",
                         help="the recordings that ended more than DAYS days ago, of every room (or of "
                         "--room): a retention rule, run daily (exit 0 also when there are none)")
    erasing.add_argument("--clip", action="append", metavar="NAME",
                         help="instead of --room: a clip by name (again for more), in DIR's one folder of it")
    erasing.add_argument("--yes", action="store_true", help="erase them (without: say what would be erased)")
    erasing.set_defaults(run=cmd_erase)

    view = commands.add_parser("view", help="play a recording with the skeleton drawn")
    view.add_argument("path", help=".xef file, a clip, or a PKU-MMD sequence")
    view.add_argument("--video", help="the clip's _rgb.avi when it is not next to the .skeleton")
    view.add_argument(
        "--out",
        help="render instead of showing a window: a video (.avi, .mp4), numbered images (x.png -> "
        "x_000012.png; .jpg) or a folder of PNGs",
    )
    view.add_argument("--overwrite", action="store_true",
                      help="with --out: replace an earlier render there (never a clip's _rgb.avi)")
    view.add_argument("--width", type=integer_in(16, 7680),  # 8K: a frame of any more is not a view
                      help="with --out: scale frames to this width (--3d: render at it)")
    view.add_argument(
        "--3d",
        dest="three_d",
        action="store_true",
        help="3D view: bones, the depth point cloud (.xef, clips with depth), the floor from the feet, the "
        "sensor's field of view (needs the viz3d extra); with --out rendered off screen",
    )
    view.add_argument(
        "--depth-step", type=int, default=2, help="--3d: every n-th depth pixel each way (default 2; 1 = all)"
    )
    view.add_argument("--no-color", action="store_true", help="skeleton only, on a dark canvas")
    view.add_argument("--fps", type=positive_float, help="playback rate (default: the recording's)")
    view.add_argument("--max-frames", type=integer_in(1), help="stop after this many frames")
    # An explicit label map must exist: a mistyped one was made anew, its A-numbers clashing with the
    # folder's own. Only the default beside the clip is made as the first class is added.
    view.add_argument("--labels", type=existing_file,
                      help=f"site label map for marking (default: {LABEL_MAP_FILENAME} beside the clip)")
    view.set_defaults(run=cmd_view)

    label = commands.add_parser(
        "label",
        help="a clip's class, or where its actions start and end (the sidecar, rewritten atomically)",
        description="Give a clip its class (--class NAME: the whole clip), or mark intervals "
        "(--class NAME --from S --to S, repeatable; --to end), list (--list) or remove them (--remove N, "
        "--clear). A new class name is added to the site's labels.txt (A121 and up); one close to a known "
        "class is taken for a typo and refused unless --new-class is given.",
    )
    label.add_argument("clip", help="the clip's .skeleton, _rgb.avi or .json, or its folder")
    label.add_argument("--class", "--label", dest="class_names", action="append", metavar="NAME",
                       help="class name or A-number: of the whole clip, or of the intervals (once for "
                       "all of them, or once per --from/--to pair, in order)")
    label.add_argument("--new-class", action="store_true",
                       help="add --class as a new class even though its name is close to a known one")
    label.add_argument("--from", dest="starts", action="append", metavar="S",
                       help="an interval starts S seconds into the clip (repeat with --to for more)")
    label.add_argument("--to", dest="ends", action="append", metavar="S",
                       help="the interval ends at S seconds ('end': the end of the clip)")
    label.add_argument("--person", type=int, default=None,
                       help="the tracking id of the person doing it (default: whoever is in view)")
    label.add_argument("--list", action="store_true", help="print the clip's labels")
    label.add_argument("--remove", type=int, action="append", metavar="N",
                       help="remove interval N (as --list numbers them; repeatable)")
    label.add_argument("--clear", action="store_true", help="remove every interval")
    label.add_argument("--labels", type=existing_file,
                       help=f"site label map (default: {LABEL_MAP_FILENAME} beside the clip, made when "
                       "needed)")
    label.set_defaults(run=cmd_label)

    recover = commands.add_parser("recover", help="finalise recordings a crash left unfinished")
    recover.add_argument("dir", help="the folder recorded into (e.g. runs/recordings)")
    recover.set_defaults(run=cmd_recover)

    export = commands.add_parser(
        "export", help="each labelled action as its own NTU sample, for other NTU RGB+D tools",
        description="Each labelled action of the clips under DIR (their intervals, or a clip's own class) "
        "as its own NTU RGB+D sample OUT/nturgb+d_skeletons/SsssCcccPpppRrrrAaaa.skeleton, cut into "
        "pieces of at most --max-frames, with the same frames of the clip's colour video in "
        "OUT/nturgb+d_rgb/ (_rgb.avi) where it has one, as NTU's release lays them out, and "
        "OUT/classes.txt and OUT/samples.tsv (which clip and seconds each came from). For tools that read "
        "NTU's own files (2s-AGCN, MS-G3D, mmaction2, CTR-GCN): give them OUT/nturgb+d_skeletons. python "
        "-m training reads the clips themselves and needs no export.",
    )
    export.add_argument("dir", help="the folder of clips (searched below too)")
    export.add_argument("out", type=output_folder, help="an empty or new folder for the samples")
    export.add_argument("--max-frames", type=integer_in(1), default=MAX_FRAMES,
                        help=f"longest sample; a longer action is cut into equal pieces (default: "
                        f"{MAX_FRAMES}, the frames those tools allocate per sample)")
    export.add_argument("--labels", type=existing_file,
                        help=f"site label map (default: {LABEL_MAP_FILENAME} beside each clip)")
    export.add_argument("--no-video", action="store_true",
                        help="skeletons only: no _rgb.avi (the skeleton tools above do not read it)")
    export.set_defaults(run=cmd_export)

    synth = commands.add_parser(
        "synth",
        help="generate simulated Kinect clips in the NTU layout (options: python -m recordings synth --help)",
        add_help=False,
    )
    synth.set_defaults(run=None)  # handed whole to recordings.synthetic.main, see main()
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if (why := prepare_console("python -m recordings", argv)) is not None:
        print(why, file=sys.stderr)
        return 2
    args = None if argv[:1] == ["synth"] else build_parser().parse_args(argv)
    try:
        if args is None:
            from recordings import synthetic  # the simulator is only needed here

            return synthetic.main(argv[1:])
        return args.run(args)
    except KeyboardInterrupt as interrupt:
        print("interrupted" + (f": {interrupt}" if interrupt.args else ""), file=sys.stderr)
        return 130
    except (
        xef.XefFormatError,
        ClipError,
        PkuMmdError,
        LabelMapError,
        SkeletonFormatError,
        RecorderError,
        KeyError,
        OSError,
        ValueError,
        QtBindingError,
    ) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else error
        print(f"error: {message}", file=sys.stderr)
        return 2
