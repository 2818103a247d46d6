"""Capture thread, ring buffer, timeline, tracks and the recording sink (live/capture.py, live/tracks.py)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from core.frame import Body, Frame
from live.capture import (
    LATE_FRAME_S,
    LATE_FRAMES_IN_A_ROW,
    MISSED_WINDOW_S,
    Capture,
    FrameRing,
    RecordingSink,
    StreamClock,
)
from live.sources import EndOfStream, FrameStream, ReplayOptions
from live.tracks import TrackTable

J = 25


def body(tracking_id: int, x: float = 0.0) -> Body:
    joints = np.zeros((J, 3), np.float32)
    joints[:, 0] = x
    joints[:, 2] = 4.0  # x up to 2.3 m is within the view, not at its side (live.tracks.LEFT_VIEW_AT_DEG)
    return Body(tracking_id, joints, np.full(J, 2, np.int8), np.full((J, 2), 100.0, np.float32))


def frame(index: int, fps: float = 30.0, shape=(4, 6), bodies=None, value: int | None = None) -> Frame:
    color = np.full((*shape, 3), index % 256 if value is None else value, np.uint8)
    bodies = bodies if bodies is not None else [body(7)]
    return Frame(timestamp=index / fps, color=color, bodies=bodies, index=index)


# ---- FrameRing ------------------------------------------------------------------------------------

def test_ring_overwrites_the_oldest_slot_and_knows_what_it_still_holds():
    ring = FrameRing(4, (4, 6))
    entries = [ring.push(frame(i), i / 30, float(i)) for i in range(6)]
    assert ring.written == 6
    assert ring.latest() == entries[-1]
    assert ring.entry(0) is None and ring.entry(1) is None  # overwritten by frames 4 and 5
    assert ring.entry(2) == entries[2]
    assert ring.holds(np.array([2, 3, 4, 5])) and not ring.holds(np.array([1, 5]))
    assert ring.color(1) is None
    assert ring.color(5)[0, 0, 0] == 5 and ring.color(2)[0, 0, 0] == 2


def test_ring_memory_is_allocated_once_up_front():
    ring = FrameRing(8, (108, 192))
    assert ring.nbytes == 8 * 108 * 192 * 3
    pixels = ring._pixels
    for i in range(50):
        ring.push(frame(i, shape=(108, 192)), i / 30, 0.0)
    assert ring._pixels is pixels and ring.nbytes == 8 * 108 * 192 * 3


def test_ring_takes_bgra_views_and_rejects_a_changed_image_size():
    ring = FrameRing(3, (4, 6))
    bgra = np.zeros((4, 6, 4), np.uint8)
    bgra[..., 2] = 200
    bgra[..., 3] = 255
    ring.push(Frame(0.0, bgra[..., :3], [], 0), 0.0, 0.0)
    assert ring.color(0)[..., 2].min() == 200
    with pytest.raises(ValueError, match="frame 9: colour image is 8x4, the source declared 6x4"):
        ring.push(Frame(0.1, np.zeros((4, 8, 3), np.uint8), [], 9), 0.1, 0.0)


def test_skeleton_only_ring_keeps_no_pixels():
    ring = FrameRing(3, None)
    ring.push(frame(0), 0.0, 0.0)
    assert ring.nbytes == 0 and ring.color(0) is None and ring.entry(0).has_color is False


def test_wait_newer_times_out_then_wakes_on_push():
    ring = FrameRing(4, None)
    started = time.monotonic()
    assert ring.wait_newer(-1, timeout=0.05) is None
    assert time.monotonic() - started >= 0.04
    threading.Timer(0.05, lambda: ring.push(frame(0), 0.0, 0.0)).start()
    entry = ring.wait_newer(-1, timeout=2.0)
    assert entry is not None and entry.sequence == 0
    assert ring.wait_newer(0, timeout=0.01) is None


# ---- StreamClock ----------------------------------------------------------------------------------

def test_timeline_is_monotonic_across_restarts_and_drops_duplicates():
    timeline = StreamClock(period_s=0.1)
    assert timeline(5.0) == (5.0, False)
    assert timeline(5.1) == (pytest.approx(5.1), False)
    assert timeline(5.1) == (None, False)  # duplicate
    out, restarted = timeline(0.0)  # replay looped
    assert restarted and out == pytest.approx(5.2)
    assert timeline(0.1)[0] == pytest.approx(5.3)


def test_a_frame_a_little_late_is_dropped_not_a_restart():
    # A sensor's clocks (depth, body, colour) can disagree by milliseconds: a restart would retire every
    # track and cost each person most of a window before their next decision.
    timeline = StreamClock(period_s=1 / 30)
    assert timeline(5.0) == (5.0, False)
    assert timeline(5.0 - 0.002) == (None, False)
    assert timeline(5.0 - LATE_FRAME_S + 0.01) == (None, False)
    assert timeline(5.0 + 1 / 30) == (pytest.approx(5.0 + 1 / 30), False)  # and on it goes
    # A clock that came back a little behind: a restart once LATE_FRAMES_IN_A_ROW frames were late.
    behind = [timeline(4.5 + i / 30) for i in range(LATE_FRAMES_IN_A_ROW)]
    assert behind[:-1] == [(None, False)] * (LATE_FRAMES_IN_A_ROW - 1)
    assert behind[-1][1] and behind[-1][0] == pytest.approx(5.0 + 2 / 30)
    # Delivered twice is not late: a sensor repeating frames never restarts the timeline.
    for _ in range(2 * LATE_FRAMES_IN_A_ROW):
        assert timeline(4.5 + (LATE_FRAMES_IN_A_ROW - 1) / 30) == (None, False)


def test_a_sensor_back_from_an_outage_with_its_clock_started_again_is_a_restart_at_once():
    """A sensor unplugged a second after it came back restarts its clock less than LATE_FRAME_S behind:
    its first frames after the outage were dropped as late (counted "duplicate or late") until some came
    in a row. After an outage any step back is its clock started again; a step forward is not."""
    timeline = StreamClock(period_s=1 / 30)
    assert timeline(0.8) == (0.8, False)
    out, restarted = timeline(0.0, after_outage=True)
    assert restarted and out == pytest.approx(0.8 + 1 / 30)
    assert timeline(1 / 30) == (pytest.approx(0.8 + 2 / 30), False)
    assert timeline(1 / 30, after_outage=True)[1]  # even at the very time of the last frame
    assert timeline(5.0, after_outage=True)[1] is False  # its clock ran on through the outage


def test_frames_after_an_outage_are_kept_when_the_sensor_restarts_its_clock():
    frames = [frame(i) for i in range(20)]  # 0.63 s connected, then unplugged; back with its clock at 0
    back = [replace(frame(i), index=100 + i) for i in range(5)]
    capture, ring, tracks = make_capture(frames)
    for f in frames:
        capture.accept(f, time.perf_counter())
    capture._unplugged = True  # what the capture thread notes when a read finds the source unplugged
    for f in back:
        capture.accept(f, time.perf_counter())
    assert capture.counters.duplicates == 0 and capture.counters.restarts == 1
    assert capture.counters.frames == 25


def test_a_late_frame_keeps_every_track():
    # Frame 6 comes stamped 2 ms before frame 5 (another of the sensor's clocks), the next ones on time.
    frames = [frame(i) for i in range(6)] + [replace(frame(6), timestamp=5 / 30 - 0.002)]
    frames += [replace(frame(i), index=i + 1) for i in range(6, 10)]
    capture, ring, tracks = make_capture(frames)
    for f in frames:
        capture.accept(f, time.perf_counter())
    assert capture.counters.restarts == 0 and capture.counters.duplicates == 1
    assert capture.counters.dropped == 0  # the late one is not also a gap in the index after it
    assert tracks.ids() == [7] and len(tracks.snapshot()[0].timestamps) == 8


# ---- Capture --------------------------------------------------------------------------------------

def make_capture(frames, capacity=8, retire_after_s=1.0):
    source = FrameStream("test", lambda: iter(frames), options=ReplayOptions(realtime=False),
                         color_shape=(4, 6))
    source.open()
    ring = FrameRing(capacity, (4, 6))
    tracks = TrackTable(history=capacity, retire_after_s=retire_after_s)
    return Capture(source, ring, tracks, period_s=1 / 30), ring, tracks


def test_capture_counts_gaps_in_the_sensor_index_as_dropped():
    frames = [frame(i) for i in (0, 1, 2, 5, 6, 10)]
    capture, ring, tracks = make_capture(frames)
    for f in frames:
        capture.accept(f, time.perf_counter())
    assert capture.counters.dropped == 2 + 3
    assert capture.counters.frames == 6
    assert ring.written == 6


def test_frames_the_capture_missed_while_recording_are_counted_as_the_clips_gaps():
    """A computer not keeping up: the capture missed a fifth of the frames, the clip has those gaps, and
    the recording said "0 frames dropped" (its writer's count alone). A gap before its first frame is
    none of the clip's."""
    class Recorder:
        def __init__(self):
            self.frames = []

        def write(self, f):
            self.frames.append(f)
            return True

        def close(self):
            pass

    capture, ring, tracks = make_capture([])
    capture.accept(frame(0), time.perf_counter())
    capture.recording = sink = RecordingSink(Recorder())
    for i in (3, 4, 5, 8, 9, 12):  # started after 2 missed; then 2 and 2
        capture.accept(frame(i), time.perf_counter())
    sink.close()
    assert (sink.written, sink.dropped, sink.missed) == (6, 0, 4) and capture.counters.dropped == 6
    # A frame the recording itself dropped (its disk behind) takes the gap before it along to the next.
    gate = threading.Event()

    class SlowRecorder(Recorder):
        def write(self, f):
            gate.wait(5)
            return super().write(f)

    sink = RecordingSink(SlowRecorder(), max_queue=1)
    sink.offer(frame(0))
    deadline = time.monotonic() + 5
    while sink._queue.qsize() and time.monotonic() < deadline:  # taken by the writer, which waits
        time.sleep(0.01)
    sink.offer(frame(1))  # queued
    sink.offer(frame(5), missed=3)  # no room: dropped, with the three before it
    gate.set()
    while sink._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.offer(frame(6))
    while sink._queue.qsize() and time.monotonic() < deadline:
        time.sleep(0.01)
    sink.offer(frame(7))  # (no gap: the carried one is not counted again)
    sink.close()
    assert (sink.written, sink.dropped, sink.missed) == (4, 1, 3)


def test_capture_says_what_share_of_the_sensors_frames_it_left_out_lately():
    """The simulated room of six on two busy cores kept 7 frames a second of 30 and nothing said so but
    the numbers in the status line; the pipeline warns from the share (live.pipeline.MISSING_FRAMES_SHARE)."""
    capture, ring, tracks = make_capture([], capacity=8)
    for i in range(150):  # 5 s, every other frame of a 30 fps sensor
        capture.accept(frame(2 * i), 100.0 + i / 15)
    assert capture.missed_share(now=100.0 + 149 / 15) is None  # not 10 s seen yet
    for i in range(150, 450):  # 20 s in all
        capture.accept(frame(2 * i), 100.0 + i / 15)
    assert capture.missed_share(now=130.0) == pytest.approx(0.5, abs=0.01)
    for i in range(900, 900 + 30 * 11):  # then it keeps up: none left out over the last 10 s
        capture.accept(frame(i), 130.0 + (i - 899) / 30)
    assert capture.missed_share(now=141.0) == 0.0
    assert capture.missed_share(now=141.0 + MISSED_WINDOW_S + 1) is None  # nothing lately (a pause)


def test_capture_restart_clears_tracks_and_keeps_time_going_forward():
    restarts = []
    capture, ring, tracks = make_capture([])
    capture._on_restart = lambda: restarts.append(True)
    for i in range(40):  # 1.3 s: longer than LATE_FRAME_S
        capture.accept(frame(i), 0.0)
    capture.accept(frame(0, bodies=[body(7)]), 0.0)  # the replay looped: same ids, time back to 0
    assert restarts == [True] and capture.counters.restarts == 1 and capture.counters.dropped == 0
    assert ring.latest().timestamp > 39 / 30
    snapshot = tracks.snapshot()
    assert len(snapshot) == 1 and len(snapshot[0].timestamps) == 1  # history started over


def test_capture_thread_reads_to_the_end_and_sets_ended():
    frames = [frame(i) for i in range(40)]
    capture, ring, tracks = make_capture(frames, capacity=16)
    capture.start()
    assert capture.ended.wait(5.0)
    capture.stop()
    assert not capture.alive and capture.error is None
    assert capture.counters.frames == 40 and ring.written == 40 and capture.counters.dropped == 0
    assert tracks.ids() == [7]


def test_capture_never_waits_for_a_stuck_recorder():
    class StuckRecorder:
        def __init__(self):
            self.release = threading.Event()
            self.frames = []
            self.closed = False

        def write(self, f):
            self.release.wait()
            self.frames.append(f)
            return True

        def close(self):
            self.closed = True

    frames = [frame(i) for i in range(200)]
    capture, ring, _ = make_capture(frames)
    recorder = StuckRecorder()
    capture.recording = RecordingSink(recorder, max_queue=5)
    started = time.monotonic()
    capture.start()
    assert capture.ended.wait(5.0)
    elapsed = time.monotonic() - started
    assert capture.counters.frames == 200 and elapsed < 5.0
    assert capture.recording.dropped >= 200 - 5 - 1  # one in the writer, five queued
    recorder.release.set()
    capture.recording.close()
    assert recorder.closed and 1 <= len(recorder.frames) <= 6
    # Recorded frames carry the capture timeline's (increasing) timestamps.
    times = [f.timestamp for f in recorder.frames]
    assert times == sorted(times)


def test_a_lossless_sink_makes_a_slow_recorder_slow_the_replay_instead_of_dropping_frames():
    """--fast --record (lockstep): a replay re-recorded loses no frame to a writer slower than it."""
    class SlowRecorder:
        def __init__(self):
            self.frames, self.closed = [], False

        def write(self, f):
            time.sleep(0.002)
            self.frames.append(f)
            return True

        def close(self):
            self.closed = True

    recorder = SlowRecorder()
    sink = RecordingSink(recorder, max_queue=2, lossless=True)
    for i in range(100):
        sink.offer(frame(i))
    assert sink.close(10.0) and recorder.closed
    assert sink.dropped == 0 and [f.index for f in recorder.frames] == list(range(100))
    # A writer stuck on a hung share does not hold the capture thread past its own stop.
    stuck = threading.Event()
    recorder.write = lambda f: stuck.wait()
    sink = RecordingSink(recorder, max_queue=1, lossless=True)
    stop = threading.Event()
    sink.offer(frame(0), give_up=stop)  # taken by the writer, which hangs on it
    sink.offer(frame(1), give_up=stop)  # queued
    stop.set()
    sink.offer(frame(2), give_up=stop)  # no room, and the capture is stopping: dropped, not waited for
    assert sink.dropped == 1
    stuck.set()
    sink.close(10.0)


def test_a_replay_paused_just_after_handing_over_a_frame_loses_no_frame():
    """Pause pressed between the source's read and the capture thread's look at `paused`: a replay's
    frame is not passed over as a sensor's would be (the replay would never show or score it)."""
    def frames():
        for i in range(10):
            if i == 3:  # the click lands while frame 3 is on its way to the capture thread
                capture.source.set_paused(True)
                capture.paused = True
            yield frame(i)

    capture, ring, _ = make_capture([])
    capture.source._make_frames = frames
    capture.source.open()
    capture.start()
    deadline = time.monotonic() + 5  # a freshly started thread on a busy machine: not a fixed 0.2 s
    while ring.written < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.2)  # time enough for a frame after the pause to arrive, were one read
    assert ring.written == 4  # frames 0-3; nothing after while paused
    capture.source.set_paused(False)
    capture.paused = False
    assert capture.ended.wait(5.0)
    capture.stop()
    assert ring.written == 10 and capture.counters.dropped == 0


