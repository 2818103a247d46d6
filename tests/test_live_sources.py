"""Sources: pacing like a sensor, replay of real clips, and the Kinect source without a Kinect."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import textwrap
import time
import types
import warnings
from pathlib import Path

import numpy as np
import pytest

from core.frame import Frame
from live.kinect import KinectSource, load_pykinect2, patch_pykinect2_source
from live.kinect_common import REOPEN_AFTER_S
from live.sources import EndOfStream, FrameStream, Pacer, ReplayOptions, SourceUnavailable, replay_source

REPO = Path(__file__).resolve().parents[1]


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += max(seconds, 0.0)


def frames(count: int, fps: float = 30.0) -> list[Frame]:
    return [Frame(i / fps, None, [], i) for i in range(count)]


def stream(count: int, clock: FakeClock, **options) -> FrameStream:
    source = FrameStream("test", lambda: iter(frames(count)), options=ReplayOptions(**options), fps=30.0,
                         clock=clock, sleep=clock.sleep)
    source.open()
    return source


# ---- pacing ---------------------------------------------------------------------------------------

def test_paced_stream_releases_frames_at_their_timestamps():
    clock = FakeClock()
    source = stream(5, clock)
    start = clock.now
    got = [source.read(timeout=1.0) for _ in range(5)]
    assert [f.index for f in got] == [0, 1, 2, 3, 4]
    assert clock.now - start == pytest.approx(4 / 30)
    with pytest.raises(EndOfStream):
        source.read()


def test_paced_stream_returns_none_when_the_next_frame_is_not_due_within_the_timeout():
    clock = FakeClock()
    source = stream(3, clock)
    assert source.read(timeout=0.01).index == 0
    assert source.read(timeout=0.01) is None  # frame 1 is due in 33 ms
    assert source.read(timeout=0.05).index == 1


def test_a_late_reader_loses_frames_like_on_a_sensor():
    clock = FakeClock()
    source = stream(30, clock)
    assert source.read().index == 0
    clock.now += 0.5  # the reader was away for half a second
    late = source.read()
    assert late.index >= 14  # frames 1..13 are gone: the sensor does not wait
    assert source.skipped == late.index - 1


def test_frames_slower_to_make_than_their_period_play_slower_not_never(caplog):
    """The simulator's picture took 40 ms to render on a loaded computer (33 ms allowed): every frame was
    late once made, each was skipped to catch up, none came out (19 frames in 67 s), and the app blamed
    the sensor's driver. Now it plays on, slower than real time, and says so once."""
    clock = FakeClock()

    def made_in_40_ms():
        for frame in frames(100):
            clock.now += 0.040
            yield frame

    source = FrameStream("sim", made_in_40_ms, fps=30.0, clock=clock, sleep=clock.sleep)
    source.open()
    start = clock.now
    with caplog.at_level(logging.WARNING, logger="live"):
        got = [source.read(timeout=0.1) for _ in range(50)]
    assert all(f is not None for f in got)
    indices = [f.index for f in got]
    assert indices == sorted(indices) and len(set(indices)) == 50
    assert indices[-1] <= 60  # at most a frame passed over now and then, not the stream
    assert clock.now - start < 50 * 0.040 * 1.3
    assert [r.getMessage().split(":")[0] for r in caplog.records] == ["sim"]
    assert "cannot play it in real time, so it plays slower" in caplog.text
    # Made quickly again, frames late because the reader was away are skipped as a sensor's are.
    fast = stream(30, clock)
    assert fast.read().index == 0
    clock.now += 0.5
    assert fast.read().index >= 14 and fast.slowed == 0
    # A reader away for a second on that slow computer: the frames it missed are lost, as on a sensor
    # (rebased at once, the second was hidden: nothing skipped, nothing said), then it plays on.
    slow = FrameStream("sim", made_in_40_ms, fps=30.0, clock=clock, sleep=clock.sleep)
    slow.open()
    assert slow.read().index == 0
    clock.now += 1.0
    assert slow.read().index == slow.skipped + 1 and 29 <= slow.skipped <= 31
    assert slow.read().index == slow.skipped + 2
    # One frame slow to make (another program's moment): played on from it, not called a slow computer.
    def one_slow():
        for frame in frames(60):
            clock.now += 0.2 if frame.index == 10 else 0.0
            yield frame

    caplog.clear()
    once = FrameStream("once", one_slow, fps=30.0, clock=clock, sleep=clock.sleep)
    once.open()
    with caplog.at_level(logging.WARNING, logger="live"):
        assert [once.read(timeout=1.0).index for _ in range(40)] == list(range(40))
    assert once.slowed == 1 and not caplog.records


def test_a_source_that_plays_in_real_time_again_says_so_and_how_far_behind_it_fell(caplog):
    """Said as it ends: a slow spell later in the run is then said again (it was said once a run)."""
    clock = FakeClock()

    def slow_then_quick():
        for frame in frames(30 * 30):
            clock.now += 0.040 if frame.index < 60 or 600 <= frame.index < 660 else 0.0  # two slow spells
            yield frame

    source = FrameStream("sim", slow_then_quick, fps=30.0, clock=clock, sleep=clock.sleep)
    source.open()
    with caplog.at_level(logging.INFO, logger="live"):
        indices = [source.read(timeout=1.0).index for _ in range(800)]
    assert indices == sorted(indices) and len(set(indices)) == 800
    said = ["slower" if "plays slower" in r.getMessage() else "again" for r in caplog.records]
    assert said == ["slower", "again", "slower"]
    again = next(r.getMessage() for r in caplog.records if "real time again" in r.getMessage())
    assert again.startswith("sim: plays in real time again (0.4 s behind its own time in all)")


