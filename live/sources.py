"""Where frames come from: the Kinect v2, recordings replayed, or the simulated room.

Every source gives timestamped `core.frame.Frame`s behind one small interface (`Source`):

    open() -> None                    may raise SourceUnavailable (one line: why, and what to do)
    read(timeout) -> Frame | None     blocks up to timeout; None when no frame came (sensor quiet,
                                      unplugged, paused); raises EndOfStream at the end of a replay
    close() -> None
    name, connected, camera, color_shape, fps
    set_paused(paused)                replays and the simulator stop their clock; a sensor cannot
    stops_when_paused                 True for those; False for a sensor, whose frames the capture
                                      thread reads and discards while paused

Paced sources (the simulator, replays in real time) behave like a sensor: they run on their own
clock and never wait for a late reader; a frame whose time has passed by more than one frame period
is skipped, as the Kinect overwrites a frame nobody collected. The capture thread sees those as
gaps in `Frame.index` and counts them as dropped.

`--source` choices map to sources in live.app.open_source: "kinect" (kinect-next,
live/kinect_next_source.py) or "kinect:pykinect2" (live/kinect.py), "sim"
(`simulated_source`), or a recording's PATH (`replay_source`: .xef, an NTU-layout clip's .skeleton /
_rgb.avi / .json, or its folder; a PKU-MMD sequence).
"""

from __future__ import annotations

import enum
import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from core.camera import ColorCamera
from core.frame import Frame
from core.timeline import Interval, Timeline
from recordings.xef import XefFormatError

log = logging.getLogger(__name__)

# A source slower to make its frames than their period is said to be so once this happened three times
# within this long, and to play in real time again once it has not happened for as long.
SLOWED_WITHIN_S = 10.0


class KinectBackend(enum.Enum):
    """The library that reads a Kinect v2 (`--source kinect` / `--source kinect:pykinect2`)."""

    KINECT_NEXT = "kinect-next"  # maintained, typed; the default
    PYKINECT2 = "pykinect2"  # unmaintained (PyPI 0.1.0, 2015), patched in memory (live/kinect.py)


class SourceUnavailable(RuntimeError):
    """A source cannot be opened on this machine; the message says why in one line."""


class EndOfStream(Exception):
    """A replay has no more frames. `skipped`: frames a paced replay passed over after the last one it
    delivered (they leave no gap in the indices for the reader to count)."""

    def __init__(self, message: str = "", skipped: int = 0) -> None:
        super().__init__(message)
        self.skipped = skipped


class Source(Protocol):
    name: str
    connected: bool  # False while a sensor is unplugged
    camera: ColorCamera | None  # colour camera model when the source knows it
    color_shape: tuple[int, int] | None  # (height, width) of colour images; None for skeleton only
    fps: float  # nominal frame rate
    stops_when_paused: bool  # set_paused stops its frames (replays, simulator); a sensor runs on

    def open(self) -> None: ...

    def read(self, timeout: float = 0.1) -> Frame | None: ...

    def set_paused(self, paused: bool) -> None: ...

    def close(self) -> None: ...