def blurring_capture() -> tuple[Body, Callable[[float, list], bool]]:
    """A capture that blurs faces, and a person facing its camera: (the person, face_shown), where
    face_shown(t, bodies) puts a frame with `bodies` in at stream time t and says whether the person's
    face region came out as the camera saw it (not blurred)."""
    from core.camera import DEFAULT_CAMERA
    from core.privacy import PrivacyMode, face_boxes
    from live.capture import CapturePrivacy

    camera = DEFAULT_CAMERA.scaled(640, 360)
    picture = np.random.default_rng(0).integers(0, 255, (360, 640, 3), dtype=np.uint8)
    person = body(7, x=0.0)
    person.joints[:, 1] = np.linspace(0.7, -0.9, 25)
    person.joints_color[:] = camera.project(person.joints)[0]
    ((x0, y0, x1, y1),) = face_boxes([person], camera, picture.shape[:2])
    capture = Capture(FrameStream("t", lambda: iter(())), FrameRing(8, (360, 640)), TrackTable(history=8),
                      period_s=1 / 30, privacy=CapturePrivacy(PrivacyMode.BLUR, camera))

    def face_shown(t: float, bodies: list) -> bool:
        entry = capture.accept(Frame(t, picture.copy(), bodies, int(round(t * 30))), time.perf_counter())
        return np.array_equal(capture.ring.color(entry.sequence)[y0:y1, x0:x1], picture[y0:y1, x0:x1])

    return person, face_shown


