"""The Kinect v2 as a source through kinect-next (the default `--source kinect`; Windows, Kinect for
Windows Runtime 2.0).

    kinect_next.KinectSensor(COLOR | BODY | DEPTH)  one multi-source reader: colour, bodies and depth of
                                            one sensor tick
      wait_for_frames(timeout) -> FrameSet  (KinectTimeoutError when nothing came)
        relative_time_ns (sensor clock)  -> Frame.timestamp (seconds) and Frame.index (sensor ticks)
        bodies (6 slots), tracked ones   -> Body: joints in JointType order (the same as
                                            core.skeleton.KINECT_V2), tracking states, tracking id
        kinect.mapper camera -> colour   -> Body.joints_color (+-inf where unmappable -> NaN; all NaN
                                            where the mapper failed: JointMapping)
        color (BGRA) -> contiguous BGR   -> Frame.color; a tick without a colour image repeats the last
                                            (for COLOR_REPEAT_S); none with color=False
        depth.data (uint16 424x512 mm)   -> Frame.depth; None in a tick without one (never repeated)

kinect-next (PyPI, MIT, pinned in the `kinect` extra) replaces PyKinect2 (live/kinect.py, still there
as `--source kinect:pykinect2`). It imports on any OS and loads Kinect20.dll only in `open()`, which
raises KinectNotAvailableError off Windows or without the runtime: that becomes one line saying what to
install. It is imported only when this source opens.

Low light: the colour camera drops to 15 fps while bodies stay at 30. Whether the multi-source reader
then delivers 30 ticks a second with colour in every other one, or 15 ticks with both, is not
documented; both are handled. A tick without colour carries the last image for up to COLOR_REPEAT_S
(the model needs an image per frame, and a repeat is closer than black), and `Frame.index` counts
sensor ticks at the rate the reader delivers them, so neither shows up as dropped frames.

Unplugged: waits time out and the sensor reports IsAvailable false -> `connected` False and one
warning; the source keeps waiting and the app stays up. When the sensor is back, frames flow again
(`connected` True, one info line); a sensor that says it is available but sends nothing for
`reopen_after_s` is closed and opened again (after a replug the old readers can stay silent). A reopen
that fails is tried again after `retry_s`, doubling up to `max_retry_s`, with one warning per outage.

Buffers: `reuse_buffers` is left off, and each BGRA image is converted into its own BGR array: the
recorder encodes frames on its own thread after the next one has arrived. For the same reason the depth
image is handed on as kinect-next allocated it (a fresh array per tick with buffer reuse off).

Depth (`depth=True`, the default): the reader opens the depth stream too, and kinect-next then stamps
a tick with the depth frame's time (FrameSet.relative_time_ns: "the depth timestamp when depth is
enabled"; the body frame's otherwise). Checked against kinect-next 3.0.0's source (FrameSet.depth:
DepthFrame with `.data` uint16 (424, 512) millimetres) and through it with the stand-in below.

NOT run on a sensor: developed on Linux. The tests run the real kinect-next package with only its
native layer (Kinect20.dll's COM objects, kernel32 events) replaced by an in-process stand-in
(tests/kinect_runtime.py).
"""

from __future__ import annotations

import logging
import statistics
import sys
import time
from collections import deque
from typing import Any

import cv2
import numpy as np

from core.camera import KINECT_FPS, LOW_LIGHT_FPS, ColorCamera
from core.frame import Body, Frame
from core.package_files import pip_install
from live.kinect_common import (
    COLOR_SHAPE,
    JOINT_COUNT,
    MAX_RETRY_S,
    REOPEN_AFTER_S,
    RETRY_S,
    STARTUP_GRACE_S,
    JointMapping,
    LatestColor,
    ReopenBackoff,
    SilenceLog,
    UnavailableLog,
    needs_windows,
    sensor_body,
)
from live.sources import SourceUnavailable

log = logging.getLogger(__name__)

KINECT_NEXT_VERSION = "3.0.0"  # the version pinned in pyproject's `kinect` extra, the one tested
INSTALL_HINT = (f"install the Kinect for Windows Runtime 2.0 and `{pip_install('kinect')}` "
                f"(kinect-next {KINECT_NEXT_VERSION})")


def _point(position: Any) -> tuple[float, float, float]:
    return float(position.x), float(position.y), float(position.z)


