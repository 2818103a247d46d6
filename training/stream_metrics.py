"""Scores of a continuous run, computed from its decisions (the JSON lines `python -m live --headless`
writes) and the true action intervals — nothing else. Those intervals come from the recording: a run of
`evaluate --stream` keeps them in its results.json (`--rescore` scores it again); the app's own lines
of a replay are scored with their recording by `evaluate --decisions` (scene-wide truth only: a
person's truth is by tracking ids the app's continued tracks cannot be matched to afterwards).

    decisions --(live.headless.EventLog, AlertDispatcher: the app's own code)--> events, alerts
    frame accuracy    top-1 of each decision vs the truth at its window's centre (what the decision is
                      about) and vs the truth at its newest frame (what staff see); no_action included;
                      also the mean over true classes of their recall (no_action one class among them)
    events            an event starts at a decision whose top-1 is an action at or above the
                      threshold and lasts while that action stays at or above the end threshold (the
                      threshold if none); for matching it spans the times its first decision and the
                      decision that ended it describe: their window centres (a decision is about the
                      window that just ended) less the smoothing's mean lag (a smoothed score averages
                      the windows of the last hops, on average `ScoreSmoother.mean_lag_s` older than
                      the newest); an event whose person's decisions stop (the sensor lost them, or
                      the stream ended) runs to the newest frame of its last decision, less that lag too
    P / R / F1        per class, events matched one-to-one to true intervals at IoU >= 0.5 and >= 0.1
                      (an event as close to two intervals goes to the earlier)
    mAP               at IoU 0.5 and 0.1, PKU-MMD's mAP_a (the mean over classes; its mAP_v, the mean
                      over videos, is not computed): events ranked by confidence (their mean top-1
                      probability), average precision per class (all-point interpolation), then the mean
    recognised        true instances with an event of their class matched to them at IoU >= 0.1 (one
                      to one, highest score first, as the mAP matches)
    delay             true start -> the first decision naming it: that of the event matched to it or of
                      an earlier unmatched event of its class at IoU >= 0.1 (a fragment: staff saw it
                      named then), 0 where that decision came before the instance (named from its start);
                      stream time
    false events      events with IoU < 0.1 against every true interval of their class (a second event
                      during one instance names what happens: no false event, though a false positive
                      of the precision and the mAP), per hour of
                      background: each track's time without a true action, summed over the tracks (a
                      person's own idle time where truth is per person, as in the simulator: person-
                      hours, so two people idle for an hour are two hours; the scene's where truth is
                      scene-wide, as in PKU-MMD; the figure kept since the first session, so rates stay
                      comparable); split into those in background (touching no
                      true interval of any class: a person idle called busy) and those during another
                      action (the wrong action named), and also per hour of stream
    alerts            for the alert classes, from the alerts the app raises (AlertDispatcher: one per
                      episode and person, or pair for a two-person action): its median delay (true
                      start -> its page: the first alert raised while it ran, else the last in the 2 s
                      before (negative), else the first in the 2 s after, but never one raised during
                      another instance; each alert timed once; stream time), recall (an alert of the
                      class raised during the true interval or within 2 s of it, or, for an instance
                      detected while the episode of an earlier true instance of that person or pair
                      still runs, that episode's alert; an episode a false
                      alert started calls nobody for it) and false alerts (no true interval of the class
                      within 2 s) per hour of stream

Truth concerns one person (the simulator knows who falls) or the whole scene (PKU-MMD labels a
sequence, not a body). Scene-wide truth is scored per scene: the events of every person are merged
(overlapping events of one class become one), so one instance is one detection whoever is tracked.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from core.timeline import NO_ACTION, Interval
from live.headless import AlertConfig, AlertDispatcher, EventLog
from live.worker import Decision, Hop

DETECTION_IOU = 0.5
OVERLAP_IOU = 0.1
ALERT_SLACK_S = 2.0


@dataclass(frozen=True)
class Track:
    """What was true for one person of one sequence (person None: the whole scene)."""

    sequence: str
    person: int | None
    start: float  # stream seconds the track was observed
    end: float
    intervals: tuple[Interval, ...]

    @property
    def duration(self) -> float:
        return max(self.end - self.start, 0.0)

    @property
    def background_s(self) -> float:
        covered = _union_length([(i.start, i.end) for i in self.intervals], self.start, self.end)
        return max(self.duration - covered, 0.0)


@dataclass(frozen=True)
class Detection:
    sequence: str
    person: int | None
    label: str
    start: float  # the time its first decision describes (matching): window centre less the smoothing lag
    end: float  # the same for the decision that ended it; the newest frame of the last if none did
    first_decision: float  # stream time of its first decision (delays, alerts)
    score: float  # mean top-1 probability over its decisions

    def iou(self, interval: Interval) -> float:
        return Interval(self.start, max(self.end, self.start + 1e-6), self.label).iou(interval)


@dataclass
class StreamScores:
    frame_accuracy: float | None  # against the truth at the window centre
    frame_accuracy_now: float | None  # against the truth at the newest frame
    decisions: int
    per_class: dict[str, dict[str, float | int | None]]  # precision / recall / F1 at both IoUs, AP, counts
    map_50: float | None
    instances: int
    instances_recognised: float | None
    median_delay_s: float | None
    false_events: int
    background_hours: float
    false_events_per_hour: float | None
    room_hours: float
    alerts: dict[str, dict[str, float | int | None]]  # per alert class: recall, delay, false alerts / h
    confusion: dict[str, dict[str, int]] = field(default_factory=dict)  # frame level, truth -> predicted
    false_events_in_background: int = 0  # of false_events: touching no true interval of any class
    false_events_per_room_hour: float | None = None
    # Frame accuracy with every true class weighted alike: no_action, most of a stream, cannot carry it.
    mean_class_recall: float | None = None
    background_per_person: bool = False  # background_hours sums people's own idle time (per-person truth)
    map_10: float | None = None  # at IoU 0.1, PKU-MMD's other threshold

    def to_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items()}


def _hops(decisions: Sequence[Decision]) -> list[Hop]:
    by_time: dict[float, list[Decision]] = defaultdict(list)
    for d in decisions:
        by_time[d.stream_time].append(d)
    return [Hop(t, tuple(by_time[t])) for t in sorted(by_time)]


def detections(
    sequence: str, decisions: Sequence[Decision], threshold: float, lag_s: float = 0.0,
    end_threshold: float | None = None,
) -> list[Detection]:
    """The events live would log (EventLog), as detections with scores, spanning the window centres of
    their decisions moved back by `lag_s` (the smoothing's mean lag)."""
    log = EventLog(threshold, end_threshold=end_threshold)
    by_key = {(d.tracking_id, d.stream_time): d for d in decisions}
    per_person: dict[int, list[Decision]] = defaultdict(list)
    for d in decisions:
        per_person[d.tracking_id].append(d)
    out = []
    open_events: dict[int, object] = {}
    hops = _hops(decisions)

    def close(event, ended_at: float) -> None:
        started = event.stream_time
        taken = [d for d in per_person[event.person] if started <= d.stream_time < ended_at]
        scores = [p for d in taken for name, p in d.topk[:1] if name == event.action]
        ender = by_key.get((event.person, ended_at))
        if ender is not None:  # a later decision said otherwise: the first window centred past the action
            end = ender.window_centre
        else:
            # The person's decisions stopped (the sensor lost them, often someone who fell to the floor,
            # or the stream ended): no later window will describe the last one's second half, so the
            # event runs to its newest frame.
            end = taken[-1].stream_time if taken else started
        begin = by_key[(event.person, started)].window_centre
        out.append(Detection(sequence, event.person, event.action, begin - lag_s, end - lag_s, started,
                             float(np.mean(scores)) if scores else 0.0))

    for hop in hops:
        for event in log.update(hop):
            if event.kind == "started":
                open_events[event.person] = event
            else:
                close(open_events.pop(event.person), event.stream_time)
        # People who are not in this hop keep their event open: live ends it when the track retires.
    last = hops[-1].stream_time if hops else 0.0
    for event in open_events.values():
        close(event, last + 1e-6)
    log.close()
    return out


def alerts(decisions: Sequence[Decision], config: AlertConfig, class_names: Sequence[str]) -> list:
    """The alerts live would raise (AlertDispatcher), without running any hook or logging them again."""
    no_hook = AlertConfig(classes=config.classes, threshold=config.threshold, cooldown_s=config.cooldown_s)
    dispatcher = AlertDispatcher(no_hook, tuple(class_names))
    logger = logging.getLogger("live.headless")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        raised = []
        for hop in _hops(decisions):
            raised += dispatcher.update(hop)
        return raised
    finally:
        logger.setLevel(level)


def _near(t: float, interval: Interval) -> bool:
    """A time within an interval, or within ALERT_SLACK_S of it."""
    return interval.start - ALERT_SLACK_S <= t <= interval.end + ALERT_SLACK_S


def _true_alert(alert: Any, sequence: str, truths: dict[tuple[str, int | None], list[Interval]]) -> bool:
    """An alert near a true interval of its class, of its person or pair (or of the scene)."""
    return any(_near(alert.stream_time, i) for (s, p), v in truths.items() for i in v
               if s == sequence and i.label == alert.action and (p is None or p in alert.people))


def _union_length(spans: Iterable[tuple[float, float]], lo: float, hi: float) -> float:
    total, current_end = 0.0, lo
    for start, end in sorted((max(s, lo), min(e, hi)) for s, e in spans):
        if end <= start:
            continue
        if start > current_end:
            total += end - start
            current_end = end
        elif end > current_end:
            total += end - current_end
            current_end = end
    return total


def _merge_people(found: list[Detection]) -> list[Detection]:
    """Scene-wide truth: one detection per overlapping run of same-class events, whoever made them."""
    merged: list[Detection] = []
    for det in sorted(found, key=lambda d: (d.sequence, d.label, d.start)):
        last = merged[-1] if merged else None
        same = last is not None and last.sequence == det.sequence and last.label == det.label
        if same and det.start <= last.end:
            merged[-1] = Detection(det.sequence, None, det.label, last.start, max(last.end, det.end),
                                   min(last.first_decision, det.first_decision), max(last.score, det.score))
        else:
            merged.append(Detection(det.sequence, None, det.label, det.start, det.end, det.first_decision,
                                    det.score))
    return merged


def _match(found: list[Detection], truths: list[Interval], threshold: float) -> tuple[list[bool], list[int]]:
    """Greedy one-to-one matching by descending score: (detection is a true positive, matched truth or -1)."""
    order = sorted(range(len(found)), key=lambda i: -found[i].score)
    taken = [False] * len(truths)
    hit = [False] * len(found)
    owner = [-1] * len(truths)
    for i in order:
        best, best_iou = -1, -1.0
        for j, truth in enumerate(truths):
            if taken[j]:
                continue
            iou = found[i].iou(truth)
            if iou >= threshold and iou > best_iou:  # a tie: the earlier interval (truths in time order)
                best, best_iou = j, iou
        if best >= 0:
            taken[best], hit[i], owner[best] = True, True, i
    return hit, owner


def _delay(truth: Interval, matched: Detection, unmatched: Sequence[Detection]) -> float:
    """True start -> the first decision naming it (the module docstring): of the event matched to it, or
    of an earlier fragment of it (an unmatched event of its class at IoU >= 0.1: not a false one); 0
    where it was named before it began."""
    fragments = [d.first_decision for d in unmatched
                 if d.first_decision < matched.first_decision and d.iou(truth) >= OVERLAP_IOU]
    return max(min([matched.first_decision, *fragments]) - truth.start, 0.0)


def average_precision(scores: Sequence[float], hits: Sequence[bool], positives: int) -> float | None:
    """Area under the precision-recall curve (all-point interpolation, as PASCAL VOC / PKU-MMD)."""
    if positives == 0:
        return None
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    tp = np.cumsum(np.asarray(hits, dtype=np.float64)[order])
    fp = np.cumsum(1.0 - np.asarray(hits, dtype=np.float64)[order])
    recall = np.concatenate([[0.0], tp / positives, [1.0]]) if len(order) else np.array([0.0, 1.0])
    precision = np.concatenate([[1.0], tp / np.maximum(tp + fp, 1e-12), [0.0]]) if len(order) else np.array(
        [1.0, 0.0])
    precision = np.maximum.accumulate(precision[::-1])[::-1]
    return float(np.sum(np.diff(recall) * precision[1:]))


def score(
    decisions_by_sequence: dict[str, Sequence[Decision]],
    tracks: Sequence[Track],
    class_names: Sequence[str],
    *,
    durations: dict[str, float],
    threshold: float,
    alert: AlertConfig,
    lag_s: float = 0.0,
    end_threshold: float | None = None,
) -> StreamScores:
    """Every figure of the module docstring for a set of sequences (`durations`: seconds of each;
    `lag_s`: the smoothing's mean lag, by which event spans move back). Every sequence has a duration and
    its decisions (an empty list where none were made); a track names one of them."""
    # Names that differ ("0005-M" decided, "0005-m" labelled) scored every event false and every action
    # missed, and a sequence without a duration made the room's hours 0: said instead.
    unknown = {t.sequence for t in tracks} - set(durations)
    if set(decisions_by_sequence) != set(durations) or unknown:
        problems = [f"{what}: {', '.join(sorted(names)[:5])}" for what, names in (
            ("decisions without a duration", set(decisions_by_sequence) - set(durations)),
            ("durations without decisions (give an empty list)", set(durations) - set(decisions_by_sequence)),
            ("tracks of no sequence in durations", unknown)) if names]
        raise ValueError(f"the sequences do not agree: {'; '.join(problems)}")
    all_decisions = [d for ds in decisions_by_sequence.values() for d in ds]
    judged = [d for d in all_decisions if d.truth is not None]
    now = [d for d in all_decisions if d.truth_now is not None]
    frame_accuracy = float(np.mean([d.topk[0][0] == d.truth for d in judged])) if judged else None
    frame_now = float(np.mean([d.topk[0][0] == d.truth_now for d in now])) if now else None
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for d in judged:
        confusion[d.truth][d.topk[0][0]] += 1

    scene_wide = {t.sequence for t in tracks if t.person is None}
    events = {sequence: detections(sequence, decisions, threshold, lag_s, end_threshold)
              for sequence, decisions in decisions_by_sequence.items()}
    found: list[Detection] = []
    for sequence, sequence_events in events.items():
        found += _merge_people(sequence_events) if sequence in scene_wide else sequence_events

    def key(sequence: str, person: int | None) -> tuple[str, int | None]:
        return (sequence, None if sequence in scene_wide else person)

    truths: dict[tuple[str, int | None], list[Interval]] = defaultdict(list)
    for track in tracks:
        truths[(track.sequence, track.person)] += list(track.intervals)
    actions = [c for c in class_names if c != NO_ACTION]
    per_class: dict[str, dict[str, float | int | None]] = {}
    recognised = total = 0
    delays: list[float] = []
    false_events = false_in_background = 0
    for label in actions:
        row: dict[str, float | int | None] = {}
        class_found = [d for d in found if d.label == label]
        class_truths = {k: sorted((i for i in v if i.label == label), key=lambda i: i.start)
                        for k, v in truths.items()}
        positives = sum(len(v) for v in class_truths.values())
        row["instances"], row["events"] = positives, len(class_found)
        for iou, name in ((DETECTION_IOU, "50"), (OVERLAP_IOU, "10")):
            tp, ap_scores, ap_hits = 0, [], []
            # In a fixed order: AP breaks ties in score by the order detections are listed, and a set's
            # order changed with PYTHONHASHSEED (mAP 0.5 or 0.25 for the same run).
            keys = set(class_truths) | {key(d.sequence, d.person) for d in class_found}
            for k in sorted(keys, key=lambda k: (k[0], k[1] is not None, k[1] or 0)):
                mine = [d for d in class_found if key(d.sequence, d.person) == k]
                hit, owner = _match(mine, class_truths.get(k, []), iou)
                tp += sum(hit)
                ap_scores += [d.score for d in mine]
                ap_hits += hit
                if name == "10":
                    total += len(owner)
                    recognised += sum(o >= 0 for o in owner)
                    for j, o in enumerate(owner):
                        if o >= 0:
                            delays.append(_delay(class_truths[k][j], mine[o], [
                                d for d, matched in zip(mine, hit, strict=True) if not matched]))
                    false = [d for d in mine if max((d.iou(t) for t in class_truths.get(k, [])),
                                                    default=0.0) < OVERLAP_IOU]
                    false_events += len(false)
                    false_in_background += sum(1 for d in false if not any(
                        d.start < t.end and t.start < d.end for t in truths.get(k, [])))
            precision = tp / len(class_found) if class_found else None
            recall = tp / positives if positives else None
            f1 = None
            if recall is not None:  # a class with instances: no detection at all is an F1 of 0
                f1 = 2 * precision * recall / (precision + recall) if precision and recall else 0.0
            row[f"precision_{name}"], row[f"recall_{name}"], row[f"f1_{name}"] = precision, recall, f1
            row[f"ap_{name}"] = average_precision(ap_scores, ap_hits, positives)
        per_class[label] = row
    def mean_ap(name: str) -> float | None:
        aps = [row[name] for row in per_class.values() if row[name] is not None]
        return float(np.mean(aps)) if aps else None

    background_s = sum(t.background_s for t in tracks)
    room_s = float(sum(durations.values()))
    alert_rows: dict[str, dict[str, float | int | None]] = {}
    raised = {s: alerts(ds, alert, class_names) for s, ds in decisions_by_sequence.items()}
    for label in alert.classes:
        instances = sorted(((k, i) for k, v in truths.items() for i in v if i.label == label),
                           key=lambda ki: (ki[0][0], ki[1].start))
        alerted = in_episode = 0
        alert_delays: list[float] = []
        timed: set[int] = set()  # ids of the alerts already timed: one alert may be near two instances
        for (sequence, person), interval in instances:
            # The alerts the app raised, not the events: one alert per episode and person (or pair), so an
            # instance is caught by an alert raised for it, or by the alert of an episode still running
            # that an earlier true instance of the person's raised (staff are on their way). An episode
            # a false alert started raises nothing for it: nobody is called.
            mine = [a for a in raised.get(sequence, ()) if a.action == label
                    and (person is None or person in a.people)]
            raised_for_it = [a for a in mine if _near(a.stream_time, interval)]
            if raised_for_it:
                alerted += 1
                # Its page: the first raised while it ran, else the last in the 2 s before it (negative),
                # else the first in the 2 s after; a page raised while another instance ran is that one's,
                # and each page is timed once.
                others = [i for k, i in instances if k == (sequence, person) and i is not interval]
                untimed = [a for a in raised_for_it if id(a) not in timed
                           and not any(i.start <= a.stream_time <= i.end for i in others)]
                during = [a for a in untimed if interval.start <= a.stream_time <= interval.end]
                before = [a for a in untimed if a.stream_time < interval.start]
                page = (min(during, key=lambda a: a.stream_time) if during
                        else max(before, key=lambda a: a.stream_time) if before
                        else min(untimed, key=lambda a: a.stream_time, default=None))
                if page is not None:
                    timed.add(id(page))
                    alert_delays.append(page.stream_time - interval.start)
                continue
            # An episode is one person's (or pair's): under scene-wide truth, that of whoever detected
            # the instance.
            detectors = {d.person for d in events.get(sequence, ()) if d.label == label
                         and (person is None or d.person == person) and _near(d.first_decision, interval)}
            for detector in detectors:
                earlier = [a for a in mine
                           if detector in a.people and a.stream_time < interval.start - ALERT_SLACK_S]
                if earlier and _true_alert(earlier[-1], sequence, truths):
                    in_episode += 1
                    break
        wrong = sum(1 for sequence, fired in raised.items() for a in fired
                    if a.action == label and not _true_alert(a, sequence, truths))
        alert_rows[label] = {
            "instances": len(instances),
            "recall": (alerted + in_episode) / len(instances) if instances else None,
            "alerted": alerted,  # an alert raised for the instance itself
            "in_episode": in_episode,  # within the running episode of an earlier true instance's alert
            # true start -> each alerted instance's page (the module docstring): what staff wait for
            "median_delay_s": float(np.median(alert_delays)) if alert_delays else None,
            "alerts": sum(1 for fired in raised.values() for a in fired if a.action == label),
            "false_alerts": wrong,
            "false_alerts_per_hour": wrong / (room_s / 3600) if room_s > 0 else None,
        }
    return StreamScores(
        frame_accuracy=frame_accuracy,
        frame_accuracy_now=frame_now,
        decisions=len(all_decisions),
        per_class=per_class,
        map_50=mean_ap("ap_50"),
        map_10=mean_ap("ap_10"),
        instances=total,
        instances_recognised=recognised / total if total else None,
        median_delay_s=float(np.median(delays)) if delays else None,
        false_events=false_events,
        background_hours=background_s / 3600,
        false_events_per_hour=false_events / (background_s / 3600) if background_s > 0 else None,
        room_hours=room_s / 3600,
        false_events_in_background=false_in_background,
        mean_class_recall=float(np.mean([row.get(t, 0) / sum(row.values()) for t, row in confusion.items()]))
        if confusion else None,
        false_events_per_room_hour=false_events / (room_s / 3600) if room_s > 0 else None,
        background_per_person=any(t.person is not None for t in tracks),
        alerts=alert_rows,
        confusion={t: dict(p) for t, p in confusion.items()},
    )