def test_blur_keeps_a_face_blurred_while_the_tracker_has_lost_its_body_for_a_moment():
    """The sensor drops a person for a frame or two and finds them again where they stood: their face must
    not show sharp in between (the window, the crops and the recording all get this image)."""
    from live.capture import FACE_HOLD_S

    person, face_shown = blurring_capture()
    assert not face_shown(0.0, [person])
    assert not face_shown(1 / 30, [])  # lost for a moment: still blurred
    assert not face_shown(2 / 30, [person])
    assert face_shown(2 / 30 + FACE_HOLD_S + 0.1, [])  # gone for good: nothing left to hide there


def test_blur_holds_a_lost_face_for_half_a_second_of_stream_time():
    # The tracker loses a person for many frames at a time (turning over in bed, behind a visitor): half a
    # second is well within what the hold must cover, whatever FACE_HOLD_S is tuned to.
    person, face_shown = blurring_capture()
    assert not face_shown(0.0, [person])
    assert not face_shown(1 / 30, [person])
    assert not face_shown(0.5, [])  # lost for half a second: the face is still blurred
    assert not face_shown(0.53, [person])


def test_a_replay_that_loops_forgets_the_bodies_of_the_pass_before():
    # A looped replay's stream time starts again at 0: a person seen at the end of the previous pass is
    # not "just lost" in the new one (their time lies ahead of the frame's, not behind it). Holding them
    # would blur a face where nobody is, at the start of every loop.
    person, face_shown = blurring_capture()
    assert not face_shown(10.0, [person])
    assert not face_shown(10.0 + 1 / 30, [person])  # the last frame of the pass
    assert face_shown(0.0, [])  # the first frame of the next pass, nobody in it yet: nothing blurred
    assert face_shown(0.5, [])


