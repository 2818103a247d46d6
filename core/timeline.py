"""Label timelines: which action happens when on a continuous stream, and who does it.

    Interval(start, end, label, person)     seconds of stream time, [start, end); person None = whoever
                                            is in view (a label for the whole scene, as PKU-MMD's)
    Timeline(intervals, duration)           checked once (`Timeline.checked`), then queried:
        label_at(t, person)                 the action at an instant, NO_ACTION where none is
        window_label(start, end, person)    the action covering at least `ACTION_FRACTION` of a window (an
                                            action too short for that: the windows centred on it)

Sources of timelines: the simulator's scene truth, our recorded clips (the sidecar's `intervals`),
PKU-MMD label files. Whatever the source, a timeline is checked when it is read (against the class list
where the reader has one): a label outside it, a reversed interval, an interval past the end of the
stream or two overlapping intervals of one person are errors that name the file and the line (or entry).

`NO_ACTION` is the background class: a model may have it among its classes (that exact name); it is
never an event nor an alert.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

NO_ACTION = "no_action"


def names_background(name: str) -> bool:
    """Whether a class name is NO_ACTION however it is written ("No_Action", "no action", "NO-ACTION"):
    labelled as an action, it was learnt as a class of its own beside no_action, competing with it."""
    return re.sub(r"[\W_]+", "", unicodedata.normalize("NFKC", name).casefold()) == "noaction"


# The word, not inside another ("upright"): between non-letters, a digit included ("wave_left2").
_SIDE = re.compile(r"(?<![^\W\d_])(left|right)(?![^\W\d_])", re.IGNORECASE)
_CAMEL = re.compile(r"(?<=[a-z])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")  # drinkLeft, LEFTHand: words apart


def sided_classes(class_names: Iterable[str]) -> list[str]:
    """The classes whose names say which side of the body acts ("drink_left", "wave right hand",
    "drinkLeft"): the mirror image of such an action is the other side's, so mirroring their windows
    (augmentation, mirror averaging) teaches or scores each as the other. English words only: "wave_L" or
    "links winken" is not found, and "left_behind" is, which only costs it the mirroring."""
    return [name for name in class_names if _SIDE.search(_CAMEL.sub("_", name))]

# A window takes the action that covers at least this fraction of it, else no_action. One half
# makes a window's label the truth at its centre for every action at least half a window long (the
# centre lies inside such an action exactly when the action covers half the window or more), which is
# what a decision is scored against: the decision is about the window that just ended. An action
# shorter than that (a PKU-MMD kick lasts 0.6-2 s against a 2 s window) never covers half of a window,
# so it takes the windows whose centre it covers instead: each of them holds at least half of the
# action, and the label stays the truth at the centre for every action, long or short.
ACTION_FRACTION = 0.5


def stored_time(seconds: float) -> float:
    """A time as a sidecar stores it: to 0.1 ms. A frame at 8/30 s is stored 0.2667, after it."""
    return round(seconds, 4)


class TimelineError(ValueError):
    """A timeline that does not fit its stream or its class list; the message names the file and line."""


@dataclass(frozen=True)
class Interval:
    """One action instance: [start, end) seconds of stream time."""

    start: float
    end: float
    label: str
    person: int | None = None  # tracking id or body slot; None: applies to everybody in view

    @property
    def duration(self) -> float:
        return self.end - self.start

    def overlap(self, start: float, end: float) -> float:
        """Seconds this interval shares with [start, end)."""
        return max(0.0, min(self.end, end) - max(self.start, start))

    def iou(self, other: Interval) -> float:
        """Temporal intersection over union with another interval (labels and people not compared)."""
        shared = self.overlap(other.start, other.end)
        union = max(self.end, other.end) - min(self.start, other.start)
        return shared / union if union > 0 else 0.0

    def to_json(self) -> dict:
        out = {"start": stored_time(self.start), "end": stored_time(self.end), "label": self.label}
        if self.person is not None:
            out["person"] = self.person
        return out

    @classmethod
    def from_json(cls, entry: Mapping) -> Interval:
        """From {"start", "end", "label"[, "person"]}; KeyError, TypeError, ValueError or AttributeError
        where the entry is not one (callers name the file and line)."""
        person = entry.get("person")
        return cls(float(entry["start"]), float(entry["end"]), str(entry["label"]),
                   None if person is None else int(person))


@dataclass(frozen=True)
class Timeline:
    """The action intervals of one stream, sorted by start. Build with `Timeline.checked`."""

    intervals: tuple[Interval, ...] = ()
    duration: float | None = None  # seconds of stream, when known
    source: str = field(default="", compare=False)  # the file it came from, for messages

    @classmethod
    def checked(
        cls,
        intervals: Iterable[Interval],
        *,
        classes: Sequence[str] | None = None,
        duration: float | None = None,
        source: str = "<timeline>",
        lines: Sequence[int | str] | None = None,  # line numbers, or names of entries
    ) -> Timeline:
        """A timeline whose intervals are checked; `lines[i]` says where interval i was read from
        (a line number or an entry name) so an error points at it."""
        intervals = list(intervals)
        def place(i: int) -> str:
            if lines is None:
                return f"interval {i + 1}"
            return f"line {lines[i]}" if isinstance(lines[i], int) else str(lines[i])

        where = [f"{source}: {place(i)}" for i in range(len(intervals))]
        known = set(classes) if classes is not None else None
        for i, interval in enumerate(intervals):
            if not (np.isfinite(interval.start) and np.isfinite(interval.end)):
                raise TimelineError(f"{where[i]}: interval times must be finite, got {interval}")
            if interval.end <= interval.start:
                raise TimelineError(f"{where[i]}: interval ends ({interval.end:.3f} s) before it starts "
                                    f"({interval.start:.3f} s)")
            if interval.start < 0:
                raise TimelineError(f"{where[i]}: interval starts before the stream ({interval.start:.3f} s)")
            if duration is not None and interval.end > duration:
                raise TimelineError(
                    f"{where[i]}: interval ends at {interval.end:.3f} s, past the end of the stream "
                    f"({duration:.3f} s)"
                )
            if interval.label == NO_ACTION:
                raise TimelineError(f"{where[i]}: {NO_ACTION!r} is the background, not an action to label")
            if known is not None and interval.label not in known:
                shown = ", ".join(list(classes)[:8]) + (", ..." if len(classes) > 8 else "")
                raise TimelineError(
                    f"{where[i]}: label {interval.label!r} is not one of the classes ({shown})"
                )
        order = sorted(range(len(intervals)), key=lambda i: (intervals[i].start, intervals[i].end))
        last: dict[int | None, int] = {}
        for i in order:
            interval = intervals[i]
            # A scene-wide interval (person None) collides with everybody's.
            rivals = [last[p] for p in ({interval.person, None} if interval.person is not None else last)
                      if p in last]
            for j in rivals:
                if intervals[j].end > interval.start:  # each named with its class and times: the later
                    other = intervals[j]  # one alone said "interval 1" of an interval the user never saw
                    raise TimelineError(
                        f"{where[i]} ({interval.label} {interval.start:.3f}-{interval.end:.3f} s): overlaps "
                        f"{where[j].split(': ', 1)[1]} ({other.label} {other.start:.3f}-{other.end:.3f} s) "
                        f"of the same person"
                    )
            last[interval.person] = i
        return cls(tuple(intervals[i] for i in order), duration, source)

    # ---- queries ----------------------------------------------------------------------------------

    def for_person(self, person: int | None) -> list[Interval]:
        """The intervals that concern `person`: theirs and the scene-wide ones."""
        return [i for i in self.intervals if i.person is None or person is None or i.person == person]

    def label_at(self, t: float, person: int | None = None) -> str:
        """The action at instant t (the first that covers it), NO_ACTION where none does."""
        for interval in self.for_person(person):
            if interval.start <= t < interval.end:
                return interval.label
        return NO_ACTION

    def window_label(
        self, start: float, end: float, person: int | None = None, fraction: float = ACTION_FRACTION
    ) -> str:
        """The action covering at least `fraction` of [start, end) (the one covering most); else an action
        too short to cover that much, at the window's centre; else NO_ACTION."""
        if end <= start:
            return self.label_at(end, person)
        best, best_cover = NO_ACTION, 0.0
        totals: dict[str, float] = {}
        for interval in self.for_person(person):
            shared = interval.overlap(start, end)
            if shared > 0:
                totals[interval.label] = totals.get(interval.label, 0.0) + shared
        for label, seconds in totals.items():
            if seconds > best_cover:
                best, best_cover = label, seconds
        if best_cover >= fraction * (end - start) - 1e-9:
            return best
        centre = 0.5 * (start + end)
        for interval in self.for_person(person):
            too_short = interval.duration < fraction * (end - start)  # could never cover `fraction`
            if too_short and interval.start <= centre < interval.end:
                return interval.label
        return NO_ACTION

    def to_json(self) -> list[dict]:
        return [interval.to_json() for interval in self.intervals]

    @classmethod
    def from_json(
        cls,
        entries: object,
        *,
        classes: Sequence[str] | None = None,
        duration: float | None = None,
        source: str = "<timeline>",
    ) -> Timeline:
        """From a JSON list of {"start", "end", "label"[, "person"]} (a clip sidecar's `intervals`)."""
        if not isinstance(entries, list):
            raise TimelineError(
                f'{source}: "intervals" must be a list of {{"start", "end", "label"}} objects'
            )
        intervals = []
        for k, entry in enumerate(entries):
            try:
                intervals.append(Interval.from_json(entry))
            except (AttributeError, KeyError, TypeError, ValueError):
                raise TimelineError(
                    f'{source}: intervals entry {k + 1}: expected {{"start": s, "end": s, "label": name}}, '
                    f"got {entry!r}"
                ) from None
        return cls.checked(intervals, classes=classes, duration=duration, source=source,
                           lines=[f"intervals entry {k + 1}" for k in range(len(intervals))])


