"""The running system: source -> capture thread -> ring + tracks -> recognition worker -> hops.

    Source --read--> Capture (thread) --push--> FrameRing (preallocated) <--crop-- RecognitionWorker
                         |                                                        (thread)
                         +--observe--> TrackTable <----------snapshot-------------+
                         +--offer----> RecordingSink (thread, bounded queue)      |
                                                                                  v publish (drop oldest)
    consumers (GUI timer / headless loop) <-------- hops: queue.Queue(maxsize) ---+
                                          <-------- latest_image() / stats()

Nothing a consumer does can slow the capture thread: the hop queue drops its oldest entry when a
consumer stalls (counted), and images for display are copied out of the ring on the consumer's side.
The exception is `lockstep` (a fast replay for scoring): there every stage waits for the next one.
`stop()` joins the threads in order (capture, then the worker finishing its hop, then the recorder
finalising its clip) and returns a Summary.

Recordings are clips in the NTU layout (recordings/recorder.py) named by the class they are recorded
for (`RecordingSettings.label`, or the class chosen in the window; a new name is added to the site's
labels.txt, A121 and up). While recording, `start_action(label)` / `end_action()` mark where an action
starts and ends, at the newest frame's time; the marks become the clip's "intervals", scene-wide
(person None: whoever is in view), since whoever presses the key watches the scene, not a tracking id.
"""

from __future__ import annotations

import datetime as _dt
import logging
import math
import queue
import threading
import time
import uuid
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.camera import DEFAULT_CAMERA, ColorCamera
from core.engines import Engine
from core.privacy import PrivacyMode
from core.timeline import Interval
from core.wording import disk_amount
from live.capture import Capture, CapturePrivacy, FrameRing, RecordingSink, RingEntry
from live.sources import Source
from live.stats import available_memory_bytes, resident_memory_bytes
from live.tracks import TrackTable
from live.worker import Hop, ModelInputs, RecognitionConfig, RecognitionWorker
from recordings.argument_types import as_typed
from recordings.stop_signals import wait_for_event_in_slices

if TYPE_CHECKING:
    from collections.abc import Callable

    from core.frame import Frame
    from recordings.labelling import IntervalMarker
    from recordings.recorder import Recorder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RecordingSettings:
    """How recordings are labelled and named (SsssCcccPpppRrrrAaaa)."""

    label: str | None = None  # the class clips are recorded for (None: unlabelled, named live_<time>)
    label_map: Path | None = None  # the site's labels.txt (None: labels.txt in the record folder)
    session: int | None = None  # S of the names (None: the record folder's next session, once per run)
    camera: int = 1  # C of the names: which of a room's sensors
    performer: int = 1  # P of the names
    # `label` is new even if close to a known class (else refused as a typo: recordings.labels.ensure_label)
    new_class: bool = False
    room: str | None = None  # where the sensor is (--room), in each clip's sidecar
    # A recording stops (its clip kept) when its disk has less free (--min-free-gb); None: the recorder's
    # own minimum (RecorderConfig.min_free_bytes, 2 GB).
    min_free_bytes: int | None = None


@dataclass(frozen=True)
class PipelineConfig:
    recognition: RecognitionConfig = RecognitionConfig()
    history_margin_s: float = 1.0  # ring and tracks keep a window plus this much (worker slack)
    retire_after_s: float = 1.0  # a person unseen this long is gone
    hop_queue: int = 64  # hops kept for slow consumers before the oldest are dropped
    record_from_start: Path | None = None  # record into this folder from the first frame
    recording: RecordingSettings = RecordingSettings()
    privacy: PrivacyMode = PrivacyMode.OFF  # what of the colour image is kept, shown and recorded
    # False: nothing shows or records images (headless, no recording), so the ring keeps colour only for
    # a model that crops it.
    keeps_images: bool = True
    record_finish_s: float = 30.0  # longest wait for a recording to finalise when the pipeline stops
    # A replay run as fast as possible (`--fast`) in lockstep: the capture hands over one frame at a
    # time and the worker waits for the consumer instead of dropping hops, so every hop is decided and
    # delivered — the decisions a real-time replay gives on an idle machine, in less time. Live
    # sensors and real-time replays never wait: they skip.
    lockstep: bool = False


# A source that sends no frame for this long while connected has stalled (30 fps: 90 frames missed).
STALLED_S = 3.0
# One recognition hop running this long is stuck (an engine call that does not return): a hop takes tens
# of milliseconds, a second with many people on a slow CPU, a few the first time a GPU sees a new number
# of people (kernels chosen). Until it returns nothing is decided.
RECOGNITION_STUCK_S = 10.0
# A source's read running this long is stuck (a sensor driver that hangs): each returns within 0.1 s, with
# nothing when nothing came; reopening a Kinect takes a few seconds.
SOURCE_STUCK_S = 10.0
# Hops that run and decide for nobody in view this long (failing, scores not finite, windows without
# colour) are a room without recognition: decisions come every hop (0.2 s by default) while all is well.
UNDECIDED_S = 3.0
# A computer that leaves out this share of the sensor's frames, or more, over the last 10 s is said not to
# keep up (Capture.missed_share): the model sees a movement in a third fewer frames than it learnt from, or
# fewer. The simulated room of six on 2 busy cores left out three quarters; one person, under a tenth.
MISSING_FRAMES_SHARE = 0.3
# Decisions this late or later (the p95 of those of the last LATE_OVER_S, at least LATE_MIN_DECISIONS of
# them, from a window's newest frame to its decision) are recognition not keeping up (more people than
# these cores decide for in a hop, a slow engine): staff then wait on the computer for as long again as
# the model takes to name an action (about a second). At the default 0.2 s hop decisions take tens of
# milliseconds on 2 cores; one person decided a second late still gets 9 decisions in 10 s.
LATE_DECISIONS_S = 1.0
LATE_OVER_S = 10.0
LATE_MIN_DECISIONS = 5
SUMMARY_RECORDINGS = 5  # clips the summary names (one line, however long the run)
# A recording asked for from the start (--record) that has not begun after this long (its folder on a
# share that hangs) is left to begin on its own: the room is watched meanwhile. Making a clip's files
# takes milliseconds; one that fails sooner (a folder that cannot be written) fails the start.
RECORD_START_WAIT_S = 5.0
# A recording's next clip (a part: Recorder.part_full) that could not be made is tried again after this
# long of stream time: a moment's failure (a share that reconnects) does not end the parts for good.
NEXT_PART_RETRY_S = 60.0
# A --record run's recording that could not begin for want of room (its disk full) or that stopped by
# itself (its disk full, its share gone) is begun again, tried this often: recognition went on all the
# while, and the recording, once given up, stayed off for the rest of the run.
RECORD_RETRY_S = 60.0
# The recording's disk is said nearly full (--status-file's disk_low) once it has less than this left above
# the recorder's minimum: a warning before the recording stops (a Kinect's colour fills 2 GB in 5 minutes,
# its skeletons alone in hours).
RECORDING_DISK_WARNING_BYTES = 2_000_000_000
# What the app takes beside its frame ring (measured: 130-270 MB RSS above it headless, window and six
# people included): a ring that leaves less than this of the available memory is warned of at start.
APP_MEMORY_BYTES = 300_000_000


