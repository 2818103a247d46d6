"""Capture: one thread reads the source into a preallocated ring buffer and updates the tracks.

    source.read() --> CapturePrivacy.screen (faces blurred / image dropped, per --privacy)
                  --> StreamClock (monotonic) --> TrackTable.rejoin (a body found again keeps its id)
                                           --> FrameRing.push (copy into the oldest slot)
                                           --> TrackTable.observe (bodies by tracking id)
                                           --> RecordingSink.offer (non-blocking, own thread)

The capture thread never waits for a consumer (except in lockstep, a --fast replay, where it waits for
the worker and the recorder so that nothing is skipped): the ring overwrites its oldest slot, readers
check a slot's sequence number before and after using it (a torn read is detected, never
blocked on), and the recorder has its own bounded queue that drops (and counts) when full. Frames
the capture thread itself was too late for show up as gaps in the source's frame index and are
counted as dropped; not the gap over a sensor unplugged, nor over one that sent nothing while the thread
waited for it (SENSOR_PAUSE_S): its clock runs on, and it made nothing to miss.
"""

from __future__ import annotations

import logging
import math
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.frame import Body, Frame
from core.privacy import PrivacyMode, blur_faces, hide_depth_faces
from live.sources import EndOfStream, Source
from live.stats import RateMeter
from live.tracks import TrackTable
from recordings.stop_signals import join_in_slices, wait_for_event_in_slices

log = logging.getLogger(__name__)
CAPTURE_THREAD = "capture"  # its name: live/__main__.py ends a process where it is stuck at exit


@dataclass(frozen=True)
class RingEntry:
    """What the ring knows about one frame (the pixels stay in the ring)."""

    sequence: int  # 0, 1, 2, ... in arrival order; slot = sequence % capacity
    timestamp: float  # stream seconds, strictly increasing (StreamClock)
    received: float  # time.perf_counter() when the capture thread got it (see Capture.first_received)
    index: int  # the source's frame number
    has_color: bool
    bodies: list[Body] = field(default_factory=list)


class FrameRing:
    """The last `capacity` frames: colour images in one preallocated array, metadata beside them.

    Memory is allocated and touched once, up front, so it stays flat however long the app runs.
    `color_shape` None keeps no pixels (skeleton-only sources).
    """

    def __init__(self, capacity: int, color_shape: tuple[int, int] | None) -> None:
        if capacity < 2:
            raise ValueError(f"a frame ring needs at least 2 slots, got {capacity}")
        self.capacity = capacity
        self.color_shape = color_shape
        self._pixels: np.ndarray | None = None
        if color_shape is not None:
            self._pixels = np.empty((capacity, color_shape[0], color_shape[1], 3), np.uint8)
            self._pixels.fill(0)  # commit the pages now, not while the app runs
        self._sequences = np.full(capacity, -1, np.int64)
        self._entries: list[RingEntry | None] = [None] * capacity
        self._written = 0
        self._condition = threading.Condition()

    @property
    def nbytes(self) -> int:
        return 0 if self._pixels is None else self._pixels.nbytes

    @property
    def written(self) -> int:
        """Frames pushed so far."""
        return self._written

    def push(self, frame: Frame, timestamp: float, received: float) -> RingEntry:
        """Copy `frame` into the oldest slot. Called by the capture thread only."""
        sequence = self._written
        slot = sequence % self.capacity
        with self._condition:
            self._sequences[slot] = -1  # readers of the old frame in this slot now see it is gone
            self._entries[slot] = None
        has_color = False
        if self._pixels is not None and frame.color is not None:
            if frame.color.shape[:2] != self.color_shape:
                raise ValueError(
                    f"frame {frame.index}: colour image is {frame.color.shape[1]}x{frame.color.shape[0]}, "
                    f"the source declared {self.color_shape[1]}x{self.color_shape[0]}"
                )
            np.copyto(self._pixels[slot], frame.color[..., :3])
            has_color = True
        entry = RingEntry(sequence, timestamp, received, frame.index, has_color, list(frame.bodies))
        with self._condition:
            self._sequences[slot] = sequence
            self._entries[slot] = entry
            self._written = sequence + 1
            self._condition.notify_all()
        return entry

    def latest(self) -> RingEntry | None:
        with self._condition:
            return self._entries[(self._written - 1) % self.capacity] if self._written else None

    def wait_newer(self, sequence: int, timeout: float) -> RingEntry | None:
        """The newest entry once one newer than `sequence` exists, or None after `timeout`."""
        with self._condition:
            if self._written - 1 <= sequence:
                self._condition.wait(timeout)
            if self._written - 1 <= sequence:
                return None
            return self._entries[(self._written - 1) % self.capacity]

    def entry(self, sequence: int) -> RingEntry | None:
        """The entry for `sequence` while the ring still holds it."""
        slot = sequence % self.capacity
        with self._condition:
            return self._entries[slot] if self._sequences[slot] == sequence else None

    def holds(self, sequences: np.ndarray) -> bool:
        """Whether every frame in `sequences` is still in the ring (check after reading pixels)."""
        sequences = np.asarray(sequences, np.int64)
        with self._condition:
            return bool(np.all(self._sequences[sequences % self.capacity] == sequences))

    def color(self, sequence: int) -> np.ndarray | None:
        """A view (H, W, 3) BGR of the frame's pixels, None without colour or once overwritten.

        The view is not a copy: check `holds` after using it.
        """
        entry = self.entry(sequence)
        if entry is None or not entry.has_color or self._pixels is None:
            return None
        return self._pixels[sequence % self.capacity]


