"""The Kinect source through the real kinect-next package, over an in-process stand-in for the Kinect
runtime (tests/kinect_runtime.py: only Kinect20.dll's COM objects and kernel32's events are replaced)."""

from __future__ import annotations

import gc
import logging
import threading
import time
from pathlib import Path

import numpy as np
import pytest

kinect_next = pytest.importorskip("kinect_next")

from kinect_runtime import COLOR_SHAPE, KinectRuntime, bgra, color_pixel, standing_body  # noqa: E402

from core.skeleton import KINECT_V2  # noqa: E402
from live.capture import Capture, FrameRing  # noqa: E402
from live.kinect_common import COLOR_REPEAT_S, LatestColor  # noqa: E402
from live.kinect_next_source import KINECT_NEXT_VERSION, KinectNextSource, TickCounter  # noqa: E402
from live.sources import SourceUnavailable  # noqa: E402
from live.tracks import TrackTable  # noqa: E402

DEMO = Path(__file__).resolve().parents[1] / "training" / "checkpoints" / "demo.pt"  # RGB crops


@pytest.fixture()
def runtime(monkeypatch) -> KinectRuntime:
    return KinectRuntime().install(monkeypatch)


def opened(**options) -> KinectNextSource:
    source = KinectNextSource(**options)
    source.open()
    return source


def read(source: KinectNextSource, timeout: float = 1.0):
    frame = source.read(timeout)
    assert frame is not None, "no frame arrived"
    return frame


def test_the_pinned_version_is_the_one_installed():
    assert kinect_next.__version__ == KINECT_NEXT_VERSION


def test_kinect_next_joint_order_is_the_projects():
    names = [joint.name.replace("_", "").lower() for joint in kinect_next.JointType]
    assert names == [name.lower() for name in KINECT_V2.joint_names]


def test_a_frameset_becomes_a_frame(runtime):
    source = opened()
    assert source.connected and runtime.opens == 1
    assert runtime.readers[0].source_types == 1 | 8 | 32  # COLOR | DEPTH | BODY, one multi-source reader
    assert source.read(timeout=0.05) is None  # nothing yet
    states = np.full(25, 2, np.int8)
    states[7], states[15] = 1, 0  # HandLeft inferred, FootLeft not tracked
    near = standing_body(72057594037931101, x=-0.4, z=2.5, states=states)
    far = standing_body(72057594037931177, x=0.5, z=3.5)
    far.joints[24] = (0.0, 0.0, 0.0)  # a joint the mapper cannot map (-inf)
    lost = standing_body(5)
    lost.tracked = False  # a body slot the tracker lost: kinect-next still returns it
    runtime.tick(12.5, [near, lost, far], bgra((10, 20, 30)))

    frame = read(source)
    assert frame.timestamp == pytest.approx(12.5)  # the sensor clock, in seconds
    assert frame.color.shape == (1080, 1920, 3) and tuple(frame.color[0, 0]) == (10, 20, 30)  # BGRA -> BGR
    assert frame.color.flags.c_contiguous  # converted once: copying a strided view costs 22-35 ms
    assert [b.tracking_id for b in frame.bodies] == [near.tracking_id, far.tracking_id]  # untracked left out
    got = frame.bodies[0]
    np.testing.assert_allclose(got.joints, near.joints, atol=1e-6)  # joint j is the SDK's joint j
    assert got.joints.dtype == np.float32 and got.states.tolist() == states.tolist()
    # Colour pixels come from the runtime's CoordinateMapper, not from the project's camera model.
    np.testing.assert_allclose(got.joints_color, [color_pixel(p) for p in near.joints], atol=1e-3)
    far_pixels = frame.bodies[1].joints_color
    assert np.isnan(far_pixels[24]).all() and np.isfinite(far_pixels[:24]).all()

    runtime.tick(12.5 + 1 / 30, [near], bgra((1, 2, 3)))
    second = read(source)
    assert second.index == frame.index + 1 and second.timestamp == pytest.approx(12.5 + 1 / 30)
    source.close()
    assert not source.connected
    gc.collect()
    assert runtime.live_objects() == [] and runtime.events.open_handles == 0  # every COM object released
    assert runtime.errors == []


