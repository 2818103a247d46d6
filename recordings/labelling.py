"""A clip's labels, edited after recording: the class of the whole clip, or where each action happens.

    python -m recordings label CLIP --class NAME                  the whole clip shows NAME
    python -m recordings label CLIP --class NAME --from S --to S  NAME from S to S seconds (repeatable)
    python -m recordings label CLIP --list | --remove N | --clear
    python -m recordings view CLIP                                mark intervals with keys while it plays

    ClipLabels.open(clip)  -> set_whole(name) / add(interval) / remove(n) / clear() -> save()
    IntervalMarker         start / end / undo, as a person at a keyboard gives them

A clip's labels live in its sidecar: "label" and "action_id" (the class of the whole clip) and
"intervals" (core.timeline JSON: [{"start", "end", "label"[, "person"]}], seconds from the first
frame; everything outside them is background). A clip with intervals is trained on them (its
"label" then only names it); one without is its "label" from start to end. `person` is a tracking
id (the number `python -m recordings info` and live's panels show), absent for "whoever is in view":
training reads every body of a window with the same label either way, so leave it out unless someone
else in view does something else.

Class names go through the site's label map (labels.txt next to the clip): a new name is appended
there (A121 and up). Every change rewrites the sidecar atomically (recordings.atomic): a crash leaves
the old labels or the new ones, never a half-written file. A clip without a sidecar (NTU's own) gets
one, its frames 1/30 s apart as NTU's are.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.atomic import replace_atomically
from core.locks import held
from core.package_files import software_version
from core.timeline import Interval, Timeline, TimelineError, stored_time
from recordings.argument_types import as_typed
from recordings.clip import (
    NTU_FPS,
    ClipError,
    ClipPaths,
    DamagedIntervals,
    body_ids,
    clip_paths,
    frames_within,
    labelling_nobody,
    read_sidecar,
)
from recordings.labels import LABEL_MAP_FILENAME, LabelMap, check_label, ensure_label
from recordings.ntu import read_skeleton
from recordings.ntu_samples import NTU120_CLASSES, SampleName
from recordings.recorder import (
    SIDECAR_FORMAT,
    SIDECAR_VERSION,
    STORED_TIME_SLACK_S,
    clip_session,
    labelled_length_s,
)


def label_map_path(clip: ClipPaths, given: Path | str | None = None) -> Path:
    """The site label map for a clip: `given`, else labels.txt in the clip's folder."""
    return Path(given) if given else clip.skeleton.parent / LABEL_MAP_FILENAME


def _new_sidecar(paths: ClipPaths) -> dict:
    """A sidecar for a clip that has none (NTU's own): 30 fps timestamps, the class of its name."""
    count = read_skeleton(paths.skeleton).num_frames
    action_id, session = None, None
    try:
        sample = SampleName.parse(paths.name)
        action_id, session = sample.action, sample.setup
    except ValueError:
        pass
    return {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "sample_name": paths.name,
        "label": None,
        "action_id": action_id,
        "session": session,
        "source": "unknown (sidecar added by python -m recordings label)",
        "software": {"name": "where-to-focus", "version": software_version()},
        "frame_count": count,
        "timestamps": [round(i / NTU_FPS, 6) for i in range(count)],
        "skeleton": paths.skeleton.name,
    }


class SidecarChanged(ClipError):
    """A save refused: another editor changed the sidecar since it was read. Doing it again, on the labels
    as they are now (ClipLabels.reread), is the way on."""


