from __future__ import annotations

import numpy as np
import pytest

from core.timeline import (
    ACTION_FRACTION,
    NO_ACTION,
    Interval,
    Timeline,
    TimelineError,
    intervals_from_labels,
)

CLASSES = ("drink", "fall", "wave")


def test_label_at_and_background() -> None:
    timeline = Timeline.checked([Interval(1.0, 2.0, "drink"), Interval(3.0, 5.0, "fall", person=7)],
                                classes=CLASSES, duration=6.0)
    assert timeline.label_at(0.5) == NO_ACTION
    assert timeline.label_at(1.0) == "drink"
    assert timeline.label_at(2.0) == NO_ACTION  # end is exclusive
    assert timeline.label_at(4.0, person=7) == "fall"
    assert timeline.label_at(4.0, person=8) == NO_ACTION  # another person's action
    assert timeline.label_at(1.5, person=8) == "drink"  # a scene-wide label applies to everybody


def test_window_label_is_the_truth_at_the_centre_for_actions_half_a_window_long() -> None:
    # For actions at least half a window long, coverage >= 1/2 <=> the window's centre lies inside them.
    timeline = Timeline.checked(
        [Interval(10.0, 14.0, "wave"), Interval(20.0, 21.2, "drink")], classes=CLASSES
    )
    width = 2.0
    for centre in np.arange(7.0, 24.0, 0.05) + 0.013:  # off the exact half-way boundaries
        start, end = centre - width / 2, centre + width / 2
        assert timeline.window_label(start, end) == timeline.label_at(centre), centre
    assert ACTION_FRACTION == 0.5


def test_window_label_picks_the_action_covering_most() -> None:
    timeline = Timeline.checked([Interval(0.0, 1.2, "drink"), Interval(1.2, 2.0, "wave")], classes=CLASSES)
    assert timeline.window_label(0.0, 2.0) == "drink"  # 60% drink, 40% wave
    assert timeline.window_label(0.8, 2.0) == "wave"  # 0.4 s drink, 0.8 s wave
    assert timeline.window_label(1.5, 2.5) == "wave"  # exactly half: the action
    # 35%, off the centre
    assert Timeline.checked([Interval(1.6, 1.95, "wave")]).window_label(1.0, 2.0) == NO_ACTION


def test_window_label_of_an_action_shorter_than_half_a_window_is_the_truth_at_the_centre() -> None:
    # A 0.8 s kick never covers half of a 2 s window; the windows centred on it still take it.
    kick = Interval(10.0, 10.8, "kick")
    timeline = Timeline.checked([Interval(4.0, 9.9, "wave"), kick], classes=(*CLASSES, "kick"))
    for centre in np.arange(9.0, 12.0, 0.05) + 0.013:
        start, end = centre - 1.0, centre + 1.0
        assert timeline.window_label(start, end) == timeline.label_at(centre), centre
    assert timeline.window_label(9.2, 11.2) == "kick"  # wave covers 0.7 s of it, the kick 0.8 s
    # Only an action too short to ever cover the fraction is taken at the centre: a long one that covers
    # 60% of a window asked to be 70% covered is not the window's label.
    walk = Timeline.checked([Interval(10.8, 16.0, "wave")], classes=CLASSES)
    assert walk.window_label(10.0, 12.0, fraction=0.7) == NO_ACTION
    assert walk.window_label(10.0, 12.0, fraction=0.6) == "wave"


@pytest.mark.parametrize(
    ("interval", "message"),
    [
        (Interval(2.0, 1.0, "drink"), r"ends \(1.000 s\) before it starts"),
        (Interval(1.0, 9.0, "drink"), "past the end of the stream"),
        (Interval(1.0, 2.0, "jump"), "label 'jump' is not one of the classes"),
        (Interval(1.0, 2.0, NO_ACTION), "is the background"),
        (Interval(-1.0, 2.0, "drink"), "starts before the stream"),
    ],
)
def test_bad_intervals_name_the_file_and_line(interval: Interval, message: str) -> None:
    with pytest.raises(TimelineError, match=rf"labels/0005-L.txt: line 3: .*{message}"):
        Timeline.checked([Interval(0.0, 0.5, "wave"), Interval(0.6, 0.7, "fall"), interval],
                         classes=CLASSES, duration=8.0, source="labels/0005-L.txt", lines=[1, 2, 3])


def test_overlap_of_one_person_is_an_error() -> None:
    overlapping = [Interval(0.0, 2.0, "drink", 1), Interval(1.0, 3.0, "wave", 1)]
    with pytest.raises(TimelineError, match=r"clip.json: line 5 \(wave 1.000-3.000 s\): overlaps line 4 "
                                            r"\(drink 0.000-2.000 s\) of the same person"):
        Timeline.checked(overlapping, source="clip.json", lines=[4, 5])
    # Two people may act at once; a scene-wide interval collides with anybody's.
    Timeline.checked([Interval(0.0, 2.0, "drink", 1), Interval(1.0, 3.0, "wave", 2)])
    with pytest.raises(TimelineError, match="overlaps"):
        Timeline.checked([Interval(0.0, 2.0, "drink", 1), Interval(1.0, 3.0, "wave")])
    # In either order: a person's action starting inside a scene-wide one collides with it too.
    with pytest.raises(TimelineError,
                       match=r"clip.json: line 5 \(drink 1.000-3.000 s\): overlaps line 4 \(wave"):
        Timeline.checked([Interval(0.0, 2.0, "wave"), Interval(1.0, 3.0, "drink", 1)], source="clip.json",
                         lines=[4, 5])


def test_json_round_trip_and_errors() -> None:
    timeline = Timeline.checked([Interval(0.5, 1.5, "fall", 3), Interval(2.0, 2.5, "drink")], classes=CLASSES)
    again = Timeline.from_json(timeline.to_json(), classes=CLASSES, source="x.json")
    assert again.intervals == timeline.intervals
    with pytest.raises(TimelineError, match="x.json: intervals entry 2: expected"):
        Timeline.from_json([{"start": 0, "end": 1, "label": "fall"}, {"start": 1}], source="x.json")
    with pytest.raises(TimelineError, match="must be a list"):
        Timeline.from_json({"start": 0}, source="x.json")


def test_intervals_from_per_frame_labels() -> None:
    times = np.arange(10) / 10.0
    labels = [None, None, "drink", "drink", "drink", NO_ACTION, "fall", "fall", None, "fall"]
    got = intervals_from_labels(times, labels, person=4)
    assert [(round(i.start, 2), round(i.end, 2), i.label, i.person) for i in got] == [
        (0.2, 0.5, "drink", 4), (0.6, 0.8, "fall", 4), (0.9, 1.0, "fall", 4)]


def test_iou() -> None:
    a, b = Interval(0.0, 2.0, "x"), Interval(1.0, 3.0, "x")
    assert a.iou(b) == pytest.approx(1 / 3)
    assert a.iou(Interval(5.0, 6.0, "x")) == 0.0