def test_frames_lost_after_the_last_one_delivered_are_reported_by_the_end_of_stream():
    """A reader late at the very end gets no later frame whose index gap would show the loss: the end
    of the stream says how many frames it passed over since the last one delivered."""
    clock = FakeClock()
    source = stream(10, clock)
    assert source.read().index == 0
    clock.now += 1.0  # away past the end: frames 1-9 are gone
    with pytest.raises(EndOfStream) as end:
        source.read()
    assert end.value.skipped == 9 == source.skipped


def test_pause_stops_the_clock_of_a_replay():
    clock = FakeClock()
    source = stream(10, clock)
    assert source.read().index == 0
    source.set_paused(True)
    assert source.read(timeout=0.1) is None
    clock.now += 10.0
    source.set_paused(False)
    assert source.read().index == 1 and source.skipped == 0


def test_looping_replay_starts_over_one_period_after_the_last_frame():
    clock = FakeClock()
    source = stream(3, clock, loop=True)
    indices = [source.read(timeout=1.0).index for _ in range(7)]
    assert indices == [0, 1, 2, 0, 1, 2, 0] and source.loops == 2
    assert source.skipped == 0


def test_a_looping_replay_keeps_the_sensors_pace_across_the_seam():
    # Each pass starts one frame period after the last frame of the one before: the first frame of a new
    # pass released at the same instant as the last would be two frames in one sensor period (a zero
    # time step for the capture's timeline, the tracks and the worker's hops).
    clock = FakeClock()
    source = stream(3, clock, loop=True)
    released = []
    for _ in range(8):
        source.read(timeout=1.0)
        released.append(clock.now)
    np.testing.assert_allclose(np.diff(released), 1 / 30, atol=1e-9)


def test_fast_replay_does_not_wait():
    clock = FakeClock()
    source = stream(100, clock, realtime=False)
    assert [source.read().index for _ in range(100)][-1] == 99
    assert clock.now == 100.0


def test_pacer_due_times_follow_the_first_frame():
    clock = FakeClock()
    pacer = Pacer(clock)
    assert pacer.due(5.0) == 100.0
    assert pacer.due(5.5) == 100.5
    pacer.pause()
    clock.now += 2.0
    pacer.resume()
    assert pacer.due(5.5) == 102.5


# ---- replay of real recordings --------------------------------------------------------------------

@pytest.fixture()
def ntu_clip(shared_data, tmp_path):
    """The one real RGB + skeleton pair, laid out as a clip (links, not copies: research-only data)."""
    name = "S001C001P001R001A001"
    (tmp_path / f"{name}.skeleton").symlink_to(shared_data / "ntu" / "skeletons" / f"{name}.skeleton")
    (tmp_path / f"{name}_rgb.avi").symlink_to(shared_data / "ntu" / "rgb" / f"{name}_rgb.avi")
    return tmp_path


def read_to_the_end(source) -> list:
    """Every frame a fast replay gives until its EndOfStream; the source is closed after."""
    got = []
    while True:
        try:
            got.append(source.read())
        except EndOfStream:
            source.close()
            return got


def test_replay_of_a_real_ntu_clip_gives_colour_bodies_and_pixels(ntu_clip):
    source = replay_source(ntu_clip, ReplayOptions(realtime=False))
    source.open()
    assert source.color_shape == (1080, 1920) and source.fps == pytest.approx(30.0)
    got = read_to_the_end(source)
    assert len(got) == 103
    first = got[0]
    assert first.color.shape == (1080, 1920, 3) and first.color.dtype == np.uint8
    assert len(first.bodies) == 1
    # NTU's own colour pixels: the head is in the upper half of the image, inside it.
    head = first.bodies[0].joints_color[3]
    assert 0 < head[0] < 1920 and 0 < head[1] < 540
    assert np.all(np.diff([f.timestamp for f in got]) > 0)


def test_a_damaged_xef_plays_up_to_the_damage_then_ends_with_a_warning(tmp_path, caplog):
    from xef_writer import sample_recording

    whole = tmp_path / "room.xef"
    sample_recording(whole, frames=10)
    cut = tmp_path / "cut.xef"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])  # copied off a failing disk
    source = replay_source(cut, ReplayOptions(realtime=False))
    source.open()
    with caplog.at_level("WARNING", "live.sources"):
        got = read_to_the_end(source)
    assert 0 < len(got) < 10
    assert "cut.xef: at byte offset" in caplog.text and "replay ends there" in caplog.text
    # Looped, it is said once, not on every pass (a service log flooded every second and a half).
    caplog.clear()
    looped = replay_source(cut, ReplayOptions(realtime=False, loop=True))
    looped.open()
    with caplog.at_level("WARNING", "live.sources"):
        for _ in range(5 * len(got)):
            looped.read()
    assert looped.loops >= 4 and caplog.text.count("replay ends there (on every pass)") == 1