@dataclass
class ClipLabels:
    """One clip's sidecar, opened for relabelling. Nothing is written until `save()`."""

    paths: ClipPaths
    sidecar_path: Path
    raw: dict
    duration: float  # seconds an interval may reach: the last frame's time plus one frame
    label_map_path: Path
    intervals: list[Interval] = field(default_factory=list)
    added_classes: list[str] = field(default_factory=list)  # new in labels.txt because of this edit
    similar_ok: bool = False  # a new class name close to a known one is taken as a typo and refused
    on_disk: bool = False  # the sidecar exists (it was there when opened, or it was saved)
    read_as: str | None = None  # the sidecar's digest as read (_digest): `save` refuses over a change since
    unread_intervals: int = 0  # intervals that did not read, dropped to be cleared (`open(clearing=True)`)

    @classmethod
    def open(cls, clip: Path | str, label_map: Path | str | None = None, *, clearing: bool = False
             ) -> ClipLabels:
        """The clip's labels; `clearing`: they are about to be cleared, so intervals that do not read (an
        edit by hand) are dropped rather than refused, which left no way to repair them but an editor."""
        paths = clip_paths(clip)
        unread = 0
        read_as = _digest(paths.sidecar) if paths.sidecar is not None else None  # before it is read: a
        if paths.sidecar is not None:  # change in between makes `save` refuse, never lose it
            try:
                sidecar = read_sidecar(paths.sidecar)  # checked: timestamps, intervals
            except DamagedIntervals:
                if not clearing:
                    raise
                sidecar = read_sidecar(paths.sidecar, intervals=False)
                unread = len(sidecar.raw["intervals"]) if isinstance(sidecar.raw["intervals"], list) else 1
            raw, path = dict(sidecar.raw), paths.sidecar
            timeline = sidecar.timeline
        else:
            raw, path = _new_sidecar(paths), paths.skeleton.with_name(f"{paths.name}.json")
            timeline = None
        timestamps = np.asarray(raw["timestamps"], dtype=np.float64)
        duration = labelled_length_s(timestamps)
        intervals = list(timeline.intervals) if timeline is not None else []
        return cls(paths, path, raw, duration, label_map_path(paths, label_map), intervals,
                   on_disk=paths.sidecar is not None, read_as=read_as, unread_intervals=unread)

    def reread(self) -> None:
        """The labels as the sidecar holds them now: another editor (`recordings label` beside the
        marking window) may have changed it since it was opened, and a save from the old copy would
        undo that change. A sidecar deleted meanwhile is a ClipError: saving would make it again."""
        if self.sidecar_path.is_file():
            now = ClipLabels.open(self.paths.skeleton, self.label_map_path)
            self.raw, self.intervals, self.read_as = now.raw, now.intervals, now.read_as
        elif self.on_disk:
            raise ClipError(f"{self.sidecar_path} was deleted while the clip was being labelled: open the "
                            f"clip again to label it")

    @property
    def label(self) -> str | None:
        return self.raw.get("label")

    @property
    def session(self) -> int | None:
        return clip_session(self.paths.name, self.raw)

    def _class(self, name: str) -> tuple[str, int]:
        """The class's name as the label map writes it and its id (appending a new class)."""
        label_map, action_id, added = ensure_label(self.label_map_path, name, similar_ok=self.similar_ok)
        class_name = label_map.name(action_id)
        if added:
            self.added_classes.append(f"A{action_id:03d} {class_name}")
        return class_name, action_id

    def set_whole(self, name: str) -> str:
        """The whole clip shows `name`. Refused while the clip has intervals (they would win)."""
        if self.intervals:
            raise ValueError(
                f"{self.sidecar_path}: the clip has {len(self.intervals)} interval(s), which say where its "
                f"actions are; remove them first (--clear) or give --from/--to"
            )
        class_name, action_id = self._class(name)
        self.raw["label"], self.raw["action_id"] = class_name, action_id
        return class_name

    def add(self, name: str, start: float, end: float | None, person: int | None = None) -> Interval:
        """`name` between `start` and `end` seconds (None: to the end of the clip); checked against the
        clip's length and the other intervals of the same person."""
        unnamed = self._new_interval(name, start, end, person)
        class_name, _ = self._class(name)
        interval = Interval(unnamed.start, unnamed.end, class_name, person)
        self.intervals = sorted([*self.intervals, interval], key=lambda i: (i.start, i.end))
        return interval

    def check_additions(self, additions: list[tuple[str, float, float | None]], person: int | None = None
                        ) -> None:
        """What `add` would refuse of any of `additions` (name, start, end), said before any is added:
        labels.txt takes a new class as it is added, so a second interval refused after the first was
        added would leave the first's class in labels.txt with no clip of it."""
        pending = list(self.intervals)
        for name, start, end in additions:
            pending.append(self._new_interval(name, start, end, person, among=pending))
        names = list(dict.fromkeys(name for name, _, _ in additions))
        for n, name in enumerate(names):  # each as labels.txt will be when it is added: the ones before in
            check_label(self.label_map_path, name, similar_ok=self.similar_ok, added_before=names[:n])

    @functools.cached_property
    def _body_ids(self) -> list[int]:
        """The tracking ids of the clip's bodies, read once (a long clip's skeleton takes seconds)."""
        return body_ids(read_skeleton(self.paths.skeleton).frames)

    def _new_interval(self, name: str, start: float, end: float | None, person: int | None,
                      among: list[Interval] | None = None) -> Interval:
        """The interval `add` would add, checked against `among` (the clip's intervals), under the name as
        given (its class not looked up)."""
        # To the end: as stored (0.1 ms), not past it. The check reading intervals back allows what storing
        # rounded up before; a new one gets no such slack.
        end = math.floor(self.duration * 1e4) / 1e4 if end is None else float(end)
        if end > self.duration:  # a start past it then reads as an interval that ends before it starts
            raise ValueError(f"{self.sidecar_path}: the new interval ends at {end:.3f} s, past the end of "
                             f"the stream ({self.duration:.3f} s)")
        # No frame in it (--from 5 --to 5.01): it trained as a class no frame carried.
        if float(start) < end and not frames_within(self.raw["timestamps"], float(start), end).any():
            raise ValueError(f"{self.sidecar_path}: no frame of the clip lies in the new interval "
                             f"{float(start):.3f}-{end:.3f} s (shorter than a frame): mark the whole action")
        # Checked before the class is looked up: a refused interval must not add its class to labels.txt.
        among = self.intervals if among is None else among
        self._check([*among, Interval(float(start), end, name.strip() or "?", person)], new=True)
        if person is not None:  # a typo'd id labels nobody: a replay's truth and a streaming evaluation
            seen = self._body_ids
            if person not in seen:
                raise ValueError(f"{self.paths.skeleton}: no body with tracking id {person} in the clip "
                                 f"(its bodies: {', '.join(map(str, seen)) or 'none'})")
        return Interval(float(start), end, name.strip() or "?", person)

    def remove(self, number: int) -> Interval:
        """Remove interval `number` (1-based, as `listing` numbers them)."""
        ordered = self.timeline().intervals
        if not 1 <= number <= len(ordered):
            raise ValueError(f"{self.sidecar_path}: no interval {number}; the clip has {len(ordered)}")
        removed = ordered[number - 1]
        self.intervals = [i for i in ordered if i is not removed]
        return removed

    def clear(self) -> int:
        count, self.intervals = len(self.intervals) + self.unread_intervals, []
        self.unread_intervals = 0
        return count

    def timeline(self) -> Timeline:
        return self._check(self.intervals)

    def _check(self, intervals: list[Interval], new: bool = False) -> Timeline:
        """The intervals as a checked timeline; with `new`, the last one is the one being added."""
        names = [f"interval {n}" for n in range(1, len(intervals) + 1)]
        if new:
            names[-1] = "the new interval"  # (its class and times said with it)
        try:
            # As read_sidecar checks: `--to end` stored, rounded, read 12.0667 s past a clip of 12.06667 s.
            return Timeline.checked(intervals, duration=self.duration + STORED_TIME_SLACK_S,
                                    source=str(self.sidecar_path), lines=names)
        except TimelineError as error:
            raise ValueError(str(error)) from None

    def listing(self) -> list[str]:
        """The clip's labels as lines of text (intervals numbered from 1)."""
        whole = self.label
        action_id = self.raw.get("action_id")
        if whole is None and action_id is not None and 1 <= action_id <= len(NTU120_CLASSES):
            # NTU's own clips have no sidecar label: their class is in the name (A011 = reading).
            whole = f"A{action_id:03d} {NTU120_CLASSES[action_id - 1]} (from the clip's name)"
        session = self.session or "?"
        lines = [f"{self.paths.name}: {self.duration:.2f} s, session {session}, "
                 f"clip label {whole or '(no label)'}"]
        timeline = self.timeline()
        nobody: set[int] = set()  # labelled before `add` refused an id no body has (a clip of 2026-12-04)
        if any(i.person is not None for i in timeline.intervals):
            ids = self._body_ids
            nobody = {n for n, _ in labelling_nobody(timeline, ids)}
        for n, interval in enumerate(timeline.intervals, start=1):
            who = "whoever is in view" if interval.person is None else f"person {interval.person}"
            if n in nobody:
                who += ": no body of the clip; it labels nobody"
            span = f"{interval.start:8.2f} - {interval.end:8.2f} s"
            lines.append(f"  {n:>3}  {span}  {interval.label}  ({who})")
        if not self.intervals:
            lines.append("  no intervals: " + ("the whole clip is its label" if whole else "unlabelled"))
        return lines

    def save(self) -> Path:
        """Rewrite the sidecar atomically with the labels as they are now. SidecarChanged, with nothing
        written, where another editor saved it since it was read: two people labelling one clip at once
        each wrote their own copy over the other's, and one's intervals were gone without a word."""
        raw = dict(self.raw)
        if self.intervals:
            raw["intervals"] = self.timeline().to_json()
        else:
            raw.pop("intervals", None)
        data = json.dumps(raw, indent=1).encode() + b"\n"
        # One editor at a time compares and writes (the folder's labels.txt lock: no file of its own).
        with held(self.sidecar_path.with_name(LABEL_MAP_FILENAME + ".lock")):
            if _digest(self.sidecar_path) != self.read_as:
                raise SidecarChanged(f"{self.sidecar_path} was changed or removed by another editor "
                                     "(recordings label, the marking window) since it was read: nothing "
                                     "written; do it again, on the labels as they are now")
            replace_atomically(self.sidecar_path, data)
        self.raw, self.on_disk, self.read_as = raw, True, hashlib.sha256(data).hexdigest()
        return self.sidecar_path


