"""An in-process stand-in for the Kinect for Windows runtime, beneath the real kinect-next package.

kinect-next reaches the sensor only through its native layer:

    kinect_next.native.win32   get_default_kinect_sensor (Kinect20.dll's GetDefaultKinectSensor),
                               create_event / set_event / close_handle / wait_for_multiple_objects
                               (kernel32), which it imports into kinect_next.core.sensor
    COM objects                every other call: IKinectSensor, readers, frames, bodies, the mapper,
                               called through their vtables by kinect_next.native.com_base.COMBase

`KinectRuntime.install(monkeypatch)` replaces exactly those win32 functions. The pointer its
GetDefaultKinectSensor returns is a real COM object in this process, a struct whose first field
points at a table of C function pointers (ctypes callbacks), laid out in the slot order kinect-next's
interface classes declare. Everything above it runs unmodified: vtable dispatch, HRESULT handling,
struct layouts, reference counting, frame-arrived events, FrameSet assembly, the CoordinateMapper.

The device is scripted: `tick(...)` is one sensor tick (bodies, maybe a colour image, maybe a depth
image, sensor clock);
`unplug()` / `plug()`. `live_objects()` lists the COM objects nobody released (a leak check).
"""

from __future__ import annotations

import ctypes
import itertools
import threading
from ctypes import POINTER, c_int, c_longlong, c_ubyte, c_uint, c_ulong, c_ulonglong, c_ushort, c_void_p
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
from kinect_next.native import interfaces
from kinect_next.native.com_base import COMBase
from kinect_next.native.types import (
    CameraSpacePoint,
    ColorSpacePoint,
    JointNative,
    JointOrientationNative,
    PointF,
    Vector4Native,
)

HRESULT = ctypes.c_long
S_OK = 0
E_NOTIMPL = 0x80004001 - 2**32
E_PENDING = 0x8000000A - 2**32
E_INVALIDARG = 0x80070057 - 2**32
E_FAIL = 0x80004005 - 2**32
WAIT_OBJECT_0, WAIT_TIMEOUT, WAIT_FAILED, INFINITE = 0, 0x102, 0xFFFFFFFF, 0xFFFFFFFF
BGRA = 3  # ColorImageFormat_Bgra
TICKS_PER_SECOND = 10_000_000
COLOR_SHAPE = (1080, 1920, 4)
BODY_SLOTS = 6

# The stand-in's colour camera (CoordinateMapper): the nominal intrinsics, deliberately not the
# project's DEFAULT_CAMERA, so a test can tell the mapper's pixels from the project's own projection.
FX = FY = 1081.37
CX, CY = 959.5, 539.5


def color_pixel(xyz: np.ndarray) -> tuple[float, float]:
    """What this runtime's MapCameraPointToColorSpace returns (-inf where it cannot map)."""
    x, y, z = (float(v) for v in xyz)
    if not z > 0.1:
        return float("-inf"), float("-inf")
    return CX + FX * x / z, CY - FY * y / z


def _put(pointer: int, ctype: Any, value: Any) -> None:
    ctypes.cast(pointer, POINTER(ctype))[0] = value


# ---- COM objects ------------------------------------------------------------------------------------

class _ComStruct(ctypes.Structure):
    _fields_ = [("vtable", c_void_p)]


_LIVE: dict[int, ComObject] = {}  # address -> object, for the callbacks (which get only `this`)
_VTABLES: dict[type, tuple[Any, list[Any]]] = {}  # per class: the table and its callbacks, kept alive