class TickCounter:
    """Frame numbers from sensor timestamps: +1 per tick at the rate the reader delivers, +n over a gap.
    kinect-next's ticks follow the colour camera's rate when it reads colour; PyKinect2's body frames come
    at 30 fps always, and its source counts periods from its first frame instead (live/kinect.py).

    The delivery period is the median of the last few intervals, kept between the 30 fps and the
    15 fps (low light) periods, so a reader that slows down to 15 ticks a second counts no drops once
    the median has moved (a few ticks), while a tick really missed shows up as a gap.
    """

    def __init__(self, history: int = 9) -> None:
        self._intervals: deque[float] = deque(maxlen=history)
        self._last: float | None = None
        self.index = 0

    def __call__(self, timestamp: float) -> int:
        if self._last is not None:
            interval = timestamp - self._last
            if interval <= 0:  # the same tick again, or the sensor clock restarted (reopen)
                self._intervals.clear()
                self.index += 1 if interval < 0 else 0
            else:
                self._intervals.append(interval)
                period = min(max(statistics.median(self._intervals), 1 / KINECT_FPS), 1 / LOW_LIGHT_FPS)
                self.index += max(1, round(interval / period))
        self._last = timestamp
        return self.index


def body_from_kinect_next(body: Any, mapper: Any, mapping: JointMapping) -> Body | None:
    """A kinect-next Body (tracked) -> core Body (`sensor_body`); joints mapped to colour pixels by the SDK's
    mapper."""
    joints = np.zeros((JOINT_COUNT, 3), np.float32)
    states = np.zeros(JOINT_COUNT, np.int8)
    positions = []
    for j in range(JOINT_COUNT):
        joint = body.joints[j]  # JointType(j): kinect-next indexes joints by the SDK's enum
        joints[j] = _point(joint.position)
        states[j] = int(joint.tracking_state)
        positions.append(joint.position)
    joints_color = mapping.pixels(positions, mapper.map_camera_point_to_color_space)
    return sensor_body(int(body.tracking_id), joints, states, joints_color)


