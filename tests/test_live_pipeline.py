"""The pipeline's lifetime (live/pipeline.py): a failed start-up gives the source back, and stopping a
recording never waits on a stuck disk unless asked to (and then only so long)."""

from __future__ import annotations

import dataclasses
import datetime
import itertools
import json
import logging
import os
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from model_files import EngineThatDies, random_checkpoint
from synthetic_room import TrackedSource

from core.frame import Frame
from live.capture import RecordingSink
from live.headless import AlertConfig, HeadlessConfig, run_headless
from live.pipeline import LivePipeline, PipelineConfig, RecordingSettings
from recordings.recorder import ClipFiles

CLASSES = ("drink", "wave", "sit_down", "fall_down")


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    from core.model.profiles import tiny
    from live.app import open_model

    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    return open_model(random_checkpoint(path, tiny(len(CLASSES)), CLASSES, duration_s=1.0), "pytorch-cpu",
                      threads=1)


class FailingEngine:
    """An engine whose first call (the warm-up) fails, as a GPU out of memory would."""

    def __init__(self, inner) -> None:
        self.name, self.metadata, self.reason = "failing", inner.metadata, "test"

    def run(self, crops, skeleton):
        raise RuntimeError("CUDA out of memory")


# ---- a failed start gives the source back -----------------------------------------------------------

def test_a_failed_warm_up_closes_the_source(tiny_model):
    engine, inputs = tiny_model
    source = TrackedSource()
    pipeline = LivePipeline(source, FailingEngine(engine), inputs)
    with pytest.raises(RuntimeError, match="out of memory"):
        pipeline.start()
    assert source.opens == 1 and source.closes == 1 and not source.connected
    pipeline.release()  # nothing more to give back
    assert source.closes == 1


def test_a_started_pipeline_has_not_ended_at_any_moment_of_its_start(tiny_model, monkeypatch):
    """Another thread watching `started`, then `ended` (a thread not alive): it read both True while the
    threads were being started, and took a run that had not begun for one over (a test's watcher under
    load saw no stuck recognition at all)."""
    from live.capture import Capture
    from live.worker import RecognitionWorker

    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs)
    seen = []
    for thread_class in (RecognitionWorker, Capture):
        def start(thread, start=thread_class.start):
            seen.append(pipeline.started and pipeline.ended)  # what a watcher sees as the thread starts
            start(thread)

        monkeypatch.setattr(thread_class, "start", start)
    pipeline.start()
    try:
        assert seen == [False, False] and pipeline.started and not pipeline.ended
    finally:
        pipeline.stop()


def test_a_failed_ring_allocation_closes_the_source(tiny_model, monkeypatch):
    import live.pipeline

    def no_memory(*_, **__):
        raise MemoryError("cannot allocate 820 MB")

    monkeypatch.setattr(live.pipeline, "FrameRing", no_memory)
    engine, inputs = tiny_model
    source = TrackedSource()
    with pytest.raises(live.pipeline.NotEnoughMemory, match="could not be allocated"):
        LivePipeline(source, engine, inputs).start()
    assert source.closes == 1


def test_a_recording_folder_that_cannot_be_made_closes_the_source_and_starts_nothing(tiny_model, tmp_path):
    engine, inputs = tiny_model
    source = TrackedSource()
    not_a_folder = tmp_path / "afile"
    not_a_folder.write_text("")
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(record_from_start=not_a_folder))
    with pytest.raises(OSError):
        pipeline.start()
    assert source.closes == 1 and not pipeline.started  # the window's clean-up then stops no thread
    assert not pipeline.capture.alive and source.opens == 1


def test_a_full_disk_at_the_start_of_a_record_run_leaves_the_room_watched_and_records_once_there_is_room(
    tiny_model, tmp_path, monkeypatch
):
    """--record on a disk under the recorder's minimum ended the run with exit 2 (a setting that can
    never start: no restart), and the room went unwatched for good. Recognition starts; the recording is
    said to be off, and begins once there is room."""
    import live.pipeline as pipeline_module
    import recordings.recorder as recorder_module

    engine, inputs = tiny_model
    monkeypatch.setattr(pipeline_module, "RECORD_RETRY_S", 0.2)
    full = threading.Event()
    full.set()
    check = recorder_module.Recorder._check_disk_space

    def disk_space(self, starting=False):
        if full.is_set():
            if starting:
                raise recorder_module.LowDiskSpaceError("cannot start recording: low disk space (test)")
            return "low disk space (test)"
        return check(self, starting)

    monkeypatch.setattr(recorder_module.Recorder, "_check_disk_space", disk_space)
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_from_start=tmp_path))
    pipeline.start()  # raised before
    try:
        assert pipeline.started and pipeline.recording is None
        stats = pipeline.stats()
        assert "recording_stopped" in stats.problems() and "RECORDING STOPPED (cannot start" in stats.health()
        full.clear()  # room again
        deadline = time.monotonic() + 10
        while pipeline.recording is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.recording is not None and "recording_stopped" not in pipeline.stats().problems()
        first = pipeline.recording
        full.set()  # the disk fills during the recording: it stops itself, said, and is begun again
        while pipeline.recording == first and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "recording_stopped" in pipeline.stats().problems()
        full.clear()
        while pipeline.recording is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.recording not in (None, first)
    finally:
        summary = pipeline.stop()
    assert len(summary.recordings) == 2  # the one the disk stopped, kept, and the one begun again


def test_a_recording_folder_that_hangs_at_the_start_holds_recognition_back_only_a_moment(
    tiny_model, tmp_path, monkeypatch, caplog
):
    # --record into a share that hung while it reconnected: nothing was recognised, and no alert raised,
    # until the share answered (38 s late).
    import live.pipeline as pipeline_module
    from recordings import recorder

    engine, inputs = tiny_model
    monkeypatch.setattr(pipeline_module, "RECORD_START_WAIT_S", 0.3)
    share_back = threading.Event()
    real_next_session = recorder.next_session

    def hanging_next_session(folder):
        share_back.wait(10)
        return real_next_session(folder)

    monkeypatch.setattr(recorder, "next_session", hanging_next_session)
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_from_start=tmp_path))
    started = time.monotonic()
    with caplog.at_level(logging.WARNING, logger="live.pipeline"):
        pipeline.start()
    assert time.monotonic() - started < 5 and pipeline.capture.alive and pipeline.worker.alive
    assert "has not answered for 0 s" in caplog.text and not pipeline.recording
    share_back.set()
    deadline = time.monotonic() + 10
    while not pipeline.recording and time.monotonic() < deadline:
        time.sleep(0.05)
    assert pipeline.recording  # begun once the share answered
    pipeline.stop()
    assert pipeline.recordings and pipeline.recording_errors == ()


def test_a_recording_folder_that_never_answers_is_said_while_it_runs_and_at_the_stop(
    tiny_model, tmp_path, monkeypatch
):
    # The run exited 0 with no word in its status lines or summary of the clip it never made.
    import live.pipeline as pipeline_module
    from recordings import recorder

    engine, inputs = tiny_model
    monkeypatch.setattr(pipeline_module, "RECORD_START_WAIT_S", 0.2)
    share_back = threading.Event()
    monkeypatch.setattr(recorder, "next_session", lambda folder: (share_back.wait(10), 1)[1])
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_from_start=tmp_path))
    pipeline.start()
    stats = pipeline.stats()
    assert stats.troubled and f"RECORDING NOT BEGUN: {tmp_path} SILENT FOR " in stats.health()
    summary = pipeline.stop()
    share_back.set()
    assert any(e.startswith("the recording asked for from the start never began: its folder")
               for e in summary.errors)
    pipeline._record_start_waiting[0].join(10)  # the folder answers after the stop: said once, not again
    assert len(pipeline.recording_errors) == 1   # as "the pipeline is stopping"