class ComObject:
    """A Python object exposed as a COM object. Subclasses name kinect-next's wrapper class (whose
    `_vtable_` gives the slot order) and define the methods they implement under their Kinect.h names,
    with the C argument types (after `this`) in `signatures`. Other slots answer E_NOTIMPL."""

    interface: ClassVar[type[COMBase]] = COMBase
    signatures: ClassVar[dict[str, tuple[Any, ...]]] = {}

    def __init__(self, runtime: KinectRuntime) -> None:
        self.runtime = runtime
        self.refs = 1  # the caller that receives the pointer owns this reference
        self._struct = _ComStruct(ctypes.addressof(self._vtable()))
        self.address = ctypes.addressof(self._struct)
        _LIVE[self.address] = self
        runtime.created += 1

    @classmethod
    def _vtable(cls) -> Any:
        if cls not in _VTABLES:
            names = ("QueryInterface", "AddRef", "Release", *cls.interface._vtable_)
            table = (c_void_p * len(names))()
            callbacks = []
            for slot, name in enumerate(names):
                if name in ("AddRef", "Release"):
                    callback = ctypes.CFUNCTYPE(c_ulong, c_void_p)(_refcount(name))
                elif name in cls.signatures:
                    callback = ctypes.CFUNCTYPE(HRESULT, c_void_p, *cls.signatures[name])(_dispatch(name))
                else:
                    callback = ctypes.CFUNCTYPE(HRESULT, c_void_p)(lambda this: E_NOTIMPL)
                callbacks.append(callback)
                table[slot] = ctypes.cast(callback, c_void_p).value
            _VTABLES[cls] = (table, callbacks)
        return _VTABLES[cls][0]

    def add_ref(self) -> int:
        self.refs += 1
        return self.refs

    def release(self) -> int:
        self.refs -= 1
        if self.refs == 0:
            _LIVE.pop(self.address, None)
        if self.refs < 0:
            self.runtime.errors.append(f"{type(self).__name__} released more often than referenced")
        return max(self.refs, 0)

    def give(self, out: int) -> int:
        """Hand this object out through an interface out-pointer."""
        _put(out, c_void_p, self.address)
        return S_OK


def _refcount(name: str):
    def call(this: int) -> int:
        obj = _LIVE.get(this)
        if obj is None:
            return 0
        return obj.add_ref() if name == "AddRef" else obj.release()
    return call


def _dispatch(name: str):
    def call(this: int, *args: Any) -> int:
        obj = _LIVE.get(this)
        if obj is None:  # a call on a released object: in C this would be a use-after-free
            for runtime in KinectRuntime.instances:
                runtime.errors.append(f"{name} on a released COM object 0x{this:x}")
            return E_FAIL
        try:
            return getattr(obj, name)(*args)
        except Exception as error:  # an exception cannot cross into C: record it and fail the call
            obj.runtime.errors.append(f"{type(obj).__name__}.{name}: {error!r}")
            return E_FAIL
    return call


class EventArgs(ComObject):
    """Event data (IMultiSourceFrameArrivedEventArgs); kinect-next only releases it."""


class Mapper(ComObject):
    interface = interfaces.ICoordinateMapper
    signatures = {"MapCameraPointToColorSpace": (CameraSpacePoint, c_void_p)}

    def MapCameraPointToColorSpace(self, point: CameraSpacePoint, out: int) -> int:  # noqa: N802
        self.runtime.mapped += 1
        if self.runtime.map_fails:
            return E_FAIL
        u, v = color_pixel(np.array([point.x, point.y, point.z]))
        _put(out, ColorSpacePoint, ColorSpacePoint(u, v))
        return S_OK


@dataclass
class SensorBody:
    """One body slot of a tick: joints (25, 3) metres, tracking states (25,), a tracking id."""

    tracking_id: int
    joints: np.ndarray
    states: np.ndarray
    tracked: bool = True
    hand_left: int = 2  # HandState Open
    hand_right: int = 3  # Closed