def test_looping_a_recording_of_one_frame_is_refused_naming_it(tmp_path):
    from xef_writer import sample_recording

    still = tmp_path / "still.xef"
    sample_recording(still, frames=1)
    with pytest.raises(ValueError, match=r"still.xef: 1 frame\(s\); --loop needs a recording of two frames"):
        replay_source(still, ReplayOptions(realtime=False, loop=True))
    once = replay_source(still, ReplayOptions(realtime=False))  # played once, it is fine
    once.open()
    assert len(read_to_the_end(once)) == 1


def test_a_recording_without_frames_is_refused_naming_it(tmp_path):
    """An empty .skeleton (a recorder stopped at once) or an .xef damaged before its first frame: a bad
    source, refused at start-up (exit 2) like an empty PKU-MMD file, not a run of nothing that exits 0."""
    empty = tmp_path / "S001C001P001R001A001.skeleton"
    empty.write_text("0\r\n")
    from xef_writer import sample_recording

    header = tmp_path / "header.xef"
    sample_recording(tmp_path / "room.xef", frames=3)
    header.write_bytes((tmp_path / "room.xef").read_bytes()[:100])
    for path in (empty, header):
        with pytest.raises(ValueError, match=f"{path.name}: no frames"):
            replay_source(path, ReplayOptions(realtime=False))


def test_a_clip_named_by_its_class_number_replays_its_class_as_truth_for_scoring(tmp_path, shared_data):
    """`evaluate --stream` on NTU clips labelled by their A-number and the folder's labels.txt, as training
    reads them: one interval of the class over the whole clip."""
    clip = tmp_path / "S001C001P001R001A050.skeleton"
    clip.symlink_to(shared_data / "ntu" / "skeletons" / clip.name)
    (tmp_path / "labels.txt").write_text("A050\tpunching/slapping other person\n")
    source = replay_source(clip, ReplayOptions(realtime=False), whole_clip_truth=True)
    (interval,) = source.timeline.intervals
    assert interval.label == "punching/slapping other person" and interval.start == 0.0
    source.open()
    assert {body.truth for frame in read_to_the_end(source) for body in frame.bodies} == {interval.label}
    assert replay_source(clip, ReplayOptions(realtime=False)).timeline is None  # the app's replay: none


def test_replay_of_a_missing_path_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.skeleton"):
        replay_source(tmp_path / "nothing.skeleton")


# ---- Kinect: the platform check -------------------------------------------------------------------

def test_kinect_on_a_machine_without_windows_says_so_in_one_line():
    source = KinectSource(platform="linux")
    with pytest.raises(SourceUnavailable) as error:
        source.open()
    message = str(error.value)
    assert "\n" not in message and "Windows" in message and "linux" in message and "--source sim" in message
    assert message.startswith("--source kinect:pykinect2 needs 64-bit Windows")  # by its name


# ---- Kinect: PyKinect2 compatibility fixes ------------------------------------------------------

BROKEN_V2 = '''\
# -*- coding: mbcs -*-
import ctypes
import time
import numpy
import numpy.distutils.system_info as sysinfo
from comtypes import _check_version; _check_version('')
class tagSTATSTG(ctypes.Structure):
    _fields_ = [("a", ctypes.c_void_p), ("b", ctypes.c_void_p)]
assert sizeof(tagSTATSTG) == 72, sizeof(tagSTATSTG)
JointType_Count = 25
FrameSourceTypes_Color = 1
FrameSourceTypes_Body = 32
'''

BROKEN_RUNTIME = '''\
from pykinect2 import PyKinectV2
from pykinect2.PyKinectV2 import *
import ctypes
import numpy
import time

class PyKinectRuntime(object):
    def __init__(self, frame_source_types):
        self._PyObject_AsWriteBuffer = ctypes.pythonapi.PyObject_AsWriteBuffer
        self._PyObject_AsWriteBuffer.restype = ctypes.c_int
        self.started = time.clock()
        self.frame_source_types = frame_source_types

    def bodies(self):
        return numpy.ndarray((6), dtype=numpy.object)
'''


def test_patch_fixes_every_known_breakage():
    text, fixes = patch_pykinect2_source(BROKEN_V2 + BROKEN_RUNTIME)
    assert "_check_version(''" not in text and "assert sizeof" not in text
    assert "import numpy.distutils" not in text
    assert "time.clock()" not in text and "time.perf_counter()" in text
    assert "numpy.object)" not in text and "dtype=object" in text
    assert "ctypes.pythonapi.PyObject_AsWriteBuffer" not in text
    assert "mbcs" not in text
    names = " ".join(fixes)
    for fix in ("struct-size", "_check_version", "numpy.distutils", "time.clock", "numpy.object",
                "PyObject_AsWriteBuffer", "mbcs"):
        assert fix in names
    compile(text, "patched", "exec")  # still valid Python


def test_patch_leaves_fixed_code_alone():
    clean = "import time\nstart = time.perf_counter()\nx = numpy.object_\n"
    assert patch_pykinect2_source(clean) == (clean, [])


