"""AUTO's order on a machine with a GPU, faked: TensorRT, then PyTorch CUDA, then ONNX Runtime CUDA, then the
CPU; what it passed over and why is in the reason. (Opening the CPU backends for real: test_engines.py.)"""

from __future__ import annotations

from pathlib import Path

import pytest
from model_files import random_checkpoint

from core.engines import AUTO_ORDER, Backend, EngineError, open_engine, selection
from core.model import tiny


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return random_checkpoint(tmp_path_factory.mktemp("selection") / "tiny.pt", tiny(3), ["a", "b", "c"])


class _Opened:
    def __init__(self, backend: Backend, reason: str) -> None:
        self.backend, self.reason, self.name = backend, reason, backend.value


def _fake_machine(
    monkeypatch: pytest.MonkeyPatch, present: set[Backend], failing: set[Backend]
) -> list[Backend]:
    tried: list[Backend] = []

    def unavailable_reason(backend: Backend) -> str | None:
        return None if backend in present or backend is Backend.PYTORCH_CPU else f"no {backend.value} here"

    def fake_open(backend: Backend, source, *, threads, reason: str):
        tried.append(backend)
        if backend in failing:
            raise EngineError(f"{backend.value} build failed")
        return _Opened(backend, reason)

    monkeypatch.setattr(selection, "unavailable_reason", unavailable_reason)
    monkeypatch.setattr(selection, "_open", fake_open)
    monkeypatch.setattr(selection, "_open_cpu", lambda source, *, threads, reason: fake_open(
        Backend.ONNXRUNTIME_CPU, source, threads=threads, reason=reason))  # fmt: skip
    return tried


def test_the_order_is_tensorrt_pytorch_cuda_onnxruntime_cuda_then_the_cpu() -> None:
    assert AUTO_ORDER == (Backend.TENSORRT, Backend.PYTORCH_CUDA, Backend.ONNXRUNTIME_CUDA,
                          Backend.ONNXRUNTIME_CPU, Backend.PYTORCH_CPU)  # fmt: skip