class Pacer:
    """Releases frames at their timestamps on the monotonic clock, like a sensor would.

    The first frame is due when it is first asked for; each later frame `timestamp - first` after
    it. Pausing shifts the schedule by the time spent paused.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._offset: float | None = None  # monotonic time - stream time
        self._paused_at: float | None = None

    def due(self, timestamp: float) -> float:
        if self._offset is None:
            self._offset = self._clock() - timestamp
        return timestamp + self._offset

    def rebase(self, timestamp: float, at: float) -> None:
        """Make `timestamp` due at monotonic time `at` (a looped replay starts over)."""
        self._offset = at - timestamp

    def pause(self) -> None:
        if self._paused_at is None:
            self._paused_at = self._clock()

    def resume(self) -> None:
        if self._paused_at is not None:
            if self._offset is not None:
                self._offset += self._clock() - self._paused_at
            self._paused_at = None

    @property
    def paused(self) -> bool:
        return self._paused_at is not None


@dataclass(frozen=True)
class ReplayOptions:
    realtime: bool = True  # paced by the frames' timestamps; False: as fast as the reader takes them
    loop: bool = False  # start over at the end instead of ending


class FrameStream:
    """A source made of a re-startable frame iterator, paced or not, optionally looped.

    `frames()` must return a fresh iterator over the recording each time it is called (a loop calls
    it again). Used by the replay sources and the simulator.
    """

    stops_when_paused = True  # the pacer's clock stops: no frame is due, none is lost

    def __init__(
        self,
        name: str,
        frames: Callable[[], Iterator[Frame]],
        *,
        options: ReplayOptions = ReplayOptions(),
        camera: ColorCamera | None = None,
        color_shape: tuple[int, int] | None = None,
        fps: float = 30.0,
        on_close: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name
        self.camera = camera
        self.color_shape = color_shape
        self.fps = fps
        self.options = options
        self.connected = False
        self.skipped = 0  # frames passed over because the reader was late (paced only)
        self.slowed = 0  # times it fell back to its own pace: a frame took longer to make than its period
        self._slowed_at: list[float] = []  # when, in the last SLOWED_WITHIN_S
        self._said_slowed = False
        self.slowed_by_s = 0.0  # how far behind its own time it fell, in all: its frames come that late
        self.loops = 0
        # A labelled recording's action intervals (seconds from its first frame), where it has them.
        self.timeline: Timeline | None = None
        self._make_frames = frames
        self._on_close = on_close
        self._frames: Iterator[Frame] | None = None
        self._pending: Frame | None = None
        self._last_due = 0.0
        self._clock = clock
        self._sleep = sleep
        self._pacer = Pacer(clock)

    def open(self) -> None:
        self._frames = self._make_frames()
        self.connected = True

    def set_paused(self, paused: bool) -> None:
        if paused:
            self._pacer.pause()
        else:
            self._pacer.resume()

    def _next(self) -> Frame:
        assert self._frames is not None, "open() first"
        try:
            return next(self._frames)
        except StopIteration:
            pass
        except XefFormatError as damage:  # a file cut short or damaged: what came before it has played
            if self.loops == 0:  # said once, not on every pass of a --loop
                passes = " (on every pass)" if self.options.loop else ""
                log.warning("%s; the replay ends there%s", damage, passes)
        if not self.options.loop:
            self.connected = False
            raise EndOfStream(self.name)
        self.loops += 1
        self._frames = self._make_frames()
        try:
            frame = next(self._frames)
        except StopIteration:
            raise EndOfStream(f"{self.name} is empty") from None
        # The new pass starts one frame period after the last frame of the previous one, or now if
        # starting over (reopening a video) took longer: its first frames are not lost to the seam.
        self._pacer.rebase(frame.timestamp, max(self._last_due + 1.0 / self.fps, self._clock()))
        return frame

    def read(self, timeout: float = 0.1) -> Frame | None:
        if self._pacer.paused:
            self._sleep(min(timeout, 0.02))
            return None
        if not self.options.realtime:
            return self._pending_or_next()
        period = 1.0 / self.fps
        skipped_here = 0
        missed: int | None = None  # frames past due when this read began: the reader's own lateness
        while True:
            asked = self._clock()
            try:
                frame = self._pending_or_next()
            except EndOfStream as end:
                raise EndOfStream(str(end), skipped=skipped_here) from None
            due = self._pacer.due(frame.timestamp)
            now = self._clock()
            if now - due > period:
                if missed is None:
                    missed = max(0, int((asked - due) / period))
                if now - asked >= period and skipped_here >= missed:
                    # Making this frame (rendering the simulator's picture, decoding the video) took a frame
                    # period or more: skipping to catch up could never reach a frame on time, and no frame
                    # came out at all. Once the frames a late reader missed are passed over (lost, as on a
                    # sensor), it plays on from here, slower than real time, as a video player does.
                    self._pacer.rebase(frame.timestamp, now)
                    self._say_slowed(now - asked, period, now - due)
                    due = now
                    break
                self.skipped += 1  # the sensor would have replaced it by now
                skipped_here += 1
                continue
            if self._said_slowed and now - self._slowed_at[-1] >= SLOWED_WITHIN_S:
                # Said as it ends too: a second time later in the run is then said again.
                self._said_slowed, self._slowed_at = False, []
                log.info("%s: plays in real time again (%.1f s behind its own time in all)", self.name,
                         self.slowed_by_s)
            break
        wait = due - now
        if wait > timeout:
            self._sleep(timeout)
            self._pending = frame
            return None
        if wait > 0:
            self._sleep(wait)
        self._last_due = due
        return frame

    def _say_slowed(self, took_s: float, period_s: float, behind_s: float) -> None:
        # Said once, and only once it happened three times within 10 s: a one-off pause (a page fault,
        # another program's moment) also makes a frame late, and costs no more than that moment.
        now = self._clock()
        self._slowed_at = [t for t in self._slowed_at if now - t < SLOWED_WITHIN_S] + [now]
        self.slowed += 1
        self.slowed_by_s += behind_s
        if len(self._slowed_at) == 3 and not self._said_slowed:
            self._said_slowed = True
            log.warning("%s: a frame took %.0f ms to make, more than its %.0f ms: this computer cannot play "
                        "it in real time, so it plays slower", self.name, took_s * 1000, period_s * 1000)

    def _pending_or_next(self) -> Frame:
        if self._pending is not None:
            frame, self._pending = self._pending, None
            return frame
        return self._next()

    def close(self) -> None:
        self._frames = None
        self.connected = False
        if self._on_close is not None:
            self._on_close()


def replay_source(
    path: Path | str,
    options: ReplayOptions = ReplayOptions(),
    *,
    color: bool = True,
    depth: bool = True,
    whole_clip_truth: bool = False,
    truth: Timeline | None = None,
    video: Path | str | None = None,
) -> FrameStream:
    """A recording replayed as a source: an NTU-layout clip (.skeleton / _rgb.avi / .json / folder) or .xef.
    `depth=False`: frames carry no depth image (none decoded). `video`: a clip's _rgb.avi kept apart
    from its .skeleton. `whole_clip_truth`: a clip labelled as a
    whole (no intervals; a headless recording's --label) replays as one interval of its class over all of
    it, every body's truth, as training reads it — for the streaming evaluation. `truth`: a clip's
    intervals in place of its own (none: a marked recording's part without marks, which
    recordings.clip.parts_between_marks finds, replays with no_action as every body's truth).

    Raises FileNotFoundError / ValueError (recordings' errors name the file) for a bad path.
    """
    from recordings.clip import ClipRecording, open_recording
    from recordings.labels import LABEL_MAP_FILENAME, read_label_map

    recording = open_recording(path, color=color, depth=depth, video=video)
    info = recording.info
    if info.frame_count == 0:
        recording.close()
        raise ValueError(f"{path}: no frames (an empty recording, or one damaged before its first frame)")
    if options.loop and info.frame_count < 2:
        recording.close()
        raise ValueError(f"{path}: {info.frame_count} frame(s); --loop needs a recording of two frames or "
                         f"more (each pass would repeat the same instant)")
    camera = None
    if isinstance(recording, ClipRecording):
        camera = recording.sidecar.camera if recording.sidecar is not None else None
    else:
        camera = recording.camera
    color_shape = None if info.color_size is None else (info.color_size[1], info.color_size[0])
    source = FrameStream(
        f"replay {Path(path).name}",
        recording.frames,
        options=options,
        camera=camera,
        color_shape=color_shape,
        fps=info.fps if info.fps > 0 else 30.0,
        on_close=recording.close,
    )
    if truth is not None and isinstance(recording, ClipRecording):
        recording.timeline = truth
    elif whole_clip_truth and isinstance(recording, ClipRecording) and recording.timeline is None:
        label = info.label
        map_path = Path(info.path).parent / LABEL_MAP_FILENAME
        if label is None and info.action_id is not None and map_path.is_file():
            # Named by its class's A-number only (an NTU clip, or ours without a sidecar): the folder's
            # labels.txt names it, as training reads it.
            label = read_label_map(map_path, site=False).names.get(info.action_id)
        if label:
            # To the end of the last frame, which lasts one frame period (as a sidecar's intervals may).
            end = info.duration_s + 1.0 / source.fps
            recording.timeline = Timeline.checked([Interval(0.0, end, label)], duration=end, source=str(path))
    source.timeline = recording.timeline
    return source


def simulated_source(
    *,
    people: int = 2,
    seed: int | None = None,
    low_light: bool = False,
    options: ReplayOptions = ReplayOptions(),
    duration_s: float | None = None,
    actions: tuple[str, ...] | None = None,
) -> FrameStream:
    """The simulated room (simulation.scene.SimulatedScene) paced at its fps like a sensor.

    Its bodies carry the scene's ground truth (`Body.truth`: the action, or no_action). The room is
    endless; `duration_s` ends it after that much room time (an evaluation's hour, say). `actions`
    names the classes people perform (None: the ten the demo model knows).
    """
    from simulation.scene import SimulatedScene

    scene = SimulatedScene(seed=seed if seed is not None else int(time.time()), low_light=low_light,
                           max_people=people, actions=actions)

    frames = round(duration_s * scene.fps) if duration_s is not None else None
    return FrameStream(
        "sim" + (" (low light)" if low_light else ""),
        lambda: itertools.islice(scene, frames),
        options=ReplayOptions(realtime=options.realtime, loop=False),  # endless: nothing to loop
        camera=scene.camera,
        color_shape=scene.color_shape,
        fps=scene.fps,
    )
