"""Headless output, events, alerts, the CLI and clean shutdown (live/headless.py, live/app.py)."""

from __future__ import annotations

import dataclasses
import datetime
import hashlib
import json
import logging
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
from model_files import random_checkpoint

from core.engines import Backend, unavailable_reason
from core.model.checkpoint import load_checkpoint
from core.timeline import NO_ACTION
from live.app import build_parser, checkpoint_for, config_from_args, main, no_display_reason, open_source
from live.headless import (
    PROCESS_STARTED,
    AlertConfig,
    AlertDispatcher,
    EventLog,
    HeadlessConfig,
    run_headless,
)
from live.pipeline import LivePipeline, PipelineConfig
from live.sources import ReplayOptions, replay_source
from live.worker import Decision, Hop, RecognitionConfig

REPO = Path(__file__).resolve().parents[1]
CLASSES = ("drink", "wave", "sit_down", "fall_down")
PARTS = ("left_hand", "right_hand", "full_body")


@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory) -> Path:
    from core.model.profiles import tiny

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return random_checkpoint(path, tiny(len(CLASSES)), CLASSES, duration_s=1.0)


@pytest.fixture()
def ntu_clip(shared_data, tmp_path):
    name = "S001C001P001R001A001"
    clip = tmp_path / "clip"
    clip.mkdir()
    (clip / f"{name}.skeleton").symlink_to(shared_data / "ntu" / "skeletons" / f"{name}.skeleton")
    (clip / f"{name}_rgb.avi").symlink_to(shared_data / "ntu" / "rgb" / f"{name}_rgb.avi")
    return clip


def decision(person: int, t: float, action: str, p: float) -> Decision:
    others = [(c, (1 - p) / 3) for c in (*CLASSES, NO_ACTION) if c != action]
    return Decision(time=1700000000.0 + t, stream_time=t, tracking_id=person, topk=((action, p), *others[:2]),
                    parts=PARTS, attention=np.full(3, 1 / 3, np.float32), latency_s=0.1)


def hop(t: float, *decisions: Decision) -> Hop:
    return Hop(t, decisions)


# ---- events ---------------------------------------------------------------------------------------

def test_event_log_marks_actions_crossing_the_threshold(tmp_path):
    path = tmp_path / "events.jsonl"
    log = EventLog(threshold=0.6, path=path, room="bed 2", model="f76599c9e38a")
    assert log.update(hop(0.0, decision(1, 0.0, "drink", 0.4))) == []
    started = log.update(hop(0.2, decision(1, 0.2, "drink", 0.7)))
    assert [(e.kind, e.action) for e in started] == [("started", "drink")]
    assert log.update(hop(0.4, decision(1, 0.4, "drink", 0.9))) == []  # still going: nothing new
    changed = log.update(hop(1.0, decision(1, 1.0, "wave", 0.8)))
    assert [(e.kind, e.action) for e in changed] == [("ended", "drink"), ("started", "wave")]
    assert changed[0].duration_s == pytest.approx(0.8)
    log.update(hop(1.5, decision(1, 1.5, "wave", 0.9)))
    log.close()  # the run stops: what goes on ends as of its last decision
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [(e["event"], e["action"]) for e in lines] == [
        ("started", "drink"), ("ended", "drink"), ("started", "wave"), ("ended", "wave")]
    assert lines[-1]["duration_s"] == 0.5 and lines[0]["person"] == 1
    assert {line["room"] for line in lines} == {"bed 2"}  # rooms sharing a file stay apart
    assert {line["model"] for line in lines} == {"f76599c9e38a"}  # as decision lines: which model said it
    # Why each ended: a dashboard could not tell an action over from an app that stopped.
    assert [line.get("why") for line in lines] == [None, "another_action", None, "run_ended"]


def test_an_event_of_somebody_who_left_ends_at_their_last_decision_not_when_their_track_went():
    """A person's track retires a second after they were last seen, and a --fast replay's hops come in
    batches of seconds: their event ended wherever that batch stopped (2.2, 3.6 or 5.4 s long on three
    runs of one replay), counting time nobody was there. It ends at their last decision that held it."""
    log = EventLog(threshold=0.6)
    log.update(hop(9.0, decision(1, 9.0, "drink", 0.8), decision(2, 9.0, "wave", 0.9)))
    log.update(hop(9.6, decision(1, 9.6, "drink", 0.7), decision(2, 9.6, "wave", 0.9)))
    for t in (10.2, 10.8, 11.4, 12.0):  # person 1 out of view: only person 2 is decided
        log.update(hop(t, decision(2, t, "wave", 0.9)))
    log.keep_only({2})
    ended = log.events[-1]
    assert (ended.kind, ended.person, ended.stream_time, ended.why) == ("ended", 1, 9.6, "left_view")
    assert ended.duration_s == pytest.approx(0.6)
    log.close()
    assert (log.events[-1].person, log.events[-1].stream_time) == (2, 12.0)


def test_no_action_is_never_an_event_and_ends_the_current_one():
    log = EventLog(threshold=0.6)
    assert [(e.kind, e.action) for e in log.update(hop(0.0, decision(1, 0.0, "wave", 0.8)))] == [
        ("started", "wave")]
    ended = log.update(hop(0.2, decision(1, 0.2, NO_ACTION, 0.95)))  # confident that nothing happens
    assert [(e.kind, e.action, e.why) for e in ended] == [("ended", "wave", "over")]
    assert log.update(hop(0.4, decision(1, 0.4, NO_ACTION, 0.99))) == []
    with pytest.raises(ValueError, match="background class"):
        AlertDispatcher(AlertConfig(classes=(NO_ACTION,)), (*CLASSES, NO_ACTION))


def test_an_end_threshold_keeps_a_wavering_action_one_event():
    """Hysteresis: an event starts at the threshold and lasts while its action stays at or above the end
    threshold; without one, a score wavering around the threshold is a run of short events."""
    wavering = [0.7, 0.55, 0.65, 0.45, 0.7, 0.35, 0.2]  # drink's probability, hop by hop

    def events(log: EventLog) -> list[tuple[str, str, float]]:
        out = []
        for i, p in enumerate(wavering):
            d = decision(1, i * 0.2, "drink", p)
            if p == 0.35:  # wave on top (below the threshold): drink's own probability still counts
                d = dataclasses.replace(d, topk=(("wave", 0.4), ("drink", p), (NO_ACTION, 0.2)))
            out += [(e.kind, e.action, round(e.stream_time, 1)) for e in log.update(hop(i * 0.2, d))]
        return out

    assert events(EventLog(threshold=0.6)) == [
        ("started", "drink", 0.0), ("ended", "drink", 0.2), ("started", "drink", 0.4),
        ("ended", "drink", 0.6), ("started", "drink", 0.8), ("ended", "drink", 1.0)]
    assert events(EventLog(threshold=0.6, end_threshold=0.3)) == [
        ("started", "drink", 0.0), ("ended", "drink", 1.2)]
    # Another action reaching the threshold ends the event however high the first one still is.
    log = EventLog(threshold=0.6, end_threshold=0.3)
    log.update(hop(0.0, decision(1, 0.0, "drink", 0.8)))
    switched = log.update(hop(0.2, decision(1, 0.2, "wave", 0.62)))
    assert [(e.kind, e.action) for e in switched] == [("ended", "drink"), ("started", "wave")]
    # An end threshold above the threshold is the threshold (an event cannot need more to last than to start).
    assert EventLog(threshold=0.6, end_threshold=0.9).end_threshold == 0.6

    # How long an event lasts does not depend on --top-k: with one class shown, the ongoing action's
    # probability (0.32, second) is still read from the whole distribution.
    log = EventLog(threshold=0.6, end_threshold=0.3)
    log.update(hop(0.0, decision(1, 0.0, "drink", 0.8)))
    top1 = dataclasses.replace(decision(1, 0.2, NO_ACTION, 0.66), topk=((NO_ACTION, 0.66),),
                               probabilities={NO_ACTION: 0.66, "drink": 0.32, "wave": 0.02})
    assert log.update(hop(0.2, top1)) == []
    dropped = dataclasses.replace(top1, stream_time=0.4, probabilities={NO_ACTION: 0.8, "drink": 0.2})
    assert [(e.kind, e.action) for e in log.update(hop(0.4, dropped))] == [("ended", "drink")]


def test_events_in_the_log_say_how_long_they_lasted(caplog):
    """Said of the person as the window and the alerts name them (their number), with the sensor's id."""
    log = EventLog(threshold=0.6)  # no file: the log
    with caplog.at_level("INFO", logger="live.headless"):
        log.update(hop(1.0, dataclasses.replace(decision(72057594037927940, 1.0, "drink", 0.8), number=2)))
        log.update(hop(3.4, dataclasses.replace(decision(72057594037927940, 3.4, NO_ACTION, 0.9), number=2)))
    assert "event at 1.00 s: person 2 (tracking id 72057594037927940) started drink (p=0.80)" in caplog.text
    assert "event at 3.40 s: person 2 (tracking id 72057594037927940) ended drink after 2.4 s" in caplog.text
    assert [e.to_json()["number"] for e in log.events] == [2, 2]
    # With its room, as the ALERT line names it (several rooms' apps may log to one collector).
    log = EventLog(threshold=0.6, room="ward 3")
    with caplog.at_level("INFO", logger="live.headless"):
        log.update(hop(1.0, dataclasses.replace(decision(7, 1.0, "drink", 0.8), number=1)))
    assert "event at 1.00 s: ward 3: person 1 (tracking id 7) started drink (p=0.80)" in caplog.text


# ---- alerts ---------------------------------------------------------------------------------------

def test_alerts_fire_once_per_episode_per_person(caplog):
    alerts = AlertDispatcher(AlertConfig(classes=("FALL_DOWN",), threshold=0.6, cooldown_s=5.0), CLASSES)
    fired = []
    for i in range(20):  # a fall seen by 20 decisions in a row: one alert
        fired += alerts.update(hop(i * 0.2, decision(1, i * 0.2, "fall_down", 0.9)))
    assert len(fired) == 1 and fired[0].action == "fall_down" and fired[0].person == 1
    # Its line gives the stream's time as the event lines do: a replay's labels are in stream time.
    assert "fall_down (p=0.90) at " in caplog.text and ", 0.00 s into the stream" in caplog.text
    fired += alerts.update(hop(4.0, decision(2, 4.0, "fall_down", 0.95)))  # somebody else: alerted
    assert len(fired) == 2
    fired += alerts.update(hop(6.0, decision(1, 6.0, "fall_down", 0.9)))  # within 5 s of the last sighting
    assert len(fired) == 2
    fired += alerts.update(hop(12.0, decision(1, 12.0, "fall_down", 0.9)))  # a new episode
    assert len(fired) == 3
    fired += alerts.update(hop(30.0, decision(1, 30.0, "fall_down", 0.5)))  # below the threshold
    assert len(fired) == 3
    # Kept: the latest thousand at most; counted: every one (the run's summary said 502 of 40,000).
    for person in range(1200):
        alerts.update(hop(40.0, decision(100 + person, 40.0, "fall_down", 0.9)))
    assert alerts.raised == 1203 and len(alerts.alerts) <= 1000


def test_a_two_person_action_is_one_alert_for_the_pair_naming_both(caplog):
    """The network sees both bodies of a fight and decides "punching" for both: one page, not two, and it
    says who with whom. A one-person action of two people near each other is still two alerts."""
    punching, fall = "punching/slapping other person", "fall_down"
    alerts = AlertDispatcher(AlertConfig(classes=(punching, fall), threshold=0.6, cooldown_s=5.0),
                             (punching, fall, NO_ACTION))

    def of(person: int, t: float, action: str, partner: int | None) -> Decision:
        return Decision(time=1700000000.0 + t, stream_time=t, tracking_id=person, topk=((action, 0.9),),
                        parts=(), attention=np.zeros(0, np.float32), latency_s=0.1, number=person - 10,
                        partner=partner, partner_number=0 if partner is None else partner - 10)

    fired = []
    for i in range(10):  # both decided punching, each with the other as partner, hop after hop
        t = i * 0.2
        fired += alerts.update(hop(t, of(11, t, punching, 12), of(12, t, punching, 11)))
    assert len(fired) == 1
    alert = fired[0]
    assert (alert.person, alert.partner, alert.number, alert.partner_number) == (11, 12, 1, 2)
    assert alert.people == (11, 12) and alert.who() == "person 1 with person 2"
    assert alert.to_json()["partner"] == 12 and alert.to_json()["partner_number"] == 2
    environment = alert.environment()
    assert environment["ALERT_PARTNER"] == "12" and environment["ALERT_PARTNER_NUMBER"] == "2"
    assert "person 1 with person 2 (tracking ids 11 and 12): punching" in caplog.text
    # The pair's episode goes on while either of them is decided it; another pair is an alert of its own.
    fired += alerts.update(hop(4.0, of(12, 4.0, punching, 11)))
    fired += alerts.update(hop(4.0, of(13, 4.0, punching, 14)))
    assert [a.people for a in fired] == [(11, 12), (13, 14)]
    # A fall is each person's own, partner or not; its alert names no partner.
    fired += alerts.update(hop(5.0, of(11, 5.0, fall, 12), of(12, 5.0, fall, 11)))
    assert [a.people for a in fired[2:]] == [(11,), (12,)]
    assert "partner" not in fired[2].to_json() and fired[2].environment()["ALERT_PARTNER"] == ""
    # Three close together: 21 punches 22, whose nearest is 23; then 21's nearest turns to 23. Each
    # person's partner is their own nearest, not always the other's: still one fight, one page.
    fired = []
    for i in range(5):
        t = 40 + i * 0.2
        partner_of_21 = 22 if i < 3 else 23
        fired += alerts.update(hop(t, of(21, t, punching, partner_of_21), of(22, t, punching, 23)))
    assert [a.who() for a in fired] == ["person 11 with person 12"]
    # 22 goes on to another person 2 s later (within the cooldown): a new fight, paged, naming them. And
    # once the nurse has acknowledged it, 22 turning on yet another is news, not part of the fight seen.
    fired += alerts.update(hop(43.0, of(22, 43.0, punching, 24)))
    assert [a.who() for a in fired[1:]] == ["person 12 with person 14"]
    alerts.acknowledge()
    fired += alerts.update(hop(43.4, of(22, 43.4, punching, 25)))
    assert [a.who() for a in fired[2:]] == ["person 12 with person 15"]
    # 31 and 32 fight; then 32 goes on with 33, 31 gone: joined for a second, then their own alert, naming
    # 33 (before, the joined decisions kept the first pair's fight going, and 33 was never named).
    fired = alerts.update(hop(60.0, of(31, 60.0, punching, 32), of(32, 60.0, punching, 31)))
    for i in range(1, 20):
        fired += alerts.update(hop(60.0 + i * 0.2, of(32, 60.0 + i * 0.2, punching, 33)))
    assert [a.who() for a in fired] == ["person 21 with person 22", "person 22 with person 23"]
    # A cooldown shorter than that second (--alert-cooldown 0.5): 32 turning on 33 is one new alert, not
    # one every few hops.
    brief = AlertDispatcher(AlertConfig(classes=(punching,), threshold=0.6, cooldown_s=0.5),
                            (punching, fall, NO_ACTION))
    fired = brief.update(hop(0.0, of(31, 0.0, punching, 32), of(32, 0.0, punching, 31)))
    for i in range(1, 30):
        fired += brief.update(hop(i * 0.2, of(32, i * 0.2, punching, 33)))
    assert [a.who() for a in fired] == ["person 21 with person 22", "person 22 with person 23"]


def test_a_fall_after_an_acknowledged_one_is_an_alert_of_its_own():
    """The window's a: staff have seen the alert. Within the 30 s cooldown, a fall ten seconds after the
    first is a new alert once acknowledged (the nurse trusts the bar); a score dipping under the
    threshold for a moment while the patient still lies there is not; and unacknowledged, the episode
    runs its cooldown as before."""
    def falls(alerts, times):
        return [a for t in times for a in alerts.update(hop(t, decision(1, t, "fall_down", 0.9)))]

    config = AlertConfig(classes=("fall_down",), threshold=0.6, cooldown_s=30.0)
    alerts = AlertDispatcher(config, CLASSES)
    assert len(falls(alerts, [0.0, 0.2, 0.4])) == 1
    alerts.acknowledge()
    assert falls(alerts, [0.6, 2.0, 4.0]) == []  # still on the floor, 1.4 s gaps: the same episode
    assert len(falls(alerts, [14.0, 14.2])) == 1  # up, then down again 10 s later: a second alert
    assert falls(alerts, [18.0]) == []  # not acknowledged: its episode runs the 30 s cooldown
    unacknowledged = AlertDispatcher(config, CLASSES)
    assert len(falls(unacknowledged, [0.0, 0.2, 0.4, 14.0, 14.2])) == 1


def test_a_page_of_the_same_person_and_class_says_how_long_after_their_last():
    """A patient still down, their fall score touching the threshold again after the cooldown, was paged
    as if it were a new fall: a new id, nothing linking it to the last page. Each page of a person and
    class within AGAIN_WITHIN_S of their last now says how long ago that was."""
    from live.headless import AGAIN_WITHIN_S

    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), threshold=0.6, cooldown_s=30.0), CLASSES)
    first, again, other, much_later = (
        alerts.update(hop(t, decision(person, t, "fall_down", 0.9)))[0]
        for person, t in ((1, 0.0), (1, 35.0), (2, 36.0), (1, 35.0 + AGAIN_WITHIN_S + 1)))
    assert first.again_after_s is None and "again_after_s" not in first.to_json()
    assert again.again_after_s == 35.0 and again.to_json()["again_after_s"] == 35.0
    assert again.environment()["ALERT_AGAIN_AFTER_S"] == "35.0"
    assert first.environment()["ALERT_AGAIN_AFTER_S"] == ""
    assert other.again_after_s is None  # another person's first
    assert much_later.again_after_s is None  # over an hour on: news again


def test_the_thresholds_and_the_cooldown_count_their_own_value():
    """A probability at the threshold alerts and starts an event, one at the end threshold keeps the
    event going, and a sighting a whole cooldown after the last one is a new episode."""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), threshold=0.5, cooldown_s=5.0), CLASSES)
    assert len(alerts.update(hop(0.0, decision(1, 0.0, "fall_down", 0.5)))) == 1
    assert alerts.update(hop(4.75, decision(1, 4.75, "fall_down", 0.9))) == []  # the same episode
    assert len(alerts.update(hop(9.75, decision(1, 9.75, "fall_down", 0.9)))) == 1  # 5 s on: a new one
    log = EventLog(threshold=0.5, end_threshold=0.25)
    assert [e.kind for e in log.update(hop(0.0, decision(1, 0.0, "drink", 0.5)))] == ["started"]
    held = dataclasses.replace(decision(1, 0.2, NO_ACTION, 0.75), topk=((NO_ACTION, 0.75), ("drink", 0.25)),
                               probabilities={NO_ACTION: 0.75, "drink": 0.25})
    assert log.update(hop(0.2, held)) == []  # still drinking


def test_an_alert_needs_its_class_on_top_as_an_event_does():
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), threshold=0.4, cooldown_s=5.0), CLASSES)
    sitting = dataclasses.replace(decision(1, 0.0, "sit_down", 0.52),
                                  topk=(("sit_down", 0.52), ("fall_down", 0.42), (NO_ACTION, 0.06)))
    assert alerts.update(hop(0.0, sitting)) == []  # the screen says sit_down: no fall alert
    # Nor does the second-ranked sighting start an episode that would hold back the real fall's alert.
    fired = alerts.update(hop(0.2, decision(1, 0.2, "fall_down", 0.7)))
    assert [(a.action, a.person) for a in fired] == [("fall_down", 1)]


def test_a_decisions_file_is_appended_to_and_the_log_says_so(tmp_path, caplog):
    from live.headless import DecisionWriter

    path = tmp_path / "decisions.jsonl"
    for run in range(2):  # a service restarted: one file, both runs' lines
        with caplog.at_level("INFO", "live.headless"):
            writer = DecisionWriter(path)
        writer.write_hop(hop(float(run), decision(3, 0.0, "wave", 0.8)))
        writer.close()
        assert ("appending after an earlier run's lines" in caplog.text) == (run == 1)
    assert len(path.read_text().splitlines()) == 2


def test_unknown_alert_class_is_an_error_that_lists_the_classes():
    with pytest.raises(ValueError, match="falling.*drink, wave"):
        AlertDispatcher(AlertConfig(classes=("falling",)), CLASSES)
    many = tuple(f"class {i}" for i in range(12)) + ("fall_down",)  # the last is listed too, and offered
    says = r"\['fall_dwn'\].*did you mean 'fall_down'\? \(it has: .*class 11, fall_down\)"
    with pytest.raises(ValueError, match=says):
        AlertDispatcher(AlertConfig(classes=("fall_dwn",)), many)
    # The hint is an action holding every word typed, before the closest by letters ("pushing other
    # person", another action); never the background, which is then refused.
    pku = ("punching/slapping other person", "pushing other person", "hugging other person", NO_ACTION)
    with pytest.raises(ValueError, match="did you mean 'punching/slapping other person'"):
        AlertDispatcher(AlertConfig(classes=("punching other person",)), pku)
    with pytest.raises(ValueError, match=r"\['No Action'\] are not among") as refused:
        AlertDispatcher(AlertConfig(classes=("No Action",)), pku)
    assert "did you mean" not in str(refused.value)
    # A name that looks the same is the same class, as in labels.txt (a Mac types é as e + accent).
    from live.headless import alert_classes

    assert alert_classes(("Cafe\u0301 break", "FALL_DOWN"), ("Caf\u00e9 break", "fall_down")) == {
        "Caf\u00e9 break", "fall_down"}
    # A model with one action under two spellings (an older version's labels.txt): both alert, unless
    # one is named as spelt.
    twice = ("Caf\u00e9", "Cafe\u0301", "fall_down")
    assert alert_classes(("CAF\u00c9",), twice) == {"Caf\u00e9", "Cafe\u0301"}
    assert alert_classes(("Cafe\u0301",), twice) == {"Cafe\u0301"}


