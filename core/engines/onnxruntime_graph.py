"""ONNX Runtime sessions (CPU, or the CUDA provider of onnxruntime-gpu) behind the `Graph` interface."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np

from core.engines.interface import BackendUnavailable, EngineError


def import_onnxruntime() -> Any:
    """The onnxruntime module, its telemetry off. ONNX Runtime (1.32 here) starts telemetry as it is
    imported: a device id and a queue of events about the process (its path, OS, CPU) under
    ~/.cache/Microsoft, for Microsoft's collector; a patient-room machine sends nothing nobody asked for.
    A site that wants it sets ORT_DISABLE_TELEMETRY=0 itself."""
    os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")
    try:
        import onnxruntime
    except ImportError as error:
        raise BackendUnavailable("onnxruntime is not installed (pip install onnxruntime)") from error
    return onnxruntime


def usable_cores() -> int:
    """CPU cores this process may run on (respects taskset / container CPU sets)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


class OnnxRuntimeGraph:
    """An ONNX Runtime session: all graph optimisations, intra-op threads = usable cores by default."""

    widens_crops = False  # its graph's inputs are float32: ONNX Runtime does not convert feeds

    def __init__(self, path: str | os.PathLike, *, cuda: bool = False, threads: int | None = None) -> None:
        ort = import_onnxruntime()
        self.path = path
        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.threads = threads or usable_cores()
        options.intra_op_num_threads = self.threads
        # One window at a time: operators run one after another, each using all threads.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.log_severity_level = 3  # errors only: ORT warns about every unused initializer
        providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
        try:
            self.session = ort.InferenceSession(str(path), options, providers=providers)
        except Exception as error:  # ORT raises its own Fail / InvalidGraph types
            raise EngineError(
                f"{path}: ONNX Runtime cannot load it ({type(error).__name__}: {error})"
            ) from error
        if cuda and self.session.get_providers()[0] != "CUDAExecutionProvider":
            raise BackendUnavailable(f"{path}: ONNX Runtime fell back from its CUDA provider to the CPU")
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        threads_named = "1 thread" if self.threads == 1 else f"{self.threads} threads"
        self.name = "onnxruntime-cuda" if cuda else f"onnxruntime-cpu ({threads_named})"

    def run(self, feeds: Mapping[str, np.ndarray], outputs: tuple[str, ...]) -> list[np.ndarray]:
        # A graph ignores inputs its network does not use (the pose-only network has no crops input).
        return self.session.run(list(outputs), {k: v for k, v in feeds.items() if k in self.input_names})