@pytest.fixture()
def broken_pykinect2(tmp_path, monkeypatch):
    """A stand-in pykinect2 with the same breakages, and a comtypes whose version check fails."""
    package = tmp_path / "pykinect2"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "PyKinectV2.py").write_text(BROKEN_V2)
    (package / "PyKinectRuntime.py").write_text(BROKEN_RUNTIME)
    comtypes = types.ModuleType("comtypes")

    def check_version(actual, *args):
        raise ImportError("Wrong version")

    comtypes._check_version = check_version
    monkeypatch.setitem(sys.modules, "comtypes", comtypes)
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("pykinect2", "pykinect2.PyKinectV2", "pykinect2.PyKinectRuntime"):
        monkeypatch.delitem(sys.modules, name, raising=False)
    # The stand-in's own modules must fail without the fixes, or the test proves nothing.
    namespace: dict = {}
    with warnings.catch_warnings(), pytest.raises((ImportError, AssertionError, ModuleNotFoundError)):
        warnings.simplefilter("ignore", DeprecationWarning)  # numpy.distutils, where it still exists
        exec(compile(BROKEN_V2, "unpatched", "exec"), namespace)
    yield package
    for name in ("pykinect2", "pykinect2.PyKinectV2", "pykinect2.PyKinectRuntime"):
        sys.modules.pop(name, None)


def test_load_pykinect2_applies_the_fixes_in_memory(broken_pykinect2):
    v2, runtime_module, fixes = load_pykinect2()
    assert v2.JointType_Count == 25
    runtime = runtime_module.PyKinectRuntime(v2.FrameSourceTypes_Color | v2.FrameSourceTypes_Body)
    assert runtime.frame_source_types == 33 and runtime.started > 0
    assert runtime.bodies().dtype == object
    assert any("PyKinectV2" in f and "struct-size" in f for f in fixes)
    assert any("PyKinectRuntime" in f and "numpy.object" in f for f in fixes)
    # The files on disk are untouched.
    assert "assert sizeof" in (broken_pykinect2 / "PyKinectV2.py").read_text()
    assert load_pykinect2()[1] is runtime_module  # loaded once


def test_load_pykinect2_without_the_package_says_how_to_install(monkeypatch):
    import importlib.util

    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(SourceUnavailable, match="pykinect2 is not installed.*Kinect for Windows Runtime"):
        load_pykinect2()


# ---- Kinect: frames, joints mapped to colour, unplug and replug ----------------------------------

class FakeKinect:
    """PyKinect2's runtime surface as KinectSource uses it (attribute names as in PyKinectRuntime)."""

    def __init__(self, frame_source_types: int) -> None:
        self.frame_source_types = frame_source_types
        self._sensor = types.SimpleNamespace(IsAvailable=True)
        self.body_ready = False
        self.color_ready = False
        self.depth_ready = False
        self.ticks = 0
        self.closed = False
        self.map_fails = False  # the CoordinateMapper's calls fail

    def push(self, *, color: bool = True, depth: bool = True, ticks: int | None = None) -> None:
        """A body frame at `ticks` (RelativeTime, 100 ns), by default 1/30 s after the last."""
        self.ticks = self.ticks + 333_333 if ticks is None else ticks
        self.body_ready = True
        self.color_ready = color
        self.depth_ready = depth

    def has_new_depth_frame(self) -> bool:
        return self.depth_ready

    def get_last_depth_frame(self) -> np.ndarray:
        """Like PyKinect2's: a flat uint16 copy of the 512x424 image (here: pixel i reads 500 + i % 3000)."""
        self.depth_ready = False
        return (500 + np.arange(512 * 424) % 3000).astype(np.uint16)

    def has_new_body_frame(self) -> bool:
        return self.body_ready

    def has_new_color_frame(self) -> bool:
        return self.color_ready

    def get_last_color_frame(self) -> np.ndarray:
        self.color_ready = False
        bgra = np.zeros((1080, 1920, 4), np.uint8)
        bgra[..., 0], bgra[..., 1], bgra[..., 2], bgra[..., 3] = 10, 20, 30, 255
        return bgra.reshape(-1)

    def get_last_body_frame(self):
        self.body_ready = False

        def joint(j):
            return types.SimpleNamespace(Position=types.SimpleNamespace(x=0.01 * j, y=0.5, z=2.0),
                                         TrackingState=2 if j != 7 else 1)

        tracked = types.SimpleNamespace(is_tracked=True, tracking_id=72057594037931101,
                                        joints=[joint(j) for j in range(25)])
        untracked = types.SimpleNamespace(is_tracked=False, tracking_id=0, joints=None)
        return types.SimpleNamespace(relative_time=self.ticks, bodies=[tracked, untracked, None])

    def body_joint_to_color_space(self, joint):
        if self.map_fails:  # comtypes raises COMError (Windows only); off Windows the nearest is OSError
            raise OSError("MapCameraPointToColorSpace failed (HRESULT 0x80004005)")
        if joint.Position.x > 0.2:  # the SDK returns -inf for points it cannot map
            return types.SimpleNamespace(x=float("-inf"), y=float("-inf"))
        return types.SimpleNamespace(x=960 + 1000 * joint.Position.x, y=300.0)

    def close(self) -> None:
        self.closed = True


