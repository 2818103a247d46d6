"""The Kinect v2 as a source, through PyKinect2 (Windows, Kinect for Windows SDK 2.0 runtime).

The alternative to kinect-next (live/kinect_next_source.py, the default): `--source kinect:pykinect2`.
PyKinect2 is imported lazily, only when this source opens, and through a compatibility
loader: the package is unmaintained (its one PyPI release, 0.1.0, is from 2015) and breaks on
current stacks in ways that raise at import time or, worse, make body frames silently never arrive
(../shared/notes/kinect.md).
Instead of editing site-packages, `load_pykinect2` reads the package's two modules, applies the
fixes below to their text in memory and executes them as `pykinect2.PyKinectV2` /
`pykinect2.PyKinectRuntime`:

    breakage (where)                                   fix
    assert sizeof(tagSTATSTG) == 72 (PyKinectV2)       32-bit struct-size asserts dropped (64-bit: 80)
    _check_version('') (PyKinectV2, comtypes >= 1.2)   the call dropped ("ImportError: Wrong version")
    import numpy.distutils (PyKinectV2)                dropped (gone in Python 3.12 / NumPy 2; unused)
    time.clock() (PyKinectRuntime, older master)       time.perf_counter() (gone in Python 3.8)
    numpy.object (PyKinectRuntime)                     object (gone in NumPy 1.24; raised inside a bare
                                                       `except`, so body frames never arrived)
    ctypes.pythonapi.PyObject_AsWriteBuffer            a placeholder (gone in Python 3.10; only the
      (PyKinectRuntime.__init__)                       pygame helper `surface_as_array` used it)

Designed for: PyKinect2 from the repository's master (INSTALL_HINT's two commands; the
PyPI 0.1.0 release has the same breakages plus more), comtypes 1.2-1.4, Python 3.10-3.12, NumPy
1.25-2.x, Kinect for Windows Runtime 2.0 (2.0.1410). The fixes are tested here against a stand-in
package with the same lines (tests/test_live_sources.py); they have NOT been run against a real
sensor (this project is developed on Linux, where no Kinect v2 body tracking exists).

Frames are driven by body frames (30 fps whether or not anybody is in view); each carries the most
recent colour image (colour drops to 15 fps in low light, so an image may repeat), for up to
COLOR_REPEAT_S (live/kinect_common.py), and none with `color=False`. The body frame's
RelativeTime (100 ns ticks, sensor clock) is the timestamp (PyKinect2 drops the colour frame's own), and
`Frame.index` the 1/30 s periods since the runtime's first frame (a reopened one starts over): body
frames come at 30 fps always, so frames this computer was too late for show as gaps (kinect-next's
TickCounter, made for a reader whose rate halves in low light, would count every other frame as the
next); counted from the first frame, the clock's jitter is half a period away from changing an index
(rounding the clock itself went 10, 12, 12 where it lay near a half period).
Joints are mapped to colour pixels by the SDK's CoordinateMapper (+-inf -> NaN; a body whose mapping
failed comes unmapped, live.kinect_common.JointMapping).

Depth (`depth=True`, the default): the depth reader is opened too (FrameSourceTypes_Depth) and a body
frame carries a depth image when a new one has arrived since the last (`has_new_depth_frame` /
`get_last_depth_frame`: a flat copy of 512x424 uint16 millimetres, per PyKinect2's master). PyKinect2
runs one reader per stream and drops the depth frame's RelativeTime, so the image attached is the
latest one, up to one frame period off the body frame's time; never repeated, so a frame whose depth
did not arrive in time has none (Frame.depth None).

A sensor that says it is available and sends nothing for REOPEN_AFTER_S is started again (its runtime
closed and made anew); a runtime that cannot start then (the Kinect service restarting) is tried again
after `retry_s`, doubling up to `max_retry_s` (live.kinect_common.ReopenBackoff, as kinect-next's source).
"""

from __future__ import annotations

import _ctypes
import importlib.util
import logging
import re
import sys
import time
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from core.camera import KINECT_FPS, ColorCamera
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

TICKS_PER_SECOND = 10_000_000
FRAME_SOURCE_COLOR = 1  # FrameSourceTypes_Color
FRAME_SOURCE_DEPTH = 8  # FrameSourceTypes_Depth
FRAME_SOURCE_BODY = 32  # FrameSourceTypes_Body
DEPTH_SHAPE = (424, 512)  # depth image (height, width), uint16 millimetres
# What a failed call into the SDK raises: comtypes (PyKinect2's CoordinateMapper, say) raises a failed HRESULT
# as COMError, which exists on Windows only; ctypes' own calls raise OSError.
SDK_CALL_ERRORS: tuple[type[Exception], ...] = (
    (OSError, _ctypes.COMError) if hasattr(_ctypes, "COMError") else (OSError,))