def test_joints_no_sensor_measures_come_as_not_tracked(runtime):
    """A glitch in what the SDK gives (NaN, 1e30 m): that joint comes at 0 0 0, not tracked and with no
    pixel, as the recorder writes it and the .xef reader replays it; a body with nothing left is nobody."""
    source = opened()
    glitch = standing_body(72057594037931101, x=-0.4, z=2.5)
    glitch.joints[11] = (1e30, 0.0, 2.5)
    glitch.joints[7] = (np.nan, np.nan, np.nan)
    garbage = standing_body(72057594037931177, x=0.5, z=3.5)
    garbage.joints[:] = np.nan
    runtime.tick(12.5, [glitch, garbage], bgra((10, 20, 30)))
    frame = read(source)
    assert [b.tracking_id for b in frame.bodies] == [glitch.tracking_id]
    got = frame.bodies[0]
    assert got.joints[[7, 11]].tolist() == [[0.0] * 3] * 2 and got.states[[7, 11]].tolist() == [0, 0]
    assert np.isnan(got.joints_color[[7, 11]]).all() and np.isfinite(got.joints_color[:7]).all()
    np.testing.assert_allclose(got.joints[:7], glitch.joints[:7], atol=1e-6)
    source.close()


def test_joints_the_mapper_fails_to_map_come_unmapped_and_the_reading_goes_on(runtime, caplog):
    """kinect-next raises a failed MapCameraPointToColorSpace as COMOperationError: it escaped read() and
    ended the capture ("capture failed")."""
    source = opened()
    runtime.map_fails = True
    with caplog.at_level(logging.INFO):
        for t in (1.0, 1 + 1 / 30):
            runtime.tick(t, [standing_body(3)], None)
            body = read(source).bodies[0]
            assert np.isnan(body.joints_color).all() and body.joints.any() and body.tracking_id == 3
        runtime.map_fails = False
        runtime.tick(1 + 2 / 30, [standing_body(3)], None)
        assert np.isfinite(read(source).bodies[0].joints_color).all()
    said = [r.getMessage() for r in caplog.records if "mapper" in r.getMessage()]
    assert len(said) == 2 and "failed" in said[0] and "works again" in said[1], said
    source.close()


def test_depth_comes_with_its_tick_and_is_never_repeated(runtime):
    """kinect-next's FrameSet.depth -> Frame.depth (uint16 (424, 512) mm); a tick without one has none."""
    source = opened()
    depth = (np.arange(424 * 512, dtype=np.uint32) % 4000 + 500).astype(np.uint16).reshape(424, 512)
    runtime.tick(3.0, [standing_body(9)], bgra((1, 1, 1)), depth=depth)
    frame = read(source)
    assert frame.depth is not None and frame.depth.dtype == np.uint16 and frame.depth.shape == (424, 512)
    np.testing.assert_array_equal(frame.depth, depth)
    runtime.tick(3.0 + 1 / 30, [standing_body(9)], bgra((1, 1, 1)))  # depth missed this tick
    second = read(source)
    assert second.depth is None and second.timestamp == pytest.approx(3.0 + 1 / 30)
    runtime.tick(3.0 + 2 / 30, [standing_body(9)], bgra((1, 1, 1)), depth=depth + 1)
    third = read(source)
    np.testing.assert_array_equal(third.depth, depth + 1)
    assert frame.depth[0, 0] == depth[0, 0]  # a fresh array per tick: the earlier frame is untouched
    source.close()
    gc.collect()
    assert runtime.live_objects() == [] and runtime.errors == []


def test_depth_can_be_left_off(runtime):
    source = opened(depth=False)
    assert runtime.readers[0].source_types == 1 | 32
    runtime.tick(1.0, [standing_body(9)], bgra((1, 1, 1)), depth=np.zeros((424, 512), np.uint16))
    assert read(source).depth is None
    source.close()


