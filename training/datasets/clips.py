"""A site's own recorded clips: NTU layout (recordings/clip.py) plus the site's label map.

    ROOT/**/<name>.skeleton, <name>_rgb.avi, <name>.json (sidecar: label, intervals, session, timestamps)
    ROOT/labels.txt (or data.label_map): A121<TAB>patient fell ...
    data.rehearse: more such folders, each with its own labels.txt (clips of a base model's classes,
                   trained beside the site's so that fine-tuning does not forget them)

Labels. A clip is one action from start to end (its sidecar's "label", else its "action_id" or the
A-number of its NTU-style name, named by the folder's label map) or, when its sidecar has "intervals",
a sequence: the intervals' actions with background between them. Classes are matched by name, to
`data.classes` when given (a fine-tuned model's classes: the base model's, then the site's), else to
the label map's classes. A label the classes lack is an error that names the clip — a wrong label must
never train silently; a clip with no label at all (recorded, not yet labelled) is left out and listed.

Sequences. With no_action among the classes, a dataset holding intervals is continuous
(`Splits.continuous`): windows all along each clip, labelled by its timeline (background: no_action),
and a clip labelled as a whole becomes one interval spanning it. Without no_action, each interval is
cut out and trained as a clip of its own, with `interval_context_s` more on each side (half a window:
the windows centred in the action are then whole, as live sees them); the background is not used.

Validation by session. Clips of one recording session (a sitting: the same people, clothes, light and
camera placement) are near-copies of each other; validating on random clips would validate on copies
of training clips. So `validation_fraction` of the clips is held out as whole sessions, per folder,
each class keeping at least one session for training (and, where it has two or more, one held out).
The session is the sidecar's "session", else the S of an NTU-style name, else the day the sidecar
says the clip was recorded, else the clip alone. Clips recorded at the same time are one sitting, whatever
their sessions say (two sensors in one room: each app numbers its own sessions), and their sessions are
held out together. A folder with one session can only be split by clip: it is, with a warning that its
validation figures flatter the model.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np

from core.engines.metadata import file_sha256
from core.skeleton import KINECT_V2
from core.timeline import NO_ACTION, Interval, Timeline, names_background
from core.wording import first_few
from recordings.argument_types import as_typed
from recordings.clip import (
    EXPORT_STAGING,
    NTU_FPS,
    ClipError,
    ClipPaths,
    Sidecar,
    find_clips,
    frames_within,
    is_export,
    is_export_samples,
    parts_between_marks,
    read_sidecar,
)
from recordings.labels import LABEL_MAP_FILENAME, LabelMap, read_label_map
from recordings.ntu import SkeletonFormatError, frame_count, read_skeleton
from recordings.ntu_samples import NTU120_CLASSES, SampleName
from recordings.pkummd import is_sequence_path
from recordings.recorder import PARTIAL_SUFFIX, clip_session, labelled_length_s
from training.cache import clips_with_nobody, load_clip, read_index, read_settings
from training.config import DataConfig, recorded_data
from training.data import Clip, ClipSource, ClipTask, DatasetError, Splits, stratified_split
from training.distributed import is_main_process

log = logging.getLogger(__name__)
_SAID: set[str] = set()  # warnings read_clip_folder gave (each once)


def label_map_for(root: str | Path, label_map: str | None) -> tuple[Path, LabelMap]:
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"{root}: {'a file, not' if root.exists() else 'no such'} folder of clips")
    path = Path(label_map) if label_map else root / LABEL_MAP_FILENAME
    if not path.is_file():
        release = (root / "skeletons").is_dir() and (root / "labels").is_dir()  # PKU-MMD's own layout
        hint = (f". {root} looks like PKU-MMD sequences: python -m recordings convert SEQUENCE DIR makes "
                "each a clip of such a folder") if release else ""
        raise DatasetError(f"label map {path} not found: a folder of clips keeps its classes in "
                           f"{LABEL_MAP_FILENAME} (python -m recordings label and live --record --label "
                           f"write it; data.label_map, or prepare's --labels, names another){hint}")
    return path, read_label_map(path, site=False)


@dataclass(frozen=True)
class LabelledClip:
    """One clip with its labels as its sidecar says them now."""

    task: ClipTask  # files; `name` is unique across the dataset's folders (the cache's key)
    action: str | None  # the class of the whole clip; None when only intervals label it
    timeline: Timeline | None  # intervals in the clip's seconds; None: the whole clip is `action`
    session: int
    folder: int  # 0: data.root, k: data.rehearse[k - 1]
    duration: float  # seconds an interval may reach (last frame + one frame period)


def _whole_clip_class(
    paths: ClipPaths, sidecar: Sidecar | None, labels: LabelMap, map_path: Path
) -> str | None:
    """The class name of a clip labelled as a whole, or None (unlabelled)."""
    action = None
    if sidecar is not None and sidecar.action_id is not None:
        action = int(sidecar.action_id)
    if action is None:
        try:
            action = SampleName.parse(paths.name).action
        except ValueError:
            action = None
    if sidecar is not None and sidecar.label is not None:
        # Written from the label map when the clip was recorded or labelled: one that disagrees with it
        # was edited by hand, and would train as a class of its own under the wrong number.
        label = str(sidecar.label)
        if action is not None and action in labels and labels.name(action) != label:
            raise DatasetError(f"{paths.sidecar}: label {label!r} but A{action:03d} is "
                               f"{labels.name(action)!r} in {map_path}; relabel the clip with "
                               f"python -m recordings label {as_typed(paths.skeleton)} --class NAME")
        try:
            action_id = labels.action_id(label)
        except KeyError:
            raise DatasetError(f"{paths.sidecar}: label {label!r} is not in the label map {map_path}; "
                               f"relabel the clip with python -m recordings label {as_typed(paths.skeleton)} "
                               f"--class NAME") from None
        return labels.name(action_id)  # as the map writes it: a no-break space in a hand-edited sidecar
    if action is None:
        return None
    if action not in labels:
        # Named by its A-number alone: an NTU RGB+D clip dropped into the site's folder, say (A001 drink
        # water), which the site's labels.txt (A121 and up) does not name.
        raise DatasetError(
            f"{paths.sidecar or paths.skeleton}: action A{action:03d} is not in the label map {map_path} "
            f"(which has {', '.join(f'A{a:03d}' for a in labels.action_ids[:10])}): add the class to it, "
            f"label the clip with python -m recordings label {as_typed(paths.skeleton)} --class NAME, or "
            "move it out of the folder"
        )
    return labels.name(action)


def _as_the_map_writes(label: str, labels: LabelMap) -> str:
    """An interval's class in the label map's spelling: one labels.txt once listed twice ("Café" with a
    composed é and with e + accent, as a Mac types it) trained as two classes after the site kept one
    line. Names only (an interval labelled "121" is not made A121's class); one the map lacks (the
    background's, which read_dataset refuses) stays as written."""
    action_id = labels.named(label)
    return label if action_id is None else labels.name(action_id)


def _session(paths: ClipPaths, raw: dict | None, number: int) -> int:
    session = clip_session(paths.name, raw)
    if session is not None:
        return session
    started = str((raw or {}).get("started_at", ""))[:10]  # recorded before sidecars had sessions
    if len(started) == 10 and started[4] == "-" and started[7] == "-":
        return int(started.replace("-", ""))
    return -1 - number  # nothing says: the clip is a session of its own


_SAID_UNFINISHED: set[tuple[str, tuple[Path, ...]]] = set()  # (folder, its unfinished recordings) said


def read_clip_folder(
    root: str | Path, label_map: str | Path | None = None, *, folder: int = 0, prefix: str = ""
) -> tuple[list[LabelledClip], list[Path]]:
    """Every clip under `root` with its labels, and the clips that have none (not yet labelled)."""
    if (is_export(Path(root)) or is_export_samples(Path(root))) and not find_clips(root):
        # (said before the labels.txt an export has none of)
        raise DatasetError(f"{root}: an export (NTU samples cut from clips for other tools), not clips: give "
                           "the folder of the clips they were cut from")
    map_path, labels = label_map_for(root, str(label_map) if label_map else None)
    clips = find_clips(root)
    unfinished = sorted(p for p in Path(root).rglob(f"*{PARTIAL_SUFFIX}")
                        if p.is_dir() and p.name != EXPORT_STAGING)
    said = (str(Path(root).resolve()), tuple(unfinished))
    if unfinished and said not in _SAID_UNFINISHED:  # not clips yet (find_clips): said, as `recordings
        _SAID_UNFINISHED.add(said)  # list` does; once, not at each of a fine-tune's reads of the folder
        log.warning("%s: %d recording(s) not finished, left out (%s): being recorded, or interrupted "
                    "(python -m recordings recover FOLDER finishes those, or says what to do)", root,
                    len(unfinished), first_few([str(p.relative_to(root)) for p in unfinished], 3))
    if not clips:
        raise DatasetError(f"{root}: no clips (*.skeleton) found")
    out, unlabelled = [], []
    spans: list[tuple[float, float] | None] = []  # when each clip of `out` was being recorded
    rooms: list[str | None] = []  # and where (the sidecar's "room"; None where it names none)
    unmapped: dict[str, list[str]] = {}  # interval classes the map lacks -> the clips naming them
    sidecars = [read_sidecar(paths.sidecar) if paths.sidecar is not None else None for paths in clips]
    between_marks, unknown = parts_between_marks(sidecar for sidecar in sidecars if sidecar is not None)
    for said in unknown:
        if said not in _SAID and is_main_process():  # once a process: a fine-tune reads the folder 4 times
            _SAID.add(said)
            log.warning("%s", said)
    for number, (paths, sidecar) in enumerate(zip(clips, sidecars, strict=True)):
        action = _whole_clip_class(paths, sidecar, labels, map_path)
        timeline = sidecar.timeline if sidecar is not None and sidecar.timeline else None
        if timeline is not None and not timeline.intervals:
            timeline = None
        if sidecar is not None and sidecar.path in between_marks:  # a marked recording's part without marks
            action, timeline = None, Timeline((), source=str(paths.sidecar))
        if timeline is not None:  # each interval's class as the map writes it (see _as_the_map_writes)
            for name in {i.label for i in timeline.intervals}:  # the background's name: read_dataset's
                if labels.named(name) is None and not names_background(name):
                    unmapped.setdefault(name, []).append(str(paths.skeleton))
            timeline = replace(timeline, intervals=tuple(
                replace(i, label=_as_the_map_writes(i.label, labels)) for i in timeline.intervals))
        if action is None and timeline is None:
            unlabelled.append(paths.skeleton)
            continue
        if sidecar is not None:
            stamps = sidecar.timestamps
        else:  # NTU's own clips: 30 fps; the frame count is the file's first line
            try:
                stamps = np.arange(frame_count(paths.skeleton)) / NTU_FPS
            except SkeletonFormatError as error:
                raise DatasetError(str(error)) from None
        duration = labelled_length_s(np.asarray(stamps, np.float64))
        name = prefix + paths.name
        task = ClipTask(name, -1, paths.skeleton, paths.video, paths.sidecar, {})
        session = _session(paths, sidecar.raw if sidecar is not None else None, number)
        out.append(LabelledClip(task, action, timeline, session, folder, duration))
        spans.append(_recorded_span(sidecar.raw, duration) if sidecar is not None else None)
        room = sidecar.raw.get("room") if sidecar is not None else None
        rooms.append(room if isinstance(room, str) else None)
    if unmapped:
        # Intervals keep class names, and labelling puts each in the map: one it lacks was renamed or
        # removed there, and trained on under the old name (or as NTU's class of it) without a word.
        named = sorted({clip for clips_of in unmapped.values() for clip in clips_of})
        classes = first_few([repr(name) for name in sorted(unmapped)], 4)
        raise DatasetError(
            f"{map_path} lacks the classes {classes} that intervals of {len(named)} clip(s) name "
            f"({first_few(named, 2)}). Renamed or removed there: relabel those intervals (python -m "
            f"recordings label CLIP --list, --remove N, then --class NAME --from S --to S). Never added (a "
            f"PKU-MMD sequence converted before 2026-12-04): a line A<number><TAB>NAME for each, or convert "
            f"it again. python -m recordings list {as_typed(Path(root))} marks every such interval")
    return _one_session_per_copy(_one_session_per_sitting(out, spans, rooms)), unlabelled


# Recording times are stored to the second: clips of one sensor recorded one after the other may seem to
# overlap by that much.
SAME_TIME_SLACK_S = 1.0


def _recorded_span(raw: dict, duration: float) -> tuple[float, float] | None:
    """When a sensor was recording a clip (wall clock, seconds): from its sidecar's started_at for its
    length, or until its finished_at where that is sooner; None where the sidecar does not say, or the
    clip is no sensor's (a conversion, a synthetic clip, a replay recorded again: their times are when
    the file was written, and two written at once are not one sitting)."""
    if not str(raw.get("source", "")).startswith("kinect"):
        return None
    try:
        start = datetime.fromisoformat(raw["started_at"]).timestamp()
    except (KeyError, TypeError, ValueError):
        return None
    try:
        return start, min(start + duration, datetime.fromisoformat(raw["finished_at"]).timestamp())
    except (KeyError, TypeError, ValueError):
        return start, start + duration


def _one_session_per_sitting(clips: list[LabelledClip], spans: list[tuple[float, float] | None],
                             rooms: list[str | None]) -> list[LabelledClip]:
    """`clips`, those recorded in one room at the same time given one session (the lowest of theirs): two
    sensors in one room each number their own sessions, and holding out one sensor's left the other's
    near-copies of the same performances in training. Rooms sharing a folder (`--record-dir` on a share)
    record at the same time too: their clips were made one session, and by chains of overlapping long
    recordings a whole ward's, the validation's session then a copy of a training one's sitting."""
    pairs = []
    latest: dict[str | None, tuple[float, int]] = {}  # each room's recording that ends last so far: end, clip
    for (start, end), i in sorted((span, i) for i, span in enumerate(spans) if span is not None):
        room = rooms[i]
        if room in latest and start < latest[room][0] - SAME_TIME_SLACK_S:
            pairs.append((latest[room][1], i))
        if room not in latest or end > latest[room][0]:
            latest[room] = (end, i)

    def said(a: LabelledClip, b: LabelledClip, first: int, second: int) -> None:
        log.info("%s and %s were recorded at the same time: their sessions %d and %d are one",
                 a.task.skeleton, b.task.skeleton, first, second)

    return _one_session_for_each(clips, pairs, said)


def _one_session_per_copy(clips: list[LabelledClip]) -> list[LabelledClip]:
    """`clips`, those whose skeleton files hold the same bytes given one session, and said: one take saved
    twice, or a clip copied under another name, trained as two clips, and held out apart a copy in
    validation scored the model on a clip it trained on."""
    by_size: dict[int, list[int]] = {}
    for i, clip in enumerate(clips):
        by_size.setdefault(clip.task.skeleton.stat().st_size, []).append(i)
    pairs = []
    for same_size in (indices for indices in by_size.values() if len(indices) > 1):
        by_bytes: dict[str, list[int]] = {}
        for i in same_size:
            by_bytes.setdefault(file_sha256(clips[i].task.skeleton), []).append(i)
        for copies in (indices for indices in by_bytes.values() if len(indices) > 1):
            pairs += [(copies[0], other) for other in copies[1:]]
            said = f"{first_few([str(clips[i].task.skeleton) for i in copies], 3)} hold the same skeletons"
            if said not in _SAID and is_main_process():
                _SAID.add(said)
                log.warning("%s: one take saved twice? Each trains as a clip of its own, and they are kept "
                            "in one session so that validation never scores a copy of a training clip; "
                            "remove all but one", said)
    return _one_session_for_each(clips, pairs)


def _one_session_for_each(clips: list[LabelledClip], pairs: list[tuple[int, int]],
                          said: Callable[[LabelledClip, LabelledClip, int, int], None] | None = None
                          ) -> list[LabelledClip]:
    """`clips`, the two of each pair (indices) in one session: the lowest of theirs, and of every session
    joined to them. `said(a, b, first, second)` where a pair joins two sessions."""
    merged = {clip.session: clip.session for clip in clips}

    def joined(session: int) -> int:
        while merged[session] != session:
            session = merged[session]
        return session

    for i, j in pairs:
        first, second = sorted((joined(clips[i].session), joined(clips[j].session)))
        if first != second and said is not None:
            said(clips[i], clips[j], first, second)
        merged[second] = first
    return [replace(clip, session=joined(clip.session)) for clip in clips]


REHEARSAL_PREFIX = re.compile(r"^rehearse\d+-(?P<folder>[0-9a-f]{8})_")


def folder_digest(folder: str | Path) -> str:
    """8 hex digits naming a folder by where it is (its bytes: a name that is not UTF-8 is hashed too)."""
    return hashlib.sha1(str(Path(folder).resolve()).encode("utf-8", "surrogateescape")).hexdigest()[:8]


def rehearsal_prefix(folder: str | Path, k: int) -> str:
    """Cache names of a rehearsal folder's clips: its number and a digest of its path, so that two
    folders' same-named clips never share a cache entry."""
    return _prefix(folder_digest(folder), k)


def _prefix(digest: str, k: int) -> str:
    return f"rehearse{k}-{digest}_"


def without_rehearsal_prefix(name: str) -> str:
    """A clip's own name, without the prefix `rehearsal_prefix` gave it."""
    return REHEARSAL_PREFIX.sub("", name, count=1)


def own_clip_name(source: str) -> str:
    """The clip a training source is, by its own name: without its folder's prefix, and an interval cut
    out of it ("name@start-end") as the whole clip."""
    return without_rehearsal_prefix(source).split("@", 1)[0]


# What weights learnt is recorded by clip name (a checkpoint's `trained_clips`). A dataset's names are its
# own everywhere (N-UCLA's; NTU's, A001-A120, and a PKU-MMD sequence's wherever they were copied or
# converted), but a site's are not:
# S001C001P001R001A121 is every site's first clip of its first class. So a site's clip is known by its
# folder too (a digest of its resolved path): a rehearsal folder's by the digest in its prefix, a run's
# own folder's as the checkpoint records it (`data_folder`), and names a run inherits from weights of
# another folder are recorded under that folder's prefix ("rehearse0-<digest>_").

# The folder of clips whose checkpoint does not say where it trained: it may be any, this one included.
UNKNOWN_FOLDER = "00000000"


def run_folder(data: DataConfig) -> str | None:
    """The digest of a run's own folder of clips (None: a dataset's run, whose names are its own)."""
    return folder_digest(data.root) if data.dataset == "clips" else None


def recorded_folder(seed: dict) -> str | None:
    """The digest of the folder of clips weights trained on: `data_folder` as their run recorded it, else
    of their recorded data.root, resolved here (a relative one from where this runs); None for a
    dataset's weights; UNKNOWN_FOLDER where their checkpoint does not say."""
    if "data_folder" in seed:
        return seed["data_folder"]
    data = (seed.get("train_config") or {}).get("data") or {}
    if (seed.get("dataset") or recorded_data(data)["dataset"]) != "clips":
        return None
    return folder_digest(data["root"]) if data.get("root") else UNKNOWN_FOLDER


def _clip_key(name: str, folder: str | None) -> tuple[str | None, str]:
    """(the digest of the folder a clip is of, None for a dataset's own name; its name there), for a clip
    named `name` by a run whose own folder has digest `folder` (None: a dataset's run)."""
    clip = name.split("@", 1)[0]  # an interval cut out of a clip is that clip
    prefix = REHEARSAL_PREFIX.match(clip)
    own = clip[prefix.end():] if prefix else clip
    if is_sequence_path(own) or _is_ntus(own):
        return None, own
    return (prefix["folder"] if prefix else folder), own


def _is_ntus(name: str) -> bool:
    """Whether a clip's name is one of NTU RGB+D's samples (a site's classes are A121 and above)."""
    try:
        return SampleName.parse(name).action <= len(NTU120_CLASSES)
    except ValueError:
        return False


def learnt_from(seed: dict, here: str | None) -> Callable[[str], bool]:
    """Whether a clip of a run whose own folder has digest `here` (run_folder; None: a dataset's), by its
    name there, is one that weights whose checkpoint records `seed` (its extra) learnt from: the same
    clip of the same folder, or of an unknown one, or a dataset's clip of the same name (a dataset's
    weights, an NTU sample in a rehearsal folder)."""
    theirs = recorded_folder(seed)
    known = {_clip_key(name, theirs) for name in seed.get("trained_clips", ())}

    def learnt(name: str) -> bool:
        folder, own = _clip_key(name, here)
        return any(key in known for key in ((folder, own), (None, own), (UNKNOWN_FOLDER, own)))

    return learnt


# A fine-tuned model's record of the site's classes fine-tuning on its folder (data_folder) taught, earlier
# rounds' included (training/finetune.py): a later round warns of those it has still not learnt.
TAUGHT_HERE = "site_classes_taught"


def taught_here(seed: dict, here: str | None) -> list[str]:
    """The site's classes that fine-tuning taught weights whose checkpoint records `seed`, where that was
    on the folder of digest `here` (a run on another folder's clips learns them as classes of its base)."""
    taught = seed.get(TAUGHT_HERE)
    return list(taught) if isinstance(taught, list) and recorded_folder(seed) == here else []


def names_learnt(seed: dict, here: str | None) -> set[str]:
    """The clips weights whose checkpoint records `seed` learnt, named as the checkpoint of a run whose own
    folder has digest `here` records them: a clip of another folder of clips under that folder's prefix."""
    theirs = recorded_folder(seed)
    named = set()
    for name in seed.get("trained_clips", ()):
        folder, _ = _clip_key(name, theirs)
        another = REHEARSAL_PREFIX.match(name) is None and folder not in (None, here)
        named.add(_prefix(folder, 0) + name if another else name)
    return named


def read_dataset(data: DataConfig) -> tuple[list[LabelledClip], list[Path]]:
    """The clips of data.root and of every data.rehearse folder."""
    clips, unlabelled = read_clip_folder(data.root, data.label_map or None)
    for k, folder in enumerate(data.rehearse, start=1):
        more, skipped = read_clip_folder(folder, None, folder=k, prefix=rehearsal_prefix(folder, k))
        clips += more
        unlabelled += skipped
    names = Counter(c.task.name for c in clips)
    twice = [n for n, count in names.items() if count > 1]
    if twice:  # the cache keeps a clip by its name: one would stand for the other
        paths = [str(c.task.skeleton) for c in clips if c.task.name == twice[0]]
        more = f" ({len(twice) - 1} more names too)" if len(twice) > 1 else ""
        raise DatasetError(f"{data.root}: clip names must be unique, and {twice[0]} is {' and '.join(paths)}"
                           f"{more}: two folders' recordings numbered alike (each takes the next session "
                           "free in its own folder); train one folder at a time, and record each room "
                           "under sessions of its own (python -m live --session N)")
    # Labelled before labels.txt refused it, "No_Action" trained as an action beside no_action.
    background = [(c, n) for c in clips for n in clip_classes(c) if names_background(n)]
    if background:
        name = background[0][1]
        naming = [str(c.task.skeleton) for c, n in background if n == name]
        raise DatasetError(f"class {name!r} of the clips is the background ({NO_ACTION!r}: everything "
                           f"outside the intervals), not an action: remove it from the clips that name it "
                           f"({first_few(naming, 3)}: python -m recordings label CLIP --list, then "
                           f"--remove N)")
    return clips, unlabelled


def clip_classes(clip: LabelledClip) -> list[str]:
    """Every class a clip's labels name."""
    names = [i.label for i in clip.timeline.intervals] if clip.timeline is not None else []
    return ([clip.action] if clip.action and clip.timeline is None else []) + names


def clip_prepare_tasks(
    root: str | Path, label_map: str | None = None, rehearse: list[str] | tuple[str, ...] = ()
) -> list[ClipTask]:
    """The clips to prepare crops for (`python -m training prepare --dataset clips`): every labelled clip
    (labels themselves are read from the sidecars when training, so relabelling needs no new crops)."""
    data = DataConfig(dataset="clips", root=str(root), label_map=label_map or "", rehearse=list(rehearse))
    clips, unlabelled = read_dataset(data)
    if unlabelled:
        log.warning("%d unlabelled clips left out (python -m recordings label): %s", len(unlabelled),
                    ", ".join(p.name for p in unlabelled[:5]))
    return [replace(c.task, group={"session": c.session, "folder": c.folder}) for c in clips]


def _cut(clip: Clip, start: float, end: float) -> Clip:
    """The frames of [start, end) (at least one) of a clip, its crops too, as a replay labels them
    (recordings.clip.frames_within)."""
    first = float(clip.timestamps[0])
    keep = np.flatnonzero(frames_within(clip.timestamps - first, start, end))
    if len(keep) == 0:
        keep = np.array([int(np.argmin(np.abs(clip.timestamps - first - start)))])
    crops, crop_times = clip.crops, clip.crop_timestamps
    if crops is not None and crop_times is not None:
        inside = np.flatnonzero(frames_within(crop_times - first, start, end))
        if len(inside) == 0:
            inside = np.array([int(np.argmin(np.abs(crop_times - first - start)))])
        crops, crop_times = crops[:, inside[0] : inside[-1] + 1], crop_times[inside[0] : inside[-1] + 1]
    states = clip.states[keep[0] : keep[-1] + 1] if clip.states is not None else None
    return replace(clip, timestamps=clip.timestamps[keep[0] : keep[-1] + 1],
                   joints=clip.joints[keep[0] : keep[-1] + 1], states=states, crops=crops,
                   crop_timestamps=crop_times, timeline=None)


class LabelledClipLoader:
    """Loads one clip — from the prepared cache (crops) or its skeleton file — with the label the split
    gave it: a class index, a timeline (continuous), or an interval cut out. Picklable (loader workers)."""

    def __init__(self, task: ClipTask, label: int, timeline: Timeline | None,
                 span: tuple[float, float] | None, max_bodies: int, cache: Path | None) -> None:
        self.task, self.label, self.timeline, self.span = task, label, timeline, span
        self.max_bodies, self.cache = max_bodies, cache

    def __call__(self, with_crops: bool) -> Clip:
        if self.cache is not None:
            clip = load_clip(self.cache, self.task.name, with_crops)
        elif with_crops:
            raise DatasetError(f"{self.task.skeleton}: crops need a prepared cache "
                               "(python -m training prepare)")
        else:
            try:  # a clip damaged since it was listed: its error names file and line, as every reader's
                arrays = read_skeleton(self.task.skeleton).arrays(self.max_bodies)
                stamps = None if self.task.sidecar is None else read_sidecar(self.task.sidecar).timestamps
            except (SkeletonFormatError, ClipError) as error:
                raise DatasetError(str(error)) from None
            if stamps is None:
                stamps = np.arange(len(arrays.xyz), dtype=np.float64) / NTU_FPS
            clip = Clip(self.task.name, self.label, stamps - stamps[0], arrays.xyz, arrays.states)
        clip.label, clip.timeline = self.label, self.timeline
        return _cut(clip, *self.span) if self.span is not None else clip


def held_sessions(
    sessions: dict[int, list[ClipSource]], fraction: float, rng: np.random.Generator
) -> set[int]:
    """The sessions to hold out: first, for each class seen in two or more sessions, one session that
    has it; then more, in random order, until `fraction` of the clips are held out — never the last
    training session of a class."""
    order = [int(k) for k in rng.permutation(sorted(sessions))]
    classes_of = {k: {c for s in sessions[k] for c in s.group["classes"]} for k in order}
    sessions_with = Counter(c for k in order for c in classes_of[k])
    held_with: Counter[int] = Counter()
    held: list[int] = []
    target = fraction * sum(len(members) for members in sessions.values())
    # Candidates in turn: a session with each class in need of validation, then any session.
    for wanted in [*sorted(sessions_with), None]:
        for key in order:
            if wanted is None and sum(len(sessions[k]) for k in held) >= target:
                break
            if wanted is not None and (held_with[wanted] or wanted not in classes_of[key]):
                continue
            if key not in held and all(held_with[c] + 1 < sessions_with[c] for c in classes_of[key]):
                held.append(key)
                held_with.update(classes_of[key])
                if wanted is not None:
                    break
    return set(held)


def hold_out_sessions(
    pool: list[ClipSource], fraction: float, seed: int
) -> tuple[list[ClipSource], list[ClipSource], list[str]]:
    """(train, validation, notes): whole sessions held out per folder (see the module docstring)."""
    train: list[ClipSource] = []
    validation: list[ClipSource] = []
    notes: list[str] = []
    for folder in sorted({s.group["folder"] for s in pool}):
        members = [s for s in pool if s.group["folder"] == folder]
        sessions: dict[int, list[ClipSource]] = {}
        for source in members:
            sessions.setdefault(source.group["session"], []).append(source)
        if fraction <= 0:
            train += members
            continue
        if len(sessions) < 2:
            kept, held = stratified_split([s.group["class"] for s in members], fraction, seed)
            train += [members[i] for i in kept]
            validation += [members[i] for i in held]
            where = "the site's clips" if folder == 0 else f"rehearsal folder {folder}"
            if len(held):  # (none held: one clip of a class, say; what trains without validation says it)
                notes.append(f"{where}: every clip is from one recording session, so validation clips are "
                             "drawn at random from them and their validation figures flatter the model")
            continue
        held = held_sessions(sessions, fraction, np.random.default_rng([seed, folder]))
        for key in sorted(sessions):
            (validation if key in held else train).extend(sessions[key])
    return train, validation, notes


def clip_splits(data: DataConfig) -> Splits:
    if data.protocol not in ("all", "xview"):
        raise DatasetError(f"dataset 'clips' has protocol 'all' (or 'xview'), not {data.protocol!r}")
    clips, unlabelled = read_dataset(data)
    if unlabelled and is_main_process():  # torchrun: every rank reads them; one says so
        print(f"[clips] {len(unlabelled)} unlabelled clip(s) left out (python -m recordings label): "
              + ", ".join(p.name for p in unlabelled[:5]) + (" ..." if len(unlabelled) > 5 else ""))
    if not clips:
        raise DatasetError(f"{data.root}: no labelled clips")
    if data.classes:
        classes = list(data.classes)
    else:
        classes = label_map_for(data.root, data.label_map or None)[1].class_names
    for clip in clips:
        missing = [name for name in clip_classes(clip) if name not in classes]
        if missing:
            shown = ", ".join(classes[:10]) + (" ..." if len(classes) > 10 else "")
            where = clip.task.sidecar or clip.task.skeleton
            raise DatasetError(f"{where}: label {missing[0]!r} is not among the classes ({shown})")
    continuous = NO_ACTION in classes and any(c.timeline is not None for c in clips)

    glimpse, crop_parts, cache = None, (), None
    if data.cache:
        cache = Path(data.cache)
        settings = read_settings(cache)
        prepared = {entry["name"] for entry in read_index(cache)}
        if nobody := {c.task.name for c in clips} & clips_with_nobody(cache):  # said by prepare
            clips = [c for c in clips if c.task.name not in nobody]
        absent = [c.task.name for c in clips if c.task.name not in prepared]
        if absent:
            raise DatasetError(f"{cache}: {len(absent)} clip(s) are not prepared (e.g. {absent[0]}); run "
                               f"`python -m training prepare` on {data.root} again")
        glimpse = None if settings.skeleton_only else settings.glimpse
        crop_parts = () if settings.skeleton_only else settings.parts

    pool: list[ClipSource] = []
    for clip in clips:
        named = clip_classes(clip) or [NO_ACTION]  # [] for a part of a recording with marks elsewhere
        if named[0] not in classes:  # without no_action (actions cut out): that part has none to give
            continue
        main_class = classes.index(named[0])
        # "classes": every class the clip's labels name, so that holding out a session never takes the only
        # training examples of a class that is not its first one (a sequence with several actions).
        group = {"session": clip.session, "folder": clip.folder, "class": main_class,
                 "classes": tuple(sorted({classes.index(name) for name in named}))}
        if continuous:
            whole = [Interval(0.0, clip.duration, clip.action)] if clip.action else []
            timeline = clip.timeline or Timeline.checked(whole, duration=clip.duration, source=clip.task.name)
            loader = LabelledClipLoader(clip.task, -1, timeline, None, data.max_bodies, cache)
            pool.append(ClipSource(clip.task.name, -1, loader, group))
        elif clip.timeline is not None:  # each interval a clip of its own
            for interval in clip.timeline.intervals:
                label = classes.index(interval.label)
                span = (max(0.0, interval.start - data.interval_context_s),
                        min(clip.duration, interval.end + data.interval_context_s))
                loader = LabelledClipLoader(clip.task, label, None, span, data.max_bodies, cache)
                name = f"{clip.task.name}@{interval.start:.2f}-{interval.end:.2f}"
                pool.append(ClipSource(name, label, loader, {**group, "class": label, "classes": (label,)}))
        else:
            label = classes.index(clip.action)
            loader = LabelledClipLoader(clip.task, label, None, None, data.max_bodies, cache)
            pool.append(ClipSource(clip.task.name, label, loader, group))
    train, validation, notes = hold_out_sessions(pool, data.validation_fraction, data.split_seed)
    if validation:  # a class of one session keeps it for training: said, or its empty row read as judged
        judged = {c for s in validation for c in s.group["classes"]}
        unjudged = [classes[c] for c in sorted({c for s in train for c in s.group["classes"]} - judged)
                    if classes[c] != NO_ACTION]
        if unjudged:
            it = "it" if len(unjudged) == 1 else "them"
            notes.append(f"{first_few(unjudged, 5)}: no clip of {it} is held out (holding out a session of "
                         f"{it} would leave a class without training clips), so the validation figures say "
                         f"nothing of {it}; clips of {it} from more recording sessions let one be held out")
    for note in notes if is_main_process() else ():
        print(f"[clips] {note}")
    return Splits(
        train,
        validation,
        [],
        classes,
        KINECT_V2,
        has_rgb=glimpse is not None,
        glimpse=glimpse,
        crop_parts=crop_parts,
        continuous=continuous,
    )