def test_capture_reports_a_failing_source_instead_of_dying_silently():
    class Broken:
        name, fps, connected, camera, color_shape = "broken", 30.0, True, None, None

        def read(self, timeout=0.1):
            raise OSError("device vanished")

    capture = Capture(Broken(), FrameRing(4, None), TrackTable(4), period_s=1 / 30)
    capture.start()
    assert capture.ended.wait(2.0)
    assert isinstance(capture.error, OSError)


def test_end_of_stream_is_not_an_error():
    capture, _, _ = make_capture([])
    capture.start()
    assert capture.ended.wait(2.0)
    assert capture.error is None
    with pytest.raises(EndOfStream):
        capture.source.read()


# ---- TrackTable -----------------------------------------------------------------------------------

def test_tracks_are_created_kept_bounded_and_retired_by_tracking_id():
    tracks = TrackTable(history=5, retire_after_s=0.5)
    created, retired = tracks.observe(0.0, [body(1), body(2)], 0)
    assert created == [1, 2] and retired == []
    for i in range(1, 10):
        tracks.observe(i * 0.1, [body(1, x=i)], i)  # person 2 walked out
    assert tracks.ids() == [1]
    assert tracks.people_seen == 2 and tracks.retired == 1
    (snapshot,) = tracks.snapshot()
    assert len(snapshot.timestamps) == 5  # bounded history
    np.testing.assert_allclose(snapshot.timestamps, [0.5, 0.6, 0.7, 0.8, 0.9])
    assert snapshot.sequences.tolist() == [5, 6, 7, 8, 9]
    assert snapshot.joints.shape == (5, J, 3) and snapshot.joints[-1, 0, 0] == 9
    assert snapshot.states.shape == (5, J) and snapshot.joints_color.shape == (5, J, 2)
    # A looped replay starts its tracks again under the same ids: the same people, not new ones.
    tracks.clear()
    tracks.observe(0.0, [body(1), body(2)], 10)
    tracks.observe(0.1, [body(3)], 11)
    assert tracks.people_seen == 3
    # Numbered in order of appearance, the same number when they come back, for the window and alerts.
    assert [tracks.number_of(i) for i in (1, 2, 3, 99)] == [1, 2, 3, None]
    assert [s.number for s in tracks.snapshot()] == [1, 2, 3]
    # Numbered as the frame comes in, before it is stored: the window never draws a person without one.
    tracks.rejoin(0.2, [body(4, x=3.0)])
    assert tracks.number_of(4) == 4 and tracks.people_seen == 4


def see(tracks: TrackTable, t: float, *bodies: Body) -> list[int]:
    """One frame of `bodies` through rejoin and into the tracks, as the capture does: the ids stored."""
    bodies_out = tracks.rejoin(t, list(bodies))
    tracks.observe(t, bodies_out, int(t * 30))
    return [b.tracking_id for b in bodies_out]


def test_a_body_found_again_nearby_continues_its_track_and_anybody_else_starts_one():
    tracks = TrackTable(history=50, retire_after_s=0.5)

    assert see(tracks, 0.0, body(1, x=0.0), body(2, x=2.0)) == [1, 2]
    # Both lost; 0.3 s later one comes back 20 cm away under a new id, somebody else 1 m from either.
    assert see(tracks, 0.3, body(5, x=0.2), body(6, x=1.0)) == [1, 6]
    assert see(tracks, 0.33, body(5, x=0.2), body(6, x=1.0)) == [1, 6]  # the sensor's id stays mapped
    assert tracks.rejoins == 1 and tracks.ids() == [1, 2, 6]
    # Track 2 retired (unseen longer than retire_after_s); a body where it was, within REJOIN_WITHIN_S,
    # is person 2 found again: their id, number and alert episode go on, not their history.
    assert see(tracks, 0.6, body(5, x=0.2), body(6, x=1.0)) == [1, 6] and tracks.ids() == [1, 6]
    assert see(tracks, 0.9, body(5, x=0.2), body(6, x=1.0), body(8, x=2.0)) == [1, 6, 2]
    assert tracks.ids() == [1, 2, 6] and tracks.number_of(2) == 2 and tracks.people_seen == 3
    assert [s.timestamps.tolist() for s in tracks.snapshot() if s.tracking_id == 2] == [[0.9]]
    # A person who fell and was found again on the floor, 0.6 m lower where they stood: the same
    # person (near is measured along the floor), and a fall is when that matters most.
    fallen = body(9, x=0.2)
    fallen.joints[:, 1] -= 0.6
    assert see(tracks, 1.2, fallen, body(6, x=1.0), body(8, x=2.0)) == [1, 6, 2]
    # Gone longer than REJOIN_WITHIN_S: a body where they were is somebody new.
    for i in range(1, 34):
        see(tracks, 1.2 + 0.1 * i, body(6, x=1.0))
    assert see(tracks, 4.6, body(6, x=1.0), body(11, x=2.0)) == [6, 11]
    assert tracks.number_of(11) == 4


def test_a_body_found_again_without_its_spine_joint_is_placed_by_the_joints_it_has():
    """A spine joint dropped as a glitch (0 0 0) read as a body standing at the sensor: two such bodies
    were one person found again, whoever they were; and the person found again was far from it."""
    tracks = TrackTable(history=50, retire_after_s=0.5)
    assert see(tracks, 0.0, body(1, x=0.0), body(2, x=2.0)) == [1, 2]
    from core.skeleton import KINECT_V2

    back = body(5, x=2.1)
    back.joints[KINECT_V2.origin] = 0.0
    assert see(tracks, 0.3, back) == [2]  # person 2, 10 cm from where they were
    stranger = body(7, x=-1.5)
    stranger.joints[KINECT_V2.origin] = 0.0
    assert see(tracks, 0.6, stranger) == [7]  # nobody lost was there


