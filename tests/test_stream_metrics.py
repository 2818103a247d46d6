"""Scores of continuous runs from decisions and true intervals (training/stream_metrics.py)."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from core.timeline import NO_ACTION, Interval
from live.headless import AlertConfig
from live.worker import Decision
from training.stream_metrics import (
    ALERT_SLACK_S,
    Detection,
    Track,
    _match,
    _near,
    average_precision,
    detections,
    score,
)

CLASSES = ("wave", "fall", NO_ACTION)
PARTS = ("left_hand", "right_hand", "full_body")
HOP, WINDOW = 0.2, 2.0


def decide(person: int, end: float, label: str, p: float = 0.9, truth: str | None = None) -> Decision:
    others = [c for c in CLASSES if c != label]
    return Decision(time=end, stream_time=end, tracking_id=person,
                    topk=((label, p), (others[0], (1 - p) / 2), (others[1], (1 - p) / 2)), parts=PARTS,
                    attention=np.full(3, 1 / 3, np.float32), latency_s=0.05, window_start=end - WINDOW,
                    truth=truth, truth_now=truth)


def run(person: int, truth: list[Interval], predicted: list[Interval], seconds: float) -> list[Decision]:
    """Decisions every hop whose window centre lies in `predicted` say that action, else no_action."""
    out = []
    for end in np.arange(WINDOW, seconds + 1e-9, HOP):
        centre = end - WINDOW / 2
        said = next((i.label for i in predicted if i.start <= centre < i.end), NO_ACTION)
        true = next((i.label for i in truth if i.start <= centre < i.end), NO_ACTION)
        out.append(decide(person, round(float(end), 3), said, truth=true))
    return out


ALERTS = AlertConfig(classes=("fall",), threshold=0.6, cooldown_s=30.0)


def test_a_perfect_run_scores_perfectly() -> None:
    truth = [Interval(5.0, 9.0, "wave", 1), Interval(14.0, 16.0, "fall", 1)]
    decisions = {"seq": run(1, truth, truth, 30.0)}
    scores = score(decisions, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={"seq": 30.0},
                   threshold=0.6, alert=ALERTS)
    assert scores.frame_accuracy == 1.0 and scores.instances == 2 and scores.instances_recognised == 1.0
    assert scores.mean_class_recall == 1.0
    assert scores.map_50 == pytest.approx(1.0) and scores.false_events == 0
    assert scores.per_class["wave"]["f1_50"] == 1.0 and scores.per_class["fall"]["recall_10"] == 1.0
    # The first decision that says "wave" has its window centre at the true start: it ends 1 s later.
    assert scores.median_delay_s == pytest.approx(WINDOW / 2, abs=HOP)
    assert scores.alerts["fall"]["recall"] == 1.0 and scores.alerts["fall"]["false_alerts"] == 0
    assert scores.background_hours == pytest.approx((30 - 6) / 3600)


def test_sequences_named_differently_are_said_not_scored() -> None:
    """'0005-M' decided and '0005-m' labelled scored every event false and every action missed (mAP 0),
    and a sequence without a duration gave a room of 0 hours: a researcher's own call, silently wrong."""
    truth = [Interval(5.0, 9.0, "wave", 1)]
    decisions = {"0005-M": run(1, truth, truth, 30.0)}
    with pytest.raises(ValueError, match=r"tracks of no sequence in durations: 0005-m$"):
        score(decisions, [Track("0005-m", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={"0005-M": 30.0},
              threshold=0.6, alert=ALERTS)
    with pytest.raises(ValueError, match=r"decisions without a duration: 0005-M; tracks of no sequence"):
        score(decisions, [Track("0005-M", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={},
              threshold=0.6, alert=ALERTS)


TIED_SCORES = """
import sys
sys.path.insert(0, {tests!r})
from test_stream_metrics import ALERTS, CLASSES, Interval, Track, run, score
truth = [Interval(5.0, 9.0, "wave", 1)]
decisions = {{name: run(1, truth, truth if name == "seq 3" else [Interval(20.0, 24.0, "wave", 1)], 30.0)
             for name in ("seq 1", "seq 2", "seq 3", "seq 4")}}
tracks = [Track(name, 1, 0.0, 30.0, tuple(truth)) for name in decisions]
print(score(decisions, tracks, CLASSES, durations=dict.fromkeys(decisions, 30.0), threshold=0.6,
            alert=ALERTS).map_50)
"""


def test_tied_scores_give_the_same_map_whatever_the_hash_seed() -> None:
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = TIED_SCORES.format(tests=str(Path(__file__).parent))
    maps = {subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": str(seed)}).stdout.strip()
            for seed in range(4)}
    assert len(maps) == 1, maps


def test_false_events_late_detections_and_misses() -> None:
    truth = [Interval(5.0, 9.0, "wave", 1), Interval(14.0, 16.0, "fall", 1)]
    said = [Interval(7.5, 9.0, "wave", 1), Interval(20.0, 22.0, "fall", 1)]  # late wave; a fall that isn't
    decisions = {"seq": run(1, truth, said, 30.0)}
    scores = score(decisions, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={"seq": 30.0},
                   threshold=0.6, alert=ALERTS)
    wave = scores.per_class["wave"]
    assert wave["recall_50"] == 0.0 and wave["recall_10"] == 1.0  # IoU 1.5/4 < 0.5 but > 0.1
    assert scores.per_class["fall"]["precision_10"] == 0.0 and scores.false_events == 1
    assert scores.instances_recognised == 0.5
    # PKU-MMD's mAP at both its thresholds: the late wave is a detection at 0.1 only.
    assert scores.map_50 == 0.0 and scores.map_10 == pytest.approx(0.5)
    assert scores.alerts["fall"]["recall"] == 0.0 and scores.alerts["fall"]["false_alerts"] == 1
    assert scores.alerts["fall"]["false_alerts_per_hour"] == pytest.approx(1 / (30 / 3600))
    assert 0 < scores.frame_accuracy < 1


def test_a_fall_is_caught_only_by_an_alert_raised_for_it() -> None:
    """A false fall alert at 3 s keeps the episode going through its cooldown: the true fall at 20 s
    raises no alert of its own, so nobody is called for it, and its recall is 0 though an event
    of it was found. An episode an earlier true fall started covers the next one."""
    truth = [Interval(20.0, 24.0, "fall", 1)]
    said = [Interval(3.0, 4.0, "fall", 1), *truth]
    scores = score({"seq": run(1, truth, said, 30.0)}, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    assert scores.per_class["fall"]["recall_10"] == 1.0  # the event is there ...
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 1 and fall["false_alerts"] == 1 and fall["recall"] == 0.0  # ... no alert for it
    assert fall["median_delay_s"] is None  # no alert was raised for it: nothing to time

    # A second true fall 10 s after a first: the first's alert episode still runs, staff are already called.
    truth = [Interval(5.0, 7.0, "fall", 1), Interval(17.0, 19.0, "fall", 1)]
    scores = score({"seq": run(1, truth, truth, 30.0)}, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 1 and fall["alerted"] == 1 and fall["in_episode"] == 1 and fall["recall"] == 1.0
    # Timed from the first fall's start to its alert: the decision whose window is centred on that start,
    # half a window later (the second fall raised none of its own).
    assert fall["median_delay_s"] == pytest.approx(WINDOW / 2)


def test_one_alert_for_two_falls_close_together_is_timed_once() -> None:
    """Two true falls 1.5 s apart, decided as one: one alert, raised for both (within 2 s of each), but
    timed only for the first; timed for the second too it gave -0.5 s, a median of 0.25 s."""
    truth = [Interval(10.0, 11.0, "fall", 1), Interval(11.5, 13.0, "fall", 1)]
    said = [Interval(10.0, 13.0, "fall", 1)]
    scores = score({"seq": run(1, truth, said, 30.0)}, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 1 and fall["alerted"] == 2 and fall["recall"] == 1.0
    assert fall["median_delay_s"] == pytest.approx(WINDOW / 2)


def test_an_alert_is_timed_for_the_instance_it_was_raised_in() -> None:
    """Scene-wide truth, falls at 10-12 s and 13-15 s; persons 1 and 2 page for the first at 11.0 and
    11.6 s, person 3 for the second at 14.0 s. The second fall's delay is its own page's, 1.0 s: the
    earliest untimed page within 2 s of it was person 2's, 1.4 s before it started."""
    truth = [Interval(10.0, 12.0, "fall"), Interval(13.0, 15.0, "fall")]
    said = {1: Interval(10.0, 11.0, "fall"), 2: Interval(10.6, 12.0, "fall"), 3: Interval(13.0, 15.0, "fall")}
    decisions = [d for person, interval in said.items() for d in run(person, [], [interval], 30.0)]
    decisions.sort(key=lambda d: d.stream_time)
    scores = score({"seq": decisions}, [Track("seq", None, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 3 and fall["alerted"] == 2
    assert fall["median_delay_s"] == pytest.approx(WINDOW / 2)


def test_a_page_raised_during_the_next_instance_is_that_ones() -> None:
    """Falls at 10-12 s and 13-15 s, one page at 13.6 s, during the second and within 2 s after the
    first: it is the second fall's (0.6 s), not the first's (3.6 s)."""
    truth = [Interval(10.0, 12.0, "fall"), Interval(13.0, 15.0, "fall")]
    decisions = run(1, [], [Interval(12.6, 15.0, "fall")], 30.0)
    scores = score({"seq": decisions}, [Track("seq", None, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 1 and fall["median_delay_s"] == pytest.approx(0.6)


def test_scene_wide_a_fall_within_its_persons_running_episode_is_caught_whatever_others_raised() -> None:
    """Scene-wide truth (PKU-MMD, a room labelled as a whole): person 2's true fall alert at 10 s keeps
    their episode running through the second fall at 40 s. Person 1's false alert at 25 s is another
    person's episode: it neither ends person 2's nor decides whether the second fall was caught."""
    truth = [Interval(10.0, 12.0, "fall"), Interval(40.0, 42.0, "fall")]
    decisions = (run(2, [], [Interval(10.0, 13.0, "fall"), Interval(38.6, 44.0, "fall")], 60.0)
                 + run(1, [], [Interval(25.0, 26.0, "fall")], 60.0))
    decisions.sort(key=lambda d: d.stream_time)
    scores = score({"seq": decisions}, [Track("seq", None, 0.0, 60.0, tuple(truth))], CLASSES,
                   durations={"seq": 60.0}, threshold=0.6, alert=ALERTS)
    fall = scores.alerts["fall"]
    assert fall["alerts"] == 2 and fall["false_alerts"] == 1
    assert fall["alerted"] == 1 and fall["in_episode"] == 1 and fall["recall"] == 1.0


def test_a_pairs_alert_covers_the_next_instance_whichever_of_the_two_detects_it() -> None:
    """Scene-wide truth: both people of a hug are decided it, one alert for the pair (person 1's, naming
    person 2). The second hug, 20 s on, is decided for person 2 alone: within the pair's episode, caught."""
    hugging = "hugging other person"
    truth = [Interval(10.0, 12.0, hugging), Interval(32.0, 34.0, hugging)]
    decisions = [dataclasses.replace(d, partner=2, partner_number=2)
                 for d in run(1, [], [Interval(10.0, 13.0, hugging)], 60.0)]
    decisions += [dataclasses.replace(d, partner=1, partner_number=1)
                  for d in run(2, [], [Interval(10.2, 13.0, hugging), Interval(31.0, 34.0, hugging)], 60.0)]
    decisions.sort(key=lambda d: (d.stream_time, d.tracking_id))
    scores = score({"seq": decisions}, [Track("seq", None, 0.0, 60.0, tuple(truth))], (*CLASSES, hugging),
                   durations={"seq": 60.0}, threshold=0.6,
                   alert=AlertConfig(classes=(hugging,), threshold=0.6, cooldown_s=30.0))
    row = scores.alerts[hugging]
    assert row["alerts"] == 1 and row["false_alerts"] == 0
    assert row["alerted"] == 1 and row["in_episode"] == 1 and row["recall"] == 1.0


def test_per_person_truth_a_pairs_alert_is_either_persons() -> None:
    """Truth per person (the simulator's): person 2's hug, alerted by person 1 first, naming them, and
    no alert of person 2's own (the pair's episode): caught, and not a false alert of person 1's."""
    hugging = "hugging other person"
    truth = [Interval(10.0, 13.0, hugging, 2)]
    decisions = [dataclasses.replace(d, partner=2, partner_number=2)
                 for d in run(1, [], [Interval(9.8, 13.0, hugging)], 30.0)]
    decisions += [dataclasses.replace(d, partner=1, partner_number=1)
                  for d in run(2, truth, truth, 30.0)]
    decisions.sort(key=lambda d: (d.stream_time, d.tracking_id))
    tracks = [Track("seq", 1, 0.0, 30.0, ()), Track("seq", 2, 0.0, 30.0, tuple(truth))]
    scores = score({"seq": decisions}, tracks, (*CLASSES, hugging), durations={"seq": 30.0}, threshold=0.6,
                   alert=AlertConfig(classes=(hugging,), threshold=0.6, cooldown_s=30.0))
    row = scores.alerts[hugging]
    assert row["alerts"] == 1 and row["false_alerts"] == 0 and row["alerted"] == 1 and row["recall"] == 1.0


def test_background_of_people_each_idle_is_their_idle_time_summed() -> None:
    """Two people each acting half of 20 s: somebody acts all the time, yet each was idle 10 s of their
    own, and a false event of either is rated against those 20 person-seconds, as the report says."""
    first, second = [Interval(0.0, 10.0, "wave", 1)], [Interval(10.0, 20.0, "wave", 2)]
    decisions = {"seq": run(1, first, first, 20.0) + run(2, second, second, 20.0)}
    tracks = [Track("seq", 1, 0.0, 20.0, tuple(first)), Track("seq", 2, 0.0, 20.0, tuple(second))]
    scores = score(decisions, tracks, CLASSES, durations={"seq": 20.0}, threshold=0.6, alert=ALERTS)
    assert scores.background_hours == pytest.approx(20 / 3600) and scores.background_per_person
    from training.streaming import format_scores

    assert "h of background (each person's idle time, summed)" in format_scores(scores, "run")


def test_false_events_are_split_into_background_and_the_wrong_action_during_another() -> None:
    truth = [Interval(5.0, 9.0, "wave", 1), Interval(14.0, 16.0, "fall", 1)]
    # The wave called a fall (during another action); a fall out of nothing (in background).
    said = [Interval(5.0, 9.0, "fall", 1), Interval(20.0, 22.0, "fall", 1)]
    decisions = {"seq": run(1, truth, said, 30.0)}
    scores = score(decisions, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={"seq": 30.0},
                   threshold=0.6, alert=ALERTS)
    assert scores.false_events == 2 and scores.false_events_in_background == 1
    # wave is never said: its recall 0 weighs as much as no_action's, whatever their share of the stream
    assert scores.per_class["wave"]["recall_50"] == 0.0 and scores.mean_class_recall < scores.frame_accuracy
    assert scores.false_events_per_hour == pytest.approx(2 / ((30 - 6) / 3600))  # per hour of background
    assert scores.false_events_per_room_hour == pytest.approx(2 / (30 / 3600))
    # A false event wholly before a true action of another class is in background too, not "during" it.
    early = {"seq": run(1, truth, [Interval(1.0, 3.0, "fall", 1)], 30.0)}
    scores = score(early, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES, durations={"seq": 30.0},
                   threshold=0.6, alert=ALERTS)
    assert scores.false_events == 1 and scores.false_events_in_background == 1


def test_scene_wide_truth_merges_the_people() -> None:
    """PKU-MMD labels the scene: both people's events of one instance are one detection."""
    truth = [Interval(5.0, 9.0, "wave")]
    decisions = {"pku": run(1, truth, truth, 20.0) + run(2, truth, [Interval(5.5, 9.0, "wave")], 20.0)}
    track = Track("pku", None, 0.0, 20.0, tuple(truth))
    scores = score(decisions, [track], CLASSES, durations={"pku": 20.0}, threshold=0.6, alert=ALERTS)
    assert scores.per_class["wave"]["events"] == 1 and scores.per_class["wave"]["precision_50"] == 1.0
    # Only events that overlap are one: two waves 20 s apart, each seen by one of the two, are two
    # detections of two instances (merged into one long one, both instances missed their IoU).
    truth = [Interval(5.0, 9.0, "wave"), Interval(30.0, 34.0, "wave")]
    decisions = {"pku": run(1, truth, truth[:1], 40.0) + run(2, truth, truth[1:], 40.0)}
    track = Track("pku", None, 0.0, 40.0, tuple(truth))
    scores = score(decisions, [track], CLASSES, durations={"pku": 40.0}, threshold=0.6, alert=ALERTS)
    assert scores.per_class["wave"]["events"] == 2 and scores.per_class["wave"]["recall_50"] == 1.0


def test_events_are_the_apps_events() -> None:
    truth = [Interval(5.0, 9.0, "wave", 1)]
    found = detections("s", run(1, truth, truth, 20.0), threshold=0.6)
    assert [(d.label, d.person) for d in found] == [("wave", 1)]
    assert found[0].start == pytest.approx(5.0, abs=HOP) and found[0].end == pytest.approx(9.0, abs=HOP)
    # A smoothed run's decisions describe windows older than their own: the spans move back by the lag.
    lagged = detections("s", run(1, truth, truth, 20.0), threshold=0.6, lag_s=0.4)
    assert (lagged[0].start, lagged[0].end) == pytest.approx((found[0].start - 0.4, found[0].end - 0.4))
    assert lagged[0].first_decision == found[0].first_decision  # delays and alerts keep stream time
    # Below the threshold nothing is an event.
    quiet = [decide(1, t, "wave", p=0.5) for t in np.arange(2, 10, 0.2)]
    assert detections("s", quiet, threshold=0.6) == []
    # A score wavering around the threshold: three events, or one that lasts while it stays >= 0.3.
    wavering = [decide(1, round(2 + 0.2 * i, 1), "wave", p)
                for i, p in enumerate([0.7, 0.5, 0.7, 0.4, 0.8, 0.1])]
    assert len(detections("s", wavering, threshold=0.6)) == 3
    (one,) = detections("s", wavering, threshold=0.6, end_threshold=0.3)
    assert (one.start, one.end) == pytest.approx((2.0 - WINDOW / 2, 3.0 - WINDOW / 2))
    # An event's score (what mAP ranks by) is its own decisions', not the one that ended it, which may
    # still name the class below the end threshold.
    ending = [decide(1, 2.0, "wave", 0.9), decide(1, 2.2, "wave", 0.9), decide(1, 2.4, "wave", 0.45)]
    (ended,) = detections("s", ending, threshold=0.6, end_threshold=0.5)
    assert ended.score == pytest.approx(0.9)


def test_a_fall_the_sensor_loses_runs_to_the_last_frame_seen() -> None:
    """A Kinect often loses a person lying on the floor: their decisions stop one window into the fall.
    No later window will describe that window's second half, so the event runs to its newest frame."""
    truth = [Interval(10.0, 11.0, "fall", 1)]
    lost = run(1, truth, truth, 11.0)  # the last decision (stream time 11.0) is centred on 10.0
    (fall,) = detections("s", lost, threshold=0.6)
    assert (fall.start, fall.end) == pytest.approx((10.0, 11.0))
    scores = score({"s": lost}, [Track("s", 1, 0.0, 11.0, tuple(truth))], CLASSES, durations={"s": 11.0},
                   threshold=0.6, alert=ALERTS)
    assert scores.per_class["fall"]["f1_50"] == 1.0
    # A person still seen ends the event at the first window centred past it, as before.
    (seen,) = detections("s", run(1, truth, truth, 20.0), threshold=0.6)
    assert seen.end == pytest.approx(11.0, abs=HOP)


def test_frame_accuracy_now_is_scored_against_the_truth_at_the_newest_frame() -> None:
    """A window ending just as a wave starts is about no_action (its centre) while staff already see the
    wave (its newest frame): the two accuracies are two different figures, each against its own truth."""
    from dataclasses import replace

    decisions = [replace(decide(1, 2.0 + HOP * k, NO_ACTION, truth=NO_ACTION), truth_now=now)
                 for k, now in enumerate(["wave", "wave", "wave", NO_ACTION])]
    decisions.append(replace(decide(1, 2.8, "wave", truth=NO_ACTION), truth_now="wave"))
    decisions.append(replace(decide(1, 3.0, "wave", truth="wave"), truth_now=None))  # newest frame unknown
    scores = score({"seq": decisions}, [Track("seq", 1, 0.0, 3.0, (Interval(2.0, 3.0, "wave", 1),))],
                   CLASSES, durations={"seq": 3.0}, threshold=0.99, alert=ALERTS)
    assert scores.frame_accuracy == pytest.approx(5 / 6)  # all but the wave said at 2.8
    assert scores.frame_accuracy_now == pytest.approx(2 / 5)  # the last no_action and the wave at 2.8


def test_average_precision_matches_a_worked_example() -> None:
    # Ranked hits T F T with 2 positives: precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1 -> AP = 1/2 + 1/2 * 2/3.
    assert average_precision([0.9, 0.8, 0.7], [True, False, True], 2) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([], [], 3) == 0.0 and average_precision([0.5], [False], 0) is None


def test_decisions_round_trip_through_json() -> None:
    d = decide(7, 3.4, "fall", truth="fall")
    again = Decision.from_json(d.to_json())
    assert (again.tracking_id, again.stream_time, again.window_start, again.truth) == (7, 3.4, 1.4, "fall")
    assert again.topk[0] == ("fall", 0.9)
    with_partner = Decision.from_json(dataclasses.replace(d, partner=8, partner_number=2).to_json())
    assert (with_partner.partner, with_partner.partner_number, again.partner) == (8, 2, None)


def test_the_timeline_draws_a_person_who_left_before_any_decision(tmp_path) -> None:
    """A person seen for less than a window's history has truth and no decision (an hour of the simulated
    room had one): the timeline shows an empty prediction row instead of failing after the scoring."""
    from training.streaming import class_colours, write_timeline_png

    tracks = [Track("room", 1, 0.0, 10.0, (Interval(4.0, 6.0, "wave"),)),
              Track("room", 2, 3.0, 4.0, ())]
    decisions = {"room": run(1, [Interval(4.0, 6.0, "wave")], [Interval(4.0, 6.0, "wave")], 10.0)}
    write_timeline_png(tmp_path / "timeline.png", tracks, decisions, list(CLASSES))
    image = cv2.imread(str(tmp_path / "timeline.png"))
    # write_timeline_png's layout: rows of truth (upper bar) above prediction (lower bar), 14 px bars
    # 10 px apart from y = 30, drawn from x = 190 to 10 px before the right edge; each bar's inside here.
    def bar(row: int, lower: bool) -> np.ndarray:
        y = 30 + row * (2 * 14 + 10) + (15 if lower else 0)
        return image[y + 2:y + 12, 192:image.shape[1] - 12].reshape(-1, 3)

    white, idle, wave = (255, 255, 255), class_colours(CLASSES)[NO_ACTION], class_colours(CLASSES)["wave"]
    colours = {tuple(int(v) for v in c) for c in np.unique(bar(0, lower=True), axis=0)}
    assert colours == {white, idle, wave}  # person 1: decided from their first window's centre on
    assert (bar(1, lower=False) == idle).all()  # person 2: their truth (nothing but no_action) drawn ...
    assert (bar(1, lower=True) == white).all()  # ... above an empty prediction row, not person 1's


def test_the_timeline_legend_writes_class_names_in_any_script(tmp_path) -> None:
    from training.streaming import write_timeline_png

    tracks = [Track("room", 1, 0.0, 10.0, (Interval(4.0, 6.0, "wave"),))]
    decisions = {"room": run(1, [Interval(4.0, 6.0, "wave")], [Interval(4.0, 6.0, "wave")], 10.0)}
    pictures = []
    for name in ("Πτώση", "Πίνει"):  # the same length: OpenCV's font wrote both as '?????'
        write_timeline_png(tmp_path / f"{len(pictures)}.png", tracks, decisions, [*CLASSES, name])
        pictures.append(cv2.imread(str(tmp_path / f"{len(pictures)}.png")))
    assert pictures[0].shape == pictures[1].shape and (pictures[0] != pictures[1]).any()


def test_average_precision_interpolates_precision_as_pascal_voc_does() -> None:
    # Ranked miss, hit, hit of two instances: precision at recall 1/2 is raised to 2/3 (the best at
    # any higher recall), so AP is 2/3, not the 0.583 of the raw curve.
    assert average_precision([0.9, 0.8, 0.7], [False, True, True], positives=2) == pytest.approx(2 / 3)
    assert average_precision([0.7, 0.8, 0.9], [True, True, False], positives=2) == pytest.approx(2 / 3)
    assert average_precision([0.9, 0.8], [True, False], positives=2) == pytest.approx(0.5)


def test_two_detections_of_one_instance_the_higher_score_takes_it() -> None:
    truth = [Interval(10.0, 14.0, "wave")]
    closer_but_less_sure = Detection("s", 1, "wave", 10.0, 14.0, 10.5, score=0.6)
    surer = Detection("s", 1, "wave", 11.0, 14.0, 11.5, score=0.9)
    hit, owner = _match([closer_but_less_sure, surer], truth, threshold=0.5)
    assert hit == [False, True] and owner == [1]
    # At exactly the threshold a detection still counts.
    hit, _ = _match([Detection("s", 1, "wave", 12.0, 14.0, 12.5, score=0.9)], truth, threshold=0.5)
    assert hit == [True]


def test_an_event_as_close_to_two_instances_goes_to_the_earlier() -> None:
    # The later one took it, and its delay was measured from that one's start (-5 s).
    both = [Interval(10.0, 14.0, "wave"), Interval(16.0, 20.0, "wave")]
    hit, owner = _match([Detection("s", 1, "wave", 10.0, 20.5, 11.0, score=0.9)], both, threshold=0.1)
    assert hit == [True] and owner == [0, -1]


def _one_wave(said: list[tuple[float, float, float]], *truths: Interval) -> float | None:
    """The median delay of a wave said over `said` (window-centre spans, each with its probability)."""
    decisions = []
    for end in np.arange(WINDOW, 30.0 + 1e-9, HOP):
        centre = end - WINDOW / 2
        p = next((p for start, stop, p in said if start <= centre < stop), None)
        decisions.append(decide(1, round(float(end), 3), "wave" if p else NO_ACTION, p or 0.9))
    track = Track("s", 1, 0.0, 30.0, truths)
    return score({"s": decisions}, [track], CLASSES, durations={"s": 30.0}, threshold=0.6,
                 alert=ALERTS).median_delay_s


def test_the_delay_is_until_the_action_was_first_named() -> None:
    wave = Interval(10.0, 20.0, "wave", 1)
    # In two events, the surer later one matched: staff saw it named from the first one's first decision
    # (centre 11 s, its window ending at 12 s), not 5.5 s in.
    assert _one_wave([(11.0, 13.0, 0.8), (14.5, 21.0, 0.95)], wave) == pytest.approx(2.0)
    # Named before it began (an event from 5 s on): named from its start, not -4 s.
    assert _one_wave([(5.0, 21.0, 0.9)], wave) == 0.0
    # A wave said mostly before it (IoU < 0.1 with it) is a false event, not its first naming.
    assert _one_wave([(0.0, 10.5, 0.8), (14.5, 21.0, 0.95)], wave) == pytest.approx(5.6)  # centre 14.6
    # One event as close to two waves (IoU 4/10.6 with each), listed latest first: the earlier takes it,
    # named 1 s after its start (the later one's start is after it was named: 0 s).
    two = (Interval(16.0, 20.0, "wave", 1), Interval(10.0, 14.0, "wave", 1))
    assert _one_wave([(10.0, 20.5, 0.9)], *two) == pytest.approx(1.0)


def test_the_report_gives_the_map_at_both_thresholds_and_the_idle_rate_of_the_idle_time() -> None:
    from training.streaming import format_scores

    truth = [Interval(5.0, 9.0, "wave", 1), Interval(14.0, 16.0, "fall", 1)]
    said = [Interval(7.5, 9.0, "wave", 1), Interval(20.0, 22.0, "fall", 1)]
    scores = score({"seq": run(1, truth, said, 30.0)}, [Track("seq", 1, 0.0, 30.0, tuple(truth))], CLASSES,
                   durations={"seq": 30.0}, threshold=0.6, alert=ALERTS)
    report = format_scores(scores, "title")
    assert "mAP@0.5   0.0% (@0.1 50.0%)" in report
    idle_rate = scores.false_events_in_background / scores.background_hours
    assert f"1 in background ({idle_rate:.1f} per hour of it)" in report


def test_an_alert_a_little_before_or_after_its_instance_is_true() -> None:
    fall = Interval(20.0, 22.0, "fall", person=1)
    assert _near(20.0 - ALERT_SLACK_S, fall) and _near(22.0 + ALERT_SLACK_S, fall)
    assert not _near(20.0 - ALERT_SLACK_S - 0.05, fall) and not _near(22.0 + ALERT_SLACK_S + 0.05, fall)


def test_background_counts_overlapping_true_actions_once() -> None:
    """Intervals of one person that overlap (an action labelled within another) are busy time once: counted
    twice, background shrank and false events per hour of it grew."""
    from training.stream_metrics import _union_length

    assert _union_length([(0.0, 4.0), (2.0, 6.0)], 0.0, 10.0) == pytest.approx(6.0)
    assert _union_length([(2.0, 6.0), (0.0, 4.0), (8.0, 20.0)], 0.0, 10.0) == pytest.approx(8.0)
    track = Track("s", 1, 0.0, 10.0, (Interval(0.0, 4.0, "wave", 1), Interval(2.0, 6.0, "fall", 1)))
    assert track.background_s == pytest.approx(4.0)