def test_a_gpu_with_everything_gets_tensorrt(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_machine(monkeypatch, set(AUTO_ORDER), set())
    engine = open_engine(checkpoint, cache_dir=checkpoint.parent)
    assert engine.backend is Backend.TENSORRT and engine.reason.startswith("auto picked tensorrt")


def test_without_tensorrt_pytorch_cuda_comes_before_onnxruntime_cuda(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    present = {Backend.PYTORCH_CUDA, Backend.ONNXRUNTIME_CUDA, Backend.ONNXRUNTIME_CPU}
    _fake_machine(monkeypatch, present, set())
    engine = open_engine(checkpoint, cache_dir=checkpoint.parent)
    assert engine.backend is Backend.PYTORCH_CUDA
    assert "passed over: tensorrt: no tensorrt here" in engine.reason and "CUDA graphs" in engine.reason


def test_a_backend_that_fails_to_open_falls_through_and_is_named(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tried = _fake_machine(monkeypatch, set(AUTO_ORDER), {Backend.TENSORRT, Backend.PYTORCH_CUDA})
    engine = open_engine(checkpoint, cache_dir=checkpoint.parent)
    assert tried == [Backend.TENSORRT, Backend.PYTORCH_CUDA, Backend.ONNXRUNTIME_CUDA]
    assert "tensorrt failed: tensorrt build failed" in engine.reason
    assert "pytorch-cuda failed: pytorch-cuda build failed" in engine.reason


def test_no_gpu_means_the_cpu(checkpoint: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _fake_machine(monkeypatch, {Backend.ONNXRUNTIME_CPU}, set())
    engine = open_engine(checkpoint, cache_dir=checkpoint.parent)
    assert engine.backend is Backend.ONNXRUNTIME_CPU
    for skipped in ("tensorrt", "pytorch-cuda", "onnxruntime-cuda"):
        assert f"{skipped}: no {skipped} here" in engine.reason


def test_a_folder_or_an_unknown_backend_is_said_in_a_researchers_terms(checkpoint: Path) -> None:
    """From Python, not the CLIs (which said it already): a folder was 'no such checkpoint or ONNX file',
    and 'cpu' was "'cpu' is not a valid Backend", naming none of the valid ones."""
    with pytest.raises(IsADirectoryError, match="a folder; give a checkpoint"):
        open_engine(checkpoint.parent)
    with pytest.raises(ValueError, match=r"backend 'cpu': one of auto, tensorrt, .*pytorch-cpu"):
        open_engine(checkpoint, "cpu")


def test_onnxruntime_gpu_without_a_visible_gpu_runs_on_the_cpu(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime-gpu lists its CUDA provider with no GPU visible (no driver, a container started without
    one): `--engine onnxruntime` then takes the CPU, as `--engine torch` does, instead of refusing."""
    import onnxruntime
    import torch

    from live.app import _backend

    monkeypatch.setattr(onnxruntime, "get_available_providers",
                        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.version, "cuda", "13.0")  # a CUDA build of torch, which sees no GPU
    assert "no CUDA GPU" in selection.unavailable_reason(Backend.ONNXRUNTIME_CUDA)
    assert _backend("onnxruntime") is Backend.ONNXRUNTIME_CPU
    # A CPU build of torch cannot tell whether there is a GPU: onnxruntime-gpu is left to try.
    monkeypatch.setattr(torch.version, "cuda", None)
    assert selection.unavailable_reason(Backend.ONNXRUNTIME_CUDA) is None


def test_without_the_onnx_package_auto_takes_pytorch_and_says_what_to_install(
    checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """onnx exports the checkpoint for ONNX Runtime and TensorRT: without it (a damaged environment) the
    app started with a traceback from the exporter instead of running on PyTorch."""
    import importlib.util

    find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *rest: None if name == "onnx" else find_spec(name, *rest))
    missing = "the onnx package is not installed (pip install onnx)"
    assert selection.unavailable_reason(Backend.ONNXRUNTIME_CPU) == missing
    engine = open_engine(checkpoint, cache_dir=checkpoint.parent)
    assert engine.name in ("pytorch-cpu", "pytorch-cuda")
    assert "onnxruntime-cpu: the onnx package is not installed (pip install onnx)" in engine.reason


def _start_on_the_cpu(checkpoint: Path, cache: Path, measured: dict[str, dict[int, float]] | None = None
                      ) -> dict:
    """open_engine(checkpoint) in a fresh interpreter, as the app's start; `measured`: what the CPU
    measurement finds, where this start makes it. What ran, and whether PyTorch was imported."""
    import json
    import subprocess
    import sys

    code = (
        "import json, sys\n"
        "from core.engines import Backend, example_inputs, open_engine, selection\n"
        f"measured = {measured!r}\n"
        "if measured:\n"
        "    selection.measure = lambda engines, metadata: {Backend(b): {int(p): s for p, s in t.items()}\n"
        "                                                   for b, t in measured.items()}\n"
        f"engine = open_engine({str(checkpoint)!r}, cache_dir={str(cache)!r}, threads=1)\n"
        "logits, _ = engine.run(*example_inputs(engine.metadata, 2))\n"
        "print(json.dumps({'torch': 'torch' in sys.modules, 'onnx': 'onnx' in sys.modules,\n"
        "                  'shape': list(logits.shape),\n"
        "                  'engines': sorted(b.value for b in engine.engines)}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          cwd=Path(__file__).resolve().parents[1])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_a_cpu_start_on_a_cached_export_runs_without_pytorch(checkpoint: Path, tmp_path: Path) -> None:
    """Importing PyTorch cost the app's start a second or more and some 200 MB, to run ONNX Runtime alone.
    Where the export and the CPU measurement are cached and the measurement gives eager no number of
    people, PyTorch is never imported; where it gives eager some, eager is opened as before."""
    onnxruntime_faster = {"onnxruntime-cpu": {1: 0.001, 6: 0.002}, "pytorch-cpu": {1: 0.01, 6: 0.02}}
    first = _start_on_the_cpu(checkpoint, tmp_path / "cache", onnxruntime_faster)  # exports and measures
    assert first["torch"] and first["shape"] == [2, 3]
    again = _start_on_the_cpu(checkpoint, tmp_path / "cache")
    assert not again["torch"] and again["engines"] == ["onnxruntime-cpu"] and again["shape"] == [2, 3]
    assert not again["onnx"]  # the export's record read without it (half a second)
    eager_faster_for_six = {"onnxruntime-cpu": {1: 0.001, 6: 0.02}, "pytorch-cpu": {1: 0.01, 6: 0.002}}
    measured = _start_on_the_cpu(checkpoint, tmp_path / "other", eager_faster_for_six)
    assert _start_on_the_cpu(checkpoint, tmp_path / "other")["engines"] == measured["engines"] == [
        "onnxruntime-cpu", "pytorch-cpu"]


def test_a_checkpoint_replaced_while_it_is_opened_is_refused(checkpoint: Path, tmp_path: Path) -> None:
    """The record comes from the cached export of the file as it was; weights loaded after a training run
    replaced it would run under another model's classes (logits of 4 under 3 names)."""
    import shutil

    from model_files import random_checkpoint

    path = tmp_path / "best.pt"
    shutil.copy(checkpoint, path)
    cache = tmp_path / "cache"
    open_engine(path, Backend.ONNXRUNTIME_CPU, cache_dir=cache)  # exported and cached
    source = selection._Source(path, cache)
    assert source.metadata().class_names == ("a", "b", "c")  # from the export
    random_checkpoint(path, tiny(4), ["a", "b", "c", "d"])  # a training run writes best.pt meanwhile
    with pytest.raises(EngineError, match="changed while it was being opened"):
        source.checkpoint()  # eager, measured or given people (_open_cpu)


@pytest.mark.parametrize(("built", "cpu_only"), [
    ("cuda: Optional[str] = None\nhip: Optional[str] = None\n", True),  # PyPI's Windows wheel, +cpu ones
    ("cuda: Optional[str] = '12.8'\nhip: Optional[str] = None\n", False),
    ("cuda: Optional[str] = None\nhip: Optional[str] = '6.4.43482'\n", False),  # ROCm: torch.cuda works
    ("this is not Python (", False),
])
def test_a_cpu_build_of_torch_is_told_without_importing_it(tmp_path: Path, monkeypatch, built: str,
                                                           cpu_only: bool) -> None:
    """Windows' torch from PyPI carries no "+cpu" in its version: its torch/version.py says what it was
    built for, read without the import (a second and some 200 MB of the app's start)."""
    import importlib.machinery
    import sys

    package = tmp_path / "torch"
    package.mkdir()
    (package / "__init__.py").write_text("raise ImportError('not to be imported')\n")
    (package / "version.py").write_text("from typing import Optional\n__version__ = '2.13.0'\n" + built)
    spec = importlib.machinery.ModuleSpec("torch", None, origin=str(package / "__init__.py"))
    monkeypatch.setattr(selection.importlib.util, "find_spec", lambda name: spec)
    monkeypatch.delitem(sys.modules, "torch")
    assert selection._cpu_build_unimported() is cpu_only