# How far back a timestamp may step and still be a late frame (dropped) rather than a restart. A sensor
# stamps a frame with whichever of its clocks the frame has (depth, body, colour), and those can disagree
# by a few milliseconds; a restart would retire every track and cost each person most of a window of
# history before their next decision. A replay loops back by its whole length.
LATE_FRAME_S = 1.0
# Late frames in a row that make a restart after all: a clock that came back a little behind (or a
# replay shorter than LATE_FRAME_S looping) would otherwise have every frame dropped.
LATE_FRAMES_IN_A_ROW = 5


class StreamClock:
    """Makes a stream's timestamps strictly increasing across restarts.

    A looping replay or a sensor that comes back restarts its clock (a step back of more than
    LATE_FRAME_S, or LATE_FRAMES_IN_A_ROW late frames; after an outage, any step back); the ring, the
    tracks and the window sampler all need one monotonic timeline, so each restart is appended one frame
    period after the last frame. A frame at or before the previous one but within LATE_FRAME_S of it is a
    duplicate or a late frame: dropped.
    """

    def __init__(self, period_s: float) -> None:
        self._period = period_s
        self._offset = 0.0
        self._last_in: float | None = None
        self._last_out = 0.0
        self._late = 0  # late frames in a row

    def __call__(self, timestamp: float, after_outage: bool = False) -> tuple[float | None, bool]:
        """(timeline seconds or None for a duplicate or late frame, whether the stream restarted).
        `after_outage`: the first frame since the sensor was found unplugged. A step back is then its clock
        started again, however short (a sensor back within a second and a half came back less than
        LATE_FRAME_S behind: its first frames were dropped as late); a late frame comes milliseconds after
        the one it follows, not after an outage."""
        restarted = False
        if self._last_in is not None and timestamp <= self._last_in:
            if timestamp == self._last_in and not after_outage:  # delivered twice
                return None, False
            self._late += 1
            if (not after_outage and timestamp >= self._last_in - LATE_FRAME_S
                    and self._late < LATE_FRAMES_IN_A_ROW):
                return None, False
            self._offset = self._last_out + self._period - timestamp
            restarted = True
        self._late = 0
        out = timestamp + self._offset
        self._last_in, self._last_out = timestamp, out
        return out, restarted


def _a_defect(error: Exception) -> bool:
    """Whether a recording's error is a defect of ours (said with its traceback), not its own trouble."""
    # Imported here: a recorder is recording, so the module is loaded; imported at the top it came with
    # every import of the worker, the window's 3D panel's among them.
    from recordings.recorder import RECORDING_ERRORS

    return not isinstance(error, RECORDING_ERRORS)