class NotEnoughMemory(RuntimeError):
    """The frame ring does not fit in the memory available: said at start, not an allocation's traceback
    or the kernel's out-of-memory kill later (which leaves no word at all)."""


@dataclass(frozen=True)
class RingPlan:
    """The frame ring a start allocates: its frames, the source's rate and the colour kept (None: none)."""

    capacity: int
    fps: float
    color_shape: tuple[int, int] | None

    @property
    def nbytes(self) -> int:
        if self.color_shape is None:
            return 0
        return self.capacity * self.color_shape[0] * self.color_shape[1] * 3

    def memory_shortage(self, available: int | None) -> tuple[str, bool] | None:
        """What to say where `available` bytes of memory leave the ring or the app short, and whether
        the start must stop (the ring alone does not fit); None where it fits, or where nothing says how
        much is available."""
        if available is None or self.color_shape is None or self.nbytes + APP_MEMORY_BYTES <= available:
            return None
        height, width = self.color_shape
        ring = (f"the frame ring takes {disk_amount(self.nbytes)} ({self.capacity} frames of "
                f"{width}x{height} colour, {self.capacity / self.fps:.1f} s at {self.fps:.0f} fps)")
        fix = ("close other programs or give the machine memory; a skeleton-only model with --privacy "
               "skeleton keeps no colour at all")
        if self.nbytes > available:
            return f"{ring}, more than the {disk_amount(available)} of memory available: {fix}", True
        return (f"{ring} of the {disk_amount(available)} of memory available, and the app needs about "
                f"{disk_amount(APP_MEMORY_BYTES)} more: it may be killed for memory; {fix}"), False


@dataclass(frozen=True)
class LiveStats:
    """One reading of the status line."""

    source: str
    connected: bool
    paused: bool
    recording: str | None  # sample name while recording
    engine: str
    capture_fps: float
    frames: int
    dropped: int
    # Bodies in the newest frame; None while the sensor shows nothing new (unplugged, or its frames
    # stalled) in a run going on: the last frame's count stood for a whole outage, someone "in view" of a
    # room unseen.
    people: int | None
    decisions: int
    skipped_hops: int
    latency_p50_s: float | None  # recent decisions
    latency_p95_s: float | None
    inference_p50_s: float | None
    saving: tuple[str, ...] = ()  # recordings stopped and still being finalised
    model_sha256: str = ""  # of the checkpoint the running model was loaded from
    privacy: PrivacyMode = PrivacyMode.OFF
    failed_hops: int = 0  # recognition hops that raised (logged, skipped)
    # Seconds without a new frame from a source that says it is connected and is not paused (None: frames
    # are coming, or cannot be expected): a frozen picture looks live, and nothing is recognised.
    stalled_s: float | None = None
    # Seconds the running recognition hop has taken, past RECOGNITION_STUCK_S (None: it is working): the
    # actions shown are from before it, and no alert can be raised.
    recognition_stuck_s: float | None = None
    # Seconds the source's read in progress has taken, past SOURCE_STUCK_S (None: reads return): nothing
    # new is seen until it does, and the stall above says so too.
    source_stuck_s: float | None = None
    # Seconds the people in view have gone without any decision, past UNDECIDED_S (None: decisions come,
    # or nobody is due one): the window shows people and no actions, and no alert can be raised.
    undecided_s: float | None = None
    # Frames the recording running now left out, its disk not keeping up (a share that hangs): its clip
    # has a hole, which the skeleton file and the video play straight through.
    recording_dropped: int = 0
    # The folder of a --record start that has not answered yet, and for how long (None: none waiting).
    record_not_begun: tuple[Path, float] | None = None
    # Why the --record run's recording is off, being tried again every RECORD_RETRY_S (None: it is not).
    recording_stopped: str | None = None
    # The recording's disk, nearly full: (bytes free, the recorder's minimum: where it stops), while under
    # RECORDING_DISK_WARNING_BYTES above that minimum (None: more free, or no recording).
    recording_disk: tuple[int, int] | None = None
    # The share of the sensor's frames left out lately, past MISSING_FRAMES_SHARE (None: it keeps up).
    missing_frames: float | None = None
    lockstep: bool = False  # a --fast replay, where nothing is left out here: the gaps are the recording's
    # The recent decisions' p95 latency, past LATE_DECISIONS_S (None: on time): alerts come that late.
    late_decisions_s: float | None = None
    # Which part of its recording the clip being recorded is: a "saved ..." of the part before, as it
    # filled, read as if the recording had stopped.
    recording_part: int = 1
    # The capture or recognition thread stopped on an error (LivePipeline.failure): a headless run ends on
    # it, the window stays open on it, and nothing is recognised any more.
    stopped_by_error: bool = False

    @property
    def unwatched_s(self) -> float:
        """How long the oldest of the stall, the stuck read or hop and the people undecided has lasted: each
        is reported some seconds into itself (STALLED_S ... RECOGNITION_STUCK_S). 0.0 for none."""
        lasting = (self.stalled_s, self.source_stuck_s, self.recognition_stuck_s, self.undecided_s)
        return max((seconds for seconds in lasting if seconds is not None), default=0.0)

    @property
    def troubled(self) -> bool:
        """Something a service's log reader must act on (the status line is then a warning, not an INFO a
        log filter drops): any of `problems`."""
        return bool(self.problems())

    def problems(self) -> list[str]:
        """What is wrong now, as keys a monitor matches (--status-file): no sensor, no frames, recognition
        stuck, nobody decided, a recording losing frames, the sensor's frames left out, decisions late."""
        found = {
            "sensor_disconnected": not self.connected,
            "no_frames": self.stalled_s is not None,
            "source_read_stuck": self.source_stuck_s is not None,
            "missing_frames": self.missing_frames is not None,
            "recognition_stuck": self.recognition_stuck_s is not None,
            "no_decisions": self.undecided_s is not None,
            "decisions_late": self.late_decisions_s is not None,
            "recording_dropping_frames": self.recording_dropped > 0,
            "recording_not_begun": self.record_not_begun is not None,
            "recording_stopped": self.recording_stopped is not None,
            "stopped_by_error": self.stopped_by_error,
        }
        return [key for key, wrong in found.items() if wrong]

    def people_text(self) -> str:
        """"1 person", "3 people", or that it is not known (the sensor shows nothing new)."""
        if self.people is None:
            return "people not known"
        return f"{self.people} {'person' if self.people == 1 else 'people'}"

    def health(self) -> str:
        """One line for the log of a headless run (a service's periodic sign of life)."""
        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value * 1000:.0f} ms"

        rss = resident_memory_bytes()
        sensor = "sensor connected" if self.connected else "SENSOR DISCONNECTED"
        if self.stalled_s is not None:
            sensor += f" but NO FRAMES FOR {self.stalled_s:.0f} s"
        if self.missing_frames is not None:
            whose = "the recording's own gaps" if self.lockstep else "this computer is not keeping up"
            sensor += f", MISSING {self.missing_frames:.0%} OF ITS FRAMES ({whose})"
        if self.source_stuck_s is not None:
            sensor += f", ITS READ STUCK FOR {self.source_stuck_s:.0f} s"
        failed = f", {self.failed_hops} failed since the start" if self.failed_hops else ""
        if self.recognition_stuck_s is not None:
            failed += f", RECOGNITION STUCK FOR {self.recognition_stuck_s:.0f} s"
        if self.undecided_s is not None:
            failed += f", NO DECISION FOR ANYONE FOR {self.undecided_s:.0f} s"
        if self.late_decisions_s is not None:
            failed += f", DECISIONS {self.late_decisions_s:.1f} S LATE (recognition is not keeping up)"
        holes = (f", RECORDING {self.recording} LEFT OUT {self.recording_dropped} FRAMES (its disk is slow)"
                 if self.recording_dropped else "")
        if self.record_not_begun is not None:
            holes += (f", RECORDING NOT BEGUN: {self.record_not_begun[0]} SILENT FOR "
                      f"{self.record_not_begun[1]:.0f} s")
        if self.recording_stopped is not None:
            holes += (f", RECORDING STOPPED ({self.recording_stopped}), TRIED AGAIN EVERY "
                      f"{RECORD_RETRY_S:.0f} S")
        return (f"{sensor}, {self.capture_fps:.1f} fps, {self.frames} frames ({self.dropped} dropped), "
                f"{self.people_text()} in view, "
                f"{self.decisions} decisions "
                f"({self.skipped_hops} hops skipped{failed}), latency p50 {ms(self.latency_p50_s)} p95 "
                f"{ms(self.latency_p95_s)}{holes}" + ("" if rss is None else f", RSS {rss / 1e6:.0f} MB"))