def test_the_default_alert_classes_are_found_in_the_model_s_own_spelling():
    # Without --alert-class a fall alerts by default: a model that spells it "Falling" or "FALL_DOWN"
    # must not leave the room unwatched for falls.
    from live.headless import default_alert_classes

    assert default_alert_classes(("drink", "Falling", "wave")) == ("Falling",)
    assert default_alert_classes(("SIT_DOWN", "FALL_DOWN")) == ("FALL_DOWN",)
    assert default_alert_classes(CLASSES) == ("fall_down",)
    assert default_alert_classes(("drink", "wave")) == ()


def test_alert_command_gets_the_alert_in_its_environment(tmp_path, monkeypatch):
    # Under systemd: the unit's notify socket and watchdog are the app's, not its command's.
    monkeypatch.setenv("NOTIFY_SOCKET", "/run/systemd/notify")
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    out = tmp_path / "alert.json"
    script = (f"import os; open({str(out)!r}, 'w').write(os.environ['ALERT_JSON'] + '|' + "
              f"os.environ['ALERT_CLASS'] + '|' + os.environ.get('NOTIFY_SOCKET', 'unset') + "
              f"os.environ.get('WATCHDOG_USEC', '') + '|' + os.environ['ALERT_HOST'] + '|' + "
              f"os.environ['ALERT_MODEL'])")
    command = f"{sys.executable} -c \"{script}\""
    room = AlertConfig(classes=("fall_down",), command=command, room="ward 3, bed 2")
    alerts = AlertDispatcher(room, CLASSES, model="f76599c9e38a")
    alerts.update(hop(1.0, dataclasses.replace(decision(3, 1.0, "fall_down", 0.8), tracked=0.35)))
    alerts.close(timeout=20)
    record, action, notify_socket, host, model = out.read_text().split("|")
    # Which model raised it: a site trying a new one in some rooms tells their pages apart.
    assert model == json.loads(record)["model"] == "f76599c9e38a"
    assert action == "fall_down" and json.loads(record)["person"] == 3
    # Which computer raised it: a room seen by two sensors (a Kinect v2 is one to a computer) pages twice.
    assert host == json.loads(record)["host"] == socket.gethostname()
    assert notify_socket == "unset"
    assert json.loads(record)["tracked"] == 0.35  # a body mostly guessed: the receiver may weigh that
    assert json.loads(record)["room"] == "ward 3, bed 2"  # one nurse-call endpoint, many rooms
    # Every variable for every kind: a command reading ALERT_MODEL for a room's alert finds it empty.
    from live.headless import RoomAlert

    room_alert = RoomAlert("room_unwatched", ("no_frames",), 0.0, 30.0, 30.0, "ward 3, bed 2")
    assert set(room_alert.environment()) == set(alerts.alerts[0].environment())
    assert alerts.hook_failures == 0


@pytest.mark.skipif(os.name != "posix", reason="a POSIX locale's encoding; Windows' environment is Unicode")
def test_an_alert_command_runs_for_a_room_named_in_accents_under_an_ascii_locale(tmp_path) -> None:
    """LC_ALL=C without Python's UTF-8 mode (a service's locale): "Zimmer Ö" could not be put in the
    command's environment, the command never started, and the page was lost. It gets the name's UTF-8."""
    out = tmp_path / "room.txt"
    hook = f"{sys.executable} -c \"import os; open({str(out)!r}, 'wb').write(os.environb[b'ALERT_ROOM'])\""
    script = (
        "from live.headless import AlertConfig, AlertDispatcher\n"
        f"config = AlertConfig(classes=('fall_down',), command={hook!r}, room='Zimmer \\u00d6 \\u2013 12',\n"
        "                     unwatched_after_s=1.0)\n"
        f"alerts = AlertDispatcher(config, {list(CLASSES)!r})\n"
        "assert alerts.watch_room(['no_frames'], 0.0) is None\n"
        "assert alerts.watch_room(['no_frames'], 1.0).kind == 'room_unwatched'\n"
        "alerts.close(timeout=20)\n"
        "assert alerts.hook_failures == 0, alerts.hook_failures\n"
    )
    ascii_locale = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0",
                    "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", script], env=ascii_locale, capture_output=True, text=True,
                          encoding="utf-8", errors="replace", timeout=120)
    assert done.returncode == 0, done.stderr
    assert out.read_bytes() == "Zimmer Ö – 12".encode()


@pytest.mark.skipif(os.name != "posix", reason="process groups: killpg")
def test_a_hung_alert_command_that_cannot_be_stopped_is_said_and_given_up_on(tmp_path, monkeypatch, caplog):
    """A hung command become another account's (sudo in it): killpg's PermissionError escaped at every
    look at the commands, in the window's tick too (no alert again), and ended a headless run."""
    import live.headless as headless

    hangs = f"{sys.executable} -c \"import time; time.sleep(30)\""
    config = AlertConfig(classes=("fall_down",), command=hangs, room="ward 3", unwatched_after_s=1.0)
    alerts = AlertDispatcher(config, CLASSES)
    killpg = os.killpg

    def not_permitted(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    alerts.watch_room(["no_frames"], 0.0)
    assert alerts.watch_room(["no_frames"], 1.0) is not None  # its command runs, and hangs
    monkeypatch.setattr(headless.os, "killpg", not_permitted)
    alerts._reap(hung_after_s=0.0)  # said, not raised
    alerts._reap(hung_after_s=0.0)  # looked at again: not stopped again
    assert "cannot be stopped: Operation not permitted" in caplog.text
    assert caplog.text.count("cannot be stopped") == 1
    monkeypatch.setattr(headless.os, "killpg", killpg)
    for child, _, _ in alerts._children:
        child.kill()
    alerts.close(timeout=20)


def test_a_room_not_watched_is_paged_once_and_once_more_when_it_is_watched_again(tmp_path, caplog):
    """An unplugged sensor or a stuck recognition was said in the log, the status file and the window, and
    to nobody the pages reach: a nurse-call system went on trusting a room where no fall could be alerted.
    Now the room is paged after `unwatched_after_s`, once an outage, and again when it is watched."""
    out = tmp_path / "pages.txt"
    script = (f"import os; open({str(out)!r}, 'a').write(os.environ['ALERT_KIND'] + '|' + "
              f"os.environ['ALERT_PROBLEMS'] + '|' + os.environ['ALERT_CLASS'] + '|' + "
              f"os.environ['ALERT_JSON'] + chr(10))")
    config = AlertConfig(classes=("fall_down",), command=f"{sys.executable} -c \"{script}\"", room="ward 3",
                         unwatched_after_s=30.0)
    alerts = AlertDispatcher(config, CLASSES)

    def watch(span: range, problems: list[str]) -> list:
        return [alert for t in span if (alert := alerts.watch_room(problems, float(t))) is not None]

    assert watch(range(0, 30), ["no_frames", "missing_frames"]) == []  # 29 s: a Kinect may reopen by then
    [unwatched] = watch(range(30, 31), ["no_frames"])
    assert (unwatched.kind, unwatched.problems, unwatched.unwatched_s) == (
        "room_unwatched", ("no_frames",), 30.0)
    assert watch(range(31, 33), ["sensor_disconnected"]) == []  # the same outage: paged once
    assert watch(range(33, 38), []) == []  # a gap under WATCHED_AGAIN_S
    assert watch(range(38, 40), ["no_frames"]) == []
    assert watch(range(40, 49), ["decisions_late", "alert_delivery_failing"]) == []  # worse, not blind
    [again] = watch(range(49, 51), [])  # none seen for WATCHED_AGAIN_S from 40 s
    assert again.kind == "room_watched_again" and again.unwatched_s == 40.0
    assert again.problems == ("no_frames", "sensor_disconnected") and again.since == unwatched.since
    # A shorter outage is the log's and the status file's alone, and the next one is counted afresh.
    assert watch(range(100, 129), ["recognition_stuck"]) + watch(range(129, 140), []) == []
    assert watch(range(140, 169), ["no_decisions"]) == []
    assert [a.kind for a in watch(range(169, 171), ["no_decisions"])] == ["room_unwatched"]
    assert alerts.raised == 3 and [a.kind for a in alerts.room_alerts] == [
        "room_unwatched", "room_watched_again", "room_unwatched"]
    alerts.close(timeout=20)
    # The commands run side by side, and append in whatever order they finish.
    pages = sorted(line.split("|", 3) for line in out.read_text().splitlines())
    assert [page[:3] for page in pages] == [["room_unwatched", "no_decisions", ""],
                                            ["room_unwatched", "no_frames", ""],
                                            ["room_watched_again", "no_frames,sensor_disconnected", ""]]
    record = json.loads(pages[1][3])
    assert record["kind"] == "room_unwatched" and record["room"] == "ward 3" and record["unwatched_s"] == 30.0
    assert "person" not in record and alerts.hook_failures == 0
    assert "ALERT: ward 3: the room has not been watched for 30 s (no_frames)" in caplog.text
    assert "ALERT: ward 3: the room is watched again (it was not for 40 s)" in caplog.text
    # Off (--alert-unwatched-after 0), or with nothing to alert for, the room is never paged.
    for quiet in (dataclasses.replace(config, command=None, unwatched_after_s=None),
                  dataclasses.replace(config, command=None, classes=())):
        alerts = AlertDispatcher(quiet, CLASSES)
        assert [alerts.watch_room(["sensor_disconnected"], float(t)) for t in range(100)] == [None] * 100


def test_a_computer_that_slept_pages_the_hours_nothing_watched_the_room(monkeypatch, caplog):
    """A room PC suspended or hibernated: on Linux the monotonic clock stops while it sleeps, so hours
    asleep looked like no time at all, and nobody was paged that no fall there could have been alerted.
    The sleep is an outage from when it fell asleep (computer_asleep), paged on waking; a blink is not."""
    import live.headless as headless

    asleep = [7200.0]  # the computer slept two hours before the app began: no outage of this run's
    monkeypatch.setattr(headless, "time_asleep_s", lambda: asleep[0])
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), room="ward 3", unwatched_after_s=30.0),
                             CLASSES)
    before = time.time()
    assert [alerts.watch_room([], float(t)) for t in range(3)] == [None] * 3
    asleep[0] += 1.5  # under ASLEEP_COUNTS_S: no outage at all, nothing said
    assert [alerts.watch_room([], float(t)) for t in range(3, 20)] == [None] * 17
    assert "slept" not in caplog.text
    asleep[0] += 3 * 3600.0  # three hours asleep between the readings at 19 s and 20 s
    unwatched = alerts.watch_room([], 20.0)
    assert unwatched is not None and unwatched.kind == "room_unwatched"
    assert unwatched.problems == ("computer_asleep",) and unwatched.unwatched_s == 3 * 3600.0
    assert unwatched.since == pytest.approx(before - 3 * 3600.0, abs=5)  # when it fell asleep
    assert "ward 3: the computer slept for 10800 s: nothing watched the room meanwhile" in caplog.text
    assert [alerts.watch_room([], float(t)) for t in range(21, 30)] == [None] * 9
    again = alerts.watch_room([], 31.0)  # watched for WATCHED_AGAIN_S since 21 s
    assert again is not None and again.kind == "room_watched_again" and again.unwatched_s == 3 * 3600 + 1.0
    asleep[0] += 10.0  # a short sleep is an outage under unwatched_after_s: the log's alone
    assert [alerts.watch_room([], float(t)) for t in range(40, 60)] == [None] * 20
    assert alerts.raised == 2 and "the computer slept for 10 s" in caplog.text
    # Asleep during an outage: the sleep is part of it (it was dropped: an unplugged sensor's 20 s and 3 h
    # asleep paged nothing; a paged outage's end said 42 s).
    unplugged_at = time.time()
    assert [alerts.watch_room(["sensor_disconnected"], float(t)) for t in range(100, 120)] == [None] * 20
    asleep[0] += 3 * 3600.0
    [unwatched] = [a for t in range(120, 122) if (a := alerts.watch_room([], float(t))) is not None]
    assert unwatched.kind == "room_unwatched" and unwatched.unwatched_s == 20 + 3 * 3600.0
    assert unwatched.since == pytest.approx(unplugged_at, abs=5)  # on the wall clock, which counted the sleep
    assert unwatched.problems == ("sensor_disconnected", "computer_asleep")
    again = [a for t in range(122, 140) if (a := alerts.watch_room([], float(t))) is not None]
    assert [a.kind for a in again] == ["room_watched_again"] and again[0].unwatched_s == 21 + 3 * 3600.0
    assert [alerts.watch_room(["no_frames"], float(t)) for t in range(200, 231)][-1].kind == "room_unwatched"
    asleep[0] += 3600.0  # paged, then asleep: its end says the hour too (watched from 232 s on)
    again = [a for t in range(231, 250) if (a := alerts.watch_room([], float(t))) is not None]
    assert [a.kind for a in again] == ["room_watched_again"] and again[0].unwatched_s == 32 + 3600.0
    monkeypatch.undo()
    assert headless.time_asleep_s() >= -0.01  # seconds asleep since boot: never less than none


def test_a_room_outage_is_timed_from_its_start_and_outlives_a_restart(tmp_path, caplog):
    """A stuck read is reported 10 s into itself, and ends the run at 60 s for the service manager to
    restart: the page came 40 s into the outage, and the run started again neither knew it had been paged
    (it paged it again) nor paged its end once the sensor worked (the nurse-call system held a page that
    never ended)."""
    from live.headless import room_outage_file

    queue = tmp_path / "alerts" / "queue.jsonl"
    kept = room_outage_file(queue, "ward 3")  # rooms sharing the folder: one file each
    assert room_outage_file(queue, "ward-3") == tmp_path / "alerts" / "ward-3.unwatched.json"
    assert kept.parent == queue.parent and kept.name.startswith("ward_3-")
    assert room_outage_file(queue, "ward_3") != kept
    upper, lower = (room_outage_file(queue, room).name for room in ("Bed3", "bed3"))
    assert upper.lower() != lower.lower()  # one name on NTFS, were it not for the hash
    assert len(room_outage_file(queue, "x" * 300).name) < 100
    config = AlertConfig(classes=("fall_down",), room="ward 3", unwatched_after_s=30.0, outage_file=kept)
    alerts = AlertDispatcher(config, CLASSES)
    t0 = time.monotonic() - 10.0  # the read stuck since 10 s ago, by either clock
    assert alerts.watch_room(["source_read_stuck"], t0 + 10.0, already_s=10.0) is None
    paged = alerts.watch_room(["source_read_stuck"], t0 + 30.0, already_s=30.0)
    assert paged is not None and paged.unwatched_s == 30.0  # 30 s from the read's start, not 40
    alerts.close(timeout=5)
    assert json.loads(kept.read_text())["problems"] == ["source_read_stuck"]

    restarted = AlertDispatcher(config, CLASSES)  # the same outage goes on: not paged again
    assert "an earlier run paged the room as not watched since" in caplog.text
    t1 = time.monotonic()
    assert [restarted.watch_room(["sensor_disconnected"], t1 + t) for t in range(40)] == [None] * 40
    restarted._room.close()  # the writes so far waited for: the file has every problem of the outage
    assert json.loads(kept.read_text())["problems"] == ["source_read_stuck", "sensor_disconnected"]
    assert [restarted.watch_room([], t1 + 40 + t) for t in range(10)] == [None] * 10
    [again] = [a for t in range(10, 12) if (a := restarted.watch_room([], t1 + 40 + t)) is not None]
    assert again.kind == "room_watched_again" and again.since == paged.since
    # From the read's start, 10 s before the first run's (wall clock), to the restarted run's 40 s.
    assert again.problems == ("source_read_stuck", "sensor_disconnected") and again.unwatched_s >= 49.9
    restarted.close(timeout=5)
    assert not kept.exists()
    # Not yet paged as a run ends (a stuck read ends each run at 60 s): counted on from its start by a run
    # started soon after, afresh by one started later. (Each record: a read stuck 10 s when first seen.)
    later = dataclasses.replace(config, unwatched_after_s=60.0)
    for restart_after_s, paged_at_s in ((10.0, 40.0), (400.0, 60.0)):
        ending = AlertDispatcher(later, CLASSES)
        assert ending.watch_room(["source_read_stuck"], time.monotonic(), already_s=10.0) is None
        ending.close(timeout=5)  # ended otherwise (stopped on purpose): nothing carried over
        assert not kept.exists()
        ending = AlertDispatcher(later, CLASSES)
        assert ending.watch_room(["source_read_stuck"], time.monotonic(), already_s=10.0) is None
        ending.close(timeout=5, outage_ends_the_run=True)
        record = json.loads(kept.read_text())
        assert record["paged"] is False
        assert record["kept_at"] - record["since"] == pytest.approx(10.0, abs=5.0)
        for key in ("since", "kept_at", "since_monotonic", "kept_monotonic"):  # as if the restart came this
            record[key] -= restart_after_s  # long after
        kept.write_text(json.dumps(record))
        AlertDispatcher(later, CLASSES).close()  # taken up by a run stopped otherwise: not carried further
        assert not kept.exists()
        kept.write_text(json.dumps(record))
        started = AlertDispatcher(later, CLASSES)
        t3 = time.monotonic()
        paged = [t for t in range(80) if started.watch_room(["source_read_stuck"], t3 + t) is not None]
        assert paged in ([paged_at_s], [paged_at_s - 1])  # a second earlier where the test took one
        assert [started.watch_room([], t3 + 80 + t) for t in range(11)][-1].kind == "room_watched_again"
        started.close(timeout=5)
        assert not kept.exists()
    # The wall clock set right between the runs (NTP at boot) moves neither: an hour ahead dropped the
    # outage a restart 10 s later was to count on, an hour back counted it from nothing.
    for step_s in (3600.0, -3600.0):
        ending = AlertDispatcher(later, CLASSES)
        assert ending.watch_room(["source_read_stuck"], time.monotonic(), already_s=10.0) is None
        ending.close(timeout=5, outage_ends_the_run=True)
        record = json.loads(kept.read_text())
        for key, shift in (("since", 10.0 - step_s), ("kept_at", 10.0 - step_s), ("since_monotonic", 10.0),
                           ("kept_monotonic", 10.0)):
            record[key] -= shift  # 10 s ago by either clock, the wall clock stepped since
        kept.write_text(json.dumps(record))
        started = AlertDispatcher(later, CLASSES)
        t3 = time.monotonic()
        paged = [t for t in range(80) if started.watch_room(["source_read_stuck"], t3 + t) is not None]
        assert paged in ([40], [39]), step_s  # 20 s of the 60 already counted, as without the step
        started.close(timeout=5)
        kept.unlink(missing_ok=True)
    # Kept in another boot (the machine restarted): its monotonic clock counts from then, the wall clock
    # is the one they share; and one of a version before the monotonic keys is read as before.
    for changed in ({"boot": "another boot", "since_monotonic": -1e6, "kept_monotonic": -1e6},
                    {"boot": None, "since_monotonic": None, "kept_monotonic": None}):
        ending = AlertDispatcher(later, CLASSES)
        assert ending.watch_room(["source_read_stuck"], time.monotonic(), already_s=10.0) is None
        ending.close(timeout=5, outage_ends_the_run=True)
        record = {**json.loads(kept.read_text()), **changed}
        kept.write_text(json.dumps({key: value for key, value in record.items() if value is not None}))
        started = AlertDispatcher(later, CLASSES)
        t3 = time.monotonic()
        paged = [t for t in range(80) if started.watch_room(["source_read_stuck"], t3 + t) is not None]
        assert paged in ([50], [49]), changed  # 10 s counted by the wall clock
        started.close(timeout=5)
        kept.unlink(missing_ok=True)
    # A file that is no such record is said, naming it, and left as it is; it stops no start.
    for damaged in ("[1, 2", "[1, 2]",
                    '{"room": "ward 3", "since": 1e20, "problems": [], "paged": true, "kept_at": 1}',
                    '{"room": "ward 3", "since": true, "problems": [], "paged": true, "kept_at": 1}',
                    '{"room": "ward 3", "since": 1.0, "problems": "ab", "paged": true, "kept_at": 1}',
                    '{"room": "ward 4", "since": 1.0, "problems": [], "paged": true, "kept_at": 1}'):
        caplog.clear()
        kept.write_text(damaged)
        AlertDispatcher(config, CLASSES).close()
        assert f"{kept}: not a record of this room's outage" in caplog.text and kept.read_text() == damaged


def test_a_room_outage_file_held_open_on_windows_is_removed_once_its_reader_lets_go():
    """Windows refuses to remove a file a monitor or an antivirus holds open: the paged outage long over
    stayed, and kept the next outage from being paged. Tried again, as core.atomic replaces a file."""
    from live.headless import _unlink_retrying

    class HeldOpen:
        tries = 0

        def unlink(self, missing_ok: bool = False) -> None:
            self.tries += 1
            if self.tries < 3:
                raise PermissionError(13, "The process cannot access the file")

    held = HeldOpen()
    _unlink_retrying(held, windows=True)
    assert held.tries == 3
    with pytest.raises(PermissionError):  # elsewhere a refusal is no passing lock: said at once
        _unlink_retrying(HeldOpen(), windows=False)


def test_a_failing_alert_command_is_counted_not_fatal():
    command = f"{sys.executable} -c \"raise SystemExit(3)\""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=command), CLASSES)
    alerts.update(hop(1.0, decision(3, 1.0, "fall_down", 0.8)))
    alerts.close(timeout=20)
    assert alerts.hook_failures == 1


