"""What a Kinect v2 delivers, whichever library reads it (live/kinect_next_source.py, live/kinect.py)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from core.frame import Body
from core.skeleton import KINECT_V2, without_implausible

COLOR_SHAPE = (1080, 1920)  # colour image (height, width)
JOINT_COUNT = KINECT_V2.num_joints  # joints per body, in the SDK's JointType order
# A sensor that says it is available and sends nothing is reopened after this long: a freshly opened Kinect
# sends nothing for 1-3 s and often pauses once more right after the first frames (kinect-next's README),
# and reopening sooner would restart it forever.
REOPEN_AFTER_S = 10.0
# The runtime may report a sensor it has just opened (at the start, at every reopen) unavailable for this
# long: no warning for that.
STARTUP_GRACE_S = 3.0
# A sensor that cannot be opened is tried again after RETRY_S, the wait doubling up to MAX_RETRY_S.
RETRY_S, MAX_RETRY_S = 1.0, 10.0
SILENCE_REMINDER_S = 300.0  # a sensor that stays silent through reopening is said again this often
# A tick without a colour image carries the last one for at most this long (sensor clock): low light's
# every other tick (33 ms), or an image a tick late. Not a colour stream that stalled while bodies go on
# (after a replug, say): its image shows people where they no longer are, and under --privacy blur their
# faces are blurred where the bodies are now, so one who was there then, lost since, showed unblurred.
COLOR_REPEAT_S = 0.2

log = logging.getLogger(__name__)


def sdk_error(error: Exception) -> str:
    """`error` for a log line: PyKinect2's calls fail with comtypes' COMError, whose text is its arguments'
    tuple ("(-2147467259, 'Unspecified error', (None, None, None, 0, None))"), said as its HRESULT and
    text; any other as it says itself (kinect-next's COMOperationError names the call that failed)."""
    hresult, text = getattr(error, "hresult", None), getattr(error, "text", None)
    if not isinstance(hresult, int) or isinstance(hresult, bool):
        return str(error)
    if isinstance(text, str):
        return f"HRESULT 0x{hresult & 0xFFFFFFFF:08X} {text}"
    if error.args[:1] == (hresult,):  # a COMError without a text: its arguments' tuple all the same
        return f"HRESULT 0x{hresult & 0xFFFFFFFF:08X}"
    return str(error)


def needs_windows(option: str, platform: str) -> str:
    """What to say where a Kinect source is asked for off Windows (`option`: as it was given)."""
    return (f"{option} needs 64-bit Windows with the Kinect for Windows Runtime 2.0 (this machine runs "
            f"{platform}); use --source sim or a recording PATH instead")


def sensor_body(
    tracking_id: int, joints: np.ndarray, states: np.ndarray, joints_color: np.ndarray
) -> Body | None:
    """A tracked body as the SDK gives it -> core Body, each joint no sensor measures (a glitch, junk where
    it tracks nothing) passed on as not tracked, at 0 0 0 and no pixel; None when nothing of it is left."""
    joints, states, dropped = without_implausible(joints, states)
    if not joints.any():
        return None
    if dropped.any():
        joints_color = np.where(dropped[:, None], np.nan, joints_color)
    return Body(tracking_id=tracking_id, joints=joints, states=states, joints_color=joints_color)


class ReopenBackoff:
    """When to try again to open a sensor that could not be opened (the runtime's service restarting, the
    device gone): after `retry_s`, doubling up to `max_retry_s`, not on every read; said once per outage,
    and again when it opens."""

    def __init__(self, retry_s: float = RETRY_S, max_retry_s: float = MAX_RETRY_S) -> None:
        self._retry_s, self._max_retry_s = retry_s, max_retry_s
        self._next_retry_s = retry_s
        self._retry_at = 0.0
        self._failures = 0  # in a row, in the current outage

    def wait_left(self) -> float:
        """Seconds until the next try (0 or less: now)."""
        return self._retry_at - time.monotonic()

    def failed(self, error: Exception) -> None:
        self._failures += 1
        if self._failures == 1:
            log.warning("reopening the Kinect failed (%s); trying again every %.0f-%.0f s", sdk_error(error),
                        self._retry_s, self._max_retry_s)
        else:
            log.debug("reopening the Kinect failed again (%s); next try in %.1f s", sdk_error(error),
                      self._next_retry_s)
        self._retry_at = time.monotonic() + self._next_retry_s
        self._next_retry_s = min(2 * self._next_retry_s, self._max_retry_s)

    def opened(self) -> None:
        if self._failures:
            log.info("the Kinect opened again after %d failed tries", self._failures)
        self._failures = 0
        self._next_retry_s = self._retry_s


class JointMapping:
    """Joints -> colour pixels by the SDK's CoordinateMapper. A call that fails (a failed HRESULT, raised as
    one of `errors`) leaves that body's joints unmapped, as if out of view, rather than ending the capture
    ("capture failed"): the glimpse and the face blur then place them by the camera model. Said once per
    run of failures, and again when the mapper works. No reopen for it: the bodies still come, and a
    reopen would cost seconds without any."""

    def __init__(self, errors: tuple[type[Exception], ...]) -> None:
        self._errors = errors
        self._failed = 0  # bodies in a row

    def pixels(self, joints: Sequence[Any], map_joint: Callable[[Any], Any]) -> np.ndarray:
        """(len(joints), 2) float32 colour pixels, by `map_joint` (a point with .x and .y; +-inf where the
        SDK cannot map one); NaN where unmapped."""
        pixels = np.full((len(joints), 2), np.nan, np.float32)
        try:
            for j, joint in enumerate(joints):
                point = map_joint(joint)
                pixels[j] = (point.x, point.y)
        except self._errors as error:
            if not self._failed:
                log.warning("the Kinect's coordinate mapper failed (%s); joints are placed by the camera "
                            "model until it works again", sdk_error(error))
            self._failed += 1
            return np.full((len(joints), 2), np.nan, np.float32)
        if self._failed:
            log.info("the Kinect's coordinate mapper works again (it failed for %d bodies)", self._failed)
            self._failed = 0
        pixels[~np.isfinite(pixels).all(1)] = np.nan
        return pixels


class SilenceLog:
    """What the log says of a sensor that is available and sends nothing, through every reopen: the first
    reopen with why, then a reminder every SILENCE_REMINDER_S (a warning per reopen, every 3-10 s for as
    long as it lasted, buried the rest of the log); `frame_came` ends the episode."""

    def __init__(self) -> None:
        self._since: float | None = None  # monotonic time the episode's first reopen was said
        self._said_at = 0.0
        self._reopens = 0

    def reopening(self, reason: str) -> None:
        now = time.monotonic()
        self._reopens += 1
        if self._since is None:
            self._since = self._said_at = now
            log.warning("%s; reopening (said again every %.0f min while it lasts)", reason,
                        SILENCE_REMINDER_S / 60)
        elif now - self._said_at >= SILENCE_REMINDER_S:
            self._said_at = now
            log.warning("Kinect still sends nothing after %.0f min and %d reopens: restart the Kinect "
                        "service or plug the sensor in again", (now - self._since) / 60, self._reopens)

    def frame_came(self) -> None:
        if self._since is not None:
            log.info("Kinect frames flow again after %.0f s and %d reopens", time.monotonic() - self._since,
                     self._reopens)
        self._since, self._reopens = None, 0


class UnavailableLog:
    """What the log says of a sensor its runtime reports unavailable (unplugged, its power off): one warning
    per outage, and a line when it is back after one. None while it is starting: the runtime may report a
    sensor it has just opened unavailable until it has found it (this was said at every start and every
    reopen), so not before `grace_s` (STARTUP_GRACE_S) unless it was reported available since."""

    def __init__(self, grace_s: float) -> None:
        self._grace_s = grace_s
        self._starting_until = 0.0  # monotonic time
        self._warned = False

    def opened(self, available: bool) -> None:
        """The sensor was just opened; `available`: whether the runtime reports it available already (then
        an outage said before is over: said, and a later one is warned of again)."""
        if available:
            self.available("opened again")
        else:
            self._starting_until = time.monotonic() + self._grace_s

    def unavailable(self) -> None:
        if not self._warned and time.monotonic() >= self._starting_until:
            log.warning("Kinect sensor unavailable (unplugged, or its power supply off?); waiting for it to "
                        "return")
            self._warned = True

    def available(self, what_now: str) -> None:
        self._starting_until = 0.0
        if self._warned:
            log.info("Kinect sensor available again; %s", what_now)
            self._warned = False


class LatestColor:
    """The newest colour image and its tick's time (sensor clock): what a tick without an image of its own
    carries, for COLOR_REPEAT_S. Forgotten when the sensor is opened again (its clock starts over)."""

    def __init__(self) -> None:
        self._image: np.ndarray | None = None
        self._at = 0.0

    def arrived(self, image: np.ndarray, timestamp: float) -> None:
        self._image, self._at = image, timestamp

    def for_tick(self, timestamp: float) -> np.ndarray | None:
        if self._image is None or not 0.0 <= timestamp - self._at <= COLOR_REPEAT_S:
            return None
        return self._image

    def forget(self) -> None:
        self._image = None