@dataclass(frozen=True)
class Summary:
    """Printed at shutdown."""

    source: str
    engine: str
    seconds: float
    frames: int
    dropped: int
    duplicates: int
    restarts: int
    mean_fps: float
    people_seen: int
    hops: int
    decisions: int
    skipped_hops: int
    stale_windows: int
    colourless_windows: int  # a colour model's windows mostly without colour (a video cut short): not decided
    dropped_hops: int  # hops a consumer never collected
    latency_p50_s: float | None
    latency_p95_s: float | None
    inference_p50_s: float | None
    inference_p95_s: float | None
    recordings: tuple[str, ...]
    recorder_dropped: int
    ring_mb: float
    rss_start_mb: float | None
    rss_end_mb: float | None
    errors: tuple[str, ...]
    history_needed_s: float = 0.0  # how long a person must be in view before their first decision
    recorder_missed: int = 0  # frames the capture missed while recording: gaps in the clips

    def lines(self) -> list[str]:
        def ms(value: float | None) -> str:
            return "n/a" if value is None else f"{value * 1000:.0f} ms"

        def mb(value: float | None) -> str:
            return "n/a" if value is None else f"{value:.0f} MB"

        out = [
            f"source {self.source}, engine {self.engine}, ran {self.seconds:.1f} s",
            f"capture: {self.frames} frames ({self.mean_fps:.1f} fps), {self.dropped} dropped, "
            f"{self.duplicates} duplicate or late, {self.restarts} restarts (a replay looped, a sensor "
            f"reopened); {self.people_seen} "
            f"{'person' if self.people_seen == 1 else 'people'} seen",
            f"recognition: {self.hops} hops decided, {self.decisions} decisions, {self.skipped_hops} hops "
            f"skipped (busy), {self.stale_windows} stale windows, {self.dropped_hops} hops not collected",
            f"latency frame->decision p50 {ms(self.latency_p50_s)}, p95 {ms(self.latency_p95_s)}; "
            f"inference p50 {ms(self.inference_p50_s)}, p95 {ms(self.inference_p95_s)}",
            # Before the first frame: the ring's pages are touched as frames fill it, and a window's Qt
            # comes up after; growth over a run is read from the status lines, not from this pair.
            f"memory: ring {self.ring_mb:.0f} MB, RSS {mb(self.rss_start_mb)} before the first frame -> "
            f"{mb(self.rss_end_mb)} at the end",
        ]
        if self.people_seen and not self.decisions and self.history_needed_s and not self.colourless_windows:
            # A short clip or a person who only passed by: otherwise a run of no decisions looks broken.
            out.append(f"not decided: a decision needs a person in view for {self.history_needed_s:.1f} s "
                       "(most of the model's window); nobody was seen that long")
        if self.colourless_windows:
            out.append(f"not decided: {self.colourless_windows} windows without colour (the video ended or "
                       "is damaged; this model needs colour)")
        if self.recordings:  # a room recording all week: the count and the last few, each is in the log
            shown = ", ".join(self.recordings[-SUMMARY_RECORDINGS:])
            if len(self.recordings) > SUMMARY_RECORDINGS:
                shown = f"{len(self.recordings)}, the last {SUMMARY_RECORDINGS}: {shown}"
            missed = f", {self.recorder_missed} missed by the capture" if self.recorder_missed else ""
            out.append(f"recordings: {shown} ({self.recorder_dropped} frames dropped{missed})")
        out += [f"error: {e}" for e in self.errors]
        return out