def test_an_alert_command_that_cannot_take_the_alert_is_a_failure_not_a_crash():
    # A NUL in a class name (a crafted or damaged model) cannot go into the command's environment.
    classes = ("fall\x00down", "no_action")
    command = f"{sys.executable} -c \"pass\""
    alerts = AlertDispatcher(AlertConfig(classes=classes[:1], command=command), classes)
    alerts.update(hop(1.0, decision(3, 1.0, classes[0], 0.8)))
    alerts.close(timeout=20)
    assert alerts.hook_failures == 1


def test_a_failed_alert_command_is_said_while_no_hop_comes(caplog):
    """A patient alone falls and leaves the sensor's view: the alert's command fails, and no hop comes to
    notice it. The window's and the headless loop's own ticks do (watch_commands). Said with the page it
    lost: the log of several rooms said only which command failed."""
    command = f"{sys.executable} -c \"raise SystemExit(3)\""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=command, room="ward 3"), CLASSES)
    alerts.update(hop(1.0, decision(3, 1.0, "fall_down", 0.8)))
    (child, _, _), = alerts._children
    child.wait(20)
    assert not alerts.command_failing  # nothing has looked yet
    with caplog.at_level("ERROR", "live.headless"):
        alerts.watch_commands()
    assert alerts.command_failing and alerts.hook_failures == 1 and alerts._children == []
    said = r"for the alert ward 3: person \d+: fall_down at 20\S+ exited with 3$"
    assert re.search(said, caplog.text, re.MULTILINE), caplog.text
    alerts.close()


def test_failed_alert_commands_are_errors_of_the_run():
    @dataclasses.dataclass(frozen=True)
    class RunSummary:
        errors: tuple[str, ...] = ()

    command = f"{sys.executable} -c \"raise SystemExit(3)\""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=command), CLASSES)
    assert alerts.report(RunSummary()) == RunSummary()
    alerts.update(hop(1.0, decision(3, 1.0, "fall_down", 0.8)))
    alerts.close(timeout=20)
    (error,) = alerts.report(RunSummary()).errors  # main() exits 1 on errors
    assert "1 run of the alert command" in error and "failed" in error


def test_an_alert_command_is_split_as_each_system_reads_a_command_line():
    """Windows: quotes only group, and backslashes are the path's. Kept, the quotes made the program's name
    one nobody has ('"C:\\Program Files\\..."'), and every quoted argument arrived with its quotes."""
    from live.headless import command_argv

    windows = r'"C:\Program Files\Pager\page.exe" --msg "patient fell" C:\alerts\log.txt'
    assert command_argv(windows, windows=True) == [
        r"C:\Program Files\Pager\page.exe", "--msg", "patient fell", r"C:\alerts\log.txt"]
    assert command_argv("/opt/pager/page --msg 'patient fell'", windows=False) == [
        "/opt/pager/page", "--msg", "patient fell"]


@pytest.mark.parametrize("command", ["./no-such-pager", "   "])
def test_an_alert_command_that_cannot_run_is_refused_at_start_up(command):
    with pytest.raises(ValueError, match="is not a program that can be run"):
        AlertConfig(classes=("fall_down",), command=command)


@pytest.mark.skipif(os.name == "nt", reason="a POSIX script and its modes")
def test_a_program_whose_path_has_a_space_is_told_to_be_quoted(tmp_path):
    """"/srv/Zimmer 3/page nurse.sh" unquoted is the program "/srv/Zimmer": the error named that alone."""
    script = tmp_path / "Zimmer 3" / "page nurse.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    with pytest.raises(ValueError) as refused:
        AlertConfig(classes=("fall_down",), command=f"{script} --room 3")
    assert str(refused.value).endswith(
        f"is not a program that can be run (not on PATH, missing or not executable); a path with spaces is "
        f'one word only in quotes within the command: "{script}" ...')
    assert AlertConfig(classes=("fall_down",), command=f'"{script}" --room 3').command  # as the hint says


def test_a_hung_alert_command_is_stopped_not_left_behind(caplog, tmp_path):
    # A paging script hung in a program it started (curl): that one is stopped too.
    started_pid = tmp_path / "grandchild.pid"
    script = ("import subprocess, sys, time; "
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); "
              f"open({str(started_pid)!r}, 'w').write(str(p.pid)); time.sleep(60)")
    command = f"{sys.executable} -c \"{script}\""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=command), CLASSES)
    alerts.update(hop(1.0, decision(3, 1.0, "fall_down", 0.8)))
    (child, _, _), = alerts._children
    deadline = time.monotonic() + 20
    while not (started_pid.is_file() and started_pid.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    grandchild = int(started_pid.read_text())
    started = time.monotonic()
    with caplog.at_level("ERROR", "live.headless"):
        alerts.close(timeout=0.5)
    assert time.monotonic() - started < 5 and child.poll() is not None  # not running past the app
    assert alerts.hook_failures == 1 and "still running after" in caplog.text
    assert "as the app ends: stopped" in caplog.text
    assert caplog.text.count("alert command") == 1  # not "exited with -9" after it too

    def running(pid: int) -> bool:  # a zombie (killed, not yet reaped by whoever adopted it) is not running
        status = Path(f"/proc/{pid}/status")
        return status.is_file() and "State:\tZ" not in status.read_text()

    if sys.platform.startswith("linux"):
        deadline = time.monotonic() + 5
        while running(grandchild) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(grandchild)


def test_a_hung_alert_command_is_stopped_a_minute_on_without_waiting_for_another_alert(monkeypatch):
    import live.headless

    command = f"{sys.executable} -c \"import time; time.sleep(60)\""
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",), command=command), CLASSES)
    alerts.update(hop(1.0, decision(3, 1.0, "fall_down", 0.8)))
    (child, _, _), = alerts._children
    monkeypatch.setattr(live.headless, "HOOK_TIMEOUT_S", 0.0)  # a minute has passed
    alerts.update(hop(1.2, decision(3, 1.2, NO_ACTION, 0.9)))  # the next hop, no alert in it: killed
    assert child.wait(5) is not None
    alerts.watch_commands()  # the next tick sees it ended
    assert alerts._children == [] and alerts.hook_failures == 1


def test_a_killed_alert_command_that_will_not_end_never_holds_up_the_window(monkeypatch, caplog):
    """A process stuck in the kernel outlives SIGKILL: each window tick waited 5 s on it (10 s more for
    taskkill on Windows), the video and the alert bar frozen meanwhile."""
    import live.headless

    class StuckInTheKernel:
        pid = 999_999_999

        def poll(self):
            return None

    monkeypatch.setattr(live.headless, "_stop_group", lambda child: None)
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",)), CLASSES)
    stuck = StuckInTheKernel()
    alerts._children.append((stuck, time.monotonic() - 3600, None))
    alerts._paged[stuck] = "the alert person 1: fall_down"
    started = time.monotonic()
    alerts.watch_commands()  # killed: not waited for
    alerts.watch_commands()
    assert time.monotonic() - started < 0.5 and len(alerts._children) == 1
    monkeypatch.setattr(live.headless, "KILLED_GIVE_UP_S", 0.0)
    with caplog.at_level("ERROR", "live.headless"):
        alerts.watch_commands()  # given up on: a failed run
    assert alerts._children == [] and alerts.hook_failures == 1 and "did not end when killed" in caplog.text


# ---- end to end -----------------------------------------------------------------------------------

def test_headless_replay_writes_json_lines_and_shuts_down_cleanly(
    tiny_checkpoint, ntu_clip, tmp_path, caplog
):
    from live.app import open_model

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    source = replay_source(ntu_clip, ReplayOptions(realtime=True))
    record_dir = tmp_path / "recorded"
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(
        recognition=RecognitionConfig(hop_s=0.5), record_from_start=record_dir))
    output = tmp_path / "decisions.jsonl"
    with caplog.at_level(logging.INFO, logger="live.headless"):
        summary = run_headless(pipeline, HeadlessConfig(output=output, health_every_s=1.0,
                                                        alerts=AlertConfig(classes=("fall_down",),
                                                                           room="ward-3-bed-2")))
    # The replay ended: every thread joined, the recording finalised.
    assert not pipeline.capture.alive and not pipeline.worker.alive
    # Paced like a sensor: on a loaded machine frames can be missed, and are then counted — also those
    # skipped after the last frame read (how many is a matter of load, which benchmarks/live_latency.py
    # measures, not this test).
    assert summary.frames + summary.dropped == 103 and summary.errors == ()
    lines = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(lines) == summary.decisions >= 2
    for line in lines:
        # No "truth": an NTU clip carries no labels per instant.
        assert set(line) == {"room", "model", "run", "time", "stream_time", "window_start", "person",
                             "number", "topk", "attention", "latency_ms", "tracked"}
        # Which model and which run: a file a service appends its restarts to is scored run by run, and
        # the run matched to its --status-file ("started", "pid").
        assert line["model"] == load_checkpoint(tiny_checkpoint).sha256[:12]
        assert line["run"] == f"{PROCESS_STARTED}/{os.getpid()}"
        assert line["number"] == 1  # the one person of the clip, as the window calls them
        assert 0.8 < line["tracked"] <= 1  # she stands in full view: the sensor tracks nearly every joint
        assert len(line["topk"]) == 3 and set(line["attention"]) == set(PARTS)
        assert 0 < line["latency_ms"] < 30_000
    assert summary.latency_p50_s is not None and summary.people_seen == 1
    # health_every_s; the room first, as on ALERT lines (one log collector may hold several rooms')
    assert "ward-3-bed-2: status: sensor connected" in caplog.text and "decisions" in caplog.text
    # Said once it runs: a room with nobody in view was silent until the first status line, 60 s on.
    assert f"running: decisions to {output}, events to this log; a status line every 1 s" in caplog.text
    (skeleton,) = record_dir.glob("*.skeleton")
    assert summary.recordings == (str(skeleton),)
    from recordings.clip import open_recording

    with open_recording(skeleton) as replayed:
        assert replayed.info.frame_count == summary.frames - summary.recorder_dropped
        assert replayed.info.color_size == (1920, 1080)
    assert any("latency" in line for line in summary.lines())


def test_stop_event_ends_a_live_run(tiny_checkpoint, ntu_clip):
    from live.app import open_model

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(replay_source(ntu_clip, ReplayOptions(loop=True)), engine, inputs)
    stop, stopped_at = threading.Event(), []

    def stop_once_running():  # not after a fixed second: on a loaded machine the start alone took longer
        def frames() -> int:
            return 0 if pipeline.capture is None else pipeline.capture.counters.frames

        deadline = time.monotonic() + 60
        while frames() < 10 and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped_at.append(time.monotonic())
        stop.set()

    threading.Thread(target=stop_once_running, daemon=True).start()
    quiet = HeadlessConfig(output=Path(os.devnull), alerts=AlertConfig(classes=()))
    summary = run_headless(pipeline, quiet, stop, duration_s=60.0)  # fails, not hangs, if ignored
    assert time.monotonic() - stopped_at[0] < 10
    assert 10 <= summary.frames < 103 and not pipeline.capture.alive


def test_cli_defaults_and_choices():
    config = config_from_args(build_parser().parse_args([]))
    assert str(config.source) == "sim" and not config.headless and config.engine == "auto"
    assert checkpoint_for(config) == REPO / "training" / "checkpoints" / "demo.pt"  # the simulated room
    assert config.pipeline.recognition.hop_s == 0.2 and config.replay.realtime
    config = config_from_args(build_parser().parse_args(
        ["--source", "x.xef", "--headless", "--fast", "--loop", "--hop", "0.5", "--alert-class", "falling",
         "--alert-command", "true", "--record"]))
    assert config.headless and not config.replay.realtime and config.replay.loop
    assert config.pipeline.lockstep  # --fast replays decide at every hop
    assert config.headless_config.lossless  # every decision of a --fast replay is written
    # A sensor never waits: neither for every hop nor for a slow --output (lossless writing would block).
    sensor = config_from_args(build_parser().parse_args(["--source", "kinect", "--fast"]))
    assert not sensor.pipeline.lockstep and not sensor.headless_config.lossless
    assert not config_from_args(build_parser().parse_args(["--source", "x.xef"])).headless_config.lossless
    assert config.pipeline.recognition.hop_s == 0.5 and config.headless_config.alerts.classes == ("falling",)
    assert config.alert_classes_given and config.pipeline.record_from_start == Path("runs/recordings")


