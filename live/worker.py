"""The recognition worker: every hop, one engine call for everybody in view.

    every hop_s of stream time (newest frame in the ring):
      tracks with >= min_coverage of a window of history
        -> window_indices (the training sampler) -> joints (T, J, 3) + frame sequence numbers
        -> the nearest other person's joints at the same times (a two-person model, or its classes)
        -> (a Kinect v1 model: core.joint_maps v2 -> v1)
        -> normalize_window over (this person, that person) -> skeleton (T, bodies, J, 3)
        -> part_boxes -> crops (P, T, S, S, 3) from the ring's pixels (WindowCrops: a frame's crop is
           cut once while its box stays on the same pixels)
      stacked for all people -> engine.run -> logits (B, C), attention (B, P)
      -> softmax -> (a person with nobody near for PARTNER_MEMORY_S: no two-person classes)
      -> EMA per person (smoothing_s) -> Decision(top-k, attention, latency, window start,
         and the source's ground truth at the window's centre where it knows it)

Hops follow the stream's clock, so a replay played faster than real time is recognised at its own
pace and a paused or silent source produces no decisions on stale data. When a hop takes longer than
`hop_s`, the hops that came due meanwhile are skipped (counted), never queued: the next decision is
on the newest window. A replay run as fast as possible is instead run in lockstep (`wait_examined`):
the capture thread hands over one frame at a time, so every hop is decided, as on an idle machine.
Latency is measured from the moment the capture thread received the newest frame of the window to
the moment the decision is published.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from core.camera import ColorCamera
from core.engines import MAX_PEOPLE, Engine
from core.engines.cache import HOLD_EVERY_S, mark_held_used
from core.glimpse import PARTS, GlimpseConfig, WindowCrops, part_boxes
from core.joint_maps import joint_map
from core.skeleton import KINECT_V2, TRACKED, SkeletonLayout, body_centre, normalize_window
from core.timeline import NO_ACTION
from core.window import MIN_COVERAGE, WindowSpec, covers, window_indices
from live.capture import FrameRing, RingEntry
from live.stats import LatencyHistogram
from live.tracks import TrackSnapshot, TrackTable
from recordings.ntu_samples import NTU_MUTUAL_ACTIONS
from recordings.pkummd import INTERACTIONS
from recordings.stop_signals import join_in_slices

log = logging.getLogger(__name__)
RECOGNITION_THREAD = "recognition"  # its name: live/__main__.py ends a process where it is stuck at exit


@dataclass(frozen=True)
class ModelInputs:
    """What the worker must build for the engine (from the checkpoint's preprocessing record)."""

    window: WindowSpec
    glimpse: GlimpseConfig
    parts: tuple[str, ...]
    layout: SkeletonLayout
    num_bodies: int
    class_names: tuple[str, ...]
    # Per class: the action needs a second person (NTU's mutual actions, PKU-MMD's interactions; empty:
    # none does). A network trained on pairs has never seen an empty second body and answers one of its
    # classes for a lone person ("hugging other person" for somebody drinking); so a person with nobody
    # near in the last PARTNER_MEMORY_S gets no two-person action (`without_partner`).
    needs_partner: tuple[bool, ...] = ()

    def __post_init__(self) -> None:
        if self.needs_partner and len(self.needs_partner) != len(self.class_names):
            raise ValueError(f"needs_partner has {len(self.needs_partner)} entries for "
                             f"{len(self.class_names)} classes")
        try:
            joint_map(KINECT_V2, self.layout)  # live sources give Kinect v2 bodies; a v1 model is fed mapped
        except ValueError:
            raise ValueError(
                f"the model takes {self.layout.name} skeletons ({self.layout.num_joints} joints); live "
                f"sources give Kinect v2 bodies ({KINECT_V2.num_joints} joints) and no map leads there"
            ) from None
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown:
            raise ValueError(f"live recognition crops {PARTS}; the model wants parts {unknown} it cannot "
                             f"make")


@dataclass(frozen=True)
class RecognitionConfig:
    hop_s: float = 0.2  # a decision every hop of stream time
    top_k: int = 3
    smoothing_s: float = 0.5  # time constant of the exponential average over decisions; 0: none
    min_coverage: float = MIN_COVERAGE  # a track needs this fraction of a window of history
    max_people: int = MAX_PEOPLE  # decided for at each hop (more in view: in turn)
    display_crops: bool = True  # keep the newest crops in each decision (for the overlay)

    def __post_init__(self) -> None:
        if self.hop_s <= 0 or self.top_k < 1 or self.smoothing_s < 0 or not 0 < self.min_coverage <= 1:
            raise ValueError(f"invalid recognition config {self}")

    def check_window(self, duration_s: float) -> None:
        """Raise ValueError where a hop is longer than the model's window (`duration_s`): the frames between
        two windows would never be looked at (a hop of 1e9 s decided nothing, and a stream scored 0%)."""
        if self.hop_s > duration_s:
            raise ValueError(f"--hop {self.hop_s:g} s: longer than the model's {duration_s:g} s window, so "
                             "the frames between two windows would never be looked at")


@dataclass(frozen=True)
class Decision:
    """What the model says about one person at one hop."""

    time: float  # wall clock (seconds since the epoch) when the decision was made
    stream_time: float  # end of the window, on the capture timeline
    tracking_id: int
    topk: tuple[tuple[str, float], ...]  # smoothed probabilities, best first
    parts: tuple[str, ...]
    attention: np.ndarray  # (P,) the model's attention over `parts` for this window
    latency_s: float  # newest frame received -> decision published
    window_start: float = 0.0  # stream time of the window's first frame
    # The source's ground truth (core.frame.Body.truth) at the window's centre — what the decision is
    # about — and at its newest frame — what staff see when it is shown; None where nobody knows it.
    truth: str | None = None
    truth_now: str | None = None
    crops: np.ndarray | None = field(default=None, repr=False)  # (P, S, S, 3) RGB, newest frame
    # Every class's smoothed probability (topk shows the first few): whether an event goes on must not
    # depend on how many classes the display asked for. None for decisions read back from JSON lines.
    probabilities: dict[str, float] | None = field(default=None, repr=False)
    # The person's number (1, 2, 3, ... in order of appearance: live/tracks.py), what the window shows
    # and alerts say; 0 where unknown (JSON lines written before it was kept).
    number: int = 0
    # The share of the person's joints over the window that the sensor tracked (not inferred from the
    # others, not missing): low for a body it mostly guesses (under a blanket, lying down, at the edge of
    # the view), whose decision deserves less trust. None from JSON lines written before it was kept.
    tracked: float | None = None
    # The person last counted as near them (within PARTNER_MAX_M, seen over PARTNER_MIN_SHARE of a
    # window) in the last PARTNER_MEMORY_S, not always this window's second body: tracking id and number,
    # None / 0 for a person alone. Whom a two-person action is with: one alert for the pair.
    partner: int | None = None
    partner_number: int = 0

    def probability(self, action: str) -> float:
        """The smoothed probability of `action`; from a JSON line, 0 when it is not in the top-k there
        (then below the k-th's, so at most 1 / (k + 1))."""
        if self.probabilities is not None:
            return self.probabilities.get(action, 0.0)
        return dict(self.topk).get(action, 0.0)

    @property
    def window_centre(self) -> float:
        return 0.5 * (self.window_start + self.stream_time)

    def to_json(self) -> dict:
        out = {
            "time": round(self.time, 3),
            "stream_time": round(self.stream_time, 3),
            "window_start": round(self.window_start, 3),
            "person": self.tracking_id,
            "number": self.number,
            "topk": [{"class": name, "p": round(p, 4)} for name, p in self.topk],
            "attention": {p: round(float(a), 4) for p, a in zip(self.parts, self.attention, strict=True)},
            "latency_ms": round(self.latency_s * 1000.0, 1),
        }
        if self.truth is not None:
            out["truth"] = self.truth
        if self.truth_now is not None:
            out["truth_now"] = self.truth_now
        if self.tracked is not None:
            out["tracked"] = round(self.tracked, 3)
        if self.partner is not None:
            out["partner"] = self.partner
            out["partner_number"] = self.partner_number
        return out

    @classmethod
    def from_json(cls, record: dict) -> Decision:
        """A decision back from one line that `to_json` wrote (scoring a run from its --output file)."""
        parts = tuple(record.get("attention", {}))
        return cls(
            time=float(record.get("time", 0.0)),
            stream_time=float(record["stream_time"]),
            tracking_id=int(record["person"]),
            topk=tuple((t["class"], float(t["p"])) for t in record["topk"]),
            parts=parts,
            attention=np.array([record["attention"][p] for p in parts], np.float32),
            latency_s=float(record.get("latency_ms", 0.0)) / 1000.0,
            window_start=float(record.get("window_start", record["stream_time"])),
            truth=record.get("truth"),
            truth_now=record.get("truth_now"),
            number=int(record.get("number", 0)),
            tracked=float(record["tracked"]) if "tracked" in record else None,
            partner=int(record["partner"]) if "partner" in record else None,
            partner_number=int(record.get("partner_number", 0)),
        )


def read_decision_lines(path: Path) -> list[Decision]:
    """Every decision of a --output file of JSON lines, in order (blank lines skipped). Raises OSError,
    ValueError (not JSON) or KeyError (a line that is no decision) for the caller to name the file."""
    lines = path.read_text(encoding="utf-8").splitlines()
    return [Decision.from_json(json.loads(line)) for line in lines if line.strip()]


@dataclass(frozen=True)
class Hop:
    """Everything one hop decided (possibly nobody)."""

    stream_time: float
    decisions: tuple[Decision, ...]


class ScoreSmoother:
    """Exponential average of class probabilities per person, in stream time.

    With time constant tau, a decision dt after the previous one weighs 1 - exp(-dt / tau): the
    smoothing is the same whatever the hop, and a person back after a gap starts nearly fresh.
    """

    def __init__(self, time_constant_s: float) -> None:
        self._tau = time_constant_s
        self._state: dict[int, tuple[float, np.ndarray]] = {}

    def update(self, tracking_id: int, probabilities: np.ndarray, at: float) -> np.ndarray:
        previous = self._state.get(tracking_id)
        if previous is None or self._tau == 0:
            smoothed = np.array(probabilities, dtype=np.float64)  # a copy: a caller may reuse its array
        else:
            weight = 1.0 - np.exp(-max(at - previous[0], 0.0) / self._tau)
            smoothed = weight * probabilities + (1.0 - weight) * previous[1]
        self._state[tracking_id] = (at, smoothed)
        return smoothed

    def mean_lag_s(self, hop_s: float) -> float:
        """How far back the windows behind a smoothed score lie on average, at one decision per hop:
        the weights are w, w a, w a^2, ... (a = exp(-hop / tau)) on windows 0, 1, 2, ... hops old,
        so the mean age is hop a / (1 - a) -- 0.41 s for tau 0.5 s at 0.2 s hops."""
        if self._tau == 0 or hop_s <= 0:
            return 0.0
        a = float(np.exp(-hop_s / self._tau))
        return hop_s * a / (1.0 - a)

    def keep_only(self, tracking_ids: set[int]) -> None:
        for tracking_id in set(self._state) - tracking_ids:
            del self._state[tracking_id]


# Classes of the datasets that need a second person: a model that knows them never decides them for a
# person alone (ModelInputs.needs_partner), and alerts once for the pair doing one (live.headless).
# Compared by `action_key`: a site's labels.txt may capitalise them or type NTU's curly apostrophes straight.
def action_key(name: str) -> str:
    return name.casefold().replace("\u2019", "'").strip()


TWO_PERSON_ACTIONS = frozenset(action_key(name) for name in NTU_MUTUAL_ACTIONS | set(INTERACTIONS))


def is_two_person(action: str) -> bool:
    return action_key(action) in TWO_PERSON_ACTIONS


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=-1, keepdims=True)