class BodyObject(ComObject):
    interface = interfaces.IBody
    signatures = {
        "GetJoints": (c_uint, c_void_p),
        "GetJointOrientations": (c_uint, c_void_p),
        **{name: (c_void_p,) for name in (
            "get_HandLeftState", "get_HandLeftConfidence", "get_HandRightState", "get_HandRightConfidence",
            "get_ClippedEdges", "get_TrackingId", "get_IsTracked", "get_IsRestricted", "get_Lean",
            "get_LeanTrackingState")},
    }

    def __init__(self, runtime: KinectRuntime, body: SensorBody | None) -> None:
        super().__init__(runtime)
        self.body = body

    def GetJoints(self, count: int, out: int) -> int:  # noqa: N802
        if self.body is None or count != 25:
            return E_INVALIDARG
        joints = ctypes.cast(out, POINTER(JointNative * count)).contents
        for j in range(count):
            joints[j] = JointNative(j, CameraSpacePoint(*(float(v) for v in self.body.joints[j])),
                                    int(self.body.states[j]))
        return S_OK

    def GetJointOrientations(self, count: int, out: int) -> int:  # noqa: N802
        orientations = ctypes.cast(out, POINTER(JointOrientationNative * count)).contents
        for j in range(count):
            orientations[j] = JointOrientationNative(j, Vector4Native(0.0, 0.0, 0.0, 1.0))
        return S_OK

    def get_HandLeftState(self, out: int) -> int:  # noqa: N802
        _put(out, c_int, self.body.hand_left if self.body else 0)
        return S_OK

    def get_HandRightState(self, out: int) -> int:  # noqa: N802
        _put(out, c_int, self.body.hand_right if self.body else 0)
        return S_OK

    def get_HandLeftConfidence(self, out: int) -> int:  # noqa: N802
        _put(out, c_int, 1)
        return S_OK

    get_HandRightConfidence = get_HandLeftConfidence

    def get_ClippedEdges(self, out: int) -> int:  # noqa: N802
        _put(out, c_ulong, 0)
        return S_OK

    def get_TrackingId(self, out: int) -> int:  # noqa: N802
        _put(out, c_ulonglong, self.body.tracking_id if self.body else 0)
        return S_OK

    def get_IsTracked(self, out: int) -> int:  # noqa: N802
        _put(out, c_ubyte, int(self.body is not None and self.body.tracked))
        return S_OK

    def get_IsRestricted(self, out: int) -> int:  # noqa: N802
        _put(out, c_ubyte, 0)
        return S_OK

    def get_Lean(self, out: int) -> int:  # noqa: N802
        _put(out, PointF, PointF(0.0, 0.0))
        return S_OK

    def get_LeanTrackingState(self, out: int) -> int:  # noqa: N802
        _put(out, c_int, 0)
        return S_OK


@dataclass
class Tick:
    """What the sensor produced at one instant."""

    time: int  # sensor clock, 100 ns ticks
    bodies: list[SensorBody]
    color: np.ndarray | None  # (1080, 1920, 4) BGRA, None: no colour image this tick
    color_time: int = 0
    depth: np.ndarray | None = None  # (424, 512) uint16 mm, None: no depth image this tick


class BodyFrame(ComObject):
    interface = interfaces.IBodyFrame
    signatures = {"GetAndRefreshBodyData": (c_uint, c_void_p), "get_FloorClipPlane": (c_void_p,),
                  "get_RelativeTime": (c_void_p,)}

    def __init__(self, runtime: KinectRuntime, tick: Tick) -> None:
        super().__init__(runtime)
        self.tick = tick

    def GetAndRefreshBodyData(self, count: int, out: int) -> int:  # noqa: N802
        if count != BODY_SLOTS:
            return E_INVALIDARG
        slots = ctypes.cast(out, POINTER(c_void_p * count)).contents
        for i in range(count):
            body = self.tick.bodies[i] if i < len(self.tick.bodies) else None
            slots[i] = BodyObject(self.runtime, body).address  # new objects: the caller releases them
        return S_OK

    def get_FloorClipPlane(self, out: int) -> int:  # noqa: N802
        _put(out, Vector4Native, Vector4Native(0.0, 1.0, 0.0, 1.2))
        return S_OK

    def get_RelativeTime(self, out: int) -> int:  # noqa: N802
        _put(out, c_longlong, self.tick.time)
        return S_OK


class ColorFrame(ComObject):
    interface = interfaces.IColorFrame
    signatures = {"CopyConvertedFrameDataToArray": (c_uint, c_void_p, c_int), "get_RelativeTime": (c_void_p,)}

    def __init__(self, runtime: KinectRuntime, tick: Tick) -> None:
        super().__init__(runtime)
        self.tick = tick

    def CopyConvertedFrameDataToArray(self, capacity: int, buffer: int, image_format: int) -> int:  # noqa: N802
        color = self.tick.color
        if image_format != BGRA or color is None or capacity != color.nbytes:
            return E_INVALIDARG
        ctypes.memmove(buffer, np.ascontiguousarray(color).ctypes.data, capacity)
        return S_OK

    def get_RelativeTime(self, out: int) -> int:  # noqa: N802
        _put(out, c_longlong, self.tick.color_time or self.tick.time)
        return S_OK