@pytest.mark.parametrize(("argv", "message"), [
    (["--record-dir", str(REPO / "README.md")], "README.md: a file, not a folder"),
    (["--output", "no-such-folder/d.jsonl"], "folder no-such-folder does not exist"),
    (["--events", "."], "--events: .: a folder, not a file"),
    (["--threads", "0"], "--threads: must be from 1 to "),
    (["--people", "50"], "--people: must be from 1 to 6, got 50"),
    (["--threshold", "1.5"], "--threshold: must be above 0 and below 1, got 1.5"),
    (["--threshold", "1"], "--threshold: must be above 0 and below 1, got 1.0"),  # no alert could come
    (["--end-threshold", "0"], "--end-threshold: must be above 0"),
    (["--smoothing", "-1"], "--smoothing: must be from 0 (none) to 10 s, got -1"),
    (["--smoothing", "60"], "--smoothing: must be from 0 (none) to 10 s, got 60"),  # decisions a minute late
    (["--hop", "0"], "--hop: must be at least 0.0333 s"),
    (["--top-k", "0"], "--top-k: must be at least 1"),
    (["--session", "5000"], "--session: must be from 1 to 999"),  # S5000... is no NTU name
    (["--performer", "-3"], "--performer: must be from 1 to 999"),
])
def test_cli_numbers_out_of_range_are_usage_errors(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(argv)
    said = capsys.readouterr().err
    assert stop.value.code == 2 and message in said
    # One line, not the 18 of usage before it (a service's log held a screenful per mistyped option).
    assert said.count("\n") == 1 and said.endswith("(python -m live --help lists the options)\n")


def test_cli_paths_it_cannot_write_and_engines_it_lacks_are_one_clear_line(tmp_path, capsys):
    not_a_folder = tmp_path / "afile"
    not_a_folder.write_text("")
    with pytest.raises(SystemExit) as stop:  # a usage error, before anything loads
        main(["--headless", "--duration", "1", "--events", str(not_a_folder / "events.jsonl")])
    assert stop.value.code == 2 and "afile is a file, not a folder" in capsys.readouterr().err
    # A --video not there was "[Errno 2] RGB video not found: '...'", naming neither the option nor why.
    assert main(["--headless", "--source", str(tmp_path), "--video", str(tmp_path / "A001_rgb.avi")]) == 2
    assert capsys.readouterr().err == f"python -m live: --video {tmp_path / 'A001_rgb.avi'}: no such file\n"
    # A checkpoint not there is said with the models there are (the demo's was said to need training).
    assert main(["--headless", "--checkpoint", str(tmp_path / "demo.pt")]) == 2
    said = capsys.readouterr().err
    assert f"model checkpoint {tmp_path / 'demo.pt'} not found" in said and "demo.pt, nucla_lstm.pt" in said
    if unavailable_reason(Backend.TENSORRT) is not None:
        assert main(["--headless", "--duration", "1", "--engine", "tensorrt"]) == 2
        assert capsys.readouterr().err.startswith("python -m live: tensorrt:")


def test_cli_sim_low_light_is_the_room_at_night() -> None:
    """A site checks its night (the colour camera at 15 fps, dark) before it has one."""
    night = open_source(config_from_args(build_parser().parse_args(["--sim-low-light", "--seed", "1"])))
    day = open_source(config_from_args(build_parser().parse_args(["--seed", "1"])))
    assert (night.fps, day.fps) == (15.0, 30.0) and night.name == "sim (low light)"
    night.open()
    day.open()
    try:
        frames = [night.read(timeout=5.0) for _ in range(3)]
        assert [f.timestamp for f in frames] == pytest.approx([0, 1 / 15, 2 / 15])
        assert frames[0].color.mean() < day.read(timeout=5.0).color.mean()  # darker
    finally:
        night.close()
        day.close()


def test_cli_simulator_options_with_another_source_are_refused(tmp_path, capsys):
    """`--source clip.skeleton --people 1` ran the clip as it was, the option ignored without a word."""
    clip = tmp_path / "S001C001P001R001A001.skeleton"
    assert main(["--headless", "--source", str(clip), "--people", "1", "--sim-low-light"]) == 2
    assert capsys.readouterr().err == ("python -m live: --people and --sim-low-light: for the simulated "
                                       f"room (--source sim); --source {clip} is a recording\n")
    assert main(["--headless", "--source", "kinect", "--seed", "3"]) == 2
    assert "--seed: for the simulated room (--source sim); --source kinect is the sensor" in \
        capsys.readouterr().err


def test_cli_kinect_without_windows_is_one_clear_line(capsys):
    if sys.platform.startswith("win"):
        pytest.skip("this machine runs Windows")
    assert main(["--source", "kinect", "--headless"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "Windows" in err[0]


def test_no_display_is_said_before_qt_aborts(monkeypatch):
    monkeypatch.setattr(sys, "platform", "linux")
    window = config_from_args(build_parser().parse_args([]))
    bare: dict[str, str] = {}
    assert "--headless" in no_display_reason(window, bare)
    assert no_display_reason(config_from_args(build_parser().parse_args(["--headless"])), bare) is None
    assert no_display_reason(window, {"QT_QPA_PLATFORM": "offscreen"}) is None
    assert no_display_reason(window, {"WAYLAND_DISPLAY": "wayland-0"}) is None
    shot = config_from_args(build_parser().parse_args(["--screenshot", "x.png"]))
    assert no_display_reason(shot, bare) is None and bare == {"QT_QPA_PLATFORM": "offscreen"}


def test_a_display_where_no_x_server_answers_is_said_before_qt_aborts(monkeypatch):
    """A stale ssh -X session or a stopped Xvfb: DISPLAY is set, and Qt's xcb plugin aborted the process
    (exit 134) with a line about plugins. Where something listens on the display's socket it is left to Qt."""
    import socket

    monkeypatch.setattr(sys, "platform", "linux")
    window = config_from_args(build_parser().parse_args([]))
    number = 900 + os.getpid() % 99  # a display number nothing uses
    with socket.socket(socket.AF_UNIX) as server:  # where an X server listens for display :number
        server.bind(f"\0/tmp/.X11-unix/X{number}")
        server.listen(8)  # each probe connects and is never accepted
        assert no_display_reason(window, {"DISPLAY": f":{number}"}) is None
        assert no_display_reason(window, {"DISPLAY": f"unix:{number}.0"}) is None
    why = no_display_reason(window, {"DISPLAY": f":{number}"})
    assert f"DISPLAY=:{number}, but no X server answers there" in why and "--headless" in why
    with socket.socket() as server:  # ssh -X: TCP, port 6000 + N on localhost
        server.bind(("127.0.0.1", 0))
        server.listen(8)  # each probe connects and is never accepted
        port = server.getsockname()[1]  # an ephemeral port, above 6000 on every usual system
        for display in (f"127.0.0.1:{port - 6000}.0", f"tcp/127.0.0.1:{port - 6000}",
                        f":{port - 6000}"):  # no host: libxcb tries TCP on localhost after the socket
            assert no_display_reason(window, {"DISPLAY": display}) is None, display
    assert "no X server answers" in no_display_reason(window, {"DISPLAY": f"127.0.0.1:{port - 6000}"})
    # A host name is left to Qt: its lookup alone may take longer than the start-up should wait.
    assert no_display_reason(window, {"DISPLAY": "x-server.invalid:0"}) is None


def test_a_screenshot_of_a_replay_shorter_than_its_delay_is_still_taken_and_fits_a_screen(
    tiny_checkpoint, ntu_clip, tmp_path
):
    # The real NTU clip lasts 3.4 s, the screenshot waits 5 s: the window used to close at the end of the
    # replay and write nothing. Recording with blurred faces makes the longest status line, which used to
    # widen the window to 2303 px, past a 1920 px screen.
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    shot = tmp_path / "shot.png"
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(ntu_clip), "--checkpoint", str(tiny_checkpoint),
         "--engine", "torch", "--no-3d", "--privacy", "blur", "--record", "--record-dir",
         str(tmp_path / "rec"), "--screenshot", str(shot)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=180,
    )
    assert result.returncode == 0, result.stderr
    image = cv2.imread(str(shot))
    assert image is not None and image.shape[1] < 1920


def test_cli_missing_checkpoint_is_one_clear_line(capsys, ntu_clip, tmp_path):
    assert main(["--source", str(ntu_clip), "--checkpoint", str(tmp_path / "none.pt"), "--headless"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("python -m live:") and "none.pt" in err[-1]


def test_cli_headless_run_prints_json_to_stdout_and_summary_to_stderr(tiny_checkpoint, ntu_clip):
    result = subprocess.run(
        [sys.executable, "-m", "live", "--source", str(ntu_clip), "--checkpoint", str(tiny_checkpoint),
         "--engine", "torch", "--headless", "--hop", "1.0", "--alert-class", "fall_down"],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert lines and all(line["person"] == lines[0]["person"] for line in lines)
    # Paced like a sensor: frames a loaded machine was too late for are counted as dropped.
    captured = re.search(r"\[live\] capture: (\d+) frames \([^)]*\), (\d+) dropped", result.stderr)
    assert captured and int(captured[1]) + int(captured[2]) == 103, result.stderr
    # Log lines carry their time (a service's log redirected to a file had none but inside alert texts).
    stamp = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}[+-]\d\d:\d\d"  # local time and its UTC offset
    assert re.search(rf"^\[live\] {stamp} INFO live: model ", result.stderr, re.M)


def test_log_times_say_their_utc_offset(berlin_time):
    """In the hour the clocks go back (or after the clock was set back) two lines an hour apart read
    the same local time: each says its offset."""
    from live.app import _LogFormatter

    formatter = _LogFormatter("%(asctime)s %(message)s")
    stamps = []
    for utc in ("2026-10-25T00:30:00+00:00", "2026-10-25T01:30:00+00:00"):
        record = logging.LogRecord("live", logging.INFO, __file__, 1, "fall", None, None)
        record.created = datetime.datetime.fromisoformat(utc).timestamp()
        stamps.append(formatter.format(record))
    assert stamps == ["2026-10-25T02:30:00.000+02:00 fall", "2026-10-25T02:30:00.000+01:00 fall"]


def test_log_lines_go_unstamped_only_where_stderr_is_the_journal(monkeypatch, tmp_path):
    """journald stamps each line itself; JOURNAL_STREAM (its device:inode) is inherited by children, so a
    shell under systemd that writes the log to a file must still get times: stderr itself is compared."""
    from live.app import _stderr_is_journald

    with open(tmp_path / "journal", "w") as journal:
        monkeypatch.setattr(sys, "stderr", journal)
        stat = os.fstat(journal.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert _stderr_is_journald()
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino + 1}")  # inherited, not ours
        assert not _stderr_is_journald()
        monkeypatch.delenv("JOURNAL_STREAM")
        assert not _stderr_is_journald()


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_ctrl_c_shuts_a_headless_run_down_cleanly(tiny_checkpoint, ntu_clip, tmp_path, signum):
    output = tmp_path / "decisions.jsonl"
    process = subprocess.Popen(
        [sys.executable, "-m", "live", "--source", str(ntu_clip), "--loop",
         "--checkpoint", str(tiny_checkpoint), "--engine", "torch", "--headless", "--hop", "0.5",
         "--output", str(output), "--record", "--record-dir", str(tmp_path / "clips")],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    deadline = time.monotonic() + 120  # a fresh virtual environment imports torch slowly the first time
    while time.monotonic() < deadline and not (output.exists() and output.read_text().count("\n") >= 2):
        time.sleep(0.2)
    process.send_signal(signum)  # Ctrl-C, or a service manager stopping the app
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "[live] capture:" in err and "recordings:" in err  # the summary, after an orderly stop
    assert "shutting down: asked to stop (Ctrl-C or SIGTERM)" in err  # an operator's stop, says the log
    (skeleton,) = (tmp_path / "clips").glob("*.skeleton")  # the recording was finalised
    assert not list((tmp_path / "clips").glob("*.partial"))


def test_sigterm_while_starting_ends_like_ctrl_c_and_hands_the_handlers_back(monkeypatch, capsys):
    import live.app

    def slow_model_load(config):
        os.kill(os.getpid(), signal.SIGTERM)  # a service manager stopping the app while the model loads
        time.sleep(5)

    before = signal.getsignal(signal.SIGTERM)
    monkeypatch.setattr(live.app, "build_pipeline", slow_model_load)
    assert main(["--headless"]) == 130
    assert "interrupted before it started" in capsys.readouterr().err
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_closed_standard_output_is_refused_without_output(monkeypatch, capsys):
    """`python -m live --headless >&-`: Python's sys.stdout is None, the writer's thread died at the first
    line, and the run ended 0 with every decision gone."""
    monkeypatch.setattr(sys, "stdout", None)
    assert main(["--headless", "--duration", "1"]) == 2
    assert "standard output is closed" in capsys.readouterr().err


def test_a_writer_that_meets_any_error_says_so_instead_of_its_thread_dying(monkeypatch, caplog):
    """Only OSError and ValueError were caught: anything else ended the writer's thread with a traceback,
    and every later line went nowhere, the summary silent. Such an error is a defect, not the disk's: it
    is said with its type and traceback (it read as "cannot be written", a disk's trouble, and no more)."""
    import io

    from live.headless import LineWriter

    class OddStream(io.StringIO):
        def write(self, text: str) -> int:
            raise RuntimeError("a stream that fails oddly")

    monkeypatch.setattr(sys, "stdout", OddStream())
    with caplog.at_level(logging.ERROR, logger="live.headless"):
        writer = LineWriter(None, "--output")
        writer.write("{}\n")
        writer.write("{}\n")
        writer.close()
    assert writer.failure == "standard output: cannot be written (RuntimeError: a stream that fails oddly)"
    assert writer.errors() == [f"{writer.failure}; 2 lines not written"]
    [record] = [r for r in caplog.records if "standard output: cannot be written" in r.getMessage()]
    assert record.exc_info and record.exc_info[0] is RuntimeError


def test_sigterm_during_the_engine_warm_up_ends_the_start(monkeypatch, capsys):
    """The headless run's own handlers (which ask the loop to stop) came before the warm-up, which does not
    look at them: a warm-up that hung could not be stopped by Ctrl-C or SIGTERM at all."""
    import live.pipeline

    stopped_at = []

    def hanging_warm_up(self):
        stopped_at.append(time.monotonic())
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)  # a first engine call that does not return (Python-level: signals get in)

    monkeypatch.setattr(live.pipeline.LivePipeline, "warm_up", hanging_warm_up)
    assert main(["--headless", "--duration", "30"]) == 130
    assert time.monotonic() - stopped_at[0] < 20  # from the stop: the start before it took 20 s under load
    assert "interrupted before it started" in capsys.readouterr().err


HANGS_AT_THE_FIFTH_STEP = """
import runpy, sys, time
import live.worker
step, calls = live.worker.RecognitionWorker.step, []
def hanging(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 5:
        print("hanging", file=sys.stderr, flush=True)
        time.sleep(120)
    return step(self, *args, **kwargs)
live.worker.RecognitionWorker.step = hanging
sys.argv = ["live", "--headless", "--duration", "120"]
runpy.run_module("live", run_name="__main__")
"""


SENSOR_HANGS_AFTER_75_FRAMES = """
import atexit, runpy, sys, time
import live.sources
read, calls = live.sources.FrameStream.read, []
def hanging(self, *args, **kwargs):
    calls.append(1)
    if len(calls) == 75:
        time.sleep(600)  # a driver's read that never returns
    return read(self, *args, **kwargs)
live.sources.FrameStream.read = hanging
atexit.register(lambda: print("python's own exit", file=sys.stderr))
sys.argv = ["live", "--headless", "--duration", "4"]
runpy.run_module("live", run_name="__main__")
"""


def test_a_thread_stuck_at_the_end_ends_the_process_with_the_summarys_status():
    """The capture thread stuck in the simulator's rendering at exit: Python's own exit tore the libraries
    down under it and the C++ runtime aborted ("terminate called without an active exception", exit 134,
    a core dump) after the summary had said exit 1. The process now ends itself, flushed, with that 1."""
    done = subprocess.run([sys.executable, "-c", SENSOR_HANGS_AFTER_75_FRAMES], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 1, done.stderr
    assert "the capture thread did not stop in time (still running at exit)" in done.stderr
    assert "python's own exit" not in done.stderr  # ended by the app, not by Python's shutdown
    assert done.stdout.endswith("}\n") and all(json.loads(line) for line in done.stdout.splitlines())


def test_a_second_stop_signal_ends_at_once(tmp_path):
    """A stop while a recognition step hangs waits 30 s for it (silently, before): a second Ctrl-C or
    SIGTERM ends the process at once, as an operator who asks twice expects."""
    process = subprocess.Popen([sys.executable, "-c", HANGS_AT_THE_FIFTH_STEP], cwd=REPO,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines = []
    while "hanging" not in (line := process.stderr.readline()) and line:
        lines.append(line)
    time.sleep(0.5)
    process.send_signal(signal.SIGTERM)
    # Asked again once the wait is said (after its first second; a fixed sleep missed it under load).
    while "waiting up to" not in (line := process.stderr.readline()) and line:
        lines.append(line)
    lines.append(line)
    asked_again = time.monotonic()
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=60)
    err = "".join(lines) + err
    assert process.returncode == 130, err
    assert time.monotonic() - asked_again < 10  # not the 30 s the hung step is given
    assert "waiting up to 29 s more for the recognition step in progress" in err
    assert "asked to stop again: ending at once" in err


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
@pytest.mark.parametrize(("options", "status"), [(["--headless"], 2), ([], 130)], ids=["headless", "window"])
def test_sighup_while_starting_is_kept_by_a_service_and_closes_a_window(monkeypatch, capsys, options, status):
    """A headless service keeps SIGHUP (logrotate) for reopening its files, even while it starts; the
    window takes it (its terminal closed) as Ctrl-C. Neither dies of it with 129 and no summary."""
    import live.app

    def hangup_while_the_model_loads(config):
        os.kill(os.getpid(), signal.SIGHUP)
        time.sleep(0.5)
        raise ValueError("no model here")

    before = signal.getsignal(signal.SIGHUP)
    monkeypatch.setattr(live.app, "build_pipeline", hangup_while_the_model_loads)
    monkeypatch.setattr(live.app, "no_display_reason", lambda config: None)
    assert main(options) == status
    assert ("no model here" if status == 2 else "interrupted before it started") in capsys.readouterr().err
    assert signal.getsignal(signal.SIGHUP) is before


def test_a_signal_while_the_app_is_imported_is_one_line_and_130():
    """SIGTERM while `python -m live` is still importing its modules (seconds where PyTorch is imported):
    the documented "interrupted before it started" and 130, not a bare 143 (nor, for Ctrl-C, a traceback
    through the imports)."""
    sends_sigterm_while_importing = (
        "import importlib.abc, os, runpy, signal, sys\n"
        "class AtImport(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'live.headless':\n"
        "            sys.meta_path.remove(self)\n"
        "            os.kill(os.getpid(), signal.SIGTERM)\n"
        "        return None\n"
        "sys.meta_path.insert(0, AtImport())\n"
        "sys.argv = ['live', '--headless', '--duration', '20', '--output', os.devnull]\n"
        "runpy.run_module('live', run_name='__main__')\n"
    )
    result = subprocess.run([sys.executable, "-c", sends_sigterm_while_importing], cwd=REPO,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 130, result.stderr
    assert result.stderr.strip() == "python -m live: interrupted before it started"


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_signals_while_qt_starts_are_held_then_handed_over():
    """Raised inside PySide's imports or shiboken's start-up, KeyboardInterrupt is swallowed (the window
    then runs until killed) or aborts Python: the window's start-up holds Ctrl-C / SIGTERM and acts on
    them after (`run_window`)."""
    from live.app import _signals_held

    before, hangup_before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    with _signals_held() as held:
        os.kill(os.getpid(), signal.SIGTERM)
        os.kill(os.getpid(), signal.SIGHUP)  # the terminal the window was started from closed
        time.sleep(0.05)  # the handlers run between bytecodes of this thread, here
    assert held == [signal.SIGTERM, signal.SIGHUP] and signal.getsignal(signal.SIGTERM) is before

    def close_the_window(signum, frame):
        pass

    with _signals_held(then=close_the_window):  # built: the window's own handlers take over
        pass
    assert signal.getsignal(signal.SIGTERM) is close_the_window
    signal.signal(signal.SIGTERM, before)
    with pytest.raises(RuntimeError), _signals_held(then=close_the_window):
        raise RuntimeError("the window could not be built")
    assert signal.getsignal(signal.SIGTERM) is before  # failed: the handlers before come back
    signal.signal(signal.SIGHUP, hangup_before)


@pytest.mark.parametrize(("options", "says"), [
    (["--headless", "--screenshot", "shot.png"], "--screenshot saves a view of the window"),
    (["--screenshot", "shot.xyz"], "name the image .png"),
    (["--screenshot", "no/such/folder/shot.png"], "folder no/such/folder does not exist"),
    (["--hop", "0.01"], "--hop: must be at least 0.0333 s (one Kinect frame)"),
    (["--alert-command", "'unterminated"], "--alert-command \"'unterminated\": No closing quotation"),
    (["--checkpoint", "."], "a folder, not a checkpoint file"),
    (["--checkpoint", "in_the_way.engine"], "a TensorRT engine is built and cached by the app itself"),
    (["--alert-queue", "q/queue.jsonl"], "--alert-queue sets how alerts are sent to --alert-url, but no"),
    (["--room", " "], "--room: empty; name where the sensor is"),
    # A line break made one ALERT record two log lines, the second forgeable; an escape coloured the log.
    (["--room", "Ward 3\nALERT: Ward 4"], "a room name is text without tabs, line breaks or invisible"),
    (["--room", "r\x1b[31mRED"], "it has U+001B"),
    # Its rename replaced the decisions every 10 s; the window writes none, which a monitor takes for gone.
    (["--headless", "--status-file", "same.jsonl", "--output", "same.jsonl"],
     "same.jsonl: already the file of the decisions (--output); give each its own file"),
    (["--alert-url", "http://127.0.0.1:9/", "--alert-queue", "."],
     ": a folder; give the queue's file"),  # named in full: a service's working folder is not known
    (["--alert-url", "http://127.0.0.1:9/", "--alert-queue", "in_the_way/queue.jsonl"],
     "in_the_way cannot be made a folder (a file of that name is in the way)"),
    # Credentials: never in the URL (urllib does not send them; ps and every log show them), from a file
    # of one line, and not without a delivery to send them with.
    (["--alert-url", "https://nurse:secret@127.0.0.1:9/"], "a user name or password in the URL is not sent"),
    (["--alert-url", "http://127.0.0.1:9/", "--alert-auth-file", "in_the_way"], "expected one line"),
    (["--alert-url", "http://127.0.0.1:9/", "--alert-auth-file", "two_lines"], "found 2"),
    (["--alert-auth-file", "two_lines"], "--alert-auth-file sets how alerts are sent to --alert-url, but no"),
])
def test_bad_start_up_options_are_one_line_naming_the_option(options, says, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "in_the_way").write_text("")
    (tmp_path / "in_the_way.engine").write_text("")
    (tmp_path / "two_lines").write_text("Bearer abc\nBearer def\n")
    try:
        code = main([*options, "--duration", "1"] + ([] if "--screenshot" in options else ["--headless"]))
    except SystemExit as refused:  # argparse's own checks
        code = refused.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and says in err[-1] and "Traceback" not in "\n".join(err)


def test_the_window_refuses_a_status_file_it_would_never_write(tmp_path) -> None:
    with pytest.raises(ValueError, match="--status-file: for --headless runs"):
        config_from_args(build_parser().parse_args(["--status-file", str(tmp_path / "status.json")]))
    # /dev/null for two outputs is no clash of files.
    config = config_from_args(build_parser().parse_args(["--headless", "--output", os.devnull,
                                                         "--events", os.devnull]))
    assert config.headless_config.events == Path(os.devnull)


def test_a_reader_closing_stdout_ends_the_run_cleanly(tiny_checkpoint, ntu_clip):
    """`python -m live --headless | head -1`: an endless source must not keep running (and the shell
    waiting) once nobody reads, nor die with a BrokenPipeError traceback."""
    process = subprocess.Popen(
        [sys.executable, "-m", "live", "--source", str(ntu_clip), "--loop", "--fast",
         "--checkpoint", str(tiny_checkpoint), "--engine", "torch", "--headless", "--hop", "0.5"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert json.loads(process.stdout.readline())["person"] is not None
    process.stdout.close()  # the reader goes away
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 0, err
    assert "closed its end" in err and "[live] capture:" in err and "Traceback" not in err
    assert "shutting down: the output's reader is gone" in err


def test_alerts_with_a_way_of_their_own_outlive_the_reader_of_stdout(tiny_checkpoint, ntu_clip):
    """A bridge program reading the decisions through a pipe crashed: the run ended, alerts with it, and
    exited 0 (a service manager restarts only on failure). Alerts that go by --alert-command go on."""
    process = subprocess.Popen(
        [sys.executable, "-m", "live", "--source", str(ntu_clip), "--loop", "--fast", "--duration", "6",
         "--checkpoint", str(tiny_checkpoint), "--engine", "torch", "--headless", "--hop", "0.5",
         "--alert-command", "true"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    assert json.loads(process.stdout.readline())["person"] is not None
    process.stdout.close()  # the reader goes away
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 1, err
    assert "alerts still go out (--alert-command / --alert-url), so the run goes on" in err
    assert "shutting down: --duration 6 s" in err and "decision lines not written" in err


def test_cli_privacy_and_alert_delivery_options(tmp_path):
    from core.privacy import PrivacyMode

    config = config_from_args(build_parser().parse_args(
        ["--privacy", "blur", "--alert-url", "https://nurse-call.example/alerts",
         "--alert-queue", str(tmp_path / "q.jsonl"), "--alert-timeout", "2.5"]))
    assert config.privacy is PrivacyMode.BLUR
    delivery = config.headless_config.alerts.delivery
    assert delivery.url == "https://nurse-call.example/alerts" and delivery.queue_path == tmp_path / "q.jsonl"
    assert delivery.timeout_s == 2.5 and delivery.authorization is None
    assert config_from_args(build_parser().parse_args([])).headless_config.alerts.delivery is None
    token = tmp_path / "token"
    token.write_text("Bearer s3cret-token\n")
    token.chmod(0o600)
    delivery = config_from_args(build_parser().parse_args(
        ["--alert-url", "https://nurse-call.example/alerts", "--alert-auth-file", str(token)]
    )).headless_config.alerts.delivery
    assert delivery.authorization == "Bearer s3cret-token" and "s3cret" not in repr(delivery)
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--privacy", "pixelate"])


def test_cli_alert_url_that_is_not_http_is_one_clear_line(capsys):
    assert main(["--headless", "--alert-url", "nurse-call.example/alerts"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "http" in err[0] and "--alert-url" in err[0]


def test_headless_record_with_a_label_names_and_labels_the_whole_clip(tiny_checkpoint, tmp_path):
    """`--record --label X`: NTU-style names with the site's id (a new class goes into labels.txt), one
    session per run, and a sidecar that labels the whole clip."""
    from recordings.clip import read_sidecar
    from recordings.labels import read_label_map

    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "labels.txt").write_text("A121\tpatient fell\n")
    for seed in (3, 4):  # two rooms, one folder and one --output: each line and clip says whose it is
        assert main(["--source", "sim", "--sim-actions", "raise_both_arms", "--people", "1",
                     "--seed", str(seed), "--checkpoint", str(tiny_checkpoint), "--engine", "torch",
                     "--headless", "--fast", "--duration", "1.0", "--hop", "0.5", "--room", f"bed {seed}",
                     "--output", str(tmp_path / "decisions.jsonl"), "--record", "--label", "raise both arms",
                     "--record-dir", str(clips), "--performer", "4", "--camera", str(seed - 2)]) == 0
    assert read_label_map(clips / "labels.txt").names == {121: "patient fell", 122: "raise both arms"}
    names = sorted(p.stem for p in clips.glob("*.skeleton"))
    assert names == ["S001C001P004R001A122", "S002C002P004R001A122"]  # the second room's sensor is C 2
    sidecar = read_sidecar(clips / "S002C002P004R001A122.json")
    assert (sidecar.label, sidecar.action_id, sidecar.raw["session"], sidecar.timeline) == (
        "raise both arms", 122, 2, None)
    assert sidecar.raw["room"] == "bed 4"
    lines = [json.loads(line) for line in (tmp_path / "decisions.jsonl").read_text().splitlines()]
    assert {line["room"] for line in lines} == {"bed 3", "bed 4"}
    truths = {line.get("truth_now") for line in lines}
    assert "raise_both_arms" in truths or NO_ACTION in truths  # the simulator's extra class, when asked
    both = config_from_args(build_parser().parse_args(["--sim-actions", "default+raise_both_arms"]))
    assert both.sim_actions[-2:] == ("kick", "raise_both_arms") and len(both.sim_actions) == 11


def test_a_fast_replay_recorded_again_keeps_every_frame(tiny_checkpoint, ntu_clip, tmp_path, capsys,
                                                        monkeypatch):
    """--fast --record of a real NTU clip with its video, on a disk slower than the replay: the capture
    waits for the writer (lockstep) instead of dropping frames, so the new clip has every frame."""
    from recordings.clip import read_sidecar
    from recordings.ntu import read_skeleton
    from recordings.recorder import Recorder

    write = Recorder.write

    def slow_disk(recorder, frame):
        time.sleep(0.01)
        return write(recorder, frame)

    monkeypatch.setattr(Recorder, "write", slow_disk)

    (source,) = ntu_clip.glob("*.skeleton")
    assert main(["--source", str(ntu_clip), "--checkpoint", str(tiny_checkpoint), "--engine", "torch",
                 "--headless", "--fast", "--hop", "0.5", "--output", str(tmp_path / "decisions.jsonl"),
                 "--record", "--record-dir", str(tmp_path / "clips")]) == 0
    assert "(0 frames dropped)" in capsys.readouterr().err
    (sidecar,) = (tmp_path / "clips").glob("*.json")
    frames = read_skeleton(source).num_frames
    assert len(read_sidecar(sidecar).timestamps) == frames
    assert read_skeleton(sidecar.with_suffix(".skeleton")).num_frames == frames


def test_a_label_close_to_a_known_class_is_refused_before_recording(tmp_path, capsys):
    """`--label raise both arm` next to "raise both arms" is a typo, not a new class: refused at start-up
    with the known name offered, nothing recorded or added; --new-class takes it all the same."""
    clips = tmp_path / "clips"
    clips.mkdir()
    (clips / "labels.txt").write_text("A121\traise both arms\n")
    args = ["--headless", "--record", "--label", "raise both arm", "--record-dir", str(clips)]
    assert main([*args, "--duration", "1"]) == 2
    assert "did you mean 'raise both arms'?" in capsys.readouterr().err
    assert sorted(p.name for p in clips.iterdir()) == ["labels.txt"]
    config = config_from_args(build_parser().parse_args([*args, "--new-class"]))
    assert config.pipeline.recording.new_class and config.pipeline.recording.label == "raise both arm"


@pytest.mark.parametrize(("argv", "message"), [
    (["--label", " "], "--label: empty; name the class"),  # recorded as unlabelled clips, unnoticed
    (["--new-class"], "--new-class takes --label NAME as a new class, and no --label is given"),
    (["--threshold", "0.3", "--end-threshold", "0.9"], "end threshold 0.9 is above threshold 0.3"),
])
def test_settings_that_contradict_each_other_are_refused_at_start_up(tmp_path, capsys, argv, message):
    assert main(["--headless", "--record-dir", str(tmp_path / "clips"), *argv, "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and not (tmp_path / "clips").exists()


@pytest.mark.parametrize(("argv", "message"), [
    (["--labels", "/nonexistent-folder/labels.txt"], "folder /nonexistent-folder does not exist"),
    (["--seed", "-1"], "--seed: must be at least 0"),
    (["--threads", "100000"], "--threads: must be from 1 to "),
    (["--hop", "inf"], "--hop: expected a finite number"),
])
def test_values_no_run_could_use_are_refused_naming_the_option(tmp_path, capsys, argv, message):
    """--labels in a folder that did not exist made that folder (at the root) and a labels.txt in it;
    --threads 100000 hung; --hop inf never decided."""
    with pytest.raises(SystemExit) as stop:
        build_parser().parse_args(["--headless", *argv])
    assert stop.value.code == 2 and message in capsys.readouterr().err
    assert not Path("/nonexistent-folder").exists()


def test_an_output_that_cannot_be_opened_lets_the_alert_delivery_go(tiny_checkpoint, ntu_clip, tmp_path):
    from live.alert_delivery import AlertQueue, DeliveryConfig
    from live.app import open_model

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(replay_source(ntu_clip, ReplayOptions()), engine, inputs)
    queue = tmp_path / "alerts.jsonl"
    delivery = DeliveryConfig(url="http://127.0.0.1:9/alerts", queue_path=queue)
    config = HeadlessConfig(output=tmp_path / "missing" / "decisions.jsonl",
                            alerts=AlertConfig(classes=("fall_down",), delivery=delivery))
    before = {thread.name for thread in threading.enumerate()}
    with pytest.raises(OSError, match="missing"):
        run_headless(pipeline, config)
    assert {thread.name for thread in threading.enumerate()} <= before  # the sender and journal stopped
    AlertQueue(queue).close()  # and the queue is free for the next run


def test_a_video_nothing_uses_is_not_decoded_and_one_kept_apart_is_found(shared_data, ntu_clip, tmp_path):
    """A skeleton-only model, headless and not recording (or under --privacy skeleton): the clip's video
    would be decoded for nothing and its images fill the ring. NTU's release keeps skeletons and videos in
    separate folders: --video pairs them."""
    from live.app import build_pipeline

    def pipeline_for(*argv: str) -> LivePipeline:
        return build_pipeline(config_from_args(build_parser().parse_args([*argv, "--engine", "pytorch-cpu"])))

    skeleton = ntu_clip / "S001C001P001R001A001.skeleton"  # its _rgb.avi beside it
    recording = ("--headless", "--record", "--record-dir", str(tmp_path / "rec"))
    for argv, decoded in ((("--headless",), False), (("--privacy", "skeleton"), False), (recording, True),
                          ((), True)):
        pipeline = pipeline_for("--source", str(skeleton), *argv)
        try:
            assert (pipeline.source.color_shape is not None) is decoded, argv
        finally:
            pipeline.release()
    ntu = shared_data / "ntu"
    apart = ["--source", str(ntu / "skeletons" / "S001C001P001R001A001.skeleton"),
             "--video", str(ntu / "rgb" / "S001C001P001R001A001_rgb.avi")]
    pipeline = pipeline_for(*apart)
    try:
        assert pipeline.source.color_shape == (1080, 1920)
    finally:
        pipeline.release()
    with pytest.raises(ValueError, match="--source sim is no recording"):
        config_from_args(build_parser().parse_args(["--video", "x_rgb.avi"]))


def test_a_clip_too_short_for_a_decision_says_so(shared_data, tmp_path):
    from live.app import build_pipeline

    short = shared_data / "ntu" / "skeletons" / "S017C003P020R002A054.skeleton"  # 42 frames, 1.4 s
    args = ["--source", str(short), "--headless", "--fast", "--engine", "pytorch-cpu"]
    pipeline = build_pipeline(config_from_args(build_parser().parse_args(args)))
    summary = run_headless(pipeline, HeadlessConfig(output=tmp_path / "decisions.jsonl",
                                                    alerts=AlertConfig(classes=())))
    assert summary.decisions == 0 and summary.people_seen >= 1
    assert "not decided: a decision needs a person in view for 1.6 s" in "\n".join(summary.lines())


def test_a_full_disk_under_the_output_costs_its_lines_not_the_alerts(tiny_checkpoint, ntu_clip, tmp_path):
    """/dev/full fails every write with ENOSPC: the run goes on, alerts are raised, the summary says which
    file lost how many lines (an error of the run)."""
    from live.app import open_model

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(replay_source(ntu_clip, ReplayOptions(realtime=False)), engine, inputs,
                            PipelineConfig(lockstep=True))
    config = HeadlessConfig(output=Path("/dev/full"), events=tmp_path / "events.jsonl",
                            alerts=AlertConfig(classes=CLASSES, threshold=0.01, cooldown_s=1.0))
    summary = run_headless(pipeline, config)
    assert summary.decisions > 0 and not pipeline.worker.alive
    (error,) = summary.errors
    assert error == (f"--output /dev/full: cannot be written (No space left on device); {summary.decisions} "
                     "lines not written")  # every one: none reached the disk
    assert [json.loads(line)["event"] for line in (tmp_path / "events.jsonl").read_text().splitlines()]


def test_a_real_skeleton_only_recording_goes_on_part_after_part_with_no_frame_lost_or_repeated(
    shared_data, tmp_path, monkeypatch
):
    """A PKU-MMD sequence (real Kinect v2 bodies, no video) replayed and recorded as the app does, with
    parts of 10 s instead of 10 minutes: one clip for ever was finished whole in memory. Each frame of the
    sequence is in exactly one part, in order, and each part names the next."""
    import recordings.recorder as recorder_module
    from live.app import open_model
    from recordings.ntu import read_skeleton
    from recordings.pkummd import PkuMmdRecording

    sequence = shared_data / "pkummd" / "skeletons" / "0005-L.txt.xz"
    monkeypatch.setattr(recorder_module, "MAX_PART_S", 10.0)
    engine, inputs = open_model(Path("training/checkpoints/pku_interactions.pt"), "onnxruntime-cpu")
    pipeline = LivePipeline(replay_source(sequence, ReplayOptions(realtime=False)), engine, inputs,
                            PipelineConfig(lockstep=True, record_from_start=tmp_path / "recorded"))
    summary = run_headless(pipeline, HeadlessConfig(output=Path(os.devnull)))
    assert not summary.errors and summary.dropped == 0
    sidecars = sorted((json.loads(p.read_text()) for p in (tmp_path / "recorded").glob("*.json")),
                      key=lambda clip: clip["recording"]["part"])
    source = [frame.bodies for frame in PkuMmdRecording(sequence).frames()]
    assert len(sidecars) == 5 and sum(clip["frame_count"] for clip in sidecars) == len(source) == 1494
    assert len({clip["recording"]["id"] for clip in sidecars}) == 1
    recorded = []
    for clip, following in zip(sidecars, [*sidecars[1:], None], strict=True):
        if following is not None:
            assert clip["stopped"] == f"it was 10 s long: the recording went on in {following['sample_name']}"
            assert clip["recording"]["went_on"] == following["sample_name"]
            assert clip["duration_s"] == pytest.approx(10.0, abs=1e-3)
        recorded += read_skeleton(tmp_path / "recorded" / clip["skeleton"]).frames
    for bodies, kept in zip(source, recorded, strict=True):  # the same bodies, frame for frame
        assert len(bodies) == len(kept)
        for body, body_kept in zip(bodies, kept, strict=True):
            np.testing.assert_allclose(body_kept.xyz, body.joints, atol=1e-4)


def test_a_stalled_reader_of_the_decisions_holds_up_nothing(monkeypatch, caplog):
    """stdout piped to a program that stopped reading: writes block in the writer's thread only. Dropping
    is said once an episode (only a run's first was said)."""
    from live.headless import DecisionWriter

    unblock = threading.Event()

    class StalledPipe:
        def write(self, text):
            unblock.wait(30)

        def flush(self):
            pass

    monkeypatch.setattr(sys, "stdout", StalledPipe())
    writer = DecisionWriter(None)
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="live.headless"):
        for t in range(20_000):  # more than its queue holds: the surplus is dropped, counted
            writer.write_hop(hop(t * 0.2, decision(1, t * 0.2, "wave", 0.9)))
        assert caplog.text.count("is not keeping up") == 1
        writer._dropped_at -= writer.DROPPING_AGAIN_S  # a minute without drops: the next is a new episode
        writer.write_hop(hop(0.0, decision(1, 0.0, "wave", 0.9)))
        assert caplog.text.count("is not keeping up") == 2
    writer.close(timeout=0.5)
    assert time.monotonic() - started < 25  # blocked, a single write would take 30 s
    (error,) = writer.errors()
    assert error.startswith("standard output: not done writing at exit (blocked, or behind);")
    assert writer.dropped > 0

    # A --fast replay waits for its writer instead of dropping lines, until Ctrl-C / SIGTERM stop it.
    stop = threading.Event()
    lossless = DecisionWriter(None, lossless=True, stop=stop)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    for t in range(20_000):
        lossless.write_hop(hop(t * 0.2, decision(1, t * 0.2, "wave", 0.9)))
    lossless.close()
    assert time.monotonic() - started < 25 and lossless.errors()
    unblock.set()


def test_a_line_cut_by_an_interrupted_run_is_dropped_before_appending(tmp_path, caplog):
    from live.headless import DecisionWriter

    path = tmp_path / "decisions.jsonl"
    path.write_text('{"person": 1}\n{"person": 2, "topk": [{"cla')  # a full disk cut the last line
    with caplog.at_level("WARNING", "live.headless"):
        writer = DecisionWriter(path)
    writer.write_hop(hop(1.0, decision(3, 1.0, "wave", 0.8)))
    writer.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]  # every line whole
    assert [line["person"] for line in lines] == [1, 3]
    assert "byte 14: dropping an incomplete last line (28 bytes)" in caplog.text


def test_reopen_follows_a_file_logrotate_moved(tmp_path):
    from live.headless import DecisionWriter

    path = tmp_path / "decisions.jsonl"
    writer = DecisionWriter(path)
    writer.write_hop(hop(1.0, decision(1, 1.0, "wave", 0.8)))
    deadline = time.monotonic() + 5
    while writer.written < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    path.rename(tmp_path / "decisions.jsonl.1")
    writer.reopen()  # SIGHUP
    writer.write_hop(hop(2.0, decision(2, 2.0, "wave", 0.8)))
    writer.close()
    for file, people in ((tmp_path / "decisions.jsonl.1", [1]), (path, [2])):
        assert [json.loads(line)["person"] for line in file.read_text().splitlines()] == people


def test_a_lossless_writer_waits_instead_of_dropping(tmp_path):
    """--fast replays and evaluations: their decisions are the result, every one is written."""
    from live.headless import DecisionWriter, LineWriter

    path = tmp_path / "decisions.jsonl"
    writer = DecisionWriter(path, lossless=True)
    count = LineWriter.QUEUE_LINES + 2000  # more than the queue holds at once
    for t in range(count):
        writer.write_hop(hop(t * 0.2, decision(1, t * 0.2, "wave", 0.9)))
    writer.close(timeout=60)
    assert writer.dropped == 0 and writer.errors() == []
    assert len(path.read_text().splitlines()) == count

    # Stopped (SIGTERM at the end of a --fast replay): what is queued is still written, given the time.
    stop = threading.Event()
    writer = DecisionWriter(tmp_path / "stopped.jsonl", lossless=True, stop=stop)
    for t in range(100):
        writer.write_hop(hop(t * 0.2, decision(1, t * 0.2, "wave", 0.9)))
    stop.set()
    writer.close()
    assert writer.errors() == [] and len((tmp_path / "stopped.jsonl").read_text().splitlines()) == 100


def test_a_sensor_that_stops_sending_frames_while_connected_is_said_to_have_stalled(
    tiny_checkpoint, monkeypatch, caplog
):
    """A frozen picture looks live and nothing is recognised: the status (window banner, health line) and
    the log say so once the frames stop for STALLED_S, and the log says when they come back."""
    import live.pipeline
    from core.frame import Frame
    from live.app import open_model
    from live.sources import FrameStream

    monkeypatch.setattr(live.pipeline, "STALLED_S", 0.3)
    resume = threading.Event()

    def frames():
        for i in range(200):
            if i == 10:
                resume.wait(10)  # the sensor goes quiet after ten frames
            yield Frame(i / 30, None, [], i)

    source = FrameStream("quiet sensor", frames, options=ReplayOptions(realtime=True), fps=30.0)
    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(source, engine, inputs)
    stalls = []

    def watch():
        while not resume.is_set():
            if pipeline.started and (stalled := pipeline.stats().stalled_s) is not None:
                stalls.append(pipeline.stats())
                if stalled > 1.2:
                    resume.set()
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    with caplog.at_level(logging.INFO, logger="live.headless"):
        run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))), duration_s=3.0)
    watcher.join()
    assert stalls and "but NO FRAMES FOR" in stalls[-1].health()
    assert stalls[-1].troubled  # the status line a warning: a log filtered at WARNING keeps it
    assert not dataclasses.replace(stalls[-1], stalled_s=None).troubled
    assert "no frames from quiet sensor for" in caplog.text
    assert "frames from quiet sensor again" in caplog.text


def test_a_recognition_step_that_does_not_return_is_said_and_a_service_ends_to_be_restarted(
    tiny_checkpoint, monkeypatch, caplog
):
    """A hung engine call (a GPU driver that never answers) leaves the recognition thread alive: without a
    watch the status looked healthy and the last actions stood for ever. Stuck past RECOGNITION_STUCK_S the
    status and the log say so, and when it returns, that it works again; stuck past STUCK_EXIT_S a
    headless run ends (exit 1) for its service manager to restart it."""
    import live.headless
    import live.pipeline
    from live.app import open_model
    from live.sources import simulated_source

    monkeypatch.setattr(live.pipeline, "RECOGNITION_STUCK_S", 0.3)
    monkeypatch.setattr(live.headless, "STUCK_EXIT_S", 2.5)
    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    # Stuck for 1.5 s (seen by a check once a second; it comes back), then for 5 s (the run ends).
    run, calls, hangs = engine.run, [], iter([1.5, 5.0])

    def hanging_run(crops, skeleton):
        calls.append(time.monotonic())
        if len(calls) in (3, 6):
            time.sleep(next(hangs))
        return run(crops, skeleton)

    engine.run = hanging_run
    pipeline = LivePipeline(simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True)),
                            engine, inputs)
    stuck = []

    def watch():
        while not pipeline.started:
            time.sleep(0.01)
        while not pipeline.ended:
            if (stats := pipeline.stats()).recognition_stuck_s is not None:
                stuck.append(stats)
            time.sleep(0.05)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="live.headless"):
        summary = run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))),
                               duration_s=30.0)
    watcher.join(5)
    assert time.monotonic() - started < 15  # ended by the watch, not by --duration
    pipeline.worker.finish(10)  # the hung call returns in the end: not during the interpreter's exit
    assert len(calls) >= 6
    assert stuck and "RECOGNITION STUCK FOR" in stuck[-1].health()
    said = caplog.text
    assert said.count("recognition has been stuck on one step") == 2  # once per episode
    assert "recognition works again" in said  # after the first, which came back
    assert "shutting down: recognition stuck for" in said and "service manager restarts it" in said
    assert summary.decisions > 0  # before and between, and the run ends in an error (exit 1):
    assert [e for e in summary.errors if e.startswith("recognition stuck for")]