# Two-person actions (NTU A050-A060: handshake, hug, punch, ...) happen within arm's reach; somebody
# across the room is not a partner, and feeding them as the second body would shift the input of
# every one-person action.
PARTNER_MAX_M = 2.0
# How long after somebody was last near a person that person may still be doing a two-person action
# (ModelInputs.needs_partner): during a hug the sensor often loses one of the two bodies for seconds.
# On PKU-MMD's validation streams 0 s lost two hugs, 1 s one, 2-10 s none (training/checkpoints/README.md).
PARTNER_MEMORY_S = 5.0
# Hops failing one after another (a lost GPU, a model fed the wrong inputs) stop the worker, and so the
# app, instead of being logged forever while nobody is watched; an occasional failure is skipped.
FAILED_HOPS_IN_A_ROW = 5
# Failures that do not stop it (every other hop, say) are said with their traceback once, then counted in a
# line this often: one traceback per hop filled the log with some 1,200 lines a minute.
FAILURE_REMINDER_S = 60.0
# A partner counts as near only when seen over at least this share of the window (first to last
# sighting): a Kinect ghost body (a coat on a chair, a reflection, a fragment near the sensor) flickers in
# for a few frames, and would otherwise open the two-person actions to a person alone for
# PARTNER_MEMORY_S; one gone from view before the window's end is not fed as the second body either. On
# PKU-MMD's validation streams 0 and 0.25 give the same figures (training/checkpoints/README.md, session 30).
PARTNER_MIN_SHARE = 0.25
# Frame times as near to a window's centre as this are a tie (a sensor's times are in microseconds at best).
TIE_S = 1e-6