def test_low_light_colour_at_15_fps_with_bodies_at_30(runtime):
    """Colour in every other tick: every frame still has the latest image, and nothing counts as dropped."""
    source = opened()
    ring, tracks = FrameRing(4, COLOR_SHAPE[:2]), TrackTable(history=8)
    capture = Capture(source, ring, tracks, period_s=1 / 30)
    images = [bgra((i, i, i)) for i in range(4)]
    seen = []
    for i in range(30):
        color = images[(i // 2) % 4] if i % 2 == 0 else None
        runtime.tick(100.0 + i / 30, [standing_body(9)], color)
        frame = read(source)
        capture.accept(frame, time.perf_counter())
        seen.append((frame.timestamp, int(frame.color[0, 0, 0])))
    np.testing.assert_allclose([t for t, _ in seen], 100.0 + np.arange(30) / 30, atol=1e-6)
    assert [v for _, v in seen] == [(i // 2) % 4 for i in range(0, 30, 2) for _ in range(2)]
    assert source.frames == 30 and source.color_frames == 15
    assert capture.counters.frames == 30 and capture.counters.dropped == 0
    assert ring.entry(ring.written - 1).has_color
    source.close()
    assert runtime.errors == []


def test_a_colour_stream_that_stalls_is_not_repeated_for_ever(runtime):
    """Colour stopped while bodies went on (after a replug, say): a repeat is for a tick or two, not an
    image of people where they no longer are (under --privacy blur one lost since showed unblurred)."""
    source = opened()
    runtime.tick(5.0, [standing_body(9)], bgra((7, 7, 7)))
    assert int(read(source).color[0, 0, 0]) == 7
    seen = []
    for i in range(1, 10):
        runtime.tick(5.0 + i / 30, [standing_body(9)], None)
        seen.append(read(source).color is not None)
    # Repeated within COLOR_REPEAT_S (0.2 s), not after (the tick at 0.2 s itself left out: a rounding away).
    assert all(seen[:5]) and not any(seen[6:]), seen
    assert 5 / 30 < COLOR_REPEAT_S < 7 / 30
    runtime.tick(5.02, [standing_body(9)], bgra((8, 8, 8)))
    assert int(read(source).color[0, 0, 0]) == 8
    source.close()  # nothing of it kept once closed, nor carried into a reopened sensor's ticks
    source.open()
    runtime.tick(5.05, [standing_body(9)], None)  # within COLOR_REPEAT_S of that image on the sensor clock
    assert read(source).color is None
    source.close()
    assert runtime.errors == []


def test_the_last_colour_image_is_carried_only_forward_and_briefly():
    latest = LatestColor()
    image = np.zeros((2, 2, 3), np.uint8)
    assert latest.for_tick(1.0) is None
    latest.arrived(image, 1.0)
    assert latest.for_tick(1.0) is image and latest.for_tick(1.0 + COLOR_REPEAT_S / 2) is image
    assert latest.for_tick(1.0 + COLOR_REPEAT_S * 1.5) is None
    assert latest.for_tick(0.9) is None  # a clock that went back (a sensor opened again)
    latest.forget()
    assert latest.for_tick(1.0) is None


def test_without_colour_the_colour_camera_is_not_opened(runtime):
    source = opened(color=False, depth=False)
    assert runtime.readers[-1].source_types == 32 and source.color_shape is None  # bodies only
    runtime.tick(1.0, [standing_body(9)], bgra((1, 1, 1)))
    frame = read(source)
    assert frame.color is None and len(frame.bodies) == 1
    assert np.isfinite(frame.bodies[0].joints_color).all()  # the SDK's mapper needs no colour stream
    source.close()


def test_the_app_reads_no_colour_from_a_kinect_where_nothing_uses_it(runtime, tmp_path):
    """The default: privacy skeleton and the skeleton-only real-data model. Colour was read and converted at
    every tick, a 1080p image always in memory (and in a crash dump), though the README says none is kept."""
    from live.app import build_parser, build_pipeline, config_from_args

    def pipeline_for(*argv: str):
        return build_pipeline(config_from_args(build_parser().parse_args(
            ["--source", "kinect", "--engine", "pytorch-cpu", "--threads", "1", *argv])))

    pipeline = pipeline_for("--headless")
    try:  # never opened with the camera, not even while the model loaded
        assert pipeline.source.color_shape is None and all(r.source_types & 1 == 0 for r in runtime.readers)
    finally:
        pipeline.release()
    pipeline = pipeline_for("--privacy", "blur")  # the window shows the picture, its faces blurred
    try:
        assert pipeline.source.color_shape is not None and runtime.readers[-1].source_types & 1 == 1
    finally:
        pipeline.release()
    # A model that crops colour gets the camera, whatever the run shows (privacy skeleton, headless).
    pipeline = pipeline_for("--headless", "--checkpoint", str(DEMO))
    try:
        assert pipeline.source.color_shape is not None and runtime.readers[-1].source_types & 1 == 1
    finally:
        pipeline.release()


def test_a_reader_that_slows_to_15_fps_in_low_light_is_not_counted_as_dropping_frames(runtime):
    source = opened()
    capture = Capture(source, FrameRing(4, None), TrackTable(history=8), period_s=1 / 30)
    times = [1.0 + i / 30 for i in range(10)] + [1.0 + 9 / 30 + i / 15 for i in range(1, 31)]  # then a gap
    times.append(times[-1] + 3 / 15)
    for t in times:
        runtime.tick(t, [standing_body(9)], bgra((5, 5, 5)))
        capture.accept(read(source), time.perf_counter())
    # The switch to 15 fps costs at most the few ticks it takes the median to move; the final gap of two
    # ticks at 15 fps is counted.
    assert 2 <= capture.counters.dropped <= 2 + 5, capture.counters
    source.close()


def test_tick_counter_follows_the_delivery_rate():
    ticks = TickCounter()
    assert [ticks(i / 30) for i in range(5)] == [0, 1, 2, 3, 4]
    assert ticks(6 / 30) == 6  # one tick missed at 30 fps
    slow = [ticks(6 / 30 + i / 15) for i in range(1, 12)]
    assert slow[-1] - slow[-2] == 1  # settled at 15 fps: one per tick


def test_unplugged_mid_stream_then_back(runtime, caplog):
    """The source says so (connected False, a warning), the capture thread stays up, frames resume."""
    source = opened()
    capture = Capture(source, FrameRing(8, None), TrackTable(history=8), period_s=1 / 30)
    stop = threading.Event()
    clock = iter(range(10**6))

    def sensor() -> None:  # the device ticking at 30 fps (nothing arrives while unplugged)
        while not stop.is_set():
            runtime.tick(next(clock) / 30, [standing_body(3)], None)
            time.sleep(1 / 30)

    feeder = threading.Thread(target=sensor, daemon=True)
    feeder.start()
    capture.start()
    try:
        deadline = time.monotonic() + 5
        while capture.counters.frames < 10 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert source.connected and capture.counters.frames >= 10
        with caplog.at_level(logging.INFO):
            runtime.unplug()
            deadline = time.monotonic() + 5
            while source.connected and time.monotonic() < deadline:
                time.sleep(0.02)
            assert not source.connected
            frames_while_unplugged = capture.counters.frames
            time.sleep(0.4)
            assert capture.alive and capture.error is None
            assert capture.counters.frames <= frames_while_unplugged + 1
            runtime.plug()
            deadline = time.monotonic() + 5
            while capture.counters.frames < frames_while_unplugged + 10 and time.monotonic() < deadline:
                time.sleep(0.02)
        assert source.connected and capture.counters.frames >= frames_while_unplugged + 10
        messages = [r.getMessage() for r in caplog.records]
        assert sum("unavailable" in m for m in messages) == 1  # said once, not per timeout
        assert any("available" in m and "unavailable" not in m for m in messages)
    finally:
        stop.set()
        capture.stop()
        source.close()
    assert runtime.errors == []


def test_readers_that_stay_silent_after_a_replug_are_reopened(runtime, caplog):
    source = opened(reopen_after_s=0.3)
    runtime.tick(1.0, [standing_body(3)], None)
    read(source)
    runtime.unplug()
    assert source.read(timeout=0.1) is None and not source.connected
    runtime.plug(readers_resume=False)  # the old reader never signals again
    with caplog.at_level(logging.WARNING, logger="live.kinect_next_source"):
        deadline = time.monotonic() + 5
        while source.reopened == 0 and time.monotonic() < deadline:
            runtime.tick(2.0, [standing_body(3)], None)
            source.read(timeout=0.1)
    assert source.reopened == 1 and runtime.sensors_requested == 2
    assert any("reopening" in r.getMessage() for r in caplog.records)
    runtime.tick(2.5, [standing_body(3)], None)
    assert read(source).bodies[0].tracking_id == 3 and source.connected
    source.close()
    gc.collect()
    assert runtime.live_objects() == [] and runtime.errors == []


def test_a_sensor_silent_through_every_reopen_is_said_once_then_reminded_not_at_every_reopen(
        runtime, caplog, monkeypatch):
    """Available and sending nothing whatever is reopened: a warning every reopen_after_s (3-10 s) for as
    long as it lasted buried the rest of the log."""
    import live.kinect_common

    source = opened(reopen_after_s=0.1)
    runtime.tick(1.0, [standing_body(3)], None)
    read(source)
    runtime.plug(readers_resume=False)
    with caplog.at_level(logging.WARNING):
        deadline = time.monotonic() + 10
        while source.reopened < 4 and time.monotonic() < deadline:
            source.read(timeout=0.05)  # no tick: every reader opened since is as silent
        said = [r.getMessage() for r in caplog.records if "Kinect" in r.getMessage()]
        assert source.reopened >= 4 and len(said) == 1 and "reopening (said again every 5 min" in said[0]
        monkeypatch.setattr(live.kinect_common, "SILENCE_REMINDER_S", 0.0)  # five minutes on
        reopened = source.reopened
        while source.reopened == reopened and time.monotonic() < deadline + 5:
            source.read(timeout=0.05)
    assert "Kinect still sends nothing after" in caplog.records[-1].getMessage()
    source.close()


def test_a_sensor_that_cannot_be_reopened_is_retried_with_backoff_and_one_warning(runtime, caplog):
    source = opened(reopen_after_s=0.2, retry_s=0.2, max_retry_s=0.8)
    runtime.tick(1.0, [standing_body(3)], None)
    read(source)
    runtime.plug(readers_resume=False)  # the reader falls silent: the source reopens the sensor ...
    runtime.open_fails = True  # ... which will not open
    opens_before = runtime.opens
    with caplog.at_level(logging.DEBUG, logger="live.kinect_common"):
        started = time.monotonic()
        while time.monotonic() - started < 2.5:  # the capture thread's loop: read(0.1) again and again
            assert source.read(timeout=0.1) is None
        tries = runtime.opens - opens_before
        # Tries at ~0, 0.2, 0.6, 1.4, 2.2 s (0.2 s doubling to 0.8 s), not one per read (~25).
        assert 3 <= tries <= 6, tries
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert sum("reopening the Kinect failed" in m for m in warnings) == 1, warnings
        assert not source.connected
        runtime.open_fails = False
        deadline = time.monotonic() + 3
        while source.reopened == 0 and time.monotonic() < deadline:
            source.read(timeout=0.1)
    assert source.reopened == 1
    assert any("opened again after" in r.getMessage() for r in caplog.records)
    runtime.tick(3.0, [standing_body(3)], None)
    assert read(source).bodies[0].tracking_id == 3 and source.connected
    source.close()


def test_a_sensor_not_plugged_in_at_start_is_reported_after_the_start_up_grace(runtime, caplog):
    runtime.unplug()
    with caplog.at_level(logging.WARNING, logger="live.kinect_next_source"):
        source = opened(startup_grace_s=0.3)
        assert not source.connected and source.read(timeout=0.05) is None
        assert not caplog.records  # the runtime may simply not have reported the sensor yet
        time.sleep(0.3)
        assert source.read(timeout=0.05) is None
        assert [r.getMessage() for r in caplog.records if "unavailable" in r.getMessage()]
    runtime.plug()
    runtime.tick(1.0, [standing_body(3)], None)
    assert read(source).bodies and source.connected
    source.close()


def test_without_windows_or_the_runtime_the_error_is_one_line():
    """No stand-in here: the real kinect-next cannot load Kinect20.dll on this machine. With kinect-next
    installed, its advice to install kinect-next was no use: the platform is what is said."""
    import sys

    if sys.platform.startswith("win"):
        pytest.skip("this machine runs Windows")
    with pytest.raises(SourceUnavailable) as error:
        KinectNextSource().open()
    message = str(error.value)
    assert "\n" not in message and "needs 64-bit Windows" in message and "pip install" not in message


def test_without_kinect_next_off_windows_the_platform_is_said_first(monkeypatch):
    """Installing kinect-next (the first advice) and then being told the Kinect needs Windows cost a
    round trip: off Windows the platform is what is said."""
    import sys

    monkeypatch.setitem(sys.modules, "kinect_next", None)  # import kinect_next raises ImportError
    monkeypatch.setattr(sys, "platform", "linux")
    with pytest.raises(SourceUnavailable, match=r"^--source kinect needs 64-bit Windows .*runs linux"):
        KinectNextSource().open()
    monkeypatch.setattr(sys, "platform", "win32")
    with pytest.raises(SourceUnavailable, match=r"kinect-next is not installed; install the Kinect for"):
        KinectNextSource().open()


def test_the_app_stays_up_while_the_sensor_is_unplugged_and_recognises_again_after(runtime, tmp_path):
    """The whole pipeline on the kinect-next source: decisions, unplug (no decisions, nothing ends),
    replug (decisions again). Privacy skeleton with a skeleton-only model: no pixels kept anywhere."""
    from model_files import random_checkpoint

    from core.model.profiles import pose_only, tiny
    from core.privacy import PrivacyMode
    from live.app import open_model
    from live.pipeline import LivePipeline, PipelineConfig
    from live.worker import RecognitionConfig

    classes = ("drink", "wave", "sit_down", "fall_down")
    checkpoint = random_checkpoint(tmp_path / "pose.pt", pose_only(tiny(len(classes))), classes,
                                   duration_s=1.0)
    engine, inputs = open_model(checkpoint, "pytorch-cpu", threads=1)
    source = KinectNextSource()
    pipeline = LivePipeline(source, engine, inputs, PipelineConfig(
        recognition=RecognitionConfig(hop_s=0.2), privacy=PrivacyMode.SKELETON))
    stop = threading.Event()
    image = bgra((90, 90, 90))

    def sensor() -> None:
        for i in range(10**6):
            if stop.is_set():
                return
            runtime.tick(1.0 + i / 30, [standing_body(42, x=0.1 * np.sin(i / 10))], image)
            time.sleep(1 / 30)

    def wait(condition, seconds=15.0) -> None:
        deadline = time.monotonic() + seconds
        while not condition() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert condition()

    feeder = threading.Thread(target=sensor, daemon=True)
    pipeline.start()
    feeder.start()
    try:
        assert pipeline.ring.nbytes == 0  # skeleton privacy, skeleton-only model: no pixels in memory
        wait(lambda: pipeline.stats().decisions > 0)
        latest = pipeline.latest_image()
        assert latest is not None and latest[1] is None
        runtime.unplug()
        wait(lambda: not pipeline.stats().connected)
        last_frame = pipeline.ring.latest().timestamp
        time.sleep(0.5)
        assert not pipeline.ended and pipeline.capture.alive and pipeline.worker.alive
        assert pipeline.ring.latest().timestamp == last_frame  # nothing arrives while unplugged
        pipeline.drain()
        runtime.plug()
        fresh: list = []  # decisions on frames that came after the replug

        def decided_again() -> bool:
            fresh.extend(d for hop in pipeline.drain() for d in hop.decisions if hop.stream_time > last_frame)
            return pipeline.stats().connected and bool(fresh)

        wait(decided_again, seconds=30)
    finally:
        stop.set()
        summary = pipeline.stop()
    assert summary.errors == () and fresh[0].tracking_id == 42
    assert runtime.errors == []