def test_two_people_found_again_at_once_keep_their_own_numbers():
    # A third person passes in front of two standing side by side; the sensor finds both again under new
    # ids, in its own slot order. Body by body, the first (B, now 0.25 m from either) took A's track, and
    # A the only one left: their numbers swapped. The nearest pairs of the frame go first.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    assert see(tracks, 0.0, body(1, x=0.0), body(2, x=0.45)) == [1, 2]
    assert see(tracks, 0.5, body(12, x=0.2), body(11, x=-0.05)) == [2, 1]
    assert tracks.rejoins == 2 and [tracks.number_of(i) for i in (1, 2)] == [1, 2]


def test_who_walked_out_at_the_side_of_the_view_is_not_taken_for_who_comes_in_there():
    # A door at the side of the view: one person walks out through it as another comes in. A number, and
    # an alert's episode, went to the newcomer.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(16):  # person 1 walks out to the side (x 1.9 -> 2.65 m at 4 m: 25 -> 34 degrees)
        assert see(tracks, i / 30, body(1, x=1.9 + 0.05 * i), body(2, x=0.0)) == [1, 2]
    assert see(tracks, 1.0, body(5, x=2.5), body(2, x=0.1)) == [5, 2]
    assert tracks.number_of(5) == 3 and tracks.rejoins == 0
    # Nor once their track has retired.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(16):
        see(tracks, i / 30, body(1, x=1.9 + 0.05 * i), body(2, x=0.0))
    assert see(tracks, 2.0, body(2, x=0.0)) == [2] and tracks.retired == 1
    assert see(tracks, 2.5, body(7, x=2.5), body(2, x=0.0)) == [7, 2] and tracks.rejoins == 0
    # Nor a slow walker (0.5 m/s, 4 m away: 2.4 degrees out in half a second).
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(60):
        see(tracks, i / 30, body(1, x=2.2 + 0.5 / 30 * i))
    assert see(tracks, 3.0, body(8, x=2.7)) == [8] and tracks.rejoins == 0


def test_a_patient_who_falls_at_the_side_of_the_view_is_found_again():
    # A bed at the side of the view: the patient stood there, fell (down, not out) and was found on the
    # floor under a new id. They keep their number and their alert's episode.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(30):
        assert see(tracks, i / 30, body(1, x=2.6)) == [1]  # 33 degrees
    fallen = body(9, x=2.45)
    fallen.joints[:, 1] -= 0.7
    assert see(tracks, 2.5, fallen) == [1] and tracks.rejoins == 1
    # Falling outwards: further out as they go down, then lost, then found on the floor.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(30):
        see(tracks, i / 30, body(1, x=2.6))
    for i in range(1, 13):  # 0.4 s: 0.35 m out and 0.6 m down
        falling = body(1, x=2.6 + 0.03 * i)
        falling.joints[:, 1] -= 0.05 * i
        see(tracks, 1.0 + i / 30, falling)
    fallen = body(9, x=2.8)
    fallen.joints[:, 1] -= 0.7
    assert see(tracks, 3.0, fallen) == [1] and tracks.rejoins == 1


# Joint heights (m) and offsets to the body's right (m) of a person standing upright, Kinect v2 order.
STANDING = {"SpineBase": (1.0, 0), "SpineMid": (1.25, 0), "Neck": (1.55, 0), "Head": (1.7, 0),
            "ShoulderLeft": (1.45, -0.2), "ElbowLeft": (1.2, -0.25), "WristLeft": (1.0, -0.25),
            "HandLeft": (0.95, -0.25), "ShoulderRight": (1.45, 0.2), "ElbowRight": (1.2, 0.25),
            "WristRight": (1.0, 0.25), "HandRight": (0.95, 0.25), "HipLeft": (1.0, -0.1),
            "KneeLeft": (0.5, -0.1), "AnkleLeft": (0.1, -0.1), "FootLeft": (0.05, -0.1),
            "HipRight": (1.0, 0.1), "KneeRight": (0.5, 0.1), "AnkleRight": (0.1, 0.1),
            "FootRight": (0.05, 0.1), "SpineShoulder": (1.5, 0), "HandTipLeft": (0.9, -0.25),
            "ThumbLeft": (0.92, -0.22), "HandTipRight": (0.9, 0.25), "ThumbRight": (0.92, 0.22)}


def seen_from_high(tracking_id: int, x: float, forward: float, drop: float = 0.0, *, in_bed: bool = False
                   ) -> Body:
    """A person standing `x` m to the side and `forward` m ahead of a sensor 2.2 m up a patient room's
    wall, pitched 40 degrees down at the room (`drop`: m lower), in the sensor's camera space. `in_bed`:
    lying on their back 0.6 m up, head away from the sensor (straight legs in line with the spine)."""
    from core.skeleton import KINECT_V2

    pitch = np.radians(40.0)
    joints = np.zeros((J, 3), np.float32)
    for name, (height, side) in STANDING.items():
        up, ahead = (0.6 - drop - 2.2, forward + height) if in_bed else (height - drop - 2.2, forward)
        joints[KINECT_V2.index(name)] = (x + side, up * np.cos(pitch) + ahead * np.sin(pitch),
                                         -up * np.sin(pitch) + ahead * np.cos(pitch))
    return Body(tracking_id, joints, np.full(J, 2, np.int8), np.full((J, 2), 100.0, np.float32))


def test_a_sensor_pitched_down_at_the_room_tells_walking_out_from_falling():
    # High on a wall, pitched 40 degrees down: a walk of 1 m/s towards the sensor, at the side of the
    # view, goes 0.32 m down the camera's y in half a second. Read along the camera's y that was a fall,
    # and the newcomer at that side took the walker's number; along the body's spine it is a walk.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(16):  # 4.0 -> 3.5 m ahead, 31 -> 34 degrees to the side
        assert see(tracks, i / 30, seen_from_high(1, x=2.3, forward=4.0 - i / 30)) == [1]
    assert see(tracks, 1.5, seen_from_high(5, x=2.2, forward=3.4)) == [5] and tracks.rejoins == 0
    # The same sensor, a patient who falls there: found again on the floor, their number kept.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(30):
        see(tracks, i / 30, seen_from_high(1, x=2.3, forward=3.8))
    for i in range(1, 13):  # 0.4 s: outwards and down
        see(tracks, 1.0 + i / 30, seen_from_high(1, x=2.3 + 0.03 * i, forward=3.8, drop=0.06 * i))
    assert see(tracks, 3.0, seen_from_high(9, x=2.6, forward=3.8, drop=0.8)) == [1] and tracks.rejoins == 1
    # A patient lying in a bed at the side who rolls out of it: no standing spine to go by (a lying one,
    # legs in line with it, is not up), so the camera's y, along which they fell.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(30):
        see(tracks, i / 30, seen_from_high(1, x=2.3, forward=2.5, in_bed=True))
    for i in range(1, 13):  # 0.4 s: 0.6 m out (30 -> 34 degrees) and 0.5 m down
        rolling = seen_from_high(1, x=2.3 + 0.05 * i, forward=2.5, drop=0.042 * i, in_bed=True)
        see(tracks, 1.0 + i / 30, rolling)
    on_floor = seen_from_high(9, x=2.85, forward=2.5, drop=0.55, in_bed=True)
    assert see(tracks, 3.0, on_floor) == [1] and tracks.rejoins == 1