def test_kinect_source_turns_sdk_frames_into_frames():
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda types_: runtimes.append(FakeKinect(types_)) or runtimes[-1],
                          platform="linux")
    source.open()
    runtime = runtimes[0]
    assert runtime.frame_source_types == 1 | 8 | 32 and source.connected  # colour, depth, bodies
    assert source.read(timeout=0.01) is None  # nothing arrived yet
    runtime.push()
    f = source.read(timeout=0.5)
    assert f is not None and f.timestamp == pytest.approx(1 / 30, abs=1e-6) and f.index == 0
    assert f.color.shape == (1080, 1920, 3) and tuple(f.color[0, 0]) == (10, 20, 30)  # BGRA -> BGR
    assert len(f.bodies) == 1  # untracked and empty slots are left out
    b = f.bodies[0]
    assert b.tracking_id == 72057594037931101 and b.joints.dtype == np.float32
    assert b.states[7] == 1 and b.states[0] == 2
    assert b.joints_color[0].tolist() == [960.0, 300.0]
    assert np.isnan(b.joints_color[24]).all()  # unmappable (-inf) -> NaN
    assert f.depth.dtype == np.uint16 and f.depth.shape == (424, 512)
    assert f.depth[0, :3].tolist() == [500, 501, 502] and f.depth[1, 0] == 500 + 512
    runtime.push(color=False, depth=False)  # low light: a body frame without new colour keeps the last one
    f2 = source.read(timeout=0.5)
    assert f2.color is not None and f2.index == 1
    assert f2.depth is None  # depth is never repeated: none arrived for this body frame
    source.close()
    assert runtime.closed and not source.connected


def test_kinect_source_without_colour_and_with_a_colour_stream_that_stalls():
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux", color=False, depth=False)
    source.open()
    assert runtimes[0].frame_source_types == 32 and source.color_shape is None  # bodies only
    runtimes[0].push()
    f = source.read(timeout=0.5)
    assert f.color is None and len(f.bodies) == 1 and source.read(timeout=0.01) is None
    source.close()
    # With colour: an image repeats for ticks without one only within COLOR_REPEAT_S, not for ever.
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux")
    source.open()
    runtimes[-1].push()
    assert source.read(timeout=0.5).color is not None
    repeated = []
    for _ in range(9):
        runtimes[-1].push(color=False)
        repeated.append(source.read(timeout=0.5).color is not None)
    assert all(repeated[:5]) and not any(repeated[6:]), repeated  # 1/30 s apart; 0.2 s
    runtimes[-1].push()
    assert source.read(timeout=0.5).color is not None
    # Restarted (silent for too long): the image is not kept, nor carried into the new runtime's ticks
    # (here the next tick on the same clock, 1/30 s after it).
    source._restart()
    runtimes[-1].ticks = runtimes[-2].ticks
    runtimes[-1].push(color=False)
    assert source.read(timeout=0.5).color is None
    source.close()


def test_kinect_unplugged_is_reported_and_picked_up_again():
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux", reopen_after_s=0.2)
    source.open()
    runtime = runtimes[0]
    runtime.push()
    assert source.read(timeout=0.2) is not None and source.connected
    runtime._sensor.IsAvailable = False  # unplugged
    runtime.push()
    assert source.read(timeout=0.05) is None
    assert not source.connected
    runtime._sensor.IsAvailable = True  # plugged back in, frames flow again
    runtime.push()
    assert source.read(timeout=0.2) is not None and source.connected
    # Available but silent for longer than reopen_after_s: the runtime is started over.
    assert source.read(timeout=0.3) is None
    assert len(runtimes) >= 2 and all(r.closed for r in runtimes[:-1]) and not runtimes[-1].closed
    runtimes[-1].push()
    assert source.read(timeout=0.2) is not None
    source.close()


def test_a_pykinect2_sensor_that_pauses_after_its_first_frames_is_reopened_only_as_late_as_kinect_next(
        monkeypatch):
    """A freshly opened Kinect often pauses again right after its first frames: reopened after 3 s, it was
    restarted again and again (kinect-next waits REOPEN_AFTER_S)."""
    import live.kinect

    clock = FakeClock()
    monkeypatch.setattr(live.kinect, "time", types.SimpleNamespace(monotonic=clock, sleep=clock.sleep))
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux")
    source.open()
    runtimes[0].push()
    assert source.read(timeout=0.1) is not None
    assert source.read(timeout=REOPEN_AFTER_S - 1) is None and len(runtimes) == 1  # a pause: waited out
    assert source.read(timeout=2) is None and len(runtimes) == 2  # silent for longer: reopened
    source.close()