def test_a_source_read_that_does_not_return_ends_the_run_for_a_restart(
    tiny_checkpoint, monkeypatch, caplog, tmp_path
):
    """A sensor driver that hangs in a read: the stall was said once, and the run went on to its --duration
    (for ever without one), the room unwatched; a stuck recognition already ended it for a restart. The
    outage, not yet paged, is kept for the restart to count on."""
    import live.headless
    import live.pipeline
    from live.app import open_model
    from live.sources import simulated_source

    monkeypatch.setattr(live.pipeline, "SOURCE_STUCK_S", 0.3)
    monkeypatch.setattr(live.headless, "STUCK_EXIT_S", 2.5)
    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    source = simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True))
    read, reads = source.read, []

    def hanging_read(timeout: float = 0.1):
        reads.append(time.monotonic())
        if len(reads) == 40:
            time.sleep(6.0)  # longer than the run waits for it
        return read(timeout)

    source.read = hanging_read
    pipeline = LivePipeline(source, engine, inputs)
    started = time.monotonic()
    with caplog.at_level(logging.INFO, logger="live.headless"):
        alerts = AlertConfig(classes=("fall_down",), unwatched_after_s=60.0,
                             outage_file=tmp_path / "room.unwatched.json")
        summary = run_headless(pipeline, HeadlessConfig(alerts=alerts), duration_s=30.0)
    assert time.monotonic() - started < 15  # ended by the watch, not by --duration
    kept = json.loads((tmp_path / "room.unwatched.json").read_text())
    assert kept["paged"] is False and "source_read_stuck" in kept["problems"]
    said = caplog.text
    assert said.count("has not returned for") == 1 and "ending after 2 s" in said
    assert "shutting down: reading from sim stuck for" in said and "service manager restarts it" in said
    assert summary.decisions > 0 and [e for e in summary.errors if e.startswith("reading from")]


def _pipeline_whose_stats_change(tiny_checkpoint, changes) -> tuple[LivePipeline, float]:
    """A simulated room's pipeline (one person, real time) whose `stats()` has the fields `changes(t)`
    returns replaced, t the seconds since this call; and the wall-clock time of the call."""
    from live.app import open_model
    from live.sources import simulated_source

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True)),
                            engine, inputs)
    real_stats, started, wall = pipeline.stats, time.monotonic(), time.time()
    pipeline.stats = lambda: dataclasses.replace(real_stats(), **changes(time.monotonic() - started))
    return pipeline, wall


def test_a_computer_not_keeping_up_with_the_frames_is_said_as_it_starts_and_once_it_ends(
    tiny_checkpoint, monkeypatch, caplog
):
    """The window shows "missing 57% of the sensor's frames" at once; a headless service said it only in
    the next status line, up to a minute on. Now at once, once an episode, and "again" once it has kept up
    for a while (a share hovering about its threshold is not an episode each time it crosses)."""
    import live.headless

    monkeypatch.setattr(live.headless, "KEEPING_UP_AGAIN_S", 1.0)

    # Missing 60% from 1 s to 3 s, and at 3.5 s for a moment; no frames at all from 3.7 s to 5 s (a stall
    # has no share either: not "keeping up"); keeping up from then.
    def changes(at: float) -> dict:
        return {"missing_frames": 0.6 if 1.0 <= at < 3.0 or 3.5 <= at < 3.7 else None,
                "stalled_s": 1.0 if 3.7 <= at < 5.0 else None}

    pipeline, wall = _pipeline_whose_stats_change(tiny_checkpoint, changes)
    with caplog.at_level(logging.INFO, logger="live.headless"):
        run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))), duration_s=8.0)
    said = [r for r in caplog.records if "frames of sim" in r.getMessage()]
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in said] == [
        ("WARNING", "missing 60% of the frames of sim"), ("INFO", "keeping up with the frames of sim again")]
    assert "this computer is not keeping up" in said[0].getMessage()
    assert 1.0 <= said[0].created - wall < 3.0  # as it started, not a minute on
    assert said[1].created - wall >= 6.0  # a second after the stall, not during it
    # A --fast replay (lockstep) leaves out nothing here: the gaps are the recording's own.
    caplog.clear()
    pipeline, _ = _pipeline_whose_stats_change(tiny_checkpoint, lambda at: {**changes(at), "lockstep": True})
    with caplog.at_level(logging.INFO, logger="live.headless"):
        run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))), duration_s=4.0)
    assert "of the frames of sim: the recording itself has gaps in its frame numbers" in caplog.text


def test_decisions_late_are_said_once_an_episode_and_on_time_again_once_that_has_lasted(
    tiny_checkpoint, monkeypatch, caplog
):
    """A p95 about LATE_DECISIONS_S comes and goes: the warning once as it starts, and "on time again"
    only once the decisions have been on time for KEEPING_UP_AGAIN_S (else an on-call log read it flap)."""
    import live.headless

    monkeypatch.setattr(live.headless, "KEEPING_UP_AGAIN_S", 2.5)

    # Late from 1 s to 3 s, on time for 1.5 s (under KEEPING_UP_AGAIN_S, and a check, each second, lands
    # in it), late again from 4.5 s to 5.7 s, then on time.
    def changes(at: float) -> dict:
        return {"late_decisions_s": 1.4 if 1.0 <= at < 3.0 or 4.5 <= at < 5.7 else None}

    pipeline, wall = _pipeline_whose_stats_change(tiny_checkpoint, changes)
    with caplog.at_level(logging.INFO, logger="live.headless"):
        run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))), duration_s=11.0)
    said = [r for r in caplog.records if r.getMessage().startswith("decisions come") or "on time" in
            r.getMessage()]
    assert [(r.levelname, r.getMessage()[:30]) for r in said] == [
        ("WARNING", "decisions come 1.4 s after the"), ("INFO", "decisions on time again (or no")]
    assert 1.0 <= said[0].created - wall < 3.0
    # KEEPING_UP_AGAIN_S after the second episode ended: the wait begun between them started over.
    assert said[1].created - wall >= 5.7 + 2.5