class DepthFrame(ComObject):
    interface = interfaces.IDepthFrame
    signatures = {"CopyFrameDataToArray": (c_uint, c_void_p), "get_RelativeTime": (c_void_p,),
                  "get_DepthMinReliableDistance": (c_void_p,), "get_DepthMaxReliableDistance": (c_void_p,)}

    def __init__(self, runtime: KinectRuntime, tick: Tick) -> None:
        super().__init__(runtime)
        self.tick = tick

    def CopyFrameDataToArray(self, capacity: int, buffer: int) -> int:  # noqa: N802
        depth = self.tick.depth  # the capacity counts uint16 pixels, as in Kinect.h
        if depth is None or capacity != depth.size or depth.dtype != np.uint16:
            return E_INVALIDARG
        ctypes.memmove(buffer, np.ascontiguousarray(depth).ctypes.data, depth.nbytes)
        return S_OK

    def get_RelativeTime(self, out: int) -> int:  # noqa: N802
        _put(out, c_longlong, self.tick.time)
        return S_OK

    def get_DepthMinReliableDistance(self, out: int) -> int:  # noqa: N802
        _put(out, c_ushort, 500)
        return S_OK

    def get_DepthMaxReliableDistance(self, out: int) -> int:  # noqa: N802
        _put(out, c_ushort, 4500)
        return S_OK


class FrameReference(ComObject):
    signatures = {"AcquireFrame": (c_void_p,), "get_RelativeTime": (c_void_p,)}

    def __init__(self, runtime: KinectRuntime, tick: Tick) -> None:
        super().__init__(runtime)
        self.tick = tick

    def get_RelativeTime(self, out: int) -> int:  # noqa: N802
        _put(out, c_longlong, self.tick.time)
        return S_OK


class ColorReference(FrameReference):
    interface = interfaces.IColorFrameReference

    def AcquireFrame(self, out: int) -> int:  # noqa: N802
        if self.tick.color is None:  # no colour image this tick (low light): the SDK fails the acquire
            return E_PENDING
        return ColorFrame(self.runtime, self.tick).give(out)


class DepthReference(FrameReference):
    interface = interfaces.IDepthFrameReference

    def AcquireFrame(self, out: int) -> int:  # noqa: N802
        if self.tick.depth is None:
            return E_PENDING
        return DepthFrame(self.runtime, self.tick).give(out)


class BodyReference(FrameReference):
    interface = interfaces.IBodyFrameReference

    def AcquireFrame(self, out: int) -> int:  # noqa: N802
        return BodyFrame(self.runtime, self.tick).give(out)


class MultiSourceFrame(ComObject):
    interface = interfaces.IMultiSourceFrame
    signatures = {"get_ColorFrameReference": (c_void_p,), "get_BodyFrameReference": (c_void_p,),
                  "get_DepthFrameReference": (c_void_p,)}

    def __init__(self, runtime: KinectRuntime, tick: Tick) -> None:
        super().__init__(runtime)
        self.tick = tick

    def get_ColorFrameReference(self, out: int) -> int:  # noqa: N802
        return ColorReference(self.runtime, self.tick).give(out)

    def get_BodyFrameReference(self, out: int) -> int:  # noqa: N802
        return BodyReference(self.runtime, self.tick).give(out)

    def get_DepthFrameReference(self, out: int) -> int:  # noqa: N802
        return DepthReference(self.runtime, self.tick).give(out)