def without_partner(
    probabilities: np.ndarray, needs_partner: np.ndarray, no_action: int | None
) -> np.ndarray:
    """A lone person's class probabilities: the two-person actions' share goes to `no_action` (its index).
    Shown a person alone, which it never was in training, the network may be sure of an interaction;
    spread over the one-person classes, that share would lift a barely likely one (a site's "patient
    fell" at 6%) over the alert threshold. A model without no_action has the rest renormalised; one that
    knows only two-person actions gets zeros (the worker then decides nothing for that person)."""
    alone = np.where(needs_partner, 0.0, probabilities)
    if no_action is not None:
        alone[no_action] += probabilities[needs_partner].sum()
        return alone
    total = alone.sum()
    return alone / total if total > 0 else alone


def _nearest_partner(
    person: TrackSnapshot, others: list[TrackSnapshot], since: float
) -> TrackSnapshot | None:
    """The nearest other person seen since `since` and within PARTNER_MAX_M, or None.

    Two-person actions (NTU A050-A060) need the partner: the model was trained with the subject
    first and the other body second, zeros where absent.
    """
    centre = body_centre(person.joints[-1])  # the sources' own (Kinect v2) joints
    candidates = [o for o in others if o.tracking_id != person.tracking_id and o.last_seen >= since]
    distances = [float(np.linalg.norm(body_centre(o.joints[-1]) - centre)) for o in candidates]
    nearby = [(d, o) for d, o in zip(distances, candidates, strict=True) if d <= PARTNER_MAX_M]
    return min(nearby, key=lambda pair: pair[0])[1] if nearby else None