def test_a_room_where_nobody_is_decided_any_more_is_said_once_an_episode(
    tiny_checkpoint, monkeypatch, caplog
):
    """The model's scores turn to NaN for everyone (an FP16 overflow, a broken engine that answers): hops
    run, nobody is decided, and no alert can be raised, while the health line counted hops as usual. Past
    UNDECIDED_S the log says so once, and when decisions come again."""
    import live.pipeline
    from live.app import open_model
    from live.sources import simulated_source

    monkeypatch.setattr(live.pipeline, "UNDECIDED_S", 0.5)
    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    run, calls = engine.run, []

    def scores_nan_for_a_while(crops, skeleton):
        calls.append(time.monotonic())
        logits, attention = run(crops, skeleton)
        broken = 3 <= len(calls) < 12
        return (np.full_like(logits, np.nan) if broken else logits), attention

    engine.run = scores_nan_for_a_while
    pipeline = LivePipeline(simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True)),
                            engine, inputs)
    with caplog.at_level(logging.INFO, logger="live.headless"):
        summary = run_headless(pipeline, HeadlessConfig(alerts=AlertConfig(classes=("fall_down",))),
                               duration_s=12.0)
    assert len(calls) > 14
    said = caplog.text
    assert said.count("no decision for anyone in view for") == 1
    assert "decisions again" in said.split("no decision for anyone in view for")[1]
    assert summary.decisions > 0


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux), where no file can be made")
def test_a_record_dir_that_cannot_be_written_is_refused_before_the_model_loads_when_recording(capsys):
    """Checked where a recording would start: at start-up with --record (it failed after the model loaded,
    with a bare errno), and not at all for a run that never records."""
    assert main(["--headless", "--record", "--record-dir", "/proc/self/rec", "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "--record-dir /proc/self/rec: cannot be written" in err and "engine warm-up" not in err


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs /proc (Linux), where no file can be made")
def test_an_alert_queue_that_cannot_be_written_is_refused_before_the_model_loads(capsys, monkeypatch):
    """A service account that cannot write its --alert-queue was refused only after the model had loaded
    and been exported (seconds, at every restart of the unit)."""
    import live.app

    def model_loaded(*_: object) -> None:
        raise AssertionError("the model was loaded before the queue was checked")

    monkeypatch.setattr(live.app, "build_pipeline", model_loaded)
    url = "http://127.0.0.1:9/alerts"
    queue = ["--alert-queue", "/proc/self/q.jsonl"]
    assert main(["--headless", "--alert-url", url, *queue, "--duration", "1"]) == 2
    err = capsys.readouterr().err
    assert "--alert-queue /proc/self/q.jsonl: cannot be written" in err and "engine warm-up" not in err


def test_an_alert_queue_made_for_the_service_in_a_folder_it_cannot_write_is_taken(tmp_path, monkeypatch):
    """A site that makes the queue file and its lock for the service account, in a folder that account
    cannot write, had its alerts delivered: the start-up check must not refuse it."""
    import live.alert_delivery

    queue = tmp_path / "alerts.jsonl"
    refused = lambda folder: f"{folder}: Permission denied"  # noqa: E731
    monkeypatch.setattr(live.alert_delivery, "why_not_writable", refused)
    args = ["--headless", "--alert-url", "http://127.0.0.1:9/alerts", "--alert-queue", str(queue)]
    with pytest.raises(ValueError, match="alerts.jsonl: cannot be written .*Permission denied"):
        config_from_args(build_parser().parse_args(args))
    queue.touch()
    queue.with_name("alerts.jsonl.lock").touch()
    assert config_from_args(build_parser().parse_args(args)).headless_config.alerts.delivery is not None
    # One this account may not write is said as another account's where it is (a run as root made it),
    # not as "read-only", which sent the reader to its mode bits. Root writes anything: os.access stands in.
    monkeypatch.setattr(live.alert_delivery.os, "access", lambda path, mode: False)
    with pytest.raises(ValueError, match=r"alerts.jsonl is read-only"):
        config_from_args(build_parser().parse_args(args))
    if hasattr(os, "getuid") and os.getuid() == 0:  # only root gives a file away
        os.chown(queue, 65534, -1)
        with pytest.raises(ValueError, match=r"alerts.jsonl belongs to another account \(uid 65534\), which"):
            config_from_args(build_parser().parse_args(args))


def test_stuck_steps_are_told_apart_by_when_they_began_and_a_woken_process_is_not_ended():
    """The rules of the once-a-second checks, read off the clock: one episode per stuck step, 'works
    again' when it returns or a next step sticks between two checks, and the run ended only when the
    checks also saw it stuck for half of STUCK_EXIT_S (a VM paused for a minute wakes with a minute-old
    step)."""
    from live.headless import STUCK_EXIT_S, StuckSteps

    stuck = StuckSteps()
    assert stuck.observe(100.0, None) == (False, False)
    assert stuck.observe(110.0, 10.5) == (False, True)  # a step that began at 99.5
    assert stuck.observe(111.0, 11.5) == (False, False)  # the same step, going on
    assert stuck.observe(112.0, 10.2) == (True, True)  # it returned; the next, begun at 101.8, sticks too
    assert not stuck.ends_the_run(STUCK_EXIT_S - 1)
    assert stuck.ends_the_run(STUCK_EXIT_S)  # seen stuck from 10.2 s to the limit: more than half of it
    assert stuck.observe(113.0, None) == (True, False)  # works again

    woken = StuckSteps()
    assert woken.observe(500.0, STUCK_EXIT_S + 5) == (False, True)  # first seen a minute old: a frozen VM
    assert not woken.ends_the_run(STUCK_EXIT_S + 5)
    assert woken.ends_the_run(STUCK_EXIT_S / 2 + STUCK_EXIT_S + 5)  # still stuck half a limit later

    # A computer that slept an hour wakes with the read in progress an hour old (Windows' clocks count
    # sleep): said once, and over at the next check; never an end of the run.
    resumed = StuckSteps()
    assert resumed.observe(1000.0, None) == (False, False)
    assert resumed.observe(4601.0, 3600.4) == (False, True)
    assert not resumed.ends_the_run(3600.4)
    assert resumed.observe(4602.0, None) == (True, False)


def test_a_queue_another_run_holds_ends_with_a_status_a_service_manager_retries(tiny_checkpoint, tmp_path,
                                                                                capsys, monkeypatch):
    """A run started by hand beside the service holds the alert queue: the service's start was exit 2, which
    its unit never restarts, and the room stayed unwatched after the hand-run ended. 75: try again later;
    said before the source and the model load (7 s of CPU at each of the unit's tries, every few seconds)."""
    import live.app
    from live.alert_delivery import AlertDelivery, DeliveryConfig
    from live.app import EXIT_TRY_AGAIN

    monkeypatch.setattr(live.app, "build_pipeline", lambda config: pytest.fail("loaded before the queue"))
    queue = tmp_path / "alerts.jsonl"
    by_hand = AlertDelivery(DeliveryConfig("http://127.0.0.1:9/alerts", queue_path=queue))
    try:
        assert main(["--source", "sim", "--checkpoint", str(tiny_checkpoint), "--engine", "torch",
                     "--headless", "--duration", "1", "--alert-class", "fall_down",
                     "--alert-url", "http://127.0.0.1:9/alerts", "--alert-queue", str(queue)]) == 75
        assert EXIT_TRY_AGAIN == 75
    finally:
        by_hand.close(0.0)
    assert f"alert queue {queue} is in use by another process" in capsys.readouterr().err


def test_an_alert_command_windows_would_not_start_is_refused_at_start_up():
    """PATH and PATHEXT find "page-nurse" as page-nurse.cmd, so the start-up check passed; CreateProcess
    adds .exe alone, and the command failed to start as the patient fell."""
    from live.headless import windows_start_problem

    found = r"C:\Tools\page-nurse.CMD"
    assert "give the program as page-nurse.CMD" in windows_start_problem("page-nurse", found, windows=True)
    assert windows_start_problem("page-nurse.cmd", found, windows=True) is None
    assert windows_start_problem("pager", r"C:\Tools\pager.exe", windows=True) is None
    assert "PowerShell" in windows_start_problem("notify.ps1", r"C:\Tools\notify.ps1", windows=True)
    assert windows_start_problem("page-nurse", "/usr/local/bin/page-nurse", windows=False) is None


def test_an_output_on_a_share_that_hangs_at_the_start_holds_the_run_back_only_a_moment(
    tmp_path, monkeypatch, caplog
):
    # --output on a share that hung while it reconnected: the run did not start (no recognition, no
    # alert) until the share answered. A file that cannot be opened at all still fails the start.
    import live.headless
    from live.headless import LineWriter

    monkeypatch.setattr(LineWriter, "OPEN_WAIT_S", 0.2)
    share_back = threading.Event()
    opening = live.headless._append_to

    def hanging_open(path):
        share_back.wait(10)
        return opening(path)

    monkeypatch.setattr(live.headless, "_append_to", hanging_open)
    path = tmp_path / "decisions.jsonl"
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="live.headless"):
        writer = LineWriter(path, "--output")
    assert time.monotonic() - started < 5 and "has not opened in 0 s" in caplog.text
    writer.write("first\n")
    assert writer.status() == [f"--output {path} NOT OPEN YET (1 lines waiting)"]
    share_back.set()
    writer.close()
    assert path.read_text() == "first\n" and writer.dropped == 0
    # The share answers late with an error: said, retried as a file that failed, nothing raised.
    share_back.clear()

    def hanging_then_failing(path):
        share_back.wait(10)
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(live.headless, "_append_to", hanging_then_failing)
    late = LineWriter(tmp_path / "other.jsonl", "--output")
    share_back.set()
    deadline = time.monotonic() + 5
    while not late.failing and time.monotonic() < deadline:
        time.sleep(0.02)
    assert late.failing and late.status()[0].endswith("NOT WRITTEN (0 lines lost)")
    late.reopen()  # as every RETRY_S, or a SIGHUP: opened again (a plain open)
    late.write("kept\n")
    late.close()
    assert (tmp_path / "other.jsonl").read_text() == "kept\n"
    # Two files on the share wait for one deadline together, not one each; what waits or is lost is said.
    share_back.clear()
    monkeypatch.setattr(live.headless, "_append_to", hanging_open)
    monkeypatch.setattr(LineWriter, "QUEUE_LINES", 2)
    monkeypatch.setattr(LineWriter, "OPEN_WAIT_S", 5.0)  # each its own: 10 s
    started = time.monotonic()
    open_by = started + 0.3
    outputs = [LineWriter(tmp_path / f"{name}.jsonl", option, open_by=open_by)
               for name, option in (("decisions", "--output"), ("events", "--events"))]
    assert time.monotonic() - started < 3
    for line in ("a\n", "b\n", "c\n"):
        outputs[0].write(line)
    assert outputs[0].status() == [f"--output {tmp_path / 'decisions.jsonl'} NOT OPEN YET (2 lines waiting, "
                                   "1 lost)"]
    outputs[0].close(timeout=0.2)  # still opening: the lines, not the close, are counted lost
    assert outputs[0].lost == 3
    share_back.set()
    outputs[1].close()
    monkeypatch.setattr(live.headless, "_append_to", opening)
    with pytest.raises(OSError):
        LineWriter(tmp_path / "no such folder" / "decisions.jsonl", "--output")


def test_a_moment_of_full_disk_costs_its_lines_not_the_rest_of_the_run(tmp_path, monkeypatch, caplog):
    """One failed write stopped --output for the rest of the run (weeks, for a service) and the status
    line never said so. The file is opened again every RETRY_S (and at a SIGHUP), the line the failure
    cut short dropped first; meanwhile the status line says it is not written."""
    import errno

    from live.headless import LineWriter

    monkeypatch.setattr(LineWriter, "RETRY_S", 0.3)
    path = tmp_path / "decisions.jsonl"
    writer = LineWriter(path, "--output")

    class FullDisk:  # writes half a line, then the disk is full
        def write(self, line: str) -> None:
            with open(path, "a") as file:
                file.write(line[:3])
            raise OSError(errno.ENOSPC, "No space left on device")

        def close(self) -> None:
            pass

    writer._stream.close()
    writer._stream = FullDisk()
    with caplog.at_level(logging.WARNING, logger="live.headless"):
        writer.write("lost\n")
        deadline = time.monotonic() + 10
        while not writer.failing and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.status() == [f"--output {path} NOT WRITTEN (1 lines lost)"]
        time.sleep(0.4)  # the disk has room again
        writer.write("kept\n")
        writer.close()
    assert path.read_text() == "kept\n"  # "los" the failure cut short is gone, nothing glued to it
    assert writer.status() == [] and writer.errors() == [
        f"--output {path}: cannot be written (No space left on device); 1 lines not written"]
    assert f"--output {path}: written again (1 lines lost while it could not be)" in caplog.text


def test_a_disk_nearly_full_is_said_before_lines_are_lost(tmp_path, monkeypatch, caplog):
    """Decisions grow by 160 MB a day for each person in view: the disk was first said once it was full,
    lines lost from then on. Under LOW_DISK_BYTES left it is said once as it begins, in every status line
    while it lasts, and once more when there is room again; checked on the writer's thread."""
    import live.headless
    from live.headless import LineWriter

    free = [1_500_000_000]
    checked_on: list[str] = []

    def disk_usage(folder):
        checked_on.append(threading.current_thread().name)
        return types.SimpleNamespace(free=free[0])

    monkeypatch.setattr(live.headless.shutil, "disk_usage", disk_usage)
    monkeypatch.setattr(LineWriter, "DISK_CHECK_S", 0.05)
    path = tmp_path / "decisions.jsonl"

    def until(done) -> None:
        deadline = time.monotonic() + 10
        while not done() and time.monotonic() < deadline:
            time.sleep(0.01)

    with caplog.at_level(logging.INFO, logger="live.headless"):
        writer = LineWriter(path, "--output")
        writer.write("1\n")
        until(lambda: writer.disk_status())
        assert writer.disk_status() == [f"--output {path} DISK NEARLY FULL (1.5 GB left)"]
        path.unlink()  # rotated away for a moment: what was said stands, not cleared and said again
        time.sleep(0.2)
        assert writer.disk_status() == [f"--output {path} DISK NEARLY FULL (1.5 GB left)"]
        path.touch()
        free[0] = 5_000_000_000  # room made while nothing is written: an idle writer checks too
        until(lambda: not writer.disk_status())
        writer.close()
    assert writer.disk_status() == [] and set(checked_on) == {"writer --output"}
    said = [r.getMessage() for r in caplog.records if "its disk has" in r.getMessage()]
    assert said == [f"--output {path}: its disk has 1.5 GB left: once full, lines are lost (rotate or remove "
                    "old files)", f"--output {path}: its disk has 5.0 GB left again"]


def test_a_disk_check_that_fails_or_has_no_disk_leaves_the_lines_alone(tmp_path, monkeypatch):
    """A free-space check that fails (statvfs refused) is not the file failing: its lines are written;
    /dev/null (which the README offers) is on a RAM-sized /dev, not a disk that fills."""
    import live.headless
    from live.headless import LineWriter

    def refused(folder):
        raise PermissionError(13, "Permission denied", str(folder))

    monkeypatch.setattr(live.headless.shutil, "disk_usage", refused)
    monkeypatch.setattr(LineWriter, "DISK_CHECK_S", 0.01)
    path = tmp_path / "decisions.jsonl"
    writer = LineWriter(path, "--output")
    for number in range(5):
        writer.write(f"{number}\n")
        time.sleep(0.03)
    writer.close()
    assert path.read_text() == "0\n1\n2\n3\n4\n" and writer.dropped == 0 and not writer.failing
    monkeypatch.setattr(live.headless.shutil, "disk_usage", lambda folder: types.SimpleNamespace(free=0))
    nowhere = LineWriter(Path(os.devnull), "--output")
    nowhere.write("gone\n")
    time.sleep(0.1)
    nowhere.close()
    assert nowhere.disk_status() == []


def test_nul_on_windows_is_not_taken_for_a_file_deleted_under_the_writer(tmp_path, monkeypatch, caplog):
    """Windows' os.fstat gives a character device (NUL, which the README offers for --output) no links at
    all: it was "deleted while being written" every GONE_CHECK_S, its lines counted lost."""
    import live.headless
    from live.headless import LineWriter

    monkeypatch.setattr(LineWriter, "GONE_CHECK_S", 0.0)
    nul = os.stat_result((stat.S_IFCHR, 0, 0, 0, 0, 0, 0, 0, 0, 0))  # what Windows' fstat says of NUL
    real_fstat = os.fstat
    writer = LineWriter(tmp_path / "decisions.jsonl", "--output")
    opened = writer._stream.fileno()
    monkeypatch.setattr(live.headless.os, "fstat", lambda fd: nul if fd == opened else real_fstat(fd))
    with caplog.at_level(logging.ERROR, logger="live.headless"):
        for number in range(3):
            writer.write(f"{number}\n")
            time.sleep(0.05)
        writer.close()
    assert "deleted" not in caplog.text and writer.dropped == 0


def test_a_disk_that_stays_full_is_said_once_not_at_every_retry(monkeypatch, caplog):
    """On a full disk the file still opens (/dev/full likewise): each retry "wrote again" and failed
    again, two log lines every RETRY_S for as long as the disk stayed full."""
    from live.headless import LineWriter

    monkeypatch.setattr(LineWriter, "RETRY_S", 0.05)
    with caplog.at_level(logging.INFO, logger="live.headless"):
        writer = LineWriter(Path("/dev/full"), "--output")
        for number in range(40):  # some 2 s: retried about 40 times
            writer.write(f"{number}\n")
            time.sleep(0.05)
        assert writer.failing and writer.status() == ["--output /dev/full NOT WRITTEN (40 lines lost)"]
        writer.close()
    assert caplog.text.count("cannot be written (No space left on device)") == 1
    assert "written again" not in caplog.text and writer.written == 0


def test_a_file_deleted_under_the_writer_is_said_and_made_again(tmp_path, monkeypatch, caplog):
    """A clean-up script removed runs/decisions.jsonl: every line after went into the deleted file, and
    nothing said so. (Where its folder went too, the new file cannot be made: said as a failure.)"""
    from live.headless import LineWriter

    monkeypatch.setattr(LineWriter, "GONE_CHECK_S", 0.0)
    path = tmp_path / "decisions.jsonl"
    writer = LineWriter(path, "--output")
    writer.write("one\n")
    deadline = time.monotonic() + 10
    while writer.written < 1 and time.monotonic() < deadline:
        time.sleep(0.01)
    path.unlink()
    with caplog.at_level(logging.ERROR, logger="live.headless"):
        writer.write("two\n")  # the check after it finds the file gone
        writer.write("three\n")
        writer.close()
    assert path.read_text() == "three\n"
    assert f"--output {path} was deleted while being written" in caplog.text


def test_a_hung_alert_command_on_windows_is_killed_after_taskkill_has_found_its_tree(monkeypatch):
    """taskkill /T finds the tree by the command's process id: the command killed at once was gone before
    taskkill looked, and a script's curl kept running. Nothing is waited for (the window's thread): the
    command itself is killed at a later look, once taskkill has had its time."""
    import live.headless

    calls = []

    class Command:
        pid = 4321

        def poll(self) -> None:
            return None  # hung

        def kill(self) -> None:
            calls.append("kill")

    monkeypatch.setattr(live.headless.subprocess, "Popen", lambda argv, **kwargs: calls.append(argv[0]))
    clock = [100.0]
    monkeypatch.setattr(live.headless.time, "monotonic", lambda: clock[0])
    alerts = AlertDispatcher(AlertConfig(classes=("fall_down",)), CLASSES)
    command = Command()
    alerts._children.append((command, 0.0, None))
    alerts._paged[command] = "the alert person 1: fall_down"
    name = os.name
    os.name = "nt"  # (put back at once below: pytest itself reads it)
    try:
        alerts._reap()  # running past HOOK_TIMEOUT_S: taskkill started, the command not killed yet
        assert calls == ["taskkill"]
        clock[0] += live.headless.TASKKILL_WAIT_S
        alerts._reap()
    finally:
        os.name = name
    assert calls == ["taskkill", "kill"]


def test_decisions_and_events_go_only_into_files_of_json_lines(tmp_path, capsys):
    """--output or --events naming a replayed clip's own sidecar, a .skeleton or labels.txt appended to it,
    exit 0, and the file was damaged for good (the next replay: 'not valid JSON: Extra data')."""
    sidecar = tmp_path / "S002C001P001R001A121.json"
    sidecar.write_text('{\n "format": "where-to-focus.clip",\n "frame_count": 3\n}\n')
    labels = tmp_path / "labels.txt"
    labels.write_text("A121\tpatient fell\n")
    for option, path in (("--output", sidecar), ("--events", labels)):
        before = path.read_bytes()
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--headless", option, str(path)])
        assert f"{path}: holds something other than JSON lines" in capsys.readouterr().err
        assert path.read_bytes() == before
    decisions = tmp_path / "decisions.jsonl"  # a run's own, appended to again
    decisions.write_text('{"time": 1.0, "person": 1}\n')
    (tmp_path / "empty.jsonl").write_text("")
    args = build_parser().parse_args(["--headless", "--output", str(decisions), "--events",
                                      str(tmp_path / "empty.jsonl")])
    assert args.output == decisions
    cut = tmp_path / "cut.jsonl"  # a crash cut its only line short: the writer drops it at open
    cut.write_text('{"time": 1.0, "pers')
    assert build_parser().parse_args(["--headless", "--output", str(cut)]).output == cut
    skeleton = tmp_path / "S002C001P001R001A121.skeleton"  # its first line is JSON, but no object
    skeleton.write_text("175\n1\n")
    recording = tmp_path / "live_20261206_170000.partial"  # a recording being made
    recording.mkdir()
    (recording / "frames.jsonl").write_text('{"t": 0.0}\n')
    deep = tmp_path / "deep.jsonl"  # nesting past Python's recursion limit: a usage error, no traceback
    deep.write_text("[" * 200_000 + "\n")
    for path, said in ((skeleton, "holds something other than JSON lines"),
                       (recording / "frames.jsonl", "inside a recording being made"),
                       (deep, "holds something other than JSON lines")):
        with pytest.raises(SystemExit):
            build_parser().parse_args(["--headless", "--output", str(path)])
        assert said in capsys.readouterr().err
    with pytest.raises(ValueError, match="the alert queue"):  # the queue is JSON lines, and not ours
        config_from_args(build_parser().parse_args(["--headless", "--alert-url", "http://127.0.0.1:9/a",
                                                    "--alert-queue", str(decisions),
                                                    "--output", str(decisions)]))


def test_a_status_file_tells_a_monitor_the_runs_problems_as_keys_and_that_it_ended(
    tiny_checkpoint, tmp_path, monkeypatch
):
    """A hospital's monitor of forty rooms could tell a run's state only from prose log lines: the status
    file says it as JSON, rewritten every STATUS_FILE_EVERY_S, and "ended" once the run stops."""
    import json

    import live.headless

    monkeypatch.setattr(live.headless, "STATUS_FILE_EVERY_S", 0.5)
    status, seen = tmp_path / "status.json", []

    def changes(at: float) -> dict:  # the sensor unplugged from 1.5 s to 3 s; the file read as it goes
        if status.exists():
            seen.append(json.loads(status.read_text()))
        return {"connected": not 1.5 <= at < 3.0}

    pipeline, _ = _pipeline_whose_stats_change(tiny_checkpoint, changes)
    config = HeadlessConfig(output=Path(os.devnull), status_file=status,
                            alerts=AlertConfig(classes=("fall_down",), room="Zimmer 12 – Süd"))
    run_headless(pipeline, config, duration_s=4.5)
    final = json.loads(status.read_text(encoding="utf-8"))
    assert final["ended"] and not final["ok"] and final["room"] == "Zimmer 12 – Süd"
    assert final["why_ended"].startswith("--duration") and all(s["why_ended"] is None for s in seen)
    assert final["ended_by"] == "duration" and all(s["ended_by"] is None for s in seen)
    assert {"time", "source", "problems", "every_s", "fps", "people", "decisions", "frames_dropped",
            "hops_failed", "version"} <= final.keys()
    # A killed run's file stops ageing with "ok" as it was: its process, and a restart, are told by these.
    assert final["pid"] == os.getpid() and final["started"] == seen[0]["started"]
    from core.package_files import software_commit

    assert final["commit"] == software_commit()  # the checkout's: an editable install's version is stale
    assert final["alerts_waiting"] is None  # no --alert-url
    assert [s["problems"] for s in seen if s["problems"]][0] == ["sensor_disconnected"]
    assert any(s["ok"] for s in seen) and any(not s["ok"] and not s["ended"] for s in seen)
    assert seen[-1]["ok"]  # plugged in again: well again before it ended
    assert [p.name for p in tmp_path.iterdir()] == ["status.json"]  # no temporary file left behind


def test_a_status_file_says_a_run_is_starting_and_why_a_start_failed(tiny_checkpoint, tmp_path, monkeypatch,
                                                                      capsys):
    """While a run starts (a GPU's first TensorRT build takes minutes) the status file kept the previous
    run's "ended", or its "ok" after a crash, and then aged like a hung run; a start that failed left it
    so too. Now it says "starting", rewritten as the start goes on, and "ended" with the start's error."""
    import json

    import live.app
    import live.headless

    monkeypatch.setattr(live.headless, "STATUS_FILE_EVERY_S", 0.2)
    status = tmp_path / "status.json"
    status.write_text('{"ok": true, "ended": false}\n')  # what a crashed run left
    seen: list[dict] = []
    build, write = live.app.build_pipeline, live.headless.write_status_file
    writes_while_starting = []

    def counted(path, stats, *args):
        writes_while_starting.extend([path] if stats is None else [])
        write(path, stats, *args)

    def slow_model_load(config):
        time.sleep(0.7)  # the rewrites go on while the main thread is held up
        seen.append(json.loads(status.read_text()))
        return build(config)

    monkeypatch.setattr(live.headless, "write_status_file", counted)

    monkeypatch.setattr(live.app, "build_pipeline", slow_model_load)
    options = ["--headless", "--duration", "1", "--checkpoint", str(tiny_checkpoint), "--output", os.devnull,
               "--room", "bed 2", "--status-file", str(status)]
    assert main(options) == 0
    starting = seen[0]
    assert starting["problems"] == ["starting"] and not starting["ok"] and not starting["ended"]
    assert starting["room"] == "bed 2" and starting["source"] == "sim" and starting["fps"] is None
    assert len(writes_while_starting) >= 3
    ran = json.loads(status.read_text())  # the run's own, once it ran: ended, its last count kept
    assert ran["why_ended"] == "--duration 1 s" and isinstance(ran["people"], int)
    # Which model the room runs, as `sha256sum` says it of the file handed over.
    assert ran["model_sha256"] == hashlib.sha256(tiny_checkpoint.read_bytes()).hexdigest()
    assert starting["model_sha256"] is None

    def no_model(config):
        raise ValueError("model x.pt: not a checkpoint")

    monkeypatch.setattr(live.app, "build_pipeline", no_model)
    assert main(options) == 2
    failed = json.loads(status.read_text())
    assert failed["ended"] and not failed["ok"] and failed["problems"] == ["starting"]
    assert failed["why_ended"] == "model x.pt: not a checkpoint" and failed["ended_by"] == "start_failed"
    assert ran["ended_by"] == "duration"
    assert "python -m live: model x.pt: not a checkpoint" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json", "status.json.lock"]


def test_a_status_file_says_why_a_run_its_options_refused_ended(tmp_path, monkeypatch, capsys):
    """Refused for its options (an unwritable --record-dir, a typo after an update; exit 2, which a
    service manager does not restart), a run left the previous run's "ended" and its reason in the status
    file. An unreadable labels.txt (another account's) was a traceback, exit 1 (restarted for ever)."""
    import json

    from recordings import labels

    status = tmp_path / "status.json"
    status.write_text('{"ok": false, "ended": true, "why_ended": "--duration 2 s"}\n')  # the last run's

    def refused(options: list[str]) -> None:
        try:
            assert main(options) == 2
        except SystemExit as usage_error:  # argparse's
            assert usage_error.code == 2

    def said(options: list[str]) -> str:
        refused(["--headless", "--status-file", str(status), "--room", "bed 2", *options])
        written = json.loads(status.read_text())
        assert written["ended"] and written["room"] == "bed 2"
        return written["why_ended"]

    assert said(["--people", "9"]).startswith("argument --people: ")  # argparse's
    assert json.loads(status.read_text())["ended_by"] == "options_refused"
    assert said(["--new-class"]).startswith("--new-class takes --label NAME")  # ours
    import socket

    refused(["--headless", "--status-file", str(status), "--room"])  # one it reads: the computer's name
    written = json.loads(status.read_text())
    assert written["why_ended"] == "argument --room: expected one argument"
    assert written["room"] == socket.gethostname()
    read = labels.Path.read_text

    def another_accounts(path, *args, **kwargs):
        if path.name == "labels.txt":
            raise PermissionError(13, "Permission denied", str(path))
        return read(path, *args, **kwargs)

    monkeypatch.setattr(labels.Path, "read_text", another_accounts)
    (tmp_path / "clips").mkdir()
    (tmp_path / "clips" / "labels.txt").write_text("A121\tpatient fell\n")
    why = said(["--record", "--record-dir", str(tmp_path / "clips"), "--label", "patient fell"])
    assert why == f"{tmp_path / 'clips' / 'labels.txt'}: cannot be read (Permission denied)"
    assert "Traceback" not in capsys.readouterr().err
    # The file of a room running now (its lock held): left as that run writes it.
    from live.headless import hold_status_file

    running = hold_status_file(status)
    status.write_text('{"ok": true, "room": "bed 1"}\n')
    capsys.readouterr()
    refused(["--headless", "--status-file", str(status), "--room", "bed 2", "--people", "9"])
    assert json.loads(status.read_text()) == {"ok": True, "room": "bed 1"}
    assert f"--status-file {status} is written by another running app" in capsys.readouterr().err
    running.close()
    # Not headless, or its own option refused: nothing written.
    status.unlink()
    refused(["--status-file", str(status), "--people", "9"])
    refused(["--headless", "--status-file", str(tmp_path / "none" / "status.json"), "--people", "9"])
    assert not status.exists() and not (tmp_path / "none").exists()


def test_a_failed_start_is_not_written_over_by_a_starting_write_still_retrying(tmp_path, monkeypatch):
    """On Windows a rename retries for seconds while a monitor reads the file: the start's error, written
    once the writer had been waited for a while, was then written over by the writer's late "starting",
    and the file said the run was starting for good. Every write is the writer thread's own now."""
    import json

    import live.headless

    monkeypatch.setattr(live.headless, "REPLACE_RETRY_S", 1.0)  # a rename retried for up to 1 s
    write = live.headless.write_status_file

    def slow_while_starting(path, stats, problems, room, ending, source="", waiting=None):
        if ending is None:
            time.sleep(2.5)  # its rename retried while a monitor holds the file (beyond a wait of 2 s)
        write(path, stats, problems, room, ending, source, waiting)

    monkeypatch.setattr(live.headless, "write_status_file", slow_while_starting)
    status = tmp_path / "status.json"
    starting = live.headless.StartingStatusFile(status, "bed 2", "sim").start()
    starting.failed("model x.pt: not a checkpoint")  # then the process ends, and the thread with it
    said = json.loads(status.read_text())
    assert said["ended"] and said["why_ended"] == "model x.pt: not a checkpoint"


def test_a_status_file_says_the_output_s_disk_is_nearly_full(tiny_checkpoint, tmp_path, monkeypatch):
    import json

    import live.headless

    monkeypatch.setattr(live.headless, "STATUS_FILE_EVERY_S", 0.5)
    monkeypatch.setattr(live.headless.LineWriter, "LOW_DISK_BYTES", 10**18)  # every disk is nearly full
    status = tmp_path / "status.json"
    pipeline, _ = _pipeline_whose_stats_change(tiny_checkpoint, lambda at: {})
    run_headless(pipeline, HeadlessConfig(output=tmp_path / "decisions.jsonl", status_file=status),
                 duration_s=2.0)
    assert json.loads(status.read_text())["problems"] == ["disk_low"]


def test_a_headless_run_pages_the_room_while_its_sensor_is_unplugged(tiny_checkpoint, tmp_path, monkeypatch):
    """The loop's once-a-second check hands the run's problems to the alerts: an unplugged sensor pages
    the room (room_unwatched) through --alert-command, and plugged in again, once more
    (room_watched_again)."""
    import live.headless

    monkeypatch.setattr(live.headless, "WATCHED_AGAIN_S", 1.0)
    pipeline, _ = _pipeline_whose_stats_change(tiny_checkpoint, lambda at: {})
    real_stats, first = pipeline.stats, []

    def stats():  # unplugged for the loop's first 3.6 s of checks (counted from the first, after the warm-up)
        first.append(first[0] if first else time.monotonic())
        return dataclasses.replace(real_stats(), connected=time.monotonic() - first[0] >= 3.6)

    pipeline.stats = stats
    out = tmp_path / "pages.txt"
    script = f"import os; open({str(out)!r}, 'a').write(os.environ['ALERT_KIND'] + chr(10))"
    config = HeadlessConfig(output=Path(os.devnull), alerts=AlertConfig(
        classes=("fall_down",), command=f"{sys.executable} -c \"{script}\"", unwatched_after_s=1.0))
    summary = run_headless(pipeline, config, duration_s=7.0)
    assert out.read_text().split() == ["room_unwatched", "room_watched_again"] and not summary.errors


def test_a_run_a_failed_sensor_ended_says_so_among_the_status_file_s_problems(tiny_checkpoint, tmp_path):
    """The loop stops at a failure before a status takes it in: the last file said "ended" with the
    problems of up to 10 s before, none of them the failure (README lists stopped_by_error)."""
    from live.app import open_model
    from live.sources import simulated_source

    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    source = simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True))
    read, reads = source.read, []

    def failing_read(timeout: float = 0.1):
        reads.append(1)
        if len(reads) > 30:
            raise OSError(5, "Input/output error")
        return read(timeout)

    source.read = failing_read
    status = tmp_path / "status.json"
    config = HeadlessConfig(output=Path(os.devnull), status_file=status,
                            alerts=AlertConfig(classes=("fall_down",)))
    run_headless(LivePipeline(source, engine, inputs), config, duration_s=20.0)
    final = json.loads(status.read_text())
    assert final["ended"] and "stopped_by_error" in final["problems"] and "Input/output" in final["why_ended"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd's notify socket: Linux")
def test_under_systemd_type_notify_the_run_says_ready_pings_its_watchdog_and_says_stopping(
    tiny_checkpoint, monkeypatch
):
    """A hung main loop went on as a running service for ever (systemd saw the process, not the loop), and
    `systemctl start` returned before the model had loaded. Under Type=notify: READY=1 once it runs,
    WATCHDOG=1 twice per WatchdogSec from the loop, STOPPING=1 as it shuts down."""
    import socket
    import uuid

    from live.app import open_model
    from live.sources import simulated_source

    name, said = f"wtf-test-{uuid.uuid4().hex}", []
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind("\0" + name)  # Linux's abstract namespace: no path to clean up, none too long
        manager.settimeout(10)

        def listen() -> None:  # as systemd does, at once (its queue holds ten datagrams)
            while not said or said[-1] != "STOPPING=1":
                said.append(manager.recv(256).decode())

        listener = threading.Thread(target=listen, daemon=True)
        listener.start()
        monkeypatch.setenv("NOTIFY_SOCKET", "@" + name)
        monkeypatch.setenv("WATCHDOG_USEC", "400000")  # a ping every 0.2 s
        engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
        pipeline = LivePipeline(simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True)),
                                engine, inputs)
        run_headless(pipeline, HeadlessConfig(output=Path(os.devnull), alerts=AlertConfig(classes=())),
                     duration_s=2.0)
        listener.join(10)
    assert said[0] == "READY=1" and said[-1] == "STOPPING=1"
    assert 5 <= said.count("WATCHDOG=1") <= 15 and len(said) == said.count("WATCHDOG=1") + 2


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="systemd's notify socket: Linux")
def test_a_service_manager_that_reads_nothing_never_holds_the_run(caplog) -> None:
    """Its queue full (ten datagrams), a blocking send held the headless main loop for good."""
    import socket
    import uuid

    from live.service_manager import ServiceManager

    name = f"wtf-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as silent:
        silent.bind("\0" + name)
        service = ServiceManager({"NOTIFY_SOCKET": "@" + name, "WATCHDOG_USEC": "1000"})
        started = time.monotonic()
        with caplog.at_level(logging.WARNING, logger="live.service_manager"):
            for k in range(2000):
                service.ping(started + k)
        assert time.monotonic() - started < 5
    assert service.watchdog_every_s == 0.0005
    assert len(caplog.records) == 1 and "cannot tell the service manager" in caplog.records[0].getMessage()