def test_a_start_that_fails_while_the_recording_waits_on_its_folder_keeps_no_clip(
    tiny_model, tmp_path, monkeypatch
):
    import live.pipeline as pipeline_module
    from recordings import recorder

    engine, inputs = tiny_model
    monkeypatch.setattr(pipeline_module, "RECORD_START_WAIT_S", 0.2)
    share_back = threading.Event()
    real_next_session = recorder.next_session
    monkeypatch.setattr(recorder, "next_session", lambda folder: (share_back.wait(10),
                                                                  real_next_session(folder))[1])
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_from_start=tmp_path))
    build = pipeline._build

    def build_with_a_worker_that_cannot_start() -> None:  # Ctrl-C just after the recording's wait
        build()

        def interrupted() -> None:
            raise KeyboardInterrupt

        pipeline.worker.start = interrupted

    pipeline._build = build_with_a_worker_that_cannot_start
    with pytest.raises(KeyboardInterrupt):
        pipeline.start()
    share_back.set()
    pipeline._record_start_waiting[0].join(10)  # the folder answers after the start gave up
    assert pipeline.recording is None and not list(tmp_path.glob("*.partial"))


def test_headless_start_up_failure_closes_the_source_and_its_outputs(tiny_model, tmp_path):
    engine, inputs = tiny_model
    source = TrackedSource()
    source.open()  # as live.app opens it before the model loads
    pipeline = LivePipeline(source, FailingEngine(engine), inputs, source_is_open=True)
    output = tmp_path / "decisions.jsonl"
    with pytest.raises(RuntimeError):
        run_headless(pipeline, HeadlessConfig(output=output, alerts=AlertConfig(classes=())))
    assert source.closes == 1 and output.exists()


def test_the_cli_gives_the_source_back_when_the_run_cannot_start(tiny_model, monkeypatch, tmp_path, capsys):
    """The source is opened before the model; a bad alert class is found after: the source is closed."""
    import live.app
    from live.app import main

    source = TrackedSource()
    monkeypatch.setattr(live.app, "open_source", lambda config, color=True: source)
    from core.model.profiles import tiny

    checkpoint = random_checkpoint(tmp_path / "m.pt", tiny(len(CLASSES)), CLASSES, duration_s=1.0)
    assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch",
                 "--alert-class", "juggling"]) == 2
    assert "juggling" in capsys.readouterr().err
    assert source.opens == 1 and source.closes == 1


def test_a_recording_that_cannot_start_for_disk_space_leaves_the_room_watched(tiny_model, monkeypatch,
                                                                               tmp_path, capsys):
    """It stopped the app with exit 2 before it ran (a setting that can never start, not restarted): the
    room went unwatched for want of disk space for its recordings. The run goes on, said, and ends 1."""
    import shutil

    import live.app
    from live.app import main

    source = TrackedSource()
    monkeypatch.setattr(live.app, "open_source", lambda config, color=True: source)
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda path: type(usage)(usage.total, usage.used, 10**9))
    from core.model.profiles import tiny

    checkpoint = random_checkpoint(tmp_path / "m.pt", tiny(len(CLASSES)), CLASSES, duration_s=1.0)
    assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch", "--duration", "2",
                 "--output", os.devnull, "--record", "--record-dir", str(tmp_path / "clips"),
                 "--label", "wave"]) == 1
    err = capsys.readouterr().err
    assert "was off as the run ended: cannot start recording: low disk space" in err  # the summary's
    assert "capture: 0 frames" not in err and source.opens == 1 and source.closes == 1  # it ran
    assert "1.0 GB free, the recorder keeps at least 2.0 GB" in err
    # A site whose disk is small lowers the minimum (--min-free-gb): the same run records.
    assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch", "--duration", "2",
                 "--output", os.devnull, "--record", "--record-dir", str(tmp_path / "clips"),
                 "--label", "wave", "--min-free-gb", "0.5"]) == 0
    assert "low disk space" not in capsys.readouterr().err
    assert len(list((tmp_path / "clips").glob("*.skeleton"))) == 1


def test_alerts_asked_for_with_a_model_that_cannot_raise_any_is_refused(monkeypatch, tmp_path, capsys,
                                                                         caplog):
    """--alert-command with no --alert-class and a model without a fall class: a room that looks watched."""
    import live.app
    from core.model.profiles import tiny
    from live.app import main

    source = TrackedSource()
    monkeypatch.setattr(live.app, "open_source", lambda config, color=True: source)
    checkpoint = random_checkpoint(tmp_path / "m.pt", tiny(2), ("drink", "wave"), duration_s=1.0)
    assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch",
                 "--alert-command", "true"]) == 2
    error = capsys.readouterr().err
    assert "knows none of the default alert classes" in error and "drink, wave" in error
    assert source.closes == 1
    # Without a delivery the run goes on, and says as a warning (what a service's log shows) that nothing
    # will alert.
    with caplog.at_level("WARNING", logger="live"):
        assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch",
                     "--duration", "0.5"]) == 0
    assert [r.levelname for r in caplog.records if "no alert classes" in r.getMessage()] == ["WARNING"]
    assert "(--alert-class names one of its classes: drink, wave)" in caplog.text  # which, to choose


def test_alert_classes_are_logged_as_the_model_spells_them(caplog):
    """`--alert-class sturz` alerts for the model's "Sturz" (case is not a typo): said as "Sturz", as the
    window and the alerts name it, not as typed."""
    import sys

    from live.app import _alerts_for, build_parser, config_from_args

    config = config_from_args(build_parser().parse_args(["--headless", "--alert-class", "sturz"]))
    with caplog.at_level("INFO", logger="live"):
        config = _alerts_for(config, ("no_action", "Sturz", "Trinken"))
    assert config.headless_config.alerts.classes == ("Sturz",)
    assert "alerts: Sturz in room" in caplog.text
    # Without --room, the computer's name: where it serves several rooms, theirs alike.
    assert "(this computer's name: --room names the room where it serves more than one)" in caplog.text
    assert [r.levelname for r in caplog.records if "alerts: Sturz" in r.getMessage()] == ["INFO"]  # the log's
    # Paged beyond the log, a warning: a computer put in this one's place would page as another room.
    config = config_from_args(build_parser().parse_args(["--headless", "--alert-class", "sturz",
                                                         "--alert-command", sys.executable]))
    caplog.clear()
    with caplog.at_level("INFO", logger="live"):
        _alerts_for(config, ("no_action", "Sturz", "Trinken"))
    [said] = [r for r in caplog.records if "alerts: Sturz" in r.getMessage()]
    assert said.levelname == "WARNING" and "would page as another room: give --room" in said.getMessage()
    # Named so, the computer's name is the room's: nothing to warn of.
    import socket

    named = ["--headless", "--alert-class", "sturz", "--room", socket.gethostname(), "--alert-command",
             sys.executable]
    config = config_from_args(build_parser().parse_args(named))
    caplog.clear()
    with caplog.at_level("INFO", logger="live"):
        _alerts_for(config, ("no_action", "Sturz", "Trinken"))
    assert [r.levelname for r in caplog.records if "alerts: Sturz" in r.getMessage()] == ["INFO"]


def test_a_class_name_no_font_can_show_is_said_at_the_windows_start(caplog):
    """A model with a class 跌倒 on a Linux without a CJK font: the window showed "alerts: □□" and nothing
    said why. (U+0378 stands for such a character: no font has it, it is not assigned.)"""
    from live.app import _say_classes_without_a_font

    with caplog.at_level("WARNING", logger="live"):
        _say_classes_without_a_font(("no_action", "fall_down", "Πτώση"))
        assert not caplog.records
        _say_classes_without_a_font(("no_action", "fall\u0378", "\u0378x"))
    assert [r.getMessage().split(" (")[0] for r in caplog.records] == ["no font on this computer has \u0378"]
    assert "apt-get install fonts-noto-cjk" in caplog.text


# ---- stopping a recording ---------------------------------------------------------------------------

