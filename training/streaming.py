"""`python -m training evaluate --stream`: a model scored the way the app is used — on continuous streams.

    --data sim:seed=N,minutes=M,people=K      the simulated room (its truth: every body's action);
                                               ,actions=default+raise_both_arms: what people do there
                                               (live's --sim-actions; default: the ten demo classes)
    --data FOLDER                              labelled recordings: PKU-MMD sequences, our clips with
                                               "intervals" in their sidecars (truth: the recording's timeline)
                                               or labelled as a whole (one interval over all of it)
        each sequence --live.sources (replayed as fast as possible, in lockstep: every hop decided)
                      --live.pipeline.LivePipeline + live.headless.run_headless (the app's own code:
                        window sampler, hop, smoothing, threshold, events, alerts)
                      --> DIR/decisions/<sequence>.jsonl, DIR/events/<sequence>.jsonl
        all sequences --training.stream_metrics.score (from those JSON lines and the true intervals)
                      --> DIR/results.json, DIR/timeline.png (truth vs prediction per person), a table
    --rescore DIR     the same scoring again on what a finished run wrote (e.g. at another --threshold)
    --decisions FILE --data RECORDING
                      the app's own --output lines of one replay of RECORDING (scene-wide truth), scored
                      the same way over the span the run covered --> DIR/results.json, decisions/, ...

Nothing here approximates the app: the decisions are the ones `python -m live --headless --fast`
prints for the same source, model, hop, smoothing and threshold.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
from tqdm import tqdm

from core.atomic import write_then_rename
from core.frame import Frame
from core.model.checkpoint import DecisionSettings, load_checkpoint
from core.privacy import PrivacyMode
from core.timeline import NO_ACTION, Interval, Timeline, intervals_from_labels
from live.app import decisions_for, open_model, sim_actions
from live.headless import AlertConfig, AlertDispatcher, HeadlessConfig, default_alert_classes, run_headless
from live.pipeline import LivePipeline, PipelineConfig
from live.sources import EndOfStream, FrameStream, ReplayOptions, replay_source, simulated_source
from live.worker import Decision, RecognitionConfig, ScoreSmoother, read_decision_lines
from recordings.clip import parts_between_marks_in
from recordings.labels import LABEL_MAP_FILENAME, in_columns
from recordings.picture_text import put_text, write_image
from recordings.pkummd import SEQUENCE_SUFFIXES as PKUMMD_SUFFIXES
from recordings.pkummd import is_sequence_path, is_skeleton_sequence, sequence_stem
from training.data import DatasetError, names_the_simulator
from training.evaluation import (
    check_out_holds,
    default_results_dir,
    evaluation_in,
    replaced_note,
    writable_folder,
)
from training.stream_metrics import StreamScores, Track, score

log = logging.getLogger(__name__)

# Files a folder of sequences may hold, in the order they are looked for.
SEQUENCE_SUFFIXES = (".skeleton", ".txt", ".txt.xz", ".txt.gz", ".xef")


@dataclass(frozen=True)
class StreamCase:
    """One continuous sequence to run: how to open it as a live source, and its truth if the recording
    has a timeline (else the bodies' own `truth`, as the simulator's)."""

    name: str
    open: Callable[..., FrameStream]
    scene_wide: bool  # truth labels the scene (PKU-MMD), not a person


@dataclass(frozen=True)
class SimSpec:
    seed: int
    minutes: float
    people: int = 2
    actions: tuple[str, ...] | None = None  # None: the simulator's default ten

    @classmethod
    def parse(cls, text: str) -> SimSpec:
        """'sim:seed=7,minutes=60,people=2,actions=default+raise_both_arms' (people, actions optional)."""
        body = text.split(":", 1)[1] if ":" in text else ""
        values: dict[str, str] = {}
        for part in filter(None, body.split(",")):
            key, _, value = part.partition("=")
            values[key.strip()] = value.strip()
        unknown = set(values) - {"seed", "minutes", "people", "actions"}
        if unknown or "seed" not in values or "minutes" not in values:
            raise DatasetError(f"--data {text!r}: expected sim:seed=N,minutes=M[,people=K][,actions=A+B]")
        try:
            actions = sim_actions(values.get("actions"))
        except ValueError as error:
            raise DatasetError(f"--data {text!r}: {error}") from None
        try:
            spec = cls(int(values["seed"]), float(values["minutes"]), int(values.get("people", 2)), actions)
        except ValueError:
            raise DatasetError(f"--data {text!r}: seed and people are integers, minutes a number") from None
        if spec.minutes <= 0 or not 1 <= spec.people <= 6:
            raise DatasetError(f"--data {text!r}: minutes must be > 0 and people 1..6")
        return spec


def _sequence_name(path: Path) -> str:
    """'0005-L' for a PKU-MMD sequence file, the stem for a recording."""
    return sequence_stem(path) if is_sequence_path(path) else path.stem


def recording_case(path: Path, truth: Timeline | None = None) -> StreamCase | None:
    """One recording as a stream case (read once here for its labels); None where it has none. `truth`:
    its intervals in place of its own (a marked recording's part without marks: no action throughout).
    Its `open` takes `color=False` for a pass that needs the bodies alone."""

    def replay(color: bool = True) -> FrameStream:
        return replay_source(path, ReplayOptions(realtime=False), color=color, whole_clip_truth=True,
                             truth=truth)

    try:
        probe = replay(color=False)
    except ValueError as error:  # every recording format's error names the file and what is wrong
        raise DatasetError(str(error) if str(path) in str(error) else f"{path}: {error}") from None
    timeline = probe.timeline
    probe.close()
    if timeline is None:
        return None
    return StreamCase(_sequence_name(path), replay, all(i.person is None for i in timeline.intervals))


def stream_cases(data: str, names: set[str] | None = None, progress: bool = False) -> list[StreamCase]:
    """The sequences `--data` names, optionally only those called `names` (a checkpoint's held-out ones).
    Each is read once here for its labels (190 PKU-MMD sequences: about 20 s, shown with `progress`)."""
    if names_the_simulator(data):
        spec = SimSpec.parse(data)
        return [StreamCase(
            f"sim_seed{spec.seed}",
            lambda: simulated_source(people=spec.people, seed=spec.seed, duration_s=spec.minutes * 60,
                                     options=ReplayOptions(realtime=False), actions=spec.actions),
            scene_wide=False,
        )]
    root = Path(data)
    if root.is_file():  # "not a folder" alone left it open whether the name was wrong or the kind of path
        raise DatasetError(f"--data {data}: a file, not a folder (expected a folder of labelled recordings, "
                           f"or sim:seed=N,minutes=M)")
    if not root.is_dir():
        raise DatasetError(f"--data {data}: not a folder of labelled recordings, nor sim:seed=N,minutes=M")
    found: dict[str, Path] = {}
    for path in sorted(root.rglob("*")):
        if path.name == LABEL_MAP_FILENAME:  # a clip folder's class list, not a sequence
            continue
        if path.is_file() and any(path.name.endswith(s) for s in SEQUENCE_SUFFIXES):
            if path.name.endswith(PKUMMD_SUFFIXES) and not is_skeleton_sequence(path):
                continue  # a .txt that is no PKU-MMD sequence (actions.txt, a split list)
            found.setdefault(_sequence_name(path), path)  # one file per sequence (first suffix wins)
    if names is not None:
        missing = sorted(names - set(found))
        if missing:
            raise DatasetError(f"{root}: {len(missing)} of the {len(names)} sequences --subset names (the "
                               f"checkpoint's held-out or its dataset's split) are not there (e.g. "
                               f"{missing[:3]}): --subset all scores every sequence of a folder of your own")
        found = {n: p for n, p in found.items() if n in names}
    # The parts of a long recording marked in its other parts hold no action: scored as background, as
    # training reads them (recordings.clip.parts_between_marks), not as the recording's class throughout.
    between_marks, unknown = parts_between_marks_in(found.values())
    for said in unknown:
        log.warning("%s", said)
    cases = []
    reading = tqdm(sorted(found.items()), desc="reading sequences", unit="seq", leave=False,
                   disable=not progress or len(found) < 2)
    for path in (path for _, path in reading):
        nothing = Timeline((), source=str(path)) if path.with_suffix(".json") in between_marks else None
        case = recording_case(path, nothing)
        if case is not None:  # else not labelled: nothing to score it against
            cases.append(case)
    if not cases:
        raise DatasetError(f"{root}: no labelled sequences (recordings with action intervals, or clips "
                           "labelled as a whole) found")
    return cases


class TruthTap:
    """A source seen through: every frame passes unchanged, and each body's truth and time are kept
    (the capture thread is the only caller of `read`).

    Bodies found again. Live continues a person's track when the sensor finds them again under a new
    id (live/tracks.py), so decisions carry the track's id while the source's truth carries the
    sensor's ids: the simulator gives a new id to someone who falls out of its view and is found again,
    the fall's truth split between the two. `track_of` (the pipeline's) says which track each new id
    of the frame before went to; `tracks` then scores a continued track against its ids' truth
    together, as the one person it is."""

    def __init__(self, source: FrameStream, progress: tqdm | None = None) -> None:
        self.source = source
        self.truth: dict[int, list[tuple[float, str | None]]] = defaultdict(list)
        self.first: float | None = None
        self.last = 0.0
        self.track_of: Callable[[int], int] | None = None
        self.continues: dict[int, int] = {}  # the sensor's id -> the id of the track it continued
        self._unresolved: list[int] = []  # new ids of the frame handed out last, not yet looked up
        self._progress = progress
        self._shown = 0.0
        self.ended = False  # the source ran out (not a run stopped half-way by Ctrl-C)

    def __getattr__(self, name: str):  # name, camera, fps, connected, ... of the source
        return getattr(self.source, name)

    def read(self, timeout: float = 0.1) -> Frame | None:
        # The capture stored the frame handed out last before asking for this one: its ids are resolved.
        if self.track_of is not None:
            for sensor_id in self._unresolved:
                track_id = self.track_of(sensor_id)
                if track_id != sensor_id:
                    self.continues[sensor_id] = track_id
            self._unresolved = []
        try:
            frame = self.source.read(timeout)
        except EndOfStream:
            self.ended = True
            raise
        if frame is not None:
            self.first = frame.timestamp if self.first is None else self.first
            self.last = frame.timestamp
            # Live gives a track's id only to an id never seen before: look each one up once.
            self._unresolved = [b.tracking_id for b in frame.bodies if b.tracking_id not in self.truth]
            for body in frame.bodies:
                self.truth[body.tracking_id].append((frame.timestamp, body.truth))
            if self._progress is not None and frame.timestamp - self._shown >= 5.0:
                self._progress.update(frame.timestamp - self._shown)
                self._shown = frame.timestamp
        return frame

    def tracks(self, sequence: str, timeline: Timeline | None, scene_wide: bool,
               join_within_s: float = 1.0) -> list[Track]:
        """The truth per track. `join_within_s`: a continued track's actions of one class that its ids
        split (one ending as the sensor lost the person, the next starting as it found them again, at
        most this far apart: live's retire time) are one action."""
        period = 1.0 / max(self.source.fps, 1.0)
        first = self.first or 0.0
        if scene_wide and timeline is not None:
            shifted = tuple(Interval(i.start + first, i.end + first, i.label) for i in timeline.intervals)
            return [Track(sequence, None, first, self.last + period, shifted)]
        members: dict[int, list[int]] = defaultdict(list)  # track id -> its sensor ids, first seen first
        for person in self.truth:
            members[self.continues.get(person, person)].append(person)
        out = []
        for track_id, ids in members.items():
            seen = sorted((sample for person in ids for sample in self.truth[person]), key=lambda s: s[0])
            times = np.array([t for t, _ in seen])
            intervals: list[Interval] = []
            for person in ids:  # in the order the sensor gave them
                if timeline is not None:
                    own = [Interval(i.start + first, i.end + first, i.label, track_id)
                           for i in timeline.for_person(person)]
                else:
                    own_seen = self.truth[person]
                    own = list(intervals_from_labels(np.array([t for t, _ in own_seen]),
                                                     [label for _, label in own_seen], track_id, period))
                own.sort(key=lambda i: i.start)
                if intervals and own and _split_by_the_sensor(intervals[-1], own[0], join_within_s):
                    intervals[-1] = dataclasses.replace(intervals[-1], end=max(intervals[-1].end, own[0].end))
                    own = own[1:]
                intervals += own
            end = float(times[-1]) + period
            out.append(Track(sequence, track_id, float(times[0]), end, tuple(intervals)))
        return out


def _split_by_the_sensor(before: Interval, after: Interval, within_s: float) -> bool:
    """One action whose truth a new tracking id cut in two (see `TruthTap.tracks`)."""
    return before.label == after.label and 0 <= after.start - before.end <= within_s


@dataclass
class StreamRun:
    scores: StreamScores
    tracks: list[Track]
    decisions: dict[str, list[Decision]] = field(repr=False)
    seconds: float = 0.0


def _say_an_end_threshold_unused(given: float | None, chosen: DecisionSettings) -> None:
    if given is not None and chosen.end_threshold is None:  # as live says it (live.app.describe_decisions)
        log.warning("the given --end-threshold %g is not below the threshold %g, so events end where they "
                    "start", given, chosen.threshold)


def evaluate_stream(
    checkpoint: str | Path,
    data: str,
    *,
    out: str | Path | None = None,
    names: set[str] | None = None,
    subset: str | None = None,
    hop_s: float = RecognitionConfig.hop_s,
    decisions: DecisionSettings | None = None,
    alert_classes: Sequence[str] | None = None,
    alert_cooldown_s: float | None = None,
    engine: str = "auto",
    threads: int | None = None,
    progress: bool = True,
    privacy: PrivacyMode = PrivacyMode.OFF,
    cases: list[StreamCase] | None = None,
    trained_on: int | None = None,
) -> StreamRun:
    """Run every sequence of `data` through the app's pipeline and score the decisions (`privacy`: the
    app's --privacy, e.g. to measure what blurring faces costs; benchmarks/privacy_accuracy.py). `names`:
    only these sequences, the split `subset` names (said in the figures' title and results.json).
    `decisions`: smoothing and thresholds where given; else the model's own, else the app's, as live.
    `alert_cooldown_s`: as live's --alert-cooldown (default: the app's).
    `cases`: `stream_cases(data, names)` where the caller has read them already (not twice).
    `trained_on`: how many of them the checkpoint learnt, as the caller found (None: not looked at)."""
    started = time.monotonic()
    checkpoint = Path(checkpoint)
    out_dir = Path(out) if out else default_results_dir(checkpoint, "stream", data=data)
    # A clip evaluation or a rescoring there is not this run's to replace; a stream run is this one again.
    earlier = check_out_holds(out_dir, "stream")  # its results.json, {} without one; None: no earlier run
    # Before the model is opened and `out` made: a --data that names no sequences (sim:seed=x, minutes=-1)
    # is said at once, with nothing written.
    cases = stream_cases(data, names, progress) if cases is None else cases
    model, inputs = open_model(checkpoint, engine, threads)
    chosen = decisions_for(decisions or DecisionSettings(), model.metadata.decisions)
    _say_an_end_threshold_unused(decisions.end_threshold if decisions else None, chosen)
    # The decisions written keep their top RESCORE_TOP_K classes: enough for `--rescore` to follow an
    # event down to any end threshold above 1 / (k + 1) (an action outside the top k has at most that).
    recognition = RecognitionConfig(hop_s=hop_s, smoothing_s=chosen.smoothing_s, top_k=RESCORE_TOP_K)
    threshold = chosen.threshold
    classes = inputs.class_names
    if alert_classes is None:  # as the app: the default alert classes this model knows
        alert_classes = default_alert_classes(classes)
    alert = AlertConfig(classes=tuple(alert_classes), threshold=threshold,
                        cooldown_s=AlertConfig.cooldown_s if alert_cooldown_s is None else alert_cooldown_s)
    try:  # checked before anything of an earlier run in `out` is replaced
        AlertDispatcher(alert, classes)
    except ValueError as error:
        raise DatasetError(f"--alert-class: {error}") from None
    try:
        recognition.check_window(inputs.window.duration_s)
    except ValueError as error:
        raise DatasetError(str(error)) from None
    writable_folder(out_dir)
    for sub in ("decisions", "events"):
        (out_dir / sub).mkdir(parents=True, exist_ok=True)
    decisions: dict[str, list[Decision]] = {}
    durations: dict[str, float] = {}
    tracks: list[Track] = []
    quiet = logging.getLogger("live.headless")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # alerts are scored here, not shouted
    bar = tqdm(cases, desc="sequences", unit="seq", disable=not progress or len(cases) == 1)
    written: list[Path] = []
    try:
        for case in bar:
            source = case.open()
            minutes = tqdm(desc=case.name, unit="s", disable=not progress or len(cases) > 1,
                           bar_format="{desc}: {n:.0f} s of stream {elapsed} [{rate_fmt}]")
            tap = TruthTap(source, minutes)
            pipeline_config = PipelineConfig(recognition=recognition, lockstep=True, privacy=privacy)
            pipeline = LivePipeline(tap, model, inputs, pipeline_config)
            tap.track_of = pipeline.track_of
            # Written under .partial names (the app appends to them) and renamed once every sequence has
            # run: an earlier run in `out` stays whole until this one is, whatever stops it.
            lines = out_dir / "decisions" / f"{case.name}.jsonl.partial"
            events = out_dir / "events" / f"{case.name}.jsonl.partial"
            for stale in (lines, events):
                stale.unlink(missing_ok=True)
            written += [lines, events]
            # Each line names its sequence where the app names its room (--room): "" said nothing.
            config = HeadlessConfig(output=lines, events=events,
                                    alerts=dataclasses.replace(alert, room=case.name),
                                    event_end_threshold=chosen.end_threshold, lossless=True)
            summary = run_headless(pipeline, config)
            minutes.close()
            if summary.errors:
                raise RuntimeError(f"{case.name}: the pipeline failed: {'; '.join(summary.errors)}")
            if not tap.ended:  # the app's headless loop ends quietly on Ctrl-C
                raise KeyboardInterrupt(f"{case.name} stopped at {tap.last:.1f} s")
            # Scored from the JSON lines, as anyone can score a run.
            decisions[case.name] = read_decision_lines(lines)
            timeline = getattr(source, "timeline", None)
            tracks += tap.tracks(case.name, timeline, case.scene_wide, pipeline_config.retire_after_s)
            durations[case.name] = tap.last - (tap.first or 0.0) + 1.0 / max(source.fps, 1.0)
    except BaseException:
        for partial in written:
            partial.unlink(missing_ok=True)
        raise
    finally:
        quiet.setLevel(level)
        bar.close()
    for partial in written:
        if partial.exists():
            partial.replace(partial.with_suffix(""))  # NAME.jsonl.partial -> NAME.jsonl
    # Run again into its own folder, over other sequences (another --data or --subset): the earlier run's
    # files of sequences this one does not cover go, once this run is whole, or they would sit beside its
    # own as if they were its decisions. Only an earlier stream run's: a folder of files nobody's run wrote
    # is left as it is.
    ours = {f"{case.name}.jsonl" for case in cases}
    stale = [path for sub in ("decisions", "events") for path in sorted((out_dir / sub).glob("*.jsonl"))
             if path.name not in ours] if earlier is not None else []
    for path in stale:
        path.unlink()
    if stale:
        print(f"removed {len(stale)} file(s) of the earlier run in {out_dir} from decisions/ and events/ "
              f"(sequences this run does not cover, e.g. {stale[0].name})")
    # The earlier run's rescoring (`--rescore`'s default --out) scored decisions that are gone: left, it
    # stood beside this run's decisions with another checkpoint's figures, as if derived from them.
    rescored = out_dir / "rescored"
    held = evaluation_in(rescored)
    if (earlier is not None and held is not None and held[0] == "rescore"
            and Path(held[1]["rescored_from"]).resolve() == out_dir.resolve()):  # not another run's there
        for name in ("results.json", "timeline.png"):
            (rescored / name).unlink(missing_ok=True)
        if any(rescored.iterdir()):  # files of somebody's own in it
            print(f"removed the rescoring of the earlier run's decisions from {rescored} (results.json, "
                  "timeline.png)")
        else:
            rescored.rmdir()
            print(f"removed {rescored}: the rescoring of the earlier run's decisions")
    unknown = sorted({i.label for t in tracks for i in t.intervals} - set(classes))
    if unknown:  # on purpose for the simulator's extra actions; most likely a mislabelled recording else
        where = {label: sorted({f"{t.sequence} at {i.start:.1f} s" for t in tracks for i in t.intervals
                                if i.label == label}) for label in unknown}
        log.warning("the truth holds actions %s is not trained for: %s. Their time counts against frame "
                    "accuracy (nothing the model says there is right) and they have no row of their own",
                    checkpoint.name, "; ".join(
                        f"{label!r} ({', '.join(where[label][:3])}{' ...' if len(where[label]) > 3 else ''})"
                        for label in unknown))
    settings = {"checkpoint": str(checkpoint), "checkpoint_sha256": model.metadata.checkpoint_sha256,
                "data": data, "subset": subset, "trained_on": trained_on, "engine": model.name,
                "classes": list(classes), "hop_s": recognition.hop_s, "smoothing_s": recognition.smoothing_s}
    return _score_and_write(out_dir, settings, decisions, tracks, durations, threshold, chosen.end_threshold,
                            alert, started, _run_title(settings),
                            replaced_note("stream", earlier))


RESCORE_TOP_K = 5


def rescore_stream(run_dir: str | Path, *, threshold: float | None = None, end_threshold: float | None = None,
                   alert_cooldown_s: float | None = None, out: str | Path | None = None) -> StreamRun:
    """`evaluate --rescore RUN_DIR`: score a finished stream run again from what it wrote (results.json:
    its settings and truth; decisions/*.jsonl), with this version's scoring and, if given, another
    threshold, end threshold or alert cooldown -- which change events and alerts, never the decisions.
    No model runs.
    Writes results.json and timeline.png to `out` (default: RUN_DIR/rescored)."""
    started = time.monotonic()
    run_dir = Path(run_dir)
    if out is not None and Path(out).resolve() == run_dir.resolve():
        raise DatasetError(f"{run_dir}: --out must be another folder: rescoring into the run it reads would "
                           "replace its figures and leave its events/ out of step")
    out_dir = Path(out) if out else run_dir / "rescored"
    # Another rescoring there is replaced (it is derived, and said); a stream run or a clip evaluation is
    # refused: OTHER_RUN's results.json would say "rescored_from" RUN beside OTHER_RUN's own decisions.
    replaced = check_out_holds(out_dir, "rescore")
    path = run_dir / "results.json"
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DatasetError(f"{path}: not the results of a finished `evaluate --stream` run ({error})") \
            from None
    if not isinstance(previous, dict):  # a number or a list: "in" below raised TypeError
        raise DatasetError(f"{path}: not the results of a finished `evaluate --stream` run (a JSON "
                           f"{type(previous).__name__}, not an object)")
    missing = [k for k in ("classes", "sequences", "durations", "truth", "hop_s", "smoothing_s", "threshold",
                           "alert_classes") if k not in previous]
    if missing:
        raise DatasetError(f"{path}: no {', '.join(missing)} (written before runs could be scored again: "
                           "run `evaluate --stream` once more)")
    decisions = {}
    for name in previous["sequences"]:
        lines = run_dir / "decisions" / f"{name}.jsonl"
        try:
            decisions[name] = read_decision_lines(lines)
        except (OSError, ValueError, KeyError) as error:
            raise DatasetError(f"{lines}: cannot read the run's decisions ({error})") from None
    try:
        tracks = [Track(t["sequence"], t["person"], t["start"], t["end"],
                        tuple(Interval.from_json(i) for i in t["intervals"]))
                  for t in previous["truth"]]
    except (AttributeError, KeyError, TypeError, ValueError) as error:
        raise DatasetError(f"{path}: its truth is damaged ({error!r})") from None
    durations = previous["durations"]
    if not isinstance(durations, dict) or set(durations) != set(decisions) \
            or not {t.sequence for t in tracks} <= set(decisions):
        raise DatasetError(f"{path}: its sequences, durations and truth name different sequences (an edited "
                           "or damaged file): run `evaluate --stream` once more")
    # Runs written before events had an end threshold ended them at the threshold (None).
    recorded = DecisionSettings(threshold=previous["threshold"], end_threshold=previous.get("end_threshold"))
    chosen = DecisionSettings.given(threshold=threshold, end_threshold=end_threshold).over(recorded)
    _say_an_end_threshold_unused(end_threshold, chosen)
    threshold, end_threshold = chosen.threshold, chosen.end_threshold
    _check_top_k_follows(run_dir, decisions, previous["classes"], threshold, end_threshold)
    # Runs written before the cooldown was kept used the app's.
    if alert_cooldown_s is None:
        alert_cooldown_s = previous.get("alert_cooldown_s", AlertConfig.cooldown_s)
    alert = AlertConfig(classes=tuple(previous["alert_classes"]), threshold=threshold,
                        cooldown_s=alert_cooldown_s)
    settings = {k: previous[k] for k in ("checkpoint", "data", "engine", "classes", "hop_s", "smoothing_s")}
    # Runs written before these were kept: unknown.
    settings.update({k: previous.get(k) for k in ("subset", "checkpoint_sha256", "trained_on",
                                                   "decisions_file", "run")})
    replacing = replaced_note("rescore", replaced)
    # Resolved: the stream run that replaces RUN later tells its own rescoring from another run's by it,
    # from whatever folder either was started in.
    rescored_from = str(Path(run_dir).resolve())
    return _score_and_write(out_dir, {**settings, "rescored_from": rescored_from}, decisions, tracks,
                            durations, threshold, end_threshold, alert, started,
                            f"{_run_title(settings)}, rescored", replacing)


def _check_top_k_follows(where: Path, decisions: dict[str, list[Decision]], classes: Sequence[str],
                         threshold: float, end_threshold: float | None) -> None:
    """Refuse thresholds the written decisions' top-k classes cannot follow an event down to."""
    kept = min((len(d.topk) for run in decisions.values() for d in run), default=0)
    lowest = min(x for x in (threshold, end_threshold) if x is not None)
    if kept < len(classes) and lowest <= 1 / (kept + 1):
        # Below that an action may hold on outside the top k, where the written decisions cannot see it.
        raise DatasetError(f"{where}: its decisions keep their top {kept} classes, which follow an event "
                           f"only above {1 / (kept + 1):.3f}; threshold {lowest} needs `evaluate --stream` "
                           "again")


@dataclass(frozen=True)
class DecisionLine:
    number: int  # 1-based, as an editor counts
    record: dict
    decision: Decision


def read_decision_file(path: Path) -> list[DecisionLine]:
    """The decision lines of the app's --output FILE, with their line numbers (blank lines skipped; a last
    line a killed run left cut short is left out, said, as the app drops it when it appends again)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise DatasetError(f"{path}: cannot read the decisions ({error})") from None
    rows = text.splitlines()
    lines = []
    for number, line in enumerate(rows, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            if number == len(rows) and not text.endswith("\n"):
                print(f"note: {path}: its last line ({number}) was cut short, as by a run killed while it "
                      "wrote it: left out")
                continue
            raise DatasetError(f"{path}: line {number} is not JSON ({error}): not the app's --output "
                               "file?") from None
        try:
            decision = Decision.from_json(record)
        except (AttributeError, KeyError, TypeError, ValueError) as error:
            raise DatasetError(f"{path}: line {number} is no decision ({type(error).__name__}: {error}; a "
                               "decision line has stream_time, person and topk): not the app's --output "
                               "file?") from None
        lines.append(DecisionLine(number, record, decision))
    if not lines:
        raise DatasetError(f"{path}: no decisions")
    return lines


@dataclass(frozen=True)
class RunLines:
    """The lines of one run of the app in a decision file."""

    run: str | None  # the app's "run" ("STARTED/PID"); None for lines written before it had one
    lines: list[DecisionLine]

    def describe(self) -> str:
        return (self.run or "a run without a \"run\" key") + f" from line {self.lines[0].number}"


def runs_in(lines: Sequence[DecisionLine]) -> list[RunLines]:
    """Each run the lines hold, in order: told apart by their "run" (the app's since it wrote one), else
    by their stream time going back, as a restarted replay's does (lines of one run come in stream time
    order, a hop's people at the same time)."""
    runs: list[RunLines] = []
    for line in lines:
        run, at = line.record.get("run"), line.decision.stream_time
        last = runs[-1] if runs else None
        if last is None or run != last.run or (run is None and at < last.lines[-1].decision.stream_time):
            runs.append(RunLines(run, []))
        runs[-1].lines.append(line)
    return runs


def one_run(path: Path, lines: Sequence[DecisionLine], chosen: int | None, model_sha256: str,
            checkpoint: Path) -> RunLines:
    """The run to score (`chosen`: its number in the file, from 1; None: the file's only one), refused
    where it is another model's or of several rooms: each scored alone would be another figure, together
    none."""
    runs = runs_in(lines)
    if chosen is not None and not 1 <= chosen <= len(runs):
        raise DatasetError(f"--run {chosen}: {path} holds {len(runs)} run(s): "
                           + "; ".join(f"{n}: {r.describe()}" for n, r in enumerate(runs[:6], 1)))
    if chosen is None and len(runs) > 1:
        listed = "; ".join(f"{n}: {r.describe()}" for n, r in enumerate(runs[:6], 1))
        raise DatasetError(f"{path}: lines of {len(runs)} runs ({listed}{'; ...' if len(runs) > 6 else ''}): "
                           "one run is scored at a time: --run N scores the Nth")
    run = runs[0 if chosen is None else chosen - 1]
    models = sorted({str(line.record["model"]) for line in run.lines if line.record.get("model")})
    if models and models != [model_sha256[:12]]:
        raise DatasetError(f"{path}: decisions of model {', '.join(models)}, not of {checkpoint} (sha256 "
                           f"{model_sha256[:12]}): give the checkpoint the run loaded")
    rooms = sorted({str(line.record.get("room", "")) for line in run.lines})
    if len(rooms) > 1:
        raise DatasetError(f"{path}: lines of {len(rooms)} rooms ({', '.join(repr(r) for r in rooms)}): a "
                           "replay of one recording is one room; keep one room's lines apart")
    return run


# A replay's lines name, where its source knows it, the truth at each window's centre: as many of them
# disagreeing with --data's labels as this say the lines are another recording's (PKU-MMD 0005-L's lines
# against its own labels: 2 of 482, a frame off at a boundary; against 0006-L's: 286, 0015-L's: 216).
TRUTH_DISAGREEING_AT_MOST = 0.05


def score_decision_file(
    path: str | Path,
    checkpoint: str | Path,
    data: str,
    *,
    out: str | Path | None = None,
    decisions: DecisionSettings | None = None,
    alert_classes: Sequence[str] | None = None,
    alert_cooldown_s: float | None = None,
    run_number: int | None = None,
) -> StreamRun:
    """`evaluate --decisions FILE --data RECORDING`: score the app's decision lines from one run of a
    replay of RECORDING (`python -m live --headless --output FILE`), as `evaluate --stream` scores its own,
    over the span the run covered: from the recording's start to the run's last decision (a --duration
    run stopped part-way is not taken to have missed the rest, nor an action that began less than a window
    before it stopped). `run_number`: which run of a file that holds several (from 1). Lines whose truth
    disagrees with RECORDING's labels are another recording's, refused. The truth is the recording's
    timeline, so it must be the scene's (PKU-MMD, a clip's intervals or whole-clip label): a person's
    truth is by the sensor's tracking ids, which the app's continued tracks cannot be matched to
    afterwards. No model runs: `decisions` (smoothing, thresholds) default to the model's own, else the
    app's, as live chose.
    Writes what `evaluate --stream` does but events/ (results.json, decisions/, timeline.png), so that
    `evaluate --rescore` works on it."""
    started = time.monotonic()
    path, checkpoint = Path(path), Path(checkpoint)
    out_dir = Path(out) if out else default_results_dir(checkpoint, "decisions", data=path)
    earlier = check_out_holds(out_dir, "stream")
    loaded = load_checkpoint(checkpoint)
    scored = one_run(path, read_decision_file(path), run_number, loaded.sha256, checkpoint)
    if names_the_simulator(data):
        raise DatasetError(f"--data {data}: the simulator's truth is per person, by the sensor's tracking "
                           "ids, which the decisions' continued tracks cannot be matched to afterwards: "
                           "`evaluate --stream` runs the model and scores the simulated room")
    source = Path(data)
    if not source.is_file():
        raise DatasetError(f"--data {data}: not a recording (a PKU-MMD sequence file or a clip, the one the "
                           "run replayed)")
    case = recording_case(source)
    if case is None:
        raise DatasetError(f"--data {data}: no labels (a PKU-MMD sequence without its labels/NNNN-V.txt, a "
                           "clip without intervals or a label): nothing to score the decisions against")
    if not case.scene_wide:
        raise DatasetError(f"--data {data}: its truth is per person, by the sensor's tracking ids, which the "
                           "decisions' continued tracks cannot be matched to afterwards: `evaluate --stream` "
                           "runs the model on it and scores it")
    from training.evaluate import check_not_trained_on  # (that module builds on this one)

    # A recording the model learnt flatters it: said, and kept in results.json, as --stream does.
    trained_on = check_not_trained_on(checkpoint, loaded.extra, [case.name], "all", source.parent)
    # The recording read through once, for its first frame's time and its last (what --stream's tap saw).
    tap = TruthTap(case.open(color=False))
    timeline = tap.timeline
    tap.open()
    try:
        while True:
            tap.read()
    except EndOfStream:
        pass
    finally:
        tap.close()
    period = 1.0 / max(tap.fps, 1.0)
    run = [line.decision for line in scored.lines]
    reach = max(d.stream_time for d in run)
    if reach > tap.last + period / 2:
        raise DatasetError(f"{path}: decisions reach {reach:.2f} s of stream time, past the end of {source} "
                           f"({tap.last:.2f} s): not a replay of it")
    hop_s = _hop_of(run)
    # The span the run covered: the whole recording where it decided until its end came within a hop (a
    # replay that ended), else as --stream's tap would have seen a replay ending at its last decision.
    stopped_early = tap.last - reach >= hop_s
    if stopped_early:
        tap.last = reach
    (track,) = tap.tracks(case.name, timeline, scene_wide=True)
    labels = Timeline(track.intervals)  # in the stream time of the lines
    judged = [d for d in run if d.truth is not None]
    wrong = sum(d.truth != labels.label_at(d.window_centre) for d in judged)
    if judged and wrong > TRUTH_DISAGREEING_AT_MOST * len(judged):
        raise DatasetError(f"{path}: the truth its lines carry disagrees with {source}'s labels at {wrong} "
                           f"of {len(judged)} decisions: a replay of another recording, or one labelled "
                           "again since (replay it again)?")
    # Lines without truth (a clip labelled after its replay, or labelled as a whole, of which the app's
    # replay says nothing per instant) get the recording's, as --stream's own replay gives it: frame
    # accuracy was "n/a" for them.
    records = [line.record if line.decision.truth is not None else
               {**line.record, "truth": labels.label_at(line.decision.window_centre),
                "truth_now": labels.label_at(line.decision.stream_time)}
               for line in scored.lines]
    run = [Decision.from_json(record) for record in records]
    # Truth after the span is not the model's to miss, nor an action begun less than a window before its
    # end (no window held enough of it to name it); one the span cuts later is scored as far as it goes.
    window_s = float(np.median([d.stream_time - d.window_start for d in run]))
    cut = tuple(dataclasses.replace(i, end=min(i.end, track.end)) for i in track.intervals
                if i.start < track.end - (window_s if stopped_early else 0.0))
    tracks = [dataclasses.replace(track, intervals=cut)]
    durations = {case.name: tap.last - (tap.first or 0.0) + period}
    chosen = decisions_for(decisions or DecisionSettings(), loaded.decisions)
    _say_an_end_threshold_unused(decisions.end_threshold if decisions else None, chosen)
    classes = list(loaded.class_names)
    if alert_classes is None:  # as the app: the default alert classes this model knows
        alert_classes = default_alert_classes(classes)
    alert = AlertConfig(classes=tuple(alert_classes), threshold=chosen.threshold,
                        cooldown_s=AlertConfig.cooldown_s if alert_cooldown_s is None else alert_cooldown_s)
    try:
        AlertDispatcher(alert, classes)
    except ValueError as error:
        raise DatasetError(f"--alert-class: {error}") from None
    by_sequence = {case.name: run}
    _check_top_k_follows(path, by_sequence, classes, chosen.threshold, chosen.end_threshold)
    writable_folder(out_dir)
    (out_dir / "decisions").mkdir(parents=True, exist_ok=True)
    # The run's own lines, as --stream keeps its decisions: --rescore reads them there.
    text = "".join(json.dumps(record) + "\n" for record in records)
    write_then_rename(out_dir / "decisions" / f"{case.name}.jsonl", lambda f: f.write(text.encode("utf-8")))
    settings = {"checkpoint": str(checkpoint), "checkpoint_sha256": loaded.sha256, "data": data,
                "subset": None, "trained_on": trained_on, "engine": None, "classes": classes,
                "hop_s": hop_s, "smoothing_s": chosen.smoothing_s,
                "decisions_file": str(path.resolve()), "run": scored.run}
    return _score_and_write(out_dir, settings, by_sequence, tracks, durations, chosen.threshold,
                            chosen.end_threshold, alert, started, _run_title(settings),
                            replaced_note("stream", earlier))


def _hop_of(decisions: Sequence[Decision]) -> float:
    """The run's hop (the app's --hop), from its decisions' times: the commonest step between them."""
    times = np.unique(np.round([d.stream_time for d in decisions], 3))
    steps = np.round(np.diff(times), 2)
    if not len(steps):
        return RecognitionConfig.hop_s
    values, counts = np.unique(steps, return_counts=True)
    return float(values[np.argmax(counts)])


def _run_title(settings: dict) -> str:
    """What was scored: the model, the folder and, where the run chose some of its sequences, which."""
    subset = settings.get("subset")
    chosen = f", its {subset} sequences" if subset and subset != "all" else ""
    found = settings.get("decisions_file")  # scored from the app's lines: not a run of this command
    scored = f", scored from the decision file {found}" if found else ""
    return f"{Path(settings['checkpoint']).name} on {settings['data']}{chosen}{scored}"


def _score_and_write(
    out_dir: Path, settings: dict, decisions: dict[str, list[Decision]], tracks: list[Track],
    durations: dict[str, float], threshold: float, end_threshold: float | None, alert: AlertConfig,
    started: float, title: str, replacing: str = "",
) -> StreamRun:
    """Score a run's decisions against its truth; write results.json (with all a rescoring needs) and
    timeline.png; print the table. `replacing`: what the "wrote" line says of what they replace."""
    classes = settings["classes"]
    lag_s = ScoreSmoother(settings["smoothing_s"]).mean_lag_s(settings["hop_s"])
    scores = score(decisions, tracks, classes, durations=durations, threshold=threshold,
                   end_threshold=end_threshold, alert=alert, lag_s=lag_s)
    run = StreamRun(scores, tracks, decisions, time.monotonic() - started)
    results = {
        **settings,
        "sequences": sorted(decisions),
        "durations": durations,
        "event_lag_s": round(lag_s, 4),
        "threshold": threshold,
        "end_threshold": end_threshold,
        "alert_classes": list(alert.classes),
        "alert_cooldown_s": alert.cooldown_s,
        "seconds": round(run.seconds, 1),
        **scores.to_dict(),
        "truth": [{"sequence": t.sequence, "person": t.person, "start": t.start, "end": t.end,
                   "intervals": [i.to_json() for i in t.intervals]} for t in tracks],
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=1, allow_nan=False)  # whole, as save_results writes it
    write_then_rename(out_dir / "results.json", lambda f: f.write(text.encode("utf-8")))
    write_timeline_png(out_dir / "timeline.png", tracks, decisions, list(classes))
    ending = DecisionSettings(threshold=threshold, end_threshold=end_threshold).ending
    print(format_scores(scores, f"{title} ({len(decisions)} sequence(s), {scores.room_hours * 60:.1f} min; "
                                f"smoothing {settings['smoothing_s']:g} s, threshold {threshold:g}{ending})"))
    print(f"wrote {out_dir / 'results.json'} and {out_dir / 'timeline.png'}{replacing}")
    return run


def _pct(value: float | None) -> str:
    return "   n/a" if value is None else f"{100 * value:5.1f}%"


def format_scores(scores: StreamScores, title: str) -> str:
    lines = [
        title,
        f"frame accuracy {_pct(scores.frame_accuracy)} (window centre), {_pct(scores.frame_accuracy_now)} "
        f"(newest frame), {_pct(scores.mean_class_recall)} mean class recall, {scores.decisions} decisions",
        f"mAP@0.5 {_pct(scores.map_50)} (@0.1 {_pct(scores.map_10).strip()})   instances recognised "
        f"(an event matched to each at IoU >= 0.1) "
        f"{_pct(scores.instances_recognised)} of {scores.instances}   median detection delay "
        + ("n/a" if scores.median_delay_s is None else f"{scores.median_delay_s:.2f} s"),
        f"false events {scores.false_events} in {scores.background_hours:.2f} h of background"
        + (" (each person's idle time, summed)" if scores.background_per_person else "")
        + ("" if scores.false_events_per_hour is None
           else f" ({scores.false_events_per_hour:.1f} per hour of background, both kinds)")
        + f": {scores.false_events_in_background} in background"
        + ("" if scores.background_hours <= 0
           else f" ({scores.false_events_in_background / scores.background_hours:.1f} per hour of it)")
        + ", "
        f"{scores.false_events - scores.false_events_in_background} naming the wrong action during another"
        + ("" if scores.false_events_per_room_hour is None
           else f"; {scores.false_events_per_room_hour:.1f} per hour of stream"),
        "",
        f"{'class':<28}{'inst':>5}{'events':>7}{'P@.5':>8}{'R@.5':>8}{'F1@.5':>8}{'F1@.1':>8}{'AP@.5':>8}",
    ]
    for name, row in scores.per_class.items():
        lines.append(f"{in_columns(name, 27)} {row['instances']:>5}{row['events']:>7}"
                     f"{_pct(row['precision_50']):>8}{_pct(row['recall_50']):>8}{_pct(row['f1_50']):>8}{_pct(row['f1_10']):>8}"
                     f"{_pct(row['ap_50']):>8}")
    for name, row in scores.alerts.items():
        rate = row["false_alerts_per_hour"]
        lines.append(f"alerts {name}: recall {_pct(row['recall'])} of {row['instances']} ({row['alerted']} "
                     f"with an alert raised within 2 s, {row['in_episode']} while the alert of an earlier "
                     f"true one of the person's still runs), median alert delay "
                     + ("n/a" if row["median_delay_s"] is None else f"{row['median_delay_s']:.2f} s")
                     + f", {row['alerts']} alerts, {row['false_alerts']} false"
                     + ("" if rate is None else f" ({rate:.2f} per hour of room time)"))
    return "\n".join(lines)


# Tableau 10 (its grey, too close to the background's, replaced by navy), RGB: ten colours that stay
# apart; a ramp of one colour map gives neighbouring classes near-identical shades.
_DISTINCT_RGB = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
                 (140, 86, 75), (227, 119, 194), (0, 0, 128), (188, 189, 34), (23, 190, 207))


def class_colours(class_names: Sequence[str]) -> dict[str, tuple[int, int, int]]:
    """BGR colour per class (ten distinct ones, a colour map's ramp beyond); the background light grey."""
    actions = [c for c in class_names if c != NO_ACTION]
    if len(actions) <= len(_DISTINCT_RGB):
        hues = np.array([rgb[::-1] for rgb in _DISTINCT_RGB], np.uint8)
    else:
        ramp = np.linspace(0, 255, len(actions)).astype(np.uint8)
        hues = cv2.applyColorMap(ramp, cv2.COLORMAP_TURBO).reshape(-1, 3)
    colours = {name: tuple(int(v) for v in hues[k]) for k, name in enumerate(actions)}
    colours[NO_ACTION] = (215, 215, 215)
    return colours


def write_timeline_png(
    path: Path, tracks: Sequence[Track], decisions: dict[str, list[Decision]], class_names: Sequence[str],
    max_rows: int = 16, width: int = 1400,
) -> None:
    """Per person (or scene), truth above prediction along the stream, one colour per class."""
    colours = class_colours(class_names)
    rows = sorted(tracks, key=lambda t: (t.sequence, t.start))[:max_rows]
    left, bar, gap, top = 190, 14, 10, 30
    legend_columns = 4  # wide enough for PKU-MMD's "pat on back of other person"
    legend_rows = (len(class_names) + legend_columns - 1) // legend_columns
    height = top + len(rows) * (2 * bar + gap) + 20 + 18 * legend_rows
    image = np.full((height, width, 3), 255, np.uint8)
    put_text(image, f"truth (upper) vs top-1 decision (lower); {len(tracks)} track(s)"
             + (f", first {max_rows} shown" if len(tracks) > max_rows else ""), (8, 18), 0.45, (0, 0, 0))
    for r, track in enumerate(rows):
        y = top + r * (2 * bar + gap)
        span = max(track.end - track.start, 1e-6)
        scale = (width - left - 10) / span

        def x(t: float, track: Track = track, scale: float = scale) -> int:
            return int(left + (min(max(t, track.start), track.end) - track.start) * scale)

        who = "scene" if track.person is None else f"person {track.person % 100000}"
        ink = (0, 0, 0)
        put_text(image, f"{track.sequence[:16]} {who}", (4, y + bar), 0.35, ink)
        put_text(image, f"{span:.0f} s", (4, y + 2 * bar), 0.3, (90, 90, 90))
        cv2.rectangle(image, (left, y), (width - 10, y + bar), colours[NO_ACTION], -1)
        for interval in track.intervals:
            cv2.rectangle(image, (x(interval.start), y), (x(interval.end), y + bar),
                          colours.get(interval.label, (0, 0, 0)), -1)
        mine = [d for d in decisions.get(track.sequence, [])
                if (track.person is None or d.tracking_id == track.person) and track.start <= d.stream_time]
        mine.sort(key=lambda d: d.stream_time)
        # A person seen for less than a window's history has a track and no decision: an empty row.
        for k, d in enumerate(mine):
            t0 = d.window_centre
            t1 = mine[k + 1].window_centre if k + 1 < len(mine) else t0 + 0.2
            cv2.rectangle(image, (x(t0), y + bar + 1), (max(x(t1), x(t0) + 1), y + 2 * bar),
                          colours.get(d.topk[0][0], (0, 0, 0)), -1)
    y = top + len(rows) * (2 * bar + gap) + 8
    for k, name in enumerate(class_names):
        cx, cy = 8 + (k % legend_columns) * (width // legend_columns), y + (k // legend_columns) * 18
        cv2.rectangle(image, (cx, cy), (cx + 12, cy + 12), colours[name], -1)
        put_text(image, name[:45], (cx + 16, cy + 11), 0.4, (0, 0, 0))
    write_image(Path(path), image)
