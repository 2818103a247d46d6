"""`python -m recordings export DIR OUT`: the site's labelled clips as NTU RGB+D samples for other tools.

A clip the app records is one take: it may last minutes, hold several actions marked as intervals, and
be named `live_<time>` until labelled. The tools researchers train on NTU RGB+D with (2s-AGCN and MS-G3D's
`ntu_gendata.py`, mmaction2's `gen_ntu_rgbd_raw.py`, CTR-GCN's `get_raw_skes_data.py`) expect what NTU
ships instead: one action per file, its class in the name (SsssCcccPpppRrrrAaaa), at most 300 frames
(they pad every sample into a 300-frame array and fail on a longer one), and a body id that, once gone,
does not come back (CTR-GCN lays a body's frames out one after another from its first). So each labelled
action becomes its own file here:

    clip (sidecar intervals, or the clip's own label) --> frames inside [start, end) --> pieces of at most
    max_frames --> body ids renewed after a gap --> OUT/SsssCcccPpppRrrrAaaa.skeleton
                                                    + OUT/labels.txt + OUT/samples.tsv (where each came from)

S, C and P are the clip's own where its name is NTU-style (else S its session, C 1, P 0: performer not
known); R counts the samples of one S, C, P and A. Skeletons only: the colour video is not cut. Whoever
an interval names (`--person`), the sample keeps every body in view, as NTU's files do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from recordings.clip import NTU_FPS, ClipError, ClipPaths, find_clips, read_sidecar
from recordings.labelling import label_map_path
from recordings.labels import LABEL_MAP_FILENAME, LabelMap, ntu_label_map, read_label_map, write_label_map
from recordings.ntu import NtuBody, SkeletonFile, SkeletonFormatError, read_skeleton, write_skeleton
from recordings.ntu_samples import NTU120_CLASSES, SampleName
from recordings.recorder import clip_session

MAX_FRAMES = 300  # NTU RGB+D's longest samples; the tools above allocate this many frames per sample
SAMPLES_INDEX = "samples.tsv"


@dataclass(frozen=True)
class ExportedSample:
    """One file written: its name and where in which clip it came from."""

    name: SampleName
    clip: str  # the clip's name
    start_s: float  # its first frame's time in the clip
    end_s: float  # its last frame's time plus one frame period
    frames: int
    label: str


@dataclass(frozen=True)
class _Action:
    start_s: float
    end_s: float
    label: str


def export_clips(directory: Path | str, out: Path | str, max_frames: int = MAX_FRAMES,
                 labels: Path | str | None = None) -> tuple[list[ExportedSample], list[str]]:
    """Write every labelled action of the clips under `directory` into `out` as NTU samples.

    Returns the samples written and one line per clip that could not be read or labelled (the rest are
    exported all the same). `out` must hold no .skeleton yet: a second export into it would mix two
    numberings of R."""
    directory, out = Path(directory), Path(out)
    if max_frames < 1:
        raise ValueError(f"max_frames must be at least 1, got {max_frames}")
    if not directory.is_dir():
        raise ClipError(f"{directory}: not a directory (give the folder the clips are in)")
    if out.is_dir() and any(out.glob("*.skeleton")):
        raise ClipError(f"{out}: already holds .skeleton files; export into an empty or new folder")
    clips = find_clips(directory)
    if not clips:
        raise ClipError(f"{directory}: no clips (*.skeleton) found")
    written: list[ExportedSample] = []
    problems: list[str] = []
    used: dict[int, str] = {}  # action id -> class name, for OUT/labels.txt
    replications: dict[tuple[int, int, int, int], int] = {}
    out.mkdir(parents=True, exist_ok=True)
    for clip in clips:
        try:
            base, actions, timestamps, names = _clip_actions(clip, labels)
            skeleton = read_skeleton(clip.skeleton) if actions else None
        except (ClipError, SkeletonFormatError, KeyError, ValueError, OSError) as error:
            problems.append(str(error.args[0] if isinstance(error, KeyError) and error.args else error))
            continue
        if skeleton is not None and skeleton.num_frames != len(timestamps):
            problems.append(f"{clip.skeleton}: {skeleton.num_frames} frames but its sidecar times "
                            f"{len(timestamps)}; not exported")
            continue
        period = float(np.median(np.diff(timestamps))) if len(timestamps) > 1 else 1.0 / NTU_FPS
        for action in actions:
            try:
                action_id = names.action_id(action.label)
            except KeyError as error:
                problems.append(f"{clip.sidecar or clip.skeleton}: {error.args[0]}")
                continue
            if used.get(action_id, names.name(action_id)) != names.name(action_id):
                # Each folder's labels.txt numbers its own classes from A121: one number, two classes.
                problems.append(f"{clip.skeleton}: A{action_id:03d} is {names.name(action_id)!r} here but "
                                f"{used[action_id]!r} in a clip exported before it; export the two folders "
                                f"separately, or give both one label map (--labels)")
                continue
            inside = np.flatnonzero((timestamps >= action.start_s) & (timestamps < action.end_s))
            for piece in np.array_split(inside, math.ceil(len(inside) / max_frames)) if len(inside) else []:
                key = (base.setup, base.camera, base.performer, action_id)
                replications[key] = replications.get(key, 0) + 1
                name = replace(base, replication=replications[key], action=action_id)
                frames = _renew_ids_after_gaps([skeleton.frames[t] for t in piece])
                write_skeleton(out / f"{name}.skeleton", SkeletonFile(None, frames, line_ending="\r\n"))
                written.append(ExportedSample(name, clip.name, float(timestamps[piece[0]]),
                                              float(timestamps[piece[-1]]) + period, len(piece),
                                              names.name(action_id)))
                used[action_id] = names.name(action_id)
    if written:
        write_label_map(out / LABEL_MAP_FILENAME, LabelMap(used),
                        header=f"the classes of the samples exported from {directory}")
        lines = ["sample\tclass\tclip\tstart_s\tend_s\tframes"]
        lines += [f"{s.name}\t{s.label}\t{s.clip}\t{s.start_s:.3f}\t{s.end_s:.3f}\t{s.frames}"
                  for s in written]
        (out / SAMPLES_INDEX).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return written, problems


def _clip_actions(clip: ClipPaths, labels: Path | str | None
                  ) -> tuple[SampleName, list[_Action], np.ndarray, LabelMap]:
    """The clip's S, C and P, its labelled actions, its frame times and the classes its labels name."""
    names = ntu_label_map(list(NTU120_CLASSES))
    site_map = label_map_path(clip, labels)
    if site_map.is_file():
        names = names.merged(read_label_map(site_map))
    try:
        own = SampleName.parse(clip.name)
    except ValueError:
        own = None
    if clip.sidecar is None:  # an NTU clip of its own: 30 fps, its class in its name
        if own is None:
            raise ClipError(f"{clip.skeleton}: no sidecar and no NTU name, so no class to export it under")
        times = np.arange(frame_total := read_skeleton(clip.skeleton).num_frames) / NTU_FPS
        return own, [_Action(0.0, frame_total / NTU_FPS, names.name(own.action))], times, names
    sidecar = read_sidecar(clip.sidecar)
    times = sidecar.timestamps - (sidecar.timestamps[0] if len(sidecar.timestamps) else 0.0)
    if sidecar.timeline is not None and sidecar.timeline.intervals:
        actions = [_Action(i.start, i.end, i.label) for i in sidecar.timeline.intervals]
    elif sidecar.label is not None or sidecar.action_id is not None:
        label = sidecar.label if sidecar.label is not None else f"A{sidecar.action_id:03d}"
        actions = [_Action(0.0, math.inf, label)]
    else:
        actions = []  # not labelled yet: nothing to export
    if own is not None:
        base = replace(own, replication=0, action=0)
    else:
        base = SampleName(setup=clip_session(clip.name, sidecar.raw) or 1, camera=1, performer=0,
                          replication=0, action=0)
    return base, actions, times, names


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