class StuckRecorder:
    """A recorder whose disk hangs until `release` is set."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.sample_name = "stuck"
        self.out_dir = "clips"
        self.files: ClipFiles | None = None
        self.written = 0
        self.disk_free: int | None = None  # as Recorder's before its first check: its disk hangs

    def write(self, frame) -> bool:
        self.entered.set()
        self.release.wait()
        self.written += 1
        return True

    def close(self) -> ClipFiles:
        self.files = ClipFiles(Path("clips/stuck.skeleton"), Path("clips/stuck.json"), None, self.written)
        return self.files


def test_closing_a_sink_whose_writer_is_stuck_is_bounded_and_it_finalises_later(caplog):
    recorder = StuckRecorder()
    sink = RecordingSink(recorder, max_queue=2)
    sink.offer(Frame(0.0, None, [], 0))
    assert recorder.entered.wait(2)  # the writer is stuck on frame 0
    with caplog.at_level(logging.WARNING, logger="live.capture"):
        for i in range(1, 5):  # two queued, two dropped: the queue is full
            sink.offer(Frame(i / 30, None, [], i))
    # Said as the hole begins, once (a clip's hole was told only at its end, at INFO).
    assert caplog.text.count("its disk is not keeping up") == 1
    closer = threading.Thread(target=lambda: sink.close(timeout=0.2))
    closer.start()
    closer.join(5.0)
    assert not closer.is_alive()  # returned although the queue was full and the writer stuck
    assert recorder.files is None and not sink.finished.is_set()
    recorder.release.set()  # the disk answers again: the writer drains the queue and finalises
    assert sink.finished.wait(5.0)
    assert recorder.files is not None and recorder.written == 3 and sink.dropped == 2


def test_stop_recording_without_waiting_returns_while_the_clip_is_still_being_finalised(tiny_model, tmp_path):
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_finish_s=5.0))
    pipeline.start()
    try:
        pipeline.start_recording(tmp_path)
        recorder = StuckRecorder()
        sink = pipeline._recording
        real = sink.recorder
        sink.recorder = recorder  # the disk hangs from now on
        assert recorder.entered.wait(5)
        deadline = time.monotonic() + 5  # a second's frames fill the writer's queue; then frames are left out
        while not pipeline.stats().recording_dropped and time.monotonic() < deadline:
            time.sleep(0.05)
        stats = pipeline.stats()
        assert stats.troubled and "RECORDING stuck LEFT OUT " in stats.health()
        assert pipeline.stop_recording(wait=False) == "stuck"
        assert pipeline.recording is None and pipeline.stats().saving == ("stuck",)
        assert recorder.files is None  # still waiting on the disk: nobody waited for it
        recorder.release.set()
        deadline = time.monotonic() + 5
        while pipeline.stats().saving and time.monotonic() < deadline:
            time.sleep(0.02)
        assert pipeline.stats().saving == () and pipeline.recordings == [str(Path("clips/stuck.skeleton"))]
    finally:
        summary = pipeline.stop()
        real.close()
    assert summary.errors == ()
    # The frames left out of the clip are in the run's summary (a hole in a clip nobody was told of).
    assert sink.dropped > 0 and summary.recorder_dropped == sink.dropped
    assert f"({sink.dropped} frames dropped)" in "\n".join(summary.lines())


def test_a_stop_while_recognition_is_stuck_finalises_the_clip_first_and_waits_a_second_not_thirty(
    tiny_model, tmp_path, monkeypatch
):
    """The window's close gave a hung engine call 30 s, and only then finalised the recording: the window
    was gone, the process still up, and a process killed meanwhile left a .partial folder to recover."""
    import live.pipeline

    monkeypatch.setattr(live.pipeline, "RECOGNITION_STUCK_S", 0.3)
    engine, inputs = tiny_model
    release, calls = threading.Event(), []

    class EngineThatHangs:
        name, metadata, reason = "hangs", engine.metadata, "test"

        def run(self, crops, skeleton):
            calls.append(1)
            if len(calls) > 2:  # the warm-up and a hop answer, then a call never returns (until the end)
                release.wait(60)
            return engine.run(crops, skeleton)

    pipeline = LivePipeline(TrackedSource(), EngineThatHangs(), inputs)
    pipeline.start()
    try:
        pipeline.start_recording(tmp_path)
        deadline = time.monotonic() + 30
        while pipeline.stats().recognition_stuck_s is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.stats().recognition_stuck_s is not None
        started = time.monotonic()
        summary = pipeline.stop()
        waited = time.monotonic() - started
    finally:
        release.set()
    assert waited < 10
    assert len(summary.recordings) == 1 and Path(summary.recordings[0]).is_file()
    assert not list(tmp_path.glob("*.partial"))


def test_a_recording_still_stuck_at_shutdown_is_reported_not_waited_for(tiny_model, tmp_path):
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_finish_s=0.3))
    pipeline.start()
    pipeline.start_recording(tmp_path)
    recorder = StuckRecorder()
    real = pipeline._recording.recorder
    pipeline._recording.recorder = recorder
    assert recorder.entered.wait(5)
    started = time.monotonic()
    summary = pipeline.stop()
    waited = time.monotonic() - started
    recorder.release.set()
    real.close()
    assert any("stuck" in e and "recordings recover" in e for e in summary.errors)
    assert waited < 20  # bounded (record_finish_s, plus the capture and worker joins)


class HangingEngine:
    """An engine that answers the warm-up, then hangs in every call until `release` is set (a GPU driver
    that stopped answering)."""

    def __init__(self, inner) -> None:
        self.inner, self.release, self.calls = inner, threading.Event(), 0
        self.name, self.metadata, self.reason = "hanging", inner.metadata, "test"

    def run(self, crops, skeleton):
        self.calls += 1
        if self.calls > 1:
            self.release.wait(30)
        return self.inner.run(crops, skeleton)


def test_a_thread_that_does_not_stop_in_time_is_an_error_of_the_run(tiny_model, monkeypatch):
    from live.worker import RecognitionWorker

    engine, inputs = tiny_model
    hanging = HangingEngine(engine)
    pipeline = LivePipeline(TrackedSource(), hanging, inputs)
    pipeline.start()
    deadline = time.monotonic() + 20
    while hanging.calls < 2 and time.monotonic() < deadline:  # the worker is stuck in its first hop
        time.sleep(0.05)
    finish = RecognitionWorker.finish
    monkeypatch.setattr(RecognitionWorker, "finish", lambda worker, timeout=30.0: finish(worker, 0.2))
    try:
        summary = pipeline.stop()
        assert "the recognition thread did not stop in time (still running at exit)" in summary.errors
    finally:
        hanging.release.set()
        pipeline.worker._thread.join(10)


def test_the_windows_no_label_records_an_unlabelled_clip_despite_a_label_option(tiny_model, tmp_path,
                                                                                   monkeypatch):
    """`--label X` preselects X in the window; choosing "(no label)" there must record an unlabelled clip,
    not X (clips meant to stay out of training went into it with a class)."""
    engine, inputs = tiny_model
    config = PipelineConfig(recording=RecordingSettings(label="raise both arms"))
    pipeline = LivePipeline(TrackedSource(), engine, inputs, config)
    pipeline.start()
    try:
        unlabelled = pipeline.start_recording(tmp_path, None, chosen=True)
        deadline = time.monotonic() + 5
        while pipeline._recording.recorder.frame_count == 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # a frame in it: a clip of none is not kept, and its name would be free again
        pipeline.stop_recording()
        # Named by the local second it starts, which comes round again (r twice within a second, the hour
        # repeated when summer time ends): the second one was refused, "already exists".
        import live.pipeline

        started = datetime.datetime.strptime(unlabelled, "live_%Y%m%d_%H%M%S")
        same_second = SimpleNamespace(datetime=SimpleNamespace(now=lambda: started))
        monkeypatch.setattr(live.pipeline, "_dt", same_second)
        again = pipeline.start_recording(tmp_path, None, chosen=True)
        pipeline.stop_recording()
        labelled = pipeline.start_recording(tmp_path)  # --record: the settings' class
        pipeline.stop_recording()
    finally:
        pipeline.stop()
    assert unlabelled.startswith("live_") and labelled.endswith("A121")
    assert again == f"{unlabelled}_2"


def test_a_marked_action_starts_at_the_clip_time_the_sidecar_keeps(tiny_model, tmp_path):
    """The window says "started at N s": N must be the clip's time (as `recordings label --list` shows it),
    not the stream's, which ran before the recording began."""
    from recordings.clip import read_sidecar

    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        time.sleep(1.0)  # the room runs a second before recording starts
        name = pipeline.start_recording(tmp_path, "wave", chosen=True)
        deadline = time.monotonic() + 5
        while pipeline._recording.recorder.first_timestamp is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.5)
        at = pipeline.start_action("wave")
        time.sleep(0.3)
        assert pipeline.end_action() > 0.1  # stream time, which the capture thread may bring a little late
        pipeline.set_paused(True)  # paused, the stream's clock stands still: s then e mark no time at all
        time.sleep(0.2)
        pipeline.start_action("wave")
        assert pipeline.end_action() == 0.0  # said as such, not as "no action being marked"
        pipeline.stop_recording()
    finally:
        pipeline.stop()
    (interval,) = read_sidecar(tmp_path / f"{name}.json").timeline.intervals
    assert 0.15 < at < 1.3 and interval.start == pytest.approx(at, abs=1e-3)  # ~0.5 s in, not 1.5