def test_a_pykinect2_runtime_that_cannot_start_again_is_tried_again_later(caplog, monkeypatch):
    """The Kinect service restarting: the reopen of a silent sensor failed (a failed HRESULT) and the error
    ended the capture ("capture failed"). Tried again after a backoff, as kinect-next's source is. The
    failure is said by its HRESULT, not as the COMError's tuple."""
    import live.kinect

    class COMError(Exception):  # _ctypes.COMError's shape (it exists on Windows only)
        def __init__(self, hresult: int, text: str, details: tuple) -> None:
            super().__init__(hresult, text, details)
            self.hresult, self.text, self.details = hresult, text, details

    monkeypatch.setattr(live.kinect, "SDK_CALL_ERRORS", (OSError, COMError))
    runtimes: list[FakeKinect] = []
    failures = iter([True, True, False])

    def service_restarting(frame_source_types: int) -> FakeKinect:
        if runtimes and next(failures):
            raise COMError(-2147467259, "Unspecified error", (None, None, None, 0, None))  # E_FAIL
        runtimes.append(FakeKinect(frame_source_types))
        return runtimes[-1]

    source = KinectSource(runtime_factory=service_restarting, platform="linux", reopen_after_s=0.1,
                          retry_s=0.05, max_retry_s=0.1)
    source.open()
    runtimes[0].push(ticks=round(100.5 * 333_333.3))
    assert source.read(timeout=0.5).index == 0
    with caplog.at_level(logging.WARNING):
        deadline = time.monotonic() + 5
        while len(runtimes) < 2 and time.monotonic() < deadline:
            assert source.read(timeout=0.05) is None  # silent, reopened, failed twice: no error raised
    said = [r.getMessage() for r in caplog.records if "reopening the Kinect failed" in r.getMessage()]
    assert len(runtimes) == 2 and len(said) == 1
    assert said[0].startswith("reopening the Kinect failed (HRESULT 0x80004005 Unspecified error);")
    # kinect-next's failures say which call failed in their own message: kept as they say it.
    from live.kinect_common import sdk_error

    class COMOperationError(Exception):  # kinect_next's: a message and the HRESULT, no text
        def __init__(self, message: str, hresult: int) -> None:
            super().__init__(message)
            self.hresult = hresult

    opened = COMOperationError("IKinectSensor::Open failed (HRESULT: 0x80070015)", 0x80070015)
    assert sdk_error(opened) == "IKinectSensor::Open failed (HRESULT: 0x80070015)"
    assert sdk_error(COMError(-2147467259, None, None)) == "HRESULT 0x80004005"
    assert not any("install the Kinect" in message for message in said)  # it is installed: it ran
    # Its clock started over, at another phase: numbered from its first frame again (from the old clock's
    # first, its frames went -99, -98, ..., or where later, half a period out of step).
    indices = []
    for periods in (200.2, 201.2):
        runtimes[1].push(ticks=round(periods * 333_333.3))
        indices.append(source.read(timeout=0.5).index)
    assert indices == [0, 1] and source.connected
    # Back: an unplug after it is warned of (the failed reopen's warning had stood for it for good).
    with caplog.at_level(logging.WARNING):
        runtimes[1]._sensor.IsAvailable = False
        assert source.read(timeout=0.05) is None and not source.connected
    assert sum("Kinect sensor unavailable" in r.getMessage() for r in caplog.records) == 2
    source.close()
    # The coordinate mapper's failure too (PyKinect2's CoordinateMapper raises COMError).
    from live.kinect_common import JointMapping

    def mapper_fails(joint):
        raise COMError(-2147467259, "Unspecified error", (None, None, None, 0, None))

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        assert np.isnan(JointMapping((COMError,)).pixels([object()], mapper_fails)).all()
    assert "coordinate mapper failed (HRESULT 0x80004005 Unspecified error)" in caplog.text


def test_a_pykinect2_sensor_reported_unavailable_just_after_opening_is_not_warned_of_at_start_or_reopen(
        caplog):
    """The runtime reports a sensor it has just opened unavailable for a moment: "Kinect sensor unavailable"
    was said at every start and every reopen. Said only once that lasts past the start-up grace."""
    runtimes: list[FakeKinect] = []

    def unavailable_at_first(frame_source_types: int) -> FakeKinect:
        runtimes.append(FakeKinect(frame_source_types))
        runtimes[-1]._sensor.IsAvailable = False
        return runtimes[-1]

    def said_unavailable() -> int:
        return sum("unavailable" in r.getMessage() for r in caplog.records)

    source = KinectSource(runtime_factory=unavailable_at_first, platform="linux", reopen_after_s=0.2,
                          startup_grace_s=0.3)
    with caplog.at_level(logging.WARNING):
        source.open()
        assert source.read(timeout=0.05) is None and not source.connected and said_unavailable() == 0
        runtimes[0]._sensor.IsAvailable = True
        runtimes[0].push()
        assert source.read(timeout=0.2) is not None and source.connected
        assert source.read(timeout=0.3) is None and len(runtimes) == 2  # silent: reopened ...
        assert source.read(timeout=0.05) is None and said_unavailable() == 0  # ... and not available yet
        time.sleep(0.3)  # unavailable past the grace: said, once
        assert source.read(timeout=0.05) is None and source.read(timeout=0.05) is None
        assert said_unavailable() == 1 and not source.connected
    source.close()


