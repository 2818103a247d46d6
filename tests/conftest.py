from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
import torch

# Qt without a screen (CI, servers); set before any test imports PySide6.
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def run_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This test run's folder, common to all its pytest-xdist workers (each has its own basetemp,
    `popen-gw0` ..., inside it); the run's basetemp itself without xdist."""
    base = tmp_path_factory.getbasetemp()
    if base.name == f"popen-{os.environ.get('PYTEST_XDIST_WORKER')}":
        return base.parent
    return base


@pytest.fixture(scope="session", autouse=True)
def engine_cache_of_the_run(run_folder: Path):
    """Exports, FP16 graphs and CPU batching measurements go to a cache of this run's own, shared by its
    workers and by the `python -m live` processes tests start (they inherit the variable), instead of
    the user's ~/.cache/where-to-focus: a developer's runs would leave an export there for every code
    version tried, and a user's cache would decide what a test sees. pytest deletes old runs' folders."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("WHERE_TO_FOCUS_CACHE", str(run_folder / "engines"))
        yield run_folder / "engines"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data (real Kinect recordings, research-only: read in place, never copied)."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real Kinect data not found at {SHARED_DATA} (research-only data is not shipped)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def ntu_dir(shared_data: Path) -> Path:
    """The NTU RGB+D samples in the shared data (skeletons, one RGB video, class names, protocols)."""
    folder = shared_data / "ntu"
    if not (folder / "skeletons").is_dir():
        pytest.skip(f"NTU RGB+D samples not found at {folder}")
    return folder


@pytest.fixture(scope="module")
def one_torch_thread():
    """One PyTorch thread for a test module (restored afterwards): on a busy machine a thread pool is
    far slower than one thread for the small networks the tests run."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


class _TensorRtWithoutLstm:
    """Stands in for TensorRtGraph where TensorRT is absent: rejects graphs with an LSTM, as a TensorRT
    whose parser cannot take it would, and runs the rest on ONNX Runtime. Like TensorRtGraph, it takes
    uint8 crops as cut and widens them itself."""

    widens_crops = True

    def __init__(self, onnx_path: Path, cache_dir: Path, **_: object) -> None:
        import onnx

        from core.engines import OnnxRuntimeGraph, TensorRtBuildError

        if any(n.op_type == "LSTM" for n in onnx.load(str(onnx_path)).graph.node):
            raise TensorRtBuildError(
                f"{onnx_path}: TensorRT's ONNX parser failed: node 7 (UNSUPPORTED_NODE): LSTM"
            )
        self.graph = OnnxRuntimeGraph(onnx_path, threads=1)
        self.input_names = self.graph.input_names
        self.name = "tensorrt-fp16"

    def run(self, feeds: dict[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        self.fed = {name: array.dtype for name, array in feeds.items()}
        return self.graph.run({name: array.astype(np.float32) for name, array in feeds.items()}, outputs)


@pytest.fixture()
def tensorrt_without_lstm(monkeypatch: pytest.MonkeyPatch) -> None:
    """TensorRT 'present' but unable to parse the LSTM: exercises the split-engine fallback on a CPU."""
    from core.engines import selection as engines  # where open_engine looks these up

    real_reason = engines.unavailable_reason
    monkeypatch.setattr(engines, "TensorRtGraph", _TensorRtWithoutLstm)
    monkeypatch.setattr(
        engines, "unavailable_reason", lambda b: None if b is engines.Backend.TENSORRT else real_reason(b)
    )


@pytest.fixture(scope="session")
def x_display():
    """An X display for tests that open real OpenGL windows (open3d, Qt's xcb platform): a private Xvfb
    server (Debian package xvfb; .ci/run installs it) so no test pops a window up on a desktop, else
    $DISPLAY; skips where neither exists. Sets DISPLAY for this process while the session lasts."""
    import shutil
    import subprocess

    previous = os.environ.get("DISPLAY")
    if shutil.which("Xvfb") is None:
        if previous:
            yield previous
            return
        pytest.skip("no X display and no Xvfb to make one (apt-get install xvfb)")
    read_end, write_end = os.pipe()
    server = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
        pass_fds=(write_end,), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    os.close(write_end)
    with os.fdopen(read_end) as ready:  # Xvfb writes its display number here once it accepts clients
        number = ready.readline().strip()
    if not number:
        server.kill()
        server.wait()
        pytest.skip(f"Xvfb did not start (exit code {server.poll()})")
    os.environ["DISPLAY"] = f":{number}"
    try:
        yield os.environ["DISPLAY"]
    finally:
        server.terminate()
        server.wait(timeout=10)
        if previous is None:
            os.environ.pop("DISPLAY", None)
        else:
            os.environ["DISPLAY"] = previous


@pytest.fixture()
def disk_full_after_ten_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every Recorder's 11th write fails as a full disk's would."""
    from recordings.recorder import Recorder

    write = Recorder.write

    def fills_after_ten(recorder, frame):
        if recorder.frame_count >= 10:
            raise OSError(28, "No space left on device")
        return write(recorder, frame)

    monkeypatch.setattr(Recorder, "write", fills_after_ten)


@pytest.fixture
def berlin_time(monkeypatch):
    """The process's local time zone is Berlin's (summer time ends on 2026-10-25 at 01:00 UTC)."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()