def test_a_patient_found_again_straight_below_a_pitched_sensor_keeps_their_number():
    # Lost as they drop 0.8 m straight down in front of a sensor pitched 40 degrees down from a wall:
    # 0.51 m in the camera's x-z plane, found on the floor as somebody new. On the floor, across the up
    # that the person's standing spine showed, they did not move.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(45):
        see(tracks, i / 30, seen_from_high(1, x=0.3, forward=3.0))
    assert see(tracks, 2.5, seen_from_high(9, x=0.3, forward=3.0, drop=0.8)) == [1] and tracks.rejoins == 1
    # Somebody else found 0.6 m away on the floor is not them.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(45):
        see(tracks, i / 30, seen_from_high(1, x=0.3, forward=3.0))
    assert see(tracks, 2.5, seen_from_high(9, x=0.9, forward=3.0, drop=0.8)) == [9] and tracks.rejoins == 0


def test_a_sensor_pitched_a_few_degrees_is_taken_as_level_for_rejoining():
    # People lean: their spines' up is a few degrees off. On PKU-MMD (sensors pitched up to ~8 degrees)
    # the floor across that up cost one right join (0285-L), the camera's x-z plane none.
    from live.tracks import _rejoin_up

    def spines(pitch_deg: float) -> np.ndarray:
        pitch = np.radians(pitch_deg)
        return np.tile([0.0, np.cos(pitch), np.sin(pitch)], (60, 1))

    np.testing.assert_allclose(_rejoin_up(spines(7.0)), [0.0, 1.0, 0.0])
    np.testing.assert_allclose(_rejoin_up(spines(40.0)), spines(40.0)[0], atol=1e-9)


def test_a_real_nearly_level_sensor_keeps_a_join_the_spines_up_would_lose(shared_data):
    # PKU-MMD 0285-L at 30.5 s, after a hug: a body straightening up came back 0.483 m from person 1 in
    # the camera's plane, 0.506 m across the up of people's leaning spines (6.7 degrees off): measured
    # there, person 1 lost their number and "3 people" were seen where two acted.
    from recordings.pkummd import PkuMmdRecording

    recording = PkuMmdRecording(shared_data / "pkummd" / "skeletons" / "0285-L.txt.xz")
    tracks = TrackTable(history=83, retire_after_s=1.0)
    for frame in recording.frames():
        see(tracks, frame.timestamp, *frame.bodies)
    assert tracks.people_seen == 2 and tracks.rejoins >= 1


def test_a_track_whose_own_id_is_back_is_not_shared_with_the_body_rejoined_to_it():
    # Person 1 lost for a frame, somebody new (7) appears where they were and is rejoined to track 1;
    # then person 1 is back under their own id beside 7. Both stored as track 1 would mix two people
    # in one history and leave the second without a decision.
    tracks = TrackTable(history=50, retire_after_s=1.0)

    assert see(tracks, 0.0, body(1, x=0.0)) == [1]
    assert see(tracks, 0.1, body(7, x=0.3)) == [1]
    assert see(tracks, 0.2, body(1, x=0.0), body(7, x=0.3)) == [1, 7]
    assert see(tracks, 0.3, body(7, x=0.3), body(1, x=0.0)) == [7, 1]
    assert tracks.ids() == [1, 7]
    timestamps = {s.tracking_id: s.timestamps.tolist() for s in tracks.snapshot()}
    assert timestamps == {1: [0.0, 0.1, 0.2, 0.3], 7: [0.2, 0.3]}