def test_pykinect2_frames_a_period_apart_are_numbered_one_apart_near_a_half_frame_boundary():
    """Numbered by rounding the clock to frames, 10.49, 11.51 and 12.49 periods went 10, 12, 12: a frame
    counted dropped, then an index twice. Counted from the first frame's, jitter is half a period away."""
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux")
    source.open()
    indices = []
    for periods in (10.49, 11.51, 12.49, 13.51):
        runtimes[0].push(ticks=round(periods * 333_333.3))
        indices.append(source.read(timeout=0.5).index)
    assert np.diff(indices).tolist() == [1, 1, 1], indices
    # A computer that reads every other frame only: each is two periods on, one frame dropped each time (a
    # count of the intervals took each for the next, and "not keeping up" never showed).
    for periods in (15.5, 17.5, 19.5):
        runtimes[0].push(ticks=round(periods * 333_333.3))
        indices.append(source.read(timeout=0.5).index)
    assert np.diff(indices).tolist() == [1, 1, 1, 2, 2, 2], indices
    source.close()


def test_pykinect2_joints_the_mapper_fails_to_map_come_unmapped_and_the_reading_goes_on(caplog):
    """A failed MapCameraPointToColorSpace escaped read() and ended the capture ("capture failed")."""
    runtimes: list[FakeKinect] = []
    source = KinectSource(runtime_factory=lambda t: runtimes.append(FakeKinect(t)) or runtimes[-1],
                          platform="linux")
    source.open()
    runtimes[0].map_fails = True
    with caplog.at_level(logging.INFO):
        for _ in range(2):
            runtimes[0].push()
            body = source.read(timeout=0.5).bodies[0]
            assert np.isnan(body.joints_color).all() and body.joints.any()
        runtimes[0].map_fails = False
        runtimes[0].push()
        assert source.read(timeout=0.5).bodies[0].joints_color[0].tolist() == [960.0, 300.0]
    said = [r.getMessage() for r in caplog.records if "mapper" in r.getMessage()]
    assert len(said) == 2 and "failed" in said[0] and "works again" in said[1], said
    source.close()


def test_kinect_source_modules_import_no_kinect_library():
    """In a fresh interpreter: this test process has imported them already (other tests load the
    stand-in pykinect2 and kinect-next), where the check could never fail."""
    code = textwrap.dedent("""
        import sys
        import live.app, live.kinect, live.kinect_next_source
        loaded = [name for name in ("pykinect2", "comtypes", "kinect_next") if name in sys.modules]
        assert not loaded, f"imported at module level: {loaded}"
    """)
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=120)
    assert result.returncode == 0, result.stderr


def test_kinect_backend_is_chosen_by_the_source_name(tmp_path, caplog):
    from live.app import (
        SourceChoice,
        SourceKind,
        build_parser,
        config_from_args,
        default_privacy,
        open_source,
    )
    from live.kinect_next_source import KinectNextSource
    from live.sources import KinectBackend

    assert SourceChoice.parse("kinect") == SourceChoice(SourceKind.KINECT, KinectBackend.KINECT_NEXT)
    assert SourceChoice.parse("kinect:pykinect2").kinect is KinectBackend.PYKINECT2
    assert SourceChoice.parse("kinect:kinect-next").kinect is KinectBackend.KINECT_NEXT
    assert SourceChoice.parse("sim") == SourceChoice() and str(SourceChoice()) == "sim"
    # A recording named like a source word replays with a path that says it is one.
    for path in ("clips/x.skeleton", "./sim", "kinect.xef"):
        assert SourceChoice.parse(path) == SourceChoice(SourceKind.RECORDING, path=Path(path))
    assert str(SourceChoice.parse("kinect:pykinect2")) == "kinect:pykinect2"
    with pytest.raises(ValueError, match="kinect:pykinect2"):
        SourceChoice.parse("kinect:freenect")

    def config(*argv):
        return config_from_args(build_parser().parse_args(list(argv)))

    assert isinstance(open_source(config("--source", "kinect")), KinectNextSource)
    assert isinstance(open_source(config("--source", "kinect:pykinect2")), KinectSource)
    # A live room films people who did not choose to be filmed: skeleton only unless the site says so.
    assert default_privacy(config("--source", "kinect")).value == "skeleton"
    assert default_privacy(config("--source", "kinect:pykinect2")).value == "skeleton"
    assert default_privacy(config("--source", "kinect", "--privacy", "blur")).value == "blur"
    assert default_privacy(config()).value == "off"  # the simulator: nobody to protect
    # A Kinect Studio capture is the room as the sensor saw it: its patients as protected as live.
    (tmp_path / "ward.xef").write_bytes(b"")
    assert default_privacy(config("--source", str(tmp_path / "ward.xef"))).value == "skeleton"
    # A clip recorded under blur replays (and records again) under blur: its sidecar keeps saying so.
    from core.frame import Frame
    from core.privacy import PrivacyMode
    from recordings.recorder import Recorder, RecorderConfig

    with Recorder(tmp_path, sample_name="S001C001P001R001A121", config=RecorderConfig(min_free_bytes=1),
                  privacy=PrivacyMode.BLUR) as recorder:
        recorder.write(Frame(0.0, np.zeros((36, 64, 3), np.uint8), [], 0))
    clip = str(recorder.files.skeleton)
    assert default_privacy(config("--source", clip)) is PrivacyMode.BLUR
    assert default_privacy(config("--source", clip, "--privacy", "off")) is PrivacyMode.OFF  # the site's call
    # Converted by `recordings convert`, a .xef's clip is still the sensor's unblurred picture: it replayed
    # under off, the .xef under skeleton.
    from xef_writer import sample_recording

    from recordings.__main__ import main as recordings

    sample_recording(tmp_path / "room.xef", frames=3)
    assert recordings(["convert", str(tmp_path / "room.xef"), str(tmp_path / "converted")]) == 0
    converted = str(tmp_path / "converted" / "room.skeleton")
    assert default_privacy(config("--source", converted)) is PrivacyMode.SKELETON
    # A mode this version does not know (a hand edit) was taken as none: the clip replayed under off.
    sidecar = recorder.files.skeleton.with_suffix(".json")
    sidecar.write_text(sidecar.read_text().replace('"privacy": "blur"', '"privacy": "Skeleton"'))
    assert default_privacy(config("--source", clip)) is PrivacyMode.SKELETON
    # Said once at start-up, not once for each time the mode is looked up.
    from live.app import build_pipeline

    with caplog.at_level(logging.WARNING, logger="live"):
        build_pipeline(config("--source", clip, "--headless", "--engine", "pytorch-cpu")).release()
    assert [r.getMessage() for r in caplog.records].count(
        f"{clip}: its sidecar says privacy 'Skeleton', not one of off, blur, skeleton: replayed under "
        "skeleton (--privacy to choose)") == 1
    # Copied without its sidecar, a site's clip looks like NTU's own (research data, off): said so.
    sidecar.unlink()
    with caplog.at_level(logging.INFO, logger="live"):
        build_pipeline(config("--source", clip, "--engine", "pytorch-cpu")).release()
    assert ("privacy: off (the default for this source: a clip with video and no sidecar (.json) is taken "
            "for research data; a site's clip copied without its sidecar shows faces;") in caplog.text