class RecordingSink:
    """Writes frames through a recorder on its own thread; `offer` never blocks the capture thread
    (unless `lossless`).

    `recorder` needs `write(frame)` and `close()` (recordings.recorder.Recorder); only the sink's
    thread ever calls them. When the writer falls behind by `max_queue` frames, new frames are dropped
    and counted (`lossless`, for a --fast replay: the capture thread waits instead). `close()` asks the
    thread to write what is queued and finalise the recording, and waits for it at most `timeout`: a
    stuck writer (a hung disk) cannot freeze whoever stops the recording, and finalises on its own
    thread whenever it comes unstuck (until then its partial folder is on disk, and `python -m
    recordings recover` finalises it after a crash). `on_finished(sink)` is called on the writer's
    thread once the recording is finalised (or finalising failed). A recorder that stops itself (low
    disk space) or a write that fails sets `error` and finalises what was written at once; the
    recording has ended there, and later frames are not offered to it (nor counted as dropped).
    `continue_in(sink, frame)` is called instead, on the writer's thread, before a frame the recorder's
    clip has no room for (`part_full`: its video full, or 10 minutes long): it finalises the clip and sets
    `recorder` to the next one (live.pipeline), so that a long recording goes on, clip after clip; where
    it could not, `continue_not_before` holds it back a while.
    """

    def __init__(self, recorder, *, max_queue: int = 30,
                 on_finished: Callable[[RecordingSink], None] | None = None, lossless: bool = False,
                 continue_in: Callable[[RecordingSink, Frame], None] | None = None) -> None:
        self.recorder = recorder
        self.continue_in = continue_in
        # Stream time before which continue_in is not called again (a next clip that could not be made).
        self.continue_not_before = -math.inf
        self.continue_failures = 0  # tries in a row that could not make the next clip
        self.lossless = lossless  # a --fast replay (lockstep): `offer` waits for room instead of dropping
        self.dropped = 0
        # Frames the capture missed between two of the clip's (the writer's count, of each part): gaps in it.
        self.missed = 0
        self._missed_unqueued = 0  # (capture thread) missed before a frame this dropped: the next one's gap
        self.written = 0
        self.error: BaseException | None = None
        self.finished = threading.Event()  # the recording is finalised (or failed to)
        self._on_finished = on_finished
        self._closing = threading.Event()
        # Each frame with the frames the capture missed right before it.
        self._queue: queue.Queue[tuple[Frame, int] | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="recorder", daemon=True)
        self._thread.start()

    def offer(self, frame: Frame, give_up: threading.Event | None = None, *, missed: int = 0) -> None:
        """Queue a frame (capture thread). `give_up`: the caller's stop, which ends a lossless wait.
        `missed`: frames the capture missed right before this one (a gap in the clip, after its first)."""
        if self._closing.is_set() or self.error is not None:  # ended (it stopped itself): not a drop
            return
        missed, self._missed_unqueued = missed + self._missed_unqueued, 0
        while True:
            try:
                if self.lossless:
                    self._queue.put((frame, missed), timeout=0.1)
                else:
                    self._queue.put_nowait((frame, missed))
                return
            except queue.Full:
                if self._closing.is_set() or self.error is not None:
                    return
                if not self.lossless or (give_up is not None and give_up.is_set()):
                    self.dropped += 1
                    self._missed_unqueued = missed
                    if self.dropped == 1:  # said as it begins: the clip will have a hole here
                        log.warning("recording %s: its disk is not keeping up (a share that hangs?); frames "
                                    "are left out of the clip until it does",
                                    getattr(self.recorder, "sample_name", "?"))
                    return

    def _run(self) -> None:
        try:
            while True:
                try:
                    queued = self._queue.get(timeout=0.1)
                except queue.Empty:
                    if self._closing.is_set():
                        break
                    continue
                if queued is None:
                    break
                frame, missed = queued
                try:
                    # A full video at once, retry or not: the write below would stop the recording.
                    if (self.continue_in is not None and getattr(self.recorder, "part_full", None)
                            and (frame.timestamp >= self.continue_not_before
                                 or getattr(self.recorder, "video_full", False))):
                        self.continue_in(self, frame)  # a next clip, else the write below stops it
                    if self.recorder.write(frame) is False:  # the recorder stopped itself (low disk space)
                        self.error = RuntimeError(getattr(self.recorder, "stopped_reason", None) or "stopped")
                        # Low disk space stops it after writing the frame that found it; the size limit
                        # stops it before.
                        self.written = getattr(self.recorder, "frame_count", self.written)
                    else:
                        # A gap before the first frame of a clip (or of its next part) is none of its own.
                        self.missed += missed if self.written else 0
                        self.written += 1
                except Exception as error:  # a full disk must not take the app down: report, stop writing
                    self._say("recording failed", error)
                    self.error = error
                if self.error is not None:  # finalise what was written now, not when somebody presses r
                    break
            try:
                self.recorder.close()
            except Exception as error:
                self._say("finalising the recording failed", error, reported=self.error is None)
                self.error = self.error or error
        finally:
            if self._on_finished is not None:  # before `finished`: a waiter then sees the bookkeeping done
                try:
                    self._on_finished(self)
                except Exception:  # a bookkeeping bug must not look like a lost recording
                    log.exception("after finalising the recording")
            self.finished.set()

    def _say(self, what: str, error: Exception, reported: bool = True) -> None:
        """Log a recording's error, unless the owner's `on_finished` reports it (`reported`: it becomes
        `error`, which the owner says with the clip's name and where its frames are): a full disk was said
        two or three times over. A defect of ours is always logged here, with its traceback."""
        if _a_defect(error):
            log.error("%s: %s", what, error, exc_info=True)
        elif reported and self._on_finished is not None:
            log.debug("%s: %s", what, error)
        else:
            log.error("%s: %s", what, error)

    def close(self, timeout: float = 30.0) -> bool:
        """Write what is queued, then finalise; True when that finished within `timeout` seconds."""
        self._closing.set()
        try:
            self._queue.put_nowait(None)  # wakes the writer at once; when full it finds the queue empty later
        except queue.Full:
            pass
        if not wait_for_event_in_slices(self.finished, timeout):
            if timeout > 0:  # 0: the caller did not mean to wait (the window's r key)
                log.error("the recording writer did not finish within %.1f s (disk not responding?); "
                          "it finalises the clip when it can", timeout)
            return False
        return True