def test_the_sensor_s_mounting_is_said_once_and_again_when_it_is_knocked(caplog):
    """A simulated room (its sensor 1.57 m up, pitched 15.2 degrees down) watched for 60 s, then the
    sensor knocked 12 degrees further down for 120 s: said once, and once more when the new floor has
    held; the feet of before and after the knock, fitted together, are not said as floors of their own."""
    import math
    from dataclasses import replace

    from live.capture import RingEntry
    from live.headless import MOUNTING_HELD_S, MountingReport
    from simulation.scene import SimulatedScene

    scene = SimulatedScene(seed=7, max_people=2)
    knock = math.radians(12.0)
    cos, sin = math.cos(knock), math.sin(knock)
    turned = np.array([[1, 0, 0], [0, cos, sin], [0, -sin, cos]], np.float32)
    report = MountingReport("room 12")
    said_at = []
    with caplog.at_level(logging.INFO, logger="live.headless"):
        for i in range(5400):
            bodies = scene.next_frame(draw=False).bodies
            if i >= 1800:
                bodies = [replace(body, joints=body.joints @ turned.T) for body in bodies]
            said = report.said
            frame = RingEntry(i, i / scene.fps, 0.0, i, False, bodies)
            report.observe(frame)
            report.observe(frame)  # the same frame looked at twice
            if report.said is not said:
                said_at.append(i / scene.fps)
    lines = [r for r in caplog.records if "the sensor" in r.getMessage()]
    assert [r.levelname for r in lines] == ["INFO", "WARNING"], [r.getMessage() for r in lines]
    first, knocked = (r.getMessage() for r in lines)
    assert re.fullmatch(r"room 12: the sensor stands 1\.5\d m above the floor, looking 1[56] deg down, "
                        r"level side to side \(the floor seen from the feet of people standing in view\)",
                        first), first
    assert re.match(r"room 12: the sensor now stands 1\.5\d m above the floor, looking 2[78] deg down, "
                    r"level side to side; it stood 1\.5\d m above the floor, looking 1[56] deg down",
                    knocked), knocked
    # The feet of before the knock leave the tracker's sample within about 30 s.
    assert said_at[0] >= MOUNTING_HELD_S and 60.0 + MOUNTING_HELD_S <= said_at[1] <= 150.0


def test_a_headless_run_says_how_the_sensor_is_mounted(tiny_checkpoint, monkeypatch, caplog, tmp_path):
    import core.room
    import live.headless
    from live.app import open_model
    from live.sources import simulated_source

    # Said sooner than in a room (10 s of people standing, then 30 s held), for a short run.
    monkeypatch.setattr(core.room, "LEVEL_CALL_SPINES", 30)
    monkeypatch.setattr(live.headless, "MOUNTING_HELD_S", 1.0)
    engine, inputs = open_model(tiny_checkpoint, "pytorch-cpu")
    pipeline = LivePipeline(simulated_source(people=2, seed=7, options=ReplayOptions(realtime=True)),
                            engine, inputs)
    said, stop = threading.Event(), threading.Event()

    class SaidMounting(logging.Handler):  # the run ends once it is said (a loaded machine says it later)
        def emit(self, record: logging.LogRecord) -> None:
            if "the sensor stands" in record.getMessage():
                said.set()
                stop.set()

    handler = SaidMounting()
    logging.getLogger("live.headless").addHandler(handler)
    try:
        with caplog.at_level(logging.INFO, logger="live.headless"):
            run_headless(pipeline, HeadlessConfig(output=tmp_path / "decisions.jsonl"), stop=stop,
                         duration_s=120.0)
    finally:
        logging.getLogger("live.headless").removeHandler(handler)
    assert said.is_set(), caplog.text
    # The simulated sensor: 1.57 m up, 15.2 degrees down; said here from its first seconds' fits.
    height, pitch = re.search(r"the sensor stands (\S+) m above the floor, looking (\d+) deg down",
                              caplog.text).groups()
    assert float(height) == pytest.approx(1.57, abs=0.06) and int(pitch) == pytest.approx(15.2, abs=2)


def test_a_model_file_replaced_or_removed_under_a_running_room_is_said(tmp_path, caplog):
    """A new checkpoint copied over the old one while the room ran: the run went on with the old model, its
    status "ok", and nothing said that a restart was needed; a file removed failed only the next start."""
    from live.headless import ModelFileWatch

    model = tmp_path / "model.pt"
    model.write_bytes(b"the model this run loaded")
    watch = ModelFileWatch(model)
    with caplog.at_level(logging.INFO, logger="live.headless"):
        watch.check()
        assert caplog.text == ""
        old = model.read_bytes()
        model.write_bytes(b"a retrained model, copied over it")
        os.utime(model, ns=(time.time_ns(), time.time_ns() + 10**9))
        watch.check()
        watch.check()  # said once
        new = hashlib.sha256(model.read_bytes()).hexdigest()[:12]
        loaded = hashlib.sha256(old).hexdigest()[:12]
        assert caplog.messages == [
            f"model file {model} was replaced (sha256 {new}; this run loaded {loaded}): this run goes on "
            "with the model it loaded, and a restart loads the new one"]
        caplog.clear()
        model.write_bytes(old)  # rolled back
        os.utime(model, ns=(time.time_ns(), time.time_ns() + 2 * 10**9))
        watch.check()
        assert caplog.messages == [f"model file {model} holds the model this run loaded again"]
        caplog.clear()
        os.utime(model, ns=(time.time_ns(), time.time_ns() + 3 * 10**9))  # touched: the same bytes
        watch.check()
        assert caplog.messages == []
        model.unlink()
        watch.check()
        assert caplog.messages == [f"model file {model} is gone: this run goes on with the model it loaded, "
                                   "and a restart would fail to start"]
        caplog.clear()
        # The engine's hash of what it loaded: a file replaced while the model loaded (a TensorRT build takes
        # minutes) is said at the first look, and one gone by then too.
        model.write_bytes(b"copied over it while the engine was built")
        engine_loaded = hashlib.sha256(old).hexdigest()
        ModelFileWatch(model, engine_loaded).check()
        assert caplog.messages[0].startswith(f"model file {model} was replaced")
        caplog.clear()
        ModelFileWatch(tmp_path / "gone.pt", engine_loaded).check()
        gone = tmp_path / "gone.pt"
        assert caplog.messages == [f"model file {gone} is gone: this run goes on with the model it loaded, "
                                   "and a restart would fail to start"]
        caplog.clear()
        # Replaced again while it was read: the next look says it.
        import live.headless

        watch, read = ModelFileWatch(model, engine_loaded), live.headless.file_sha256
        fails = iter([OSError(13, "Permission denied")])

        def read_once_in_the_middle_of_a_copy(path):
            if (error := next(fails, None)) is not None:
                raise error
            return read(path)

        live.headless.file_sha256 = read_once_in_the_middle_of_a_copy
        try:
            watch.check()
            assert caplog.messages == []
            watch.check()
        finally:
            live.headless.file_sha256 = read
        assert caplog.messages[0].startswith(f"model file {model} was replaced")