def frame_period_s(times: np.ndarray) -> float:
    """How long a stream's frames last: their median spacing (one frame: a Kinect's 30 fps). The last frame
    of a stream covers that much, for its labels too."""
    return float(np.median(np.diff(times))) if len(times) > 1 else 1.0 / 30.0


def intervals_from_labels(
    times: np.ndarray, labels: Sequence[str | None], person: int | None = None, period_s: float | None = None
) -> list[Interval]:
    """Run-length intervals of per-frame labels (NO_ACTION and None are background).

    Frame i covers [times[i], times[i+1]); the last frame covers one `period_s` (default: the median
    frame spacing). Used to turn per-frame truth (the simulator's) into intervals.
    """
    times = np.asarray(times, dtype=np.float64)
    if len(times) != len(labels):
        raise ValueError(f"{len(times)} times for {len(labels)} labels")
    if len(times) == 0:
        return []
    if period_s is None:
        period_s = frame_period_s(times)
    ends = np.append(times[1:], times[-1] + period_s)
    out: list[Interval] = []
    current: str | None = None
    started = 0.0
    for t, end, label in zip(times, ends, labels, strict=True):
        label = None if label == NO_ACTION else label
        if label != current:
            if current is not None:
                out.append(Interval(started, float(t), current, person))
            current, started = label, float(t)
        last_end = float(end)
    if current is not None:
        out.append(Interval(started, last_end, current, person))
    return out