# PyKinect2 from its GitHub master as an archive (no git needed): its PyPI release is older and breaks in
# more places, and the package metadata cannot name the URL (PyPI refuses direct references).
PYKINECT2_FROM_GITHUB = 'python -m pip install "https://github.com/Kinect/PyKinect2/archive/refs/heads/master.zip"'
INSTALL_HINT = (f"install the Kinect for Windows Runtime 2.0, then `{pip_install('kinect-pykinect2')}` "
                f"(comtypes) and `{PYKINECT2_FROM_GITHUB}` (PyKinect2 from its GitHub master)")


@dataclass(frozen=True)
class SourceFix:
    """One textual fix for a known PyKinect2 breakage."""

    name: str
    pattern: re.Pattern[str]
    replacement: str


PYKINECT2_FIXES: tuple[SourceFix, ...] = (
    SourceFix(
        "64-bit struct-size asserts",
        re.compile(r"^([ \t]*)assert\s+sizeof\(.*$", re.MULTILINE),
        r"\1pass  # struct-size assert removed: it holds only for 32-bit Python",
    ),
    SourceFix(
        "comtypes _check_version",
        re.compile(r"^([ \t]*)(?!#)(?:from comtypes import _check_version;?\s*)?_check_version\(.*\).*$",
                   re.MULTILINE),
        r"\1pass  # comtypes version check removed: comtypes >= 1.2 rejects the empty version",
    ),
    SourceFix(
        "numpy.distutils import",
        re.compile(r"^([ \t]*)(import numpy\.distutils.*|from numpy\.distutils.*)$", re.MULTILINE),
        r"\1pass  # numpy.distutils is gone in Python 3.12 / NumPy 2 and was unused",
    ),
    SourceFix("time.clock", re.compile(r"\btime\.clock\(\)"), "time.perf_counter()"),
    SourceFix("numpy.object", re.compile(r"\b(numpy|np)\.object\b"), "object"),
    SourceFix(
        "PyObject_AsWriteBuffer",
        re.compile(r"ctypes\.pythonapi\.PyObject_AsWriteBuffer\b"),
        'type("PyObjectAsWriteBufferRemoved", (), {})()',
    ),
    # The generated module declares `coding: mbcs`, a Windows-only codec; the text is ASCII.
    SourceFix("mbcs coding cookie", re.compile(r"^#.*coding[:=]\s*mbcs.*$", re.MULTILINE),
              "# (coding: ascii)"),
)


def patch_pykinect2_source(text: str) -> tuple[str, list[str]]:
    """Apply PYKINECT2_FIXES to one module's source; returns the new text and the fixes that matched."""
    applied = []
    for fix in PYKINECT2_FIXES:
        text, count = fix.pattern.subn(fix.replacement, text)
        if count:
            applied.append(f"{fix.name} (x{count})")
    return text, applied


def load_pykinect2() -> tuple[types.ModuleType, types.ModuleType, list[str]]:
    """Import pykinect2's PyKinectV2 and PyKinectRuntime with the fixes applied.

    Returns (PyKinectV2, PyKinectRuntime, fixes applied). Raises SourceUnavailable with one line
    saying what is missing when the package or the SDK runtime is absent. Loading twice returns the
    modules already loaded.
    """
    loaded = sys.modules.get("pykinect2.PyKinectRuntime")
    if loaded is not None and getattr(loaded, "__where_to_focus_fixes__", None) is not None:
        return sys.modules["pykinect2.PyKinectV2"], loaded, list(loaded.__where_to_focus_fixes__)
    spec = importlib.util.find_spec("pykinect2")
    if spec is None or not spec.submodule_search_locations:
        raise SourceUnavailable(f"pykinect2 is not installed: {INSTALL_HINT}")
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    package = sys.modules.get("pykinect2")
    if package is None:
        package = importlib.util.module_from_spec(spec)
        sys.modules["pykinect2"] = package
        if spec.loader is not None:
            spec.loader.exec_module(package)
    all_fixes: list[str] = []
    modules = []
    for name in ("PyKinectV2", "PyKinectRuntime"):
        path = package_dir / f"{name}.py"
        if not path.is_file():
            raise SourceUnavailable(f"pykinect2 at {package_dir} has no {name}.py: {INSTALL_HINT}")
        text, fixes = patch_pykinect2_source(path.read_text(encoding="utf-8", errors="replace"))
        all_fixes += [f"{name}: {fix}" for fix in fixes]
        module = types.ModuleType(f"pykinect2.{name}")
        module.__file__ = str(path)
        module.__package__ = "pykinect2"
        sys.modules[module.__name__] = module
        setattr(package, name, module)
        try:
            exec(compile(text, str(path), "exec"), module.__dict__)
        except (ImportError, AttributeError, OSError, AssertionError) as error:
            sys.modules.pop(module.__name__, None)
            raise SourceUnavailable(f"pykinect2 {name} failed to load ({type(error).__name__}: {error}); "
                                    f"{INSTALL_HINT}") from error
        modules.append(module)
    modules[1].__where_to_focus_fixes__ = tuple(all_fixes)
    return modules[0], modules[1], all_fixes