def test_a_person_found_again_under_new_ids_all_day_leaves_nothing_behind():
    # A patient never out of view whom the sensor keeps losing and finding again under a new id: one
    # track, one number, and nothing kept of the ids gone for good (they piled up, and every frame read
    # them all: ~1.4 ms a frame after 50,000 re-identifications, and growing).
    tracks = TrackTable(history=50, retire_after_s=1.0)
    for i in range(3000):
        assert see(tracks, i / 30, body(1000 + i // 2, x=0.001 * (i % 7)), body(7, x=2.0)) == [1000, 7]
    assert tracks.rejoins == 1499 and tracks.people_seen == 2 and tracks.ids() == [7, 1000]
    assert len(tracks._rejoined) == 1  # the id the sensor sends now
    assert tracks.track_of(1000 + 2999 // 2) == 1000


def test_two_new_bodies_near_one_lost_track_do_not_both_continue_it():
    # Person 1 lost for a moment; two bodies with new ids come back near where they stood (two people
    # hugging, found again apart). Only one of them continues track 1: both under one id would mix two
    # people in one history, one number on the screen for two people.
    tracks = TrackTable(history=50, retire_after_s=1.0)
    assert see(tracks, 0.0, body(1, x=0.0)) == [1]
    assert see(tracks, 0.2, body(5, x=0.1), body(6, x=0.2)) == [1, 6]
    assert see(tracks, 0.3, body(6, x=0.2), body(5, x=0.1)) == [6, 1]
    assert tracks.rejoins == 1 and tracks.ids() == [1, 6]
    assert [tracks.track_of(i) for i in (5, 6)] == [1, 6]


def test_the_ids_a_retired_track_was_found_again_under_are_forgotten_with_it():
    # Track 1 found again under id 5, then the person left for good: once the track retires, what it was
    # found under is forgotten (a service runs for weeks; the map must not keep every retired track's ids,
    # and id 5 no longer leads to a track that is gone).
    tracks = TrackTable(history=50, retire_after_s=1.0)
    assert see(tracks, 0.0, body(1, x=0.0), body(9, x=3.0)) == [1, 9]
    assert see(tracks, 0.2, body(5, x=0.1), body(9, x=3.0)) == [1, 9]
    assert tracks.track_of(5) == 1 and tracks._rejoined == {5: 1}
    for i in range(1, 16):  # person 1 gone; person 9 stays, 0.1 s a frame, to 1.7 s
        see(tracks, 0.2 + 0.1 * i, body(9, x=3.0))
    assert tracks.ids() == [9] and tracks.retired == 1
    assert tracks._rejoined == {} and tracks.track_of(5) == 5


def test_numbers_forgotten_past_the_limit_are_never_those_of_people_in_view(monkeypatch):
    import live.tracks

    monkeypatch.setattr(live.tracks, "MAX_REMEMBERED_IDS", 4)
    tracks = TrackTable(history=5, retire_after_s=0.05)
    for i in range(20):  # three new people every frame, far apart, all gone by the next
        ids = [100 + 3 * i + k for k in range(3)]
        at = 4.0 * i  # longer apart than REJOIN_WITHIN_S: nobody is taken for the one before
        stored = tracks.rejoin(at, [body(tracking_id, x=3.0 * k) for k, tracking_id in enumerate(ids)])
        assert [tracks.number_of(b.tracking_id) for b in stored] == [3 * i + 1, 3 * i + 2, 3 * i + 3]
        tracks.observe(at, stored, i)
    assert tracks.people_seen == 60  # each counted once
    # Forgotten: the first people's ids (a service runs for weeks; the memory must stay bounded) ...
    assert [tracks.number_of(tracking_id) for tracking_id in (100, 101, 102)] == [None, None, None]
    assert tracks.number_of(100 + 3 * 19) == 58  # ... never those of the people in the last frame


def test_tracks_reject_an_empty_history():
    with pytest.raises(ValueError, match="at least 1"):
        TrackTable(history=0)


# ---- RecordingSink with the real recorder ---------------------------------------------------------

def test_recording_sink_finalises_a_clip_that_replays(tmp_path):
    from recordings.clip import open_recording
    from recordings.recorder import Recorder

    recorder = Recorder(tmp_path, sample_name="live_test", source="test")
    sink = RecordingSink(recorder)
    for i in range(12):
        sink.offer(frame(i, shape=(16, 24), value=40 + i))
    sink.close()
    assert sink.dropped == 0 and sink.written == 12 and sink.error is None
    files = recorder.files
    assert files is not None and files.frame_count == 12 and files.video is not None
    with open_recording(files.skeleton) as replay:
        frames = list(replay.frames())
    assert len(frames) == 12
    assert [b.tracking_id for b in frames[3].bodies] == [7]
    np.testing.assert_allclose([f.timestamp for f in frames], np.arange(12) / 30, atol=1e-5)



def test_a_recording_stopped_by_a_defect_is_said_with_its_traceback_a_full_disk_in_one_line(tmp_path, caplog):
    """A typo in the recorder (an AttributeError) was logged as "recording failed: 'F' object has no
    attribute 'colr'", like a full disk, its traceback lost."""
    from recordings.recorder import Recorder

    for error, traced in ((AttributeError("'Frame' object has no attribute 'colr'"), True),
                          (OSError(28, "No space left on device"), False)):
        caplog.clear()
        recorder = Recorder(tmp_path, sample_name=f"failing_{traced}", source="test")

        def write(frame, error=error):
            raise error

        recorder.write = write
        sink = RecordingSink(recorder)
        sink.offer(frame(0, shape=(16, 24), value=40))
        sink.close()
        [record] = [r for r in caplog.records if r.getMessage().startswith("recording failed")]
        assert sink.error is error and bool(record.exc_info) is traced


def test_a_full_disk_is_said_once_by_the_sinks_owner_which_names_the_clip(tmp_path, caplog):
    """With an owner (the pipeline, which says the clip's name and where its frames stay), a disk full as
    the clip is finalised was logged by the sink and again by the owner; without one, the sink says it."""
    from recordings.recorder import Recorder

    for owned in (True, False):
        caplog.clear()
        recorder = Recorder(tmp_path, sample_name=f"full_{owned}", source="test")

        def close():
            raise OSError(28, "No space left on device")

        recorder.close = close
        told: list[Exception] = []
        sink = RecordingSink(recorder, on_finished=told.append if owned else None)
        sink.offer(frame(0, shape=(16, 24), value=40))
        sink.close()
        errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
        assert isinstance(sink.error, OSError) and told == ([sink] if owned else [])
        said = "finalising the recording failed: [Errno 28] No space left on device"
        assert errors == ([] if owned else [said])


def test_a_sink_whose_recorder_stopped_for_disk_space_counts_the_frames_the_clip_holds(tmp_path, monkeypatch):
    import shutil

    from recordings.recorder import Recorder, RecorderConfig

    recorder = Recorder(tmp_path, sample_name="full", config=RecorderConfig(min_free_bytes=10**9,
                                                                           sync_interval_s=0.0))
    usage = shutil.disk_usage(tmp_path)
    checks = iter([10**10] * 5)  # five checks with room, then the disk is full
    monkeypatch.setattr(shutil, "disk_usage",
                        lambda path: type(usage)(usage.total, usage.used, next(checks, 0)))
    sink = RecordingSink(recorder)
    for i in range(12):
        sink.offer(frame(i, shape=(16, 24)))
    sink.close()
    assert isinstance(sink.error, RuntimeError) and "low disk space" in str(sink.error)
    assert sink.written == recorder.files.frame_count == 6  # the frame that found the disk full is kept


# ---- what the capture counts as dropped ------------------------------------------------------------

class SensorStandIn:
    """A source read by the capture thread: `frames` in order, then EndOfStream(skipped=`skipped_at_end`).
    `before_read(index)` runs before each frame is handed over (a test presses pause there).
    `stops_when_paused` False: a sensor, whose frames run on while paused."""

    name, fps, connected, camera, color_shape = "sensor", 30.0, True, None, (4, 6)

    def __init__(self, frames, *, skipped_at_end=0, stops_when_paused=False, before_read=None) -> None:
        self._frames = iter(frames)
        self.skipped_at_end = skipped_at_end
        self.stops_when_paused = stops_when_paused
        self.before_read = before_read

    def read(self, timeout=0.1):
        try:
            f = next(self._frames)
        except StopIteration:
            raise EndOfStream("sensor", skipped=self.skipped_at_end) from None
        if self.before_read is not None and f is not None:
            self.before_read(f.index)
        return f

    def set_paused(self, paused):
        pass


def run_capture(source, built=lambda capture: None) -> tuple[Capture, FrameRing]:
    """`source` captured to its end; `built` is handed the capture before it starts."""
    ring = FrameRing(16, (4, 6))
    capture = Capture(source, ring, TrackTable(history=16), period_s=1 / 30)
    built(capture)
    capture.start()
    assert capture.ended.wait(5.0)
    capture.stop()
    assert capture.error is None
    return capture, ring


def test_the_frames_of_a_sensor_unplugged_are_not_counted_as_left_out_by_this_computer():
    # Unplugged for five minutes, the sensor's clock ran on: its 9000 frames were counted as dropped, and
    # the window said "missing 99% of the sensor's frames - this computer is not keeping up".
    class Unplugged(SensorStandIn):
        def read(self, timeout=0.1):
            f = super().read(timeout)
            self.connected = f is not None
            return f

    after = 5 + 30 * 300
    frames = [frame(i) for i in range(5)] + [None, None] + [frame(after + i) for i in (0, 1, 3)]
    capture, ring = run_capture(Unplugged(frames))
    assert ring.written == 8 and capture.counters.dropped == 1  # only the gap after it came back
    assert capture.disconnected_at is not None


class Pausing(SensorStandIn):
    """A sensor that says it is available and, at each None in its frames, sends nothing for a read's
    whole timeout (as a real one does: a Kinect pauses in its first seconds)."""

    def read(self, timeout=0.1):
        f = super().read(timeout)
        if f is None:
            time.sleep(timeout)
        return f


@pytest.mark.parametrize(("replay", "reads_waited", "sensors"), [(False, 6, True), (True, 6, False),
                                                                 (False, 1, False)])
def test_a_gap_the_sensor_made_while_available_is_not_counted_as_left_out_by_this_computer(
    replay, reads_waited, sensors
):
    # Paused while available, the sensor's clock ran on: the jump in its index after it was counted as
    # dropped, and the status line said "missing 30% of the sensor's frames - this computer is not keeping
    # up". A replay has no pauses of its own: a gap in its index is frames lost. Nor is one read that
    # timed out (0.1 s) a pause: on a busy machine the driver's thread can be that late to collect a frame.
    frames = [frame(i) for i in range(5)] + [None] * reads_waited + [frame(40 + i) for i in (0, 1, 3)]
    capture, ring = run_capture(Pausing(frames, stops_when_paused=replay))
    counters = capture.counters
    assert ring.written == 8 and counters.duplicates == 0 and counters.restarts == 0
    missed = 1 if sensors else 35 + 1  # the sensor's pause, then frame 42 this computer was too late for
    assert counters.dropped == missed
    assert capture.disconnected_at is None  # not an outage: a stall still counts from the last frame
    share = capture.missed_share(now=capture.first_received + MISSED_WINDOW_S)
    assert share == pytest.approx(missed / (8 + missed))


def test_frames_a_replay_lost_after_its_last_delivered_frame_are_counted_dropped():
    # No later frame comes whose index gap would show them: only the end of the stream says so, and the
    # summary's dropped count must include them (a slow machine at the end of a replay lost them).
    capture, ring = run_capture(SensorStandIn([frame(i) for i in range(5)], skipped_at_end=7))
    assert ring.written == 5 and capture.counters.dropped == 7


def test_a_sensors_frames_passed_over_while_paused_are_not_counted_dropped():
    # A sensor runs on while paused and its frames are read and thrown away: on resume the index jumps by
    # all of them, which is not a loss (the status line said hundreds of frames dropped after a pause).
    captures: list[Capture] = []

    def press_pause(index: int) -> None:
        captures[0].paused = 3 <= index < 8  # frames 3-7 come while paused

    source = SensorStandIn([frame(i) for i in range(12)], before_read=press_pause)
    capture, ring = run_capture(source, built=captures.append)
    assert ring.written == 12 - 5 and capture.counters.dropped == 0
    assert [ring.entry(s).index for s in range(ring.written)] == [0, 1, 2, 8, 9, 10, 11]


def test_a_gap_after_frames_passed_over_while_paused_is_this_computers_again():
    # The sensor paused while the window was paused too: the frames passed over after it kept the pause's
    # mark, and the first gap after resuming (frame 42, this computer's loss) went uncounted.
    captures: list[Capture] = []

    def press_pause(index: int) -> None:
        captures[0].paused = index in (40, 41)

    frames = [frame(i) for i in range(3)] + [None] * 6 + [frame(40), frame(41), frame(43)]
    capture, ring = run_capture(Pausing(frames, before_read=press_pause), built=captures.append)
    assert ring.written == 4 and capture.counters.dropped == 1


def test_the_worker_woken_by_a_frame_finds_its_bodies_in_the_tracks(monkeypatch):
    """Pushing a frame into the ring wakes the recognition worker; the tracks took the frame's bodies only
    after, so a worker that ran first cut its window from the frame before (a --fast replay decided one
    window differently under load). At every wake-up the tracks hold the frame woken for."""
    frames = [frame(i, bodies=[body(7, x=i / 10)]) for i in range(5)]
    capture, ring, tracks = make_capture(frames)
    push, seen_at_wake = ring.push, []

    def push_then_look(*args):
        entry = push(*args)  # the worker may run from here on
        [track] = tracks.snapshot()
        seen_at_wake.append((entry.sequence, int(track.sequences[-1])))
        return entry

    monkeypatch.setattr(ring, "push", push_then_look)
    for f in frames:
        capture.accept(f, time.perf_counter())
    assert seen_at_wake == [(n, n) for n in range(5)]


def test_a_frame_delivered_late_with_an_older_index_makes_no_gap_after_it():
    # Frames 0-5, then frame 3 again late (an older index and time), then 6 on: 6 follows 5, nothing lost.
    # Remembering the late frame's index as the newest would count 4 and 5 as dropped at frame 6.
    frames = [frame(i) for i in range(6)] + [frame(3)] + [frame(i) for i in range(6, 9)]
    capture, ring, _ = make_capture(frames)
    for f in frames:
        capture.accept(f, time.perf_counter())
    assert capture.counters.duplicates == 1 and capture.counters.restarts == 0
    assert capture.counters.dropped == 0 and ring.written == 9