READ_TIMEOUT_S = 0.1  # a source's read returns None after this with nothing new: the thread checks stop
# A sensor that sent nothing for this long while the capture thread waited for a frame (reads returning
# None although it says it is available: starting up, a pause after its first frames) made the gap in its
# frame index that follows: not counted as dropped, or the status line blamed this computer ("missing 30%
# of the sensor's frames - this computer is not keeping up"). Five whole reads: one read that timed out
# on a busy machine (the driver's thread late to collect a frame) is this computer's loss, and counted.
SENSOR_PAUSE_S = 5 * READ_TIMEOUT_S
# Capture.missed_share looks at the frames that arrived over this long (the newest this many at most).
MISSED_WINDOW_S = 10.0
MISSED_WINDOW_FRAMES = 600
FACE_HOLD_S = 1.0  # BLUR keeps blurring a lost body's last face this long (the tracker finds most again)


@dataclass(frozen=True)
class CapturePrivacy:
    """What the capture thread lets through of each colour image (core.privacy.PrivacyMode).

    Applied to a frame before the ring, the tracks or the recorder see it, so the window, its
    screenshots, the model's crops and recordings all get the same screened image:
    BLUR blurs every tracked face, and for `FACE_HOLD_S` the last face of a body the tracker lost for a
    moment (`also`: it drops a person for a frame or two and finds them again where they stood);
    SKELETON drops the image unless the model crops it
    (`model_needs_color`), and never passes one to the recorder.

    Depth goes to the recorder under OFF and BLUR, never under SKELETON. A depth image is not a
    photograph, but it is an image of the person: body shape and outline (clothed or not, in bed),
    the relief of a face close to the sensor, enough to tell people apart by build and gait.
    SKELETON promises that no image of anybody is kept, so it keeps none; BLUR hides the same faces in
    depth as it blurs in colour (a recording's depth kept every face's relief while its video blurred
    them).
    """

    mode: PrivacyMode = PrivacyMode.OFF
    camera: ColorCamera = DEFAULT_CAMERA  # the colour image's camera: places and sizes face boxes
    model_needs_color: bool = True

    def screen(self, frame: Frame, also: Sequence[Body] = ()) -> Frame:
        """The frame the ring may hold. `also`: bodies just lost whose faces BLUR still blurs."""
        if self.mode is PrivacyMode.OFF:
            return frame
        if self.mode is PrivacyMode.BLUR:  # depth too: a dark room sends depth without colour
            bodies = [*frame.bodies, *also]
            color = None if frame.color is None else blur_faces(frame.color, bodies, self.camera)
            depth = None if frame.depth is None else hide_depth_faces(frame.depth, bodies)
            return replace(frame, color=color, depth=depth)
        return frame if self.model_needs_color or frame.color is None else replace(frame, color=None)

    def recordable(self, frame: Frame) -> np.ndarray | None:
        """The colour image a recording may keep (of a screened frame)."""
        return frame.color if self.mode.shows_color else None

    def recordable_depth(self, frame: Frame) -> np.ndarray | None:
        """The depth image a recording may keep (see the class docstring)."""
        return frame.depth if self.mode.shows_color else None