def test_the_capture_rate_is_the_sources_not_diluted_by_time_without_frames(tiny_model):
    """A 30 fps replay that ended a while before the window was closed: the summary's rate is the one
    its frames came at (it said 22.9 fps for a 30 fps clip with nothing dropped)."""
    from live.sources import FrameStream, ReplayOptions

    def frames():
        for i in range(45):
            yield Frame(i / 30, None, [], i)

    engine, inputs = tiny_model
    source = FrameStream("paced", frames, options=ReplayOptions(realtime=True), color_shape=None, fps=30.0)
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig())
    pipeline.start()
    while not pipeline.ended:
        time.sleep(0.02)
    time.sleep(1.0)  # the replay's last frame stays on screen
    summary = pipeline.stop()
    assert summary.frames == 45 and summary.mean_fps == pytest.approx(30.0, rel=0.1), summary.mean_fps


def test_a_recording_of_no_frames_keeps_no_clip(tiny_model, tmp_path, caplog):
    """r pressed twice while paused: no clip of 0 frames left behind to be listed as a class's clip, and
    the log says so once (it went on to say the recording finished, with 0 frames)."""
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        time.sleep(0.3)
        pipeline.set_paused(True)
        time.sleep(0.2)
        with caplog.at_level("INFO", logger="live.pipeline"):
            pipeline.start_recording(tmp_path, "wave", chosen=True)
            pipeline.stop_recording()
    finally:
        summary = pipeline.stop()
    assert pipeline.recordings == [] and summary.errors == ()
    assert "no clip kept" in caplog.text and "recording finished" not in caplog.text
    assert not [p for p in tmp_path.iterdir() if p.name not in ("labels.txt", "labels.txt.lock")]


def test_a_colour_model_makes_no_decisions_once_the_video_of_a_replay_has_ended(tiny_model, tmp_path, caplog):
    """A clip whose video is cut short replays its skeleton on without colour: a colour model's crops would
    be black and its decisions wrong (the start-up refuses such a model on a source without colour). A
    colour camera that stalls twice (a video damaged in two places) is said each time, and so is its
    return."""
    import json

    import numpy as np

    from core.frame import Body
    from live.sources import FrameStream, ReplayOptions

    def frames():
        joints = np.zeros((25, 3), np.float32)
        joints[:, 1] = np.linspace(0.7, -0.9, 25)
        joints[:, 2] = 2.5
        body = Body(1, joints, np.full(25, 2, np.int8), np.full((25, 2), 30.0, np.float32))
        for i in range(240):  # 8 s; no colour for 2-3 s and again after 5 s
            colour = i < 60 or 90 <= i < 150
            yield Frame(i / 30, np.full((36, 64, 3), 80, np.uint8) if colour else None, [body], i)

    engine, inputs = tiny_model
    source = FrameStream("cut video", frames, options=ReplayOptions(realtime=False), color_shape=(36, 64))
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(lockstep=True))
    output = tmp_path / "decisions.jsonl"
    config = HeadlessConfig(output=output, alerts=AlertConfig(classes=("fall_down",)))
    with caplog.at_level("INFO", "live.worker"):
        summary = run_headless(pipeline, config)
    decided = [json.loads(line)["stream_time"] for line in output.read_text().splitlines()]
    assert summary.colourless_windows > 0 and decided
    # A 1 s window: none decided once most of it had no colour, and decided again once most of it has.
    assert not [t for t in decided if 2.5 < t <= 3.0 or t > 5.5] and [t for t in decided if 3.0 < t <= 5.5]
    episodes = ["back" if r.getMessage() == "colour is back: decisions again" else "stalled"
                for r in caplog.records if "colour" in r.getMessage()]
    assert episodes == ["stalled", "back", "stalled"]
    assert "this model needs colour, so no decisions until colour comes back" in caplog.text
    assert any("windows without colour" in line for line in summary.lines())


def test_a_colour_camera_that_comes_and_goes_is_said_back_once_it_has_stayed_a_whole_window(tiny_model,
                                                                                            caplog):
    """A flaky colour camera (a third of a second with colour, one without): windows about half without it
    said the stall and "colour is back" in turn at each window."""
    import numpy as np

    from core.frame import Body
    from live.sources import FrameStream, ReplayOptions

    def frames():
        joints = np.zeros((25, 3), np.float32)
        joints[:, 1], joints[:, 2] = np.linspace(0.7, -0.9, 25), 2.5
        body = Body(1, joints, np.full(25, 2, np.int8), np.full((25, 2), 30.0, np.float32))
        for i in range(240):  # 8 s: colour, none at 2-3 s, flaky at 3-5 s, then colour
            colour = i < 60 or (90 <= i < 150 and (i // 10) % 2 == 0) or i >= 150
            yield Frame(i / 30, np.full((36, 64, 3), 80, np.uint8) if colour else None, [body], i)

    engine, inputs = tiny_model
    source = FrameStream("flaky colour", frames, options=ReplayOptions(realtime=False), color_shape=(36, 64))
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(lockstep=True))
    with caplog.at_level("INFO", "live.worker"):
        run_headless(pipeline, HeadlessConfig(output=Path(os.devnull), alerts=AlertConfig(classes=())))
    episodes = ["back" if r.getMessage() == "colour is back: decisions again" else "stalled"
                for r in caplog.records if "colour" in r.getMessage()]
    assert episodes == ["stalled", "back"]


def test_a_recording_that_cannot_be_finalised_is_an_error_not_a_finished_clip(tiny_model, tmp_path,
                                                                              monkeypatch):
    from recordings.recorder import Recorder

    def disk_gone(recorder):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(Recorder, "close", disk_gone)
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    folder = tmp_path / "Station 4"  # the command to paste quotes it
    try:
        name = pipeline.start_recording(folder, "wave", chosen=True)
        time.sleep(0.3)
        pipeline.stop_recording()
    finally:
        summary = pipeline.stop()
    assert summary.recordings == ()
    (error,) = summary.errors
    assert f"recording {name} was not finalised" in error and "Input/output error" in error
    assert f"{name}.partial: python -m recordings recover '{folder}'" in error


def test_a_stop_does_not_wait_for_a_recording_start_stuck_on_the_disk(tiny_model, tmp_path, monkeypatch):
    """The window closed while r's recording start hangs on the disk: the stop goes on, and the start,
    once the disk answers, records nothing and leaves no half-made folder."""
    import recordings.recorder

    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    hung, entered = threading.Event(), threading.Event()
    next_session = recordings.recorder.next_session

    def stuck(out_dir):
        entered.set()
        hung.wait(30)
        return next_session(out_dir)

    monkeypatch.setattr(recordings.recorder, "next_session", stuck)
    failed: list[BaseException] = []

    def start() -> None:
        try:
            pipeline.start_recording(tmp_path, "wave", chosen=True)
        except RuntimeError as error:
            failed.append(error)

    starter = threading.Thread(target=start)
    starter.start()
    assert entered.wait(5)
    started = time.monotonic()
    summary = pipeline.stop()
    assert time.monotonic() - started < 15 and summary.errors == ()
    hung.set()
    starter.join(10)
    assert [str(e) for e in failed] == ["the pipeline is stopping"]
    assert not list(tmp_path.glob("*.partial")) and pipeline.recordings == []


def test_recognition_failing_on_every_hop_after_good_ones_stops_the_run_and_says_so(tiny_model):
    from live.worker import FAILED_HOPS_IN_A_ROW

    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), EngineThatDies(engine, good=4), inputs)
    pipeline.start()
    deadline = time.monotonic() + 60
    while pipeline.worker.error is None and time.monotonic() < deadline:
        time.sleep(0.05)
    health = pipeline.stats().health()
    assert f"hops skipped, {FAILED_HOPS_IN_A_ROW} failed since the start), latency p50 " in health
    # A computer leaving out the sensor's frames is a warning in a service's log, from a third of them.
    pipeline.capture.missed_share = lambda: 0.25
    assert pipeline.stats().missing_frames is None
    pipeline.capture.missed_share = lambda: 0.75
    stats = pipeline.stats()
    assert stats.troubled and "MISSING 75% OF ITS FRAMES (this computer is not keeping up)" in stats.health()
    # In a --fast replay (lockstep) nothing is left out here: the gaps are the recording's own.
    replayed = dataclasses.replace(stats, lockstep=True)
    assert "MISSING 75% OF ITS FRAMES (the recording's own gaps)" in replayed.health()
    summary = pipeline.stop()
    assert summary.decisions > 0  # it had been deciding before the engine died
    assert pipeline.worker.counters.errors == FAILED_HOPS_IN_A_ROW
    assert any(e.startswith("recognition: RuntimeError('CUDA error") for e in summary.errors)
    assert f"recognition failed on {FAILED_HOPS_IN_A_ROW} of " in "\n".join(summary.errors)