class KinectNextSource:
    """Live Kinect v2 colour + bodies (+ depth) through kinect-next. `connected` is False while unplugged."""

    name = "kinect"
    stops_when_paused = False  # a sensor keeps sending; paused, the capture thread discards its frames

    def __init__(
        self,
        *,
        reopen_after_s: float = REOPEN_AFTER_S,
        startup_grace_s: float = STARTUP_GRACE_S,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        color: bool = True,
        depth: bool = True,
    ) -> None:
        # Whether to read the colour camera: not for a skeleton-only model whose run shows and records no
        # image (live.app.keeps_images), where a 1080p image per tick would only sit in memory.
        self.color = color
        self.depth = depth  # read the depth stream (Frame.depth) as well
        self._reopen_after_s = reopen_after_s
        self._backoff = ReopenBackoff(retry_s, max_retry_s)
        self._kinect_next: Any = None
        self._sensor: Any = None
        self._color = LatestColor()
        self._mapping = JointMapping(())  # catches kinect-next's error, named once open() has imported it
        self._ticks = TickCounter()
        self._last_frame_at = 0.0
        self._silence = SilenceLog()
        self._unavailable = UnavailableLog(startup_grace_s)
        self.connected = False
        # The SDK maps joints to colour pixels itself (Body.joints_color); the pipeline's DEFAULT_CAMERA
        # only sizes part and face boxes from the joints' depth.
        self.camera: ColorCamera | None = None
        self.color_shape: tuple[int, int] | None = COLOR_SHAPE if color else None
        self.fps = KINECT_FPS
        self.color_frames = 0  # colour images received (under `frames` in low light)
        self.frames = 0
        self.reopened = 0

    def open(self) -> None:
        try:
            import kinect_next
        except ImportError as error:
            if not sys.platform.startswith("win"):  # said first: installing kinect-next would not help here
                raise SourceUnavailable(needs_windows("--source kinect", sys.platform)) from error
            raise SourceUnavailable(f"--source kinect: kinect-next is not installed; {INSTALL_HINT}") \
                from error
        if kinect_next.__version__ != KINECT_NEXT_VERSION:
            log.warning("kinect-next %s is installed; this source was built and tested with %s",
                        kinect_next.__version__, KINECT_NEXT_VERSION)
        self._kinect_next = kinect_next
        self._mapping = JointMapping((kinect_next.COMOperationError,))
        try:
            self._open_sensor()
        except kinect_next.KinectError as error:  # KinectNotAvailableError off Windows / without the runtime
            if not sys.platform.startswith("win"):  # kinect-next installed here, and no use: no install hint
                raise SourceUnavailable(needs_windows("--source kinect", sys.platform)) from error
            raise SourceUnavailable(f"--source kinect: {error} ({INSTALL_HINT}; or use --source sim or a "
                                    f"recording's path)") from error

    def _open_sensor(self) -> None:
        kn = self._kinect_next
        streams = kn.StreamType.BODY
        if self.color:
            streams |= kn.StreamType.COLOR
        if self.depth:
            streams |= kn.StreamType.DEPTH
        sensor = kn.KinectSensor(streams, auto_open=False)
        sensor.open()
        self._sensor = sensor
        self._last_frame_at = time.monotonic()
        self.connected = bool(sensor.is_available)
        self._unavailable.opened(self.connected)
        if not self.connected:
            self._report_unavailable()

    def _close_sensor(self) -> None:
        sensor, self._sensor = self._sensor, None
        self._color.forget()  # no image kept once closed; a reopened sensor's clock starts over
        if sensor is not None:
            try:
                sensor.close()
            except Exception as error:  # a sensor that vanished can fail to close: it is gone either way
                log.debug("closing the Kinect: %s", error)

    def _report_unavailable(self) -> None:
        """`connected` False at once; the log says so once per outage (UnavailableLog)."""
        self.connected = False
        self._unavailable.unavailable()

    def read(self, timeout: float = 0.1) -> Frame | None:
        """The next sensor tick as a Frame, or None when none came within `timeout` (or unplugged)."""
        if self._kinect_next is None:
            raise RuntimeError("KinectNextSource.read before open()")
        kn = self._kinect_next
        if self._sensor is None:  # a reopen failed earlier: try again when its backoff is over
            wait = self._backoff.wait_left()
            if wait > 0:
                time.sleep(min(timeout, wait))
                return None
            self._reopen()
            return None
        try:
            frameset = self._sensor.wait_for_frames(timeout_ms=max(int(timeout * 1000), 1))
        except kn.KinectTimeoutError:
            self._quiet()
            return None
        except kn.KinectClosedError:  # closed from another thread while waiting
            return None
        except kn.KinectError as error:  # a COM failure mid-stream (the service restarting): start over
            self._silence.reopening(f"Kinect read failed ({error})")
            self._reopen()
            return None
        frame = self._frame(frameset)
        if frame is None:
            return None
        self._last_frame_at = time.monotonic()
        self._silence.frame_came()
        if not self.connected:
            self.connected = True
            self._unavailable.available("frames are flowing")
        return frame

    def _quiet(self) -> None:
        """No frame within the timeout: unplugged, or available but silent for too long."""
        if not self._sensor.is_available:
            self._report_unavailable()
            self._last_frame_at = time.monotonic()  # the silence that counts starts when it is back
            return
        if not self.connected:
            self.connected = True
            self._unavailable.available("waiting for frames")
        silent = time.monotonic() - self._last_frame_at
        if silent > self._reopen_after_s:
            self._silence.reopening(f"no Kinect frames for {silent:.1f} s although the sensor is available")
            self._reopen()

    def _reopen(self) -> None:
        self._close_sensor()
        try:
            self._open_sensor()
        except self._kinect_next.KinectError as error:
            self._backoff.failed(error)
            self._report_unavailable()
        else:
            self.reopened += 1
            self._backoff.opened()
        self._last_frame_at = time.monotonic()

    def _frame(self, frameset: Any) -> Frame | None:
        if frameset.relative_time_ns <= 0:  # neither a body nor a colour frame this tick
            return None
        timestamp = frameset.relative_time_ns / 1e9
        if frameset.color is not None:
            # One conversion into a contiguous BGR image (~1 ms at 1080p): the ring, the face blur and
            # the recorder each copy it, and copying the 3-of-4-channel view as_bgr() gives takes 22-35 ms
            # (benchmarks/privacy_blur.py).
            self._color.arrived(cv2.cvtColor(frameset.color.as_bgra(), cv2.COLOR_BGRA2BGR), timestamp)
            self.color_frames += 1
        mapper = self._sensor.mapper
        tracked = [body_from_kinect_next(b, mapper, self._mapping) for b in frameset.bodies if b.is_tracked]
        bodies = [body for body in tracked if body is not None]
        self.frames += 1
        depth = frameset.depth.data if frameset.depth is not None else None
        return Frame(timestamp=timestamp, color=self._color.for_tick(timestamp), bodies=bodies,
                     index=self._ticks(timestamp), depth=depth)

    def set_paused(self, paused: bool) -> None:
        """A sensor cannot be paused: the capture thread keeps reading and discards while paused."""

    def close(self) -> None:
        self._close_sensor()
        self.connected = False