class Reader(ComObject):
    interface = interfaces.IMultiSourceFrameReader
    signatures = {
        "SubscribeMultiSourceFrameArrived": (c_void_p,),
        "UnsubscribeMultiSourceFrameArrived": (c_void_p,),
        "GetMultiSourceFrameArrivedEventData": (c_void_p, c_void_p),
        "AcquireLatestFrame": (c_void_p,),
    }

    def __init__(self, runtime: KinectRuntime, source_types: int) -> None:
        super().__init__(runtime)
        self.source_types = source_types
        self.handle = 0
        self.pending: Tick | None = None
        self.dead = False  # after a replug that the old readers do not survive

    def SubscribeMultiSourceFrameArrived(self, out: int) -> int:  # noqa: N802
        # The SDK's handle stays signalled until its event data is fetched: a manual-reset event.
        self.handle = self.runtime.events.create_event(manual_reset=True)
        _put(out, c_void_p, self.handle)
        return S_OK

    def UnsubscribeMultiSourceFrameArrived(self, handle: int) -> int:  # noqa: N802
        self.runtime.events.close_handle(handle)
        self.handle = 0
        return S_OK

    def GetMultiSourceFrameArrivedEventData(self, handle: int, out: int) -> int:  # noqa: N802
        self.runtime.events.reset_event(handle)
        return EventArgs(self.runtime).give(out)

    def AcquireLatestFrame(self, out: int) -> int:  # noqa: N802
        with self.runtime.lock:
            tick, self.pending = self.pending, None
        if tick is None:
            return E_PENDING
        return MultiSourceFrame(self.runtime, tick).give(out)

    def deliver(self, tick: Tick) -> None:
        if self.dead or not self.handle:
            return
        with self.runtime.lock:
            self.pending = tick  # the latest frame replaces one nobody acquired, as on the sensor
        self.runtime.events.set_event(self.handle)


class Sensor(ComObject):
    interface = interfaces.IKinectSensorNative
    signatures = {
        "Open": (), "Close": (), "get_IsOpen": (c_void_p,), "get_IsAvailable": (c_void_p,),
        "get_CoordinateMapper": (c_void_p,), "OpenMultiSourceFrameReader": (c_ulong, c_void_p),
    }

    def __init__(self, runtime: KinectRuntime) -> None:
        super().__init__(runtime)
        self.is_open = False

    def Open(self) -> int:  # noqa: N802
        self.runtime.opens += 1
        if self.runtime.open_fails:
            return E_FAIL
        self.is_open = True
        return S_OK

    def Close(self) -> int:  # noqa: N802
        self.is_open = False
        return S_OK

    def get_IsOpen(self, out: int) -> int:  # noqa: N802
        _put(out, c_ubyte, int(self.is_open))
        return S_OK

    def get_IsAvailable(self, out: int) -> int:  # noqa: N802
        _put(out, c_ubyte, int(self.is_open and self.runtime.available))
        return S_OK

    def get_CoordinateMapper(self, out: int) -> int:  # noqa: N802
        return Mapper(self.runtime).give(out)

    def OpenMultiSourceFrameReader(self, source_types: int, out: int) -> int:  # noqa: N802
        reader = Reader(self.runtime, source_types)
        self.runtime.readers.append(reader)  # frames go to it for as long as its owner holds it
        return reader.give(out)


# ---- kernel32 events ---------------------------------------------------------------------------------

class Events:
    """Win32 events: auto-reset ones reset when a wait returns them, manual-reset ones stay set."""

    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._events: dict[int, list[bool]] = {}  # handle -> [signalled, manual_reset]
        self._handles = itertools.count(0x1000, 4)

    def create_event(self, manual_reset: bool = False, initial_state: bool = False) -> int:
        with self._condition:
            handle = next(self._handles)
            self._events[handle] = [initial_state, manual_reset]
            return handle

    def set_event(self, handle: Any) -> None:
        with self._condition:
            if handle in self._events:
                self._events[handle][0] = True
                self._condition.notify_all()

    def reset_event(self, handle: Any) -> None:
        with self._condition:
            if handle in self._events:
                self._events[handle][0] = False

    def close_handle(self, handle: Any) -> None:
        with self._condition:
            self._events.pop(handle, None)
            self._condition.notify_all()

    def wait_for_multiple_objects(
        self, handles: Any, wait_all: bool = False, timeout_ms: int = INFINITE
    ) -> int:
        handles = [int(h) for h in handles]
        timeout = None if timeout_ms == INFINITE else timeout_ms / 1000.0

        def ready() -> list[int]:  # [result] once one is signalled (a list: WAIT_OBJECT_0 is 0, falsy)
            for i, handle in enumerate(handles):
                state = self._events.get(handle)
                if state is None:
                    return [WAIT_FAILED]
                if state[0]:
                    if not state[1]:
                        state[0] = False
                    return [WAIT_OBJECT_0 + i]
            return []

        with self._condition:
            result = self._condition.wait_for(ready, timeout)
            return result[0] if result else WAIT_TIMEOUT

    @property
    def open_handles(self) -> int:
        return len(self._events)