def test_recognition_failing_every_other_hop_is_said_once_then_counted_not_a_traceback_a_hop(
        tiny_model, caplog, monkeypatch):
    """An engine failing every other hop never stops the run (never five in a row): a traceback per hop
    filled the log with some 1,200 lines a minute."""
    import live.worker

    engine, inputs = tiny_model

    class EveryOtherCallFails:
        name, metadata, reason, calls = "flaky", engine.metadata, "test", 0

        def run(self, crops, skeleton):
            self.calls += 1
            if self.calls > 1 and self.calls % 2:
                raise RuntimeError("CUDA error: unspecified launch failure")
            return engine.run(crops, skeleton)

    monkeypatch.setattr(live.worker, "FAILURE_REMINDER_S", 1.5)  # failures 0.4 s apart: one episode
    pipeline = LivePipeline(TrackedSource(), EveryOtherCallFails(), inputs)
    with caplog.at_level("ERROR", logger="live.worker"):
        pipeline.start()
        deadline = time.monotonic() + 60
        while pipeline.worker.counters.errors < 8 and time.monotonic() < deadline:
            time.sleep(0.05)
        pipeline.stop()
    said = [r for r in caplog.records if r.name == "live.worker"]
    assert sum(r.exc_info is not None for r in said) == 1  # the cause, once
    assert len(said) < pipeline.worker.counters.errors
    assert any("recognition failed" in r.getMessage() and "times in the last" in r.getMessage() for r in said)


def test_a_failure_after_recognition_worked_again_is_said_with_its_own_cause(tiny_model, caplog):
    """A failure, then hours of good hops, then a new bug: the new one was only counted, under the first
    one's minute ("failed 2 times in the last 10800 s"), without its traceback."""
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs)
    pipeline.start()
    pipeline.stop()
    worker = pipeline.worker
    with caplog.at_level("INFO", logger="live.worker"):
        worker._say_failure(RuntimeError("CUDA error"), 1.0)
        worker._say_failure(RuntimeError("CUDA error"), 1.2)  # within the minute: counted
        worker._failures_ended()  # a hop decided again
        worker._say_failure(RuntimeError("shape mismatch (a new bug)"), 9000.0)
    said = [r for r in caplog.records if r.name == "live.worker"]
    assert [r.exc_info is not None for r in said if r.levelname == "ERROR"] == [True, False, True]
    assert "failed 1 more time(s) before it worked again" in said[1].getMessage()
    assert any(r.getMessage() == "recognition works again" for r in said)


def test_a_headless_run_ended_by_failing_recognition_says_so_not_that_the_source_ended(tiny_model, caplog):
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), EngineThatDies(engine, good=4), inputs)
    with caplog.at_level("INFO", logger="live.headless"):
        summary = run_headless(pipeline, HeadlessConfig(output=None), duration_s=60.0)
    assert summary.errors
    assert "shutting down: recognition stopped (RuntimeError: CUDA error: an illegal memory" in caplog.text


def test_a_recording_whose_disk_fills_keeps_its_frames_lets_go_and_is_an_error_of_the_run(
        tiny_model, tmp_path, disk_full_after_ten_frames):
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        name = pipeline.start_recording(tmp_path, "wave", chosen=True)
        deadline = time.monotonic() + 20
        while pipeline.recording is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert pipeline.recording is None  # no "REC" for a recording that stopped; r starts a new one
        assert not pipeline.stats().saving
    finally:
        summary = pipeline.stop()
    (skeleton,) = summary.recordings
    assert Path(skeleton).name.startswith(name)
    assert len(json.loads(Path(skeleton).with_suffix(".json").read_text())["timestamps"]) == 10
    (error,) = summary.errors
    assert f"recording {skeleton} stopped early after 10 frames" in error and "No space left" in error


def test_a_clip_at_its_longest_whose_next_part_cannot_start_goes_on_said_once(tiny_model, tmp_path,
                                                                               monkeypatch, caplog):
    """A part ends at MAX_PART_S (finishing it reads its skeleton whole); where the next part cannot be
    made (its disk refuses for a while), the recording goes on in this clip, said once, not tried and
    said again at every frame, nor said at each try (an error a minute all night), and the next part is
    tried again after NEXT_PART_RETRY_S."""
    import live.pipeline
    import recordings.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "MAX_PART_S", 0.3)
    monkeypatch.setattr(live.pipeline, "NEXT_PART_RETRY_S", 0.6)
    made = []

    def two_refused(*args, **kwargs):  # then, after one part, once more: a second spell
        made.append(None)
        if len(made) in (2, 3, 5):
            raise recorder_module.RecorderError("the disk refused it")
        return real_recorder(*args, **kwargs)

    real_recorder = recorder_module.Recorder
    monkeypatch.setattr(recorder_module, "Recorder", two_refused)
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        with caplog.at_level(logging.INFO, logger="live.pipeline"):
            pipeline.start_recording(tmp_path, "wave", chosen=True)
            deadline = time.monotonic() + 10  # the second spell: #5 refused (at 1.8 s), then #6 made and said
            while (not any("(started at try 2)" in r.getMessage() for r in caplog.records)
                   and time.monotonic() < deadline):
                time.sleep(0.1)
    finally:
        summary = pipeline.stop()
    said = [r.getMessage() for r in caplog.records
            if r.levelno >= logging.INFO and "no next clip could be started" in r.getMessage()]
    assert len(said) == 2 and said[0].endswith(
        "(the disk refused it); it goes on in this one, and a next is tried again every 1 s "
        "(said once it starts)")
    assert any("(started at try 3)" in r.getMessage() for r in caplog.records)
    assert any("(started at try 2)" in r.getMessage() for r in caplog.records)  # counted from its own spell
    clips = [json.loads(Path(path).with_suffix(".json").read_text()) for path in summary.recordings]
    assert len(clips) >= 2 and clips[0]["duration_s"] >= 1.4  # 0.3 s, and the two 0.6 s before the retries
    assert clips[0]["stopped"] == f"it was 0.3 s long: the recording went on in {clips[1]['sample_name']}"