@pytest.mark.skipif(os.name != "posix", reason="a umask is POSIX's; Windows folders have ACLs")
def test_a_room_filmed_under_a_umask_that_lets_everyone_read_is_said(tmp_path, caplog):
    """Under the usual umask 022 a patient's recordings, decisions and events were readable by every
    account on the computer; the README's unit sets UMask=0077, a run by hand did not, and nothing said.
    A site's own clip replayed (its sidecar says so) is of a room too; research data (no sidecar) is not."""
    from xef_writer import sample_recording

    from core.frame import Frame
    from live.app import build_parser, build_pipeline, config_from_args
    from recordings.recorder import Recorder, RecorderConfig

    sample_recording(tmp_path / "room.xef", frames=3)
    with Recorder(tmp_path, sample_name="S001C001P001R001A121",
                  config=RecorderConfig(min_free_bytes=1)) as clip:
        for i in range(3):
            clip.write(Frame(i / 30, np.zeros((36, 64, 3), np.uint8), [], i))

    def said(source: Path) -> list[bool]:
        config = config_from_args(build_parser().parse_args(
            ["--source", str(source), "--headless", "--engine", "pytorch-cpu"]))
        said = []
        before = os.umask(0o022)
        try:
            for mask in (0o022, 0o077, 0o027):
                os.umask(mask)
                caplog.clear()
                with caplog.at_level(logging.WARNING, logger="live"):
                    build_pipeline(config).release()
                said.append("readable by every account on this computer (umask 0022)" in caplog.text)
        finally:
            os.umask(before)
        return said

    with Recorder(tmp_path, sample_name="S001C001P001R002A121", config=RecorderConfig(min_free_bytes=1),
                  source="simulated (simulation, seed 1, class fall_down, clip 0)") as simulated:
        for i in range(3):
            simulated.write(Frame(i / 30, np.zeros((36, 64, 3), np.uint8), [], i))
    assert said(tmp_path / "room.xef") == [True, False, False]
    assert said(clip.files.skeleton) == [True, False, False]
    assert said(simulated.files.skeleton) == [False, False, False]  # nobody's room
    with Recorder(tmp_path, sample_name="S005C001P000R001A121", config=RecorderConfig(min_free_bytes=1),
                  source="pkummd:0005-L.txt.xz") as converted:  # research data, as convert makes it
        for i in range(3):
            converted.write(Frame(i / 30, None, [], i))
    assert said(converted.files.skeleton) == [False, False, False]
    clip.files.skeleton.with_suffix(".json").unlink()  # as NTU's own clips come
    assert said(clip.files.skeleton) == [False, False, False]


def test_a_sequence_named_as_pku_mmds_readme_does_is_found_compressed(tmp_path):
    """PKU-MMD's README says 0005-L.txt; the release holds 0005-L.txt.xz: the error offers it."""
    from live.app import build_parser, config_from_args, open_source

    (tmp_path / "0005-L.txt.xz").write_bytes(b"")
    config = config_from_args(build_parser().parse_args(["--source", str(tmp_path / "0005-L.txt")]))
    with pytest.raises(SourceUnavailable, match=r"no such file or folder .*did you mean .*0005-L\.txt\.xz\?"):
        open_source(config)