def _digest(path: Path) -> str | None:
    """SHA-256 of a sidecar's bytes; None where there is none."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def known_classes(label_map: LabelMap | None, *extra: str | None) -> list[str]:
    """Class names to choose from with keys 1-9: the label map's, then any others given."""
    names = list(label_map.class_names) if label_map is not None else []
    for name in extra:
        if name and name not in names:
            names.append(name)
    return names


def label_command(clip: Path, interval: Interval, labels: str | os.PathLike[str] | None = None) -> str:
    """The `recordings label` command that adds `interval` to `clip`, to paste into this system's shell:
    its times as the sidecar stores them (3612.3 s, not 3612; 1.0333, the frame it was marked on)."""
    def seconds(t: float) -> str:
        return f"{stored_time(t):.4f}".rstrip("0").rstrip(".")

    label_map = f" --labels {as_typed(labels)}" if labels else ""
    person = f" --person {interval.person}" if interval.person is not None else ""
    return (f"python -m recordings label {as_typed(clip)}{label_map} --class {as_typed(interval.label)} "
            f"--from {seconds(interval.start)} --to {seconds(interval.end)}{person}")


@dataclass
class IntervalMarker:
    """Marks given by keys as a clip plays or records: `start` opens an interval of the chosen class,
    `end` closes it; starting while one is open closes that one first (a change of action).

    Times are whatever clock the caller uses (clip seconds in the viewer, stream seconds in live).
    """

    intervals: list[Interval] = field(default_factory=list)
    opened: tuple[float, str] | None = None  # (start, label) of the interval being marked

    def start(self, t: float, label: str) -> Interval | None:
        """Open an interval of `label` at t; returns the interval this closed, if one was open."""
        closed = self.end(t)
        self.opened = (t, label)
        return closed

    def end(self, t: float) -> Interval | None:
        """Close the open interval at t; returns it (None when none was open or it would be empty)."""
        if self.opened is None:
            return None
        start, label = self.opened
        self.opened = None
        if t <= start:
            return None
        interval = Interval(start, t, label)
        self.intervals.append(interval)
        return interval

    def undo(self) -> Interval | tuple[float, str] | None:
        """Drop the open mark, else the last interval; returns what was dropped."""
        if self.opened is not None:
            dropped, self.opened = self.opened, None
            return dropped
        return self.intervals.pop() if self.intervals else None


__all__ = ["ClipError", "ClipLabels", "IntervalMarker", "SidecarChanged", "known_classes", "label_command",
           "label_map_path"]