def test_a_video_that_fills_while_a_next_part_is_awaited_goes_on_at_once(tiny_model, tmp_path, monkeypatch):
    """Within the minute before a failed next part is tried again, a 1080p video can fill its 4 GiB:
    the write would stop the recording, so a next part is tried at once."""
    import live.pipeline
    import recordings.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "MAX_PART_S", 0.3)
    monkeypatch.setattr(live.pipeline, "NEXT_PART_RETRY_S", 60.0)
    real_recorder, made = recorder_module.Recorder, []

    def second_refused(*args, **kwargs):
        made.append(None)
        if len(made) == 2:
            raise recorder_module.RecorderError("the disk refused it")
        if len(made) == 3:  # the wait's first frame after the video filled
            monkeypatch.setattr(recorder_module, "MAX_AVI_BYTES", 2**32 - 2**26)
        return real_recorder(*args, **kwargs)

    monkeypatch.setattr(recorder_module, "Recorder", second_refused)
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        pipeline.start_recording(tmp_path, "wave", chosen=True)
        deadline = time.monotonic() + 10
        while len(made) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # waiting for the retry, the clip growing; then its video fills
        monkeypatch.setattr(recorder_module, "MAX_AVI_BYTES", recorder_module.VIDEO_FRAME_ROOM)
        while len(made) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)
    finally:
        summary = pipeline.stop()
    assert len(made) >= 3 and not summary.errors  # not "stopped early: ... AVI size limit"
    clips = [json.loads(Path(path).with_suffix(".json").read_text()) for path in summary.recordings]
    went_on = f"its video was full (4 GiB): the recording went on in {clips[1]['sample_name']}"
    assert clips[0]["stopped"] == went_on


def test_a_recording_whose_video_is_full_goes_on_in_the_next_clip(tiny_model, tmp_path, monkeypatch, capsys,
                                                                   caplog):
    """An AVI holds 4 GiB, some 10 minutes of a Kinect's 1080p colour: a night's recording stopped there.
    It goes on in a new clip of the same session and class, the recording's next part; an action marked
    across the two is in both, each with its own part, and a part without marks of a marked recording
    trains as background, not as ten minutes of the class."""
    import recordings.recorder as recorder_module
    from training.datasets.clips import read_clip_folder

    monkeypatch.setattr(recorder_module, "MAX_AVI_BYTES", recorder_module.VIDEO_FRAME_ROOM + 40_000)
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()

    def parts_finished(count: int) -> None:
        deadline = time.monotonic() + 30
        while len(pipeline.recordings) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        assert len(pipeline.recordings) >= count

    try:
        first = pipeline.start_recording(tmp_path, "wave", chosen=True)
        pipeline.start_action("wave")
        parts_finished(1)
        time.sleep(0.3)  # into the second clip (2 s each; a third on a machine that stalls), as the action
        pipeline.end_action()
        parts_finished(5)
        assert pipeline.recording not in (None, first)  # still recording, in a later clip
        assert pipeline.stats().recording_part > 1  # the window's REC says which part
    finally:
        summary = pipeline.stop()
    assert not summary.errors
    clips = [json.loads(Path(path).with_suffix(".json").read_text()) for path in summary.recordings]
    names = [clip["sample_name"] for clip in clips]
    assert len(clips) >= 6 and names[0] == first and len(set(names)) == len(names)
    assert [clip["recording"]["part"] for clip in clips] == list(range(1, len(clips) + 1))
    assert len({clip["recording"]["id"] for clip in clips}) == 1
    assert clips[0]["stopped"] == f"its video was full (4 GiB): the recording went on in {names[1]}"
    assert [clip["recording"].get("went_on") for clip in clips] == [*names[1:], None]
    assert {clip["label"] for clip in clips} == {"wave"} and len({clip["session"] for clip in clips}) == 1
    for path, clip in zip(summary.recordings, clips, strict=True):  # each a whole clip, its video with it
        video = Path(path).with_name(clip["video"]["file"])
        assert clip["frame_count"] == len(clip["timestamps"]) > 0 and video.stat().st_size < 40_000 + 4096
    marked = len(list(itertools.takewhile(lambda clip: "intervals" in clip, clips)))  # the action's parts
    assert marked >= 2 and all("intervals" not in clip for clip in clips[marked:])
    (whole,), (rest,) = clips[0]["intervals"], clips[marked - 1]["intervals"]  # to the end / from 0
    assert whole["start"] <= 0.2 and whole["end"] == pytest.approx(clips[0]["timestamps"][-1], abs=0.05)
    assert rest["start"] == 0.0 and rest["label"] == "wave"
    labelled = {c.task.name: c for c in read_clip_folder(tmp_path)[0]}
    assert {labelled[n].timeline.intervals[0].label for n in names[:marked]} == {"wave"}
    for name in names[marked:]:  # between the marks: nothing happens there
        assert labelled[name].action is None and labelled[name].timeline.intervals == ()
    # Trained so: windows all along the parts, those of the later ones no_action; without no_action among
    # the classes (the marked actions cut out) those parts give nothing.
    from training.config import DataConfig
    from training.datasets.clips import clip_splits

    splits = clip_splits(DataConfig(dataset="clips", root=str(tmp_path), protocol="all",
                                    classes=["wave", "no_action"]))
    assert splits.continuous and len(splits.train) + len(splits.validation) == len(names)
    cut = clip_splits(DataConfig(dataset="clips", root=str(tmp_path), protocol="all", classes=["wave"]))
    assert sorted(s.name.split("@")[0] for s in cut.train + cut.validation) == names[:marked]
    # Listed and exported the same way: those parts hold no action.
    from recordings.__main__ import main as recordings

    capsys.readouterr()
    assert recordings(["list", str(tmp_path)]) == 0
    listed_out = capsys.readouterr().out
    listed = {line.split()[0]: line for line in listed_out.splitlines() if line.startswith("S0")}
    assert all("background" in listed[name] for name in names[marked:])
    assert "background" not in listed[names[0]]
    background = f"{len(names) - marked:>4}  (background: parts of recordings marked in their other parts)"
    assert background in listed_out
    assert recordings(["info", summary.recordings[1]]) == 0
    assert (f"part 2 of recording {clips[1]['recording']['id']}; it was full, and it went on in "
            f"{names[2]}") in capsys.readouterr().out
    assert recordings(["export", str(tmp_path), str(tmp_path / "export"), "--no-video"]) == 0
    rows = (tmp_path / "export" / "samples.tsv").read_text().splitlines()[1:]
    assert sorted({row.split("\t")[2] for row in rows}) == names[:marked]
    # And scored so by the streaming evaluation of a folder of clips.
    from training.streaming import stream_cases

    cases = {case.name: case for case in stream_cases(str(tmp_path))}
    for name in names:
        source = cases[name].open()
        assert bool(source.timeline.intervals) == (name in names[:marked])
        if name in names[marked:]:  # every body's truth there: scored as the app's no_action, not left out
            source.open()
            frame = source.read()
            assert frame.bodies and {body.truth for body in frame.bodies} == {"no_action"}
        source.close()
    # Parts whose marked parts were moved away cannot be told: said.
    elsewhere = tmp_path.with_name(tmp_path.name + "_elsewhere")  # (a folder below would still be read)
    elsewhere.mkdir()
    for name in [*names[:marked], names[-1]]:  # the marked ones, and the last (known by the one before's)
        for file in tmp_path.glob(f"{name}*"):
            file.rename(elsewhere / file.name)
    with caplog.at_level(logging.WARNING, logger="training.datasets.clips"):
        read_clip_folder(tmp_path)
    gone = ", ".join(map(str, [*range(1, marked + 1), len(names)]))
    assert (f"parts {gone} of the recording whose parts here are {names[marked]} (part {marked + 1})"
            in caplog.text
            and "are not among these clips (moved, or deleted?)" in caplog.text)
    # Marking one part says how its other parts are read now.
    capsys.readouterr()
    interval = ["--class", "wave", "--from", "0.1", "--to", "0.5"]
    assert recordings(["label", summary.recordings[marked], *interval]) == 0
    left = len(names) - marked - 1
    assert (f"this clip is part {marked + 1} of a recording of {left} parts here; 1 has marks, so the other "
            f"{left - 1} are read as background") in capsys.readouterr().out
    # Every part marked: none is background, and "the other 0 are read as background" is not said.
    *others, last = summary.recordings[marked + 1: len(names) - 1]
    for clip in others:
        assert recordings(["label", clip, *interval]) == 0
    capsys.readouterr()
    assert recordings(["label", last, *interval]) == 0
    assert "parts here" not in capsys.readouterr().out