def test_a_headless_run_looks_at_its_model_file_as_it_runs(tiny_checkpoint, monkeypatch, caplog, tmp_path):
    import shutil

    import live.headless
    from live.app import open_model
    from live.sources import simulated_source

    monkeypatch.setattr(live.headless, "MODEL_FILE_CHECK_S", 0.2)
    model = tmp_path / "model.pt"
    shutil.copy(tiny_checkpoint, model)
    engine, inputs = open_model(model, "pytorch-cpu")
    pipeline = LivePipeline(simulated_source(people=1, seed=3, options=ReplayOptions(realtime=True)),
                            engine, inputs)
    stop = threading.Event()

    class Replaced(logging.Handler):  # the run ends once it is said
        def emit(self, record: logging.LogRecord) -> None:
            if "was replaced" in record.getMessage():
                stop.set()

    def replace_it() -> None:
        while not pipeline.started and not stop.is_set():
            time.sleep(0.05)
        model.write_bytes(b"not what the run loaded")

    handler, replacer = Replaced(), threading.Thread(target=replace_it)
    looks, check = [], live.headless.ModelFileWatch.check

    def counted(watch) -> None:
        looks.append(time.monotonic())
        check(watch)

    monkeypatch.setattr(live.headless.ModelFileWatch, "check", counted)
    logging.getLogger("live.headless").addHandler(handler)
    started = time.monotonic()
    try:
        replacer.start()
        with caplog.at_level(logging.INFO, logger="live.headless"):
            run_headless(pipeline, HeadlessConfig(output=tmp_path / "decisions.jsonl", model_file=model),
                         stop=stop, duration_s=60.0)
    finally:
        replacer.join()
        logging.getLogger("live.headless").removeHandler(handler)
    assert stop.is_set() and f"model file {model} was replaced" in caplog.text
    assert len(looks) <= (time.monotonic() - started) / 0.2 + 2  # every MODEL_FILE_CHECK_S, not each loop


def test_a_second_run_given_a_running_room_s_status_file_leaves_it_alone(tiny_checkpoint, tmp_path, capsys):
    """A test run by hand, or a unit copied for the next room, given the same --status-file: it wrote its
    "starting" and "ended" over the running room's "ok", and a monitor of forty rooms saw that room end."""
    from live.headless import hold_status_file

    status = tmp_path / "status.json"
    options = ["--headless", "--duration", "1", "--checkpoint", str(tiny_checkpoint), "--output", os.devnull,
               "--room", "bed 2", "--status-file", str(status)]
    running = hold_status_file(status)  # the room running now
    status.write_text('{"ok": true, "room": "bed 1"}\n')
    try:
        assert main(options) == 75  # to be tried again later, as for a held alert queue
    finally:
        running.close()
    assert json.loads(status.read_text()) == {"ok": True, "room": "bed 1"}
    assert (f"python -m live: --status-file {status} is written by another running app (another room's, "
            "or this room's already running): give each run its own") in capsys.readouterr().err
    assert main(options) == 0  # the other run gone
    assert json.loads(status.read_text())["room"] == "bed 2"


def test_a_status_file_s_lock_made_by_another_account_is_held_read_only(tmp_path, monkeypatch):
    """A lock file root left by hand (mode 600) cannot be opened for writing by the service's user: it is
    locked through a read-only handle (flock takes one), not left unlocked."""
    import builtins

    import live.headless

    status = tmp_path / "status.json"
    (tmp_path / "status.json.lock").write_bytes(b"")
    real_open = builtins.open

    def as_the_service_user(path, mode="r", *args, **kwargs):
        if str(path).endswith(".lock") and mode != "rb":
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, mode, *args, **kwargs)

    import core.locks

    monkeypatch.setattr(core.locks, "open", as_the_service_user, raising=False)
    handle = live.headless.hold_status_file(status)
    assert handle is not None and handle.mode == "rb"
    with pytest.raises(live.headless.StatusFileInUse):  # and it holds: a second run is refused
        live.headless.hold_status_file(status)
    handle.close()


class _FloorShown:
    """Stands in for MountingReport's FloorTracker: the floor it shows is set by the test."""

    def __init__(self) -> None:
        self.floor, self.settled, self.frames = None, True, 0

    def observe(self, bodies) -> bool:
        self.frames += 1
        return False


def _floor_of(height_m: float, pitch_deg: float, roll_deg: float = 0.0):
    from core.room import FloorPlane

    pitch, roll = np.radians(pitch_deg), np.radians(roll_deg)
    turn = np.array([[1, 0, 0], [0, np.cos(pitch), np.sin(pitch)], [0, -np.sin(pitch), np.cos(pitch)]])
    return FloorPlane(turn @ np.array([np.sin(roll), np.cos(roll), 0.0]), height_m, 100, 2)


def test_a_mounting_is_said_once_it_has_held_and_a_change_once_it_holds(monkeypatch, caplog):
    """The floor a tracker shows, second by second: said once it has held MOUNTING_HELD_S; a floor that
    moves again restarts the wait; one back where it was said is no change; a change of height or of roll
    alone is one too."""
    from live.capture import RingEntry
    from live.headless import MountingReport

    report, shown = MountingReport("bed 2"), _FloorShown()
    report.floor = shown
    said: list[tuple[float, str]] = []
    floors = {0: _floor_of(2.0, 20.0), 45: _floor_of(2.0, 30.0), 60: _floor_of(2.0, 40.0),  # moved again
              110: _floor_of(2.0, 20.0), 120: _floor_of(2.0, 40.0),  # off, and back where it was said ...
              150: _floor_of(2.0, 20.0),  # ... and off again: waited for from here
              190: _floor_of(2.3, 20.0),  # the height alone
              230: _floor_of(2.3, 20.0, 6.0)}  # the roll alone
    with caplog.at_level(logging.INFO, logger="live.headless"):
        for second in range(280):
            shown.floor = floors.get(second, shown.floor)
            shown.settled = second >= 5  # not before enough people have stood in view
            for _ in range(2):  # each frame looked at twice: taken once
                report.observe(RingEntry(second, float(second), 0.0, second, False, []))
                caplog_messages = [r.getMessage() for r in caplog.records]
                if len(caplog_messages) > len(said):
                    said.append((second, caplog_messages[-1]))
    assert shown.frames == 280
    assert [at for at, _ in said] == [35, 90, 180, 220, 260]
    assert said[0][1] == ("bed 2: the sensor stands 2.00 m above the floor, looking 20 deg down, level side "
                          "to side (the floor seen from the feet of people standing in view)")
    assert "now stands 2.00 m above the floor, looking 40 deg down" in said[1][1]
    assert "now stands 2.30 m above the floor" in said[3][1] and "its right side 6 deg low" in said[4][1]


def test_the_app_watches_the_model_file_it_loaded(tiny_checkpoint, tmp_path, monkeypatch):
    """The file --checkpoint named, from the bytes the engine loaded."""
    import shutil

    import live.headless

    model = tmp_path / "model.pt"
    shutil.copy(tiny_checkpoint, model)
    watched = []
    real = live.headless.ModelFileWatch

    class Recorded(real):
        def __init__(self, path, loaded=None):
            watched.append((path, loaded))
            super().__init__(path, loaded)

    monkeypatch.setattr(live.headless, "ModelFileWatch", Recorded)
    assert main(["--headless", "--duration", "1", "--checkpoint", str(model), "--output", os.devnull]) == 0
    assert watched == [(model, hashlib.sha256(model.read_bytes()).hexdigest())]


def test_a_model_of_the_simulated_room_in_the_simulated_room_is_not_warned_of(tmp_path, caplog):
    from core.model.profiles import pose_only, tiny

    model = random_checkpoint(tmp_path / "sim.pt", pose_only(tiny(len(CLASSES))), CLASSES,
                              extra={"dataset": "simulated"})
    with caplog.at_level(logging.INFO, logger="live"):
        assert main(["--headless", "--duration", "1", "--checkpoint", str(model), "--output",
                     os.devnull]) == 0
    assert "model sim.pt: sha256" in caplog.text and "trained on dataset simulated" in caplog.text
    assert "learnt from the simulated room alone" not in caplog.text


def test_a_check_says_what_a_start_would_refuse_and_writes_nothing(tiny_checkpoint, tmp_path, capsys,
                                                                  monkeypatch):
    """A deployment's check of a room's options had only a short run: it opened the files, wrote the
    status file over the running service's, and could raise a real alert. --check starts nothing."""
    status, output, queue = tmp_path / "status.json", tmp_path / "decisions.jsonl", tmp_path / "alerts.jsonl"
    status.write_text('{"ok": true, "room": "bed 2"}\n')  # the service's, running
    options = ["--headless", "--check", "--checkpoint", str(tiny_checkpoint), "--room", "bed 2",
               "--status-file", str(status), "--output", str(output), "--alert-class", "fall_down",
               "--alert-url", "https://alerts.invalid/rooms", "--alert-queue", str(queue)]
    assert main(options) == 0
    said = capsys.readouterr().err
    assert "python -m live: check passed: sim and model tiny.pt (" in said
    assert ") open as a start would; nothing was run" in said
    assert sorted(p.name for p in tmp_path.iterdir()) == ["status.json"]
    assert json.loads(status.read_text()) == {"ok": True, "room": "bed 2"}
    assert main([*options, "--alert-class", "falling"]) == 2  # a class the model lacks, as a start says
    assert "alert classes ['falling'] are not among the model's classes" in capsys.readouterr().err
    # A window's check where no window can open is refused, as its start is.
    if sys.platform.startswith("linux"):
        for variable in ("DISPLAY", "WAYLAND_DISPLAY", "QT_QPA_PLATFORM"):
            monkeypatch.delenv(variable, raising=False)
        assert main(["--check", "--checkpoint", str(tiny_checkpoint)]) == 2
        assert "no display to open the window on" in capsys.readouterr().err
    # The source is given back, passed or refused.
    import live.pipeline

    released, release = [], live.pipeline.LivePipeline.release
    monkeypatch.setattr(live.pipeline.LivePipeline, "release",
                        lambda self: (released.append(1), release(self)))
    assert main(options) == 0 and main([*options, "--alert-class", "falling"]) == 2
    assert released == [1, 1]
    capsys.readouterr()
    status.unlink()  # no service running now: a check refused for its options still writes nothing
    with pytest.raises(SystemExit):
        main([*options, "--people", "9"])
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_a_check_meets_what_a_start_would_meet(tiny_checkpoint, tmp_path, capsys, monkeypatch):
    """Each of these passed the check and then stopped, or half-ran, the start: a decisions file given as
    the alert queue (exit 2), a queue or status file the running service holds (75), a recording disk too
    full (no recording), standard output closed (2), a PySide6 that would abort the window (2)."""
    from core.locks import hold
    from recordings.qt_binding import QtBindingError

    status, queue = tmp_path / "status.json", tmp_path / "alerts.jsonl"
    options = ["--headless", "--check", "--checkpoint", str(tiny_checkpoint), "--room", "bed 2",
               "--output", os.devnull, "--alert-class", "fall_down", "--alert-url", "https://alerts.invalid/a",
               "--alert-queue", str(queue)]
    queue.write_text('{"room": "bed 2", "stream_time": 1.6, "topk": []}\n')  # yesterday's decisions
    assert main(options) == 2
    assert "not an alert queue (no line of it is a queue record)" in capsys.readouterr().err
    queue.unlink()
    # Held by the room's service, running: the check goes on, and says what a start now would meet.
    with hold(tmp_path / "alerts.jsonl.lock"), hold(tmp_path / "status.json.lock"):
        assert main([*options, "--status-file", str(status), "--record", "--record-dir",
                     str(tmp_path / "rec"), "--min-free-gb", "1e9"]) == 0
    said = capsys.readouterr().err
    assert f"note: alert queue {queue} is held by another running app now" in said
    assert f"note: --status-file {status} is written by another running app now" in said
    assert f"note: --record: {tmp_path} has " in said and "it would not begin now" in said
    assert main([*options, "--status-file", str(status)]) == 0  # let go: no note
    assert "note:" not in capsys.readouterr().err
    assert main([*options, "--record", "--record-dir", str(tmp_path / "rec"), "--min-free-gb", "0"]) == 0
    assert "note:" not in capsys.readouterr().err  # 0: a recording keeps no space free
    monkeypatch.setattr(sys, "stdout", None)
    assert main([o for o in options if o != os.devnull and o != "--output"]) == 2
    assert "standard output is closed" in capsys.readouterr().err
    monkeypatch.undo()

    def aborts() -> None:
        raise QtBindingError("PySide6 6.12.0 on Python 3.11 takes a reference from None at every Qt call")

    monkeypatch.setattr("live.app.check_qt_binding", aborts)
    monkeypatch.setattr("live.app.no_display_reason", lambda config: None)
    assert main(["--check", "--checkpoint", str(tiny_checkpoint)]) == 2
    assert "takes a reference from None" in capsys.readouterr().err


def test_two_real_sensors_of_one_performance_are_read_alike_and_said_once(shared_data, caplog):
    """PKU-MMD 0005, seen by its left and middle Kinects (tripods at one height, level): each mounting is
    said once over the ~50 s, no knock is said, and the two agree (0.94 m and 1.05 m, 2 and 0 degrees)."""
    from live.capture import RingEntry
    from live.headless import MountingReport
    from recordings.pkummd import PkuMmdRecording

    said = []
    with caplog.at_level(logging.INFO, logger="live.headless"):
        for view in ("L", "M"):
            report = MountingReport(view)
            sequence = PkuMmdRecording(shared_data / "pkummd" / "skeletons" / f"0005-{view}.txt.xz")
            for i, frame in enumerate(sequence.frames()):
                report.observe(RingEntry(i, frame.timestamp, 0.0, i, False, frame.bodies))
            said.append(report.said)
    assert [r.levelname for r in caplog.records] == ["INFO", "INFO"], caplog.text
    left, middle = said
    assert abs(left.height_m - middle.height_m) < 0.15 and 0.8 < left.height_m < 1.2
    assert all(abs(m.pitch_deg) < 5 and abs(m.roll_deg) < 5 for m in said)


def test_a_status_file_says_how_many_alerts_wait_and_for_how_long(tiny_checkpoint, tmp_path):
    """"N falls undelivered for M minutes" is what on-call pages on: the status file said only
    alert_delivery_failing, the count was in the log alone."""
    import json

    from live.alert_delivery import AlertDelivery, DeliveryConfig

    queue = tmp_path / "alerts.jsonl"
    closed = "http://127.0.0.1:9/alerts"  # nothing listens there
    earlier = AlertDelivery(DeliveryConfig(closed, queue_path=queue, timeout_s=1.0))
    earlier.submit({"person": 1, "class": "fall_down", "p": 0.9, "time": "2026-11-30T10:00:00+01:00"})
    earlier.close(timeout=1.0)  # an earlier run's fall, not delivered: this run sends it first
    record = json.loads(queue.read_text().splitlines()[0])  # queued an hour ago
    queue.write_text(json.dumps({**record, "queued_at": time.time() - 3600}) + "\n")
    status = tmp_path / "status.json"
    options = ["--headless", "--duration", "2", "--checkpoint", str(tiny_checkpoint), "--output", os.devnull,
               "--alert-url", closed, "--alert-queue", str(queue), "--alert-class", "fall_down",
               "--status-file", str(status)]
    main(options)
    said = json.loads(status.read_text())
    assert said["alerts_waiting"] >= 1 and 3600 <= said["oldest_alert_waiting_s"] < 3700, said


def test_a_status_file_says_the_run_s_figures_and_what_ended_it_as_keys(tmp_path):
    """The figures a dashboard reads, each its own, and what ended a run as a key for each way it ends."""
    from live.headless import AlertsWaiting, EndedBy, Ending, _why_ending, write_status_file

    stats = types.SimpleNamespace(source="sim", capture_fps=29.96, dropped=3, people=2, decisions=41,
                                  skipped_hops=2, failed_hops=1, latency_p95_s=0.0234, model_sha256="ab")
    status = tmp_path / "status.json"
    write_status_file(status, stats, ["no_frames"], "bed 2", Ending("--duration 5 s", EndedBy.DURATION),
                      waiting=AlertsWaiting(2, 125.4))
    said = json.loads(status.read_text())
    assert {key: said[key] for key in ("fps", "frames_dropped", "people", "decisions", "hops_skipped",
                                       "hops_failed", "latency_p95_ms", "alerts_waiting",
                                       "oldest_alert_waiting_s", "ended_by", "ok")} == {
        "fps": 30.0, "frames_dropped": 3, "people": 2, "decisions": 41, "hops_skipped": 2, "hops_failed": 1,
        "latency_p95_ms": 23, "alerts_waiting": 2, "oldest_alert_waiting_s": 125, "ended_by": "duration",
        "ok": False}

    def ending(stopped=False, reader_gone=False, stuck=None, failure=None, ended=False):
        pipeline = types.SimpleNamespace(failure=failure, ended=ended, source=types.SimpleNamespace(name="x"))
        stop = threading.Event()
        if stopped:
            stop.set()
        return _why_ending(pipeline, stop, reader_gone, 5.0, stuck).by.value

    assert [ending(stopped=True), ending(stuck="a read stuck"), ending(reader_gone=True),
            ending(failure="capture: OSError"), ending(ended=True), ending()] == [
        "stop_requested", "stuck", "output_reader_gone", "error", "source_ended", "duration"]


def test_a_start_that_fails_says_what_ended_it_by_its_exit_status():
    from live.app import EXIT_TRY_AGAIN, _start_failed
    from live.headless import EndedBy
    from recordings.stop_signals import EXIT_INTERRUPTED

    said = []
    starting = types.SimpleNamespace(failed=lambda why, by: said.append(by))
    for status, by in ((EXIT_TRY_AGAIN, None), (EXIT_INTERRUPTED, None), (2, None),
                       (EXIT_TRY_AGAIN, EndedBy.OUT_OF_MEMORY)):
        assert _start_failed(starting, "why", status, by) == status
    assert said == [EndedBy.HELD_ELSEWHERE, EndedBy.STOP_REQUESTED, EndedBy.START_FAILED,
                    EndedBy.OUT_OF_MEMORY]


@pytest.mark.skipif(not hasattr(os, "getuid"), reason="POSIX file modes")
def test_a_status_file_s_lock_is_this_account_s_alone(tmp_path, monkeypatch):
    """flock needs no write access: a lock file others may read (umask 022) let any local account hold
    it, and the room's service then refused to start (exit 75) for as long as it liked. Root's, run once
    by hand, is left as it was: the service's account could not open one of root's alone."""
    from live.headless import hold_status_file

    old = os.umask(0o022)
    try:
        service = os.getuid()
        if service == 0:  # (CI runs as root: the service's account is played by uid 1000)
            service = 1000
            monkeypatch.setattr(os, "getuid", lambda: 1000)
        status = tmp_path / "status.json"
        (tmp_path / "status.json.lock").write_text("")  # an earlier version's, 0644
        if os.geteuid() == 0:
            os.chown(tmp_path / "status.json.lock", service, -1)
        hold_status_file(status).close()
        assert stat.S_IMODE((tmp_path / "status.json.lock").stat().st_mode) == 0o600
        hold_status_file(tmp_path / "other.json").close()
        assert stat.S_IMODE((tmp_path / "other.json.lock").stat().st_mode) == 0o600
        another = tmp_path / "another.json.lock"  # another account's (root's, say): not changed
        another.write_text("")
        if os.geteuid() == 0:
            os.chown(another, service + 1, -1)
            hold_status_file(tmp_path / "another.json").close()
            assert stat.S_IMODE(another.stat().st_mode) == 0o644
        monkeypatch.setattr(os, "getuid", lambda: 0)  # root, by hand: its lock as the umask makes it
        hold_status_file(tmp_path / "by_hand.json").close()
        assert stat.S_IMODE((tmp_path / "by_hand.json.lock").stat().st_mode) == 0o644
    finally:
        os.umask(old)


def test_an_option_refused_is_said_without_what_may_be_its_secret(tmp_path, capsys):
    """A mistyped --alert-urll with ?token=..., a token pasted into an options file: the error quoted the
    line whole into the service's log and the status file."""
    status = tmp_path / "status.json"
    options = tmp_path / "room.options"
    for given, what in (
            (["--alert-urll", "https://alerts.example/rooms?token=SEKRET1"], "https://alerts.example/…"),
            (["--alert-url", "htps://nurse:SEKRET2@alerts.example/rooms"], "htps://…@alerts.example/…"),
            ([f"@{options}"], "Bearer …"),
            (["@https://alerts.example/rooms?token=SEKRET4"], "https://alerts.example/…")):  # no such file
        options.write_text("--headless\nAuthorization: Bearer SEKRET3\n")
        try:
            assert main(["--headless", "--status-file", str(status), *given]) == 2
        except SystemExit as usage_error:  # argparse's
            assert usage_error.code == 2
        said = capsys.readouterr().err
        written = status.read_text()
        assert what in said and "SEKRET" not in said and "SEKRET" not in written, said