def _is_available(runtime: Any) -> bool:
    """The sensor's IsAvailable flag (False while unplugged); True when the runtime cannot say."""
    sensor = getattr(runtime, "_sensor", None)
    if sensor is None:
        return False
    try:
        return bool(sensor.IsAvailable)
    except Exception:  # COMError while the service restarts: treat as unplugged
        return False


class KinectSource:
    """Live Kinect v2 colour + bodies (+ depth). `connected` is False while the sensor is unplugged.

    `runtime_factory(frame_source_types)` builds the PyKinect2 runtime; by default
    `PyKinectRuntime.PyKinectRuntime` after `load_pykinect2`. `platform` is injectable so the
    "not on Windows" message can be tested.
    """

    name = "kinect"
    stops_when_paused = False  # a sensor keeps sending; paused, the capture thread discards its frames

    def __init__(
        self,
        *,
        runtime_factory: Callable[[int], Any] | None = None,
        platform: str = sys.platform,
        reopen_after_s: float = REOPEN_AFTER_S,
        startup_grace_s: float = STARTUP_GRACE_S,
        retry_s: float = RETRY_S,
        max_retry_s: float = MAX_RETRY_S,
        poll_s: float = 0.002,
        color: bool = True,
        depth: bool = True,
    ) -> None:
        self._factory = runtime_factory
        self.color = color  # read the colour camera (KinectNextSource says when not)
        self.depth = depth
        self._platform = platform
        self._reopen_after_s = reopen_after_s
        self._backoff = ReopenBackoff(retry_s, max_retry_s)
        self._opened = False
        self._poll_s = poll_s
        self._runtime: Any = None
        self._color = LatestColor()
        self._mapping = JointMapping(SDK_CALL_ERRORS)
        self._first_timestamp: float | None = None  # of the first frame read: indices count from it
        self._last_frame_at = 0.0
        self._silence = SilenceLog()
        self._unavailable = UnavailableLog(startup_grace_s)
        self.connected = False
        # The SDK maps joints to colour pixels itself (Body.joints_color, which the glimpse prefers);
        # the pipeline's DEFAULT_CAMERA then only sizes the part boxes from the joints' depth.
        self.camera: ColorCamera | None = None
        self.color_shape: tuple[int, int] | None = COLOR_SHAPE if color else None
        self.fps = KINECT_FPS
        self.fixes: list[str] = []

    def open(self) -> None:
        if self._factory is None:
            if not self._platform.startswith("win"):
                raise SourceUnavailable(needs_windows("--source kinect:pykinect2", self._platform))
            _, runtime_module, self.fixes = load_pykinect2()
            if self.fixes:
                log.info("pykinect2 compatibility fixes applied: %s", "; ".join(self.fixes))
            self._factory = runtime_module.PyKinectRuntime
        try:
            self._start_runtime()
        except OSError as error:  # kinect20.dll missing
            message = f"the Kinect runtime could not start ({error}); {INSTALL_HINT}"
            raise SourceUnavailable(message) from error
        self._opened = True

    def _start_runtime(self) -> None:
        assert self._factory is not None
        streams = FRAME_SOURCE_BODY | (FRAME_SOURCE_COLOR if self.color else 0)
        self._runtime = self._factory(streams | (FRAME_SOURCE_DEPTH if self.depth else 0))
        self._last_frame_at = time.monotonic()
        self.connected = _is_available(self._runtime)
        self._unavailable.opened(self.connected)

    def read(self, timeout: float = 0.1) -> Frame | None:
        """The next body frame with the latest colour image, or None after `timeout` without one."""
        if not self._opened:
            raise RuntimeError("KinectSource.read before open()")
        if self._runtime is None:  # a reopen failed: tried again once its backoff is over
            wait = self._backoff.wait_left()
            if wait > 0:
                time.sleep(min(timeout, wait))
            else:
                self._restart()
            return None
        deadline = time.monotonic() + timeout
        while True:
            now = time.monotonic()
            if not _is_available(self._runtime):
                self.connected = False
                self._unavailable.unavailable()
            elif not self.connected:
                self.connected = True
                self._unavailable.available("waiting for frames")
                self._last_frame_at = now
            if self.connected and self._runtime.has_new_body_frame():
                frame = self._frame(self._runtime.get_last_body_frame())
                if frame is not None:
                    self._last_frame_at = now
                    self._silence.frame_came()
                    return frame
            elif self.connected and now - self._last_frame_at > self._reopen_after_s:
                # Available but silent (e.g. after a replug the old readers can stay dead): start over.
                self._silence.reopening(f"no Kinect frames for {now - self._last_frame_at:.1f} s although "
                                        "the sensor is available")
                self._restart()
            if now >= deadline:
                return None
            time.sleep(self._poll_s)

    def _restart(self) -> None:
        """Start the runtime again; one that cannot start (the Kinect service restarting: a failed HRESULT)
        is tried again later, as kinect-next's source does: raised, it ended the capture."""
        self._close_runtime()
        try:
            self._start_runtime()
        except SDK_CALL_ERRORS as error:
            self._backoff.failed(error)
            self.connected = False
            self._unavailable.unavailable()
        else:
            self._backoff.opened()

    def _frame(self, body_frame: Any) -> Frame | None:
        if body_frame is None or getattr(body_frame, "bodies", None) is None:
            return None
        timestamp = float(body_frame.relative_time) / TICKS_PER_SECOND
        if self._first_timestamp is None:
            self._first_timestamp = timestamp
        if self.color and self._runtime.has_new_color_frame():
            flat = self._runtime.get_last_color_frame()
            if flat is not None:
                bgra = np.asarray(flat, dtype=np.uint8).reshape(COLOR_SHAPE[0], COLOR_SHAPE[1], 4)
                # Converted once into contiguous BGR (~1 ms): copying the BGR view of BGRA into the ring
                # takes 22-35 ms at 1080p
                # (benchmarks/privacy_blur.py), near a whole frame period.
                self._color.arrived(cv2.cvtColor(bgra, cv2.COLOR_BGRA2BGR), timestamp)
        depth = None
        if self.depth and self._runtime.has_new_depth_frame():
            flat = self._runtime.get_last_depth_frame()
            if flat is not None:
                depth = np.asarray(flat, dtype=np.uint16).reshape(DEPTH_SHAPE)
        tracked = [self._body(b) for b in body_frame.bodies if b is not None and b.is_tracked]
        bodies = [body for body in tracked if body is not None]
        return Frame(
            timestamp=timestamp,
            color=self._color.for_tick(timestamp),
            bodies=bodies,
            index=round((timestamp - self._first_timestamp) * KINECT_FPS),
            depth=depth,
        )

    def _body(self, body: Any) -> Body | None:
        joints = np.zeros((JOINT_COUNT, 3), np.float32)
        states = np.zeros(JOINT_COUNT, np.int8)
        sdk_joints = [body.joints[j] for j in range(JOINT_COUNT)]
        for j, joint in enumerate(sdk_joints):
            joints[j] = (joint.Position.x, joint.Position.y, joint.Position.z)
            states[j] = joint.TrackingState
        joints_color = self._mapping.pixels(sdk_joints, self._runtime.body_joint_to_color_space)
        return sensor_body(int(body.tracking_id), joints, states, joints_color)

    def _close_runtime(self) -> None:
        self._color.forget()  # no image kept once closed; a restarted runtime's clock starts over
        self._first_timestamp = None  # so frames are numbered from its first one again
        if self._runtime is not None:
            try:
                self._runtime.close()
            except Exception as error:  # closing a runtime whose sensor vanished can raise COMError
                log.debug("closing the Kinect runtime: %s", error)
            self._runtime = None

    def set_paused(self, paused: bool) -> None:
        """A sensor cannot be paused: the capture thread keeps reading and discards while paused."""

    def close(self) -> None:
        self._close_runtime()
        self._opened = False
        self.connected = False