def test_a_stop_never_waits_on_a_recording_start_removing_its_files_on_a_slow_share(
        tiny_model, tmp_path, monkeypatch):
    """A start that found the pipeline stopping removed its files holding the lock a stop needs: on a share
    gone slow, the stop waited as long as the removal took (for ever, were it hung)."""
    import recordings.recorder

    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig())
    pipeline.start()
    next_session, discard = recordings.recorder.next_session, recordings.recorder.Recorder.discard

    def answers_once_stopping(out_dir):  # the share answers only once the stop has begun
        pipeline._stopping.wait(30)
        return next_session(out_dir)

    def slow_removal(self, *args, **kwargs):
        time.sleep(4.0)
        return discard(self, *args, **kwargs)

    monkeypatch.setattr(recordings.recorder, "next_session", answers_once_stopping)
    monkeypatch.setattr(recordings.recorder.Recorder, "discard", slow_removal)
    stop_capture = pipeline.capture.stop

    def capture_stops_late(*args, **kwargs):  # the start takes the lock first
        stop_capture(*args, **kwargs)
        time.sleep(0.5)

    monkeypatch.setattr(pipeline.capture, "stop", capture_stops_late)
    refused = []

    def start() -> None:
        try:
            pipeline.start_recording(tmp_path, "wave", chosen=True)
        except RuntimeError as error:
            refused.append(str(error))

    starting = threading.Thread(target=start)
    starting.start()
    time.sleep(0.3)
    began = time.monotonic()
    pipeline.stop()
    assert time.monotonic() - began < 3.0
    starting.join(20)
    assert refused == ["the pipeline is stopping"] and not list(tmp_path.glob("*.partial"))


def test_a_start_that_fails_takes_back_a_recording_installed_meanwhile(tiny_model, tmp_path, monkeypatch):
    """A failed start (a thread that cannot start, Ctrl-C) took back the recording without its lock: a
    --record start installing its sink at that moment left it writing, with its .partial folder."""
    import live.pipeline

    monkeypatch.setattr(live.pipeline, "RECORD_START_WAIT_S", 0.2)
    install = RecordingSink.__init__

    def slow_install(self, *args, **kwargs):  # under the lock, after its check of the stop
        time.sleep(1.0)
        install(self, *args, **kwargs)

    monkeypatch.setattr(RecordingSink, "__init__", slow_install)
    engine, inputs = tiny_model
    pipeline = LivePipeline(TrackedSource(), engine, inputs, PipelineConfig(record_from_start=tmp_path))
    build = pipeline._build

    def build_a_worker_that_cannot_start() -> None:
        build()

        def cannot_start() -> None:
            raise RuntimeError("can't start new thread")

        pipeline.worker.start = cannot_start

    pipeline._build = build_a_worker_that_cannot_start
    with pytest.raises(RuntimeError, match="can't start new thread"):
        pipeline.start()
    time.sleep(1.5)
    assert pipeline.recording is None and not list(tmp_path.glob("*.partial"))


def test_a_thread_that_cannot_start_stops_what_did_and_leaves_no_recording(tiny_model, tmp_path, monkeypatch):
    from live.capture import Capture

    def cannot_start(capture):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(Capture, "start", cannot_start)
    engine, inputs = tiny_model
    source = TrackedSource()
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(record_from_start=tmp_path))
    with pytest.raises(RuntimeError, match="can't start new thread"):
        pipeline.start()
    assert not pipeline.started and not pipeline.worker.alive  # the worker that had started is stopped
    assert source.closes == 1 and pipeline.recording is None
    deadline = time.monotonic() + 10
    while list(tmp_path.iterdir()) and time.monotonic() < deadline:  # finalised on its own thread
        time.sleep(0.05)
    assert list(tmp_path.iterdir()) == []  # no clip of no frames, no .partial folder for `recover`


def test_frames_the_capture_missed_while_recording_are_said_as_the_clips_gaps(tiny_model, tmp_path, caplog):
    """A computer not keeping up: its recording said "0 frames dropped", its writer's count alone, though
    the clip lacked every frame the capture never got (here the sensor's every fourth)."""
    import numpy as np

    from core.frame import Body
    from live.sources import FrameStream, ReplayOptions

    def every_fourth_missed():
        joints = np.zeros((25, 3), np.float32)
        joints[:, 1], joints[:, 2] = np.linspace(0.7, -0.9, 25), 2.5
        body = Body(1, joints, np.full(25, 2, np.int8), np.full((25, 2), 30.0, np.float32))
        for i in (i for i in range(10**6) if i % 4 != 3):
            yield Frame(i / 30, np.full((36, 64, 3), 80, np.uint8), [body], i)

    engine, inputs = tiny_model
    source = FrameStream("behind", every_fourth_missed, options=ReplayOptions(realtime=True),
                         color_shape=(36, 64), fps=30.0)
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        with caplog.at_level(logging.INFO, logger="live.pipeline"):
            pipeline.start_recording(tmp_path, "wave", chosen=True)
            deadline = time.monotonic() + 10  # a second of the sensor's frames written (a loaded machine)
            while (time.monotonic() < deadline
                   and (pipeline._recording is None or pipeline._recording.written < 24)):
                time.sleep(0.05)
            pipeline.stop_recording()
    finally:
        summary = pipeline.stop()
    assert summary.recorder_missed >= 5 and summary.recorder_dropped == 0
    assert f"{summary.recorder_missed} missed by the capture" in "\n".join(summary.lines())
    assert f"{summary.recorder_missed} missed by the capture: the clip has gaps there" in caplog.text


def test_a_summary_without_decisions_gives_the_reason_that_held():
    """A video cut short leaves a colour model without decisions although the person stood in view all
    along: the summary must not blame a person seen too briefly."""
    from dataclasses import replace

    from live.pipeline import Summary

    run = Summary(source="clip", engine="torch", seconds=3.4, frames=103, dropped=0, duplicates=0, restarts=0,
                  mean_fps=30.0, people_seen=1, hops=15, decisions=0, skipped_hops=0, stale_windows=0,
                  colourless_windows=12, dropped_hops=0, latency_p50_s=None, latency_p95_s=None,
                  inference_p50_s=None, inference_p95_s=None, recordings=(), recorder_dropped=0, ring_mb=1.0,
                  rss_start_mb=None, rss_end_mb=None, errors=(), history_needed_s=1.6)
    lines = "\n".join(run.lines())
    assert "not decided: 12 windows without colour" in lines and "seen that long" not in lines
    assert "nobody was seen that long" in "\n".join(replace(run, colourless_windows=0).lines())
    # A room that recorded all week: one line of the count and the last few (17 kB for 353 clips before).
    week = replace(run, recordings=tuple(f"runs/recordings/live_{n:04d}.skeleton" for n in range(1, 354)))
    [line] = [line for line in week.lines() if line.startswith("recordings:")]
    assert line.startswith("recordings: 353, the last 5: runs/recordings/live_0349.skeleton, ")
    assert len(line) < 300
    assert "recordings: a.skeleton (0 frames dropped)" in replace(run, recordings=("a.skeleton",)).lines()
    choppy = replace(run, recordings=("a.skeleton",), recorder_missed=198)  # the computer not keeping up
    assert "recordings: a.skeleton (0 frames dropped, 198 missed by the capture)" in choppy.lines()