class LivePipeline:
    """Owns the threads. `start()`, then poll `hops` / `stats()` / `latest_image()`, then `stop()`."""

    def __init__(
        self,
        source: Source,
        engine: Engine,
        inputs: ModelInputs,
        config: PipelineConfig = PipelineConfig(),
        *,
        source_is_open: bool = False,
    ) -> None:
        self.source = source
        self.engine = engine
        self.inputs = inputs
        self.config = config
        self.hops: queue.Queue[Hop] = queue.Queue(maxsize=config.hop_queue)
        self.dropped_hops = 0
        self.recordings: list[str] = []
        self._recording_errors: list[str] = []
        self.recorder_dropped = 0
        self.recorder_missed = 0
        self.paused = False
        self._recording: RecordingSink | None = None
        self._saving: list[RecordingSink] = []  # stopped, finalising on their own threads
        self._record_lock = threading.Lock()
        self._record_label: str | None = None  # the class of the recording in progress
        self._record_map: Path | None = None  # its label map
        self._marks: IntervalMarker | None = None  # actions marked in the recording in progress
        self._session: int | None = config.recording.session
        self._started_at: float | None = None
        self._waiting_since: float | None = None  # running and connected since (perf_counter), for stalls
        self._rss_start: int | None = None
        self._stopped: Summary | None = None
        self._source_open = source_is_open
        self._stopping = threading.Event()
        # The --record start still waiting on its folder: (its thread, the folder, monotonic start).
        self._record_start_waiting: tuple[threading.Thread, Path, float] | None = None
        self._record_retry: threading.Thread | None = None  # RECORD_RETRY_S's, while the recording is off
        self._recording_off: str | None = None  # why, meanwhile
        self._starting = threading.Lock()  # one recording start at a time (files made outside _record_lock)
        self.capture: Capture | None = None
        self.worker: RecognitionWorker | None = None
        self.ring: FrameRing | None = None
        self.tracks: TrackTable | None = None
        self.camera: ColorCamera | None = None  # chosen at start(): the source's, or DEFAULT_CAMERA

    def track_of(self, tracking_id: int) -> int:
        """The track a sensor's tracking id is stored under (live/tracks.py: bodies found again)."""
        return self.tracks.track_of(tracking_id) if self.tracks is not None else tracking_id

    # ---- lifetime ---------------------------------------------------------------------------

    def _open_source(self) -> None:
        """Open the source, unless the caller did (`source_is_open`: the app opens it before loading the
        model, so a missing sensor is said at once)."""
        if not self._source_open:
            self.source.open()
            self._source_open = True

    def warm_up(self) -> float:
        """One engine call on blank inputs: the first call of a runtime is slow (allocation, kernel
        choice) and would otherwise land on the first person's first decision. Returns its seconds."""
        window, size = self.inputs.window, self.inputs.glimpse.crop_size
        crops = np.zeros((1, len(self.inputs.parts), window.num_frames, size, size, 3), np.uint8)  # as cut
        skeleton = np.zeros((1, window.num_frames, self.inputs.num_bodies, self.inputs.layout.num_joints, 3),
                            np.float32)
        started = time.perf_counter()
        self.engine.run(crops, skeleton)
        return time.perf_counter() - started

    def start(self) -> None:
        """Open the source, allocate the ring, warm the engine up, start capture and recognition.

        When anything after opening the source fails (the ring's memory, the engine's warm-up, a
        recording folder that cannot be written), the source is closed again before the error
        propagates: a sensor must not stay claimed, and `started` stays False.
        """
        self._open_source()
        try:
            self._build()
            assert self.worker is not None and self.capture is not None
            self._rss_start = resident_memory_bytes()
            if self.config.record_from_start is not None:
                self._record_from_start(self.config.record_from_start)
            self._started_at = time.monotonic()
            self.worker.start()
            self.capture.start()
        except BaseException:  # what did start is stopped again (a thread that could not start, Ctrl-C)
            self._started_at = None
            self._stopping.set()  # a recording still starting (its folder slow) then keeps nothing
            if self.capture is not None and self.capture.alive:
                self.capture.stop()
            if self.worker is not None and self.worker.alive:
                self.worker.finish(5.0)
            with self._record_lock:  # a start installing its sink now has done so, or sees the stop
                sink, self._recording = self._recording, None
            if sink is not None:  # nothing was written: finalising it keeps no clip
                sink.close(0.0)
            self.source.close()
            self._source_open = False
            raise

    def _record_from_start(self, out_dir: Path) -> None:
        """start_recording on a thread of its own, waited for up to RECORD_START_WAIT_S: its error (an
        unwritable folder) is the start's, but a share that hangs is not waited for (the room would go
        unwatched: a run restarted while its share reconnected raised its first alert 38 s late)."""
        from recordings.recorder import LowDiskSpaceError

        failed: list[BaseException] = []
        waited = threading.Lock()  # who says a failure: the start (raised) or, once it has gone on, this
        gone_on = False

        def begin() -> None:
            try:
                self.start_recording(out_dir)
            except LowDiskSpaceError as error:  # a condition, not a setting: the room is watched meanwhile
                log.error("the recording asked for from the start did not begin: %s; recognition goes on "
                          "without it, and it is tried again every %.0f s", error, RECORD_RETRY_S)
                self._record_again_later(out_dir, str(error))
            except BaseException as error:  # handed to the start, or said
                with waited:
                    if not gone_on:
                        failed.append(error)
                        return
                if self._stopping.is_set():  # the folder answered after the stop, which said it never began
                    log.debug("the recording asked for from the start: %s", error)
                    return
                message = f"the recording asked for from the start did not begin: {error}"
                log.error("%s", message)
                self._recording_errors.append(message)  # an error of the run, as a recording's

        starter = threading.Thread(target=begin, name="recording-start", daemon=True)
        began = time.monotonic()
        starter.start()
        starter.join(RECORD_START_WAIT_S)
        with waited:
            if failed:
                raise failed[0]
            gone_on = starter.is_alive()
        if gone_on:
            self._record_start_waiting = (starter, out_dir, began)  # said in the status lines, and at stop
            log.warning("the recording folder %s has not answered for %.0f s (a share that hangs?): "
                        "recognition starts without it; the recording begins when it answers", out_dir,
                        RECORD_START_WAIT_S)

    def _record_again_later(self, out_dir: Path, why: str) -> None:
        """The --record run's recording is off (`why`): begun again from a thread of its own, tried every
        RECORD_RETRY_S until it begins or the run stops; said among the problems meanwhile."""
        from recordings.recorder import RecorderError

        def retry() -> None:
            while not self._stopping.wait(RECORD_RETRY_S):
                if self._recording is not None:  # begun meanwhile (r in the window)
                    self._recording_off = None
                    return
                try:
                    name = self.start_recording(out_dir)
                except (OSError, RecorderError, RuntimeError) as error:  # RuntimeError: the run stopping
                    log.debug("the recording is still off: %s", error)
                    continue
                self._recording_off = None
                log.warning("the recording began again, in %s: %s", out_dir, name)
                return

        with self._record_lock:
            self._recording_off = why
            if self._record_retry is not None and self._record_retry.is_alive():
                return
            self._record_retry = threading.Thread(target=retry, name="recording-retry", daemon=True)
            self._record_retry.start()

    def _record_not_begun(self) -> tuple[Path, float] | None:
        """The folder of a --record start still waiting on it, and for how long (None: begun, or failed)."""
        if self._record_start_waiting is None:
            return None
        starter, out_dir, began = self._record_start_waiting
        if not starter.is_alive():
            self._record_start_waiting = None
            return None
        return out_dir, time.monotonic() - began

    def ring_plan(self) -> RingPlan:
        """The frame ring a start allocates, for the open source and the model's window."""
        fps = max(self.source.fps, 1.0)
        history_s = self.inputs.window.duration_s + self.config.history_margin_s
        capacity = max(int(math.ceil(history_s * fps * 1.1)), 8)  # 10% for sources a little over fps
        # SKELETON (or nothing to show or record) with a skeleton-only model (it crops nothing): no pixels
        # anywhere, not even in memory.
        shown = self.config.privacy.shows_color and self.config.keeps_images
        keep_pixels = shown or bool(self.inputs.parts)
        return RingPlan(capacity, fps, self.source.color_shape if keep_pixels else None)

    def check_memory(self) -> None:
        """NotEnoughMemory where the frame ring does not fit in the memory available now; a warning where
        the app beside it may not."""
        shortage = self.ring_plan().memory_shortage(available_memory_bytes())
        if shortage is not None and shortage[1]:
            raise NotEnoughMemory(shortage[0])
        if shortage is not None:
            log.warning("%s", shortage[0])

    def _build(self) -> None:
        plan = self.ring_plan()
        capacity, fps, color_shape = plan.capacity, plan.fps, plan.color_shape
        privacy = self.config.privacy
        needs_color = bool(self.inputs.parts)  # a skeleton-only model crops nothing
        # Said before it is reserved: touching 600 MB of 1080p frames takes seconds.
        log.info("ring: %d frames (%.1f s at %.0f fps), %.0f MB", capacity, capacity / fps, fps,
                 plan.nbytes / 1e6)
        self.check_memory()
        try:
            self.ring = FrameRing(capacity, color_shape)
        except MemoryError:  # a process limit (ulimit -v) the available memory does not show
            raise NotEnoughMemory(f"the frame ring's {disk_amount(plan.nbytes)} could not be allocated (a "
                                  "process memory limit?): give the app more memory, or keep no colour (a "
                                  "skeleton-only model with --privacy skeleton)") from None
        self.tracks = TrackTable(history=capacity, retire_after_s=self.config.retire_after_s)
        camera = self.source.camera or DEFAULT_CAMERA
        if self.source.color_shape is not None and (camera.height, camera.width) != self.source.color_shape:
            camera = camera.scaled(self.source.color_shape[1], self.source.color_shape[0])
        self.camera = camera
        recognition = self.config.recognition
        if not privacy.shows_color:  # the crops of a decision are for display: none in SKELETON
            recognition = replace(recognition, display_crops=False)
        self.worker = RecognitionWorker(self.ring, self.tracks, self.engine, self.inputs, camera,
                                        self._publish, recognition)
        self.capture = Capture(self.source, self.ring, self.tracks, period_s=1.0 / fps,
                               on_restart=self.worker.restart_timeline,
                               lockstep=self.worker.wait_examined if self.config.lockstep else None,
                               privacy=CapturePrivacy(privacy, camera, needs_color))
        if privacy is PrivacyMode.SKELETON:
            log.info("privacy skeleton: no colour image is shown or recorded%s", (
                f"; the model crops colour, so the last {capacity / fps:.1f} s stay in memory for it only"
                if color_shape is not None else "; none is kept in memory"))
        elif privacy is PrivacyMode.BLUR:
            log.info("privacy blur: tracked faces are blurred before anything shows, crops or records them")
        log.info("engine warm-up: %.2f s", self.warm_up())

    def release(self) -> None:
        """Close the source of a pipeline that never ran (start-up failed, or was abandoned before
        `start`): a sensor must not stay claimed. Nothing to do once `start` has succeeded (`stop`
        closes the source then) or failed (it closed the source itself)."""
        if self._source_open and self._started_at is None:
            self.source.close()
            self._source_open = False

    @property
    def started(self) -> bool:
        """`start` succeeded (threads running, or stopped since)."""
        return self._started_at is not None

    @property
    def ended(self) -> bool:
        """The source ran out (end of a replay) or a thread failed."""
        assert self.capture is not None and self.worker is not None, "start() first"
        # The worker's thread having ended, not its not being alive: between `started` and the threads'
        # start a watcher would otherwise take a run that has not begun for one that is over.
        return self.capture.ended.is_set() or self.worker.finished

    @property
    def failure(self) -> str | None:
        """What ended the run where a thread failed, in words (None: running, or a replay that ran out):
        the window's banner and a headless run's last line, which must not read as the end of a replay."""
        assert self.capture is not None and self.worker is not None, "start() first"
        if self.capture.error is not None:
            return f"{self.source.name} failed ({self.capture.error})"
        if self.worker.error is not None:
            return f"recognition stopped ({type(self.worker.error).__name__}: {self.worker.error})"
        return None

    def stop(self, recognition_wait_s: float | None = None) -> Summary:
        """Join everything in order and return the summary (idempotent). `recognition_wait_s`: how long
        the recognition thread may take to finish its last hop (None: 30 s, or 1 s where the hop running
        is stuck, past RECOGNITION_STUCK_S)."""
        if self._stopped is not None:
            return self._stopped
        assert self.capture is not None and self.worker is not None and self.ring is not None
        self._stopping.set()  # a worker waiting on a full hop queue (lockstep) stops waiting
        self.capture.stop()
        # Before the worker's join: a clip's frames come from the capture, and a stuck hop must not hold
        # its finalising back (a process killed meanwhile left a .partial folder to recover).
        self.stop_recording(wait=False)
        if recognition_wait_s is None:
            recognition_wait_s = 1.0 if self.worker.busy_s > RECOGNITION_STUCK_S else 30.0
        # A last hop on what arrived, then the thread ends. A wait past a second is said, not silent (a
        # second Ctrl-C ends the app at once).
        self.worker.finish(min(recognition_wait_s, 1.0))
        if self.worker.alive and recognition_wait_s > 1.0:
            log.info("waiting up to %.0f s more for the recognition step in progress (%.0f s so far)",
                     recognition_wait_s - 1.0, self.worker.busy_s)
            self.worker.finish(recognition_wait_s - 1.0)
        deadline = time.monotonic() + self.config.record_finish_s
        asked: list[RecordingSink] = []
        # Bounded: a hung disk cannot hold the shutdown for ever. Looked at again after each: a recording
        # whose video fills while it writes what it had queued hands its full clip to a sink of its own.
        while sink := next((s for s in list(self._saving) if s not in asked), None):
            asked.append(sink)
            sink.close(0.0)  # asked to finish; a wait past a second is said
            if not wait_for_event_in_slices(sink.finished, min(1.0, max(deadline - time.monotonic(), 0.0))):
                left = deadline - time.monotonic()
                if left <= 0:  # the recordings before took all the time there was
                    log.error("the recording %s is not finished: no time was left for it (record_finish_s); "
                              "it finalises the clip when it can", sink.recorder.sample_name)
                    continue
                log.info("finishing the recording %s (up to %.0f s more)", sink.recorder.sample_name, left)
                sink.close(left)
        if (waiting := self._record_not_begun()) is not None:
            message = (f"the recording asked for from the start never began: its folder {waiting[0]} did not "
                       f"answer in {waiting[1]:.0f} s")
            log.error("%s", message)
            self._recording_errors.append(message)
        if self._recording_off is not None and self._recording is None:  # an error of the run: exit 1
            message = f"the recording asked for (--record) was off as the run ended: {self._recording_off}"
            log.error("%s", message)
            self._recording_errors.append(message)
        if self.capture.alive:  # in a read that does not return (a hung driver): closed under it, a sensor's
            # runtime fails inside the driver; the process's exit lets go of it (the summary says why)
            log.warning("%s: not closed, its read has not returned", self.source.name)
        else:
            self.source.close()
            self._source_open = False
        self._stopped = self._summary()
        return self._stopped

    # ---- controls ---------------------------------------------------------------------------

    def set_paused(self, paused: bool) -> None:
        """Pause: replays and the simulator stop their clock; a live sensor keeps running (its frames
        are read and discarded, so it never backs up); no decisions are made."""
        assert self.capture is not None and self.worker is not None
        if paused != self.paused:
            # A watched room that is paused is not watched: said where a service's log keeps it.
            say = log.warning if paused and not self.source.stops_when_paused else log.info
            say("%s: no recognition, no alerts until resumed" if paused else "%s: resumed",
                "paused" if paused else self.source.name)
        self.paused = paused
        self._waiting_since = None  # a stall is counted from the resume at the earliest
        self.source.set_paused(paused)
        self.capture.paused = paused
        self.worker.paused = paused

    def start_recording(self, out_dir: Path | str, label: str | None = None, *, chosen: bool = False) -> str:
        """Record from now on into out_dir (an NTU-layout clip) for class `label` (None: the settings';
        none there either: unlabelled); returns the sample name. `chosen`: `label` is the user's choice
        as it stands, None meaning unlabelled (the window's "(no label)"), not the settings' class."""
        from recordings.labelling import IntervalMarker
        from recordings.labels import LABEL_MAP_FILENAME, ensure_label
        from recordings.recorder import ClipNaming, Recorder, RecorderConfig, RecordingPart, next_session

        assert self.capture is not None
        settings = self.config.recording
        label = label if chosen else label or settings.label
        out_dir = Path(out_dir)
        # One start at a time; the folders and files are made outside `_record_lock`, so a stop (the
        # window closing) never waits on a disk that hangs while a recording starts.
        with self._starting:
            with self._record_lock:
                if self._recording is not None:
                    return self._recording.recorder.sample_name
                if self._stopping.is_set():  # lost the race with stop(): nothing would finalise it
                    raise RuntimeError("the pipeline is stopping")
            if self._session is None:  # one session per run: the clips of one sitting stay together
                self._session = next_session(out_dir)
            privacy = self.config.privacy
            config = RecorderConfig(record_video=privacy.shows_color,
                                    naming=ClipNaming(setup=self._session, camera=settings.camera,
                                                      performer=settings.performer))
            if settings.min_free_bytes is not None:
                config = replace(config, min_free_bytes=settings.min_free_bytes)
            map_path = settings.label_map or out_dir / LABEL_MAP_FILENAME
            common = {"camera": self.camera, "source": self.source.name, "config": config,
                      "privacy": privacy, "room": settings.room}
            label_map = None
            if label:
                # Typos refused for the settings' label (checked at start-up too, by live.app); classes
                # chosen in the window (F1-F9) are known ones.
                label_map, action_id, added = ensure_label(
                    map_path, label, similar_ok=settings.new_class or label != settings.label
                )
                if added:
                    log.info("new class A%03d %r in %s", action_id, label_map.name(action_id), map_path)

            recording = uuid.uuid4().hex  # its clips' "recording" id, each a part of it (_continue_recording)

            def new_clip(part: int) -> Recorder:  # this one, and each one after it
                this = {**common, "part_of": RecordingPart(recording, part)}
                if label:
                    return Recorder(out_dir, label=label, label_map=label_map, **this)
                stem = "live_" + _dt.datetime.now().strftime("%Y%m%d_%H%M%S")
                return Recorder(out_dir, free_name_from=stem, **this)

            recorder = new_clip(1)
            with self._record_lock:
                stopping = self._stopping.is_set()  # stopped while the files were being made
                if not stopping:
                    self._recording = RecordingSink(
                        recorder, on_finished=self._recording_finished, lossless=self.config.lockstep,
                        continue_in=lambda sink, frame: self._continue_recording(sink, frame, new_clip))
                    self._record_label, self._record_map = recorder.label, map_path
                    self._marks = IntervalMarker()
                    self.capture.recording = self._recording
            if stopping:  # nothing recorded; its files removed outside the lock, which a stop waits for
                recorder.discard()
                raise RuntimeError("the pipeline is stopping")
            log.info("recording into %s%s", out_dir / recorder.sample_name,
                     f" ({recorder.label})" if recorder.label else " (unlabelled)")
            return recorder.sample_name

    def _now(self) -> float:
        """Stream time of the newest frame: the clock of the frames the recorder writes."""
        entry = self.ring.latest() if self.ring is not None else None
        return entry.timestamp if entry is not None else 0.0

    def start_action(self, label: str) -> float:
        """An action of `label` starts now in the recording (one being marked ends); returns the time in
        the clip (seconds from its first frame, as the sidecar and `recordings label` give it). A new class
        name is added to the label map. RuntimeError when not recording."""
        from recordings.labels import ensure_label

        now = self._now()  # when the key was pressed, however long labels.txt takes
        with self._record_lock:
            recording, map_path = self._recording, self._record_map
        if recording is None:
            raise RuntimeError("not recording: start a recording (r) before marking actions")
        # labels.txt read (and a new class added) outside the lock: a slow share must not hold up the
        # recorder's thread or a stop, which need the lock.
        label_map, action_id, _ = ensure_label(map_path, label)
        with self._record_lock:
            if self._recording is not recording or self._marks is None:
                raise RuntimeError("the recording stopped before the action could be marked")
            self._hand_over(self._marks.start(now, label_map.name(action_id)))
            first = recording.recorder.first_timestamp
            return 0.0 if first is None else now - first  # None: no frame written yet

    def end_action(self) -> float | None:
        """The action being marked ends now; returns its length in seconds (0.0: no time passed since it
        started, paused say, and nothing is kept; None: none was open)."""
        with self._record_lock:
            if self._marks is None or self._marks.opened is None:
                return None
            interval = self._marks.end(self._now())
            self._hand_over(interval)
            return 0.0 if interval is None else interval.duration

    def _hand_over(self, interval: Interval | None) -> None:
        if interval is not None and self._recording is not None:
            self._recording.recorder.add_interval(interval.start, interval.end, interval.label)

    @property
    def marking(self) -> tuple[str | None, tuple[float, str] | None, int]:
        """(class of the recording, (start, class) of the action being marked, actions marked so far)."""
        marks = self._marks
        if self._recording is None or marks is None:
            return None, None, 0
        opened = marks.opened  # read once: a start on another thread sets it to None, then to the new mark
        if opened is not None:
            opened = (self._now() - opened[0], opened[1])
        return self._record_label, opened, len(marks.intervals)

    def stop_recording(self, *, wait: bool = True, timeout: float | None = None) -> str | None:
        """Stop the current recording; returns its sample name (None when not recording). An action
        still being marked ends at the last frame.

        The clip is finalised on the recorder's own thread. `wait=False` returns at once (the window's
        r key: the GUI thread never waits on a disk); `wait=True` waits up to `timeout` (default
        `record_finish_s`) for the files. Finished clips are listed in `recordings` (their skeleton
        paths); while one is finalising, `stats().saving` names it.
        """
        with self._record_lock:
            if self._marks is not None and self._marks.opened is not None:
                try:
                    self._hand_over(self._marks.end(self._now()))
                except RuntimeError as error:  # it stopped itself (a full disk) a moment before: said, and on
                    log.warning("%s", error)
                    self._recording_errors.append(str(error))
            self._marks = None
            sink, self._recording = self._recording, None
            if sink is None:
                return None
            if self.capture is not None:
                self.capture.recording = None
            if not sink.finished.is_set():
                self._saving.append(sink)
        sink.close(0.0 if not wait else self.config.record_finish_s if timeout is None else timeout)
        return sink.recorder.sample_name

    def _continue_recording(self, sink: RecordingSink, frame: Frame,
                            new_clip: Callable[[int], Recorder]) -> None:
        """On the recorder's thread, before `frame`, which the clip has no room for (Recorder.part_full: an
        AVI holds 4 GiB, some 10 minutes of a Kinect's 1080p colour, and a night's recording stopped there;
        a clip of any kind holds 10 minutes, since finishing it reads its skeleton whole): the
        recording goes on in a new clip of the same session and class, its next part (the sidecar's
        "recording": its id and the part's number), and the full one is finalised on a thread of its own,
        listed as saving (that rewrites its skeleton and walks its video's index: seconds, more than the
        writer's second of queue). An action being marked is marked in both, each keeping its own part."""
        from recordings.recorder import RecorderError

        why = sink.recorder.part_full
        try:
            following = new_clip(sink.recorder.part_of.number + 1)
        except (OSError, RecorderError) as error:
            # Tried again after NEXT_PART_RETRY_S, not at every frame (an error line each): a full video
            # stops the recording at its write, said; a clip at its 10 minutes goes on meanwhile, growing.
            sink.continue_not_before = frame.timestamp + NEXT_PART_RETRY_S
            sink.continue_failures += 1
            goes_on = (f"; it goes on in this one, and a next is tried again every {NEXT_PART_RETRY_S:.0f} s "
                       "(said once it starts)")
            # Said once: a disk that stays full would say it every minute of a night.
            log.log(logging.ERROR if sink.continue_failures == 1 else logging.DEBUG,
                    "recording %s: no next clip could be started (%s)%s", sink.recorder.sample_name, error,
                    "" if sink.recorder.video_full else goes_on)
            return
        tries, sink.continue_failures = sink.continue_failures, 0
        with self._record_lock:
            full, sink.recorder = sink.recorder, following
            # (The marks are the current recording's: not this one's once it is being stopped.)
            if self._recording is sink and self._marks is not None:
                # Marked on the screen's newest frame, up to a second ahead of the writer: an action that
                # ended after this frame reached the full clip, cut at its end; its rest is the next's.
                for interval in self._marks.intervals:
                    if interval.end > frame.timestamp:
                        following.add_interval(interval.start, interval.end, interval.label)
                if self._marks.opened is not None:
                    start, label = self._marks.opened  # its end, when marked, goes to the next clip
                    if frame.timestamp > start:
                        full.add_interval(start, frame.timestamp, label)
        try:  # (a write to its disk: outside the lock the window takes)
            full.went_on_in(following.sample_name, why)
        except OSError as error:  # its clip is finalised all the same, without the link to the next
            log.error("recording %s: the next part's name could not be written (%s)", full.sample_name, error)
        with self._record_lock:
            finishing = RecordingSink(full, on_finished=self._recording_finished)
            finishing.written, sink.written = sink.written, 0
            finishing.missed, sink.missed = sink.missed, 0
            self._saving.append(finishing)  # (a stop waiting for this writer's sink finds it after)
        log.info("recording %s: %s; the recording goes on in %s%s", full.sample_name, why,
                 following.sample_name, f" (started at try {tries + 1})" if tries else "")
        finishing.close(0.0)

    def _recording_finished(self, sink: RecordingSink) -> None:
        """On the recorder's thread, once a clip is finalised."""
        files = getattr(sink.recorder, "files", None)
        path = str(files.skeleton) if files is not None else sink.recorder.sample_name
        empty = files is not None and files.frame_count == 0
        if empty:
            # r pressed twice while paused: a clip of no frames would be listed and counted as a class's
            # clip, and no source could replay it.
            for file in (files.skeleton, files.sidecar, files.video, files.depth):
                if file is not None:
                    file.unlink(missing_ok=True)
            log.warning("recording %s had no frames (paused the whole time?): no clip kept", path)
        open_mark = None
        with self._record_lock:
            stopped_itself = self._recording is sink
            if stopped_itself:  # (low disk space, a failed write): let go of it
                if self._marks is not None and self._marks.opened is not None:
                    open_mark = self._marks.opened[1]  # its end was never marked: it cannot be kept
                self._recording, self._marks = None, None
                if self.capture is not None:
                    self.capture.recording = None
            if sink in self._saving:
                self._saving.remove(sink)
            if files is not None and not empty:
                self.recordings.append(path)
            self.recorder_dropped += sink.dropped
            self.recorder_missed += sink.missed
        if files is None:  # finalising failed: the frames are still in the partial folder
            partial = getattr(sink.recorder, "partial_dir", None)
            where = ""
            if partial is not None:
                recover = f"python -m recordings recover {as_typed(partial.parent)}"
                where = f"; its frames stay in {partial}: {recover}"
            message = f"recording {path} was not finalised ({sink.error}){where}"
            log.error("%s", message)
            self._recording_errors.append(message)  # an error of the run, in its summary
        elif sink.error is not None:  # the clip keeps what was written before it stopped
            message = f"recording {path} stopped early after {sink.written} frames ({sink.error})"
            if open_mark is not None:
                message += f"; the {open_mark} being marked was not kept"
            again = stopped_itself and self.config.record_from_start is not None  # --record: kept on
            if again:
                message += f"; it begins again in a new clip once it can (tried every {RECORD_RETRY_S:.0f} s)"
            log.error("%s", message)
            self._recording_errors.append(message)
            if again:
                self._record_again_later(self.config.record_from_start, str(sink.error))
        elif not empty:  # (an empty one was said above: no clip kept)
            # Frames the capture missed (a computer not keeping up) never reached the clip: it has gaps.
            gaps = f", {sink.missed} missed by the capture: the clip has gaps there" if sink.missed else ""
            log.info("recording finished: %s (%d frames, %d dropped%s)", path, sink.written, sink.dropped,
                     gaps)

    @property
    def recording_errors(self) -> tuple[str, ...]:
        """What went wrong with recordings so far (the window shows each as it comes)."""
        return tuple(self._recording_errors)

    @property
    def recording(self) -> str | None:
        sink = self._recording
        return None if sink is None else sink.recorder.sample_name

    @property
    def recording_part(self) -> int:
        """Which part of its recording the clip being recorded is (1 until a video fills)."""
        sink = self._recording
        part = getattr(sink.recorder, "part_of", None) if sink is not None else None
        return part.number if part is not None else 1

    # ---- outputs ----------------------------------------------------------------------------

    def _publish(self, hop: Hop) -> None:
        """Worker side: never blocks; a consumer that stalls loses the oldest hops (in lockstep it waits
        for the consumer instead, until the pipeline stops)."""
        if self.config.lockstep:
            while not self._stopping.is_set():
                try:
                    self.hops.put(hop, timeout=0.1)
                    return
                except queue.Full:
                    continue
        while True:
            try:
                self.hops.put_nowait(hop)
                return
            except queue.Full:
                try:
                    self.hops.get_nowait()
                    self.dropped_hops += 1
                except queue.Empty:
                    pass

    def drain(self) -> list[Hop]:
        """Every hop published since the last call."""
        out = []
        while True:
            try:
                out.append(self.hops.get_nowait())
            except queue.Empty:
                return out

    def latest_frame(self) -> RingEntry | None:
        """The newest frame's entry: its times and bodies (the pixels stay in the ring)."""
        assert self.ring is not None
        return self.ring.latest()

    def latest_image(self, step: int = 1) -> tuple[RingEntry, np.ndarray | None] | None:
        """The newest frame's entry and a copy of its image (every `step`th pixel), for display.

        Copied on the caller's thread; None when the ring overwrote the frame during the copy.
        """
        entry = self.latest_frame()
        if entry is None:
            return None
        assert self.ring is not None
        # SKELETON: the ring may hold pixels for the model's crops; they are never shown.
        view = self.ring.color(entry.sequence) if self.config.privacy.shows_color else None
        # np.array, not ascontiguousarray: with step 1 that would hand out the ring's own pixels, which the
        # capture overwrites (the check below would pass and the picture change under the caller).
        image = None if view is None else np.array(view[::step, ::step])
        if view is not None and not self.ring.holds(np.array([entry.sequence])):
            return None
        return entry, image

    def _mean_fps(self, frames: int) -> float:
        """Frames kept per second between the first and the newest: the source's rate, not diluted by the
        start-up before the first frame (a 30 fps clip read as 22.9 fps, with nothing dropped)."""
        first, last = self.capture.first_received, self.capture.last_received
        if first is None or last is None or last <= first:
            return 0.0
        return (frames - 1) / (last - first)

    def stats(self) -> LiveStats:
        assert self.capture is not None and self.worker is not None and self.tracks is not None
        connected, stalled_s = bool(self.source.connected), self._stalled_s()
        # Nothing new is seen of a room while its sensor is unplugged or stalled; a run that has ended (its
        # source closed, a replay run out) keeps its last count.
        unseen = not (self.ended or self._stopping.is_set()) and (not connected or stalled_s is not None)
        return LiveStats(
            source=self.source.name,
            connected=connected,
            paused=self.paused,
            recording=self.recording,
            recording_part=self.recording_part,
            engine=self.engine.name,
            model_sha256=self.engine.metadata.checkpoint_sha256,
            capture_fps=self.capture.fps.rate(),
            frames=self.capture.counters.frames,
            dropped=self.capture.counters.dropped,
            people=None if unseen else self.tracks.in_view,
            decisions=self.worker.counters.decisions,
            skipped_hops=self.worker.counters.skipped_hops,
            latency_p50_s=self.worker.latency.recent_percentile(50),
            latency_p95_s=self.worker.latency.recent_percentile(95),
            inference_p50_s=self.worker.inference.recent_percentile(50),
            saving=tuple(sink.recorder.sample_name for sink in list(self._saving)),
            privacy=self.config.privacy,
            failed_hops=self.worker.counters.errors,
            stalled_s=stalled_s,
            recognition_stuck_s=busy if (busy := self.worker.busy_s) > RECOGNITION_STUCK_S else None,
            source_stuck_s=read if (read := self.capture.read_running_s) > SOURCE_STUCK_S else None,
            undecided_s=(undecided if (undecided := self.worker.undecided_s) > UNDECIDED_S and not self.paused
                         else None),
            recording_dropped=sink.dropped if (sink := self._recording) is not None else 0,
            record_not_begun=self._record_not_begun(),
            recording_stopped=self._recording_off if self._recording is None else None,
            recording_disk=self._recording_disk(),
            missing_frames=(missed if (missed := self.capture.missed_share()) is not None
                            and missed >= MISSING_FRAMES_SHARE and not self.paused else None),
            lockstep=self.config.lockstep,
            late_decisions_s=self._late_decisions_s(),
            stopped_by_error=self.failure is not None,
        )

    def _recording_disk(self) -> tuple[int, int] | None:
        """LiveStats.recording_disk: of the recording running now (at its last sync's check)."""
        if (sink := self._recording) is None or (free := sink.recorder.disk_free) is None:
            return None
        least = sink.recorder.config.min_free_bytes
        return (free, least) if free < least + RECORDING_DISK_WARNING_BYTES else None

    def _late_decisions_s(self) -> float | None:
        """The p95 latency of the last LATE_OVER_S's decisions where it is LATE_DECISIONS_S or more; else
        None, and for a run paused or deciding in lockstep (a --fast replay: its frames are not waiting)."""
        assert self.worker is not None
        if self.config.lockstep or self.paused:
            return None
        p95 = self.worker.latency.percentile_within(95, LATE_OVER_S, LATE_MIN_DECISIONS)
        return p95 if p95 is not None and p95 >= LATE_DECISIONS_S else None

    def _stalled_s(self) -> float | None:
        """How long a connected, running, real-time source has sent no frame, past STALLED_S; else None.
        Counted from the newest frame or from when it was first seen running and connected (the start,
        the end of a pause, the sensor's return), whichever came last: a paused or unplugged sensor
        sends nothing, and that is not a stall."""
        assert self.capture is not None
        if self.config.lockstep or self.paused or self.ended or not self.source.connected:
            self._waiting_since = None  # set again once it runs connected
            return None
        now = time.perf_counter()  # the clock of the capture's arrival times
        if self._waiting_since is None:
            self._waiting_since = now
        since = (self.capture.last_received, self.capture.disconnected_at, self._waiting_since)
        age = now - max(t for t in since if t is not None)
        return age if age > STALLED_S else None

    def _summary(self) -> Summary:
        assert self.capture is not None and self.worker is not None and self.ring is not None
        assert self.tracks is not None
        seconds = time.monotonic() - (self._started_at or time.monotonic())
        counters, work = self.capture.counters, self.worker.counters
        rss_end = resident_memory_bytes()
        failures = (("capture", self.capture.error), ("recognition", self.worker.error))
        errors = tuple(f"{name}: {error!r}" for name, error in failures if error is not None)
        errors += tuple(f"recording {sink.recorder.sample_name} was not finalised in time (disk not "
                        f"responding?); its .partial folder is kept: python -m recordings recover "
                        f"{as_typed(sink.recorder.out_dir)}" for sink in list(self._saving))
        if work.errors:  # each hop that failed left everyone in view undecided for a hop
            errors += (
                f"recognition failed on {work.errors} of {work.hops + work.errors} hops (see the log)",)
        if work.not_finite:
            errors += (f"the model's scores were not finite numbers (NaN or inf) in {work.not_finite} "
                       "people's windows, which were not decided (see the log)",)
        errors += tuple(self._recording_errors)
        # A thread still running after its join timed out (a sensor driver hung in a read, an engine
        # call that never returns): the process may not exit cleanly, and whoever reads the summary
        # should know why.
        threads = (("capture", self.capture.alive), ("recognition", self.worker.alive))
        errors += tuple(f"the {name} thread did not stop in time (still running at exit)"
                        for name, alive in threads if alive)
        return Summary(
            source=self.source.name,
            engine=self.engine.name,
            seconds=seconds,
            frames=counters.frames,
            dropped=counters.dropped,
            duplicates=counters.duplicates,
            restarts=counters.restarts,
            mean_fps=self._mean_fps(counters.frames),
            people_seen=self.tracks.people_seen,
            hops=work.hops,
            decisions=work.decisions,
            skipped_hops=work.skipped_hops,
            stale_windows=work.stale_windows,
            colourless_windows=work.colourless_windows,
            dropped_hops=self.dropped_hops,
            latency_p50_s=self.worker.latency.percentile(50),
            latency_p95_s=self.worker.latency.percentile(95),
            inference_p50_s=self.worker.inference.percentile(50),
            inference_p95_s=self.worker.inference.percentile(95),
            recordings=tuple(self.recordings),
            recorder_dropped=self.recorder_dropped,
            recorder_missed=self.recorder_missed,
            ring_mb=self.ring.nbytes / 1e6,
            rss_start_mb=None if self._rss_start is None else self._rss_start / 1e6,
            rss_end_mb=None if rss_end is None else rss_end / 1e6,
            errors=errors,
            history_needed_s=self.inputs.window.duration_s * self.config.recognition.min_coverage,
        )