# ---- the device ---------------------------------------------------------------------------------------

@dataclass
class KinectRuntime:
    """The scripted sensor and the runtime around it."""

    available: bool = True
    events: Events = field(default_factory=Events)
    readers: list[Reader] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    created: int = 0  # COM objects handed out
    opens: int = 0  # IKinectSensor::Open calls
    open_fails: bool = False  # IKinectSensor::Open fails (E_FAIL), as while the runtime's service restarts
    sensors_requested: int = 0  # GetDefaultKinectSensor calls
    mapped: int = 0  # MapCameraPointToColorSpace calls
    map_fails: bool = False  # MapCameraPointToColorSpace fails (E_FAIL)

    instances: ClassVar[list[KinectRuntime]] = []

    def install(self, monkeypatch: Any) -> KinectRuntime:
        """Put this runtime beneath kinect-next (undone by `monkeypatch` at the end of the test)."""
        import kinect_next.core.sensor
        import kinect_next.native
        import kinect_next.native.win32

        replacements = {
            "get_default_kinect_sensor": self.get_default_kinect_sensor,
            "create_event": self.events.create_event,
            "set_event": self.events.set_event,
            "reset_event": self.events.reset_event,
            "close_handle": self.events.close_handle,
            "wait_for_multiple_objects": self.events.wait_for_multiple_objects,
        }
        for module in (kinect_next.core.sensor, kinect_next.native, kinect_next.native.win32):
            for name, replacement in replacements.items():
                if hasattr(module, name):
                    monkeypatch.setattr(module, name, replacement)
        monkeypatch.setattr(KinectRuntime, "instances", [*KinectRuntime.instances, self])
        return self

    def get_default_kinect_sensor(self) -> c_void_p:
        """Kinect20.dll's GetDefaultKinectSensor: a new reference to the (one) sensor."""
        self.sensors_requested += 1
        return c_void_p(Sensor(self).address)

    def tick(self, seconds: float, bodies: list[SensorBody], color: np.ndarray | None = None,
             color_seconds: float | None = None, depth: np.ndarray | None = None) -> None:
        """One sensor tick at `seconds` on the sensor clock; nothing arrives while unplugged."""
        if not self.available:
            return
        time = round(seconds * TICKS_PER_SECOND)
        color_time = time if color_seconds is None else round(color_seconds * TICKS_PER_SECOND)
        tick = Tick(time, bodies, color, color_time, depth)
        for reader in self.readers:
            if _LIVE.get(reader.address) is reader:
                reader.deliver(tick)

    def unplug(self) -> None:
        self.available = False

    def plug(self, *, readers_resume: bool = True) -> None:
        """The sensor is back. `readers_resume=False`: readers opened before stay silent for good."""
        if not readers_resume:
            for reader in self.readers:
                reader.dead = True
        self.available = True

    def live_objects(self) -> list[str]:
        """COM objects handed out and not released yet."""
        return [f"{type(obj).__name__} x{obj.refs}" for obj in _LIVE.values() if obj.runtime is self]


def standing_body(
    tracking_id: int, x: float = 0.0, z: float = 2.5, states: np.ndarray | None = None
) -> SensorBody:
    """A person whose joint j sits at a position unique to j (joint order is checkable)."""
    joints = np.zeros((25, 3), np.float32)
    joints[:, 0] = x + 0.01 * np.arange(25)
    joints[:, 1] = np.linspace(0.7, -0.9, 25)
    joints[:, 2] = z + 0.001 * np.arange(25)
    if states is None:
        states = np.full(25, 2, np.int8)
    return SensorBody(tracking_id, joints, np.asarray(states, np.int8))


def bgra(value: tuple[int, int, int]) -> np.ndarray:
    """A colour image of one BGR value (alpha 255)."""
    image = np.empty(COLOR_SHAPE, np.uint8)
    image[..., :3] = value
    image[..., 3] = 255
    return image