@dataclass
class CaptureCounters:
    frames: int = 0  # frames kept
    dropped: int = 0  # frames the source produced that the capture thread never got (index gaps)
    duplicates: int = 0  # frames delivered twice or late (StreamClock), ignored
    restarts: int = 0  # the stream went back in time by more than LATE_FRAME_S (replay loop, sensor restart)


class Capture:
    """The capture thread: source -> ring + tracks (+ recording)."""

    def __init__(
        self,
        source: Source,
        ring: FrameRing,
        tracks: TrackTable,
        *,
        period_s: float,
        on_restart: Callable[[], None] | None = None,
        privacy: CapturePrivacy = CapturePrivacy(),
        lockstep: Callable[[int, float], bool] | None = None,
    ) -> None:
        self.source = source
        self.privacy = privacy
        self._last_bodies: dict[int, tuple[float, Body]] = {}  # tracking id -> (time, body), for BLUR
        self.ring = ring
        self.tracks = tracks
        self.counters = CaptureCounters()
        self.fps = RateMeter(window_s=1.0, clock=time.perf_counter)
        # (arrival, frames missed just before it) of the newest frames kept, for missed_share.
        self._recent: deque[tuple[float, int]] = deque(maxlen=MISSED_WINDOW_FRAMES)
        self._recent_lock = threading.Lock()
        self.ended = threading.Event()  # the source ran out (end of a replay) or failed
        self.error: BaseException | None = None
        self.paused = False
        self.recording: RecordingSink | None = None
        self._clock = StreamClock(period_s)
        # Arrival times are read from time.perf_counter(), not time.monotonic(): on Windows before
        # Python 3.13 monotonic() ticks in 15.6 ms steps, as coarse as the latency measured from them
        # (on Linux the two are the same clock). Whatever is compared with them reads perf_counter too.
        self.first_received: float | None = None  # of the first frame kept
        self.last_received: float | None = None  # of the newest frame kept
        self.disconnected_at: float | None = None  # when the source was last found unplugged
        # The sensor sent nothing for a while (unplugged, or paused while available) since the last frame
        # kept: the gap in its index that follows is its own.
        self._sensor_gap = False
        self._unplugged = False  # the source was found unplugged since the last frame (StreamClock's outage)
        self._waiting_since: float | None = None  # start of the first of the reads in a row that got nothing
        self._reading_since: float | None = None  # when the read in progress began
        self._last_index: int | None = None
        self._on_restart = on_restart
        # A replay run as fast as possible hands the worker one frame at a time: lockstep(sequence,
        # timeout) returns once the worker has looked at that frame (False on timeout: ask again).
        self._lockstep = lockstep
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=CAPTURE_THREAD, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _just_lost(self, frame: Frame) -> list[Body]:
        """Bodies seen within FACE_HOLD_S of this frame but not in it (for BLUR: their faces stay blurred
        while the tracker has lost them); remembers this frame's bodies."""
        if self.privacy.mode is not PrivacyMode.BLUR:
            return []
        now = frame.timestamp
        for body in frame.bodies:
            self._last_bodies[body.tracking_id] = (now, body)
        # abs: a looped replay's time starts again; a body of the pass before is forgotten a second on.
        self._last_bodies = {i: seen for i, seen in self._last_bodies.items()
                             if abs(now - seen[0]) <= FACE_HOLD_S}
        present = {body.tracking_id for body in frame.bodies}
        return [body for i, (_, body) in self._last_bodies.items() if i not in present]

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        join_in_slices(self._thread, timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def read_running_s(self) -> float:
        """How long the source's read in progress has taken (0 between reads): each returns within
        READ_TIMEOUT_S, with nothing if nothing came, so a long one is a driver that hangs."""
        since = self._reading_since
        return 0.0 if since is None else time.perf_counter() - since

    def missed_share(self, now: float | None = None) -> float | None:
        """The share of the source's frames this thread was too late for, over the frames that arrived in
        the last MISSED_WINDOW_S (None until that long has been seen): a computer that cannot keep up
        (the face blur of several people on a slow CPU, another program taking the cores) leaves out
        frames, and the model then sees less of each movement than it learnt from."""
        now = time.perf_counter() if now is None else now
        with self._recent_lock:
            recent = [(at, missed) for at, missed in self._recent if now - at <= MISSED_WINDOW_S]
            full = len(self._recent) == self._recent.maxlen or (
                bool(self._recent) and now - self._recent[0][0] >= MISSED_WINDOW_S)
        if not recent or not full:
            return None
        missed = sum(m for _, m in recent)
        return missed / (len(recent) + missed)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                started = self._reading_since = time.perf_counter()
                try:
                    frame = self.source.read(READ_TIMEOUT_S)
                except EndOfStream as end:
                    log.info("%s: end of stream", self.source.name)
                    self.counters.dropped += end.skipped  # missed after the last frame: no gap shows them
                    break
                finally:
                    self._reading_since = None
                if frame is None:
                    if not self.source.connected:  # a stall counts from its return at the earliest
                        self.disconnected_at = time.perf_counter()
                        self._sensor_gap = self._unplugged = True
                    if self._waiting_since is None:
                        self._waiting_since = started
                    continue
                received = time.perf_counter()
                waiting_since, self._waiting_since = self._waiting_since, None
                # A replay (stops_when_paused) has no pauses of its own: a gap in its index is frames lost.
                if (waiting_since is not None and not self.source.stops_when_paused
                        and received - waiting_since > SENSOR_PAUSE_S):
                    self._sensor_gap = True
                # A sensor runs on while paused: its frames are passed over (not drops). A replay stops
                # its clock instead, and a frame it handed over as pause was pressed still goes in.
                if self.paused and not self.source.stops_when_paused:
                    self._last_index = frame.index
                    self._sensor_gap = False  # a gap after this frame is measured from it: counted anew
                    continue
                entry = self.accept(frame, received)
                if entry is not None and self._lockstep is not None:
                    while not self._stop.is_set() and not self._lockstep(entry.sequence, 0.2):
                        pass
        except BaseException as error:  # reported by the pipeline; the thread must not die silently
            log.exception("capture failed")
            self.error = error
        finally:
            self.ended.set()

    def accept(self, frame: Frame, received: float) -> RingEntry | None:
        """Put one frame into the ring and the tracks (the capture thread's whole job)."""
        # Before anything else sees, shows or writes the image.
        frame = self.privacy.screen(frame, also=self._just_lost(frame))
        after_outage, self._unplugged = self._unplugged, False
        timestamp, restarted = self._clock(frame.timestamp, after_outage)
        if timestamp is None:
            self.counters.duplicates += 1
            if self._last_index is not None:  # a late frame arrived: not also counted as dropped after it
                self._last_index = max(self._last_index, frame.index)
            return None
        if restarted:
            self.counters.restarts += 1
            self.tracks.clear()  # a looped replay reuses tracking ids: old histories must not continue
            if self._on_restart is not None:
                self._on_restart()
        missed = 0
        # The gap over an outage or a pause is the sensor's: after minutes unplugged, "missing 99% of the
        # sensor's frames - this computer is not keeping up" blamed the computer, and thousands of drops
        # with it.
        sensor_gap, self._sensor_gap = self._sensor_gap, False
        counted = not restarted and not sensor_gap and self._last_index is not None
        if counted and frame.index > self._last_index + 1:
            missed = frame.index - self._last_index - 1
            self.counters.dropped += missed
        self._last_index = frame.index
        # A body the sensor lost and found again under a new id keeps its track's id (live/tracks.py).
        frame = replace(frame, bodies=self.tracks.rejoin(timestamp, frame.bodies))
        # The tracks before the ring: the push wakes the worker, which must find this frame's bodies in
        # the tracks. After it, a worker that ran first cut its window from the frame before: a --fast
        # replay decided a window differently once under load. The capture thread is the ring's one
        # writer, so the sequence the push gives is known.
        self.tracks.observe(timestamp, frame.bodies, self.ring.written)
        entry = self.ring.push(frame, timestamp, received)
        self.counters.frames += 1
        if self.first_received is None:
            self.first_received = received
        self.last_received = received
        self.fps.tick(received)
        with self._recent_lock:
            self._recent.append((received, missed))
        recording = self.recording  # read once: the GUI thread may stop the recording meanwhile
        if recording is not None:  # on the capture timeline: the recorder needs increasing times
            recording.offer(Frame(timestamp, self.privacy.recordable(frame), frame.bodies, frame.index,
                                  depth=self.privacy.recordable_depth(frame)), give_up=self._stop,
                            missed=missed)
        return entry