def test_stopping_a_recording_that_stopped_itself_while_an_action_was_marked_still_stops(
    tiny_model, tmp_path, monkeypatch
):
    """The disk fills while an action is being marked: the recorder seals itself and finalises; a stop in
    that moment ends the mark, which the recorder refuses. The stop goes on, and the lost mark is an
    error of the run (it stopped half-way, the source left open)."""
    import recordings.recorder as recorder_module

    engine, inputs = tiny_model
    finalize = recorder_module.finalize_partial
    finalising = threading.Event()

    def slow_finalize(*args, **kwargs):
        finalising.set()
        time.sleep(1.0)
        return finalize(*args, **kwargs)

    checks = iter([None])  # the first check during the recording finds room, the next a full disk

    def disk_space(self, starting=False):
        return None if starting else next(checks, "low disk space (test)")

    monkeypatch.setattr(recorder_module, "finalize_partial", slow_finalize)
    monkeypatch.setattr(recorder_module.Recorder, "_check_disk_space", disk_space)
    source = TrackedSource()
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig())
    pipeline.start()
    pipeline.start_recording(tmp_path, "wave", chosen=True)
    pipeline.start_action("wave")
    assert finalising.wait(10)
    summary = pipeline.stop()
    assert source.closes == 1
    assert any("'wave' was not marked" in error for error in summary.errors)


def test_a_pause_or_an_unplugged_sensor_is_not_taken_for_a_stall(tiny_model, monkeypatch):
    """Nothing comes while paused or unplugged, and that is not a frozen sensor: right after the resume,
    or the sensor's return before its first frame, no stall is reported. Unplugged or stalled, who is in
    view is not known (the last frame's count stood for a whole outage)."""
    import live.pipeline

    monkeypatch.setattr(live.pipeline, "STALLED_S", 0.5)
    engine, inputs = tiny_model
    source = TrackedSource()
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig())
    pipeline.start()
    try:
        time.sleep(0.5)
        assert pipeline.stats().stalled_s is None and pipeline.stats().people is not None
        pipeline.set_paused(True)
        time.sleep(1.0)
        pipeline.set_paused(False)
        assert pipeline.stats().stalled_s is None
        real_read = source.read
        source.connected = False  # unplugged: no frames for a second, nobody asking in between
        source.read = lambda timeout=0.1: time.sleep(0.02)
        time.sleep(1.0)
        unplugged = pipeline.stats()
        assert unplugged.people is None and "SENSOR DISCONNECTED" in unplugged.health()
        assert "people not known in view" in unplugged.health()
        source.connected = True  # back, its first frame not here yet
        assert pipeline.stats().stalled_s is None
        time.sleep(0.7)
        stalled = pipeline.stats()
        assert stalled.stalled_s is not None and stalled.people is None  # a stall now: nothing came since
        source.read = real_read
    finally:
        pipeline.stop()


def test_a_recording_s_disk_nearly_full_is_said_before_the_recording_stops(tiny_model, monkeypatch, tmp_path):
    """disk_low watched --output's and --events' disks only: the recordings' filled with no word until the
    recording stopped. 1 GB free where the recorder stops under 0.5 GB: said, and it records on."""
    import json
    import shutil

    import live.app
    import live.headless
    from live.app import main

    monkeypatch.setattr(live.app, "open_source", lambda config, color=True: TrackedSource())
    monkeypatch.setattr(live.headless, "STATUS_FILE_EVERY_S", 0.2)
    seen: list[list[str]] = []
    write = live.headless.write_status_file

    def kept(path, stats, problems, *args, **kwargs):
        seen.append(list(problems))
        write(path, stats, problems, *args, **kwargs)

    monkeypatch.setattr(live.headless, "write_status_file", kept)
    real = shutil.disk_usage
    clips = tmp_path / "clips"

    def usage(path):
        got = real(path)
        return type(got)(got.total, got.used, 10**9) if Path(path) == clips else got

    monkeypatch.setattr(shutil, "disk_usage", usage)
    from core.model.profiles import tiny

    checkpoint = random_checkpoint(tmp_path / "m.pt", tiny(len(CLASSES)), CLASSES, duration_s=1.0)
    assert main(["--headless", "--checkpoint", str(checkpoint), "--engine", "torch", "--duration", "2",
                 "--output", os.devnull, "--record", "--record-dir", str(clips), "--label", "wave",
                 "--min-free-gb", "0.5", "--status-file", str(tmp_path / "status.json")]) == 0
    assert ["disk_low"] in seen, seen
    assert list(clips.glob("*.skeleton"))  # recorded all the same
    final = json.loads((tmp_path / "status.json").read_text())
    assert final["ended"] and final["problems"] == ["disk_low"], final


def test_a_frame_ring_the_memory_cannot_hold_is_said_at_start_not_a_kill_later(tiny_model, tmp_path,
                                                                               monkeypatch, capsys, caplog):
    """On a small room PC a 1080p ring (600 MB) met a 700 MB limit: the kernel killed the app without a
    word, or numpy raised "Unable to allocate 593. MiB" from deep in the start. Said at start now, exit 75
    (memory may be freed by the next try), in --check too; tight but fitting, warned of."""
    import json

    import live.pipeline
    from core.model.profiles import tiny
    from live.app import main
    from live.pipeline import APP_MEMORY_BYTES, RingPlan

    plan = RingPlan(capacity=100, fps=30.0, color_shape=(1080, 1920))
    assert plan.nbytes == 622_080_000
    assert plan.memory_shortage(None) is None and plan.memory_shortage(2 * 10**9) is None
    assert RingPlan(100, 30.0, None).memory_shortage(1) is None  # no colour kept: nothing to say
    said, stops = plan.memory_shortage(500_000_000)
    assert stops and said.startswith("the frame ring takes 622 MB (100 frames of 1920x1080 colour, 3.3 s at "
                                      "30 fps), more than the 500 MB of memory available: close other")
    said, stops = plan.memory_shortage(plan.nbytes + APP_MEMORY_BYTES // 2)
    assert not stops and "it may be killed for memory" in said

    checkpoint = random_checkpoint(tmp_path / "m.pt", tiny(len(CLASSES)), CLASSES, duration_s=1.0)
    monkeypatch.setattr(live.pipeline, "available_memory_bytes", lambda: 30_000_000)  # the sim's ring: 46 MB
    options = ["--headless", "--duration", "1", "--checkpoint", str(checkpoint), "--output", os.devnull]
    assert main([*options, "--check"]) == 75
    assert "the frame ring takes 46 MB (66 frames of 640x360 colour, 2.2 s at 30 fps), more than the 30 MB " \
        "of memory available" in capsys.readouterr().err
    status = tmp_path / "status.json"
    assert main([*options, "--status-file", str(status)]) == 75
    assert "more than the 30 MB of memory available" in capsys.readouterr().err
    ended = json.loads(status.read_text())
    assert ended["ended_by"] == "out_of_memory" and "memory available" in ended["why_ended"]

    # Room for the ring, not for the app beside it: it starts, and says it may be killed for memory.
    monkeypatch.setattr(live.pipeline, "available_memory_bytes", lambda: 46_000_000 + APP_MEMORY_BYTES // 2)
    with caplog.at_level("WARNING", logger="live.pipeline"):
        assert main(options) == 0
    assert any("it may be killed for memory" in r.getMessage() for r in caplog.records)
    monkeypatch.setattr(live.pipeline, "available_memory_bytes", lambda: None)  # a limit nothing shows

    def no_memory(*args):
        raise MemoryError

    monkeypatch.setattr(live.pipeline, "FrameRing", no_memory)
    assert main(options) == 75
    said = capsys.readouterr().err
    assert "the frame ring's 46 MB could not be allocated (a process memory limit?)" in said