def _seen_for(track: TrackSnapshot, start: float, end: float) -> float:
    """Seconds from a track's first to its last sighting between `start` and `end`; -1 for none."""
    sightings = track.timestamps[(track.timestamps >= start) & (track.timestamps <= end)]
    return float(sightings[-1] - sightings[0]) if len(sightings) else -1.0


def _at_samples(
    track: TrackSnapshot, index: np.ndarray, times: np.ndarray, max_gap_s: float, *, pad_start: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A track's joints (T, J, 3) and states (T, J) at the window's sample `times` (`index`: its nearest
    observations), zeros at samples with no observation within `max_gap_s`: inside a gap of the track
    (the sensor lost the person for a while, live/tracks.py) or, for the partner, before they came into
    view or after they left. Training windows of continuous recordings have the same zeros. `pad_start`:
    samples before the track's first frame repeat it instead (the window of the person decided for, who
    just arrived, is padded by their first pose, as training pads the start of a clip; so is a partner
    there since then)."""
    seen = np.abs(track.timestamps[index] - times) <= max_gap_s
    if pad_start:
        seen |= times < track.timestamps[0]
    joints = np.where(seen[:, None, None], track.joints[index], 0.0).astype(np.float32)
    states = np.where(seen[:, None], track.states[index], 0).astype(np.int8)
    return joints, states


def _window_truth(
    person: TrackSnapshot, index: np.ndarray, end: float
) -> tuple[float, str | None, str | None]:
    """(stream time of the window's first frame, truth at the window's centre, truth at the newest frame).

    The centre is half-way between the first frame and the window's end, as `Decision.window_centre`
    computes it, so a run can be scored again from its JSON lines alone."""
    start = float(person.timestamps[index[0]])
    if not person.truth:
        return start, None, None
    centre = 0.5 * (start + end)
    # Of two frames as near (a window of an even number of frames), the earlier: a nearest by floating
    # point alone took the later in 492 of 1,758 such ties, by the last bit of the times' sum.
    distance = np.abs(person.timestamps - centre)
    nearest = int(np.flatnonzero(distance <= distance.min() + TIE_S)[0])
    return start, person.truth[nearest], person.truth[-1]


@dataclass
class WorkerCounters:
    hops: int = 0
    decisions: int = 0
    skipped_hops: int = 0  # hops that came due while the worker was busy
    stale_windows: int = 0  # windows whose frames the ring overwrote while they were cropped
    colourless_windows: int = 0  # windows of a colour model mostly without colour: not decided
    errors: int = 0  # hops that failed (logged and skipped)
    not_finite: int = 0  # people's windows whose scores were NaN or inf: not decided
    failed_in_a_row: int = 0


class RecognitionWorker:
    """Runs hops on its own thread and hands each Hop to `publish` (which must not block)."""

    def __init__(
        self,
        ring: FrameRing,
        tracks: TrackTable,
        engine: Engine,
        inputs: ModelInputs,
        camera: ColorCamera,
        publish: Callable[[Hop], None],
        config: RecognitionConfig = RecognitionConfig(),
    ) -> None:
        config.check_window(inputs.window.duration_s)
        self.ring = ring
        self.tracks = tracks
        self.engine = engine
        self.inputs = inputs
        self.camera = camera
        self.config = config
        self.counters = WorkerCounters()
        self.latency = LatencyHistogram()
        self.inference = LatencyHistogram()
        self.paused = False
        self._publish = publish
        self._smoother = ScoreSmoother(config.smoothing_s)
        # tracking id -> (stream time somebody was last near, their tracking id, their number)
        self._partner_near: dict[int, tuple[float, int, int]] = {}
        self._turn_taken: dict[int, int] = {}  # more people than max_people: tracking id -> their last turn
        self._turns = 0
        self._said_too_many = False  # more people in view than max_people: said once per run
        self._said_not_finite: set[int] = set()  # tracking ids whose scores were NaN or inf: said once each
        self._said_colourless = False
        self._colourless_at = float("-inf")  # stream time: the end of the last window without colour
        self._crops: dict[int, WindowCrops] = {}  # tracking id -> the crops of their last window
        self._crops_batch: np.ndarray | None = None  # (people, P, T, S, S, 3): see step
        self._part_index = [PARTS.index(p) for p in inputs.parts]
        self._to_model = joint_map(KINECT_V2, inputs.layout)  # None for a Kinect v2 model
        # 1.5 window samples apart (not sensor frames): a person unseen that long is not in view now, and a
        # window sample with no frame that near is a gap, filled with zeros.
        self._sample_gap_s = 1.5 * inputs.window.duration_s / inputs.window.num_frames
        # Once per model, not per hop: which classes need a partner, where their share goes, and whether a
        # partner is looked for at all (a one-body model with no two-person class never needs one).
        self._needs_partner = np.asarray(inputs.needs_partner, bool) if any(inputs.needs_partner) else None
        self._no_action = inputs.class_names.index(NO_ACTION) if NO_ACTION in inputs.class_names else None
        self._find_partner = inputs.num_bodies > 1 or self._needs_partner is not None
        self._last_sequence = -1
        self._last_end: float | None = None
        # The schedule a worker with nothing else to do would keep, carried on through frame `_walked`:
        # its next hop due at `_idle_due` (None: from the last hop run). Hops it would have run and this
        # one did not are the skipped ones; a hop run late restarts this worker's schedule, not that one.
        self._idle_due: float | None = None
        self._walked = -1
        self._hop_started: float | None = None  # monotonic time the hop now running began; None between
        self._hold_cache_at = time.monotonic() + HOLD_EVERY_S  # open_engine has just marked them
        self._failure_said_at: float | None = None  # monotonic time a failed hop was last logged
        self._failures_unsaid = 0  # failed hops since then
        self._last_failure_at = 0.0  # monotonic time of the latest failed hop
        # Monotonic time of the first hop since the last decision that was due to decide for somebody and
        # decided for nobody (it failed, every score was NaN, every window lacked colour); None: decisions
        # come, or nobody is due one. Such a room looks watched and raises no alert.
        self._undecided_since: float | None = None
        self._examined = threading.Condition()  # lockstep: the capture waits until a frame was looked at
        self._done = False  # the thread has ended (lockstep waits stop)
        self._finish = threading.Event()
        self._timeline_restarted = threading.Event()
        self._thread = threading.Thread(target=self._run, name=RECOGNITION_THREAD, daemon=True)
        self.error: BaseException | None = None

    def start(self) -> None:
        self._thread.start()

    def finish(self, timeout: float = 30.0) -> None:
        """Decide on what has arrived (one last hop if one is due), then stop."""
        self._finish.set()
        join_in_slices(self._thread, timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def finished(self) -> bool:
        """The thread ran and has ended (False before it starts)."""
        return self._done

    @property
    def busy_s(self) -> float:
        """How long the hop now running has taken so far; 0.0 between hops. An engine call that never
        returns (a hung GPU driver) leaves the thread alive and this growing: nothing else shows it."""
        started = self._hop_started
        return 0.0 if started is None else time.monotonic() - started

    @property
    def undecided_s(self) -> float:
        """How long the people in view with a full window have gone without any decision (hops failing,
        scores not finite, windows without colour); 0.0 while decisions come or nobody is due one."""
        since = self._undecided_since
        return 0.0 if since is None else time.monotonic() - since

    def _say_failure(self, error: Exception, stream_time: float) -> None:
        """A failed hop in the log: the first with its traceback, later ones counted once a minute."""
        self._failures_unsaid += 1
        now = self._last_failure_at = time.monotonic()
        if self._failure_said_at is None:
            log.exception("recognition failed at %.2f s of the stream: no decisions and no alerts for that "
                          "moment (said with its cause once; then counted once a minute)", stream_time)
        elif now - self._failure_said_at >= FAILURE_REMINDER_S:
            log.error("recognition failed %d times in the last %.0f s (last: %s: %s): no decisions and no "
                      "alerts for those moments", self._failures_unsaid, now - self._failure_said_at,
                      type(error).__name__, error)
        else:
            return
        self._failure_said_at, self._failures_unsaid = now, 0

    def _failures_ended(self) -> None:
        """Recognition has worked for FAILURE_REMINDER_S: failures not said yet are, and the next failure
        is said with its cause (a new bug hours later was only counted, under the first one's minute)."""
        if self._failures_unsaid:
            log.error("recognition failed %d more time(s) before it worked again", self._failures_unsaid)
        log.info("recognition works again")
        self._failure_said_at, self._failures_unsaid = None, 0

    def _undecided(self) -> None:
        if self._undecided_since is None:
            self._undecided_since = time.monotonic()

    def wait_examined(self, sequence: int, timeout: float = 0.5) -> bool:
        """Block until the worker has looked at frame `sequence` (deciding if a hop was due), or it
        stopped; False on timeout. The capture thread calls it after each frame in lockstep mode."""
        with self._examined:
            return self._examined.wait_for(
                lambda: self._last_sequence >= sequence or self._done, timeout
            )

    def _skipped_hops(self, newest: int) -> int:
        """Of the hops a worker with nothing else to do would have run on the frames that arrived since the
        last hop run, up to frame `newest`, all but the one run now: skipped, not queued. Counted on the
        frames themselves: a sensor silent for a minute made no hop come due, and the worker was not busy
        (a count from the clock alone said 300). On that worker's own schedule: a hop 0.3 s long at a
        0.2 s hop runs every 0.3 s, a third of the hops never run, and counted from each late hop none
        was skipped. A frame the ring no longer holds counts for none."""
        assert self._last_end is not None
        hop_s = self.config.hop_s
        due_at = self._idle_due if self._idle_due is not None else self._last_end + hop_s - 1e-6
        would_run = 0
        for sequence in range(max(self._walked + 1, newest - self.ring.capacity), newest + 1):
            entry = self.ring.entry(sequence)
            if entry is not None and entry.timestamp >= due_at:
                would_run += 1
                due_at = entry.timestamp + hop_s - 1e-6
        self._idle_due, self._walked = due_at, newest
        return max(would_run - 1, 0)

    def _mark_examined(self, sequence: int) -> None:
        with self._examined:
            self._last_sequence = sequence
            self._examined.notify_all()

    def restart_timeline(self) -> None:
        """The capture's stream restarted (replay loop): scores from before must not leak into it.

        Called on the capture thread; the smoother belongs to the worker thread, which clears it.
        """
        self._timeline_restarted.set()

    def _run(self) -> None:
        try:
            while True:
                newest = self.ring.wait_newer(self._last_sequence, timeout=0.05)
                if time.monotonic() >= self._hold_cache_at:  # a room runs for months: its engine's files kept
                    mark_held_used()
                    self._hold_cache_at = time.monotonic() + HOLD_EVERY_S
                if newest is None:
                    if self._finish.is_set():
                        break
                    continue
                if self._timeline_restarted.is_set():
                    self._timeline_restarted.clear()
                    self._smoother.keep_only(set())
                    self._partner_near.clear()
                    self._turn_taken.clear()
                    self._crops.clear()
                due_at = None if self._last_end is None else self._last_end + self.config.hop_s - 1e-6
                if self.paused:
                    self._undecided_since = None  # a pause decides nothing on purpose; counted again after
                    self._idle_due, self._walked = None, newest.sequence  # nor skips any hop
                if self.paused or (due_at is not None and newest.timestamp < due_at):
                    self._mark_examined(newest.sequence)
                    if self._finish.is_set() and not self.paused:
                        break
                    continue
                if self._last_end is not None:  # hops that came due while the previous one ran: skipped
                    self.counters.skipped_hops += self._skipped_hops(newest.sequence)
                else:
                    self._walked = newest.sequence
                self._last_end = newest.timestamp
                self._hop_started = time.monotonic()
                try:
                    hop = self.step(newest)
                    if hop is not None:  # the engine answered; a hop with nobody to decide says nothing
                        self.counters.failed_in_a_row = 0
                        if (self._failure_said_at is not None
                                and time.monotonic() - self._last_failure_at >= FAILURE_REMINDER_S):
                            self._failures_ended()  # a minute without one: the episode is over
                except Exception as error:
                    self._undecided()
                    self.counters.errors += 1
                    self.counters.failed_in_a_row += 1
                    if self.counters.failed_in_a_row >= FAILED_HOPS_IN_A_ROW:
                        raise
                    self._say_failure(error, newest.timestamp)
                    hop = None
                finally:
                    self._hop_started = None
                if hop is not None:
                    self._publish(hop)
                self._mark_examined(newest.sequence)  # after publishing: lockstep hands over whole hops
        except BaseException as error:
            log.exception("recognition worker stopped")
            self.error = error
        finally:
            if self._failures_unsaid:  # counted since the last line about them: said before the end
                log.error("recognition failed %d more time(s) since it was last said", self._failures_unsaid)
            with self._examined:
                self._done = True
                self._examined.notify_all()  # a capture waiting in lockstep sees the worker is gone

    def step(self, newest: RingEntry) -> Hop | None:
        """One hop ending at the newest frame; None when nobody has enough history."""
        inputs, spec = self.inputs, self.inputs.window
        end = newest.timestamp
        snapshots = self.tracks.snapshot()
        people = [  # in view now, with enough history for a window
            s for s in snapshots
            if s.last_seen >= end - self._sample_gap_s - 1e-6
            and covers(s.timestamps, end, spec, self.config.min_coverage)
        ]
        if len(people) > self.config.max_people:
            if not self._said_too_many:
                # A Kinect tracks six; a replay or a merged recording can hold more.
                log.warning("%d people in view: decisions for %d of them at each hop, in turn (max_people)",
                            len(people), self.config.max_people)
                self._said_too_many = True
            # In turn, whoever's turn is longest ago first: cutting to the lowest ids would leave the
            # same people without a decision for as long as the crowd stays.
            people = sorted(people, key=lambda s: self._turn_taken.get(s.tracking_id, -1))
            people = people[: self.config.max_people]
            for person in people:
                self._turns += 1
                self._turn_taken[person.tracking_id] = self._turns
            people.sort(key=lambda s: s.tracking_id)
        tracked = {s.tracking_id for s in snapshots}
        self._smoother.keep_only(tracked)
        self._partner_near = {i: t for i, t in self._partner_near.items() if i in tracked}
        self._turn_taken = {i: t for i, t in self._turn_taken.items() if i in tracked}
        self._crops = {i: c for i, c in self._crops.items() if i in tracked}
        self._said_not_finite &= tracked
        if not people:
            self._undecided_since = None
            return None
        # Each window's crops are cut in place into the engine's batch, kept from hop to hop (a paper-profile
        # window's crops are 9 MB: copying six people's once more, or the page faults of fresh memory, cost
        # more than cutting the frames new since the last hop). Engines read it during run() only.
        # uint8 as cut: pytorch-cuda and TensorRT copy a quarter of the bytes to the GPU and widen them there
        # (pytorch-cuda, 6 people, paper profile on an H200: 30 ms a call instead of 48, before BatchNorms
        # were folded); the engines on a CPU widen them there.
        if self._crops_batch is None or len(self._crops_batch) < len(people):
            size = inputs.glimpse.crop_size
            self._crops_batch = np.empty((len(people), len(inputs.parts), spec.num_frames, size, size, 3),
                                         np.uint8)  # fmt: skip
        crops_batch = self._crops_batch
        skeleton_batch, kept, shown_crops, spans, partners, tracked = [], [], [], [], [], []
        for person in people:
            crops = crops_batch[len(kept)]
            built = self._window(person, snapshots, end, crops)
            if built is None:
                continue
            skeleton, index, partner, tracked_share = built
            skeleton_batch.append(skeleton)
            tracked.append(tracked_share)
            kept.append(person)
            if partner is not None:
                self._partner_near[person.tracking_id] = (end, partner.tracking_id, partner.number)
            near = self._partner_near.get(person.tracking_id)  # None: alone for PARTNER_MEMORY_S
            partners.append(None if near is None or end - near[0] > PARTNER_MEMORY_S else near[1:])
            shown_crops.append(crops[:, -1].copy() if self.config.display_crops else None)
            spans.append(_window_truth(person, index, end))
        if not kept:
            self._undecided()
            return None
        crops_in = crops_batch[: len(kept)]
        skeleton_in = np.stack(skeleton_batch).astype(np.float32)
        started = time.perf_counter()
        logits, attention = self.engine.run(crops_in, skeleton_in)
        self.inference.add(time.perf_counter() - started)
        # One NaN in the smoothed scores would stay there and silence that person's alerts until their
        # track retires: a person whose scores are not finite numbers (an FP16 overflow on their pose) gets
        # no decision this hop, the others do. Not a failed hop, even for a patient alone in the room: five
        # in a row would stop recognition for good; counted, said once per person, an error of the run.
        finite = np.isfinite(np.asarray(logits)).all(axis=-1)
        if finite.any():
            self._undecided_since = None
        else:
            self._undecided()
        self.counters.not_finite += int((~finite).sum())
        for i in np.flatnonzero(~finite):
            if kept[i].tracking_id not in self._said_not_finite:
                self._said_not_finite.add(kept[i].tracking_id)
                log.warning("%s: scores that are not finite numbers (NaN or inf) for person %d: no decision "
                            "for them while that lasts", self.engine.name, kept[i].number)
        probabilities = softmax(np.where(finite[:, None], np.asarray(logits, np.float64), 0.0))
        if self._needs_partner is not None:
            for i in (i for i, partner in enumerate(partners) if partner is None):
                probabilities[i] = without_partner(probabilities[i], self._needs_partner, self._no_action)
        attention = np.asarray(attention, np.float32).reshape(len(kept), -1)
        decided_at = time.time()
        latency = time.perf_counter() - newest.received  # the capture's clock: see Capture.first_received
        decisions = []
        for i, person in enumerate(kept):
            if not finite[i] or not probabilities[i].any():  # or alone, and the model knows only two-person
                continue                                     # actions
            smoothed = self._smoother.update(person.tracking_id, probabilities[i], end)
            order = np.argsort(-smoothed)[: self.config.top_k]
            decisions.append(Decision(
                time=decided_at,
                stream_time=end,
                tracking_id=person.tracking_id,
                topk=tuple((inputs.class_names[c], float(smoothed[c])) for c in order),
                parts=inputs.parts,
                attention=attention[i],
                latency_s=latency,
                window_start=spans[i][0],
                truth=spans[i][1],
                truth_now=spans[i][2],
                crops=shown_crops[i],
                probabilities=dict(zip(inputs.class_names, smoothed.tolist(), strict=True)),
                number=person.number,
                tracked=tracked[i],
                partner=partners[i][0] if partners[i] else None,
                partner_number=partners[i][1] if partners[i] else 0,
            ))
            self.latency.add(latency)
        self.counters.hops += 1
        self.counters.decisions += len(decisions)
        return Hop(end, tuple(decisions))

    def _window(
        self, person: TrackSnapshot, everyone: list[TrackSnapshot], end: float, crops: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, TrackSnapshot | None, float] | None:
        """Cuts the window's crops into `crops` (P, T, S, S, 3) uint8 and gives (skeleton (T, M, J, 3),
        indices (T,) into the person's history, the other person near them during the window or None, the
        share of the person's joints tracked over it), or None (counted) where the ring overwrote a frame
        meanwhile or most of the window has no colour."""
        inputs = self.inputs
        times = inputs.window.sample_times(end)
        index = window_indices(person.timestamps, end, inputs.window)
        joints, states = _at_samples(person, index, times, self._sample_gap_s, pad_start=True)
        # Over the samples since they came (those before repeat their first pose); a gap counts as unseen.
        since = times >= person.timestamps[0]
        tracked = float(np.mean(states[since] == TRACKED)) if since.any() else 0.0
        sequences = person.sequences[index]
        bodies = np.zeros((len(index), inputs.num_bodies, joints.shape[1], 3), np.float32)
        body_states = np.zeros((len(index), inputs.num_bodies, joints.shape[1]), np.int8)
        bodies[:, 0], body_states[:, 0] = joints, states
        # The partner is somebody seen over PARTNER_MIN_SHARE of the window or in view at its end (one who
        # just came, fed as training feeds a latecomer): a Kinect ghost (a fragment near the sensor for a
        # frame or two, gone since) nearer than the real partner was fed in their place for a whole
        # window, the decision naming the real one (PKU-MMD 0015-L at 37 s: a punch read as a hug).
        window_start = end - inputs.window.duration_s
        long_enough = PARTNER_MIN_SHARE * inputs.window.duration_s
        seen_for = ({o.tracking_id: _seen_for(o, window_start, end) for o in everyone} if self._find_partner
                    else {})
        present = [o for o in everyone if o.tracking_id in seen_for
                   and (seen_for[o.tracking_id] >= long_enough or o.last_seen >= end - self._sample_gap_s)]
        partner = _nearest_partner(person, present, times[0]) if self._find_partner else None
        near = None  # the partner, where seen long enough to count as near (PARTNER_MIN_SHARE)
        if partner is not None:
            partner_index = window_indices(partner.timestamps, end, inputs.window)
            # One there since the person came (the stream's start, for both) is padded as they are, as
            # training pads both bodies at a clip's start; one who came later is nobody before.
            there_as_long = partner.timestamps[0] <= person.timestamps[0]
            partner_joints, partner_states = _at_samples(partner, partner_index, times, self._sample_gap_s,
                                                         pad_start=there_as_long)
            near = partner if seen_for[partner.tracking_id] >= long_enough else None
            if inputs.num_bodies > 1:
                bodies[:, 1], body_states[:, 1] = partner_joints, partner_states
        if self._to_model is not None:  # a model of another sensor (Kinect v1): the bodies mapped to it
            bodies, body_states = self._to_model.apply(bodies, body_states)
        skeleton = normalize_window(bodies, body_states, inputs.layout)
        if not inputs.parts:  # a skeleton-only model: no boxes to place, no pixels to cut
            return skeleton, index, near, tracked
        # Boxes over the person's whole history at the sensor's rate, then sampled: as training does
        # (boxes on the full clip, crops of the sampled frames), so the smoothing sees the same frames.
        boxes = part_boxes(person.joints, person.states, self.camera, KINECT_V2, inputs.glimpse,
                           joints_color=person.joints_color, timestamps=person.timestamps)
        boxes = boxes[self._part_index][:, index]
        frames = [self.ring.color(int(s)) for s in sequences]
        if not self.ring.holds(np.unique(sequences)):  # overwritten already: no colour, but not the video's
            self.counters.stale_windows += 1
            return None
        colourless = sum(frame is None for frame in frames)
        if self.ring.color_shape is not None and colourless * 2 > len(frames):
            # A source with colour whose frames came without it (a replay whose video ended early or is
            # damaged, a sensor's colour camera that stalled): the crops would be black, the decision as
            # wrong as the start-up refuses for a source without colour at all. None is made.
            self.counters.colourless_windows += 1
            self._colourless_at = end
            if not self._said_colourless:
                log.warning("most of a window has no colour (a video that ended or is damaged, or a colour "
                            "camera that sends none): this model needs colour, so no decisions until colour "
                            "comes back")
                self._said_colourless = True
            return None
        if self._said_colourless and end - self._colourless_at >= inputs.window.duration_s:
            # Said as it ends too, once a whole window has had colour (not at each window about half
            # without it): a second stall later in the night is said again.
            log.info("colour is back: decisions again")
            self._said_colourless = False
        window_crops = self._crops.setdefault(person.tracking_id, WindowCrops(inputs.glimpse))
        window_crops.cut(sequences.tolist(), frames, boxes, out=crops)
        if not self.ring.holds(np.unique(sequences)):
            # The capture overwrote a frame while it was being cut: the crops may be torn. (Kept all the
            # same: sequence numbers never come back, so a window holding that frame is refused above.)
            self.counters.stale_windows += 1
            return None
        return skeleton, index, near, tracked
